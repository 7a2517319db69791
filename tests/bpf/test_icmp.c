// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ICMP errors about a balanced flow: what the backend (or a router on the
 * way) quotes is client -> backend; to_pod must hand the client an error
 * quoting what it sent, client -> frontend, every checksum right.
 */
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>

#include <berth/csum.h>

#include "fixture.h"

#define SVC_PORT 53
#define BE_PORT 5353
#define NBE 2
#define ICMP_DEST_UNREACH 3
#define ICMP_PORT_UNREACH 3
#define ICMP_TIME_EXCEEDED 11
#define IP_HDR_LEN 20

static void setup(void)
{
	struct berth_fe_backend be[2][NBE];
	struct berth_frontend fe[2];

	fx_setup();
	fx_frontend_init(&fe[0], be[0], FX_VIP, SVC_PORT, IPPROTO_UDP,
			 FX_BE_NET, BE_PORT, NBE);
	fx_frontend_init(&fe[1], be[1], FX_VIP, SVC_PORT, IPPROTO_TCP,
			 FX_BE_NET, BE_PORT, NBE);
	fx_sync(fe, 2);
}

TestSuite(icmp, .init = setup, .fini = fx_teardown);

static const char query[40] = "\x12\x34\x01\x00\x00\x01 a DNS query";
static const uint8_t tcp_opts[4] = { 2, 4, 0x05, 0xb4 };
/* Router Alert: 4 bytes, ihl 6 */
static const uint8_t ip_opts_ra[4] = { 148, 4, 0, 0 };

/* An ICMP error from `from` to the client quoting quote[0..len). */
static size_t icmp_error(uint8_t *buf, uint32_t from, uint8_t type,
			 uint8_t code, const uint8_t *quote, size_t len)
{
	struct pkt_spec s = {
		.smac = pkt_host_mac,
		.dmac = pkt_client_mac,
		.saddr = from,
		.daddr = FX_CLIENT,
		.proto = IPPROTO_ICMP,
		.icmp_type = type,
		.icmp_code = code,
		.payload = quote,
		.payload_len = len,
	};

	return pkt_build(buf, &s);
}

/*
 * Send req through from_pod; then an error about what left (from the
 * backend itself when router is 0) quoting the IP header + quote_l4 bytes
 * must come out of to_pod quoting req as the client sent it.
 */
static void expect_translated(const struct pkt_spec *req, uint32_t router,
			      uint8_t type, uint8_t code, size_t quote_l4)
{
	uint8_t sent[PKT_MAX], in[PKT_MAX], want[PKT_MAX];
	size_t ihl = IP_HDR_LEN + req->ip_opts_len, quote = ihl + quote_l4;
	size_t len, sent_len = pkt_build(sent, req);
	struct pkt_view v;
	struct fx_out dnat;
	struct fx_out out;
	uint32_t backend;

	cr_assert_leq(quote, sent_len - PKT_ETH_LEN,
		      "quote longer than packet");
	fx_run(fx.from_pod, sent, sent_len, &dnat);
	cr_assert_eq(dnat.ret, FX_TC_ACT_OK, "DNAT verdict %d", dnat.ret);
	cr_assert_eq(pkt_parse(dnat.buf, dnat.len, &v), 0, "parse DNAT");
	backend = v.daddr;

	len = icmp_error(in, router ? router : backend, type, code,
			 dnat.buf + PKT_ETH_LEN, quote);
	fx_run(fx.to_pod, in, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "to_pod verdict %d", out.ret);
	fx_expect_csums(&out, "translated ICMP error");
	cr_assert_eq(pkt_parse(out.buf, out.len, &v), 0, "parse ICMP error");
	cr_assert_eq(v.saddr, router ? router : FX_VIP,
		     "outer source %s, want %s", pkt_ntoa(v.saddr),
		     router ? "the router" : "the frontend");
	/* the quoted header's checksum, then every byte */
	cr_assert_eq(berth_csum(out.buf + v.l4 + 8, ihl), 0,
		     "quoted IP header checksum wrong");
	icmp_error(want, router ? router : FX_VIP, type, code,
		   sent + PKT_ETH_LEN, quote);
	fx_expect_frame(&out, want, len, "translated ICMP error");
}

static struct pkt_spec udp_query(uint16_t sport)
{
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, sport, SVC_PORT);

	s.payload = query;
	s.payload_len = sizeof(query);
	return s;
}

static struct pkt_spec tcp_syn(uint16_t sport)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, sport, SVC_PORT);

	s.seq = 4242;
	s.tcp_opts = tcp_opts;
	s.tcp_opts_len = sizeof(tcp_opts);
	return s;
}

Test(icmp, port_unreachable_from_backend)
{
	struct pkt_spec req = udp_query(5000);

	/* RFC 792's minimum quote, then the whole datagram as Linux sends */
	expect_translated(&req, 0, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 8);
	expect_translated(&req, 0, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH,
			  8 + sizeof(query));
}

Test(icmp, quoted_zero_udp_checksum_stays_zero)
{
	struct pkt_spec req = udp_query(5001);

	req.udp_no_csum = true;
	expect_translated(&req, 0, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH,
			  8 + sizeof(query));
}

Test(icmp, tcp_error_from_router)
{
	struct pkt_spec req = tcp_syn(5002);

	/* a router's error keeps its source; only the quote is translated */
	expect_translated(&req, ip4(10, 0, 0, 1), ICMP_TIME_EXCEEDED, 0,
			  20 + sizeof(tcp_opts));
	expect_translated(&req, ip4(10, 0, 0, 1), ICMP_DEST_UNREACH, 4, 8);
}

Test(icmp, tcp_error_from_backend)
{
	struct pkt_spec req = tcp_syn(5003);

	expect_translated(&req, 0, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH,
			  20 + sizeof(tcp_opts));
}

/*
 * Regression: icmp_rev_nat() once left a quote with IP options (ihl != 5)
 * untranslated, so a flow whose packets carry options never heard of its
 * errors.
 */
Test(icmp, quote_with_ip_options)
{
	struct pkt_spec req = udp_query(5004);

	req.ip_opts = ip_opts_ra;
	req.ip_opts_len = sizeof(ip_opts_ra);
	expect_translated(&req, 0, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH, 8);
}

Test(icmp, error_about_unknown_flow_untouched)
{
	struct pkt_spec other = udp_query(5005);
	uint8_t quoted[PKT_MAX], in[PKT_MAX];
	struct fx_out out;
	size_t len;

	/* a datagram to a backend that no balanced flow sent */
	other.daddr = ip4(10, 0, 2, 1);
	other.dport = BE_PORT;
	len = pkt_build(quoted, &other);
	len = icmp_error(in, other.daddr, ICMP_DEST_UNREACH, ICMP_PORT_UNREACH,
			 quoted + PKT_ETH_LEN, len - PKT_ETH_LEN);
	fx_run(fx.to_pod, in, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "verdict %d", out.ret);
	fx_expect_frame(&out, in, len, "error about no balanced flow");
}
