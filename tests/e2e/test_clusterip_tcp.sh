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
# The pinned maps carry BTF: bpftool prints their fields by name.
dump=$(bpftool map dump pinned "$PIN_DIR/services") || fail "bpftool map dump pinned $PIN_DIR/services"
for field in vip dport proto slot backend_id rev_nat_id count; do
	grep -q "\"$field\"" <<<"$dump" || fail "no field '$field' in bpftool's dump of services: $dump"
done
dump=$(bpftool map dump pinned "$PIN_DIR/ct") || fail "bpftool map dump pinned $PIN_DIR/ct"
for field in saddr daddr sport dport backend_id lifetime; do
	grep -q "\"$field\"" <<<"$dump" || fail "no field '$field' in bpftool's dump of ct"
done
log "ok"
