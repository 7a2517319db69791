// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * IP fragments to a frontend: later fragments carry no ports to balance on,
 * so the first one is dropped (BERTH_DROP_FRAG) rather than balanced alone.
 */
#include <netinet/in.h>

#include <criterion/criterion.h>

#include <berth/abi/metrics.h>

#include "fixture.h"

#define SVC_PORT 80
#define BE_PORT 8080

static void setup(void)
{
	struct berth_fe_backend be[2][2];
	struct berth_frontend fe[2];

	fx_setup();
	fx_frontend_init(&fe[0], be[0], FX_VIP, SVC_PORT, IPPROTO_TCP,
			 FX_BE_NET, BE_PORT, 2);
	fx_frontend_init(&fe[1], be[1], FX_VIP, SVC_PORT, IPPROTO_UDP,
			 FX_BE_NET, BE_PORT, 2);
	fx_sync(fe, 2);
}

TestSuite(frag, .init = setup, .fini = fx_teardown);

static const char chunk[64] = "first eight bytes of a datagram";

static struct pkt_spec datagram(uint8_t proto, uint16_t frag_off)
{
	struct pkt_spec s = fx_pkt(proto, 40000, SVC_PORT);

	s.ip_id = 0x4711;
	s.frag_off = frag_off;
	s.tcp_flags = PKT_TCP_ACK;
	s.payload = chunk;
	s.payload_len = sizeof(chunk);
	return s;
}

static void expect_frag_drop(uint8_t proto)
{
	struct pkt_spec s = datagram(proto, PKT_IP_MF);
	uint64_t before = fx_metric(BERTH_DROP_FRAG, BERTH_DIR_EGRESS);
	uint8_t in[PKT_MAX];
	struct fx_out out;

	fx_run(fx.from_pod, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_SHOT,
		     "first fragment: verdict %d, want TC_ACT_SHOT", out.ret);
	cr_assert_eq(fx_metric(BERTH_DROP_FRAG, BERTH_DIR_EGRESS), before + 1,
		     "first fragment not counted as BERTH_DROP_FRAG");
}

Test(frag, first_fragment_dropped)
{
	expect_frag_drop(IPPROTO_UDP);
	expect_frag_drop(IPPROTO_TCP);
}

Test(frag, other_fragments_untouched)
{
	/*
	 * At offset 64 bytes the data only looks like a UDP header to the
	 * frontend's port: a later fragment has no ports, nothing matches.
	 */
	struct pkt_spec s = datagram(IPPROTO_UDP, 8);

	s.payload_len = 16;
	fx_expect_spec_untouched(fx.from_pod, &s, "later fragment to the vip");
	s = datagram(IPPROTO_UDP, PKT_IP_MF);
	s.daddr = ip4(10, 0, 5, 5);
	fx_expect_spec_untouched(fx.from_pod, &s, "first fragment to a pod");
	cr_assert_eq(fx_metric(BERTH_DROP_FRAG, BERTH_DIR_EGRESS), 0,
		     "fragments not to a frontend counted as drops");
}

Test(frag, dont_fragment_is_balanced)
{
	struct pkt_spec s = datagram(IPPROTO_TCP, PKT_IP_DF);
	uint16_t port;

	fx_dnat(&s, &port);
	cr_assert_eq(port, BE_PORT, "DF packet not balanced (dport %u)", port);
}
