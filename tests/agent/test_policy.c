// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * NetworkPolicy compiler and identities on small fixed clusters: each
 * semantic of networking.k8s.io/v1 checked through the lookup the BPF side
 * does (berth_policy_allows), plus the diff and the ipcache entries.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../userspace/agent/identity.h"
#include "../../userspace/agent/policy.h"

#define MAXO 16
#define TCP IPPROTO_TCP
#define UDP IPPROTO_UDP
#define SCTP IPPROTO_SCTP

/*
 * The cluster: namespaces x (team=a), y (team=b), z (no labels); pods
 * a (app=a), b (app=b), c (app=c, tier=db) in each, on node n1 except the
 * z pods (n2). Addresses 10.0.<ns>.<pod>. Pod a names port 80 "http" and
 * 53/UDP "dns"; pod b names port 81 "http".
 */
static json_object *pods[MAXO], *nss[MAXO], *pols[MAXO];
static size_t npods, nns, npols;
static struct berth_idtable ids;
static struct berth_policy_result res;
/* kept across the compiles of a test: each result is checked against it */
static struct berth_policy_cache cache;

static json_object *parse(const char *s)
{
	json_object *o = json_tokener_parse(s);

	cr_assert_not_null(o, "fixture JSON: %s", s);
	return o;
}

static void add_pod(const char *ns, const char *name, const char *node,
		    const char *ip, const char *labels, const char *ports)
{
	char buf[2048];

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\","
		 "\"labels\":%s},\"spec\":{\"nodeName\":\"%s\","
		 "\"containers\":[{\"name\":\"c\",\"ports\":%s}]},"
		 "\"status\":{\"phase\":\"Running\",\"podIP\":\"%s\"}}",
		 ns, name, labels, node, ports, ip);
	pods[npods++] = parse(buf);
}

static void add_ns(const char *name, const char *labels)
{
	char buf[512];

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"name\":\"%s\",\"labels\":%s}}", name,
		 labels);
	nss[nns++] = parse(buf);
}

static void setup(void)
{
	static const char *const ns[] = { "x", "y", "z" };

	npods = nns = npols = 0;
	add_ns("x", "{\"team\":\"a\"}");
	add_ns("y", "{\"team\":\"b\"}");
	add_ns("z", "{}");
	for (int i = 0; i < 3; i++) {
		char ip[32];
		const char *node = i == 2 ? "n2" : "n1";

		snprintf(ip, sizeof(ip), "10.0.%d.1", i + 1);
		add_pod(ns[i], "a", node, ip, "{\"app\":\"a\"}",
			"[{\"name\":\"http\",\"containerPort\":80},"
			"{\"name\":\"dns\",\"containerPort\":53,\"protocol\":\"UDP\"}]");
		snprintf(ip, sizeof(ip), "10.0.%d.2", i + 1);
		add_pod(ns[i], "b", node, ip, "{\"app\":\"b\"}",
			"[{\"name\":\"http\",\"containerPort\":81}]");
		snprintf(ip, sizeof(ip), "10.0.%d.3", i + 1);
		add_pod(ns[i], "c", node, ip, "{\"app\":\"c\",\"tier\":\"db\"}",
			"[]");
	}
	memset(&ids, 0, sizeof(ids));
	memset(&res, 0, sizeof(res));
}

static void teardown(void)
{
	berth_policy_cache_free(&cache);
	berth_policy_result_free(&res);
	berth_identities_free(&ids);
	for (size_t i = 0; i < npods; i++)
		json_object_put(pods[i]);
	for (size_t i = 0; i < nns; i++)
		json_object_put(nss[i]);
	for (size_t i = 0; i < npols; i++)
		json_object_put(pols[i]);
}

TestSuite(policy, .init = setup, .fini = teardown);

/* a NetworkPolicy in ns with this spec (JSON text) */
static void policy(const char *ns, const char *name, const char *spec)
{
	char buf[4096];

	snprintf(buf, sizeof(buf),
		 "{\"metadata\":{\"namespace\":\"%s\",\"name\":\"%s\"},"
		 "\"spec\":%s}",
		 ns, name, spec);
	pols[npols++] = parse(buf);
}

static void compile_as(const char *self)
{
	struct berth_policy_input in = { .policies = pols,
					 .npolicies = npols,
					 .namespaces = nss,
					 .nnamespaces = nns,
					 .ids = &ids,
					 .self = self };

	struct berth_policy_result cached;

	berth_policy_result_free(&res);
	berth_identities_free(&ids);
	cr_assert_eq(berth_identities_build(pods, npods, &ids), 0);
	cr_assert_eq(berth_policy_compile(&in, &res), 0);
	/* the same through the cache of the test's earlier compiles */
	in.cache = &cache;
	cr_assert_eq(berth_policy_compile(&in, &cached), 0);
	cr_assert_eq(cached.n, res.n, "cached: %zu entries, want %zu",
		     cached.n, res.n);
	cr_assert_eq(cached.neps, res.neps);
	cr_assert_eq(cached.ncidrs, res.ncidrs);
	cr_assert_eq(cached.errors, res.errors);
	cr_assert(!res.n || !memcmp(cached.entries, res.entries,
				    res.n * sizeof(*res.entries)),
		  "cached entries differ");
	cr_assert(!res.neps ||
			  !memcmp(cached.eps, res.eps, res.neps * sizeof(*res.eps)),
		  "cached endpoint flags differ");
	cr_assert(!res.ncidrs || !memcmp(cached.cidrs, res.cidrs,
					 res.ncidrs * sizeof(*res.cidrs)),
		  "cached CIDR identities differ");
	berth_policy_result_free(&cached);
}

static void compile(void)
{
	compile_as("n1");
}

static uint32_t ip_of(const char *pod) /* "x/a" */
{
	char ip[32];
	int ns = pod[0] - 'x' + 1, k = pod[2] - 'a' + 1;
	struct in_addr a;

	snprintf(ip, sizeof(ip), "10.0.%d.%d", ns, k);
	inet_pton(AF_INET, ip, &a);
	return a.s_addr;
}

static uint32_t id_of(const char *pod)
{
	const struct berth_ident_pod *p = berth_identity_pod(&ids, ip_of(pod));

	cr_assert_not_null(p, "pod %s has an identity", pod);
	return p->id;
}

/* ingress to dst (a local pod) from src */
static bool in_ok(const char *src, const char *dst, int proto, int port)
{
	return berth_policy_allows(&res, ip_of(dst), BERTH_POLICY_INGRESS,
				   id_of(src), proto, port);
}

static bool eg_ok(const char *src, const char *dst, int proto, int port)
{
	return berth_policy_allows(&res, ip_of(src), BERTH_POLICY_EGRESS,
				   id_of(dst), proto, port);
}

static uint32_t ext(const char *ip)
{
	struct in_addr a;

	inet_pton(AF_INET, ip, &a);
	return berth_policy_cidr_identity(&res, a.s_addr);
}

static uint32_t ep_flags(const char *pod)
{
	for (size_t i = 0; i < res.neps; i++)
		if (res.eps[i].ip == ip_of(pod))
			return res.eps[i].flags;
	return ~0u;
}

Test(policy, no_policy_allows_all)
{
	compile();
	cr_expect_eq(res.n, 0);
	cr_expect_eq(res.neps, 6, "x and y pods are on n1: %zu", res.neps);
	cr_expect_eq(ep_flags("x/a"), 0);
	cr_expect(in_ok("y/b", "x/a", TCP, 80));
	cr_expect(eg_ok("x/a", "z/c", UDP, 9));
}

Test(policy, deny_all_ingress)
{
	policy("x", "deny", "{\"podSelector\":{}}");
	compile();
	cr_expect_eq(ep_flags("x/a"), BERTH_EP_F_INGRESS_ENFORCED);
	cr_expect_eq(ep_flags("y/a"), 0, "other namespace not selected");
	cr_expect_not(in_ok("x/b", "x/a", TCP, 80));
	cr_expect_not(in_ok("y/a", "x/c", UDP, 53));
	cr_expect(eg_ok("x/a", "y/a", TCP, 80), "egress not selected");
	cr_expect(berth_policy_allows(&res, ip_of("x/a"), BERTH_POLICY_INGRESS,
				      BERTH_ID_HOST, TCP, 80),
		  "the node always reaches its pods");
	cr_expect_not(berth_policy_allows(&res, ip_of("x/a"),
					  BERTH_POLICY_INGRESS,
					  BERTH_ID_REMOTE_NODE, TCP, 80),
		      "other nodes do not");
}

Test(policy, deny_all_egress)
{
	policy("x", "deny",
	       "{\"podSelector\":{},\"policyTypes\":[\"Egress\"]}");
	compile();
	cr_expect_eq(ep_flags("x/a"), BERTH_EP_F_EGRESS_ENFORCED);
	cr_expect(in_ok("y/a", "x/a", TCP, 80), "ingress not selected");
	cr_expect_not(eg_ok("x/a", "x/b", TCP, 81));
}

Test(policy, default_types_egress_when_egress_rules)
{
	policy("x", "p", "{\"podSelector\":{},\"egress\":[{}]}");
	compile();
	cr_expect_eq(ep_flags("x/a"),
		     BERTH_EP_F_INGRESS_ENFORCED | BERTH_EP_F_EGRESS_ENFORCED);
	cr_expect(eg_ok("x/a", "z/c", UDP, 7), "egress: {} allows all");
	cr_expect_not(in_ok("x/b", "x/a", TCP, 80), "ingress: no rules");
}

Test(policy, allow_same_namespace)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{}}]}]}");
	compile();
	cr_expect(in_ok("x/b", "x/a", TCP, 80));
	cr_expect(in_ok("x/c", "x/b", UDP, 9999));
	cr_expect(in_ok("x/a", "x/a", TCP, 80), "itself");
	cr_expect_not(in_ok("y/b", "x/a", TCP, 80));
	cr_expect_not(in_ok("z/a", "x/a", TCP, 80));
}

Test(policy, pod_selector_only_selected_pods)
{
	policy("x", "p",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},"
	       "\"ingress\":[{\"from\":[{\"podSelector\":{\"matchLabels\":{\"app\":\"b\"}}}]}]}");
	compile();
	cr_expect_eq(ep_flags("x/b"), 0, "b is not selected");
	cr_expect(in_ok("x/b", "x/a", TCP, 80));
	cr_expect_not(in_ok("x/c", "x/a", TCP, 80));
	cr_expect_not(in_ok("y/b", "x/a", TCP, 80), "same labels, other ns");
	cr_expect(in_ok("y/c", "x/b", TCP, 80));
}

Test(policy, namespace_selector)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"namespaceSelector\":"
	       "{\"matchLabels\":{\"team\":\"b\"}}}]}]}");
	compile();
	cr_expect(in_ok("y/a", "x/a", TCP, 80));
	cr_expect(in_ok("y/c", "x/b", UDP, 1));
	cr_expect_not(in_ok("x/b", "x/a", TCP, 80), "own ns not team=b");
	cr_expect_not(in_ok("z/a", "x/a", TCP, 80));
}

Test(policy, namespace_name_label)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"namespaceSelector\":"
	       "{\"matchLabels\":{\"kubernetes.io/metadata.name\":\"z\"}}}]}]}");
	compile();
	cr_expect(in_ok("z/a", "x/a", TCP, 80));
	cr_expect_not(in_ok("y/a", "x/a", TCP, 80));
}

Test(policy, ns_and_pod_in_one_peer_is_and)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"namespaceSelector\":"
	       "{\"matchLabels\":{\"team\":\"b\"}},\"podSelector\":{\"matchLabels\":"
	       "{\"app\":\"c\"}}}]}]}");
	compile();
	cr_expect(in_ok("y/c", "x/a", TCP, 80));
	cr_expect_not(in_ok("y/a", "x/a", TCP, 80));
	cr_expect_not(in_ok("x/c", "x/a", TCP, 80));
}

Test(policy, two_peers_are_or)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"namespaceSelector\":"
	       "{\"matchLabels\":{\"team\":\"b\"}}},{\"podSelector\":{\"matchLabels\":"
	       "{\"app\":\"c\"}}}]}]}");
	compile();
	cr_expect(in_ok("y/a", "x/a", TCP, 80));
	cr_expect(in_ok("x/c", "x/a", TCP, 80));
	cr_expect_not(in_ok("x/b", "x/a", TCP, 80));
	cr_expect_not(in_ok("z/c", "x/a", TCP, 80),
		      "podSelector alone: own ns");
}

Test(policy, match_expressions)
{
	policy("x", "in",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"ingress\":[{\"from\":"
	       "[{\"namespaceSelector\":{},\"podSelector\":{\"matchExpressions\":["
	       "{\"key\":\"app\",\"operator\":\"In\",\"values\":[\"b\",\"c\"]}]}}]}]}");
	policy("x", "notin",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"b\"}},\"ingress\":[{\"from\":"
	       "[{\"podSelector\":{\"matchExpressions\":["
	       "{\"key\":\"app\",\"operator\":\"NotIn\",\"values\":[\"a\"]}]}}]}]}");
	policy("x", "exists",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"c\"}},\"ingress\":[{\"from\":"
	       "[{\"namespaceSelector\":{\"matchExpressions\":[{\"key\":\"team\","
	       "\"operator\":\"DoesNotExist\"}]},\"podSelector\":{\"matchExpressions\":["
	       "{\"key\":\"tier\",\"operator\":\"Exists\"}]}}]}]}");
	compile();
	cr_expect(in_ok("y/b", "x/a", TCP, 80), "In, any namespace");
	cr_expect(in_ok("z/c", "x/a", TCP, 80));
	cr_expect_not(in_ok("y/a", "x/a", TCP, 80));
	cr_expect(in_ok("x/c", "x/b", TCP, 80), "NotIn");
	cr_expect_not(in_ok("x/a", "x/b", TCP, 80));
	cr_expect(in_ok("z/c", "x/c", TCP, 80), "Exists in a DoesNotExist ns");
	cr_expect_not(in_ok("y/c", "x/c", TCP, 80), "y has team");
	cr_expect_not(in_ok("z/a", "x/c", TCP, 80), "a has no tier");
}

Test(policy, ports_numbers_and_protocols)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":80},"
	       "{\"protocol\":\"UDP\",\"port\":53},{\"protocol\":\"SCTP\"}]}]}");
	compile();
	cr_expect(in_ok("z/a", "x/a", TCP, 80), "no from: anyone");
	cr_expect_not(in_ok("z/a", "x/a", TCP, 81));
	cr_expect_not(in_ok("z/a", "x/a", UDP, 80), "TCP is the default");
	cr_expect(in_ok("z/a", "x/a", UDP, 53));
	cr_expect_not(in_ok("z/a", "x/a", TCP, 53));
	cr_expect(in_ok("z/a", "x/a", SCTP, 1234), "SCTP, any port");
	cr_expect(berth_policy_allows(&res, ip_of("x/a"), BERTH_POLICY_INGRESS,
				      BERTH_ID_WORLD, TCP, 80),
		  "no from: outside the cluster too");
}

Test(policy, end_port_range)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":1000,\"endPort\":2000}]}]}");
	compile();
	cr_expect_not(in_ok("y/a", "x/a", TCP, 999));
	cr_expect(in_ok("y/a", "x/a", TCP, 1000));
	cr_expect(in_ok("y/a", "x/a", TCP, 1500));
	cr_expect(in_ok("y/a", "x/a", TCP, 2000));
	cr_expect_not(in_ok("y/a", "x/a", TCP, 2001));
	cr_expect_lt(res.n, 6 * 32, "prefixes, not one entry a port: %zu",
		     res.n);
}

Test(policy, end_port_invalid)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":2000,\"endPort\":1000}]}]}");
	compile();
	cr_expect_gt(res.errors, 0);
	cr_expect_not(in_ok("y/a", "x/a", TCP, 2000),
		      "enforced, nothing allowed");
}

Test(policy, named_port_ingress_per_destination)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":\"http\"}]}]}");
	compile();
	cr_expect(in_ok("y/c", "x/a", TCP, 80), "a: http is 80");
	cr_expect_not(in_ok("y/c", "x/a", TCP, 81));
	cr_expect(in_ok("y/c", "x/b", TCP, 81), "b: http is 81");
	cr_expect_not(in_ok("y/c", "x/b", TCP, 80));
	cr_expect_not(in_ok("y/c", "x/c", TCP, 80), "c has no http");
}

Test(policy, named_port_protocol_must_match)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"ports\":[{\"port\":\"dns\"},"
	       "{\"port\":\"dns\",\"protocol\":\"UDP\"}]}]}");
	compile();
	cr_expect(in_ok("y/c", "x/a", UDP, 53));
	cr_expect_not(in_ok("y/c", "x/a", TCP, 53), "dns is a UDP port");
}

Test(policy, named_port_egress_per_peer)
{
	policy("x", "p",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"c\"}},\"policyTypes\":[\"Egress\"],"
	       "\"egress\":[{\"to\":[{\"namespaceSelector\":{}}],\"ports\":[{\"port\":\"http\"}]}]}");
	policy("y", "q",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"c\"}},\"policyTypes\":[\"Egress\"],"
	       "\"egress\":[{\"ports\":[{\"port\":\"http\"}]}]}");
	compile();
	cr_expect(eg_ok("x/c", "z/a", TCP, 80));
	cr_expect(eg_ok("x/c", "y/b", TCP, 81));
	cr_expect_not(eg_ok("x/c", "y/b", TCP, 80));
	cr_expect_not(eg_ok("x/c", "y/c", TCP, 80), "c names no http");
	cr_expect(eg_ok("y/c", "x/b", TCP, 81),
		  "no to: every pod, by its name");
	cr_expect_not(eg_ok("y/c", "x/b", TCP, 80));
	cr_expect_not(berth_policy_allows(&res, ip_of("y/c"),
					  BERTH_POLICY_EGRESS, BERTH_ID_WORLD,
					  TCP, 80),
		      "outside the cluster has no port names");
}

Test(policy, egress_dns_only)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"policyTypes\":[\"Egress\"],\"egress\":[{\"ports\":"
	       "[{\"protocol\":\"UDP\",\"port\":53}]}]}");
	compile();
	cr_expect(eg_ok("x/a", "z/a", UDP, 53));
	cr_expect_not(eg_ok("x/a", "z/a", TCP, 53));
	cr_expect_not(eg_ok("x/a", "x/b", TCP, 81));
}

Test(policy, ipblock_with_except)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
	       "\"192.168.0.0/16\",\"except\":[\"192.168.1.0/24\"]}}]}]}");
	policy("y", "q",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
	       "\"192.168.1.128/25\"}}]}]}");
	compile();
	cr_expect_eq(res.ncidrs, 3);
	cr_expect_neq(ext("192.168.2.3"), ext("192.168.1.3"));
	cr_expect_neq(ext("192.168.1.3"), ext("192.168.1.200"));
	cr_expect_eq(ext("10.9.9.9"), BERTH_ID_WORLD);
	for (size_t i = 0; i < res.ncidrs; i++)
		cr_expect_geq(res.cidrs[i].id, BERTH_ID_CIDR_MIN);
#define EXT_OK(pod, ip)                                                      \
	berth_policy_allows(&res, ip_of(pod), BERTH_POLICY_INGRESS, ext(ip), \
			    TCP, 80)
	cr_expect(EXT_OK("x/a", "192.168.2.3"));
	cr_expect(EXT_OK("x/a", "192.168.255.1"));
	cr_expect_not(EXT_OK("x/a", "192.168.1.3"), "except");
	cr_expect_not(EXT_OK("x/a", "192.168.1.200"), "except, inside y's /25");
	cr_expect_not(EXT_OK("x/a", "10.9.9.9"));
	cr_expect(EXT_OK("y/a", "192.168.1.200"));
	cr_expect_not(EXT_OK("y/a", "192.168.1.3"));
	cr_expect_not(in_ok("x/b", "x/a", TCP, 80),
		      "pods have their own identity");
#undef EXT_OK
}

Test(policy, ipblock_except_outside_cidr_is_invalid)
{
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
	       "\"192.168.0.0/16\",\"except\":[\"10.0.0.0/8\"]}}]}]}");
	compile();
	cr_expect_gt(res.errors, 0);
}

Test(policy, cidr_identity_changes_with_its_carve_outs)
{
	uint32_t before, after;

	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
	       "\"192.168.0.0/16\"}}]}]}");
	compile();
	before = ext("192.168.2.3");
	json_object_put(pols[--npols]);
	policy("x", "p",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"ipBlock\":{\"cidr\":"
	       "\"192.168.0.0/16\",\"except\":[\"192.168.1.0/24\"]}}]}]}");
	compile();
	after = ext("192.168.2.3");
	cr_expect_neq(before, after,
		      "a number keeps one meaning: the /16 minus a /24 is new");
}

Test(policy, union_of_policies)
{
	policy("x", "p1",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{}}],"
	       "\"ports\":[{\"port\":80}]}]}");
	policy("x", "p2",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"ingress\":[{\"from\":"
	       "[{\"namespaceSelector\":{}}],\"ports\":[{\"port\":81}]}]}");
	compile();
	cr_expect(in_ok("x/b", "x/a", TCP, 80));
	cr_expect(in_ok("y/b", "x/a", TCP, 81));
	cr_expect_not(in_ok("y/b", "x/a", TCP, 80));
	cr_expect_not(in_ok("y/b", "x/b", TCP, 81), "p2 selects only a");
}

Test(policy, only_this_nodes_pods)
{
	policy("z", "deny", "{\"podSelector\":{}}");
	compile();
	cr_expect_eq(ep_flags("z/a"), ~0u, "z pods are on n2: no entries here");
	compile_as("n2");
	cr_expect_eq(ep_flags("z/a"), BERTH_EP_F_INGRESS_ENFORCED);
}

Test(policy, diff_touches_only_changes)
{
	struct berth_policy_result old;
	struct berth_policy_diff d;

	policy("x", "p1",
	       "{\"podSelector\":{},\"ingress\":[{\"from\":[{\"podSelector\":{}}]}]}");
	compile();
	cr_assert_eq(berth_policy_diff(NULL, &res, &d), 0);
	cr_expect_eq(d.nadd, res.n);
	cr_expect_eq(d.neps_on, 3, "x/a, x/b, x/c turn on");
	berth_policy_diff_free(&d);

	old = res;
	memset(&res, 0, sizeof(res));
	policy("y", "p2",
	       "{\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},\"policyTypes\":[\"Egress\"]}");
	compile();
	cr_assert_eq(berth_policy_diff(&old, &res, &d), 0);
	cr_expect_eq(d.nadd, 0, "deny-all egress adds no allow");
	cr_expect_eq(d.ndel, 0);
	cr_expect_eq(d.neps_on, 1);
	cr_expect_eq(d.ep_on[0].ip, ip_of("y/a"));
	cr_expect_eq(d.ep_on[0].flags, BERTH_EP_F_EGRESS_ENFORCED);
	berth_policy_diff_free(&d);
	berth_policy_result_free(&old);

	old = res;
	memset(&res, 0, sizeof(res));
	json_object_put(pols[0]);
	pols[0] = pols[--npols];
	compile();
	cr_assert_eq(berth_policy_diff(&old, &res, &d), 0);
	cr_expect_eq(d.nadd, 0);
	cr_expect_eq(d.ndel, old.n, "p1's entries go");
	cr_expect_eq(d.neps_off, 3, "x pods turn off");
	berth_policy_diff_free(&d);
	cr_assert_eq(berth_policy_diff(&res, &res, &d), 0);
	cr_expect_eq(d.nadd + d.ndel + d.neps_on + d.neps_off, 0,
		     "nothing changed, nothing written");
	berth_policy_diff_free(&d);
	berth_policy_result_free(&old);
}

Test(policy, port_range_prefixes)
{
	struct berth_policy_key base = { .ep_ip = 1, .dir = 1, .proto = TCP },
				k[40];
	static const uint16_t ranges[][2] = {
		{ 0, 65535 }, { 80, 80 },	{ 1000, 2000 },
		{ 1, 65535 }, { 65535, 65535 }, { 32767, 32768 }
	};

	for (size_t r = 0; r < sizeof(ranges) / sizeof(ranges[0]); r++) {
		uint32_t lo = ranges[r][0], hi = ranges[r][1], covered = 0;
		size_t n = berth_policy_range(&base, lo, hi, k);

		cr_expect_leq(n, 30);
		for (uint32_t p = 0; p < 65536; p++) {
			int hits = 0;

			for (size_t i = 0; i < n; i++) {
				int bits = k[i].prefixlen - 80;
				uint16_t m = bits ? 0xffff << (16 - bits) : 0;

				hits += (p & m) == (ntohs(k[i].port) & m);
			}
			cr_assert_leq(hits, 1, "prefixes overlap at %u", p);
			cr_assert_eq(hits, p >= lo && p <= hi, "%u in [%u,%u]",
				     p, lo, hi);
			covered += hits;
		}
		cr_expect_eq(covered, hi - lo + 1);
	}
	cr_expect_eq(berth_policy_range(&base, 0, 65535, k), 1);
	cr_expect_eq(k[0].prefixlen, BERTH_POLICY_PREFIX_ANY_PORT);
}

/* ---- identities ---- */

Test(policy, identity_by_labels)
{
	add_pod("x", "a2", "n2", "10.0.9.1", "{\"app\":\"a\"}", "[]");
	add_pod("x", "ab", "n2", "10.0.9.2", "{\"z\":\"1\",\"app\":\"b\"}",
		"[]");
	add_pod("x", "ba", "n2", "10.0.9.3", "{\"app\":\"b\",\"z\":\"1\"}",
		"[]");
	compile();
	cr_expect_eq(id_of("x/a"),
		     berth_identity_pod(&ids, inet_addr("10.0.9.1"))->id,
		     "same labels, same namespace: one identity");
	cr_expect_eq(berth_identity_pod(&ids, inet_addr("10.0.9.2"))->id,
		     berth_identity_pod(&ids, inet_addr("10.0.9.3"))->id,
		     "label order does not matter");
	cr_expect_neq(id_of("x/a"), id_of("y/a"), "namespace is part of it");
	cr_expect_neq(id_of("x/a"), id_of("x/b"));
	cr_expect_geq(id_of("x/a"), BERTH_ID_LABEL_MIN);
	cr_expect_leq(id_of("x/a"), BERTH_ID_LABEL_MAX);
	cr_expect_eq(ids.n, 10);
}

Test(policy, identity_skips_host_network_and_finished)
{
	pods[npods++] = parse(
		"{\"metadata\":{\"namespace\":\"x\",\"name\":\"h\"},\"spec\":{"
		"\"hostNetwork\":true,\"nodeName\":\"n1\"},\"status\":{\"podIP\":\"192.0.2.1\"}}");
	pods[npods++] = parse(
		"{\"metadata\":{\"namespace\":\"x\",\"name\":\"d\"},\"spec\":{"
		"\"nodeName\":\"n1\"},\"status\":{\"phase\":\"Succeeded\",\"podIP\":\"10.0.1.9\"}}");
	compile();
	cr_expect_eq(ids.npods, 9);
	cr_expect_null(berth_identity_pod(&ids, inet_addr("192.0.2.1")));
	cr_expect_null(berth_identity_pod(&ids, inet_addr("10.0.1.9")));
}

/* canonical key as identity.c builds it for ns "q" and one label k=v<i> */
static size_t key_of(int i, char *buf)
{
	int n = sprintf(buf, "q%ck=v%d", 0, i);

	return n + 1;
}

struct hi {
	uint32_t h;
	int i;
};

static int cmp_hi(const void *x, const void *y)
{
	const struct hi *a = x, *b = y;

	if (a->h != b->h)
		return a->h < b->h ? -1 : 1;
	return a->i - b->i;
}

Test(policy, identity_collisions_resolved_the_same_everywhere)
{
	enum { N = 200000 };
	struct hi *h = calloc(N, sizeof(*h));
	char buf[64], lab[64], ip[32];
	int a = -1, b = -1;

	cr_assert_not_null(h);
	for (int i = 0; i < N; i++) {
		h[i].h = berth_identity_hash(buf, key_of(i, buf));
		h[i].i = i;
	}
	qsort(h, N, sizeof(*h), cmp_hi);
	for (int i = 1; i < N && a < 0; i++)
		if (h[i].h == h[i - 1].h) {
			a = h[i - 1].i;
			b = h[i].i;
		}
	free(h);
	cr_assert_geq(a, 0, "a colliding pair among %d label sets", N);
	for (int order = 0; order < 2; order++) {
		struct berth_idtable t;
		json_object *ps[2];
		uint32_t ida, idb, hh;
		int first = order ? b : a, second = order ? a : b;

		for (int k = 0; k < 2; k++) {
			snprintf(lab, sizeof(lab), "{\"k\":\"v%d\"}",
				 k ? second : first);
			snprintf(ip, sizeof(ip), "10.9.0.%d",
				 k ? second % 200 + 1 : 250);
			snprintf(buf, sizeof(buf), "%d", k);
			add_pod("q", buf, "n1", ip, lab, "[]");
			ps[k] = pods[--npods];
		}
		cr_assert_eq(berth_identities_build(ps, 2, &t), 0);
		cr_assert_eq(t.n, 2);
		ida = berth_identity_find(
			&t, "q",
			json_object_object_get(
				json_object_object_get(ps[order ? 1 : 0],
						       "metadata"),
				"labels"));
		idb = berth_identity_find(
			&t, "q",
			json_object_object_get(
				json_object_object_get(ps[order ? 0 : 1],
						       "metadata"),
				"labels"));
		hh = berth_identity_hash(buf, key_of(a, buf));
		cr_expect_neq(ida, idb, "colliding label sets told apart");
		/* keys sort by text: v<a> vs v<b>; the smaller keeps the hash */
		{
			char ka[64], kb[64];
			size_t la = key_of(a, ka), lb = key_of(b, kb);
			bool a_first =
				memcmp(ka, kb, la < lb ? la : lb) < 0 ||
				(!memcmp(ka, kb, la < lb ? la : lb) && la < lb);

			cr_expect_eq(a_first ? ida : idb, hh);
			cr_expect_eq(a_first ? idb : ida,
				     hh == BERTH_ID_LABEL_MAX ?
					     BERTH_ID_LABEL_MIN :
					     hh + 1);
		}
		berth_identities_free(&t);
		json_object_put(ps[0]);
		json_object_put(ps[1]);
	}
}

Test(policy, identity_ipcache_entries)
{
	struct berth_node_route nodes[2] = {
		{ .name = "n1", .self = true, .ip = inet_addr("192.0.2.1") },
		{ .name = "n2", .ip = inet_addr("192.0.2.2") },
	};
	struct berth_ipcache_entry *e;
	size_t n;

	compile();
	cr_assert_eq(berth_identity_ipcache(&ids, nodes, 2, "n1", &e, &n), 0);
	cr_assert_eq(n, 9);
	for (size_t i = 0; i < n; i++) {
		bool remote = (ntohl(e[i].key.ip) >> 8 & 0xff) == 3; /* ns z */

		cr_expect_eq(e[i].key.prefixlen, 32);
		cr_expect_eq(e[i].val.tunnel_ip, remote ? nodes[1].ip : 0);
		cr_expect_eq(e[i].val.flags,
			     BERTH_IPCACHE_F_POD |
				     (remote ? 0 : BERTH_IPCACHE_F_LOCAL));
		cr_expect_eq(e[i].val.identity,
			     berth_identity_pod(&ids, e[i].key.ip)->id);
		if (i)
			cr_expect_lt(memcmp(&e[i - 1].key, &e[i].key,
					    sizeof(e[i].key)),
				     0, "sorted");
	}
	free(e);
}

/* ---- the truth table's cases, against the e2e test's model ---- */

/* tests/e2e/test_mn_netpol.py --dump-model, run from the repository */
static json_object *model_dump(void)
{
	const char *cmd = "python3 tests/e2e/test_mn_netpol.py --dump-model";
	size_t len = 0, cap = 1 << 20;
	char *buf = malloc(cap);
	FILE *f = popen(cmd, "r");
	json_object *o;
	size_t n;

	cr_assert_not_null(buf);
	cr_assert_not_null(f, "%s", cmd);
	while ((n = fread(buf + len, 1, cap - len - 1, f)) > 0) {
		len += n;
		if (len + 1 == cap) {
			cap *= 2;
			buf = realloc(buf, cap);
			cr_assert_not_null(buf);
		}
	}
	cr_assert_eq(pclose(f), 0, "%s (run from the repository)", cmd);
	buf[len] = '\0';
	o = json_tokener_parse(buf);
	free(buf);
	cr_assert_not_null(o, "%s: JSON", cmd);
	return o;
}

static int proto_num(const char *s)
{
	return !strcmp(s, "TCP") ? TCP : !strcmp(s, "UDP") ? UDP : SCTP;
}

/* one case: compile for both nodes, compare every probe with the model */
static size_t check_case(json_object *cs, json_object *const *ps, size_t np,
			 json_object *const *nsobjs, size_t nn)
{
	json_object *pol = json_object_object_get(cs, "policies");
	json_object *exp = json_object_object_get(cs, "expect");
	const char *name = json_object_get_string(
		json_object_object_get(cs, "name"));
	struct berth_policy_result r[2];
	struct berth_idtable t;
	json_object *pv[16];
	size_t npv = json_object_array_length(pol), bad = 0;

	cr_assert_leq(npv, 16);
	for (size_t i = 0; i < npv; i++)
		pv[i] = json_object_array_get_idx(pol, i);
	cr_assert_eq(berth_identities_build(ps, np, &t), 0);
	for (int k = 0; k < 2; k++) {
		struct berth_policy_input in = { pv, npv, nsobjs, nn, &t,
						 k ? "n2" : "n1" };

		cr_assert_eq(berth_policy_compile(&in, &r[k]), 0);
	}
	for (size_t i = 0; i < json_object_array_length(exp); i++) {
		json_object *e = json_object_array_get_idx(exp, i);
#define E(j) json_object_array_get_idx(e, j)
		uint32_t s = inet_addr(json_object_get_string(E(0)));
		uint32_t d = inet_addr(json_object_get_string(E(1)));
		int proto = proto_num(json_object_get_string(E(2)));
		int port = json_object_get_int(E(3)), want = json_object_get_int(E(4));
#undef E
		const struct berth_ident_pod *sp = berth_identity_pod(&t, s);
		const struct berth_ident_pod *dp = berth_identity_pod(&t, d);
		const struct berth_policy_result *rd = &r[dp->node[1] == '2'];
		uint32_t sid = sp ? sp->id : berth_policy_cidr_identity(rd, s);
		bool got = berth_policy_allows(rd, d, BERTH_POLICY_INGRESS, sid,
					       proto, port);

		if (sp)
			got = got &&
			      berth_policy_allows(&r[sp->node[1] == '2'], s,
						  BERTH_POLICY_EGRESS, dp->id,
						  proto, port);
		/* a pod to itself stays in its netns: no map is consulted */
		if (s == d)
			got = true;
		if (got != want && bad++ < 5)
			cr_log_error("case %s: %s/%s -> %s/%s %d/%d: model %d, compiler %d",
				     name, sp ? sp->ns : "ext",
				     sp ? sp->name : "", dp->ns, dp->name,
				     proto, port, want, got);
	}
	berth_policy_result_free(&r[0]);
	berth_policy_result_free(&r[1]);
	berth_identities_free(&t);
	return bad;
}

Test(policy, agrees_with_the_truth_table_model, .timeout = 60)
{
	json_object *d = model_dump(), *ps[16], *nsobjs[8];
	json_object *jp = json_object_object_get(d, "pods");
	json_object *jn = json_object_object_get(d, "namespaces");
	json_object *cases = json_object_object_get(d, "cases");
	size_t np = json_object_array_length(jp), nn = 0, failed = 0;

	cr_assert_leq(np, 16);
	for (size_t i = 0; i < np; i++)
		ps[i] = json_object_array_get_idx(jp, i);
	json_object_object_foreach(jn, name, labels)
	{
		nsobjs[nn] = json_object_new_object();
		json_object *meta = json_object_new_object();

		json_object_object_add(meta, "name",
				       json_object_new_string(name));
		json_object_object_add(meta, "labels", json_object_get(labels));
		json_object_object_add(nsobjs[nn++], "metadata", meta);
	}
	cr_assert_geq(json_object_array_length(cases), 25);
	for (size_t i = 0; i < json_object_array_length(cases); i++)
		failed += check_case(json_object_array_get_idx(cases, i), ps,
				     np, nsobjs, nn) > 0;
	cr_expect_eq(failed, 0, "%zu cases where the compiler and the model differ",
		     failed);
	for (size_t i = 0; i < nn; i++)
		json_object_put(nsobjs[i]);
	json_object_put(d);
}

/* The cache: unchanged policies replayed, any change of the rest flushes. */
Test(policy, cache_replays_until_the_cluster_changes)
{
	policy("x", "p", "{\"podSelector\":{\"matchLabels\":{\"app\":\"a\"}},"
			 "\"ingress\":[{\"from\":[{\"podSelector\":{}}],"
			 "\"ports\":[{\"port\":\"http\"}]}]}");
	policy("x", "q", "{\"podSelector\":{},\"policyTypes\":[\"Egress\"]}");
	compile();
	cr_expect_eq(cache.misses, 2, "first pass: all compiled");
	compile();
	cr_expect_eq(cache.hits, 2, "unchanged: all replayed");
	cr_expect_eq(cache.misses, 0);
	/* a pod's labels change: every policy may select otherwise */
	json_object_object_add(
		json_object_object_get(json_object_object_get(pods[1],
							      "metadata"),
				       "labels"),
		"app", json_object_new_string("a"));
	compile();
	cr_expect_eq(cache.misses, 2, "labels changed: compiled again");
	cr_expect(in_ok("x/c", "x/b", TCP, 81),
		  "x/b now app=a: its own http (81) from the namespace");
	cr_expect(!in_ok("x/c", "x/b", TCP, 80), "and nothing else");
	/* one policy changes: only it is compiled */
	json_object_put(pols[1]);
	npols--;
	policy("x", "q", "{\"podSelector\":{},\"policyTypes\":[\"Ingress\"]}");
	compile();
	cr_expect_eq(cache.hits, 1);
	cr_expect_eq(cache.misses, 1);
}
