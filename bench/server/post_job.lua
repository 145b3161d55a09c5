-- wrk script: POST a tiny PNG as a job (submission throughput).
local f = assert(io.open(os.getenv("CARVED_BENCH_PNG"), "rb"))
wrk.method = "POST"
wrk.path = "/v1/jobs"
wrk.body = f:read("*a")
f:close()
wrk.headers["Content-Type"] = "image/png"
