// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Service conntrack: lifetimes by TCP state, expired and closed entries not
 * followed, and the EGRESS twin that replies need re-created when lost.
 */
#include <netinet/in.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include <berth/abi/ct.h>

#include "fixture.h"

#define SVC_PORT 80
#define BE_PORT 8080
#define NBE 3
#define SPORT 33333
#define OTHER_VIP ip4(10, 96, 0, 99)
#define OTHER_BE ip4(10, 0, 7, 1)

static void setup(void)
{
	struct berth_fe_backend be[NBE], other[1];
	struct berth_frontend fe[2];

	fx_setup();
	fx_frontend_init(&fe[0], be, FX_VIP, SVC_PORT, IPPROTO_TCP, FX_BE_NET,
			 BE_PORT, NBE);
	fx_frontend_init(&fe[1], other, OTHER_VIP, SVC_PORT, IPPROTO_TCP,
			 ip4(10, 0, 7, 0), BE_PORT, 1);
	fx_sync(fe, 2);
}

TestSuite(conntrack, .init = setup, .fini = fx_teardown);

static uint32_t send_pkt(uint8_t flags)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, SPORT, SVC_PORT);

	s.tcp_flags = flags;
	return fx_dnat(&s, NULL);
}

/* The flow's SERVICE entry, or its EGRESS entry to backend be. */
static struct berth_ct_key key_of(uint8_t proto, uint8_t dir, uint32_t be)
{
	if (dir == BERTH_CT_SERVICE)
		return fx_ct_key(proto, dir, FX_VIP, SPORT, SVC_PORT);
	return fx_ct_key(proto, dir, be, SPORT, BE_PORT);
}

/* Both entries of the flow live for `lifetime` s from now, with flags. */
static void expect_lifetime(uint8_t proto, uint32_t be, uint32_t lifetime,
			    uint16_t flags, const char *what)
{
	uint32_t now = fx_now_ns() / 1000000000ULL;

	for (uint8_t dir = BERTH_CT_SERVICE; dir <= BERTH_CT_EGRESS; dir++) {
		struct berth_ct_key k = key_of(proto, dir, be);
		struct berth_ct_val v = fx_ct_get(&k);

		cr_assert(v.lifetime >= now + lifetime - 2 &&
				  v.lifetime <= now + lifetime,
			  "%s: dir %u lives %d s, want %u", what, dir,
			  (int)(v.lifetime - now), lifetime);
		cr_assert_eq(v.flags & BERTH_CT_F_CLOSING, flags,
			     "%s: dir %u flags %#x", what, dir, v.flags);
	}
}

Test(conntrack, lifetimes_follow_tcp_state)
{
	uint32_t be = send_pkt(PKT_TCP_SYN);

	expect_lifetime(IPPROTO_TCP, be, BERTH_CT_SYN_LIFETIME, 0, "SYN");
	send_pkt(PKT_TCP_ACK);
	expect_lifetime(IPPROTO_TCP, be, BERTH_CT_TCP_LIFETIME, 0,
			"established");
	send_pkt(PKT_TCP_FIN | PKT_TCP_ACK);
	expect_lifetime(IPPROTO_TCP, be, BERTH_CT_CLOSE_LIFETIME,
			BERTH_CT_F_CLOSING, "FIN");
	/* a closing flow does not come back to life with more data */
	send_pkt(PKT_TCP_ACK);
	expect_lifetime(IPPROTO_TCP, be, BERTH_CT_CLOSE_LIFETIME,
			BERTH_CT_F_CLOSING, "ACK after FIN");
}

Test(conntrack, udp_lifetime)
{
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, SPORT, SVC_PORT);

	fx_add_frontend(IPPROTO_UDP, SVC_PORT, BE_PORT, 1);
	expect_lifetime(IPPROTO_UDP, fx_dnat(&s, NULL), BERTH_CT_UDP_LIFETIME,
			0, "UDP");
}

/*
 * Point the flow's SERVICE entry at the other frontend's backend, which no
 * slot of FX_VIP names: reaching it proves the entry was followed.
 */
static void redirect_flow(int32_t ttl, uint16_t flags)
{
	struct berth_ct_key k = key_of(IPPROTO_TCP, BERTH_CT_SERVICE, 0);
	struct berth_ct_val v = fx_ct_get(&k);

	v.backend_id = fx_backend_id(OTHER_BE, BE_PORT);
	cr_assert_neq(v.backend_id, 0, "backend of the other frontend missing");
	v.lifetime = fx_now_ns() / 1000000000ULL + ttl;
	v.flags = flags;
	cr_assert_eq(bpf_map_update_elem(fx.dp->ct.fd, &k, &v, BPF_EXIST), 0,
		     "rewrite SERVICE entry");
}

Test(conntrack, live_entry_followed_expired_not)
{
	send_pkt(PKT_TCP_SYN);
	/* a live entry is followed wherever it points (slots or not) */
	redirect_flow(100, 0);
	cr_assert_eq(send_pkt(PKT_TCP_ACK), OTHER_BE,
		     "live conntrack entry not followed");
	redirect_flow(-2, 0);
	cr_assert_neq(send_pkt(PKT_TCP_ACK), OTHER_BE,
		      "expired conntrack entry followed");
}

Test(conntrack, closed_flow_reopened_by_syn_rebalanced)
{
	struct berth_ct_key k = key_of(IPPROTO_TCP, BERTH_CT_SERVICE, 0);

	send_pkt(PKT_TCP_SYN);
	redirect_flow(BERTH_CT_CLOSE_LIFETIME, BERTH_CT_F_CLOSING);
	cr_assert_eq(send_pkt(PKT_TCP_ACK | PKT_TCP_FIN), OTHER_BE,
		     "closing flow's last packets lost their backend");
	cr_assert_neq(send_pkt(PKT_TCP_SYN), OTHER_BE,
		      "new SYN on a closed tuple kept the old backend");
	cr_assert_eq(fx_ct_get(&k).flags & BERTH_CT_F_CLOSING, 0,
		     "re-opened flow still marked closing");
}

Test(conntrack, lost_egress_entry_recreated)
{
	struct berth_ct_key k;
	uint32_t be;

	be = send_pkt(PKT_TCP_SYN);
	k = key_of(IPPROTO_TCP, BERTH_CT_EGRESS, be);
	cr_assert_eq(bpf_map_delete_elem(fx.dp->ct.fd, &k), 0,
		     "delete EGRESS entry");
	cr_assert_eq(send_pkt(PKT_TCP_ACK), be, "flow changed backend");
	fx_ct_get(&k);
	/* replies find the flow again */
	fx_expect_rev_nat(fx_reply(IPPROTO_TCP, be, BE_PORT, SPORT), SVC_PORT);
}

/*
 * Regression: client:P -> vip balanced to backend X, then client:P straight
 * to X (port reuse). The old EGRESS entry made to_pod rewrite the direct
 * connection's SYN-ACK to come from the vip, and the connection hung.
 */
Test(conntrack, direct_syn_retires_stale_egress_entry)
{
	uint32_t be = send_pkt(PKT_TCP_SYN);
	struct berth_ct_key k = key_of(IPPROTO_TCP, BERTH_CT_EGRESS, be);
	struct berth_ct_val v;
	struct pkt_spec direct = fx_pkt(IPPROTO_TCP, SPORT, BE_PORT);

	cr_assert_eq(bpf_map_lookup_elem(fx.dp->ct.fd, &k, &v), 0,
		     "the balanced flow has its EGRESS entry");
	direct.daddr = be;
	fx_expect_spec_untouched(fx.from_pod, &direct,
				 "direct SYN to the backend");
	cr_assert_neq(
		bpf_map_lookup_elem(fx.dp->ct.fd, &k, &v), 0,
		"a direct SYN on the same tuple retires the EGRESS entry");
	fx_expect_spec_untouched(
		fx.to_pod,
		&(struct pkt_spec){ .saddr = be,
				    .daddr = direct.saddr,
				    .proto = IPPROTO_TCP,
				    .sport = BE_PORT,
				    .dport = SPORT,
				    .tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK },
		"the backend's SYN-ACK reaches the client as sent");
}

/*
 * The agent's GC walk: expired entries are deleted (all of them, in one
 * pass), live ones name the backends still in use.
 */
Test(conntrack, usage_scan_deletes_expired_keeps_live)
{
	uint32_t now = fx_now_ns() / 1000000000ULL, be = send_pkt(PKT_TCP_SYN);
	uint32_t live_id = fx_backend_id(be, BE_PORT);
	struct berth_ct_usage *u;
	struct berth_ct_val v = { .backend_id = 999, .lifetime = now - 1 };
	size_t expired = 0;

	for (uint16_t port = 1; port <= 500; port++) {
		struct berth_ct_key k = fx_ct_key(IPPROTO_UDP, BERTH_CT_SERVICE,
						  FX_VIP, port, SVC_PORT);

		cr_assert_eq(bpf_map_update_elem(fx.dp->ct.fd, &k, &v, BPF_ANY),
			     0, "insert expired entry %u", port);
	}
	cr_assert_eq(berth_ct_usage_scan(fx.dp, &u, &expired), 0, "scan");
	cr_assert_eq(expired, 500, "expired entries deleted: %zu", expired);
	cr_assert(berth_ct_usage_has(u, live_id), "live flow's backend in use");
	cr_assert(!berth_ct_usage_has(u, 999),
		  "expired entries' backend unused");
	berth_ct_usage_free(u);
	expired = 1;
	cr_assert_eq(berth_ct_usage_scan(fx.dp, &u, &expired), 0, "rescan");
	cr_assert_eq(expired, 0, "nothing left to expire");
	berth_ct_usage_free(u);
}
