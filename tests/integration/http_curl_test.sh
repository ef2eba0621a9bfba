#!/usr/bin/env bash
# What curl, an outside HTTP client, gets from a real `rapport serve` (CONTRACT §6): status codes
# and the key JSON fields of every route, the contract's errors, a clean exit on SIGTERM, and the
# refusal to serve a non-loopback address without auth.
#
#   http_curl_test.sh RAPPORT_BINARY SCRATCH_DIR
set -euo pipefail

RAPPORT=$1
SCRATCH=$2
rm -rf "$SCRATCH"
mkdir -p "$SCRATCH"
DATA=$SCRATCH/data
command -v curl >/dev/null || { echo "FAIL: this test needs curl" >&2; exit 1; }

PID=
cleanup() {
  if [[ -n $PID ]] && kill -0 "$PID" 2>/dev/null; then kill -KILL "$PID"; fi
}
trap cleanup EXIT

fail() {
  echo "FAIL: $*" >&2
  echo "--- last body: $(cat "$SCRATCH/body" 2>/dev/null)" >&2
  echo "--- serve stderr:" >&2
  cat "$SCRATCH/serve.err" >&2 2>/dev/null || true
  exit 1
}

# call CURL_ARGS... : one request; sets STATUS, the body is in $SCRATCH/body and the response
# headers in $SCRATCH/headers.
call() {
  STATUS=$(curl -sS --max-time 20 -o "$SCRATCH/body" -D "$SCRATCH/headers" -w '%{http_code}' "$@")
}

# json EXPR: EXPR evaluated by Python with `d` the last body parsed as JSON.
json() {
  python3 -c 'import json, sys; d = json.load(open(sys.argv[1])); print(eval(sys.argv[2]))' \
    "$SCRATCH/body" "$1"
}

expect_status() {
  [[ $STATUS == "$1" ]] || fail "$2: HTTP $STATUS, expected $1"
}

# expect WHAT EXPR VALUE [EXPR VALUE]...: each Python expression over the last body (parsed as
# `d`) prints as VALUE. One Python run per response keeps the test quick.
expect() {
  local what=$1
  shift
  python3 - "$SCRATCH/body" "$@" <<'PY' || fail "$what"
import json, sys
try:
    d = json.load(open(sys.argv[1]))
except ValueError as e:
    sys.exit(f"not JSON: {e}")
args = sys.argv[2:]
bad = [f"{expr} is {got!r}, expected {want!r}"
       for expr, want in zip(args[::2], args[1::2])
       for got in [str(eval(expr))] if got != want]
sys.exit("; ".join(bad) if bad else 0)
PY
}

header() {
  grep -i "^$1:" "$SCRATCH/headers" | head -1 | cut -d: -f2- | tr -d '\r' | sed 's/^ *//'
}

"$RAPPORT" serve --kafka none --http 127.0.0.1:0 --data-dir "$DATA" \
  >"$SCRATCH/serve.out" 2>"$SCRATCH/serve.err" &
PID=$!
for _ in $(seq 1 300); do
  [[ -s $DATA/http.address ]] && grep -q '^kafka: ' "$SCRATCH/serve.out" && break
  kill -0 "$PID" 2>/dev/null || fail "serve exited before listening"
  sleep 0.1
done
[[ -s $DATA/http.address ]] || fail "no $DATA/http.address"
ADDR=$(cat "$DATA/http.address")
grep -q "^http: http://$ADDR (no auth)\$" "$SCRATCH/serve.out" ||
  fail "serve printed: $(cat "$SCRATCH/serve.out")"
BASE=http://$ADDR
JSON='Content-Type: application/json'
NDJSON='Content-Type: application/x-ndjson'

# One event.
EVENT='{"event_id":"curl-1","type":"inquiry","customer_id":"C-1","identity":{"kind":"email","value":"Li.Wei@Example.com"},"occurred_at":"2026-11-20T10:15:00Z","channel":"chat","source":"curl","data":{"topic":"delivery"}}'
call -H "$JSON" --data-binary "$EVENT" "$BASE/v1/events"
expect_status 200 "POST one event"
[[ $(header Content-Type) == application/json* ]] || fail "Content-Type $(header Content-Type)"
expect "one event" \
  'list(d)' "['results']" \
  'list(d["results"][0])' "['event_id', 'customer_id', 'partition', 'seq', 'position', 'hash', 'duplicate']" \
  'd["results"][0]["event_id"], d["results"][0]["customer_id"]' "('curl-1', 'C-1')" \
  'd["results"][0]["seq"], d["results"][0]["position"], d["results"][0]["duplicate"]' "(1, 1, False)" \
  'len(d["results"][0]["hash"]), set(d["results"][0]["hash"]) <= set("0123456789abcdef")' "(64, True)"
FIRST=$(json 'd["results"][0]["partition"], d["results"][0]["hash"]')

# The same event again: a duplicate, answered with the first result.
call -H "$JSON" --data-binary "$EVENT" "$BASE/v1/events"
expect_status 200 "POST a retry"
expect "retry" \
  'd["results"][0]["duplicate"]' True \
  'd["results"][0]["partition"], d["results"][0]["hash"]' "$FIRST"

# An NDJSON batch with blank lines.
cat >"$SCRATCH/batch.ndjson" <<'NDJSON'
{"event_id":"curl-2","type":"visit","customer_id":"C-1","occurred_at":"2026-11-21T09:00:00Z","channel":"store","source":"curl"}

{"event_id":"curl-3","type":"purchase","customer_id":"C-1","occurred_at":"2026-11-21T09:30:00Z","channel":"store","source":"curl","data":{"order_id":"O-1","amount_minor":129900,"currency":"CNY","items":[{"sku":"PC-X1","category":"computers","quantity":1}]}}
   
{"event_id":"curl-4","type":"inquiry","customer_id":"C-2","occurred_at":"2026-11-21T10:00:00Z","channel":"web","source":"curl","data":{"topic":"returns"}}
NDJSON
call -H "$NDJSON" --data-binary "@$SCRATCH/batch.ndjson" "$BASE/v1/events"
expect_status 200 "POST a batch"
expect "batch" \
  '[r["event_id"] for r in d["results"]]' "['curl-2', 'curl-3', 'curl-4']" \
  '[r["seq"] for r in d["results"]]' "[2, 3, 1]" \
  '[r["duplicate"] for r in d["results"]]' "[False, False, False]"

# An empty batch.
call -H "$NDJSON" --data-binary $'\n\n' "$BASE/v1/events"
expect_status 200 "POST an empty batch"
expect "empty batch" 'd' "{'results': []}"

# History.
call "$BASE/v1/customers/C-1/events"
expect_status 200 "history"
expect "history" \
  '[e["seq"] for e in d["events"]]' "[1, 2, 3]" \
  '[e["event_id"] for e in d["events"]]' "['curl-1', 'curl-2', 'curl-3']" \
  'sorted(k for k in ("seq", "partition", "position", "recorded_at", "hash", "customer_hash") if k in d["events"][0])' \
  "['customer_hash', 'hash', 'partition', 'position', 'recorded_at', 'seq']" \
  'd["events"][0]["identity"]["value"], d["events"][0]["data"]["topic"]' "('Li.Wei@Example.com', 'delivery')"
call "$BASE/v1/customers/C-1/events?after_seq=1&limit=1"
expect_status 200 "history page"
expect "history page" '[e["event_id"] for e in d["events"]]' "['curl-2']"
call "$BASE/v1/customers/C-1/events?as_of=2026-11-21T00:00:00Z"
expect_status 200 "history as_of"
expect "history as_of" '[e["event_id"] for e in d["events"]]' "['curl-1']"
call "$BASE/v1/customers/C-404/events"
expect_status 404 "history of an unknown customer"

# Projections.
for kind in profile loyalty resume; do
  call "$BASE/v1/customers/C-1/$kind"
  expect_status 200 "$kind"
  expect "$kind" 'list(d)[:3], d["customer_id"], d["seq"]' "(['customer_id', 'as_of', 'seq'], 'C-1', 3)"
  call "$BASE/v1/customers/C-1/$kind?as_of=2026-11-20T12:00:00Z"
  expect_status 200 "$kind as_of"
  expect "$kind as_of" 'd["as_of"], d["seq"]' "('2026-11-20T12:00:00Z', 1)"
  call "$BASE/v1/customers/C-404/$kind"
  expect_status 404 "$kind of an unknown customer"
  expect "$kind 404" 'd["error"]["code"]' not_found
done
call "$BASE/v1/customers/C-1/loyalty"
expect "loyalty" 'd["orders"], d["points_balance"], d["tier"], d["relationship"]' \
  "(1, 1299, 'silver', 'one_time')"
call "$BASE/v1/customers/C-1/resume"
expect "resume" 'd["last_contact"]["type"], d["known_facts"]["last_order_id"]' "('purchase', 'O-1')"
call "$BASE/v1/customers/C-1/profile"
expect "profile" 'd["category_affinity"]' "{'computers': 1}"

# Identities, normalised as in §1.
call "$BASE/v1/identities/email/LI.WEI%40EXAMPLE.COM"
expect_status 200 "identity"
expect "identity" 'd' "{'customer_id': 'C-1'}"
call "$BASE/v1/identities/email/nobody%40example.com"
expect_status 404 "unknown identity"
call "$BASE/v1/identities/fax/1"
expect_status 400 "unknown identity kind"
expect "identity kind" 'd["error"]["code"], d["error"]["field"]' "('invalid_field', 'kind')"

# Digest: the first event's partition holds C-1's three events; empty partitions are zeros.
call "$BASE/v1/ledger/digest"
expect_status 200 "digest"
expect "digest" \
  '[p["partition"] for p in d["partitions"]]' "[0, 1, 2, 3]" \
  'sum(p["position"] for p in d["partitions"])' 4 \
  'sum(1 for p in d["partitions"] if p["position"] == 0) >= 2' True \
  'all(p["hash"] == "0" * 64 for p in d["partitions"] if p["position"] == 0)' True \
  "d['partitions'][$FIRST[0]]['position'] >= 3" True

# Health and metrics.
call "$BASE/healthz"
expect_status 200 "healthz"
expect "healthz" 'd' "{'status': 'ready'}"
call "$BASE/healthz?verbose=1"
expect_status 200 "healthz verbose"
expect "healthz verbose" \
  'd["status"], d["reasons"], d["ledger"]["records"], d["kafka"]' "('ready', [], 4, None)" \
  '[p["name"] for p in d["projections"]]' "['profile', 'loyalty', 'resume']"
# (A request is counted once its response is written: the last POST may show a moment late.)
for _ in $(seq 1 100); do
  call "$BASE/metrics"
  grep -qx 'rapport_http_requests_total{route="POST /v1/events",code="200"} 4' "$SCRATCH/body" &&
    break
  sleep 0.1
done
expect_status 200 "metrics"
[[ $(header Content-Type) == text/plain* ]] || fail "metrics Content-Type $(header Content-Type)"
grep -qx 'rapport_appends_total 4' "$SCRATCH/body" || fail "rapport_appends_total"
grep -qx 'rapport_duplicates_total 1' "$SCRATCH/body" || fail "rapport_duplicates_total"
grep -qx 'rapport_http_requests_total{route="POST /v1/events",code="200"} 4' "$SCRATCH/body" ||
  fail "rapport_http_requests_total"
for series in rapport_append_latency_seconds_bucket rapport_group_commit_events_count \
  rapport_rocksdb_block_cache_hit_ratio process_resident_memory_bytes \
  rapport_projection_lag_records; do
  grep -q "^$series" "$SCRATCH/body" || fail "no $series in /metrics"
done

# Errors.
call -H 'Content-Type: text/plain' --data-binary "$EVENT" "$BASE/v1/events"
expect_status 415 "text/plain"
expect "415" 'd["error"]["code"]' unsupported_media_type
call -H 'Content-Type:' --data-binary "$EVENT" "$BASE/v1/events"
expect_status 415 "no Content-Type"
for method in PUT DELETE PATCH; do
  call -X "$method" "$BASE/v1/events"
  expect_status 405 "$method /v1/events"
  expect "$method" 'd["error"]["code"]' method_not_allowed
  [[ $(header Allow) == POST ]] || fail "$method: Allow $(header Allow)"
done
call -H "$JSON" --data-binary '{}' "$BASE/healthz"
expect_status 405 "POST /healthz"
[[ $(header Allow) == "GET, HEAD" ]] || fail "POST /healthz: Allow $(header Allow)"
call "$BASE/v1/nowhere"
expect_status 404 "unknown route"
expect "404" 'd["error"]["code"]' not_found
call -H "$JSON" --data-binary '{"event_id": ' "$BASE/v1/events"
expect_status 400 "bad JSON"
expect "bad JSON" 'd["error"]["code"]' invalid_json
# A bad event on physical line 3 of a batch: 400 naming it, and the good line 1 is not stored.
printf '%s\n\n%s\n' \
  '{"event_id":"curl-5","type":"inquiry","customer_id":"C-3","occurred_at":"2026-11-20T10:15:00Z","channel":"chat","source":"curl","data":{"topic":"x"}}' \
  '{"event_id":"curl-6","type":"inquiry","customer_id":"C-3","occurred_at":"2026-11-20T10:15:00Z","channel":"fax","source":"curl","data":{"topic":"x"}}' \
  >"$SCRATCH/bad.ndjson"
call -H "$NDJSON" --data-binary "@$SCRATCH/bad.ndjson" "$BASE/v1/events"
expect_status 400 "bad batch"
expect "bad batch" 'd["error"]["code"], d["error"]["field"], d["error"]["line"]' \
  "('invalid_field', 'channel', 3)"
call "$BASE/v1/customers/C-3/events"
expect_status 404 "a refused batch stores nothing"
call "$BASE/v1/customers/C-1/events?limit=1001"
expect_status 400 "limit over 1000"
expect "limit" 'd["error"]["code"], d["error"]["field"]' "('invalid_field', 'limit')"
call -H "$JSON" --data-binary "${EVENT/curl-1/curl-7}" "$BASE/v1/events"
expect_status 200 "a fourth event for C-1"
STALE=${EVENT/curl-1/curl-8}
call -H "$JSON" --data-binary "${STALE/\"source\"/\"expected_version\":0,\"source\"}" \
  "$BASE/v1/events"
expect_status 409 "expected_version conflict"
expect "conflict" 'd["error"]["code"], d["error"]["field"], d["error"]["current_version"]' \
  "('version_conflict', 'expected_version', 4)"
call -H "$JSON" --data-binary "${EVENT/Li.Wei/Someone}" "$BASE/v1/events"
expect_status 409 "same event_id, other content"
expect "duplicate_mismatch" 'd["error"]["code"], d["error"]["field"]' "('duplicate_mismatch', 'event_id')"

# SIGTERM: a clean stop.
kill -TERM "$PID"
RC=0
wait "$PID" || RC=$?
PID=
[[ $RC == 0 ]] || fail "serve exited $RC on SIGTERM"

# A non-loopback address without auth is refused (exit 2), saying why.
RC=0
"$RAPPORT" serve --kafka none --http 0.0.0.0:0 --data-dir "$SCRATCH/open" \
  >"$SCRATCH/open.out" 2>"$SCRATCH/open.err" || RC=$?
[[ $RC == 2 ]] || fail "serve --http 0.0.0.0:0 without auth exited $RC"
grep -q 'without auth' "$SCRATCH/open.err" || fail "no reason given: $(cat "$SCRATCH/open.err")"
grep -q -- '--insecure' "$SCRATCH/open.err" || fail "no way out given: $(cat "$SCRATCH/open.err")"

echo "PASS"
