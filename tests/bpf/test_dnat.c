// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * from_pod DNAT: a packet to a frontend leaves addressed to a backend, every
 * other byte as it was, checksums right by an independent sum, and the flow
 * recorded in conntrack.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include <berth/abi/ct.h>
#include <berth/abi/lb.h>
#include <berth/csum.h>

#include "fixture.h"

#define SVC_PORT 80
#define BE_PORT 8080
#define NBE 3

TestSuite(dnat, .init = fx_setup, .fini = fx_teardown);

/* NOP, then Record Route with one empty slot: 8 bytes, ihl 7 */
static const uint8_t ip_opts_rr[8] = { 1, 7, 7, 4, 0, 0, 0, 0 };
/* MSS 1460, SACK permitted, NOP, NOP */
static const uint8_t tcp_opts[8] = { 2, 4, 0x05, 0xb4, 4, 2, 1, 1 };
static const char payload[] = "GET / HTTP/1.1\r\n\r\n";

static void add_frontend(uint8_t proto)
{
	fx_add_frontend(proto, SVC_PORT, BE_PORT, NBE);
}

/*
 * Run s through from_pod and expect exactly s sent to a backend: the frame
 * rebuilt with the backend's address and port by the independent builder.
 * Returns the backend.
 */
static uint32_t expect_dnat(struct pkt_spec s)
{
	uint8_t in[PKT_MAX], want[PKT_MAX];
	struct fx_out out;
	struct pkt_view v;
	size_t len = pkt_build(in, &s);

	fx_run(fx.from_pod, in, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "verdict %d, want TC_ACT_OK",
		     out.ret);
	fx_expect_csums(&out, "DNAT output");
	cr_assert_eq(pkt_parse(out.buf, out.len, &v), 0, "parse output");
	cr_assert_lt(fx_backend_index(v.daddr), NBE,
		     "daddr %s is not a backend", pkt_ntoa(v.daddr));
	s.daddr = v.daddr;
	s.dport = BE_PORT;
	pkt_build(want, &s);
	fx_expect_frame(&out, want, len, "DNAT output");
	return v.daddr;
}

static struct pkt_spec tcp_syn(uint16_t sport)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, sport, SVC_PORT);

	s.seq = 0x11223344;
	s.tcp_opts = tcp_opts;
	s.tcp_opts_len = sizeof(tcp_opts);
	return s;
}

static struct pkt_spec udp(uint16_t sport, size_t payload_len)
{
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, sport, SVC_PORT);

	s.payload = payload;
	s.payload_len = payload_len;
	return s;
}

Test(dnat, tcp_syn_to_backend)
{
	struct berth_ct_key key = fx_ct_key(IPPROTO_TCP, BERTH_CT_SERVICE,
					    FX_VIP, 40000, SVC_PORT);
	struct berth_ct_val svc, egress;
	struct berth_svc_key skey = { .vip = FX_VIP,
				      .dport = htons(SVC_PORT),
				      .proto = IPPROTO_TCP };
	struct berth_svc_val slot0;
	struct berth_rev_nat rn;
	uint32_t be;

	add_frontend(IPPROTO_TCP);
	be = expect_dnat(tcp_syn(40000));

	cr_assert_eq(bpf_map_lookup_elem(fx.dp->services.fd, &skey, &slot0), 0,
		     "slot 0 missing");
	svc = fx_ct_get(&key);
	cr_assert_eq(svc.backend_id, fx_backend_id(be, BE_PORT),
		     "SERVICE entry names backend %u, packet went to %s",
		     svc.backend_id, pkt_ntoa(be));
	cr_assert_eq(svc.rev_nat_id, slot0.rev_nat_id,
		     "SERVICE entry rev_nat id %u, service has %u",
		     svc.rev_nat_id, slot0.rev_nat_id);
	key = fx_ct_key(IPPROTO_TCP, BERTH_CT_EGRESS, be, 40000, BE_PORT);
	egress = fx_ct_get(&key);
	cr_assert_eq(egress.backend_id, svc.backend_id,
		     "EGRESS and SERVICE entries disagree on the backend");
	cr_assert_eq(egress.rev_nat_id, svc.rev_nat_id,
		     "EGRESS and SERVICE entries disagree on rev_nat");
	cr_assert_eq(bpf_map_lookup_elem(fx.dp->rev_nat.fd, &svc.rev_nat_id,
					 &rn),
		     0, "rev_nat %u missing", svc.rev_nat_id);
	cr_assert(rn.vip == FX_VIP && rn.port == htons(SVC_PORT),
		  "rev_nat names %s:%u, want the frontend", pkt_ntoa(rn.vip),
		  ntohs(rn.port));
}

Test(dnat, tcp_flow_stays_on_its_backend)
{
	struct pkt_spec s = tcp_syn(40001);
	uint32_t first;

	add_frontend(IPPROTO_TCP);
	first = expect_dnat(s);
	s.tcp_flags = PKT_TCP_ACK | PKT_TCP_PSH;
	s.tcp_opts_len = 0;
	s.payload = payload;
	s.payload_len = sizeof(payload) - 1;
	for (int i = 0; i < 50; i++) {
		s.seq++;
		cr_assert_eq(expect_dnat(s), first,
			     "packet %d of the flow changed backend", i);
	}
}

Test(dnat, udp_odd_payload)
{
	add_frontend(IPPROTO_UDP);
	/* an odd length pads the checksum's last word */
	expect_dnat(udp(5353, 13));
	expect_dnat(udp(5354, 0));
}

Test(dnat, udp_zero_checksum_stays_zero)
{
	struct pkt_spec s = udp(5353, 10);
	uint8_t in[PKT_MAX];
	struct fx_out out;
	struct pkt_view v;
	size_t len;

	add_frontend(IPPROTO_UDP);
	s.udp_no_csum = true;
	len = pkt_build(in, &s);
	fx_run(fx.from_pod, in, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "verdict %d", out.ret);
	cr_assert_eq(pkt_parse(out.buf, out.len, &v), 0, "parse output");
	cr_assert_eq(v.l4_csum, 0, "UDP checksum became %#06x, want 0 (none)",
		     v.l4_csum);
	/* and the rest exactly as a zero-checksum datagram to the backend */
	expect_dnat(s);
}

Test(dnat, tcp_with_ip_options)
{
	struct pkt_spec s = tcp_syn(40002);

	add_frontend(IPPROTO_TCP);
	s.ip_opts = ip_opts_rr;
	s.ip_opts_len = sizeof(ip_opts_rr);
	expect_dnat(s);
	s.tcp_flags = PKT_TCP_ACK;
	s.payload = payload;
	s.payload_len = sizeof(payload) - 1;
	expect_dnat(s);
}

Test(dnat, udp_with_ip_options)
{
	struct pkt_spec s = udp(5355, 7);

	add_frontend(IPPROTO_UDP);
	s.ip_opts = ip_opts_rr;
	s.ip_opts_len = sizeof(ip_opts_rr);
	expect_dnat(s);
}

Test(dnat, tcp_and_udp_frontends_apart)
{
	struct berth_fe_backend tcp_be[NBE], udp_be[1];
	struct berth_frontend fe[2];
	struct pkt_spec s = udp(5356, 4);
	uint16_t port;

	/* same vip and port, other protocol and backends */
	fx_frontend_init(&fe[0], tcp_be, FX_VIP, SVC_PORT, IPPROTO_TCP,
			 FX_BE_NET, BE_PORT, NBE);
	fx_frontend_init(&fe[1], udp_be, FX_VIP, SVC_PORT, IPPROTO_UDP,
			 ip4(10, 0, 3, 0), 53, 1);
	fx_sync(fe, 2);
	cr_assert_eq(fx_dnat(&s, &port), ip4(10, 0, 3, 1),
		     "UDP went to the TCP frontend's backends");
	cr_assert_eq(port, 53, "UDP dport %u, want 53", port);
	expect_dnat(tcp_syn(40003));
}

Test(dnat, udp_checksum_becoming_zero_sent_as_ffff)
{
	struct pkt_spec s = udp(5357, 0);
	uint8_t word[2] = {}, l4[10] = {};
	uint32_t backend = fx_backend_ip(0);
	uint16_t c;

	fx_add_frontend(IPPROTO_UDP, SVC_PORT, BE_PORT, 1);
	/*
	 * Choose the payload word that makes the translated datagram sum to
	 * 0xffff: its checksum is then 0, which UDP must send as 0xffff.
	 */
	pkt_put16(l4, 5357);
	pkt_put16(l4 + 2, BE_PORT);
	pkt_put16(l4 + 4, sizeof(l4));
	c = berth_csum_ipv4_l4(FX_CLIENT, backend, IPPROTO_UDP, l4, sizeof(l4));
	pkt_put16(word, c);
	s.payload = word;
	s.payload_len = sizeof(word);
	expect_dnat(s);
}
