-- wrk script: one step (POST /v1/orders/{id}/notes) per request, spread over the ids in ids.txt so that
-- concurrent requests rarely hit the same order (a stale version would be a 409, counted as an error).
local ids = {}
for line in io.lines(os.getenv("IDS_FILE")) do ids[#ids + 1] = line end
local token = os.getenv("TOKEN")
local thread_no = 0
local threads = {}
setup = function(thread)
  thread:set("offset", thread_no)
  thread_no = thread_no + 1
  threads[#threads + 1] = thread
end
-- STEP_DELAY_MS: pause of each connection between its requests, to offer a fixed rate (connections × 1000 /
-- delay steps per second) instead of saturating the server.
local pause = tonumber(os.getenv("STEP_DELAY_MS") or "0")
if pause > 0 then
  delay = function() return pause end
end
local n = 0
request = function()
  n = n + 1
  local id = ids[((n * 7 + offset * 997) % #ids) + 1]
  return wrk.format("POST", "/v1/orders/" .. id .. "/notes",
    { ["Authorization"] = "Bearer " .. token, ["Content-Type"] = "application/json" },
    '{"text": "Teste de carga", "visible_to_customer": false}')
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT step requests=%d non2xx_or_errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
