// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * sessionAffinity: ClientIP. A client's new flows all go to the backend its
 * first one got, until the affinity times out or that backend terminates.
 */
#include <arpa/inet.h>
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include <berth/abi/lb.h>

#include "fixture.h"

#define SVC_PORT 80
#define BE_PORT 8080
#define NBE 10
#define TIMEOUT 300 /* s */
#define FLOWS 200

TestSuite(affinity, .init = fx_setup, .fini = fx_teardown);

static struct berth_fe_backend be[NBE];
static struct berth_frontend fe;

static void sync_frontend(uint8_t flags)
{
	fe.flags = flags;
	fe.affinity_timeout = flags & BERTH_SVC_F_AFFINITY ? TIMEOUT : 0;
	fx_sync(&fe, 1);
}

static void add_frontend(uint8_t flags)
{
	fx_frontend_init(&fe, be, FX_VIP, SVC_PORT, IPPROTO_TCP, FX_BE_NET,
			 BE_PORT, NBE);
	sync_frontend(flags);
}

/* A new flow (SYN) from client:sport; returns the backend it reached. */
static uint32_t new_flow(uint32_t client, uint16_t sport)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, sport, SVC_PORT);

	s.saddr = client;
	return fx_dnat(&s, NULL);
}

static uint32_t rev_nat_id(void)
{
	struct berth_svc_key key = { .vip = FX_VIP,
				     .dport = htons(SVC_PORT),
				     .proto = IPPROTO_TCP };
	struct berth_svc_val val;

	cr_assert_eq(bpf_map_lookup_elem(fx.dp->services.fd, &key, &val), 0,
		     "slot 0 missing");
	return val.rev_nat_id;
}

/* Pin client to backend id as from_pod would have last_used ns ago. */
static void put_affinity(uint32_t client, uint32_t backend_id, uint64_t age)
{
	struct berth_affinity_key key = { .client = client,
					  .rev_nat_id = rev_nat_id() };
	struct berth_affinity_val val = { .last_used = fx_now_ns() - age,
					  .backend_id = backend_id };

	cr_assert_eq(bpf_map_update_elem(fx.dp->affinity.fd, &key, &val,
					 BPF_ANY),
		     0, "write affinity entry");
}

Test(affinity, new_flows_of_a_client_stick)
{
	uint32_t first, got;

	add_frontend(BERTH_SVC_F_AFFINITY);
	first = new_flow(FX_CLIENT, 10000);
	for (uint16_t i = 1; i < FLOWS; i++) {
		got = new_flow(FX_CLIENT, 10000 + i);
		cr_assert_eq(got, first,
			     "flow %u of the client went to %s, first to %s", i,
			     pkt_ntoa(got), pkt_ntoa(first));
	}
}

Test(affinity, clients_spread_each_sticks)
{
	uint32_t seen[NBE] = {}, got, first;
	size_t distinct = 0;

	add_frontend(BERTH_SVC_F_AFFINITY);
	for (uint8_t c = 1; c <= 40; c++) {
		uint32_t client = ip4(10, 0, 1, c);

		first = new_flow(client, 20000);
		for (uint16_t i = 1; i < 10; i++) {
			got = new_flow(client, 20000 + i);
			cr_assert_eq(got, first,
				     "client %s flow %u moved from %s to %s",
				     pkt_ntoa(client), i, pkt_ntoa(first),
				     pkt_ntoa(got));
		}
		seen[fx_backend_index(first)] = 1;
	}
	for (size_t i = 0; i < NBE; i++)
		distinct += seen[i];
	/* 40 clients on one of 10 backends by chance: 10^-39 */
	cr_assert_gt(distinct, 1, "40 clients all stuck to one backend");
}

Test(affinity, without_it_flows_spread)
{
	uint32_t first;
	bool moved = false;

	add_frontend(0);
	first = new_flow(FX_CLIENT, 10000);
	for (uint16_t i = 1; i < 100 && !moved; i++)
		moved = new_flow(FX_CLIENT, 10000 + i) != first;
	cr_assert(moved, "100 flows without affinity all on one backend");
}

Test(affinity, terminating_backend_not_honoured)
{
	uint32_t stuck, got, next;
	uint16_t port;

	add_frontend(BERTH_SVC_F_AFFINITY);
	stuck = new_flow(FX_CLIENT, 10000);
	fx_set_terminating(&fe, stuck);

	/* the flow it already has keeps its backend ... */
	cr_assert_eq(new_flow(FX_CLIENT, 10000), stuck,
		     "existing flow left its terminating backend");
	/* ... new ones never get it, and stick to their new backend */
	next = new_flow(FX_CLIENT, 10001);
	cr_assert_neq(next, stuck, "new flow sent to a terminating backend");
	for (port = 10002; port < 10000 + FLOWS; port++) {
		got = new_flow(FX_CLIENT, port);
		cr_assert_eq(got, next, "flow %u went to %s, want %s", port,
			     pkt_ntoa(got), pkt_ntoa(next));
	}
}

Test(affinity, stale_entry_naming_terminating_backend_ignored)
{
	uint32_t stuck, id;

	add_frontend(BERTH_SVC_F_AFFINITY);
	stuck = new_flow(FX_CLIENT, 10000);
	id = fx_backend_id(stuck, BE_PORT);
	fx_set_terminating(&fe, stuck);
	/*
	 * The map sync cleans affinity entries of backends leaving service;
	 * the program must not depend on it: one written in between is
	 * ignored for new flows.
	 */
	for (uint16_t port = 10001; port < 10000 + FLOWS; port++) {
		put_affinity(FX_CLIENT, id, 0);
		cr_assert_neq(
			new_flow(FX_CLIENT, port), stuck,
			"flow %u followed affinity to a terminating backend",
			port);
	}
}

Test(affinity, expires_after_timeout)
{
	struct berth_fe_backend other_be[1];
	struct berth_frontend both[2];
	uint32_t other, other_id;

	/*
	 * Point the client at a backend that is not in this frontend's
	 * slots (another frontend's): reaching it proves the entry was
	 * followed, and random choice can never reach it.
	 */
	fx_frontend_init(&both[0], be, FX_VIP, SVC_PORT, IPPROTO_TCP, FX_BE_NET,
			 BE_PORT, NBE);
	both[0].flags = BERTH_SVC_F_AFFINITY;
	both[0].affinity_timeout = TIMEOUT;
	fx_frontend_init(&both[1], other_be, ip4(10, 96, 0, 11), SVC_PORT,
			 IPPROTO_TCP, ip4(10, 0, 7, 0), BE_PORT, 1);
	fx_sync(both, 2);
	other = other_be[0].ip;
	other_id = fx_backend_id(other, BE_PORT);
	cr_assert_neq(other_id, 0, "backend of the other frontend missing");

	put_affinity(FX_CLIENT, other_id, (TIMEOUT - 10) * 1000000000ULL);
	cr_assert_eq(new_flow(FX_CLIENT, 10000), other,
		     "affinity entry younger than the timeout not followed");
	for (uint16_t port = 10001; port < 10050; port++) {
		put_affinity(FX_CLIENT, other_id,
			     (TIMEOUT + 1) * 1000000000ULL);
		cr_assert_neq(new_flow(FX_CLIENT, port), other,
			      "affinity entry older than the timeout followed");
	}
}
