// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The checksum library that BPF tests trust: known vectors, a naive
 * reference sum, and incremental updates against full recomputation.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <berth/csum.h>

#define SEED 0x5eed1071u
#define ROUNDS 20000

/* Packets computed by a separate (Python) implementation of RFC 1071. */
/* 10.244.1.2:40000 -> 10.96.0.10:53 UDP, id 0x1234, payload "berth" */
static const uint8_t udp_pkt[] = {
	0x45, 0x00, 0x00, 0x21, 0x12, 0x34, 0x00, 0x00, 0x40, 0x11, 0x52,
	0x39, 0x0a, 0xf4, 0x01, 0x02, 0x0a, 0x60, 0x00, 0x0a, 0x9c, 0x40,
	0x00, 0x35, 0x00, 0x0d, 0x10, 0x25, 0x62, 0x65, 0x72, 0x74, 0x68,
};
/* 192.168.0.1:12345 -> 10.96.0.10:80 TCP SYN, id 0xbeef, seq 0x01020304 */
static const uint8_t tcp_pkt[] = {
	0x45, 0x00, 0x00, 0x28, 0xbe, 0xef, 0x00, 0x00, 0x40, 0x06,
	0xf0, 0xcd, 0xc0, 0xa8, 0x00, 0x01, 0x0a, 0x60, 0x00, 0x0a,
	0x30, 0x39, 0x00, 0x50, 0x01, 0x02, 0x03, 0x04, 0x00, 0x00,
	0x00, 0x00, 0x50, 0x02, 0xff, 0xff, 0xb0, 0x40, 0x00, 0x00,
};

/* The obvious way: add one word at a time with end-around carry. */
static uint16_t ref_csum(const uint8_t *p, size_t len)
{
	uint32_t sum = 0;
	size_t i;

	for (i = 0; i < len; i += 2) {
		sum += (uint32_t)p[i] << 8 | (i + 1 < len ? p[i + 1] : 0);
		if (sum > 0xffff)
			sum -= 0xffff;
	}
	return ~sum & 0xffff;
}

static uint16_t rd16(const uint8_t *p)
{
	return p[0] << 8 | p[1];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)rd16(p) << 16 | rd16(p + 2);
}

static void wr32(uint8_t *p, uint32_t v)
{
	wr16(p, v >> 16);
	wr16(p + 2, v);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad test address %s", s);
	return a.s_addr;
}

Test(csum, rfc1071_example)
{
	uint8_t b[10] = { 0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7 };

	cr_assert_eq(berth_csum_partial(b, 8, 0), 0xddf2);
	cr_assert_eq(berth_csum(b, 8), 0x220d);
	/* the sum is the same in any word order and when split evenly */
	cr_assert_eq(berth_csum_partial(b + 4, 4, berth_csum_partial(b, 4, 0)),
		     0xddf2);
	/* with the checksum appended the whole verifies to 0 */
	wr16(b + 8, 0x220d);
	cr_assert_eq(berth_csum(b, 10), 0);
}

Test(csum, fold)
{
	cr_assert_eq(berth_csum_fold(0), 0xffff);
	cr_assert_eq(berth_csum_fold(0xffff), 0);
	cr_assert_eq(berth_csum_fold(0x1fffe), 0); /* 0xfffe + 1 */
	cr_assert_eq(berth_csum_fold(0xffffffff), 0);
	cr_assert_eq(berth_csum_fold(0x0001ddf1), 0x220d); /* ddf1 + 1 */
	cr_assert_eq(berth_csum_fold(0x12345678),
		     (uint16_t) ~(0x1234 + 0x5678));
}

Test(csum, odd_lengths)
{
	uint8_t b[301] = { 0 };
	size_t len, i;

	cr_assert_eq(berth_csum(b, 0), 0xffff);
	b[0] = 0x01;
	/* the lone byte is the high half of a zero-padded word */
	cr_assert_eq(berth_csum(b, 1), 0xfeff);
	srand(SEED);
	for (len = 0; len <= sizeof(b); len++) {
		for (i = 0; i < len; i++)
			b[i] = rand();
		cr_assert_eq(berth_csum(b, len), ref_csum(b, len),
			     "len %zu: %#x, reference %#x", len,
			     berth_csum(b, len), ref_csum(b, len));
	}
}

Test(csum, ipv4_header)
{
	/* a textbook header (192.168.0.1 -> 192.168.0.199, UDP) */
	uint8_t h[20] = { 0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40,
			  0x00, 0x40, 0x11, 0xb8, 0x61, 0xc0, 0xa8,
			  0x00, 0x01, 0xc0, 0xa8, 0x00, 0xc7 };

	cr_assert_eq(berth_csum(h, 20), 0);
	wr16(h + 10, 0);
	cr_assert_eq(berth_csum(h, 20), 0xb861);
}

/*
 * A packet with right checksums: the header and the segment (addresses
 * taken from the header) verify to 0, and with its checksum field at
 * csum_off zeroed the segment's checksum is want.
 */
static void check_vector(const uint8_t *pkt, size_t len, size_t csum_off,
			 uint16_t want)
{
	uint32_t saddr, daddr;
	uint8_t seg[64];
	size_t l4len = len - 20;

	memcpy(&saddr, pkt + 12, 4);
	memcpy(&daddr, pkt + 16, 4);
	cr_assert_eq(berth_csum(pkt, 20), 0);
	cr_assert_eq(berth_csum_ipv4_l4(saddr, daddr, pkt[9], pkt + 20, l4len),
		     0);
	memcpy(seg, pkt + 20, l4len);
	wr16(seg + csum_off, 0);
	cr_assert_eq(berth_csum_ipv4_l4(saddr, daddr, pkt[9], seg, l4len),
		     want);
	cr_assert_eq(berth_pkt_verify(pkt, len, 0, NULL), 0);
}

Test(csum, udp_vector)
{
	/* odd segment length: the pad byte counts as zero */
	check_vector(udp_pkt, sizeof(udp_pkt), 6, 0x1025);
}

Test(csum, tcp_vector)
{
	check_vector(tcp_pkt, sizeof(tcp_pkt), 16, 0xb040);
}

Test(csum, build_matches_vectors)
{
	struct berth_pkt udp = {
		.saddr = ip4("10.244.1.2"),
		.daddr = ip4("10.96.0.10"),
		.proto = IPPROTO_UDP,
		.ip_id = 0x1234,
		.sport = 40000,
		.dport = 53,
		.payload = "berth",
		.payload_len = 5,
	};
	struct berth_pkt tcp = {
		.saddr = ip4("192.168.0.1"),
		.daddr = ip4("10.96.0.10"),
		.proto = IPPROTO_TCP,
		.ip_id = 0xbeef,
		.sport = 12345,
		.dport = 80,
		.tcp_flags = 0x02,
		.seq = 0x01020304,
	};
	uint8_t b[128];

	cr_assert_eq(berth_pkt_build(b, sizeof(b), &udp), sizeof(udp_pkt));
	cr_assert_arr_eq(b, udp_pkt, sizeof(udp_pkt));
	cr_assert_eq(berth_pkt_build(b, sizeof(b), &tcp), sizeof(tcp_pkt));
	cr_assert_arr_eq(b, tcp_pkt, sizeof(tcp_pkt));
	/* too small a buffer builds nothing */
	cr_assert_eq(berth_pkt_build(b, sizeof(tcp_pkt) - 1, &tcp), 0);
}

Test(csum, build_eth_and_icmp)
{
	/* echo request: type 8, code 0, checksum, id, sequence, data */
	uint8_t echo[11] = { 8, 0, 0, 0, 0x12, 0x34, 0, 1, 'a', 'b', 'c' };
	struct berth_pkt p = {
		.eth = true,
		.src_mac = { 0x02, 0, 0, 0, 0, 1 },
		.dst_mac = { 0x02, 0, 0, 0, 0, 2 },
		.saddr = ip4("10.244.1.2"),
		.daddr = ip4("10.244.2.3"),
		.proto = IPPROTO_ICMP,
		.payload = echo,
		.payload_len = sizeof(echo),
	};
	uint8_t b[128];
	const char *why = NULL;
	size_t len;

	len = berth_pkt_build(b, sizeof(b), &p);
	cr_assert_eq(len, 14 + 20 + sizeof(echo));
	cr_assert_eq(rd16(b + 12), 0x0800);
	cr_assert_eq(b[5], 2);
	cr_assert_eq(b[11], 1);
	cr_assert_eq(berth_pkt_l4_off(&p), 34);
	cr_assert_eq(berth_pkt_verify(b, len, berth_pkt_l3_off(&p), &why), 0,
		     "%s", why);
	cr_assert_eq(ref_csum(b + 34, sizeof(echo)), 0);
}

Test(csum, verify_finds_damage)
{
	uint8_t b[sizeof(udp_pkt)];
	const char *why = NULL;

	memcpy(b, udp_pkt, sizeof(b));
	b[sizeof(b) - 1] ^= 0x40;
	cr_assert_eq(berth_pkt_verify(b, sizeof(b), 0, &why), -EBADMSG);
	cr_assert_str_eq(why, "UDP checksum");

	memcpy(b, udp_pkt, sizeof(b));
	b[8] = 63; /* TTL without fixing the header checksum */
	cr_assert_eq(berth_pkt_verify(b, sizeof(b), 0, &why), -EBADMSG);
	cr_assert_str_eq(why, "IPv4 header checksum");

	/* UDP checksum 0 means none was computed, which is valid */
	memcpy(b, udp_pkt, sizeof(b));
	wr16(b + 26, 0);
	b[sizeof(b) - 1] ^= 0x40;
	cr_assert_eq(berth_pkt_verify(b, sizeof(b), 0, &why), 0, "%s", why);

	cr_assert_eq(berth_pkt_verify(tcp_pkt, sizeof(tcp_pkt) - 1, 0, &why),
		     -EINVAL);
	cr_assert_str_eq(why, "IPv4 total length");
	cr_assert_eq(berth_pkt_verify(tcp_pkt, 19, 0, &why), -EINVAL);
}

Test(csum, rfc1624_corner)
{
	/* RFC 1624 section 4: eqn. 2 gives 0xffff here, the right answer is 0 */
	cr_assert_eq(berth_csum_update16(0xdd2f, 0x5555, 0x3285), 0x0000);
}

/*
 * Random data with its checksum at coff, one field at off changed. Word 0
 * is fixed and non-zero, like an IP header's version or the pseudo
 * header's protocol: data that became all zeros is the one case where
 * eqn. 3 gives 0 and a recomputation 0xffff.
 */
static void random_data(uint8_t *b, size_t len, size_t *coff, size_t *off,
			size_t field)
{
	size_t i;

	wr16(b, 0x4500);
	for (i = 2; i < len; i++)
		b[i] = rand();
	*coff = 2 + 2 * (rand() % (len / 2 - 1));
	do
		*off = 2 + 2 * (rand() % ((len - field) / 2));
	while (*off <= *coff && *coff < *off + field);
}

Test(csum, update16_equals_recompute)
{
	uint8_t b[64];
	size_t len, off, coff, r;
	uint16_t old, new, c;

	srand(SEED);
	for (r = 0; r < ROUNDS; r++) {
		len = 6 + 2 * (rand() % 29);
		random_data(b, len, &coff, &off, 2);
		wr16(b + coff, 0);
		wr16(b + coff, berth_csum(b, len));

		old = rd16(b + off);
		new = r % 7 ? rand() : (r % 2 ? 0 : 0xffff);
		wr16(b + off, new);
		c = berth_csum_update16(rd16(b + coff), old, new);
		wr16(b + coff, 0);
		cr_assert_eq(
			c, berth_csum(b, len),
			"round %zu: %#x -> %#x: updated %#x, recomputed %#x", r,
			old, new, c, berth_csum(b, len));
	}
}

Test(csum, update32_equals_recompute)
{
	uint8_t b[64];
	size_t len, off, coff, r;
	uint32_t old, new;
	uint16_t c;

	srand(SEED + 1);
	for (r = 0; r < ROUNDS; r++) {
		len = 10 + 2 * (rand() % 28);
		random_data(b, len, &coff, &off, 4);
		wr16(b + coff, 0);
		wr16(b + coff, berth_csum(b, len));

		old = rd32(b + off);
		new = (uint32_t)rand() << 16 ^ rand();
		wr32(b + off, new);
		c = berth_csum_update32(rd16(b + coff), old, new);
		wr16(b + coff, 0);
		cr_assert_eq(
			c, berth_csum(b, len),
			"round %zu: %#x -> %#x: updated %#x, recomputed %#x", r,
			old, new, c, berth_csum(b, len));
	}
}

/*
 * What a DNAT does: rewrite daddr and dport, updating the IP checksum for
 * the address and the L4 checksum for address (pseudo header) and port.
 * The result must be the packet built with the new destination.
 */
static void dnat(uint8_t proto, size_t csum_off, size_t payload_len)
{
	uint8_t a[256], b[256], payload[128];
	struct berth_pkt p = {
		.saddr = ip4("10.244.1.2"),
		.proto = proto,
		.sport = 33000,
		.seq = 7,
		.payload = payload,
		.payload_len = payload_len,
	};
	uint32_t old_ip, new_ip;
	uint16_t old_port, new_port;
	size_t i, len;
	uint8_t *l4 = a + 20;

	for (i = 0; i < payload_len; i++)
		payload[i] = rand();
	p.daddr = rand();
	p.dport = rand();
	len = berth_pkt_build(a, sizeof(a), &p);
	cr_assert(len);
	old_ip = p.daddr;
	old_port = p.dport;
	new_ip = rand();
	new_port = rand();

	memcpy(a + 16, &new_ip, 4);
	wr16(a + 10,
	     berth_csum_update32(rd16(a + 10), ntohl(old_ip), ntohl(new_ip)));
	wr16(l4 + 2, new_port);
	wr16(l4 + csum_off, berth_csum_update32(rd16(l4 + csum_off),
						ntohl(old_ip), ntohl(new_ip)));
	wr16(l4 + csum_off,
	     berth_csum_update16(rd16(l4 + csum_off), old_port, new_port));

	p.daddr = new_ip;
	p.dport = new_port;
	cr_assert_eq(berth_pkt_build(b, sizeof(b), &p), len);
	/* UDP stores a 0 result as 0xffff; the update cannot know */
	if (proto == IPPROTO_UDP && rd16(b + 20 + csum_off) == 0xffff &&
	    !rd16(l4 + csum_off))
		wr16(l4 + csum_off, 0xffff);
	cr_assert_arr_eq(a, b, len, "proto %u payload %zu", proto, payload_len);
	cr_assert_eq(berth_pkt_verify(a, len, 0, NULL), 0);
}

Test(csum, dnat_updates_equal_rebuild)
{
	size_t r;

	srand(SEED + 2);
	for (r = 0; r < 2000; r++) {
		dnat(IPPROTO_TCP, 16, r % 100);
		dnat(IPPROTO_UDP, 6, r % 101);
	}
}

Test(csum, update_in_network_order)
{
	uint8_t b[20];
	uint16_t raw_csum, raw_old, raw_new, c;
	uint32_t raw_old32, raw_new32;
	size_t i;

	srand(SEED + 3);
	for (i = 0; i < sizeof(b); i++)
		b[i] = rand();
	wr16(b + 10, 0);
	wr16(b + 10, berth_csum(b, sizeof(b)));

	/* fields read straight from memory, result stored straight back */
	memcpy(&raw_csum, b + 10, 2);
	memcpy(&raw_old, b + 2, 2);
	raw_new = 0xabcd;
	memcpy(b + 2, &raw_new, 2);
	c = berth_csum_update16(raw_csum, raw_old, raw_new);
	memcpy(b + 10, &c, 2);
	cr_assert_eq(berth_csum(b, sizeof(b)), 0);

	memcpy(&raw_csum, b + 10, 2);
	memcpy(&raw_old32, b + 12, 4);
	raw_new32 = ip4("10.96.0.10");
	memcpy(b + 12, &raw_new32, 4);
	c = berth_csum_update32(raw_csum, raw_old32, raw_new32);
	memcpy(b + 10, &c, 2);
	cr_assert_eq(berth_csum(b, sizeof(b)), 0);
}
