/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* IPv4 header parsing into a flat view the other modules share. */
#ifndef BERTH_BPF_PARSE_H
#define BERTH_BPF_PARSE_H

#include "consts.h"

struct pkt4 {
	__be32 saddr;
	__be32 daddr;
	__be16 sport; /* 0 when the packet carries no ports */
	__be16 dport;
	__u32 l4_off; /* from the start of the frame */
	__u16 tot_len; /* IP total length, host order */
	__u8 proto;
	__u8 ihl; /* IP header words */
	__u8 tcp_flags;
	__u8 frag; /* any fragment: MF set or offset != 0 */
	__u8 later_frag; /* offset != 0: no L4 header here */
};

enum {
	PARSE_OK = 0,
	PARSE_SKIP = 1, /* not IPv4: none of our business */
	PARSE_INVALID = -1, /* IPv4 but truncated or malformed */
};

/*
 * Load skb->data / data_end with an explicit instruction: clang otherwise
 * hoists the field address into a register, and the verifier refuses
 * context accesses through a modified pointer.
 */
static __always_inline void *skb_data(const struct __sk_buff *skb)
{
	void *ptr;

	asm volatile("%0 = *(u32 *)(%1 + %2)"
		     : "=r"(ptr)
		     : "r"(skb), "i"(offsetof(struct __sk_buff, data)));
	return ptr;
}

static __always_inline void *skb_data_end(const struct __sk_buff *skb)
{
	void *ptr;

	asm volatile("%0 = *(u32 *)(%1 + %2)"
		     : "=r"(ptr)
		     : "r"(skb), "i"(offsetof(struct __sk_buff, data_end)));
	return ptr;
}

/* Make sure the first len bytes are in the linear area, if the packet has them. */
static __always_inline void pull_headers(struct __sk_buff *skb, __u32 len)
{
	if (skb_data(skb) + len <= skb_data_end(skb))
		return;
	if (len > skb->len)
		len = skb->len;
	bpf_skb_pull_data(skb, len);
}

/*
 * Parse the IPv4 packet at ip (the frame's byte ETH_HLEN) up to end: the
 * part tc and XDP share. Offsets in p count from the frame's start.
 */
static __always_inline int parse_ipv4_hdr(struct iphdr *ip, void *end,
					  struct pkt4 *p)
{
	__u8 *l4;
	__u32 ihl;

	if ((void *)(ip + 1) > end)
		return PARSE_INVALID;
	ihl = ip->ihl;
	if (ip->version != 4 || ihl < 5)
		return PARSE_INVALID;
	p->saddr = ip->saddr;
	p->daddr = ip->daddr;
	p->proto = ip->protocol;
	p->ihl = ihl;
	p->tot_len = bpf_ntohs(ip->tot_len);
	p->l4_off = ETH_HLEN + ihl * 4;
	p->frag = (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) != 0;
	p->later_frag = (ip->frag_off & bpf_htons(IP_OFFSET)) != 0;
	p->sport = 0;
	p->dport = 0;
	p->tcp_flags = 0;
	if (p->tot_len < ihl * 4)
		return PARSE_INVALID;
	if (p->later_frag)
		return PARSE_OK;

	l4 = (__u8 *)ip + ihl * 4;
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = (void *)l4;

		if ((void *)(th + 1) > end)
			return PARSE_INVALID;
		p->sport = th->source;
		p->dport = th->dest;
		p->tcp_flags = ((__u8 *)th)[13];
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = (void *)l4;

		if ((void *)(uh + 1) > end)
			return PARSE_INVALID;
		p->sport = uh->source;
		p->dport = uh->dest;
	}
	return PARSE_OK;
}

static __always_inline int parse_ipv4(struct __sk_buff *skb, struct pkt4 *p)
{
	if (skb->protocol != bpf_htons(ETH_P_IP))
		return PARSE_SKIP;
	pull_headers(skb, ETH_HLEN + 60 + sizeof(struct tcphdr));
	return parse_ipv4_hdr(skb_data(skb) + ETH_HLEN, skb_data_end(skb), p);
}

/* TCP or UDP with its ports: the packets NAT and load balancing handle. */
static __always_inline bool pkt_has_ports(const struct pkt4 *p)
{
	return (p->proto == IPPROTO_TCP || p->proto == IPPROTO_UDP) &&
	       !p->later_frag;
}

/* A TCP segment opening a connection: SYN without ACK. */
static __always_inline bool pkt_is_syn(const struct pkt4 *p)
{
	return p->proto == IPPROTO_TCP &&
	       (p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN;
}

/* Offset of the L4 checksum field, for TCP and UDP. */
static __always_inline __u32 l4_csum_off(const struct pkt4 *p)
{
	return p->l4_off +
	       (p->proto == IPPROTO_TCP ? TCP_CSUM_OFF : UDP_CSUM_OFF);
}

#endif
