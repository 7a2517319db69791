-- SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
-- wrk script for bench/api.sh. "get" (the default) repeats the URL;
-- "create" POSTs pods to it, each with a name no other request uses.
-- done() prints one "BENCH key=value..." line that api.sh parses.
local threads = {}
local counter = 0
local mode = "get"

function setup(thread)
	thread:set("id", #threads)
	table.insert(threads, thread)
end

function init(args)
	mode = args[1] or "get"
	wrk.headers["Accept"] = "application/json"
	if mode == "create" then
		wrk.method = "POST"
		wrk.headers["Content-Type"] = "application/json"
	end
end

function request()
	if mode ~= "create" then
		return wrk.format()
	end
	counter = counter + 1
	return wrk.format(nil, nil, nil, string.format(
		'{"apiVersion":"v1","kind":"Pod","metadata":{"name":"b%d-%d",' ..
		'"labels":{"app":"bench"}},"spec":{"containers":' ..
		'[{"name":"c","image":"nginx"}]}}', id, counter))
end

function done(summary, latency, requests)
	local s = summary.duration / 1e6
	local e = summary.errors
	local bad = e.status + e.connect + e.read + e.write + e.timeout
	io.write(string.format(
		"BENCH ok_rps=%.1f requests=%d errors=%d p50_us=%d p99_us=%d\n",
		(summary.requests - e.status) / s, summary.requests, bad,
		latency:percentile(50), latency:percentile(99)))
end
