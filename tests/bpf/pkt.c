// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Test frames built byte by byte, checksums from the independent routines
 * of userspace/lib/csum.c, so a test never trusts the BPF side's arithmetic.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <berth/csum.h>

#include "pkt.h"

#define IP_HDR_LEN 20
#define TCP_HDR_LEN 20
#define UDP_HDR_LEN 8
#define ICMP_HDR_LEN 8
#define TCP_WINDOW 64240

const uint8_t pkt_client_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x01 };
const uint8_t pkt_host_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0xfe };

uint16_t pkt_get16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

uint32_t pkt_get32(const uint8_t *p)
{
	return (uint32_t)pkt_get16(p) << 16 | pkt_get16(p + 2);
}

void pkt_put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void put32(uint8_t *p, uint32_t v)
{
	pkt_put16(p, v >> 16);
	pkt_put16(p + 2, v);
}

static size_t put_eth(uint8_t *buf, const uint8_t *dmac, const uint8_t *smac,
		      uint16_t ethertype)
{
	memcpy(buf, dmac ? dmac : pkt_host_mac, 6);
	memcpy(buf + 6, smac ? smac : pkt_client_mac, 6);
	pkt_put16(buf + 12, ethertype);
	return PKT_ETH_LEN;
}

/* The L4 header and payload at l4; returns their length. */
static size_t put_l4(uint8_t *l4, const struct pkt_spec *s)
{
	size_t hlen;

	switch (s->proto) {
	case IPPROTO_TCP:
		hlen = TCP_HDR_LEN + s->tcp_opts_len;
		pkt_put16(l4, s->sport);
		pkt_put16(l4 + 2, s->dport);
		put32(l4 + 4, s->seq);
		put32(l4 + 8, s->ack);
		l4[12] = (hlen / 4) << 4;
		l4[13] = s->tcp_flags;
		pkt_put16(l4 + 14, TCP_WINDOW);
		memset(l4 + 16, 0, 4); /* checksum, urgent pointer */
		if (s->tcp_opts_len)
			memcpy(l4 + TCP_HDR_LEN, s->tcp_opts, s->tcp_opts_len);
		break;
	case IPPROTO_UDP:
		hlen = UDP_HDR_LEN;
		pkt_put16(l4, s->sport);
		pkt_put16(l4 + 2, s->dport);
		pkt_put16(l4 + 4, hlen + s->payload_len);
		pkt_put16(l4 + 6, 0);
		break;
	case IPPROTO_ICMP:
		hlen = ICMP_HDR_LEN;
		l4[0] = s->icmp_type;
		l4[1] = s->icmp_code;
		pkt_put16(l4 + 2, 0);
		put32(l4 + 4, s->icmp_rest);
		break;
	default:
		hlen = 0;
	}
	if (s->payload_len)
		memcpy(l4 + hlen, s->payload, s->payload_len);
	return hlen + s->payload_len;
}

static void put_l4_csum(uint8_t *l4, size_t len, const struct pkt_spec *s)
{
	uint16_t c;

	switch (s->proto) {
	case IPPROTO_TCP:
		c = berth_csum_ipv4_l4(s->saddr, s->daddr, s->proto, l4, len);
		pkt_put16(l4 + 16, c);
		break;
	case IPPROTO_UDP:
		if (s->udp_no_csum)
			break;
		c = berth_csum_ipv4_l4(s->saddr, s->daddr, s->proto, l4, len);
		pkt_put16(l4 + 6, c ? c : 0xffff);
		break;
	case IPPROTO_ICMP:
		pkt_put16(l4 + 2, berth_csum(l4, len));
		break;
	}
}

size_t pkt_build(uint8_t *buf, const struct pkt_spec *s)
{
	size_t ihl = IP_HDR_LEN + s->ip_opts_len, l4len;
	uint8_t *ip = buf + PKT_ETH_LEN, *l4 = ip + ihl;

	put_eth(buf, s->dmac, s->smac, PKT_ETH_P_IP);
	l4len = put_l4(l4, s);
	ip[0] = 0x40 | ihl / 4;
	ip[1] = 0;
	pkt_put16(ip + 2, ihl + l4len);
	pkt_put16(ip + 4, s->ip_id);
	pkt_put16(ip + 6, s->frag_off);
	ip[8] = s->ttl ? s->ttl : 64;
	ip[9] = s->proto;
	pkt_put16(ip + 10, 0);
	memcpy(ip + 12, &s->saddr, 4);
	memcpy(ip + 16, &s->daddr, 4);
	if (s->ip_opts_len)
		memcpy(ip + IP_HDR_LEN, s->ip_opts, s->ip_opts_len);
	pkt_put16(ip + 10, berth_csum(ip, ihl));
	put_l4_csum(l4, l4len, s);
	return PKT_ETH_LEN + ihl + l4len;
}

size_t pkt_build_l2(uint8_t *buf, uint16_t ethertype, size_t len)
{
	size_t i, off = put_eth(buf, NULL, NULL, ethertype);

	for (i = 0; i < len; i++)
		buf[off + i] = 0x60 + i;
	return off + len;
}

int pkt_parse(const uint8_t *buf, size_t len, struct pkt_view *v)
{
	const uint8_t *ip = buf + PKT_ETH_LEN, *l4;

	memset(v, 0, sizeof(*v));
	if (len < PKT_ETH_LEN + IP_HDR_LEN)
		return -EINVAL;
	v->ethertype = pkt_get16(buf + 12);
	v->l3 = PKT_ETH_LEN;
	v->ihl = (ip[0] & 0xf) * 4;
	v->tot_len = pkt_get16(ip + 2);
	v->proto = ip[9];
	memcpy(&v->saddr, ip + 12, 4);
	memcpy(&v->daddr, ip + 16, 4);
	v->l4 = v->l3 + v->ihl;
	if (v->ethertype != PKT_ETH_P_IP || ip[0] >> 4 != 4 ||
	    v->ihl < IP_HDR_LEN || v->l4 + 8 > len)
		return -EINVAL;
	l4 = buf + v->l4;
	switch (v->proto) {
	case IPPROTO_TCP:
		if (v->l4 + TCP_HDR_LEN > len)
			return -EINVAL;
		v->sport = pkt_get16(l4);
		v->dport = pkt_get16(l4 + 2);
		v->seq = pkt_get32(l4 + 4);
		v->ack = pkt_get32(l4 + 8);
		v->tcp_doff = (l4[12] >> 4) * 4;
		v->tcp_flags = l4[13];
		v->l4_csum = pkt_get16(l4 + 16);
		break;
	case IPPROTO_UDP:
		v->sport = pkt_get16(l4);
		v->dport = pkt_get16(l4 + 2);
		v->l4_csum = pkt_get16(l4 + 6);
		break;
	case IPPROTO_ICMP:
		v->icmp_type = l4[0];
		v->icmp_code = l4[1];
		v->l4_csum = pkt_get16(l4 + 2);
		break;
	}
	return 0;
}

const char *pkt_csum_error(const uint8_t *buf, size_t len)
{
	const char *why = NULL;

	if (berth_pkt_verify(buf, len, PKT_ETH_LEN, &why))
		return why ? why : "unknown";
	return NULL;
}

const char *pkt_ntoa(uint32_t addr)
{
	static char ring[8][16];
	static unsigned int next;
	const uint8_t *b = (const uint8_t *)&addr;
	char *s = ring[next++ % 8];

	snprintf(s, 16, "%u.%u.%u.%u", b[0], b[1], b[2], b[3]);
	return s;
}
