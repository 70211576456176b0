-- wrk script: GET / on the bare hyper server (scripts/load/hello), the yardstick of the ratios.
done = function(summary, latency, requests)
  io.write(string.format("RESULT hello requests=%d errors=%d rps=%.0f p50_ms=%.2f p99_ms=%.2f\n",
    summary.requests, summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.timeout,
    summary.requests / (summary.duration / 1e6), latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
