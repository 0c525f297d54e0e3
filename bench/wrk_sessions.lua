-- wrk script of bench/http_bench.py: POST /api/v1/sessions, page 1, no filter.
--
--     BENCH_API_KEY=... wrk -t2 -c32 -d10s -s bench/wrk_sessions.lua http://127.0.0.1:PORT/api/v1/sessions
--
-- The key comes from the environment so that neither this file nor the command line
-- (visible in ps) holds it; BENCH_WRK_BODY overrides the body for other filters.
wrk.method = "POST"
wrk.body = os.getenv("BENCH_WRK_BODY") or '{"page": 1}'
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authentication"] = os.getenv("BENCH_API_KEY") or ""
