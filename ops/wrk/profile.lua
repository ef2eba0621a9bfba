-- wrk script: GET /v1/customers/{id}/{projection} for random customers of a stored workload.
--   wrk ... -s ops/wrk/profile.lua URL -- IDS_FILE [PROJECTION] [TOKEN]
-- IDS_FILE has one customer id per line.
local ids = {}
local projection = "profile"
local headers = {}

function init(args)
  for line in io.lines(args[1]) do ids[#ids + 1] = line end
  if #ids == 0 then error("no customer ids in " .. args[1]) end
  projection = args[2] or projection
  if args[3] then headers["Authorization"] = "Bearer " .. args[3] end
  math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16) % 100000)
end

function request()
  local id = ids[math.random(#ids)]
  return wrk.format("GET", "/v1/customers/" .. id .. "/" .. projection, headers)
end

local non200 = 0
function response(status)
  if status ~= 200 then non200 = non200 + 1 end
end

function done(summary, latency, requests)
  local secs = summary.duration / 1e6
  io.write(string.format(
    '{"bench":"http_get_%s","requests":%d,"requests_per_s":%.0f,"p50_ms":%.3f,"p99_ms":%.3f,' ..
    '"p999_ms":%.3f,"max_ms":%.3f,"errors":%d}\n',
    projection, summary.requests, summary.requests / secs, latency:percentile(50) / 1000,
    latency:percentile(99) / 1000, latency:percentile(99.9) / 1000, latency.max / 1000,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status +
    summary.errors.timeout))
end
