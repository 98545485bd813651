-- wrk script of bench/e2e.py: one custom event per request, each with a unique id and its
-- send time (wall clock, ms) in data.sent_at, so the receiver can measure event → delivery.
--
-- Environment: BENCH_PREFIX (event id prefix), BENCH_TOKEN (bearer token, optional),
-- BENCH_PATH (default /api/v1/events), BENCH_NAME (the event name, default bench), BENCH_PRICE
-- (when set, data also carries "price": that number). done() prints one line "BENCH_JSON {...}".

local ffi = require("ffi")
ffi.cdef [[
typedef struct { long tv_sec; long tv_usec; } bench_timeval;
int gettimeofday(bench_timeval *tv, void *tz);
]]
local tv = ffi.new("bench_timeval")

local function now_ms()
  ffi.C.gettimeofday(tv, nil)
  return tonumber(tv.tv_sec) * 1000 + tonumber(tv.tv_usec) / 1000
end

local prefix = os.getenv("BENCH_PREFIX") or "wrk"
local token = os.getenv("BENCH_TOKEN")
local path = os.getenv("BENCH_PATH") or "/api/v1/events"
local name = os.getenv("BENCH_NAME") or "bench"
local price = os.getenv("BENCH_PRICE")
local extra = (price and price ~= "") and (',"price":' .. price) or ""

local threads = {}
local thread_index = 0

function setup(thread)
  thread_index = thread_index + 1
  thread:set("tid", thread_index)
  table.insert(threads, thread)
end

local counter = 0
local headers = { ["Content-Type"] = "application/json" }
if token and token ~= "" then
  headers["Authorization"] = "Bearer " .. token
end

function request()
  counter = counter + 1
  local id = prefix .. "-" .. tostring(tid) .. "-" .. tostring(counter)
  local body = string.format(
    '{"id":"%s","name":"%s","data":{"n":%d,"sent_at":%.3f%s}}', id, name, counter, now_ms(), extra
  )
  return wrk.format("POST", path, headers, body)
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"max":%d,"mean":%.1f}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean
  ))
end
