// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Traffic that is not the datapath's business passes both programs byte
 * for byte; a truncated or malformed IPv4 header is dropped and counted.
 */
#include <netinet/in.h>

#include <criterion/criterion.h>

#include <berth/abi/metrics.h>

#include "fixture.h"

#define SVC_PORT 80
#define BE_PORT 8080

static void setup(void)
{
	struct berth_fe_backend be[2];
	struct berth_frontend fe;

	fx_setup();
	fx_frontend_init(&fe, be, FX_VIP, SVC_PORT, IPPROTO_TCP, FX_BE_NET,
			 BE_PORT, 2);
	fx_sync(&fe, 1);
}

TestSuite(passthrough, .init = setup, .fini = fx_teardown);

/* Both programs pass frame[0..len) with TC_ACT_OK and leave it as it is. */
static void expect_untouched(const uint8_t *frame, size_t len, const char *what)
{
	fx_expect_untouched(fx.from_pod, frame, len, what);
	fx_expect_untouched(fx.to_pod, frame, len, what);
}

static void expect_spec_untouched(const struct pkt_spec *s, const char *what)
{
	fx_expect_spec_untouched(fx.from_pod, s, what);
	fx_expect_spec_untouched(fx.to_pod, s, what);
}

static struct pkt_spec tcp_to(uint32_t daddr, uint16_t dport)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40000, dport);

	s.daddr = daddr;
	return s;
}

Test(passthrough, arp)
{
	uint8_t in[PKT_MAX];

	expect_untouched(in, pkt_build_l2(in, PKT_ETH_P_ARP, 28), "ARP");
}

Test(passthrough, ipv6)
{
	uint8_t in[PKT_MAX];
	size_t len = pkt_build_l2(in, PKT_ETH_P_IPV6, 60);

	in[PKT_ETH_LEN] = 0x60; /* version 6 */
	expect_untouched(in, len, "IPv6");
}

Test(passthrough, not_a_frontend)
{
	struct pkt_spec s = tcp_to(ip4(10, 0, 5, 5), SVC_PORT);

	expect_spec_untouched(&s, "TCP to a pod");
	s = tcp_to(FX_VIP, SVC_PORT + 1);
	expect_spec_untouched(&s, "TCP to the vip, another port");
	s = tcp_to(FX_VIP, SVC_PORT);
	s.proto = IPPROTO_UDP;
	expect_spec_untouched(&s, "UDP to a TCP frontend");
	s = tcp_to(FX_VIP, SVC_PORT);
	s.proto = IPPROTO_GRE;
	s.payload = "\0\0\x08\0";
	s.payload_len = 4;
	expect_spec_untouched(&s, "GRE to the vip");
}

Test(passthrough, icmp_echo)
{
	static const char ping[56] = "ping";
	struct pkt_spec s = {
		.saddr = FX_CLIENT,
		.daddr = FX_VIP,
		.proto = IPPROTO_ICMP,
		.icmp_type = 8, /* echo request */
		.icmp_rest = 0x12340001,
		.payload = ping,
		.payload_len = sizeof(ping),
	};

	expect_spec_untouched(&s, "echo request to the vip");
	s.daddr = ip4(10, 0, 5, 5);
	expect_spec_untouched(&s, "echo request to a pod");
	s.icmp_type = 0; /* echo reply */
	s.saddr = ip4(10, 0, 2, 1);
	s.daddr = FX_CLIENT;
	expect_spec_untouched(&s, "echo reply from a backend");
}

/* from_pod and to_pod drop frame and count it as BERTH_DROP_INVALID. */
static void expect_invalid(const uint8_t *frame, size_t len, const char *what)
{
	struct {
		int prog;
		uint8_t dir;
	} run[2] = { { fx.from_pod, BERTH_DIR_EGRESS },
		     { fx.to_pod, BERTH_DIR_INGRESS } };
	struct fx_out out;
	uint64_t before;

	for (int i = 0; i < 2; i++) {
		before = fx_metric(BERTH_DROP_INVALID, run[i].dir);
		fx_run(run[i].prog, frame, len, &out);
		cr_assert_eq(out.ret, FX_TC_ACT_SHOT,
			     "%s via %s: verdict %d, want TC_ACT_SHOT", what,
			     i ? "to_pod" : "from_pod", out.ret);
		cr_assert_eq(fx_metric(BERTH_DROP_INVALID, run[i].dir),
			     before + 1,
			     "%s via %s: not counted as BERTH_DROP_INVALID",
			     what, i ? "to_pod" : "from_pod");
	}
}

Test(passthrough, truncated_ipv4_dropped)
{
	struct pkt_spec s = tcp_to(FX_VIP, SVC_PORT);
	uint8_t in[PKT_MAX];

	/*
	 * BPF_PROG_TEST_RUN refuses IPv4 frames shorter than a 20-byte
	 * header (-EINVAL), so the shortest truncation it can show is one
	 * whose options or L4 header are cut off.
	 */
	pkt_build(in, &s);
	expect_invalid(in, PKT_ETH_LEN + 20 + 10, "half a TCP header");
	in[PKT_ETH_LEN] = 0x4f; /* 60-byte header, 20 present */
	expect_invalid(in, PKT_ETH_LEN + 20, "IP options cut off");
	s.proto = IPPROTO_UDP;
	pkt_build(in, &s);
	expect_invalid(in, PKT_ETH_LEN + 20 + 4, "half a UDP header");
}

Test(passthrough, malformed_ipv4_dropped)
{
	struct pkt_spec s = tcp_to(FX_VIP, SVC_PORT);
	uint8_t in[PKT_MAX];
	size_t len = pkt_build(in, &s);

	in[PKT_ETH_LEN] = 0x44; /* ihl 4 */
	expect_invalid(in, len, "IP header length 16");
	in[PKT_ETH_LEN] = 0x65; /* version 6 behind ethertype IPv4 */
	expect_invalid(in, len, "version 6 in an IPv4 frame");
	len = pkt_build(in, &s);
	pkt_put16(in + PKT_ETH_LEN + 2, 12); /* total length < header */
	expect_invalid(in, len, "total length 12");
}
