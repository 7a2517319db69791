// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc on the node's VXLAN device (external mode). Ingress: decapsulated
 * packets of the cluster's VNI go straight to their pod, replies to NodePort flows SNATed here
 * go back to their client, the rest to the host stack. Egress: what the
 * host stack routed into the tunnel gets its remote node from the ipcache.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/nodeport.h"
#include "lib/parse.h"
#include "lib/route.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * The device (external mode) takes in every VNI: one of another cluster
 * sharing the underlay is not ours to deliver. A packet without tunnel
 * metadata did not come off the wire (BPF_PROG_TEST_RUN): nothing to judge.
 */
static __always_inline bool vni_ours(struct __sk_buff *skb,
				     const struct berth_node_cfg *cfg)
{
	struct bpf_tunnel_key key;

	if (bpf_skb_get_tunnel_key(skb, &key, TUNNEL_KEY_COMPAT_SIZE, 0))
		return true;
	return key.tunnel_id == cfg->vni;
}

SEC("tc")
int overlay_in(struct __sk_buff *skb)
{
	struct berth_endpoint_info *ep;
	struct berth_node_cfg *cfg;
	struct pkt4 p;
	int ret;

	ret = parse_or_verdict(skb, &p, BERTH_DIR_OVERLAY);
	if (ret != TC_ACT_UNSPEC)
		return ret;
	cfg = node_cfg();
	if (cfg && !vni_ours(skb, cfg))
		return drop(skb, BERTH_DROP_INVALID, BERTH_DIR_OVERLAY);
	ep = endpoint_lookup(p.daddr);
	if (ep)
		return deliver_local(skb, &p, ep, true, BERTH_DIR_OVERLAY);
	if (cfg) {
		ret = snat_reverse_any(skb, &p, cfg, BERTH_DIR_OVERLAY);
		if (ret >= 0)
			return ret;
	}
	/* the inner frame was addressed to the sender's idea of our MAC */
	if (skb->pkt_type != PACKET_HOST)
		bpf_skb_change_type(skb, PACKET_HOST);
	return TC_ACT_OK;
}

/*
 * What the host stack routed into the tunnel gets its remote node here.
 * Packets tunnel_to() redirected carry their key already; keying them again
 * from the ipcache gives the same answer for one lookup, cheaper than
 * reading the key back to tell the two apart.
 */
SEC("tc")
int overlay_out(struct __sk_buff *skb)
{
	struct bpf_tunnel_key key = {
		.tunnel_ttl = TUNNEL_TTL,
	};
	struct berth_ipcache_val *ipc;
	struct berth_node_cfg *cfg;
	struct pkt4 p;
	int ret;

	ret = parse_ipv4(skb, &p);
	/*
	 * Not IPv4 (the agent turns IPv6 off on the device; what is left is
	 * the kernel's own chatter): no tunnel key, so the device discards
	 * it. Not a drop of berth's, so not counted as one.
	 */
	if (ret == PARSE_SKIP)
		return TC_ACT_OK;
	if (ret < 0)
		return drop(skb, BERTH_DROP_INVALID, BERTH_DIR_OVERLAY);
	ipc = ipcache_lookup(p.daddr);
	cfg = node_cfg();
	if (!ipc || !ipc->tunnel_ip || !cfg)
		return drop(skb, BERTH_DROP_NO_ROUTE, BERTH_DIR_OVERLAY);
	/* the host stack wrote the tunnel device's MAC, shared by all nodes */
	if (tunnel_macs(skb, cfg))
		return drop(skb, BERTH_DROP_CSUM, BERTH_DIR_OVERLAY);
	key.remote_ipv4 = bpf_ntohl(ipc->tunnel_ip);
	key.tunnel_id = cfg->vni;
	if (bpf_skb_set_tunnel_key(skb, &key, TUNNEL_KEY_COMPAT_SIZE, 0))
		return drop(skb, BERTH_DROP_NO_ROUTE, BERTH_DIR_OVERLAY);
	return TC_ACT_OK;
}
