/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Where a packet goes once its destination is final: a pod of this node
 * (straight into its netns with bpf_redirect_peer, no trip through the host
 * stack), another node (VXLAN, remote from the ipcache), or out of the
 * underlay by the FIB.
 */
#ifndef BERTH_BPF_ROUTE_H
#define BERTH_BPF_ROUTE_H

#include "events.h"
#include "maps.h"
#include "metrics.h"
#include "parse.h"
#include "policy.h"
#include "revnat.h"

#define AF_INET 2
#define PACKET_HOST 0
#define IP_TTL_OFF 8
/*
 * struct bpf_tunnel_key up to tunnel_label: a size every kernel accepts,
 * whatever fields vmlinux.h of the build machine adds after it.
 */
#define TUNNEL_KEY_COMPAT_SIZE 28
#define TUNNEL_TTL 64

static __always_inline struct berth_node_cfg *node_cfg(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&node, &zero);
}

/* Is port (network order) in the node's NodePort range? */
static __always_inline bool nodeport_port(const struct berth_node_cfg *cfg,
					  __be16 port)
{
	__u16 p = bpf_ntohs(port), min = cfg->nodeport_min,
	      max = cfg->nodeport_max;

	if (!min || max < min) {
		min = BERTH_NODEPORT_MIN;
		max = BERTH_NODEPORT_MAX;
	}
	return p >= min && p <= max;
}

static __always_inline struct berth_ipcache_val *ipcache_lookup(__be32 ip)
{
	struct berth_ipcache_key key = { .prefixlen = 32, .ip = ip };

	return bpf_map_lookup_elem(&ipcache, &key);
}

/*
 * Does an ipcache entry place its address in the cluster (a pod or node
 * address)? Entries of the policy sync alone (ipBlock prefixes) do not:
 * such a destination is still outside, for routing and masquerade.
 */
static __always_inline bool
ipcache_in_cluster(const struct berth_ipcache_val *v)
{
	return v && (v->flags & (BERTH_IPCACHE_F_POD | BERTH_IPCACHE_F_NODE));
}

static __always_inline struct berth_endpoint_info *endpoint_lookup(__be32 ip)
{
	return bpf_map_lookup_elem(&endpoints, &ip);
}

/* Write both MAC addresses of the frame. */
static __always_inline int set_macs(struct __sk_buff *skb, const __u8 *dst,
				    const __u8 *src)
{
	__u8 macs[2 * ETH_ALEN];

	__builtin_memcpy(macs, dst, ETH_ALEN);
	__builtin_memcpy(macs + ETH_ALEN, src, ETH_ALEN);
	return bpf_skb_store_bytes(skb, 0, macs, sizeof(macs), 0);
}

/*
 * One routed hop: TTL - 1, header checksum fixed. 0 done, 1 the TTL ran
 * out (the packet must not be forwarded), -1 a rewrite failed.
 */
static __always_inline int ttl_decrement(struct __sk_buff *skb)
{
	__u32 off = ETH_HLEN + IP_TTL_OFF;
	__u16 old, new; /* TTL and protocol: the header's 16-bit word */
	__u8 *ttl = (__u8 *)&new;

	if (bpf_skb_load_bytes(skb, off, &old, sizeof(old)))
		return -1;
	new = old;
	if (*ttl <= 1)
		return 1;
	*ttl -= 1;
	if (bpf_l3_csum_replace(skb, ETH_HLEN + IP_CSUM_OFF, old, new, 2))
		return -1;
	return bpf_skb_store_bytes(skb, off, &new, sizeof(new), 0) ? -1 : 0;
}

/*
 * Hand the packet to a pod of this node, its policy judged already. It
 * skips to_pod (the veth's egress is never crossed), so everything to_pod
 * does happens here: reverse NAT of replies when rev_nat (callers that did
 * it already pass false).
 */
static __always_inline int deliver_judged(struct __sk_buff *skb, struct pkt4 *p,
					  const struct berth_endpoint_info *ep,
					  bool rev_nat, __u8 dir)
{
	int ret;

	if (rev_nat && rev_nat_any(skb, p) < 0)
		return drop(skb, BERTH_DROP_CSUM, dir);
	if (set_macs(skb, ep->mac, ep->host_mac))
		return drop(skb, BERTH_DROP_CSUM, dir);
	ret = ttl_decrement(skb);
	if (ret)
		return drop(skb, ret > 0 ? BERTH_DROP_TTL : BERTH_DROP_CSUM,
			    dir);
	events_trace(skb, BERTH_TRACE_TO_ENDPOINT, dir);
	return bpf_redirect_peer(ep->ifindex, 0);
}

/*
 * The same after the pod's ingress policy, judged on p as it is (reverse
 * NAT comes after: a reply is known by its flow's real addresses).
 */
static __always_inline int deliver_local(struct __sk_buff *skb, struct pkt4 *p,
					 const struct berth_endpoint_info *ep,
					 bool rev_nat, __u8 dir)
{
	int ret = policy_ingress(skb, p, ep);

	if (ret != TC_ACT_UNSPEC)
		return ret;
	return deliver_judged(skb, p, ep, rev_nat, dir);
}

/*
 * Inner MACs of a frame into the tunnel: to the tunnel device's MAC, the
 * same on every node, so the far side takes it as its own; from this node's
 * underlay MAC, because VXLAN drops a frame from its own MAC as a loop.
 */
static __always_inline int tunnel_macs(struct __sk_buff *skb,
				       const struct berth_node_cfg *cfg)
{
	return set_macs(skb, cfg->tunnel_mac, cfg->netdev_mac);
}

/*
 * Send the packet to another node through this node's VXLAN device, which
 * encapsulates it toward tunnel_ip (collect_md).
 */
static __always_inline int tunnel_to(struct __sk_buff *skb, __be32 tunnel_ip,
				     const struct berth_node_cfg *cfg, __u8 dir)
{
	struct bpf_tunnel_key key = {
		.remote_ipv4 = bpf_ntohl(tunnel_ip),
		.tunnel_id = cfg->vni,
		.tunnel_ttl = TUNNEL_TTL,
	};

	if (!cfg->tunnel_ifindex)
		return drop(skb, BERTH_DROP_NO_ROUTE, dir);
	if (tunnel_macs(skb, cfg))
		return drop(skb, BERTH_DROP_CSUM, dir);
	if (bpf_skb_set_tunnel_key(skb, &key, TUNNEL_KEY_COMPAT_SIZE, 0))
		return drop(skb, BERTH_DROP_NO_ROUTE, dir);
	events_trace(skb, BERTH_TRACE_TO_OVERLAY, dir);
	return bpf_redirect(cfg->tunnel_ifindex, 0);
}

/*
 * Forward the packet (addresses final) out of the underlay by the FIB.
 * TC_ACT_OK when the FIB says the host stack should have it (local
 * destination, forwarding disabled, no route).
 */
static __always_inline int fib_out(struct __sk_buff *skb, __be32 saddr,
				   __be32 daddr,
				   const struct berth_node_cfg *cfg, __u8 dir)
{
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.ipv4_src = saddr,
		.ipv4_dst = daddr,
		.ifindex = cfg->netdev_ifindex,
	};
	long ret;

	if (!cfg->netdev_ifindex)
		return TC_ACT_OK;
	ret = bpf_fib_lookup(skb, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT);
	if (ret == BPF_FIB_LKUP_RET_NO_NEIGH) {
		if (ttl_decrement(skb))
			return drop(skb, BERTH_DROP_TTL, dir);
		events_trace(skb, BERTH_TRACE_TO_NETDEV, dir);
		return bpf_redirect_neigh(fib.ifindex, NULL, 0, 0);
	}
	if (ret != BPF_FIB_LKUP_RET_SUCCESS)
		return TC_ACT_OK;
	if (set_macs(skb, fib.dmac, fib.smac))
		return drop(skb, BERTH_DROP_CSUM, dir);
	ret = ttl_decrement(skb);
	if (ret)
		return drop(skb, ret > 0 ? BERTH_DROP_TTL : BERTH_DROP_CSUM,
			    dir);
	events_trace(skb, BERTH_TRACE_TO_NETDEV, dir);
	return bpf_redirect(fib.ifindex, 0);
}

#endif
