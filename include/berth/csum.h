/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Internet checksums (RFC 1071, RFC 1624) written apart from the BPF side,
 * so tests can check what the programs write; and test packet builders.
 */
#ifndef BERTH_CSUM_H
#define BERTH_CSUM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * Byte order: data is summed as big-endian 16-bit words, as on the wire, and
 * every 16-bit checksum or field value taken or returned is a host-order
 * number: a checksum of 0x220d is stored as the bytes 22 0d (htons), and an
 * old/new value is ntohs()/ntohl() of the field. The one's complement sum
 * commutes with byte swapping, so the update functions give the right bytes
 * as well when every argument is the raw network-order value instead.
 */

/*
 * One's complement sum of data added to sum, folded to 16 bits and not
 * complemented. An odd length is padded with a zero byte, so when chaining
 * calls every piece but the last must have an even length.
 */
uint32_t berth_csum_partial(const void *data, size_t len, uint32_t sum);

/* Fold a 32-bit one's complement sum to 16 bits and complement it. */
uint16_t berth_csum_fold(uint32_t sum);

/*
 * RFC 1071 checksum of data: berth_csum_fold(berth_csum_partial(data)).
 * Over data holding a correct checksum field it is 0.
 */
uint16_t berth_csum(const void *data, size_t len);

/*
 * TCP or UDP checksum over the IPv4 pseudo header (saddr, daddr in network
 * order, proto, len) and the segment l4[0..len) with its checksum field as
 * it is: the folded complement of the sum. With the field zeroed, this is
 * the checksum to store (for UDP, store 0xffff when it is 0: 0 means none);
 * over a segment with a correct checksum it is 0. len must be <= 65535.
 */
uint16_t berth_csum_ipv4_l4(uint32_t saddr, uint32_t daddr, uint8_t proto,
			    const void *l4, size_t len);

/*
 * RFC 1624 eqn. 3: the checksum after a 16-bit field changes from old_val
 * to new_val, HC' = ~(~HC + ~m + m'). Equal to a full recomputation, also
 * where eqn. 2 would give 0xffff for 0; the one exception is data that
 * becomes all zeros (0 here, 0xffff recomputed), which no IPv4 header or
 * pseudo-header-covered segment can be.
 */
uint16_t berth_csum_update16(uint16_t old_csum, uint16_t old_val,
			     uint16_t new_val);
/* The same for a 32-bit field (an address): both halves at once. */
uint16_t berth_csum_update32(uint16_t old_csum, uint32_t old_val,
			     uint32_t new_val);

/* Test packets: optional Ethernet, IPv4 without options, then L4. */
#define BERTH_PKT_ETH_LEN 14
#define BERTH_PKT_IP_LEN 20
#define BERTH_PKT_TCP_LEN 20 /* no options */
#define BERTH_PKT_UDP_LEN 8

struct berth_pkt {
	bool eth; /* start with an Ethernet header (ethertype IPv4) */
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint32_t saddr; /* network order */
	uint32_t daddr; /* network order */
	/*
	 * IPPROTO_TCP or IPPROTO_UDP: a header from the fields below, then
	 * the payload. IPPROTO_ICMP: the payload is the whole ICMP message
	 * and its checksum (bytes 2-3) is filled in. Others: the payload is
	 * the whole L4 as given.
	 */
	uint8_t proto;
	uint8_t ttl; /* 0: 64 */
	uint16_t ip_id; /* host order */
	uint16_t sport; /* host order */
	uint16_t dport; /* host order */
	uint8_t tcp_flags; /* TCP flag byte: FIN 0x01, SYN 0x02, RST 0x04, ACK 0x10 */
	uint32_t seq; /* host order */
	uint32_t ack_seq; /* host order */
	const void *payload;
	size_t payload_len;
};

/* Offset of the IPv4 header in a packet built from p. */
static inline size_t berth_pkt_l3_off(const struct berth_pkt *p)
{
	return p->eth ? BERTH_PKT_ETH_LEN : 0;
}

/* Offset of the L4 header in a packet built from p. */
static inline size_t berth_pkt_l4_off(const struct berth_pkt *p)
{
	return berth_pkt_l3_off(p) + BERTH_PKT_IP_LEN;
}

/*
 * Write the packet p describes into buf[0..cap) with every checksum right.
 * Returns its length, or 0 if it does not fit in cap or in an IPv4 packet.
 */
size_t berth_pkt_build(void *buf, size_t cap, const struct berth_pkt *p);

/*
 * Check the checksums of the IPv4 packet at buf + l3_off: the header, and
 * for TCP, UDP (0: none, accepted) and ICMP the L4 over the IP total length
 * (not for fragments). Returns 0, -EBADMSG if a checksum is wrong or
 * -EINVAL if the packet is malformed; *why (if why) then says which.
 */
int berth_pkt_verify(const void *buf, size_t len, size_t l3_off,
		     const char **why);

#endif
