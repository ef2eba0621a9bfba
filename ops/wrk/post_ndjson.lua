-- wrk script: POST /v1/events with NDJSON batches of BATCH events from a `rapport gen` workload.
--   wrk -t THREADS ... -s ops/wrk/post_ndjson.lua URL -- NDJSON_FILE BATCH THREADS [TOKEN]
-- The file is cut into batches dealt round-robin to the wrk threads, so each customer's events
-- arrive about in their time order (as real producers send them). When a thread has sent all of
-- its batches it starts again with event_ids made unique, so that every event is a new one.
local batches = {}
local batch = 500
local headers = {["Content-Type"] = "application/x-ndjson"}
local next_batch = 1
local round = 0

local setups = 0
function setup(thread)
  setups = setups + 1
  thread:set("thread_id", setups)
end

function init(args)
  batch = tonumber(args[2] or batch)
  local threads = tonumber(args[3] or 1)
  if args[4] then headers["Authorization"] = "Bearer " .. args[4] end
  local me = (thread_id or 1) - 1
  local current, n, index = {}, 0, 0
  for line in io.lines(args[1]) do
    if index % threads == me then current[#current + 1] = line end
    n = n + 1
    if n == batch then
      if #current > 0 then batches[#batches + 1] = table.concat(current, "\n") end
      current, n, index = {}, 0, index + 1
    end
  end
  if #batches == 0 then error("fewer than " .. batch * threads .. " events in " .. args[1]) end
end

function request()
  local body = batches[next_batch]
  next_batch = next_batch + 1
  if next_batch > #batches then next_batch, round = 1, round + 1 end
  if round > 0 then
    body = body:gsub('"event_id":"', '"event_id":"r' .. round .. '-')
  end
  return wrk.format("POST", "/v1/events", headers, body)
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  local ok = summary.requests - summary.errors.status
  io.write(string.format(
    '{"bench":"http_post_ndjson","batch":%d,"requests":%d,"non_2xx":%d,"events_per_s":%.0f,' ..
    '"requests_per_s":%.1f,"p50_ms":%.2f,"p99_ms":%.2f,"max_ms":%.2f}\n',
    batch, summary.requests, summary.errors.status, ok * batch / secs, summary.requests / secs,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.max / 1000))
end
