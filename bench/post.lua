-- wrk script for bench/run: POSTs a non-streaming chat completion body.
-- Environment: BENCH_AUTH (the Authorization header value), BENCH_BODY (optional body).
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH") or "Bearer bench"
wrk.body = os.getenv("BENCH_BODY") or
  '{"model":"glm-4.6","stream":false,"temperature":0.7,"max_tokens":256,"messages":[' ..
  '{"role":"system","content":"You are a concise assistant. Answer in one or two sentences."},' ..
  '{"role":"user","content":"What does an API gateway do in front of a language model?"}]}'

-- One machine-readable line for bench/run. errors.status counts non-2xx/3xx answers (a
-- response() callback would count them too, but makes wrk itself much slower).
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    "WRK requests=%d duration_us=%d rps=%.0f errors_connect=%d errors_read=%d errors_write=%d " ..
    "errors_timeout=%d errors_status=%d lat_p50=%d lat_p99=%d lat_max=%d\n",
    summary.requests, summary.duration, summary.requests / (summary.duration / 1e6),
    e.connect, e.read, e.write, e.timeout, e.status,
    latency:percentile(50), latency:percentile(99), latency.max))
end
