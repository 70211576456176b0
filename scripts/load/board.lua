-- wrk script: the board's query, the company's open orders (GET /v1/orders?limit=50: a search over the open
-- statuses in flow order, 50 rows a page).
local token = os.getenv("TOKEN")
request = function()
  return wrk.format("GET", "/v1/orders?limit=50", { ["Authorization"] = "Bearer " .. token })
end
done = function(summary, latency, requests)
  io.write(string.format("RESULT board requests=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
