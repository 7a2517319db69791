// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * XDP on the node's underlay device: the NodePort fast path. A connection
 * to a backend on another node is translated (DNAT + SNAT to the node) and
 * sent back out encapsulated in VXLAN before the stack ever sees it. All
 * else passes untouched to tc (host.bpf.c), which sees the same conntrack
 * and nat entries: a flow may start here and continue there, or back.
 *
 * A local backend is left to tc: the conntrack entry chosen here makes tc
 * pick the same backend, and tc hands the packet to the pod with
 * bpf_redirect_peer as an skb with the NIC's checksum state, where an XDP
 * redirect into a veth would build a fresh skb without it and needs XDP
 * set up inside every pod.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/csum.h"
#include "lib/hash.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/route.h"
#include "lib/snat.h"
#include "lib/svc.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define XDP_ABORTED 0
#define XDP_DROP 1
#define XDP_PASS 2
#define XDP_TX 3
#define ETH_P_IP_BE 0x0008 /* bpf_htons(ETH_P_IP) */
#define VXLAN_HLEN 8
#define VXLAN_FLAG_VNI 0x08000000 /* I: the VNI is valid */
#define UDP_HLEN 8
#define IP_HLEN 20
#define OUTER_TTL 64
/* source ports of the outer UDP header: a flow hash spreads them (RSS) */
#define VXLAN_SPORT_BASE 49152
#define VXLAN_SPORT_MASK 0x3fff

struct outer_hdr {
	struct ethhdr eth;
	struct iphdr ip;
	struct udphdr udp;
	__be32 vx_flags;
	__be32 vx_vni;
} __attribute__((packed));

/* outer Ethernet in front, inner Ethernet inside: the same 50 bytes */
_Static_assert(sizeof(struct outer_hdr) == BERTH_TUNNEL_OVERHEAD,
	       "VXLAN encapsulation is BERTH_TUNNEL_OVERHEAD bytes");

/* The remote backend's node, its next hop's MACs on the ingress device. */
struct tx_plan {
	__be32 tunnel_ip;
	__u8 dmac[ETH_ALEN];
	__u8 smac[ETH_ALEN];
};

static __always_inline __u16 ipv4_csum(const struct iphdr *ip)
{
	const __u16 *w = (const __u16 *)ip;
	__u64 sum = 0;

	for (int i = 0; i < IP_HLEN / 2; i++)
		sum += w[i];
	return csum_fold32(sum);
}

/* Rewrite saddr/sport or daddr/dport of the (inner) packet in place. */
static __always_inline void xdp_nat(struct iphdr *ip, __be16 *ports,
				    __u16 *l4_csum, bool udp, bool src,
				    __be32 addr, __be16 port)
{
	__be32 *old_addr = src ? &ip->saddr : &ip->daddr;
	__be16 *old_port = src ? &ports[0] : &ports[1];

	/* UDP without a checksum (0) keeps none */
	if (!udp || *l4_csum) {
		__u16 c = csum_replace4(*l4_csum, *old_addr, addr);

		c = csum_replace2(c, *old_port, port);
		*l4_csum = udp && !c ? 0xffff : c;
	}
	ip->check = csum_replace4(ip->check, *old_addr, addr);
	*old_addr = addr;
	*old_port = port;
}

/* Next hop toward tunnel_ip out of the device the packet came in on. */
static __always_inline int plan_tx(struct xdp_md *ctx, __be32 node_ip,
				   __be32 tunnel_ip, __u16 frame_len,
				   struct tx_plan *tx)
{
	struct bpf_fib_lookup fib = {
		.family = AF_INET,
		.ipv4_src = node_ip,
		.ipv4_dst = tunnel_ip,
		.tot_len = IP_HLEN + UDP_HLEN + VXLAN_HLEN + frame_len,
		.ifindex = ctx->ingress_ifindex,
	};

	if (bpf_fib_lookup(ctx, &fib, sizeof(fib), BPF_FIB_LOOKUP_OUTPUT) !=
	    BPF_FIB_LKUP_RET_SUCCESS)
		return -1;
	if (fib.ifindex != ctx->ingress_ifindex)
		return -1; /* XDP_TX leaves where it came in; tc can route */
	tx->tunnel_ip = tunnel_ip;
	__builtin_memcpy(tx->dmac, fib.dmac, ETH_ALEN);
	__builtin_memcpy(tx->smac, fib.smac, ETH_ALEN);
	return 0;
}

/* Put the outer Ethernet/IPv4/UDP/VXLAN headers in front of the frame. */
static __always_inline int encap(struct xdp_md *ctx, const struct tx_plan *tx,
				 const struct berth_node_cfg *cfg, __u16 sport)
{
	__u16 inner_len = ctx->data_end - ctx->data;
	struct iphdr ip = {
		.ihl = 5,
		.version = 4,
		.tot_len =
			bpf_htons(IP_HLEN + UDP_HLEN + VXLAN_HLEN + inner_len),
		.ttl = OUTER_TTL,
		.protocol = IPPROTO_UDP,
		.saddr = cfg->node_ip,
		.daddr = tx->tunnel_ip,
	};
	struct outer_hdr *o;
	struct ethhdr *inner;
	void *data, *end;

	if (bpf_xdp_adjust_head(ctx, -(int)BERTH_TUNNEL_OVERHEAD))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	o = data;
	inner = data + BERTH_TUNNEL_OVERHEAD;
	if ((void *)(inner + 1) > end)
		return -1;
	__builtin_memcpy(inner->h_dest, cfg->tunnel_mac, ETH_ALEN);
	/* VXLAN drops a frame from its own (shared) MAC as a loop */
	__builtin_memcpy(inner->h_source, cfg->netdev_mac, ETH_ALEN);
	__builtin_memcpy(o->eth.h_dest, tx->dmac, ETH_ALEN);
	__builtin_memcpy(o->eth.h_source, tx->smac, ETH_ALEN);
	o->eth.h_proto = ETH_P_IP_BE;
	ip.check = ipv4_csum(&ip);
	o->ip = ip;
	o->udp = (struct udphdr){
		.source = bpf_htons(sport),
		.dest = bpf_htons(BERTH_VXLAN_PORT),
		.len = bpf_htons(UDP_HLEN + VXLAN_HLEN + inner_len),
		.check = 0, /* allowed over IPv4, and what Linux VXLAN sends */
	};
	o->vx_flags = bpf_htonl(VXLAN_FLAG_VNI);
	o->vx_vni = bpf_htonl(cfg->vni << 8); /* 24 bits, then reserved */
	return 0;
}

/* DNAT + SNAT the inner packet, headers re-read after the helpers. */
static __always_inline int rewrite(struct xdp_md *ctx, const struct pkt4 *p,
				   const struct berth_backend *be,
				   __be32 node_ip, __be16 port)
{
	void *data = (void *)(long)ctx->data,
	     *end = (void *)(long)ctx->data_end;
	struct iphdr *ip = data + ETH_HLEN;
	__be16 *ports;
	__u16 *csum;
	bool udp = p->proto == IPPROTO_UDP;

	if ((void *)(ip + 1) > end || p->l4_off > ETH_HLEN + 60)
		return -1;
	ports = data + p->l4_off;
	csum = data + p->l4_off + (udp ? UDP_CSUM_OFF : TCP_CSUM_OFF);
	if ((void *)(ports + 2) > end || (void *)(csum + 1) > end)
		return -1;
	xdp_nat(ip, ports, csum, udp, false, be->ip, be->port);
	xdp_nat(ip, ports, csum, udp, true, node_ip, port);
	return 0;
}

SEC("xdp")
int xdp_nodeport(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data,
	     *end = (void *)(long)ctx->data_end;
	struct berth_ipcache_val *ipc;
	struct berth_node_cfg *cfg;
	struct berth_svc_val *svc;
	struct berth_backend *be;
	struct ethhdr *eth = data;
	struct tx_plan tx;
	struct pkt4 p;
	__be16 port;
	__u16 sport;

	if ((void *)(eth + 1) > end || eth->h_proto != ETH_P_IP_BE)
		return XDP_PASS;
	/* malformed: tc drops and counts it */
	if (parse_ipv4_hdr(data + ETH_HLEN, end, &p) != PARSE_OK)
		return XDP_PASS;
	cfg = node_cfg();
	if (!cfg || !cfg->node_ip || p.daddr != cfg->node_ip || p.frag ||
	    (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP))
		return XDP_PASS;
	if (!nodeport_port(cfg, p.dport) || snat_reply_lookup(&p))
		return XDP_PASS;
	svc = lb_lookup_service(&p);
	/* no endpoints, errors: tc rejects or drops and counts */
	if (!svc || svc_backend(&p, svc, &be))
		return XDP_PASS;
	if (endpoint_lookup(be->ip))
		return XDP_PASS;
	ipc = ipcache_lookup(be->ip);
	if (!ipc || !ipc->tunnel_ip)
		return XDP_PASS;
	if (plan_tx(ctx, cfg->node_ip, ipc->tunnel_ip, end - data, &tx))
		return XDP_PASS;
	{
		struct pkt4 q = p;

		q.daddr = be->ip;
		q.dport = be->port;
		if (snat_port(&q, cfg->node_ip, svc->rev_nat_id, cfg, &port))
			return XDP_PASS;
	}
	sport = VXLAN_SPORT_BASE |
		(hash_flow(p.saddr, p.daddr, p.sport, p.dport, p.proto) &
		 VXLAN_SPORT_MASK);
	if (rewrite(ctx, &p, be, cfg->node_ip, port) ||
	    encap(ctx, &tx, cfg, sport))
		return XDP_ABORTED;
	/* what XDP sent, apart from what tc saw: the fast path's share */
	metrics_add(BERTH_REASON_FORWARD, BERTH_DIR_XDP, p.tot_len);
	return XDP_TX;
}
