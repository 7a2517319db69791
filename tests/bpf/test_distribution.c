// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Random backend choice: 100,000 new flows spread over 10 backends as a
 * uniform draw would (chi-square below its p = 0.001 critical value).
 */
#include <netinet/in.h>

#include <criterion/criterion.h>

#include "fixture.h"

#define SVC_PORT 80
#define BE_PORT 8080
#define NBE 10
#define FLOWS 100000

static void setup(void)
{
	/* two entries per flow: room enough that LRU eviction never starts */
	struct berth_dp_config cfg = { .max_ct = 4 * FLOWS };

	fx_open(&cfg);
}

TestSuite(distribution, .init = setup, .fini = fx_teardown);

static void spread(uint8_t proto)
{
	struct berth_fe_backend be[NBE];
	struct berth_frontend fe;
	uint64_t counts[NBE] = {};
	struct pkt_spec s;
	uint32_t ip, idx;
	double chi;

	fx_frontend_init(&fe, be, FX_VIP, SVC_PORT, proto, FX_BE_NET, BE_PORT,
			 NBE);
	fx_sync(&fe, 1);
	for (uint32_t i = 0; i < FLOWS; i++) {
		s = fx_flow(i, proto, FX_VIP, SVC_PORT);
		ip = fx_dnat(&s, NULL);
		idx = fx_backend_index(ip);
		cr_assert_lt(idx, NBE, "flow %u went to %s, not a backend", i,
			     pkt_ntoa(ip));
		counts[idx]++;
	}
	chi = fx_chi_square(counts, NBE);
	cr_log_info("%u flows over %d backends: chi-square %.2f", FLOWS, NBE,
		    chi);
	cr_assert_lt(
		chi, fx_chi_square_critical(NBE),
		"chi-square %.2f over %d backends: not uniform (p < 0.001)",
		chi, NBE);
}

Test(distribution, random_tcp_uniform)
{
	spread(IPPROTO_TCP);
}

Test(distribution, random_udp_uniform)
{
	spread(IPPROTO_UDP);
}
