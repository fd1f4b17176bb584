-- wrk script for bench/callbacks.py: every request a different ihuyi receipt (voiceid 1, 2, 3, …),
-- threads interleaved so no receipt is sent twice. Args: <threads> <form body prefix> [first voiceid - 1]
local threads = {}
local counter = 0

function setup(thread)
  thread:set("tid", #threads)
  table.insert(threads, thread)
end

function init(args)
  nthreads = tonumber(args[1])
  prefix = args[2]
  offset = tonumber(args[3] or "0")
end

function request()
  local voiceid = offset + tid + 1 + counter * nthreads
  counter = counter + 1
  return wrk.format("POST", nil, {["Content-Type"] = "application/x-www-form-urlencoded"}, prefix .. voiceid)
end

function done(summary, latency, requests)
  io.write(string.format("WRK %d %d %.3f %.3f %d\n", summary.requests, summary.duration,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000,
    summary.errors.status + summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
