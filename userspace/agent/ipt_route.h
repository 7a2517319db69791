/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Pod routing for the iptables dataplane: plain kernel forwarding, no BPF.
 *
 * - BERTH_TUNNEL_DEV as a classic VXLAN device: VNI opts.vni, dstport
 *   BERTH_VXLAN_PORT, local = node IP on the underlay, no learning, MTU =
 *   underlay - BERTH_TUNNEL_OVERHEAD, MAC derived from the node IP
 *   (02:be:a:b:c:d), so every node knows every other node's MAC. A device
 *   with other settings (the BPF mode's external one) is re-created.
 * - For each other Node (spec.podCIDR, InternalIP): the neighbour
 *   <its podCIDR network address> -> its MAC (permanent), the FDB entry
 *   its MAC -> its node IP, and the route podCIDR via <network address>
 *   dev BERTH_TUNNEL_DEV onlink, protocol BERTH_RTPROT. Nodes that go lose
 *   theirs; a full pass every full_sync_s puts back what was removed.
 * - ip_forward=1, rp_filter=0 on the tunnel. Pods are reached through the
 *   /32 routes and neighbours berth-cni puts on the host veths.
 * - With masquerade: pod traffic leaving the node through anything but
 *   the tunnel, to outside the pod CIDR, is masqueraded (nat chain
 *   BERTH-POD-MASQ, jumped to from POSTROUTING).
 */
#ifndef BERTH_AGENT_IPT_ROUTE_H
#define BERTH_AGENT_IPT_ROUTE_H

#include <stdbool.h>
#include <stdint.h>

struct berth_iptroute_opts {
	const char *kubeconfig; /* Nodes are watched here */
	const char *node_name;
	const char *node_ip; /* NULL: the netns' first IPv4 */
	const char *device; /* underlay; NULL: the one holding node_ip */
	bool masquerade;
	uint32_t vni; /* the device's VXLAN id; 0: BERTH_VXLAN_VNI_DEFAULT */
	unsigned int full_sync_s; /* 0: BERTH_IPT_FULL_SYNC_S */
};

struct berth_iptroute;

int berth_iptroute_start(const struct berth_iptroute_opts *opts,
			 struct berth_iptroute **out);
/* Stops the watch; device, routes and rules stay. NULL is fine. */
void berth_iptroute_stop(struct berth_iptroute *r);
uint32_t berth_iptroute_pod_mtu(const struct berth_iptroute *r);
const char *berth_iptroute_node_ip(const struct berth_iptroute *r);
/* The pod CIDR is known (from the Node): masquerade pod traffic. */
int berth_iptroute_set_pod_cidr(struct berth_iptroute *r, const char *cidr);

#endif
