/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Rewrite one address and port of a TCP/UDP packet, keeping the IP and L4
 * checksums right whatever the skb's checksum state (the helpers handle
 * CHECKSUM_PARTIAL), and a zero UDP checksum zero.
 */
#ifndef BERTH_BPF_NAT_H
#define BERTH_BPF_NAT_H

#include "parse.h"

enum nat_dir {
	NAT_DST, /* DNAT: daddr, dport */
	NAT_SRC, /* reverse NAT: saddr, sport */
};

static __always_inline int nat_rewrite(struct __sk_buff *skb,
				       const struct pkt4 *p, enum nat_dir dir,
				       __be32 new_ip, __be16 new_port)
{
	__u32 ip_off =
		ETH_HLEN + (dir == NAT_DST ? IP_DADDR_OFF : IP_SADDR_OFF);
	/* TCP and UDP keep their ports at the same offsets */
	__u32 port_off =
		p->l4_off + (dir == NAT_DST ? L4_DPORT_OFF : L4_SPORT_OFF);
	__be32 old_ip = dir == NAT_DST ? p->daddr : p->saddr;
	__be16 old_port = dir == NAT_DST ? p->dport : p->sport;
	__u64 flags = p->proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0_FLAG : 0;
	__u32 l4_csum = l4_csum_off(p);

	if (old_ip != new_ip) {
		if (bpf_l4_csum_replace(skb, l4_csum, old_ip, new_ip,
					flags | BPF_F_PSEUDO_HDR_FLAG | 4))
			return -1;
		if (bpf_l3_csum_replace(skb, ETH_HLEN + IP_CSUM_OFF, old_ip,
					new_ip, 4))
			return -1;
		if (bpf_skb_store_bytes(skb, ip_off, &new_ip, 4, 0))
			return -1;
	}
	if (old_port != new_port) {
		if (bpf_l4_csum_replace(skb, l4_csum, old_port, new_port,
					flags | 2))
			return -1;
		if (bpf_skb_store_bytes(skb, port_off, &new_port, 2, 0))
			return -1;
	}
	return 0;
}

#endif
