#!/bin/bash
# sessionAffinity: ClientIP sends every connection of a client to one backend.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"
e2e_init
topo_up
start_backends
web_service ClientIP -- "${BE_IP[@]}" | write_services
agent_start

conns 50 "$VIP" 80
[ "$(json 'len(d["counts"])' "$T/conns.json")" = 1 ] ||
	fail "50 connections with ClientIP affinity reached several backends: $(cat "$T/conns.json")"
first=$(json 'list(d["counts"])[0]' "$T/conns.json")

# Still the same one later, on fresh connections.
sleep 1
conns 20 "$VIP" 80
[ "$(count "$first")" = 20 ] || fail "affinity to $first lost: $(cat "$T/conns.json")"
log "ok"
