/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Answer a packet to a Service without endpoints the way kube-proxy's REJECT
 * does: TCP gets a RST, UDP an ICMP port unreachable. The reply is built in
 * the packet itself and sent back out the device it came in on.
 */
#ifndef BERTH_BPF_REJECT_H
#define BERTH_BPF_REJECT_H

#include "csum.h"
#include "parse.h"

static __always_inline int swap_macs(struct __sk_buff *skb)
{
	__u8 mac[2 * ETH_ALEN], swapped[2 * ETH_ALEN];

	if (bpf_skb_load_bytes(skb, 0, mac, sizeof(mac)))
		return -1;
	__builtin_memcpy(swapped, mac + ETH_ALEN, ETH_ALEN);
	__builtin_memcpy(swapped + ETH_ALEN, mac, ETH_ALEN);
	return bpf_skb_store_bytes(skb, 0, swapped, sizeof(swapped), 0);
}

/*
 * The RST is the client's segment turned around in place: same length, the
 * old options and payload kept as (ignored) data behind a 20-byte header.
 * The pseudo header sum does not change when addresses and ports swap, so
 * the checksum is updated by the header's difference alone, which
 * bpf_l4_csum_replace applies correctly for any skb checksum state.
 */
static __always_inline int reject_tcp(struct __sk_buff *skb,
				      const struct pkt4 *p)
{
	struct tcphdr old, new;
	__u8 *oldb = (__u8 *)&old, *newb = (__u8 *)&new;
	__be32 addrs[2];
	__u32 payload, seq;
	__s64 diff;

	if (p->tcp_flags & TCP_FLAG_RST)
		return -1; /* never answer a RST */
	if (bpf_skb_load_bytes(skb, p->l4_off, &old, sizeof(old)))
		return -1;
	payload = p->tot_len - p->ihl * 4 - old.doff * 4;
	new = old;
	new.source = old.dest;
	new.dest = old.source;
	new.window = 0;
	new.urg_ptr = 0;
	newb[12] = 5 << 4; /* doff 5 */
	if (oldb[13] & TCP_FLAG_ACK) {
		new.seq = old.ack_seq;
		new.ack_seq = 0;
		newb[13] = TCP_FLAG_RST;
	} else {
		seq = bpf_ntohl(old.seq) + payload;
		if (oldb[13] & TCP_FLAG_SYN)
			seq++;
		if (oldb[13] & TCP_FLAG_FIN)
			seq++;
		new.seq = 0;
		new.ack_seq = bpf_htonl(seq);
		newb[13] = TCP_FLAG_RST | TCP_FLAG_ACK;
	}
	diff = bpf_csum_diff((__be32 *)&old, sizeof(old), (__be32 *)&new,
			     sizeof(new), 0);
	/* header first: it carries the old checksum the diff applies to */
	if (diff < 0 ||
	    bpf_skb_store_bytes(skb, p->l4_off, &new, sizeof(new), 0))
		return -1;
	if (bpf_l4_csum_replace(skb, l4_csum_off(p), 0, diff, 0))
		return -1;
	/* swapping addresses leaves the IP checksum as it is */
	addrs[0] = p->daddr;
	addrs[1] = p->saddr;
	if (bpf_skb_store_bytes(skb, ETH_HLEN + IP_SADDR_OFF, addrs,
				sizeof(addrs), 0))
		return -1;
	return swap_macs(skb);
}

/* ICMP payload: the offending IP header (with options) and 8 bytes of it. */
#define REJECT_ICMP_QUOTE_MAX (60 + 8)

static __always_inline int reject_udp(struct __sk_buff *skb,
				      const struct pkt4 *p)
{
	__u8 quote[REJECT_ICMP_QUOTE_MAX];
	struct icmphdr icmp = {
		.type = ICMP_DEST_UNREACH,
		.code = ICMP_PORT_UNREACH,
	};
	struct iphdr ip = {
		.version = 4,
		.ihl = 5,
		.frag_off = bpf_htons(IP_DF),
		.ttl = 64,
		.protocol = IPPROTO_ICMP,
		.saddr = p->daddr,
		.daddr = p->saddr,
	};
	__u32 qlen = p->ihl * 4 + 8;
	__s64 sum;

	if (qlen < 28 || qlen > REJECT_ICMP_QUOTE_MAX)
		return -1;
	__builtin_memset(quote, 0, sizeof(quote));
	if (bpf_skb_load_bytes(skb, ETH_HLEN, quote, qlen))
		return -1;
	if (swap_macs(skb))
		return -1;
	if (bpf_skb_change_tail(skb,
				ETH_HLEN + sizeof(ip) + sizeof(icmp) + qlen, 0))
		return -1;
	ip.tot_len = bpf_htons(sizeof(ip) + sizeof(icmp) + qlen);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&ip, sizeof(ip), 0);
	if (sum < 0)
		return -1;
	ip.check = csum_fold32(sum);
	sum = bpf_csum_diff(NULL, 0, (__be32 *)&icmp, sizeof(icmp), 0);
	if (sum < 0)
		return -1;
	sum = bpf_csum_diff(NULL, 0, (__be32 *)quote, qlen, sum);
	if (sum < 0)
		return -1;
	icmp.checksum = csum_fold32(sum);
	if (bpf_skb_store_bytes(skb, ETH_HLEN, &ip, sizeof(ip), 0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(ip), &icmp, sizeof(icmp),
				0) ||
	    bpf_skb_store_bytes(skb, ETH_HLEN + sizeof(ip) + sizeof(icmp),
				quote, qlen, 0))
		return -1;
	return 0;
}

/* Turn the packet into its rejection and send it back where it came from. */
static __always_inline int reject(struct __sk_buff *skb, const struct pkt4 *p)
{
	int err = p->proto == IPPROTO_TCP ? reject_tcp(skb, p) :
					    reject_udp(skb, p);

	if (err)
		return -1;
	return bpf_redirect(skb->ifindex, 0);
}

#endif
