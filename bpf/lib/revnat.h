/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Reverse NAT of replies to balanced flows: the backend's answer (or an ICMP
 * error about the flow) must reach the client from the frontend. One copy
 * for every path a reply can take: to_pod, from_pod, and local delivery.
 */
#ifndef BERTH_BPF_REVNAT_H
#define BERTH_BPF_REVNAT_H

#include <bpf/bpf_endian.h>

#include "icmp.h"
#include "maps.h"
#include "nat.h"
#include "parse.h"

static __always_inline __be32 hairpin_ip(void)
{
	return bpf_htonl(BERTH_HAIRPIN_IP_HOST);
}

/*
 * A pod balanced onto itself: after DNAT the packet goes from its address
 * to its address, which its kernel drops as a martian. The source becomes
 * the hairpin address, port kept, so the reply tells rev_nat_reply who the
 * client was without a state of its own. 0, or -1 when a rewrite failed.
 */
static __always_inline int hairpin_snat(struct __sk_buff *skb, struct pkt4 *p)
{
	__be32 hp = hairpin_ip();

	if (p->saddr != p->daddr)
		return 0;
	if (nat_rewrite(skb, p, NAT_SRC, hp, p->sport))
		return -1;
	p->saddr = hp;
	return 0;
}

/*
 * 1 when translated (p's source is then the frontend; a hairpin reply's
 * destination the pod again), 0 when p is no reply of a flow, -1 when a
 * rewrite failed.
 */
static __always_inline int rev_nat_reply(struct __sk_buff *skb, struct pkt4 *p)
{
	/* a reply to the hairpin address comes from its own client */
	bool hairpin = p->daddr == hairpin_ip();
	/* the reply's tuple, turned around, is the client's after DNAT */
	struct berth_ct_key key = {
		.saddr = hairpin ? p->saddr : p->daddr,
		.daddr = p->saddr,
		.sport = p->dport,
		.dport = p->sport,
		.proto = p->proto,
		.dir = BERTH_CT_EGRESS,
	};
	struct berth_rev_nat *rn;
	struct berth_ct_val *v;

	v = bpf_map_lookup_elem(&ct, &key);
	if (!v)
		return 0;
	if (!(v->flags & BERTH_CT_F_SEEN_REPLY))
		v->flags |= BERTH_CT_F_SEEN_REPLY;
	rn = bpf_map_lookup_elem(&rev_nat, &v->rev_nat_id);
	if (!rn)
		return 0;
	if (hairpin) {
		if (nat_rewrite(skb, p, NAT_DST, p->saddr, p->dport))
			return -1;
		p->daddr = p->saddr;
	}
	if (nat_rewrite(skb, p, NAT_SRC, rn->vip, rn->port))
		return -1;
	p->saddr = rn->vip;
	p->sport = rn->port;
	return 1;
}

/* Replies and ICMP errors: whichever applies to p. */
static __always_inline int rev_nat_any(struct __sk_buff *skb, struct pkt4 *p)
{
	if (p->proto == IPPROTO_ICMP)
		return icmp_rev_nat(skb, p);
	if (pkt_has_ports(p))
		return rev_nat_reply(skb, p) < 0 ? -1 : 0;
	return 0;
}

#endif
