-- wrk script for bench/api/bench_api.py: every request is a Connect unary
-- call over HTTP/1.1, POST with the JSON body in $LQ_BODY.
wrk.method = "POST"
wrk.body = os.getenv("LQ_BODY")
wrk.headers["Content-Type"] = "application/json"
