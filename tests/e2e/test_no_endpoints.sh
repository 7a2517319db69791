#!/bin/bash
# A Service without endpoints rejects at once: TCP gets a RST (connection
# refused, not a timeout), UDP an ICMP port unreachable (ECONNREFUSED on a
# connected socket). A UDP Service with endpoints answers.
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

EMPTY=10.96.0.20
DNS=10.96.0.30

# services EMPTY_ENDPOINTS...: 'empty' (TCP 80 + UDP 53) and 'dns' (UDP 53).
services() {
	cat <<YAML
services:
  - name: empty
    namespace: default
    clusterIP: $EMPTY
    sessionAffinity: None
    loadBalancing: random
    ports:
      - {name: http, port: 80, targetPort: $TCP_PORT, protocol: TCP}
      - {name: dns, port: 53, targetPort: $UDP_PORT, protocol: UDP}
$(endpoints_yaml "$@")
  - name: dns
    namespace: kube-system
    clusterIP: $DNS
    sessionAffinity: None
    loadBalancing: random
    ports:
      - {name: dns, port: 53, targetPort: $UDP_PORT, protocol: UDP}
$(endpoints_yaml "${BE_IP[@]}")
YAML
}

check_refused() {
	local r s
	for _ in 1 2 3; do
		client "$T/connect.json" connect "$EMPTY" 80 --timeout 3 ||
			fail "connect client: $(cat "$T/connect.json.err")"
		r=$(json 'd["result"]' "$T/connect.json")
		s=$(json 'd["seconds"]' "$T/connect.json")
		[ "$r" = refused ] || fail "$1: TCP $EMPTY:80 without endpoints: $r after $s s, want refused"
		"$PYTHON" -c "import sys; sys.exit(not $s < 1.0)" ||
			fail "$1: TCP $EMPTY:80 refused only after $s s (want < 1 s, a RST)"
	done
	log "$1: TCP $EMPTY:80 refused in $s s"
	client "$T/udp.json" udp 3 "$EMPTY" 53 || fail "udp client: $(cat "$T/udp.json.err")"
	[ "$(json 'd["refused"]' "$T/udp.json")" = 3 ] ||
		fail "$1: UDP $EMPTY:53 without endpoints, want 3 ECONNREFUSED: $(cat "$T/udp.json")"
	log "$1: UDP $EMPTY:53 refused: $(cat "$T/udp.json")"
}

e2e_init
topo_up
start_backends
services | write_services
agent_start
log "frontends: $(sync_field frontends)"

check_refused "no endpoints"

client "$T/dns.json" udp 30 "$DNS" 53 || fail "udp client: $(cat "$T/dns.json.err")"
for b in "${BE_NAME[@]}"; do
	[ "$(json "d[\"counts\"].get(\"$b\", 0)" "$T/dns.json")" -ge 1 ] ||
		fail "UDP $DNS:53: $b never answered: $(cat "$T/dns.json")"
done
[ "$(json 'sum(d["counts"].values())' "$T/dns.json")" = 30 ] ||
	fail "UDP $DNS:53: not all 30 answered: $(cat "$T/dns.json")"
log "UDP $DNS:53: $(cat "$T/dns.json")"

# Endpoints come, then go again.
services "${BE_IP[0]}" | apply_services
conns 10 "$EMPTY" 80
[ "$(count be1)" = 10 ] || fail "TCP $EMPTY:80 with endpoint be1: $(cat "$T/conns.json")"
client "$T/udp.json" udp 5 "$EMPTY" 53 || fail "udp client: $(cat "$T/udp.json.err")"
[ "$(json 'd["counts"].get("be1", 0)' "$T/udp.json")" = 5 ] ||
	fail "UDP $EMPTY:53 with endpoint be1: $(cat "$T/udp.json")"
services | apply_services
check_refused "endpoints gone"
log "ok"
