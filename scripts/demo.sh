#!/bin/bash
# make demo: berth on this machine. A node in a network namespace with three
# backend pods and a client pod, berth-agent balancing the ClusterIP
# 10.96.0.10:80 over them in eBPF; traffic from the client shows it works.
# Everything lives in namespaces the demo makes and removes on exit.
# DEMO_HOLD=0 tears down at once; otherwise it waits for Enter (on a tty).
# shellcheck source-path=SCRIPTDIR source=../tests/e2e/lib.sh
E2E_PREFIX=${E2E_PREFIX:-demo$$}
. "$(dirname "$0")/../tests/e2e/lib.sh"
CTL=$REPO/.output/bin/berthctl

e2e_init
topo_up
start_backends
web_service -- "${BE_IP[@]}" | write_services
agent_start

echo
echo "== Service web: 10.96.0.10:80 -> ${BE_IP[*]} (port $TCP_PORT)"
echo "== 60 connections from the client pod ($CLI_IP):"
conns 60 "$VIP" 80
json 'd["counts"]' "$T/conns.json"
echo
echo "== berthctl bpf services --node $NODE_NAME"
"$CTL" bpf services --node "$NODE_NAME"
echo "== berthctl bpf backends --node $NODE_NAME"
"$CTL" bpf backends --node "$NODE_NAME"
echo "== conntrack entries: $("$CTL" bpf ct --node "$NODE_NAME" | wc -l)"
echo
if [ "${DEMO_HOLD:-1}" = 1 ] && [ -t 0 ]; then
	cat <<EOT
The node is up. Try, in another shell:
  ip netns exec $CLI $PYTHON $PEER conns 10 $VIP 80
  $CTL bpf ct --node $NODE_NAME
  edit $SVC_FILE (the agent applies it at once)
Press Enter to tear it down.
EOT
	read -r _
fi
echo "demo: ok, tearing down"
