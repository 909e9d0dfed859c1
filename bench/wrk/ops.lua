-- wrk script for the benchmark: BENCH_OP = get | list | post, BENCH_TOKEN = access token,
-- BENCH_IDS = file of project ids (one a line, for get). Prints one BENCH_JSON line at the end.
local op = os.getenv("BENCH_OP") or "get"
local token = os.getenv("BENCH_TOKEN") or ""
local ids = {}
local n = 0

wrk.headers["Authorization"] = "Bearer " .. token
wrk.headers["Accept"] = "application/json"

if op == "post" then
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  wrk.body = '{"name": "Benchmark project", "description": "Created by the wrk load of bench/run.py."}'
  wrk.path = "/api/v1/projects"
elseif op == "list" then
  wrk.path = "/api/v1/projects?limit=20"
end

function init(args)
  if op == "get" then
    local file = assert(io.open(os.getenv("BENCH_IDS"), "r"))
    for line in file:lines() do
      n = n + 1
      ids[n] = line
    end
    file:close()
  end
end

local i = 0
function request()
  if op == "get" then
    i = (i % n) + 1
    return wrk.format("GET", "/api/v1/projects/" .. ids[i])
  end
  return wrk.format()
end

function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'BENCH_JSON {"requests": %d, "duration_us": %d, "connect": %d, "read": %d, "write": %d, ' ..
    '"status": %d, "timeout": %d, "p50_us": %.0f, "p90_us": %.0f, "p95_us": %.0f, ' ..
    '"p99_us": %.0f, "max_us": %.0f, "mean_us": %.1f}\n',
    summary.requests, summary.duration, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(95),
    latency:percentile(99), latency.max, latency.mean))
end
