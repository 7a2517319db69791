// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* NetworkPolicy as ipsets and filter chains: what one compiled result
 * renders to. */
#include <arpa/inet.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../userspace/agent/ipt_policy.h"
#include "../../userspace/agent/ipt_render.h"

#define CIDR_A (BERTH_ID_CIDR_MIN + 1) /* 10.200.0.0/24 */
#define CIDR_B (BERTH_ID_CIDR_MIN + 2) /* 10.200.0.201/32, an except */

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static struct berth_policy_entry entry(uint8_t dir, uint32_t id, uint8_t proto,
				       uint16_t port, uint32_t prefixlen)
{
	return (struct berth_policy_entry){
		.key = { .prefixlen = prefixlen,
			 .ep_ip = ip4("10.244.0.2"),
			 .identity = htonl(id),
			 .dir = dir,
			 .proto = proto,
			 .port = htons(port) },
		.val = { .flags = BERTH_POLICY_F_ALLOW },
	};
}

static char *sets, *rules;

static void render(const char *const *stale, size_t nstale)
{
	static struct berth_policy_entry e[4];
	static struct berth_policy_ep eps[1];
	static struct berth_policy_cidr cidrs[2];
	static struct berth_ident_pod pods[2];
	static uint32_t nodes[2];
	struct berth_policy_result r = { 0 };
	struct berth_idtable ids = { 0 };

	e[0] = entry(BERTH_POLICY_INGRESS, 300, IPPROTO_TCP, 80, 96);
	e[1] = entry(BERTH_POLICY_INGRESS, BERTH_ID_ANY, IPPROTO_UDP, 0, 80);
	/* 8000-8001: one port prefix of 15 bits */
	e[2] = entry(BERTH_POLICY_INGRESS, CIDR_A, IPPROTO_TCP, 8000, 95);
	e[3] = entry(BERTH_POLICY_EGRESS, 300, 0, 0, 72);
	eps[0] = (struct berth_policy_ep){ ip4("10.244.0.2"),
					   BERTH_EP_F_INGRESS_ENFORCED |
						   BERTH_EP_F_EGRESS_ENFORCED };
	cidrs[0] = (struct berth_policy_cidr){ ip4("10.200.0.0"), 24, CIDR_A };
	cidrs[1] =
		(struct berth_policy_cidr){ ip4("10.200.0.201"), 32, CIDR_B };
	pods[0] =
		(struct berth_ident_pod){ .ip = ip4("10.244.0.2"), .id = 301 };
	pods[1] =
		(struct berth_ident_pod){ .ip = ip4("10.244.1.3"), .id = 300 };
	nodes[0] = ip4("10.200.0.1");
	nodes[1] = ip4("10.200.0.2");
	r = (struct berth_policy_result){ .entries = e,
					  .n = 4,
					  .eps = eps,
					  .neps = 1,
					  .cidrs = cidrs,
					  .ncidrs = 2 };
	ids = (struct berth_idtable){ .pods = pods, .npods = 2 };
	struct berth_ipt_policy_in in = { .r = &r,
					  .ids = &ids,
					  .node_ips = nodes,
					  .nnode_ips = 2,
					  .self_ip = nodes[0] };

	cr_assert_eq(berth_ipt_policy_render(&in, stale, nstale, &sets, &rules),
		     0);
}

static void fini(void)
{
	free(sets);
	free(rules);
	sets = rules = NULL;
}

TestSuite(ipt_policy, .fini = fini);

Test(ipt_policy, sets)
{
	render(NULL, 0);
	/* a label identity: its pods */
	cr_assert_not_null(strstr(sets, "create berth-300 hash:ip -exist\n"
					"create berth-300-t hash:ip -exist\n"
					"flush berth-300-t\n"
					"add berth-300-t 10.244.1.3\n"
					"swap berth-300-t berth-300\n"
					"destroy berth-300-t\n"),
			   "%s", sets);
	/* a CIDR identity: its prefix minus what has an identity of its own
	 * (the except, the nodes) */
	cr_assert_not_null(
		strstr(sets, "add berth-16777217-t 10.200.0.0/24\n"
			     "add berth-16777217-t 10.200.0.201/32 nomatch\n"
			     "add berth-16777217-t 10.200.0.1/32 nomatch\n"
			     "add berth-16777217-t 10.200.0.2/32 nomatch\n"),
		"%s", sets);
	cr_assert_null(strstr(sets, "berth-16777218"), "only named sets");
	cr_assert_null(strstr(sets, "berth-0 "), "any peer: no set");
}

Test(ipt_policy, chains)
{
	char pi[BERTH_IPT_CHAIN_MAX], pe[BERTH_IPT_CHAIN_MAX], want[1024];

	render(NULL, 0);
	berth_ipt_chain_name("BERTH-PI-", "10.244.0.2", pi);
	berth_ipt_chain_name("BERTH-PE-", "10.244.0.2", pe);
	snprintf(
		want, sizeof(want),
		"-A BERTH-POLICY -m conntrack --ctstate RELATED,ESTABLISHED -j RETURN\n"
		"-A BERTH-POLICY -s 10.244.0.2/32 -j %s\n"
		"-A BERTH-POLICY -d 10.244.0.2/32 -j %s\n",
		pe, pi);
	cr_assert_not_null(strstr(rules, want), "%s", rules);
	snprintf(want, sizeof(want), "-A %s -s 10.200.0.1/32 -j RETURN\n", pi);
	cr_assert_not_null(strstr(rules, want), "this node always passes");
	snprintf(
		want, sizeof(want),
		"-A %s -m set --match-set berth-300 src -p tcp -m tcp --dport 80 -j RETURN\n"
		"-A %s -p udp -j RETURN\n"
		"-A %s -m set --match-set berth-16777217 src -p tcp -m tcp --dport 8000:8001 -j RETURN\n"
		"-A %s -m set --match-set berth-300 dst -j RETURN\n",
		pi, pi, pi, pe);
	cr_assert_not_null(strstr(rules, want), "%s", rules);
	snprintf(
		want, sizeof(want),
		"-A %s -m comment --comment \"10.244.0.2 ingress: not allowed by any NetworkPolicy\" -j DROP\n",
		pi);
	cr_assert_not_null(strstr(rules, want));
}

Test(ipt_policy, stale_chains_deleted)
{
	const char *const stale[] = { "BERTH-PI-AAAAAAAAAAAAAAAA" };
	char pi[BERTH_IPT_CHAIN_MAX];
	const char *const kept[] = { pi };

	render(stale, 1);
	cr_assert_not_null(
		strstr(rules, ":BERTH-PI-AAAAAAAAAAAAAAAA - [0:0]\n"));
	cr_assert_not_null(
		strstr(rules, "-X BERTH-PI-AAAAAAAAAAAAAAAA\nCOMMIT\n"));
	free(sets);
	free(rules);
	berth_ipt_chain_name("BERTH-PI-", "10.244.0.2", pi);
	render(kept, 1);
	cr_assert_null(strstr(rules, "-X "), "a rendered chain is kept");
}
