#!/bin/bash
# A connection to an endpoint survives the endpoint leaving the Service
# (removed, or kept as terminating), and new connections never reach it.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
topo_up
start_backends
web_service -- "${BE_IP[@]}" | write_services
agent_start

for variant in removed terminating; do
	log "variant: endpoint $variant"
	rm -f "$T/held" "$T/go"
	client_bg "$T/hold.json" hold "$VIP" 80 --name-file "$T/held" --go-file "$T/go" --wait 60
	hold_pid=$CLIENT_PID
	wait_file "$T/held" 10 ||
		fail "the held connection got no whoami answer in 10 s: $(cat "$T/hold.json" "$T/hold.json.err")"
	x=$(cat "$T/held")
	xip=$(backend_ip "$x")
	log "held connection is on $x ($xip)"

	eps=()
	for ip in "${BE_IP[@]}"; do
		if [ "$ip" != "$xip" ]; then
			eps+=("$ip")
		elif [ "$variant" = terminating ]; then
			eps+=("$ip:terminating")
		fi
	done
	web_service -- "${eps[@]}" | apply_services
	log "synced without $x: $SYNC_JSON"

	conns 100 "$VIP" 80
	[ "$(count "$x")" = 0 ] || fail "$variant endpoint $x still got new connections: $(cat "$T/conns.json")"
	for b in "${BE_NAME[@]}"; do
		[ "$b" = "$x" ] || [ "$(count "$b")" -ge 20 ] ||
			fail "$b got too few of 100 connections: $(cat "$T/conns.json")"
	done

	touch "$T/go"
	rc=0
	wait "$hold_pid" || rc=$?
	[ "$rc" = 0 ] || fail "held connection to $variant $x broke (exit $rc): $(cat "$T/hold.json" "$T/hold.json.err")"
	log "held connection still answers: $(cat "$T/hold.json")"

	web_service -- "${BE_IP[@]}" | apply_services
done
log "ok"
