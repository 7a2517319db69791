// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Internet checksums done the plain way, bytes in and numbers out, so tests
 * compare the BPF programs' incremental updates against an independent sum.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <berth/csum.h>

/* Offsets in the headers, as in RFC 791, 793 and 768. */
#define ETH_TYPE_OFF 12
#define ETH_TYPE_IPV4 0x0800
#define IP_TOT_LEN_OFF 2
#define IP_ID_OFF 4
#define IP_FRAG_OFF 6
#define IP_FRAG_MF 0x2000
#define IP_FRAG_MASK 0x1fff
#define IP_TTL_OFF 8
#define IP_PROTO_OFF 9
#define IP_CSUM_OFF 10
#define IP_SADDR_OFF 12
#define IP_DADDR_OFF 16
#define IP_TTL_DEFAULT 64
#define TCP_SEQ_OFF 4
#define TCP_ACK_OFF 8
#define TCP_DOFF_OFF 12
#define TCP_FLAGS_OFF 13
#define TCP_WINDOW_OFF 14
#define TCP_CSUM_OFF 16
#define TCP_WINDOW 65535
#define UDP_LEN_OFF 4
#define UDP_CSUM_OFF 6
#define ICMP_CSUM_OFF 2
#define IP_MAX_LEN 65535

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v);
}

static uint16_t get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

/* End-around carry until the sum fits 16 bits. */
static uint32_t fold16(uint64_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return sum;
}

uint32_t berth_csum_partial(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;
	uint64_t acc = sum;
	size_t i;

	/* 64 bits cannot overflow for any length a buffer can have */
	for (i = 0; i + 1 < len; i += 2)
		acc += get16(p + i);
	if (len & 1)
		acc += (uint32_t)p[len - 1] << 8;
	return fold16(acc);
}

uint16_t berth_csum_fold(uint32_t sum)
{
	return ~fold16(sum);
}

uint16_t berth_csum(const void *data, size_t len)
{
	return berth_csum_fold(berth_csum_partial(data, len, 0));
}

uint16_t berth_csum_ipv4_l4(uint32_t saddr, uint32_t daddr, uint8_t proto,
			    const void *l4, size_t len)
{
	uint8_t pseudo[12];

	memcpy(pseudo, &saddr, 4);
	memcpy(pseudo + 4, &daddr, 4);
	pseudo[8] = 0;
	pseudo[9] = proto;
	put16(pseudo + 10, len);
	return berth_csum_fold(
		berth_csum_partial(l4, len, berth_csum_partial(pseudo, 12, 0)));
}

uint16_t berth_csum_update16(uint16_t old_csum, uint16_t old_val,
			     uint16_t new_val)
{
	uint32_t sum = (uint16_t)~old_csum + (uint16_t)~old_val + new_val;

	return berth_csum_fold(sum);
}

uint16_t berth_csum_update32(uint16_t old_csum, uint32_t old_val,
			     uint32_t new_val)
{
	uint32_t sum = (uint16_t)~old_csum;

	sum += (uint16_t) ~(old_val >> 16) + (uint16_t)~old_val;
	sum += (new_val >> 16) + (new_val & 0xffff);
	return berth_csum_fold(sum);
}

static size_t l4_header_len(uint8_t proto)
{
	if (proto == IPPROTO_TCP)
		return BERTH_PKT_TCP_LEN;
	if (proto == IPPROTO_UDP)
		return BERTH_PKT_UDP_LEN;
	return 0;
}

size_t berth_pkt_build(void *buf, size_t cap, const struct berth_pkt *p)
{
	size_t hlen = l4_header_len(p->proto), l3 = berth_pkt_l3_off(p);
	size_t l4len = hlen + p->payload_len,
	       total = l3 + BERTH_PKT_IP_LEN + l4len;
	uint8_t *b = buf, *ip = b + l3, *l4 = ip + BERTH_PKT_IP_LEN;
	uint16_t csum;

	if (p->payload_len > IP_MAX_LEN ||
	    BERTH_PKT_IP_LEN + l4len > IP_MAX_LEN || total > cap)
		return 0;
	memset(b, 0, l3 + BERTH_PKT_IP_LEN + hlen);
	if (p->eth) {
		memcpy(b, p->dst_mac, 6);
		memcpy(b + 6, p->src_mac, 6);
		put16(b + ETH_TYPE_OFF, ETH_TYPE_IPV4);
	}
	ip[0] = 0x45; /* version 4, 5 words: no options */
	put16(ip + IP_TOT_LEN_OFF, BERTH_PKT_IP_LEN + l4len);
	put16(ip + IP_ID_OFF, p->ip_id);
	ip[IP_TTL_OFF] = p->ttl ? p->ttl : IP_TTL_DEFAULT;
	ip[IP_PROTO_OFF] = p->proto;
	memcpy(ip + IP_SADDR_OFF, &p->saddr, 4);
	memcpy(ip + IP_DADDR_OFF, &p->daddr, 4);
	put16(ip + IP_CSUM_OFF, berth_csum(ip, BERTH_PKT_IP_LEN));

	if (hlen) {
		put16(l4, p->sport);
		put16(l4 + 2, p->dport);
	}
	if (p->payload_len)
		memcpy(l4 + hlen, p->payload, p->payload_len);
	if (p->proto == IPPROTO_TCP) {
		put32(l4 + TCP_SEQ_OFF, p->seq);
		put32(l4 + TCP_ACK_OFF, p->ack_seq);
		l4[TCP_DOFF_OFF] = (BERTH_PKT_TCP_LEN / 4) << 4;
		l4[TCP_FLAGS_OFF] = p->tcp_flags;
		put16(l4 + TCP_WINDOW_OFF, TCP_WINDOW);
		csum = berth_csum_ipv4_l4(p->saddr, p->daddr, p->proto, l4,
					  l4len);
		put16(l4 + TCP_CSUM_OFF, csum);
	} else if (p->proto == IPPROTO_UDP) {
		put16(l4 + UDP_LEN_OFF, l4len);
		csum = berth_csum_ipv4_l4(p->saddr, p->daddr, p->proto, l4,
					  l4len);
		/* 0 on the wire means "no checksum"; -0 is the same sum */
		put16(l4 + UDP_CSUM_OFF, csum ? csum : 0xffff);
	} else if (p->proto == IPPROTO_ICMP && l4len >= ICMP_CSUM_OFF + 2) {
		put16(l4 + ICMP_CSUM_OFF, 0);
		put16(l4 + ICMP_CSUM_OFF, berth_csum(l4, l4len));
	}
	return total;
}

static int bad(const char **why, int err, const char *what)
{
	if (why)
		*why = what;
	return err;
}

int berth_pkt_verify(const void *buf, size_t len, size_t l3_off,
		     const char **why)
{
	const uint8_t *ip = (const uint8_t *)buf + l3_off, *l4;
	size_t ihl, tot, l4len;
	uint32_t saddr, daddr;
	uint16_t frag;
	uint8_t proto;

	if (l3_off > len || len - l3_off < BERTH_PKT_IP_LEN)
		return bad(why, -EINVAL, "truncated IPv4 header");
	ihl = (ip[0] & 0xf) * 4;
	tot = get16(ip + IP_TOT_LEN_OFF);
	if (ip[0] >> 4 != 4 || ihl < BERTH_PKT_IP_LEN)
		return bad(why, -EINVAL, "not an IPv4 header");
	if (tot < ihl || tot > len - l3_off)
		return bad(why, -EINVAL, "IPv4 total length");
	if (berth_csum(ip, ihl))
		return bad(why, -EBADMSG, "IPv4 header checksum");
	frag = get16(ip + IP_FRAG_OFF);
	if (frag & (IP_FRAG_MF | IP_FRAG_MASK))
		return bad(why, 0, "fragment: header only");

	proto = ip[IP_PROTO_OFF];
	l4 = ip + ihl;
	l4len = tot - ihl;
	memcpy(&saddr, ip + IP_SADDR_OFF, 4);
	memcpy(&daddr, ip + IP_DADDR_OFF, 4);
	switch (proto) {
	case IPPROTO_TCP:
		if (l4len < BERTH_PKT_TCP_LEN)
			return bad(why, -EINVAL, "truncated TCP header");
		if (berth_csum_ipv4_l4(saddr, daddr, proto, l4, l4len))
			return bad(why, -EBADMSG, "TCP checksum");
		break;
	case IPPROTO_UDP:
		if (l4len < BERTH_PKT_UDP_LEN)
			return bad(why, -EINVAL, "truncated UDP header");
		if (get16(l4 + UDP_LEN_OFF) != l4len)
			return bad(why, -EINVAL, "UDP length");
		if (get16(l4 + UDP_CSUM_OFF) &&
		    berth_csum_ipv4_l4(saddr, daddr, proto, l4, l4len))
			return bad(why, -EBADMSG, "UDP checksum");
		break;
	case IPPROTO_ICMP:
		if (berth_csum(l4, l4len))
			return bad(why, -EBADMSG, "ICMP checksum");
		break;
	}
	return bad(why, 0, "ok");
}
