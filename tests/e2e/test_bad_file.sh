#!/bin/bash
# A malformed Service file is rejected whole: the agent reports the file, the
# line and the field, keeps running, and the maps keep what was applied.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

# two_services PORT CLUSTER_IP: web as applied but without be3, plus 'api'
# whose port and clusterIP the variants break.
two_services() {
	web_service -- "${BE_IP[0]}" "${BE_IP[1]}"
	cat <<YAML
  - name: api
    namespace: default
    clusterIP: $2
    sessionAffinity: None
    loadBalancing: random
    ports:
      - {name: http, port: $1, targetPort: $TCP_PORT, protocol: TCP}
YAML
	endpoints_yaml "${BE_IP[2]}"
}

# reject WHAT FIELD MARKER < YAML: the sync must fail naming the file, the
# line holding MARKER, and FIELD; maps and traffic must stay as they were.
reject() {
	local what=$1 field=$2 marker=$3 before line err
	before=$(sync_seq)
	write_services
	line=$(grep -n -F -- "$marker" "$SVC_FILE" | head -n 1 | cut -d: -f1)
	wait_sync "$before" fail
	err=$(sync_field error)
	log "$what: $err"
	grep -qF services.yaml <<<"$err" || fail "$what: the error does not name the file: $err"
	grep -qE "(:|line )$line([^0-9]|$)" <<<"$err" || fail "$what: the error does not name line $line: $err"
	grep -qE "(^|[^A-Za-z])$field([^A-Za-z]|$)" <<<"$err" ||
		fail "$what: the error does not name the field $field: $err"
	agent_alive || fail "the agent died on a bad file"
	dump_maps "$T/maps.after"
	diff -u "$T/maps.before" "$T/maps.after" >&2 || fail "$what: the maps changed"
	conns 60 "$VIP" 80
	for b in "${BE_NAME[@]}"; do
		[ "$(count "$b")" -ge 1 ] || fail "$what: $b gets no traffic any more: $(cat "$T/conns.json")"
	done
}

e2e_init
topo_up
start_backends
web_service -- "${BE_IP[@]}" | write_services
agent_start
conns 30 "$VIP" 80
dump_maps "$T/maps.before"

two_services 70000 10.96.0.11 | reject "port out of range" port 70000
two_services 8081 10.96.0.300 | reject "bad clusterIP" clusterIP 10.96.0.300

# A good file applies again: web loses be3, api appears.
two_services 8081 10.96.0.11 | apply_services
conns 60 "$VIP" 80
[ "$(count be3)" = 0 ] || fail "be3 left web but still gets its traffic: $(cat "$T/conns.json")"
conns 5 10.96.0.11 8081
[ "$(count be3)" = 5 ] || fail "api 10.96.0.11:8081 -> be3: $(cat "$T/conns.json")"
log "ok"
