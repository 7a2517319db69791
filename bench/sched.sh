#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`, scheduler part: berth-server on SQLite running only the
# scheduler, fake Ready nodes and a mix of pending pods (requests, zone
# affinity, preferred affinity, topology spread). Two measures per size:
#  - stream: pods created as fast as the client can while the scheduler
#    runs; a watch times each pod from ADDED to the event with nodeName
#    (p50/p99 latency) and the span from the first to the last bind;
#  - backlog: the pods are stored with no scheduler running, then the
#    server restarts with it; the scheduler logs the span from its first
#    decision to its last successful bind (throughput without the client).
# Sizes: 1,000 nodes / 10,000 pods, and 5,000 / 30,000 unless SCHED_QUICK=1.
# Prints a table against the goal and keeps .output/bench/sched.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SERVER=${BERTH_SERVER:-.output/bin/berth-server}
GOAL=1000 # pods/s at 1,000 nodes
SIZES=("1000 10000")
[ "${SCHED_QUICK:-0}" = 1 ] || SIZES+=("5000 30000")
out=.output/bench

[ -x "$SERVER" ] || { echo "$SERVER is missing: run make first" >&2; exit 1; }

TMP=$(mktemp -d /tmp/berth-bench-sched.XXXXXX)
SERVER_PID=
stop_server() {
	if [ -n "$SERVER_PID" ]; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		timeout 10 tail --pid="$SERVER_PID" -f /dev/null || kill -9 "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
		SERVER_PID=
	fi
}
cleanup() {
	stop_server
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=bench/server.sh
source bench/server.sh

# bench_stream NODES PODS: into $TMP/stream-NODES.json
bench_stream() {
	local nodes=$1 pods=$2 name=stream-$1
	echo "bench/sched: $nodes nodes, $pods pods created while scheduling"
	start_server "$name" --controllers scheduler
	bench/sched_client.py nodes "$URL" "$nodes"
	bench/sched_client.py run "$URL" bench "$pods" >"$TMP/$name.json"
	stop_server
}

# bench_backlog NODES PODS: into $TMP/backlog-NODES.json
bench_backlog() {
	local nodes=$1 pods=$2 name=backlog-$1 line=
	echo "bench/sched: $nodes nodes, a backlog of $pods pods"
	start_server "$name" --controllers none
	bench/sched_client.py nodes "$URL" "$nodes"
	bench/sched_client.py pods "$URL" bench "$pods"
	stop_server
	start_server "$name" --controllers scheduler
	for _ in $(seq 3000); do
		line=$(grep -m1 'scheduler: bound' "$TMP/$name.log" || true)
		[ -n "$line" ] && break
		sleep 0.1
	done
	stop_server
	[ -n "$line" ] || { echo "backlog: no 'scheduler: bound' line in 300s" >&2; exit 1; }
	# "scheduler: bound N pods in MS ms (R pods/s), U unschedulable"
	python3 -c 'import json, re, sys
m = re.search(r"bound (\d+) pods in (\d+) ms \(\d+ pods/s\), (\d+) unschedulable", sys.argv[1])
n, ms, u = (int(x) for x in m.groups())
print(json.dumps({"pods": int(sys.argv[2]), "bound": n, "unschedulable_attempts": u,
                  "span_s": ms / 1000, "pods_per_s": round(n * 1000 / ms, 1) if ms else 0}))' \
		"$line" "$pods" >"$TMP/$name.json"
}

mkdir -p "$out"
cases=()
for size in "${SIZES[@]}"; do
	read -r nodes pods <<<"$size"
	bench_stream "$nodes" "$pods"
	bench_backlog "$nodes" "$pods"
	cases+=("$(printf '{"nodes": %d, "pods": %d, "stream": %s, "backlog": %s}' \
		"$nodes" "$pods" "$(cat "$TMP/stream-$nodes.json")" "$(cat "$TMP/backlog-$nodes.json")")")
done
(IFS=,; printf '{"goal_pods_per_s": %d, "cases": [%s]}\n' "$GOAL" "${cases[*]}") |
	python3 -m json.tool >"$out/sched.json.tmp"
mv "$out/sched.json.tmp" "$out/sched.json"

python3 - "$out/sched.json" <<'EOF'
import json, sys

r = json.load(open(sys.argv[1]))
print()
print("%-22s %12s %12s %10s %10s %12s  %s" % ("", "stream p/s", "backlog p/s", "p50 ms",
                                             "p99 ms", "create p/s", ""))
for c in r["cases"]:
    s, b = c["stream"], c["backlog"]
    ok = ""
    if c["nodes"] == 1000:
        ok = "ok" if min(s["pods_per_s"], b["pods_per_s"]) >= r["goal_pods_per_s"] else "MISSED"
    print("%-22s %12.0f %12.0f %10.1f %10.1f %12.0f  %s" % (
        "%d nodes, %d pods" % (c["nodes"], c["pods"]), s["pods_per_s"], b["pods_per_s"],
        s["latency_ms_p50"] or 0, s["latency_ms_p99"] or 0, s["create_per_s"], ok))
    if s["bound"] != c["pods"] or b["bound"] != c["pods"]:
        print("  not all bound: stream %d, backlog %d of %d" % (s["bound"], b["bound"], c["pods"]))
print("goal: >= %d pods/s at 1,000 nodes (stream is bounded by the client's create rate)"
      % r["goal_pods_per_s"])
EOF
echo
echo "results: $out/sched.json"
