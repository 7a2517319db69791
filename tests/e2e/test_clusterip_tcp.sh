#!/bin/bash
# A ClusterIP spreads TCP connections over all its endpoints, and the
# programs on the veths leave pod-to-pod traffic alone.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
topo_up
start_backends
web_service -- "${BE_IP[@]}" | write_services
agent_start
[ "$(sync_field frontends)" = 1 ] || fail "one frontend expected: $SYNC_JSON"

# Not a Service: straight to a pod, untouched by the load balancer. (Before
# any Service flow, whose conntrack entries test_port_reuse covers.)
for i in 0 1 2; do
	conns 5 "${BE_IP[i]}" "$TCP_PORT"
	[ "$(count "${BE_NAME[i]}")" = 5 ] || fail "direct ${BE_IP[i]}:$TCP_PORT: $(cat "$T/conns.json")"
done

conns 300 "$VIP" 80
for b in "${BE_NAME[@]}"; do
	n=$(count "$b")
	[ "$n" -ge 50 ] || fail "$b got $n of 300 connections (want >= 50): $(cat "$T/conns.json")"
done
log "ok"
