#!/bin/bash
# The harness itself, without berth: pods reach each other through the node
# (proxy ARP, /32 routes), and a ClusterIP goes nowhere while no agent runs.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
USE_AGENT=0
e2e_init
topo_up
start_backends

for i in 0 1 2; do
	ip netns exec "$CLI" busybox ping -c 1 -W 2 "${BE_IP[i]}" >/dev/null ||
		fail "client cannot ping ${BE_NAME[i]} (${BE_IP[i]}) through the node"
	conns 5 "${BE_IP[i]}" "$TCP_PORT"
	[ "$(count "${BE_NAME[i]}")" = 5 ] || fail "${BE_IP[i]}:$TCP_PORT did not answer as ${BE_NAME[i]}"
done
client "$T/udp.json" udp 3 "${BE_IP[0]}" "$UDP_PORT"
[ "$(json 'd["counts"].get("be1", 0)' "$T/udp.json")" = 3 ] ||
	fail "UDP to be1 directly: $(cat "$T/udp.json")"

# Without the agent the ClusterIP is swallowed by the node's dummy route.
client "$T/vip.json" connect "$VIP" 80 --timeout 1
[ "$(json 'd["result"]' "$T/vip.json")" = timeout ] ||
	fail "$VIP:80 without an agent should time out: $(cat "$T/vip.json")"
log "ok"
