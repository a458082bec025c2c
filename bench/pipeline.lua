-- pipeline.lua: wrk script sending PIPELINE_DEPTH (default 16) requests per write.
--   wrk -t1 -c64 -d10 --latency -s bench/pipeline.lua http://127.0.0.1:8080/plaintext
-- tools/bench also uses it, with PIPELINE_DEPTH=1, for rows that need a method or a body:
--   BENCH_METHOD (default GET), BENCH_BODY (none), BENCH_CONTENT_TYPE (application/json).
-- wrk counts every response, so its requests/s are individual requests; its latency is
-- per batch (from the write of a batch to the last response of it).

local depth = tonumber(os.getenv("PIPELINE_DEPTH") or "16")
local batch

init = function(args)
  local method = os.getenv("BENCH_METHOD") or wrk.method
  local body = os.getenv("BENCH_BODY")
  local headers = {}
  for k, v in pairs(wrk.headers) do headers[k] = v end
  if body and body ~= "" then
    headers["Content-Type"] = os.getenv("BENCH_CONTENT_TYPE") or "application/json"
  else
    body = nil
  end
  local one = wrk.format(method, wrk.path, headers, body)
  local parts = {}
  for i = 1, depth do parts[i] = one end
  batch = table.concat(parts)
end

request = function()
  return batch
end
