/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Test frames for the BPF tests: Ethernet + IPv4 (with options and fragment
 * bits when asked) + TCP/UDP/ICMP, checksums from include/berth/csum.h, and
 * a reader for the frames the programs hand back.
 */
#ifndef BERTH_TEST_PKT_H
#define BERTH_TEST_PKT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 2048
#define PKT_ETH_LEN 14
#define PKT_ETH_P_IP 0x0800
#define PKT_ETH_P_ARP 0x0806
#define PKT_ETH_P_IPV6 0x86dd

#define PKT_IP_MF 0x2000
#define PKT_IP_DF 0x4000

#define PKT_TCP_FIN 0x01
#define PKT_TCP_SYN 0x02
#define PKT_TCP_RST 0x04
#define PKT_TCP_PSH 0x08
#define PKT_TCP_ACK 0x10

/* The MACs every test frame carries unless a test says otherwise. */
extern const uint8_t pkt_client_mac[6];
extern const uint8_t pkt_host_mac[6];

/* An IPv4 address in network order. */
static inline uint32_t ip4(uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	uint8_t x[4] = { a, b, c, d };
	uint32_t v;

	__builtin_memcpy(&v, x, 4);
	return v;
}

/* What to build. Numbers are host order except addresses. */
struct pkt_spec {
	const uint8_t *smac; /* NULL: pkt_client_mac */
	const uint8_t *dmac; /* NULL: pkt_host_mac */
	uint32_t saddr;
	uint32_t daddr;
	uint8_t proto; /* IPPROTO_TCP, _UDP, _ICMP; other: payload is the L4 */
	uint8_t ttl; /* 0: 64 */
	uint16_t ip_id;
	uint16_t frag_off; /* flags and offset as in the header */
	const void *ip_opts; /* padded by the caller to a multiple of 4 */
	size_t ip_opts_len;
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_flags;
	uint32_t seq;
	uint32_t ack;
	const void *tcp_opts; /* a multiple of 4 */
	size_t tcp_opts_len;
	bool udp_no_csum; /* leave the UDP checksum 0 ("none") */
	uint8_t icmp_type;
	uint8_t icmp_code;
	uint32_t icmp_rest; /* bytes 4-7 of the ICMP header, host order */
	const void *payload; /* after the L4 header */
	size_t payload_len;
};

/* Write the frame into buf (at least PKT_MAX). Returns its length. */
size_t pkt_build(uint8_t *buf, const struct pkt_spec *s);

/* A frame of another ethertype: Ethernet header then len bytes of filler. */
size_t pkt_build_l2(uint8_t *buf, uint16_t ethertype, size_t len);

/* What a frame holds, read back from the bytes. */
struct pkt_view {
	uint16_t ethertype;
	size_t l3; /* offsets from the frame start */
	size_t l4;
	uint8_t ihl; /* bytes */
	uint16_t tot_len;
	uint8_t proto;
	uint32_t saddr; /* network order */
	uint32_t daddr;
	uint16_t sport;
	uint16_t dport;
	uint8_t tcp_doff; /* bytes */
	uint8_t tcp_flags;
	uint32_t seq;
	uint32_t ack;
	uint16_t l4_csum; /* TCP/UDP/ICMP checksum field */
	uint8_t icmp_type;
	uint8_t icmp_code;
};

/* Parse an Ethernet + IPv4 frame. Returns 0 or -EINVAL. */
int pkt_parse(const uint8_t *buf, size_t len, struct pkt_view *v);

/*
 * Check every checksum of the IPv4 packet in the frame (the header, and the
 * L4 over the pseudo header) with the independent routines. Returns NULL
 * when all are right, otherwise which one is wrong.
 */
const char *pkt_csum_error(const uint8_t *buf, size_t len);

uint16_t pkt_get16(const uint8_t *p);
uint32_t pkt_get32(const uint8_t *p);
void pkt_put16(uint8_t *p, uint16_t v);

/* "a.b.c.d" of a network-order address, in a static ring of buffers. */
const char *pkt_ntoa(uint32_t addr);

#endif
