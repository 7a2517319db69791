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

/*
 * Returns 0 when translated or not ours, -1 when a rewrite failed.
 * The quoted packet is the client's as it left after DNAT: client -> backend.
 */
static __always_inline int icmp_rev_nat(struct __sk_buff *skb,
					const struct pkt4 *p)
{
	__u32 icmp_off = p->l4_off, in_ip = icmp_off + sizeof(struct icmphdr);
	__u32 icmp_csum = icmp_off + ICMP_CSUM_OFF;
	__u32 in_l4, in_l4_csum;
	struct berth_ct_key key = { .dir = BERTH_CT_EGRESS };
	struct berth_rev_nat *rn;
	struct berth_ct_val *ct_val;
	struct icmphdr icmp;
	struct iphdr in;
	__be16 ports[2];
	__u16 old16, new16;
	__u32 vip;

	if (p->frag || bpf_skb_load_bytes(skb, icmp_off, &icmp, sizeof(icmp)))
		return 0;
	if (!icmp_is_error(icmp.type))
		return 0;
	if (bpf_skb_load_bytes(skb, in_ip, &in, sizeof(in)) || in.ihl < 5)
		return 0;
	in_l4 = in_ip + in.ihl * 4;
	if (in.protocol != IPPROTO_TCP && in.protocol != IPPROTO_UDP)
		return 0;
	if (bpf_skb_load_bytes(skb, in_l4, ports, sizeof(ports)))
		return 0;
	key.saddr = in.saddr;
	key.daddr = in.daddr;
	key.sport = ports[0];
	key.dport = ports[1];
	key.proto = in.protocol;
	ct_val = bpf_map_lookup_elem(&ct, &key);
	if (!ct_val)
		return 0;
	rn = bpf_map_lookup_elem(&rev_nat, &ct_val->rev_nat_id);
	if (!rn)
		return 0;
	vip = rn->vip;

	/* inner L4 checksum, when quoted: covers daddr (pseudo header) and dport */
	in_l4_csum = in_l4 +
		     (in.protocol == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
	if (!bpf_skb_load_bytes(skb, in_l4_csum, &old16, 2) &&
	    (old16 || in.protocol == IPPROTO_TCP)) {
		new16 = csum_replace4(old16, in.daddr, vip);
		new16 = csum_replace2(new16, ports[1], rn->port);
		if (in.protocol == IPPROTO_UDP && !new16)
			new16 = 0xffff;
		if (icmp_store16(skb, icmp_csum, in_l4_csum, old16, new16))
			return -1;
	}
	/* inner destination port */
	if (icmp_store16(skb, icmp_csum, in_l4 + 2, ports[1], rn->port))
		return -1;
	/* inner IP checksum, then the inner destination address */
	new16 = csum_replace4(in.check, in.daddr, vip);
	if (icmp_store16(skb, icmp_csum, in_ip + IP_CSUM_OFF, in.check, new16))
		return -1;
	if (in.daddr != vip) {
		if (bpf_l4_csum_replace(skb, icmp_csum, in.daddr, vip, 4) ||
		    bpf_skb_store_bytes(skb, in_ip + IP_DADDR_OFF, &vip, 4, 0))
			return -1;
	}
	/* the error came from the backend itself: make it come from the frontend */
	if (p->saddr == in.daddr) {
		if (bpf_l3_csum_replace(skb, ETH_HLEN + IP_CSUM_OFF, p->saddr,
					vip, 4) ||
		    bpf_skb_store_bytes(skb, ETH_HLEN + IP_SADDR_OFF, &vip, 4,
					0))
			return -1;
	}
	return 0;
}

#endif
