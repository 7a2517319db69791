/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reverse-translate ICMP errors about a balanced flow: a backend's "port
 * unreachable" for client->backend must reach the client as an error about
 * client->frontend, or its socket would never hear of it.
 */
#ifndef BERTH_BPF_ICMP_H
#define BERTH_BPF_ICMP_H

#include "csum.h"
#include "maps.h"
#include "parse.h"

static __always_inline bool icmp_is_error(__u8 type)
{
	return type == ICMP_DEST_UNREACH || type == ICMP_TIME_EXCEEDED ||
	       type == ICMP_PARAMETERPROB || type == ICMP_SOURCE_QUENCH;
}

/* Rewrite a 16-bit field inside the ICMP message, fixing the ICMP checksum. */
static __always_inline int icmp_store16(struct __sk_buff *skb, __u32 icmp_csum,
					__u32 off, __u16 from, __u16 to)
{
	if (from == to)
		return 0;
	if (bpf_l4_csum_replace(skb, icmp_csum, from, to, 2))
		return -1;
	return bpf_skb_store_bytes(skb, off, &to, 2, 0);
}

/* The packet an ICMP error quotes (TCP/UDP), and where its fields are. */
struct icmp_quote {
	struct iphdr ip;
	__be16 ports[2]; /* source, destination */
	__u32 ip_off; /* from the frame's start */
	__u32 l4_off;
	__u32 icmp_csum; /* offset of the outer ICMP checksum */
};

/* 0 when p is an ICMP error quoting a TCP/UDP packet with its ports. */
static __always_inline int icmp_quote_load(struct __sk_buff *skb,
					   const struct pkt4 *p,
					   struct icmp_quote *q)
{
	struct icmphdr icmp;

	if (p->proto != IPPROTO_ICMP || p->frag ||
	    bpf_skb_load_bytes(skb, p->l4_off, &icmp, sizeof(icmp)))
		return -1;
	if (!icmp_is_error(icmp.type))
		return -1;
	q->icmp_csum = p->l4_off + ICMP_CSUM_OFF;
	q->ip_off = p->l4_off + sizeof(struct icmphdr);
	if (bpf_skb_load_bytes(skb, q->ip_off, &q->ip, sizeof(q->ip)) ||
	    q->ip.ihl < 5)
		return -1;
	if (q->ip.protocol != IPPROTO_TCP && q->ip.protocol != IPPROTO_UDP)
		return -1;
	q->l4_off = q->ip_off + q->ip.ihl * 4;
	return bpf_skb_load_bytes(skb, q->l4_off, q->ports, sizeof(q->ports)) ?
		       -1 :
		       0;
}

/*
 * Rewrite the quote's destination (NAT_DST) or source (NAT_SRC) to
 * ip:port, with its IP and L4 checksums (the L4 one when quoted) and the
 * outer ICMP checksum. q follows. 0, or -1 when a rewrite failed.
 */
static __always_inline int icmp_quote_rewrite(struct __sk_buff *skb,
					      struct icmp_quote *q, bool dst,
					      __be32 ip, __be16 port)
{
	__u32 in_l4_csum =
		q->l4_off +
		(q->ip.protocol == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
	__be32 old_ip = dst ? q->ip.daddr : q->ip.saddr;
	__be16 old_port = q->ports[dst];
	__u16 old16, new16;

	/* L4 checksum: covers the address (pseudo header) and the port */
	if (!bpf_skb_load_bytes(skb, in_l4_csum, &old16, 2) &&
	    (old16 || q->ip.protocol == IPPROTO_TCP)) {
		new16 = csum_replace4(old16, old_ip, ip);
		new16 = csum_replace2(new16, old_port, port);
		if (q->ip.protocol == IPPROTO_UDP && !new16)
			new16 = 0xffff;
		if (icmp_store16(skb, q->icmp_csum, in_l4_csum, old16, new16))
			return -1;
	}
	if (icmp_store16(skb, q->icmp_csum, q->l4_off + 2 * dst, old_port,
			 port))
		return -1;
	q->ports[dst] = port;
	new16 = csum_replace4(q->ip.check, old_ip, ip);
	if (icmp_store16(skb, q->icmp_csum, q->ip_off + IP_CSUM_OFF,
			 q->ip.check, new16))
		return -1;
	q->ip.check = new16;
	if (old_ip == ip)
		return 0;
	if (bpf_l4_csum_replace(skb, q->icmp_csum, old_ip, ip, 4) ||
	    bpf_skb_store_bytes(skb,
				q->ip_off + (dst ? IP_DADDR_OFF : IP_SADDR_OFF),
				&ip, 4, 0))
		return -1;
	if (dst)
		q->ip.daddr = ip;
	else
		q->ip.saddr = ip;
	return 0;
}

/*
 * An outer address of an ICMP message (no pseudo header: the IP checksum
 * alone covers it). p follows.
 */
static __always_inline int icmp_outer_addr(struct __sk_buff *skb,
					   struct pkt4 *p, bool dst, __be32 ip)
{
	__be32 old = dst ? p->daddr : p->saddr;

	if (old == ip)
		return 0;
	if (bpf_l3_csum_replace(skb, ETH_HLEN + IP_CSUM_OFF, old, ip, 4) ||
	    bpf_skb_store_bytes(skb,
				ETH_HLEN + (dst ? IP_DADDR_OFF : IP_SADDR_OFF),
				&ip, 4, 0))
		return -1;
	if (dst)
		p->daddr = ip;
	else
		p->saddr = ip;
	return 0;
}

/*
 * Returns 0 when translated or not ours, -1 when a rewrite failed.
 * The quoted packet is the client's as it left after DNAT: client -> backend.
 */
static __always_inline int icmp_rev_nat(struct __sk_buff *skb, struct pkt4 *p)
{
	struct berth_ct_key key = { .dir = BERTH_CT_EGRESS };
	struct berth_rev_nat *rn;
	struct berth_ct_val *ct_val;
	struct icmp_quote q;
	__be32 backend;

	if (icmp_quote_load(skb, p, &q))
		return 0;
	key.saddr = q.ip.saddr;
	key.daddr = q.ip.daddr;
	key.sport = q.ports[0];
	key.dport = q.ports[1];
	key.proto = q.ip.protocol;
	ct_val = bpf_map_lookup_elem(&ct, &key);
	if (!ct_val)
		return 0;
	rn = bpf_map_lookup_elem(&rev_nat, &ct_val->rev_nat_id);
	if (!rn)
		return 0;
	backend = q.ip.daddr;
	if (icmp_quote_rewrite(skb, &q, true, rn->vip, rn->port))
		return -1;
	/* the error came from the backend itself: make it come from the frontend */
	if (p->saddr == backend && icmp_outer_addr(skb, p, false, rn->vip))
		return -1;
	return 0;
}

#endif
