#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`, API server part: berth-server on SQLite and on a real etcd
# (loopback ports), measured with wrk (GET of one pod, LIST of 1,000 pods,
# creates with unique names), watch fan-out (100 watchers) and RSS with
# 10,000 pods on SQLite. Prints a table against the goals and keeps the
# numbers in .output/bench/api.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SERVER=${BERTH_SERVER:-.output/bin/berth-server}
DURATION=${BENCH_DURATION:-10s} # each wrk run
WRK_ARGS=(-t2 -c32 -d"$DURATION" --timeout 5s)
WATCHERS=100
WATCH_PODS=500 # written while the watchers listen
RSS_PODS=10000
out=.output/bench

[ -x "$SERVER" ] || { echo "$SERVER is missing: run make first" >&2; exit 1; }
if ! command -v wrk >/dev/null; then
	echo "bench/api: installing wrk"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		wrk >/dev/null || { echo "apt-get install wrk failed" >&2; exit 1; }
fi
command -v etcd >/dev/null || { echo "etcd is missing (Debian: etcd-server)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/berth-bench-api.XXXXXX)
SERVER_PID=
ETCD_PID=
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
	if [ -n "$ETCD_PID" ]; then
		kill -TERM "$ETCD_PID" 2>/dev/null || true
		wait "$ETCD_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# shellcheck source=scripts/etcd.sh
source scripts/etcd.sh

# shellcheck source=bench/server.sh
source bench/server.sh

# wrk_run PATH [MODE]: the BENCH line's fields as JSON.
wrk_run() {
	local line
	line=$(wrk "${WRK_ARGS[@]}" -s bench/api.lua "$URL$1" -- "${2:-get}" | grep '^BENCH ')
	python3 -c 'import json, sys
print(json.dumps({k: float(v) for k, v in (f.split("=") for f in sys.argv[1].split()[1:])}))' "$line"
}

rss_kb() {
	awk '/^VmRSS:/ {print $2}' "/proc/$SERVER_PID/status"
}

# bench_store NAME [ARGS...]: GET, LIST, create and watch on one store,
# into $TMP/NAME.json (no command substitution: servers stay in this shell).
bench_store() {
	local name=$1 get list create watch
	shift
	echo "bench/api: $name"
	start_server "$name" "$@"
	bench/api_client.py load "$URL" list 1000
	get=$(wrk_run /api/v1/namespaces/list/pods/p-0)
	list=$(wrk_run /api/v1/namespaces/list/pods)
	bench/api_client.py load "$URL" create 0
	create=$(wrk_run /api/v1/namespaces/create/pods create)
	watch=$(timeout 120 bench/api_client.py watch "$URL" watch "$WATCHERS" "$WATCH_PODS")
	stop_server
	printf '{"get": %s, "list_1000": %s, "create": %s, "watch": %s}' \
		"$get" "$list" "$create" "$watch" >"$TMP/$name.json"
}

# RSS of a SQLite server holding RSS_PODS pods, then after a LIST of them
# all (checked complete) and after one as a Table, as kubectl get -A
# --chunk-size=0 asks (into $TMP/rss.json).
bench_rss() {
	local loaded listed tabled n
	echo "bench/api: rss with $RSS_PODS pods (sqlite)"
	start_server rss
	bench/api_client.py load "$URL" rss "$RSS_PODS"
	loaded=$(rss_kb)
	curl -sf -o "$TMP/list.json" "$URL/api/v1/pods" || { echo "LIST of all pods failed" >&2; exit 1; }
	n=$(python3 -c 'import json, sys; print(len(json.load(open(sys.argv[1]))["items"]))' "$TMP/list.json")
	[ "$n" -ge "$RSS_PODS" ] || { echo "LIST of all pods: $n items, want $RSS_PODS" >&2; exit 1; }
	rm -f "$TMP/list.json"
	listed=$(rss_kb)
	curl -sf -o /dev/null -H "Accept: application/json;as=Table;v=v1;g=meta.k8s.io" \
		"$URL/api/v1/pods" || { echo "Table LIST of all pods failed" >&2; exit 1; }
	tabled=$(rss_kb)
	stop_server
	awk -v p="$RSS_PODS" -v a="$loaded" -v b="$listed" -v c="$tabled" 'BEGIN {
		printf "{\"pods\": %d, \"rss_mb_loaded\": %.1f, \"rss_mb_after_list\": %.1f, ", p, a / 1024, b / 1024
		printf "\"rss_mb_after_table_list\": %.1f}", c / 1024 }' >"$TMP/rss.json"
}

mkdir -p "$out"
bench_store sqlite
start_etcd "$TMP"
bench_store etcd --etcd "$ETCD_URL"
bench_rss
printf '{"duration": "%s", "wrk": "%s", "sqlite": %s, "etcd": %s, "rss": %s}\n' \
	"$DURATION" "${WRK_ARGS[*]}" "$(cat "$TMP/sqlite.json")" \
	"$(cat "$TMP/etcd.json")" "$(cat "$TMP/rss.json")" |
	python3 -m json.tool >"$out/api.json.tmp"
mv "$out/api.json.tmp" "$out/api.json"

python3 - "$out/api.json" <<'EOF'
import json, sys

r = json.load(open(sys.argv[1]))
s, e = r["sqlite"], r["etcd"]
rss = r["rss"]
rows = [
    ("GET one pod (req/s)", s["get"]["ok_rps"], e["get"]["ok_rps"], ">= 10000", s["get"]["ok_rps"] >= 10000),
    ("LIST 1,000 pods (req/s)", s["list_1000"]["ok_rps"], e["list_1000"]["ok_rps"], "", None),
    ("create pod (req/s)", s["create"]["ok_rps"], e["create"]["ok_rps"], ">= 2000", s["create"]["ok_rps"] >= 2000),
    ("watch fan-out, 100 watchers (events/s)", s["watch"]["events_per_s"], e["watch"]["events_per_s"], "", None),
]
print()
print("%-40s %12s %12s %10s  %s" % ("", "sqlite", "etcd", "goal", ""))
for name, sv, ev, goal, ok in rows:
    print("%-40s %12.0f %12.0f %10s  %s" % (name, sv, ev, goal, "" if ok is None else ("ok" if ok else "MISSED")))
for name, mb in (("RSS, %d pods stored (MB)", rss["rss_mb_loaded"]),
                 ("RSS, after a LIST of all %d (MB)", rss["rss_mb_after_list"]),
                 ("RSS, after a Table LIST of all %d (MB)", rss["rss_mb_after_table_list"])):
    print("%-40s %12.1f %12s %10s  %s" % (name % rss["pods"], mb, "-", "<= 64",
                                          "ok" if mb <= 64 else "MISSED"))
for st in ("sqlite", "etcd"):
    errs = sum(r[st][k]["errors"] for k in ("get", "list_1000", "create"))
    w = r[st]["watch"]
    if errs or w["events"] != w["expected"]:
        print("%s: %d wrk errors, %d of %d watch events" % (st, errs, w["events"], w["expected"]))
EOF
echo
echo "results: $out/api.json"
