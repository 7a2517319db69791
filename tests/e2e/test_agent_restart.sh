#!/bin/bash
# The datapath outlives the agent: a transfer through the ClusterIP goes on
# while the agent is SIGKILLed and restarted, and the restarted agent finds
# the pinned maps right (writes nothing) and replaces its own tc filters.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

TOTAL=20000000 # bytes: 306 chunks of 64 KiB, 32 ms apart, about 10 s
CHUNK=65536
DELAY_MS=32

# filters DEV DIR: how many tc filters are attached there.
filters() { ip netns exec "$NODE" tc filter show dev "$1" "$2" | grep -c ' handle ' || true; }

check_filters() {
	local dev dir n
	for dev in "$CLI_IF" "${BE_IF[@]}"; do
		for dir in ingress egress; do
			n=$(filters "$dev" "$dir")
			[ "$n" = 1 ] || fail "$1: $n tc filters on $dev $dir, want 1"
		done
	done
}

progress() { cat "$T/progress" 2>/dev/null || echo 0; }

e2e_init
topo_up
start_backends
web_service -- "${BE_IP[@]}" | write_services
agent_start
check_filters "first start"

client_bg "$T/stream.json" stream "$VIP" 80 "$TOTAL" "$CHUNK" "$DELAY_MS" --progress "$T/progress"
stream_pid=$CLIENT_PID
end=$((SECONDS + 10))
until [ "$(progress)" -gt 0 ]; do
	kill -0 "$stream_pid" 2>/dev/null || fail "stream client ended early: $(cat "$T/stream.json" "$T/stream.json.err")"
	[ "$SECONDS" -lt "$end" ] || fail "no stream data in 10 s"
	sleep 0.05
done
sleep 2
p1=$(progress)
if [ "$p1" -ge "$TOTAL" ] || ! kill -0 "$stream_pid" 2>/dev/null; then
	fail "the transfer ended before the agent was killed ($p1 bytes): $(cat "$T/stream.json")"
fi
agent_kill9
log "agent killed at $p1 of $TOTAL bytes"
[ -e "$PIN_DIR/services" ] || fail "$PIN_DIR/services is gone after SIGKILL"

sleep 1
p2=$(progress)
[ "$p2" -gt "$p1" ] || fail "no data moved while the agent was down ($p1 -> $p2 bytes)"
log "without agent: $p1 -> $p2 bytes"

agent_start
p3=$(progress)
[ "$(sync_field writes)" = 0 ] || fail "the restarted agent rewrote maps: $SYNC_JSON"
check_filters "restart"
kill -0 "$stream_pid" 2>/dev/null ||
	fail "the transfer ended before the agent was back (at $p3 bytes): $(cat "$T/stream.json" "$T/stream.json.err")"
log "agent back at $p3 of $TOTAL bytes: $SYNC_JSON"

rc=0
wait "$stream_pid" || rc=$?
[ "$rc" = 0 ] || fail "transfer failed (exit $rc): $(cat "$T/stream.json" "$T/stream.json.err")"
log "transfer complete: $(cat "$T/stream.json")"

conns 30 "$VIP" 80
log "ok"
