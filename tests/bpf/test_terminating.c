// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Terminating backends: a flow that has one keeps it, new flows never get
 * it, and a flow whose backend is gone from the backends map is balanced
 * anew (replies then come back through the new backend's entry).
 */
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include <berth/abi/ct.h>
#include <berth/abi/lb.h>

#include "fixture.h"

#define SVC_PORT 80
#define BE_PORT 8080
#define NBE 3
#define NEW_FLOWS 300

TestSuite(terminating, .init = fx_setup, .fini = fx_teardown);

static struct berth_fe_backend be[NBE];
static struct berth_frontend fe;

static void add_frontend(void)
{
	fx_frontend_init(&fe, be, FX_VIP, SVC_PORT, IPPROTO_TCP, FX_BE_NET,
			 BE_PORT, NBE);
	fx_sync(&fe, 1);
}

static struct pkt_spec flow(uint16_t sport, uint8_t flags)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, sport, SVC_PORT);

	s.tcp_flags = flags;
	return s;
}

static uint32_t send_pkt(uint16_t sport, uint8_t flags)
{
	struct pkt_spec s = flow(sport, flags);

	return fx_dnat(&s, NULL);
}

static void expect_no_new_flow_to(uint32_t gone)
{
	for (uint16_t port = 30000; port < 30000 + NEW_FLOWS; port++)
		cr_assert_neq(send_pkt(port, PKT_TCP_SYN), gone,
			      "new flow %u sent to terminating backend %s",
			      port, pkt_ntoa(gone));
}

Test(terminating, existing_flow_keeps_backend)
{
	uint32_t old;
	struct berth_backend bv;
	uint32_t id;

	add_frontend();
	old = send_pkt(12345, PKT_TCP_SYN);
	fx_set_terminating(&fe, old);
	id = fx_backend_id(old, BE_PORT);
	cr_assert_eq(bpf_map_lookup_elem(fx.dp->backends.fd, &id, &bv), 0,
		     "terminating backend left the backends map");
	cr_assert(bv.flags & BERTH_BACKEND_F_TERMINATING,
		  "backend not marked terminating (flags %#x)", bv.flags);

	for (int i = 0; i < 20; i++)
		cr_assert_eq(send_pkt(12345, PKT_TCP_ACK), old,
			     "established flow left its terminating backend");
	expect_no_new_flow_to(old);
	cr_assert_eq(send_pkt(12345, PKT_TCP_ACK), old,
		     "established flow moved after new flows came");
}

Test(terminating, all_terminating_rejects_new_keeps_old)
{
	struct pkt_spec s = flow(23456, PKT_TCP_SYN);
	uint8_t in[PKT_MAX];
	struct fx_out out;
	uint32_t old;
	size_t len;

	add_frontend();
	old = send_pkt(12345, PKT_TCP_SYN);
	for (size_t i = 0; i < NBE; i++)
		be[i].terminating = true;
	fx_sync(&fe, 1);

	cr_assert_eq(send_pkt(12345, PKT_TCP_ACK), old,
		     "established flow lost its backend");
	len = pkt_build(in, &s);
	fx_run(fx.from_pod, in, len, &out);
	cr_assert_eq(
		out.ret, FX_TC_ACT_REDIRECT,
		"new flow with only terminating backends: verdict %d, want a reject",
		out.ret);
}

Test(terminating, deleted_backend_rebalanced)
{
	struct berth_ct_key key = fx_ct_key(IPPROTO_TCP, BERTH_CT_SERVICE,
					    FX_VIP, 12345, SVC_PORT);
	struct berth_ct_val val;
	uint32_t old, now, id;

	add_frontend();
	old = send_pkt(12345, PKT_TCP_SYN);
	fx_set_terminating(&fe, old);
	id = fx_backend_id(old, BE_PORT);
	cr_assert_eq(bpf_map_delete_elem(fx.dp->backends.fd, &id), 0,
		     "delete backend %u", id);

	now = send_pkt(12345, PKT_TCP_ACK);
	cr_assert_neq(now, old, "flow still sent to the deleted backend");
	val = fx_ct_get(&key);
	cr_assert_eq(val.backend_id, fx_backend_id(now, BE_PORT),
		     "SERVICE entry names backend %u, flow went to %s",
		     val.backend_id, pkt_ntoa(now));
	cr_assert_eq(send_pkt(12345, PKT_TCP_ACK), now,
		     "re-balanced flow does not stay on its new backend");

	/* the new backend's replies come from the frontend */
	fx_expect_rev_nat(fx_reply(IPPROTO_TCP, now, BE_PORT, 12345), SVC_PORT);
}
