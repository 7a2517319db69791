/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Routing and node-level NAT: the endpoints, ipcache, node and nat maps.
 * Pod-to-pod on one node goes host veth -> bpf_redirect_peer(); across nodes
 * through one VXLAN device per node in external (collect_md) mode, the
 * tunnel endpoint taken from the ipcache; NodePort and pod-to-outside
 * masquerade rewrite addresses on the node's underlay device.
 */
#ifndef BERTH_ABI_ROUTE_H
#define BERTH_ABI_ROUTE_H

#include "types.h"

#define BERTH_TUNNEL_DEV "berth_vxlan"
#define BERTH_VXLAN_PORT 8472 /* Linux's and Cilium's default VXLAN port */
/* the cluster's VXLAN network id (--vxlan-vni): one per cluster, 24 bits */
#define BERTH_VXLAN_VNI_DEFAULT 1
#define BERTH_VXLAN_VNI_MAX 0xffffff
/* outer IPv4 20 + UDP 8 + VXLAN 8 + inner Ethernet 14 */
#define BERTH_TUNNEL_OVERHEAD 50
#define BERTH_NODEPORT_MIN 30000 /* Kubernetes' default NodePort range */
#define BERTH_NODEPORT_MAX 32767
/* source ports NodePort SNAT and masquerade allocate from */
#define BERTH_SNAT_PORT_MIN 32768
#define BERTH_SNAT_PORT_MAX 60999
/*
 * Source of hairpin traffic: a pod that reaches itself through a frontend
 * would otherwise get a packet from its own address and drop it as a
 * martian. Link-local, never on any wire; 169.254.42.1 in network order.
 */
#define BERTH_HAIRPIN_IP_HOST 0xa9fe2a01U

/* Reserved identities (values as Cilium numbers them). */
enum {
	BERTH_ID_UNKNOWN = 0,
	BERTH_ID_HOST = 1, /* this node */
	BERTH_ID_WORLD = 2, /* outside the cluster */
	BERTH_ID_REMOTE_NODE = 6, /* another node of the cluster */
};

/*
 * endpoints: local pod IPv4 (__be32) -> how to deliver to it.
 * Written by the agent when berth-cni registers a pod (and on restore);
 * read by from_pod, overlay and host programs to redirect to the pod.
 */
struct berth_endpoint_info {
	__u32 ifindex; /* host side of the pod's veth */
	__u32 identity; /* security identity, BERTH_ID_UNKNOWN until assigned */
	__u8 mac[6]; /* the pod's interface */
	__u8 host_mac[6]; /* the host side: frames to the pod come from it */
	__u32 flags; /* BERTH_EP_F_* (policy.h) */
};
BERTH_ABI_SIZE(struct berth_endpoint_info, 24);

/*
 * ipcache (LPM trie): CIDR -> where it lives. Pod CIDRs of every node
 * (this node's with BERTH_IPCACHE_F_LOCAL and tunnel_ip 0) and node
 * addresses (/32, BERTH_IPCACHE_F_NODE). Written by the agent from Node
 * objects; a destination not found here is outside the cluster.
 */
struct berth_ipcache_key {
	__u32 prefixlen; /* LPM: bits of ip that count */
	__be32 ip;
};
BERTH_ABI_SIZE(struct berth_ipcache_key, 8);

/* berth_ipcache_val.flags */
enum {
	BERTH_IPCACHE_F_LOCAL = 1 << 0, /* on this node */
	BERTH_IPCACHE_F_POD = 1 << 1, /* pod addresses */
	BERTH_IPCACHE_F_NODE = 1 << 2, /* a node's own address */
};

struct berth_ipcache_val {
	__be32 tunnel_ip; /* node to encapsulate to; 0: not via the tunnel */
	__u32 identity;
	__u8 flags; /* BERTH_IPCACHE_F_* */
	__u8 pad[3];
};
BERTH_ABI_SIZE(struct berth_ipcache_val, 12);

/* berth_node_cfg.flags */
enum {
	/* SNAT pod traffic to destinations outside the ipcache to node_ip */
	BERTH_NODE_F_MASQUERADE = 1 << 0,
	/* xdp_nodeport is attached to netdev: tc sees only what it passed */
	BERTH_NODE_F_XDP = 1 << 1,
};

/*
 * node (array of one, key 0): this node's configuration. Written by the
 * agent before it attaches anything and when the node's addresses change.
 */
struct berth_node_cfg {
	__be32 node_ip; /* underlay address: NodePort frontend, SNAT source */
	__u32 tunnel_ifindex; /* BERTH_TUNNEL_DEV; 0: no tunnel (one node) */
	__u32 netdev_ifindex; /* underlay device */
	__u32 flags; /* BERTH_NODE_F_* */
	__u16 nodeport_min; /* host order */
	__u16 nodeport_max;
	__u16 snat_port_min;
	__u16 snat_port_max;
	__u8 netdev_mac[6];
	__u8 tunnel_mac[6];
	__u32 vni; /* VXLAN network id sent, and the only one taken in */
};
BERTH_ABI_SIZE(struct berth_node_cfg, 40);

/* berth_ct_key.dir values used in the nat map */
enum {
	/* tuple as sent by the original client, before SNAT: value is the
	 * source address/port to write */
	BERTH_NAT_OUT = 3,
	/* reply tuple as it arrives (dst = node_ip:nat port): value is the
	 * original client address/port to write back as destination */
	BERTH_NAT_IN = 4,
};

/*
 * nat (LRU): struct berth_ct_key (dir BERTH_NAT_*) -> the rewrite. One OUT
 * and one IN entry per SNATed flow. Written by host.bpf.c (NodePort to a
 * remote backend, masquerade); read there and by overlay.
 */
struct berth_nat_val {
	__be32 addr;
	__be16 port;
	__u16 flags; /* BERTH_CT_F_* */
	__u32 lifetime; /* expiry, seconds of bpf_ktime_get_ns() */
	__u32 rev_nat_id; /* NodePort: frontend of the flow; 0: masquerade */
};
BERTH_ABI_SIZE(struct berth_nat_val, 16);

#endif
