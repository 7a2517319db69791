// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A Service without endpoints answers like kube-proxy's REJECT: TCP gets a
 * RST from the frontend, UDP an ICMP port unreachable quoting the datagram,
 * both sent back out of the device (TC_ACT_REDIRECT); a RST is never
 * answered. Each is counted as BERTH_DROP_NO_SERVICE.
 */
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>

#include <berth/abi/metrics.h>

#include "fixture.h"

#define SVC_PORT 80
#define CLIENT_PORT 45000
#define ICMP_PORT_UNREACH_TYPE 3
#define ICMP_PORT_UNREACH_CODE 3
#define ICMP_HDR_LEN 8
#define IP_HDR_LEN 20

static void setup(void)
{
	struct berth_frontend fe[2];

	/* the RST and ICMP replies are built with it */
	FX_NEED(skb_change_tail);
	fx_setup();
	/* no backends: slot 0 with count 0 */
	fx_frontend_init(&fe[0], NULL, FX_VIP, SVC_PORT, IPPROTO_TCP, 0, 0, 0);
	fx_frontend_init(&fe[1], NULL, FX_VIP, SVC_PORT, IPPROTO_UDP, 0, 0, 0);
	fx_sync(fe, 2);
}

TestSuite(reject, .init = setup, .fini = fx_teardown);

/* MSS 1460: the RST must not carry it as options */
static const uint8_t tcp_opts[4] = { 2, 4, 0x05, 0xb4 };
/* Router Alert: 4 bytes, ihl 6 */
static const uint8_t ip_opts_ra[4] = { 148, 4, 0, 0 };
static const char data[1000] = "some request";

static struct pkt_spec tcp(uint8_t flags, uint32_t seq, uint32_t ack)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, CLIENT_PORT, SVC_PORT);

	s.tcp_flags = flags;
	s.seq = seq;
	s.ack = ack;
	return s;
}

static struct pkt_spec udp(size_t len)
{
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, CLIENT_PORT, SVC_PORT);

	s.payload = data;
	s.payload_len = len;
	return s;
}

/*
 * Run s through from_pod; expect a reply sent back (REDIRECT) from the
 * frontend to the client with the MACs swapped and checksums right.
 */
static void expect_answer(const struct pkt_spec *s, struct fx_out *out,
			  struct pkt_view *v)
{
	uint64_t before = fx_metric(BERTH_DROP_NO_SERVICE, BERTH_DIR_EGRESS);
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(in, s);

	fx_run(fx.from_pod, in, len, out);
	cr_assert_eq(out->ret, FX_TC_ACT_REDIRECT,
		     "verdict %d, want TC_ACT_REDIRECT", out->ret);
	cr_assert_eq(memcmp(out->buf, pkt_client_mac, 6), 0,
		     "destination MAC is not the client's");
	cr_assert_eq(memcmp(out->buf + 6, pkt_host_mac, 6), 0,
		     "source MAC is not the host side's");
	fx_expect_csums(out, "reject answer");
	cr_assert_eq(pkt_parse(out->buf, out->len, v), 0, "parse answer");
	cr_assert(v->saddr == FX_VIP && v->daddr == FX_CLIENT,
		  "answer %s -> %s, want frontend -> client",
		  pkt_ntoa(v->saddr), pkt_ntoa(v->daddr));
	cr_assert_eq(fx_metric(BERTH_DROP_NO_SERVICE, BERTH_DIR_EGRESS),
		     before + 1, "BERTH_DROP_NO_SERVICE not counted once");
}

/*
 * A RST turned around from s, with the given seq, ack and flags.
 *
 * Regression: reject_tcp() once fixed the checksum and then stored the new
 * header over it, a copy of the old one still holding the client's
 * checksum; every RST left with a wrong TCP checksum ("TCP checksum wrong"
 * here) and clients dropped it.
 */
static void expect_rst(const struct pkt_spec *s, uint32_t seq, uint32_t ack,
		       uint8_t flags)
{
	struct fx_out out;
	struct pkt_view v;
	uint8_t in[PKT_MAX];

	expect_answer(s, &out, &v);
	cr_assert_eq(out.len, pkt_build(in, s),
		     "RST is %u bytes, want the segment's length", out.len);
	cr_assert_eq(v.proto, IPPROTO_TCP, "answer is not TCP");
	cr_assert(v.sport == SVC_PORT && v.dport == CLIENT_PORT,
		  "RST ports %u -> %u, want %u -> %u", v.sport, v.dport,
		  SVC_PORT, CLIENT_PORT);
	cr_assert_eq(v.tcp_flags, flags, "TCP flags %#x, want %#x", v.tcp_flags,
		     flags);
	cr_assert_eq(v.seq, seq, "RST seq %u, want %u", v.seq, seq);
	cr_assert_eq(v.ack, ack, "RST ack %u, want %u", v.ack, ack);
	cr_assert_eq(v.tcp_doff, 20, "RST header is %u bytes, want 20",
		     v.tcp_doff);
}

Test(reject, tcp_syn_gets_rst_ack)
{
	struct pkt_spec s = tcp(PKT_TCP_SYN, 1000, 0);

	expect_rst(&s, 0, 1001, PKT_TCP_RST | PKT_TCP_ACK);
	/* with options: they must not make the RST's header longer */
	s.tcp_opts = tcp_opts;
	s.tcp_opts_len = sizeof(tcp_opts);
	expect_rst(&s, 0, 1001, PKT_TCP_RST | PKT_TCP_ACK);
}

Test(reject, tcp_syn_with_data_acked_whole)
{
	struct pkt_spec s = tcp(PKT_TCP_SYN, 0xfffffff0, 0);

	/* 100 data bytes and the SYN, wrapping the sequence space */
	s.payload = data;
	s.payload_len = 100;
	expect_rst(&s, 0, 0xfffffff0 + 101, PKT_TCP_RST | PKT_TCP_ACK);
}

Test(reject, tcp_ack_gets_rst_with_its_ack)
{
	struct pkt_spec s = tcp(PKT_TCP_ACK | PKT_TCP_PSH, 5000, 777777);

	s.payload = data;
	s.payload_len = 12;
	expect_rst(&s, 777777, 0, PKT_TCP_RST);
}

Test(reject, tcp_rst_never_answered)
{
	struct pkt_spec s = tcp(PKT_TCP_RST, 5000, 0);
	uint8_t in[PKT_MAX];
	struct fx_out out;
	size_t len = pkt_build(in, &s);

	fx_run(fx.from_pod, in, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_SHOT, "verdict %d, want TC_ACT_SHOT",
		     out.ret);
	fx_expect_frame(&out, in, len, "dropped RST");
	s.tcp_flags = PKT_TCP_RST | PKT_TCP_ACK;
	len = pkt_build(in, &s);
	fx_run(fx.from_pod, in, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_SHOT, "RST|ACK: verdict %d, want SHOT",
		     out.ret);
}

/* An ICMP port unreachable quoting the IP header and 8 bytes of s. */
static void expect_port_unreachable(const struct pkt_spec *s)
{
	size_t quote = IP_HDR_LEN + s->ip_opts_len + 8;
	uint8_t in[PKT_MAX];
	struct fx_out out;
	struct pkt_view v;

	pkt_build(in, s);
	expect_answer(s, &out, &v);
	cr_assert_eq(v.proto, IPPROTO_ICMP, "answer is not ICMP");
	cr_assert_eq(v.ihl, IP_HDR_LEN, "answer has IP options");
	cr_assert(v.icmp_type == ICMP_PORT_UNREACH_TYPE &&
			  v.icmp_code == ICMP_PORT_UNREACH_CODE,
		  "ICMP type %u code %u, want 3/3", v.icmp_type, v.icmp_code);
	cr_assert_eq(v.tot_len, IP_HDR_LEN + ICMP_HDR_LEN + quote,
		     "IP total length %u, want %zu", v.tot_len,
		     IP_HDR_LEN + ICMP_HDR_LEN + quote);
	cr_assert_eq(out.len, PKT_ETH_LEN + v.tot_len,
		     "frame is %u bytes, IP says %u", out.len, v.tot_len);
	cr_assert_eq(pkt_get32(out.buf + v.l4 + 4), 0,
		     "ICMP unused field not 0");
	cr_assert_eq(memcmp(out.buf + v.l4 + ICMP_HDR_LEN, in + PKT_ETH_LEN,
			    quote),
		     0, "quote is not the datagram's header and 8 bytes");
}

Test(reject, udp_gets_port_unreachable)
{
	/* the answer is longer than the datagram, then shorter */
	struct pkt_spec s = udp(0);

	expect_port_unreachable(&s);
	s = udp(sizeof(data));
	expect_port_unreachable(&s);
}

Test(reject, udp_with_ip_options_quoted_whole)
{
	struct pkt_spec s = udp(30);

	s.ip_opts = ip_opts_ra;
	s.ip_opts_len = sizeof(ip_opts_ra);
	expect_port_unreachable(&s);
}

Test(reject, counted_per_packet)
{
	struct pkt_spec s = tcp(PKT_TCP_SYN, 1, 0);
	uint8_t in[PKT_MAX];
	struct fx_out out;
	size_t len = pkt_build(in, &s);

	for (int i = 0; i < 25; i++)
		fx_run(fx.from_pod, in, len, &out);
	s = udp(10);
	len = pkt_build(in, &s);
	for (int i = 0; i < 25; i++)
		fx_run(fx.from_pod, in, len, &out);
	cr_assert_eq(fx_metric(BERTH_DROP_NO_SERVICE, BERTH_DIR_EGRESS), 50,
		     "50 rejected packets, %lu counted",
		     (unsigned long)fx_metric(BERTH_DROP_NO_SERVICE,
					      BERTH_DIR_EGRESS));
}
