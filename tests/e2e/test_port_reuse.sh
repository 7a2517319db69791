#!/bin/bash
# A client port reused for a direct connection to a pod, right after a
# Service connection from that port was balanced to the same pod, must not
# be reverse-NATed as the Service flow: the SYN-ACK has to come from the pod
# address the client dialled. (Kernel conntrack tells the two flows apart;
# a ct entry keyed client:port -> backend:port must too.)
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
topo_up
start_backends
web_service -- "${BE_IP[@]}" | write_services
agent_start

for sport in 40001 40002 40003; do
	conns 1 "$VIP" 80 --sport "$sport"
	b=$(json 'list(d["counts"])[0]' "$T/conns.json")
	ip=$(backend_ip "$b")
	client "$T/direct.json" conns 1 "$ip" "$TCP_PORT" --sport "$sport" --timeout 2 ||
		fail "port $sport: $VIP:80 went to $b; then $ip:$TCP_PORT directly from the same port failed: $(cat "$T/direct.json" "$T/direct.json.err")"
	log "port $sport: $VIP:80 -> $b, then $ip:$TCP_PORT directly: ok"
done
log "ok"
