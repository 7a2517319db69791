// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Policy sync on memory maps: what lands in policy, endpoints and ipcache,
 * a second sync writing nothing, the update order of abi/policy.h, and the
 * node sync leaving the policy sync's ipcache entries alone.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <berth/abi/policy.h>
#include <berth/abi/route.h>

#include "../../userspace/agent/nodesync.h"
#include "../../userspace/agent/policysync.h"

static struct berth_map pol, eps, ipc, rng;
static struct berth_policy_shadow *shadow; /* NULL: read the maps */
static int sync_err; /* of the last run_err() */
static json_object *pods[4], *polobj[2];

/* the order of writes, one letter a write: P+ policy add, E endpoint,
 * I ipcache add/change/delete, P- policy delete */
static char trace[4096];
static int (*mem_update)(struct berth_map *, const void *, const void *);
static int (*mem_delete)(struct berth_map *, const void *);
static int (*mem_next)(struct berth_map *, const void *, void *);
static size_t pol_reads; /* next_key calls on the policy map */

static int t_next(struct berth_map *m, const void *k, void *next)
{
	pol_reads++;
	return mem_next(m, k, next);
}

static void note(const char *s)
{
	strncat(trace, s, sizeof(trace) - strlen(trace) - 1);
}

static int t_update(struct berth_map *m, const void *k, const void *v)
{
	note(m == &pol || m == &rng ? "A" : m == &eps ? "E" : "I");
	return mem_update(m, k, v);
}

static int t_delete(struct berth_map *m, const void *k)
{
	note(m == &pol || m == &rng ? "D" : m == &eps ? "e" : "i");
	return mem_delete(m, k);
}

static json_object *pod(const char *name, const char *node, const char *ip,
			const char *app)
{
	char buf[512];

	snprintf(
		buf, sizeof(buf),
		"{\"metadata\":{\"namespace\":\"x\",\"name\":\"%s\",\"labels\":"
		"{\"app\":\"%s\"}},\"spec\":{\"nodeName\":\"%s\"},"
		"\"status\":{\"podIP\":\"%s\"}}",
		name, app, node, ip);
	return json_tokener_parse(buf);
}

static void setup(void)
{
	struct berth_endpoint_info v = { .ifindex = 7 };
	uint32_t ip;

	cr_assert_eq(berth_map_init_mem(&pol, "policy",
					sizeof(struct berth_policy_hkey),
					sizeof(struct berth_policy_val), 4096),
		     0);
	cr_assert_eq(berth_map_init_mem(&rng, "policy_ranges",
					sizeof(struct berth_policy_key),
					sizeof(struct berth_policy_val), 4096),
		     0);
	cr_assert_eq(berth_map_init_mem(&eps, "endpoints", 4,
					sizeof(struct berth_endpoint_info), 64),
		     0);
	cr_assert_eq(berth_map_init_mem(&ipc, "ipcache",
					sizeof(struct berth_ipcache_key),
					sizeof(struct berth_ipcache_val), 256),
		     0);
	mem_update = pol.update;
	mem_delete = pol.delete;
	pol.update = eps.update = ipc.update = rng.update = t_update;
	pol.delete = eps.delete = ipc.delete = rng.delete = t_delete;
	mem_next = pol.next_key;
	pol.next_key = t_next;
	pol_reads = 0;
	shadow = NULL;
	pods[0] = pod("a", "n1", "10.1.0.1", "a");
	pods[1] = pod("b", "n1", "10.1.0.2", "b");
	pods[2] = pod("c", "n2", "10.1.1.1", "c");
	pods[3] = pod("d", "n2", "10.1.1.2", "a");
	for (int i = 1; i <= 2; i++) {
		char s[32];

		snprintf(s, sizeof(s), "10.1.0.%d", i);
		inet_pton(AF_INET, s, &ip);
		cr_assert_eq(mem_update(&eps, &ip, &v), 0);
	}
	trace[0] = '\0';
}

static void teardown(void)
{
	berth_map_free_mem(&pol);
	berth_map_free_mem(&rng);
	berth_map_free_mem(&eps);
	berth_map_free_mem(&ipc);
	for (int i = 0; i < 4; i++)
		json_object_put(pods[i]);
	for (int i = 0; i < 2; i++)
		if (polobj[i])
			json_object_put(polobj[i]);
	memset(polobj, 0, sizeof(polobj));
}

TestSuite(policysync, .init = setup, .fini = teardown);

static const struct berth_node_route nodes[2] = {
	{ .name = "n1", .self = true, .ip = 0x0100000a /* 10.0.0.1 */ },
	{ .name = "n2", .ip = 0x0200000a },
};

/* compile policies (JSON texts, NULL: none) and sync; -> stats */
static struct berth_policysync_stats run_err(const char *p0, const char *p1)
{
	struct berth_policy_maps maps = { &pol, &eps, &ipc, &rng, shadow };
	struct berth_policysync_stats st;
	struct berth_idtable ids;
	struct berth_policy_result r;
	struct berth_ipcache_entry *want;
	size_t nwant, n = 0;
	const char *texts[2] = { p0, p1 };

	for (int i = 0; i < 2; i++) {
		if (polobj[i])
			json_object_put(polobj[i]);
		polobj[i] = texts[i] ? json_tokener_parse(texts[i]) : NULL;
		if (polobj[i])
			n = i + 1;
	}
	struct berth_policy_input in = {
		.policies = polobj, .npolicies = n, .ids = &ids, .self = "n1"
	};

	cr_assert_eq(berth_identities_build(pods, 4, &ids), 0);
	cr_assert_eq(berth_policy_compile(&in, &r), 0);
	cr_assert_eq(berth_policy_ipcache_want(&ids, &r, nodes, 2, "n1", &want,
					       &nwant),
		     0);
	sync_err = berth_policy_sync(&maps, &r, &ids, want, nwant, &st);
	free(want);
	berth_policy_result_free(&r);
	berth_identities_free(&ids);
	return st;
}

static struct berth_policysync_stats run(const char *p0, const char *p1)
{
	struct berth_policysync_stats st = run_err(p0, p1);

	cr_assert_eq(sync_err, 0, "sync: %s", strerror(-sync_err));
	return st;
}

#define DENY_A                                                             \
	"{\"metadata\":{\"namespace\":\"x\",\"name\":\"p\"},\"spec\":{"    \
	"\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"ingress\":[{" \
	"\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"c\"}}}]}]}}"
#define EXT_B                                                                   \
	"{\"metadata\":{\"namespace\":\"x\",\"name\":\"q\"},\"spec\":{"         \
	"\"podSelector\":{\"matchLabels\":{\"app\":\"b\"}},\"policyTypes\":"    \
	"[\"Ingress\",\"Egress\"],\"egress\":[{\"to\":[{\"ipBlock\":{\"cidr\":" \
	"\"192.168.0.0/16\",\"except\":[\"192.168.1.0/24\"]}}]}]}}"

static uint32_t flags_of(const char *ip)
{
	struct berth_endpoint_info v;
	uint32_t a = inet_addr(ip);

	cr_assert_eq(eps.lookup(&eps, &a, &v), 0);
	return v.flags;
}

static size_t count(struct berth_map *m)
{
	char k[64], cur[64];
	size_t n = 0;
	void *prev = NULL;

	while (!m->next_key(m, prev, k)) {
		memcpy(cur, k, m->key_size);
		prev = cur;
		n++;
	}
	return n;
}

Test(policysync, writes_then_nothing_to_do)
{
	struct berth_policysync_stats st = run(DENY_A, EXT_B);
	struct berth_endpoint_info v;
	uint32_t a = inet_addr("10.1.0.1");

	cr_expect_eq(st.policy_added, count(&pol) + count(&rng));
	cr_expect_gt(count(&pol), 0);
	cr_expect_eq(flags_of("10.1.0.1"), BERTH_EP_F_INGRESS_ENFORCED);
	cr_expect_eq(flags_of("10.1.0.2"),
		     BERTH_EP_F_INGRESS_ENFORCED | BERTH_EP_F_EGRESS_ENFORCED);
	cr_assert_eq(eps.lookup(&eps, &a, &v), 0);
	cr_expect_geq(v.identity, BERTH_ID_LABEL_MIN, "identity written");
	cr_expect_eq(v.ifindex, 7, "the rest of the value kept");
	cr_expect_eq(count(&ipc), 4 + 2, "4 pod /32s, 2 ipBlock prefixes");

	st = run(DENY_A, EXT_B);
	cr_expect_eq(st.policy_added + st.policy_deleted + st.eps_written +
			     st.ipcache_written + st.ipcache_deleted,
		     0, "a second sync writes nothing");
}

Test(policysync, update_order)
{
	const char *p;

	run(DENY_A, NULL);
	trace[0] = '\0';
	run(NULL, EXT_B); /* A loses its policy, B gains one with ipBlocks */
	/* phases: policy adds, endpoint (on), ipcache, endpoint (off), policy deletes */
	p = trace;
	cr_assert(strchr(trace, 'A') && strchr(trace, 'D') &&
			  strchr(trace, 'I') && strchr(trace, 'E'),
		  "every kind of write happened: %s", trace);
	while (*p == 'A')
		p++;
	while (*p == 'E')
		p++;
	while (*p == 'I' || *p == 'i')
		p++;
	while (*p == 'E')
		p++;
	while (*p == 'D')
		p++;
	cr_expect_eq(*p, '\0', "out of order at %td of %s", p - trace, trace);
	cr_expect_eq(flags_of("10.1.0.1"), 0);
}

Test(policysync, node_sync_keeps_identity_entries)
{
	struct berth_node_route routes[2] = { nodes[0], nodes[1] };
	struct berth_nodesync_stats nst;
	size_t before;

	routes[0].net = inet_addr("10.1.0.0");
	routes[0].prefix = 24;
	routes[1].net = inet_addr("10.1.1.0");
	routes[1].prefix = 24;
	run(DENY_A, EXT_B);
	before = count(&ipc);
	cr_assert_eq(berth_nodesync(&ipc, NULL, routes, 2, 1450, &nst), 0);
	cr_expect_eq(nst.ipcache_deleted, 0);
	cr_expect_eq(count(&ipc), before + 4, "node entries added beside");
	cr_expect_eq(run(DENY_A, EXT_B).ipcache_deleted, 0,
		     "and the policy sync leaves the node sync's");
	cr_expect_eq(count(&ipc), before + 4);
}

/* ---- the agent's pass over API objects ---- */

#include "../../userspace/agent/policyagent.h"

Test(policysync, agent_pass_from_api_objects)
{
	json_object *nodeobjs[2] = {
		json_tokener_parse(
			"{\"metadata\":{\"name\":\"n1\"},\"spec\":{\"podCIDR\":"
			"\"10.1.0.0/24\"},\"status\":{\"addresses\":[{\"type\":"
			"\"InternalIP\",\"address\":\"192.0.2.1\"}]}}"),
		json_tokener_parse(
			"{\"metadata\":{\"name\":\"n2\"},\"spec\":{\"podCIDR\":"
			"\"10.1.1.0/24\"},\"status\":{\"addresses\":[{\"type\":"
			"\"InternalIP\",\"address\":\"192.0.2.2\"}]}}"),
	};
	json_object *pobj = json_tokener_parse(EXT_B);
	struct berth_policy_objects o = { .pods = pods,
					  .npods = 4,
					  .policies = &pobj,
					  .npolicies = 1,
					  .nodes = nodeobjs,
					  .nnodes = 2 };
	struct berth_policy_maps maps = { &pol, &eps, &ipc, &rng, NULL };
	struct berth_policysync_stats st;
	struct berth_ipcache_key k = { 32, inet_addr("10.1.1.1") };
	struct berth_ipcache_val v;

	cr_assert_eq(berth_policyagent_sync(&o, "n1", &maps, NULL, &st), 0);
	cr_expect_gt(st.policy_added, 0);
	cr_expect_eq(flags_of("10.1.0.2"),
		     BERTH_EP_F_INGRESS_ENFORCED | BERTH_EP_F_EGRESS_ENFORCED);
	cr_assert_eq(ipc.lookup(&ipc, &k, &v), 0, "remote pod /32");
	cr_expect_eq(v.tunnel_ip, inet_addr("192.0.2.2"), "via its node");
	cr_expect_eq(v.flags, BERTH_IPCACHE_F_POD | BERTH_IPCACHE_F_IDENTITY);
	k = (struct berth_ipcache_key){ 24, inet_addr("192.168.1.0") };
	cr_assert_eq(ipc.lookup(&ipc, &k, &v), 0, "the except prefix");
	cr_expect_geq(v.identity, BERTH_ID_CIDR_MIN);
	json_object_put(nodeobjs[0]);
	json_object_put(nodeobjs[1]);
	json_object_put(pobj);
}

/* ---- the maps' layout, the shadow, a full map ---- */

#define PORTS_A(ports)                                                     \
	"{\"metadata\":{\"namespace\":\"x\",\"name\":\"r\"},\"spec\":{"    \
	"\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"ingress\":[{" \
	"\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"c\"}}}],"  \
	"\"ports\":" ports "}]}}"

/* The only head of the policy map (proto 0); fails if not exactly one. */
static struct berth_policy_val only_head(void)
{
	struct berth_policy_hkey k, cur, *prev = NULL;
	struct berth_policy_val v = { 0 };
	int heads = 0;

	while (!pol.next_key(&pol, prev, &k)) {
		cur = k;
		prev = &cur;
		if (k.proto)
			continue;
		heads++;
		cr_assert_eq(pol.lookup(&pol, &k, &v), 0);
	}
	cr_assert_eq(heads, 1, "one {endpoint, peer, dir}: one head");
	return v;
}

Test(policysync, layout_head_ports_ranges)
{
	struct berth_policy_val h;

	run(PORTS_A("[{\"port\":80},{\"port\":9008,\"endPort\":9023},"
		    "{\"protocol\":\"UDP\"}]"),
	    NULL);
	h = only_head();
	cr_expect_eq(h.flags,
		     BERTH_POLICY_F_PORTS(0) | BERTH_POLICY_F_RANGES(0) |
			     BERTH_POLICY_F_ANY_PORT(1),
		     "TCP ports and ranges, any UDP port: %#x", h.flags);
	cr_expect_eq(count(&pol), 2, "the head and TCP 80");
	cr_expect_eq(count(&rng), 1, "9008-9023: one prefix");

	/* no ports at all: the head alone, allowing any proto */
	run("{\"metadata\":{\"namespace\":\"x\",\"name\":\"r\"},\"spec\":{"
	    "\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"ingress\":[{"
	    "\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"c\"}}}]}]}}",
	    NULL);
	cr_expect_eq(only_head().flags, BERTH_POLICY_F_ALLOW);
	cr_expect_eq(count(&pol), 1);
	cr_expect_eq(count(&rng), 0, "the range entry removed");
}

/* A head both policies hold: union first, the new flags last. */
Test(policysync, head_union_then_new)
{
	run(PORTS_A("[{\"port\":80}]"), NULL);
	trace[0] = '\0';
	run(PORTS_A("[{\"protocol\":\"UDP\"}]"), NULL);
	/* TCP 80's entry stays until the head no longer points to it */
	cr_expect_str_eq(trace, "AAD", "head to union, head to new, delete");
	cr_expect_eq(only_head().flags, BERTH_POLICY_F_ANY_PORT(1));
	cr_expect_eq(count(&pol), 1);
}

Test(policysync, shadow_diffs_in_memory)
{
	struct berth_policy_shadow sh = { 0 };
	struct berth_policysync_stats st;
	size_t reads;

	shadow = &sh;
	run(DENY_A, EXT_B);
	cr_expect(sh.valid, "trusted after a good sync");
	reads = pol_reads;
	st = run(PORTS_A("[{\"port\":80}]"), EXT_B);
	cr_expect_eq(pol_reads, reads, "the policy map not read back");
	cr_expect_gt(st.policy_added, 0);
	st = run(PORTS_A("[{\"port\":80}]"), EXT_B);
	cr_expect_eq(st.policy_added + st.policy_deleted, 0,
		     "nothing to do, from the shadow");
	/* the same maps as a sync that reads them */
	shadow = NULL;
	st = run(PORTS_A("[{\"port\":80}]"), EXT_B);
	cr_expect_eq(st.policy_added + st.policy_deleted, 0,
		     "the shadow held what the maps hold");
	berth_policy_shadow_free(&sh);
}

Test(policysync, full_map_keeps_old_policy_then_recovers)
{
	struct berth_policy_shadow sh = { 0 };
	struct berth_policysync_stats st;
	size_t before;

	shadow = &sh;
	run(NULL, EXT_B);
	before = count(&pol);
	cr_expect_eq(flags_of("10.1.0.1"), 0, "a not selected");
	/* room for 2 more; A's policy needs a head and 4 ports */
	pol.max_entries = before + 2;
	st = run_err(PORTS_A("[{\"port\":80},{\"port\":81},{\"port\":82},"
			     "{\"port\":83}]"),
		     EXT_B);
	cr_expect_eq(sync_err, -E2BIG);
	cr_expect(st.full, "reported full");
	cr_expect(!sh.valid, "the shadow is not trusted after a failure");
	cr_expect_eq(flags_of("10.1.0.1"), 0,
		     "A not enforced: the policy before stays");
	cr_expect_eq(flags_of("10.1.0.2"),
		     BERTH_EP_F_INGRESS_ENFORCED | BERTH_EP_F_EGRESS_ENFORCED,
		     "B's enforcement kept");
	cr_expect_eq(count(&pol), before,
		     "what fit was taken back: the old entries exactly");
	cr_expect_eq(run_err(PORTS_A("[{\"port\":80},{\"port\":81},"
				     "{\"port\":82},{\"port\":83}]"),
			     EXT_B)
			     .full,
		     true, "and again on the retry");

	/* a policy that fits: enforced, the leftovers cleaned */
	st = run_err(PORTS_A("[{\"port\":80}]"), EXT_B);
	cr_expect_eq(sync_err, 0, "recovers: %s", strerror(-sync_err));
	cr_expect(!st.full);
	cr_expect_eq(flags_of("10.1.0.1"), BERTH_EP_F_INGRESS_ENFORCED);
	cr_expect_eq(count(&pol), before + 2, "A's head and port 80");

	/* or room made: the big one goes in */
	pol.max_entries = 4096;
	run(PORTS_A("[{\"port\":80},{\"port\":81},{\"port\":82},"
		    "{\"port\":83}]"),
	    EXT_B);
	cr_expect_eq(count(&pol), before + 5);
	berth_policy_shadow_free(&sh);
}

/*
 * Endpoints whose addresses sort otherwise as raw network-order numbers
 * than as addresses: every one found (r->eps is sorted by address).
 */
Test(policysync, every_endpoint_flag_found)
{
	static const char *const ips[] = { "10.1.0.2", "10.1.1.1", "10.1.2.3",
					   "10.1.0.9" };
	json_object *many[4];
	struct berth_policy_maps maps = { &pol, &eps, &ipc, &rng, NULL };
	json_object *pobj = json_tokener_parse(
		"{\"metadata\":{\"namespace\":\"x\",\"name\":\"all\"},"
		"\"spec\":{\"podSelector\":{}}}");
	struct berth_endpoint_info v = { .ifindex = 7 };
	struct berth_policy_input in = { .policies = &pobj,
					 .npolicies = 1,
					 .self = "n1" };
	struct berth_policysync_stats st;
	struct berth_policy_result r;
	struct berth_idtable ids;

	for (int i = 0; i < 4; i++) {
		char name[8];
		uint32_t a = inet_addr(ips[i]);

		snprintf(name, sizeof(name), "m%d", i);
		many[i] = pod(name, "n1", ips[i], "m");
		cr_assert_eq(mem_update(&eps, &a, &v), 0);
	}
	cr_assert_eq(berth_identities_build(many, 4, &ids), 0);
	in.ids = &ids;
	cr_assert_eq(berth_policy_compile(&in, &r), 0);
	cr_assert_eq(berth_policy_sync(&maps, &r, &ids, NULL, 0, &st), 0);
	for (int i = 0; i < 4; i++)
		cr_expect_eq(flags_of(ips[i]), BERTH_EP_F_INGRESS_ENFORCED,
			     "%s selected", ips[i]);
	berth_policy_result_free(&r);
	berth_identities_free(&ids);
	for (int i = 0; i < 4; i++)
		json_object_put(many[i]);
	json_object_put(pobj);
}
