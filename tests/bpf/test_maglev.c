// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Maglev backend choice: flows spread evenly, a flow picks the same backend
 * on a fresh datapath (no conntrack to remember it), and removing a backend
 * moves few of the flows other backends had.
 */
#include <netinet/in.h>

#include <criterion/criterion.h>

#include <berth/abi/lb.h>

#include "fixture.h"

#define SVC_PORT 53
#define BE_PORT 5353
#define NBE 10
#define FLOWS 100000
#define REPLAY 20000

static const struct berth_dp_config cfg = { .max_ct = 4 * FLOWS };
static struct berth_fe_backend be[NBE];
static struct berth_frontend fe;
static uint8_t chosen[FLOWS]; /* backend index per flow */

static void setup(void)
{
	fx_open(&cfg);
	fx_frontend_init(&fe, be, FX_VIP, SVC_PORT, IPPROTO_UDP, FX_BE_NET,
			 BE_PORT, NBE);
	fe.flags = BERTH_SVC_F_MAGLEV;
}

TestSuite(maglev, .init = setup, .fini = fx_teardown);

/* Drop the datapath (and its conntrack) for a new one with the frontend. */
static void fresh_datapath(void)
{
	fx_teardown();
	fx_open(&cfg);
	fx_sync(&fe, 1);
}

static uint32_t flow_backend(uint32_t i)
{
	struct pkt_spec s = fx_flow(i, IPPROTO_UDP, FX_VIP, SVC_PORT);
	uint32_t ip = fx_dnat(&s, NULL), idx;

	idx = fx_backend_index(ip);
	cr_assert_lt(idx, NBE, "flow %u went to %s, not a backend", i,
		     pkt_ntoa(ip));
	return idx;
}

static void run_flows(uint32_t n)
{
	for (uint32_t i = 0; i < n; i++)
		chosen[i] = flow_backend(i);
}

Test(maglev, uniform)
{
	uint64_t counts[NBE] = {};
	double chi;

	fx_sync(&fe, 1);
	run_flows(FLOWS);
	for (uint32_t i = 0; i < FLOWS; i++)
		counts[chosen[i]]++;
	chi = fx_chi_square(counts, NBE);
	cr_log_info("maglev: %u flows over %d backends: chi-square %.2f", FLOWS,
		    NBE, chi);
	cr_assert_lt(
		chi, fx_chi_square_critical(NBE),
		"chi-square %.2f over %d backends: not uniform (p < 0.001)",
		chi, NBE);
}

Test(maglev, same_flow_same_backend)
{
	uint32_t got;

	fx_sync(&fe, 1);
	run_flows(REPLAY);
	/* conntrack would repeat the choice; a fresh datapath cannot */
	fresh_datapath();
	for (uint32_t i = 0; i < REPLAY; i++) {
		got = flow_backend(i);
		cr_assert_eq(
			got, chosen[i],
			"flow %u: backend %u, before %u on another datapath", i,
			got, chosen[i]);
	}
}

Test(maglev, backend_order_does_not_matter)
{
	struct berth_fe_backend tmp;

	fx_sync(&fe, 1);
	run_flows(REPLAY);
	for (size_t i = 0; i < NBE / 2; i++) {
		tmp = be[i];
		be[i] = be[NBE - 1 - i];
		be[NBE - 1 - i] = tmp;
	}
	fresh_datapath();
	for (uint32_t i = 0; i < REPLAY; i++)
		cr_assert_eq(flow_backend(i), chosen[i],
			     "flow %u moved when backends were listed reversed",
			     i);
}

Test(maglev, removal_moves_few_other_flows)
{
	uint32_t stayed = 0, others = 0, got;

	fx_sync(&fe, 1);
	run_flows(REPLAY);
	/* backend 0 leaves */
	fe.backends = be + 1;
	fe.nbackends = NBE - 1;
	fresh_datapath();
	for (uint32_t i = 0; i < REPLAY; i++) {
		got = flow_backend(i);
		cr_assert_neq(got, 0, "flow %u sent to the removed backend", i);
		if (chosen[i] == 0)
			continue;
		others++;
		stayed += got == chosen[i];
	}
	cr_log_info("maglev: %u of %u flows of remaining backends stayed",
		    stayed, others);
	/* random choice would keep 1/9 of them; Maglev nearly all */
	cr_assert_gt(stayed, others * 0.95,
		     "only %u of %u flows of remaining backends stayed", stayed,
		     others);
}
