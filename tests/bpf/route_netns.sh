#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Real packets through the routing datapath, no agent: two "nodes" (netns)
# on one underlay (a bridge in a netns of its own), each with a VXLAN device
# in external mode and pods (netns) whose host routes do NOT exist, so only
# the BPF programs can deliver to them. route-loader loads the programs and
# fills the maps. Checks pod to pod on one node (bpf_redirect_peer) and
# across nodes (VXLAN), ping and TCP, host to a remote pod (overlay_out),
# NodePort from an outside client to a local backend (client IP kept) and a
# remote one (SNAT, native XDP on the underlay veth), masquerade (TCP and
# ping), and hairpin (a pod reaching itself through a ClusterIP, TCP and UDP).
# Prints PASS/FAIL per check; exit 1 if any failed. Everything it made goes
# on exit, whatever happened.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1

LOADER=.output/tests/route-loader
TOOL=tests/bpf/route_netns.py
if [ ! -x "$LOADER" ]; then
	echo "route_netns: $LOADER is missing (make builds it)"
	exit 1
fi

p=rn$$
UL=$p-ul N1=$p-n1 N2=$p-n2 P1=$p-p1 P1B=$p-p1b P2=$p-p2 EXT=$p-ext
PIN1=/sys/fs/bpf/berth/$p-n1 PIN2=/sys/fs/bpf/berth/$p-n2
NSES="$P1 $P1B $P2 $EXT $N1 $N2 $UL"
PIDS=()
failed=0

cleanup() {
	[ -n "${ROUTE_NETNS_KEEP:-}" ] && { echo "kept: $NSES $PIN1 $PIN2"; return; }
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; done
	for ns in $NSES; do ip netns del "$ns" 2>/dev/null; done
	"$LOADER" "$PIN1" unpin 2>/dev/null
	"$LOADER" "$PIN2" unpin 2>/dev/null
	rmdir /sys/fs/bpf/berth 2>/dev/null
	true
}
trap cleanup EXIT

die() {
	echo "route_netns: set-up failed: $*"
	exit 1
}

# nsx NS CMD...: run in a netns (ip netns exec: not for the loader, whose
# pins must land on the shared bpffs, hence nsenter there)
nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
load() { local ns=$1 pin=$2; shift 2; nsenter --net=/run/netns/"$ns" "$LOADER" "$pin" "$@"; }
mac() { ip netns exec "$1" cat /sys/class/net/"$2"/address; }

for ns in $NSES; do ip netns add "$ns" || die "netns $ns"; done

# underlay: bridge br0 in UL, nodes .1 and .2, an outside client .100
nsx "$UL" ip link add br0 type bridge || die bridge
nsx "$UL" ip link set br0 up
uplink() { # NS ADDR
	nsx "$UL" ip link add "${1##*-}" type veth peer name u0 netns "$1" || die "uplink $1"
	nsx "$UL" ip link set "${1##*-}" master br0 up
	nsx "$1" ip addr add "$2"/24 dev u0
	nsx "$1" ip link set u0 up
	nsx "$1" ip link set lo up
	# a veth's XDP_TX is flushed into its peer only if the peer has XDP
	nsenter --net=/run/netns/"$UL" "$LOADER" xdp-pass "${1##*-}" || die "xdp on ${1##*-}"
}
uplink "$N1" 192.168.77.1
uplink "$N2" 192.168.77.2
uplink "$EXT" 192.168.77.100
# the outside client sends finished checksums, as a real NIC puts on the
# wire; a veth would leave them partial for XDP to rewrite
nsx "$EXT" python3 "$TOOL" txcsum-off u0 || die "txcsum off"

# node NS IP PIN OWN_CIDR OTHER_CIDR OTHER_IP [masquerade]
node() {
	local ns=$1 ip=$2 pin=$3
	nsx "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0
	nsx "$ns" ip link add berth_vxlan type vxlan external dstport 8472 || die vxlan
	nsx "$ns" ip link set berth_vxlan address 02:be:27:00:00:01 mtu 1450 arp off up
	# host-namespace clients reach the other node's pods through the tunnel
	nsx "$ns" ip route add "$5" dev berth_vxlan
	load "$ns" "$pin" node "$ip" u0 berth_vxlan ${7:-} || die "node map $ns"
	load "$ns" "$pin" attach-overlay berth_vxlan || die "overlay $ns"
	load "$ns" "$pin" ipcache "$4" 0.0.0.0 local-pod || die ipcache
	load "$ns" "$pin" ipcache "$5" "$6" pod || die ipcache
	load "$ns" "$pin" ipcache "$6"/32 0.0.0.0 node || die ipcache
}
node "$N1" 192.168.77.1 "$PIN1" 10.201.1.0/24 10.201.2.0/24 192.168.77.2 masquerade
node "$N2" 192.168.77.2 "$PIN2" 10.201.2.0/24 10.201.1.0/24 192.168.77.1
XDP1=$(load "$N1" "$PIN1" attach-netdev u0 auto) || die "netdev n1"
load "$N2" "$PIN2" attach-netdev u0 tc >/dev/null || die "netdev n2"
echo "route_netns: node 1 NodePort: $XDP1"

# pod NODE NS PIN HOSTIF IP: as berth-cni makes it, minus the host's /32 route
pod() {
	local node=$1 ns=$2 pin=$3 hif=$4 ip=$5
	nsx "$node" ip link add "$hif" type veth peer name eth0 netns "$ns" || die "veth $hif"
	nsx "$node" ip link set "$hif" up
	nsx "$ns" ip link set lo up
	nsx "$ns" ip link set eth0 mtu 1450 up
	nsx "$ns" ip addr add "$ip"/32 dev eth0
	nsx "$ns" ip route add 169.254.1.1 dev eth0 scope link
	nsx "$ns" ip route add default via 169.254.1.1 dev eth0
	nsx "$ns" ip neigh replace 169.254.1.1 lladdr "$(mac "$node" "$hif")" dev eth0 nud permanent
	load "$node" "$pin" attach-pod "$hif" || die "attach $hif"
	load "$node" "$pin" endpoint "$ip" "$hif" "$(mac "$ns" eth0)" || die "endpoint $ip"
}
pod "$N1" "$P1" "$PIN1" vp1 10.201.1.5
pod "$N1" "$P1B" "$PIN1" vp1b 10.201.1.6
pod "$N2" "$P2" "$PIN2" vp2 10.201.2.5

# NodePort 30080 on both nodes, the one backend on node 2
load "$N1" "$PIN1" service 192.168.77.1 30080 tcp 10.201.2.5:8080 || die service
load "$N2" "$PIN2" service 192.168.77.2 30080 tcp 10.201.2.5:8080 || die service

nsx "$P2" python3 "$TOOL" serve 8080 p2 & PIDS+=($!)
nsx "$P1" python3 "$TOOL" serve 8080 p1 & PIDS+=($!)
nsx "$P1" python3 "$TOOL" udp-serve 8053 p1 & PIDS+=($!)
nsx "$EXT" python3 "$TOOL" serve 9000 ext & PIDS+=($!)
sleep 0.5

check() { # NAME WANT CMD...: CMD's output must contain WANT
	local name=$1 want=$2 out
	shift 2
	out=$("$@" 2>&1)
	if [ $? = 0 ] && [[ "$out" == *"$want"* ]]; then
		echo "PASS $name: $out"
	else
		echo "FAIL $name: want \"$want\", got: $out"
		failed=$((failed + 1))
	fi
}

check same-node-ping "3 replies" nsx "$P1B" python3 "$TOOL" ping 10.201.1.5
check same-node-tcp "p1 10.201.1.6" nsx "$P1B" python3 "$TOOL" connect 10.201.1.5 8080
check cross-node-ping "3 replies" nsx "$P1" python3 "$TOOL" ping 10.201.2.5
check cross-node-tcp "p2 10.201.1.5" nsx "$P1" python3 "$TOOL" connect 10.201.2.5 8080
check cross-node-tcp-back "p1 10.201.2.5" nsx "$P2" python3 "$TOOL" connect 10.201.1.5 8080
check host-to-remote-pod "3 replies" nsx "$N1" python3 "$TOOL" ping 10.201.2.5
check nodeport-local-client-ip "p2 192.168.77.100" nsx "$EXT" python3 "$TOOL" connect 192.168.77.2 30080
check nodeport-remote-snat "p2 192.168.77.1" nsx "$EXT" python3 "$TOOL" connect 192.168.77.1 30080
check masquerade "ext 192.168.77.1" nsx "$P1" python3 "$TOOL" connect 192.168.77.100 9000
# the outside client has no route to pods: only a masqueraded echo returns
check masquerade-ping "3 replies" nsx "$P1" python3 "$TOOL" ping 192.168.77.100
# node 1's NodePort packets were sent by XDP, not tc (metrics: forward/XDP)
xdp_sent() {
	bpftool -j map dump pinned "$PIN1"/metrics | python3 -c '
import json, sys
n = 0
for e in json.load(sys.stdin):
    if [int(b, 16) for b in e["key"][:2]] == [0, 5]:  # forward, XDP
        for c in e["values"]:
            n += int.from_bytes(bytes(int(b, 16) for b in c["value"][:8]), "little")
print("%d packets sent by XDP" % n)'
}
if [ "$XDP1" = "xdp native" ]; then
	check nodeport-xdp-path "packets sent by XDP" xdp_sent
	[[ "$(xdp_sent)" != "0 packets"* ]] || { echo "FAIL nodeport-xdp-path: none"; failed=$((failed + 1)); }
fi

# hairpin: pod 1 is the only backend of a ClusterIP it fetches (each
# service load replaces node 1's frontends)
load "$N1" "$PIN1" service 10.96.0.50 80 tcp 10.201.1.5:8080 || die service
check hairpin-tcp "p1 169.254.42.1" nsx "$P1" python3 "$TOOL" connect 10.96.0.50 80
load "$N1" "$PIN1" service 10.96.0.50 53 udp 10.201.1.5:8053 || die service
check hairpin-udp "p1 169.254.42.1" nsx "$P1" python3 "$TOOL" udp-ask 10.96.0.50 53

# a device without native XDP: AUTO falls back to tc, XDP refuses
nsx "$N2" ip link add d0 type bridge && nsx "$N2" ip link set d0 up || die "bridge d0"
check netdev-auto-fallback "xdp none" load "$N2" "$PIN2" attach-netdev d0 auto
if load "$N2" "$PIN2" attach-netdev d0 xdp >/dev/null 2>&1; then
	echo "FAIL netdev-xdp-required: attached to a device without native XDP"
	failed=$((failed + 1))
else
	echo "PASS netdev-xdp-required: refused"
fi

echo "route_netns: $failed failed"
[ "$failed" = 0 ]
