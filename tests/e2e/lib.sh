# shellcheck shell=bash
# Shared harness of berth's end-to-end tests: a Calico-style node in network
# namespaces, the agent, the peer servers and clients, and a clean-up that
# runs on any exit. A test sources this file, then calls e2e_init.
#
# Topology (every name starts with $P, unique per test):
#   $P-node   the node: the agent runs here; one host-side veth per pod with
#             proxy_arp and a /32 route to the pod; a dummy device holds the
#             default route, so nothing leaves the test's namespaces
#   $P-cli    client pod   10.244.0.2   on node veth ${P}c
#   $P-be1..3 backend pods 10.244.0.11..13 on node veths ${P}1..${P}3
# Pods: eth0 with IP/32, 169.254.1.1 on link, default via 169.254.1.1.

set -euo pipefail
# `... | apply_services` runs apply_services in this shell, so what it sets
# (SYNC_JSON) and a fail() in it act on the test itself.
shopt -s lastpipe

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_DIR/../.." && pwd)
AGENT=${BERTH_AGENT:-$REPO/.output/bin/berth-agent}
PEER=$E2E_DIR/peer.py
PYTHON=${PYTHON:-python3}
TEST_NAME=$(basename "$0" .sh)

P=${E2E_PREFIX:-b$$}
NODE=$P-node
CLI=$P-cli
BE_NS=("$P-be1" "$P-be2" "$P-be3")
BE_NAME=(be1 be2 be3)
BE_IP=(10.244.0.11 10.244.0.12 10.244.0.13)
BE_IF=("${P}1" "${P}2" "${P}3")
CLI_IP=10.244.0.2
CLI_IF=${P}c
DUMMY_IF=${P}d
ALL_NS=("$NODE" "$CLI" "${BE_NS[@]}")
# The agent enters the node's network namespace only. Not `ip netns exec`:
# that remounts /sys for the netns, which hides the host's bpffs at
# /sys/fs/bpf, so the agent would pin into a private bpffs that dies with it
# and a restarted agent would find no pins. nsenter also execs the command,
# so $! of a background start is the agent itself.
IN_NODE=(nsenter "--net=/run/netns/$NODE" --)
NODE_NAME=$P
PIN_DIR=/sys/fs/bpf/berth/$NODE_NAME
VIP=10.96.0.10
# Longest wait for a server or a sync, s; slow machines (TCG VMs) raise it.
E2E_WAIT=${E2E_WAIT:-10}
TCP_PORT=8080 # backends' targetPort
UDP_PORT=5353

T= # temp dir, made by e2e_init
ROOT= # agent --root
SVC_DIR=
SVC_FILE=
AGENT_LOG=
STATUS=
AGENT_PID=
SYNC_JSON=
BG_PIDS=()
USE_AGENT=1

log() { printf '%s %s: %s\n' "$(date +%T.%3N)" "$TEST_NAME" "$*" >&2; }

# Everything a reader needs to see why a test failed, then exit 1 (clean-up
# runs from the EXIT trap).
fail() {
	echo "FAIL: $TEST_NAME: $*" >&2
	if [ -n "$AGENT_LOG" ] && [ -s "$AGENT_LOG" ]; then
		echo "---- agent log (last 40 lines of $AGENT_LOG) ----" >&2
		tail -n 40 "$AGENT_LOG" >&2
	fi
	if [ -n "$STATUS" ] && [ -f "$STATUS" ]; then
		echo "---- $STATUS ----" >&2
		cat "$STATUS" >&2
		echo >&2
	fi
	if [ -e "/run/netns/$NODE" ]; then
		echo "---- tc filters on the node ----" >&2
		for dev in "$CLI_IF" "${BE_IF[@]}"; do
			for dir in ingress egress; do
				echo "$dev $dir:" >&2
				ip netns exec "$NODE" tc filter show dev "$dev" "$dir" >&2 2>&1 || true
			done
		done
	fi
	exit 1
}

skip() {
	echo "SKIP: $TEST_NAME: $*"
	exit 77
}

# e2e_init: check what the test needs, make the temp dir, arm the clean-up.
# A test that runs no agent sets USE_AGENT=0 first.
e2e_init() {
	[ "$(id -u)" -eq 0 ] || skip "needs root (network namespaces, BPF)"
	command -v "$PYTHON" >/dev/null || fail "$PYTHON not found (scripts/deps.sh installs it)"
	command -v ip >/dev/null || fail "ip not found (iproute2)"
	if [ "$USE_AGENT" = 1 ]; then
		[ -x "$AGENT" ] || fail "$AGENT is missing: run make"
		[ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" = bpf_fs ] ||
			fail "bpffs is not mounted at /sys/fs/bpf (scripts/deps.sh mounts it)"
	fi
	T=$(mktemp -d "/tmp/berth-e2e-$TEST_NAME.XXXXXX")
	ROOT=$T/root
	SVC_DIR=$T/svc
	SVC_FILE=$SVC_DIR/services.yaml
	AGENT_LOG=$T/agent.log
	STATUS=$ROOT/sync-status.json
	mkdir -p "$ROOT" "$SVC_DIR" "$T/tmp"
	trap cleanup EXIT
	trap 'exit 143' TERM
	trap 'exit 130' INT
	trap 'exit 129' HUP
	log "prefix $P, temp dir $T"
}

# Kill every process in our namespaces (we started all of them), detach and
# unpin the agent's BPF, delete the namespaces, remove the temp dir.
cleanup() {
	local rc=$? ns pid pids=() i
	set +e
	trap - EXIT TERM INT HUP
	for ns in "${ALL_NS[@]}"; do
		[ -e "/run/netns/$ns" ] || continue
		for pid in $(ip netns pids "$ns" 2>/dev/null); do pids+=("$pid"); done
	done
	for pid in "${BG_PIDS[@]}" $AGENT_PID; do pids+=("$pid"); done
	if [ ${#pids[@]} -gt 0 ]; then
		kill -TERM "${pids[@]}" 2>/dev/null
		for i in $(seq 20); do
			any_alive "${pids[@]}" || break
			sleep 0.1
		done
		kill -KILL "${pids[@]}" 2>/dev/null
		wait "${pids[@]}" 2>/dev/null
	fi
	if [ "$USE_AGENT" = 1 ] && [ -x "$AGENT" ] && [ -e "/run/netns/$NODE" ]; then
		timeout --foreground 10 "${IN_NODE[@]}" "$AGENT" --node-name "$NODE_NAME" --uninstall \
			>>"${AGENT_LOG:-/dev/null}" 2>&1 ||
			echo "cleanup: berth-agent --uninstall failed (see agent log)" >&2
	fi
	rm -rf "$PIN_DIR"
	rmdir /sys/fs/bpf/berth 2>/dev/null # only if no other node is pinned
	for ns in "${ALL_NS[@]}"; do
		[ -e "/run/netns/$ns" ] && ip netns del "$ns"
	done
	[ -n "$T" ] && rm -rf "$T"
	exit "$rc"
}

any_alive() {
	local pid
	for pid; do kill -0 "$pid" 2>/dev/null && return 0; done
	return 1
}

# ---- topology -------------------------------------------------------------

# add_pod NS HOSTIF IP: a pod netns wired to the node like Calico does it.
add_pod() {
	local ns=$1 hif=$2 ip=$3
	ip netns add "$ns"
	ip -n "$ns" link set lo up
	ip -n "$NODE" link add "$hif" type veth peer name eth0 netns "$ns"
	ip netns exec "$NODE" sysctl -qw "net.ipv4.conf.$hif.proxy_arp=1" \
		"net.ipv4.neigh.$hif.proxy_delay=0" "net.ipv4.conf.$hif.rp_filter=0"
	ip -n "$NODE" link set "$hif" up
	ip -n "$NODE" route add "$ip/32" dev "$hif"
	ip -n "$ns" addr add "$ip/32" dev eth0
	ip -n "$ns" link set eth0 up
	ip -n "$ns" route add 169.254.1.1 dev eth0 scope link
	ip -n "$ns" route add default via 169.254.1.1 dev eth0
}

topo_up() {
	local i
	ip netns add "$NODE"
	ip -n "$NODE" link set lo up
	ip netns exec "$NODE" sysctl -qw net.ipv4.ip_forward=1 \
		net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
	# Proxy ARP answers for 169.254.1.1 only if the node routes it out another
	# device: a dummy default route does that and swallows anything that is
	# not a pod (a ClusterIP the agent did not translate, for one).
	# (dummy where the kernel has it, else ifb: both drop what is sent to them)
	ip -n "$NODE" link add "$DUMMY_IF" type dummy 2>/dev/null ||
		ip -n "$NODE" link add "$DUMMY_IF" type ifb ||
		fail "the kernel has neither dummy nor ifb devices"
	ip -n "$NODE" link set "$DUMMY_IF" up
	ip -n "$NODE" route add default dev "$DUMMY_IF"
	add_pod "$CLI" "$CLI_IF" "$CLI_IP"
	for i in 0 1 2; do
		add_pod "${BE_NS[i]}" "${BE_IF[i]}" "${BE_IP[i]}"
	done
	log "topology up: node $NODE, client $CLI ($CLI_IP), backends ${BE_IP[*]}"
}

# start_backends: the peer server in every backend pod, TCP $TCP_PORT and
# UDP $UDP_PORT, answering whoami with be1..be3.
start_backends() {
	local i ready
	for i in 0 1 2; do
		ready=$T/ready.${BE_NAME[i]}
		ip netns exec "${BE_NS[i]}" "$PYTHON" "$PEER" serve "${BE_NAME[i]}" \
			--tcp "$TCP_PORT" --udp "$UDP_PORT" --ready "$ready" \
			>>"$T/server.${BE_NAME[i]}.log" 2>&1 &
		BG_PIDS+=($!)
	done
	for i in 0 1 2; do
		wait_file "$T/ready.${BE_NAME[i]}" "$E2E_WAIT" ||
			fail "server ${BE_NAME[i]} not ready in $E2E_WAIT s: $(cat "$T/server.${BE_NAME[i]}.log")"
	done
}

# ---- waiting and JSON -------------------------------------------------------

# wait_file FILE SECONDS
wait_file() {
	local end=$((SECONDS + $2))
	while [ ! -e "$1" ]; do
		[ "$SECONDS" -lt "$end" ] || return 1
		sleep 0.05
	done
}

# json EXPR [FILE|-]: evaluate a Python expression over the JSON document d
# (read from FILE, default stdin); prints str() of the result, JSON for
# containers, "null"/"true"/"false" for None and booleans.
json() {
	"$PYTHON" -c '
import json, sys
d = json.load(open(sys.argv[2]) if sys.argv[2] != "-" else sys.stdin)
v = eval(sys.argv[1], {"d": d})
print(json.dumps(v) if v is None or isinstance(v, (bool, dict, list)) else v)
' "$1" "${2:--}"
}

# ---- services file and agent ---------------------------------------------------

# write_services < YAML: replace the Service file atomically (the temp file
# is outside the watched directory, so the agent sees one rename).
write_services() {
	local tmp=$T/tmp/services.$RANDOM
	cat >"$tmp"
	mv -f "$tmp" "$SVC_FILE"
}

# endpoints_yaml IP[:terminating]...: the endpoints list of a Service.
endpoints_yaml() {
	local e
	if [ $# -eq 0 ]; then
		echo "    endpoints: []"
		return
	fi
	echo "    endpoints:"
	for e in "$@"; do
		case $e in
		*:terminating) echo "      - {ip: ${e%:terminating}, terminating: true}" ;;
		*) echo "      - {ip: $e}" ;;
		esac
	done
}

# web_service [AFFINITY [LB]] -- ENDPOINTS...: the usual TCP Service on $VIP:80.
web_service() {
	local affinity=None lb=random
	if [ "${1:-}" != -- ]; then affinity=$1 && shift; fi
	if [ "${1:-}" != -- ]; then lb=$1 && shift; fi
	shift
	cat <<EOF
services:
  - name: web
    namespace: default
    clusterIP: $VIP
    sessionAffinity: $affinity
    loadBalancing: $lb
    ports:
      - {name: http, port: 80, targetPort: $TCP_PORT, protocol: TCP}
EOF
	endpoints_yaml "$@"
}

# agent_start: run the agent in the node (background), wait for its first
# sync. Every start uses the same arguments.
agent_start() {
	local a=(--node-name "$NODE_NAME" --root "$ROOT" --services "$SVC_FILE"
		--interface "$CLI_IF") i
	for i in 0 1 2; do a+=(--interface "${BE_IF[i]}"); done
	rm -f "$STATUS"
	echo "==== $(date +%T.%3N) start: berth-agent ${a[*]}" >>"$AGENT_LOG"
	"${IN_NODE[@]}" "$AGENT" "${a[@]}" >>"$AGENT_LOG" 2>&1 &
	AGENT_PID=$!
	wait_sync 0 ok
	log "agent $AGENT_PID up: $SYNC_JSON"
}

# agent_kill9: SIGKILL, as a crash or an OOM kill would.
agent_kill9() {
	[ -n "$AGENT_PID" ] || return 0
	kill -KILL "$AGENT_PID" 2>/dev/null || fail "agent $AGENT_PID was not running"
	wait "$AGENT_PID" 2>/dev/null || true
	echo "==== $(date +%T.%3N) killed with SIGKILL" >>"$AGENT_LOG"
	AGENT_PID=
}

agent_alive() { [ -n "$AGENT_PID" ] && kill -0 "$AGENT_PID" 2>/dev/null; }

# sync_seq: the seq of the last sync attempt, 0 before the first.
sync_seq() {
	if [ -f "$STATUS" ]; then json 'd["seq"]' "$STATUS"; else echo 0; fi
}

# wait_sync AFTER ok|fail: wait ($E2E_WAIT s at most) for a sync attempt with seq >
# AFTER and check its outcome; leaves the status in $SYNC_JSON.
wait_sync() {
	local after=$1 want=$2 end=$((SECONDS + E2E_WAIT)) seq ok
	while :; do
		agent_alive || fail "the agent exited (waiting for sync seq > $after)"
		if [ -f "$STATUS" ] && seq=$(json 'd["seq"]' "$STATUS" 2>/dev/null) &&
			[ "$seq" -gt "$after" ]; then
			break
		fi
		[ "$SECONDS" -lt "$end" ] || fail "no sync attempt with seq > $after within $E2E_WAIT s"
		sleep 0.05
	done
	sleep 0.2 # an event burst may bring one more attempt: judge the last
	SYNC_JSON=$(cat "$STATUS")
	ok=$(json 'd["ok"]' - <<<"$SYNC_JSON") || fail "sync-status.json is not JSON: $SYNC_JSON"
	case $want:$ok in
	ok:true | fail:false) ;;
	*) fail "sync seq $seq: wanted $want, got: $SYNC_JSON" ;;
	esac
}

# sync_field KEY: a field of the last status read by wait_sync.
sync_field() { json "d[\"$1\"]" - <<<"$SYNC_JSON"; }

# apply_services < YAML: rewrite the file and wait for a successful sync.
apply_services() {
	local before
	before=$(sync_seq)
	write_services
	wait_sync "$before" ok
}

# ---- clients -------------------------------------------------------------------

# client OUT ARGS...: run peer.py ARGS in the client pod, JSON result in OUT.
# Returns peer.py's exit status.
client() {
	local out=$1
	shift
	timeout --foreground 120 ip netns exec "$CLI" "$PYTHON" "$PEER" "$@" \
		>"$out" 2>"$out.err"
}

# client_bg OUT ARGS...: the same in the background; sets CLIENT_PID.
client_bg() {
	local out=$1
	shift
	timeout --foreground 120 ip netns exec "$CLI" "$PYTHON" "$PEER" "$@" \
		>"$out" 2>"$out.err" &
	CLIENT_PID=$!
	BG_PIDS+=("$CLIENT_PID")
}

# conns N HOST PORT: N connections, fail unless all got an answer; leaves the
# per-backend counts in $T/conns.json.
conns() {
	client "$T/conns.json" conns "$@" ||
		fail "conns $*: $(cat "$T/conns.json" "$T/conns.json.err")"
	log "conns $*: $(json 'd["counts"]' "$T/conns.json")"
}

# count NAME: how many of the last conns reached backend NAME.
count() { json "d[\"counts\"].get(\"$1\", 0)" "$T/conns.json"; }

# backend_ip NAME: be2 -> 10.244.0.12
backend_ip() {
	local i
	for i in 0 1 2; do
		[ "${BE_NAME[i]}" != "$1" ] || { echo "${BE_IP[i]}"; return; }
	done
	fail "unknown backend '$1'"
}

# dump_maps OUT: the Service maps' contents, canonical (sorted), for comparing.
dump_maps() {
	local m
	: >"$1"
	for m in services backends rev_nat; do
		echo "== $m" >>"$1"
		bpftool -j map dump pinned "$PIN_DIR/$m" >"$T/tmp/dump.json" ||
			fail "bpftool map dump pinned $PIN_DIR/$m failed"
		"$PYTHON" -c '
import json, sys
for e in sorted(json.dumps(x, sort_keys=True) for x in json.load(open(sys.argv[1]))):
    print(e)' "$T/tmp/dump.json" >>"$1"
	done
}
