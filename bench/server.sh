# shellcheck shell=bash
# Shared by the control-plane benchmarks: start_server NAME [ARGS...] runs
# $SERVER with data dir $TMP/NAME (kept across restarts of the same NAME),
# log $TMP/NAME.log, on a free loopback port; sets SERVER_PID and URL (the
# loopback plain-HTTP listener, served as system:masters, so wrk and the
# Python clients need no certificates).
start_server() {
	local dir=$TMP/$1
	shift
	rm -f "$dir/kubeconfig"
	"$SERVER" --data-dir "$dir" --listen 127.0.0.1:0 --insecure-port 0 "$@" >"$dir.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 200); do
		[ -f "$dir/kubeconfig" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$dir.log"; exit 1; }
		sleep 0.05
	done
	[ -f "$dir/kubeconfig" ] || { echo "berth-server: no kubeconfig after 10s" >&2; exit 1; }
	URL=$(awk '/server:/ {print $2}' "$dir/kubeconfig-insecure")
}
