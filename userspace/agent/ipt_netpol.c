// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* NetworkPolicy watches -> ipsets and filter chains (ipt_netpol.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/kube.h>
#include <berth/log.h>

#include "identity.h"
#include "ipt_netpol.h"
#include "ipt_policy.h"
#include "ipt_sync.h"
#include "kview.h"
#include "nodesync.h"
#include "policy.h"
#include "policyagent.h"
#include "syncloop.h"

#define DEBOUNCE_MS 50
#define RETRY_MS 1000

struct berth_iptnetpol {
	struct berth_iptnetpol_opts opts;
	char node_name[254];
	uint32_t self_ip;
	struct berth_syncloop loop; /* its mu guards the views */
};

/* ---- applying ---- */

static int run_tool(const char *const *argv, const char *in, const char *what)
{
	char err[256];
	int ret = berth_ipt_exec(argv, in, NULL, err, sizeof(err));

	if (ret)
		pr_err("network policy: %s: %s", what, err);
	return ret < 0 ? ret : ret ? -EIO : 0;
}

/* BERTH-PI-/PE- chains in the kernel: the render deletes the unused. */
static int stale_chains(char ***out, size_t *n)
{
	struct berth_ipt_kchain *k = NULL;
	size_t nk = 0, m = 0;
	char **v;
	int err = berth_ipt_list_chains("filter", &k, &nk);

	if (err)
		return err;
	v = calloc(nk ? nk : 1, sizeof(*v));
	for (size_t i = 0; v && i < nk; i++)
		if (berth_ipt_policy_chain(k[i].name) &&
		    !(v[m++] = strdup(k[i].name)))
			err = -ENOMEM;
	free(k);
	if (!v)
		return -ENOMEM;
	*out = v;
	*n = m;
	return err;
}

static void strv_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Sets in the kernel that no rule names any more go. */
static void destroy_unused_sets(const char *rules)
{
	char **sets = NULL, pat[64];
	size_t n = 0;

	if (berth_ipt_list_sets(&sets, &n))
		return;
	for (size_t i = 0; i < n; i++) {
		const char *argv[] = { "ipset", "destroy", sets[i], NULL };

		snprintf(pat, sizeof(pat), "--match-set %s ", sets[i]);
		if (!strstr(rules, pat))
			run_tool(argv, NULL, "ipset destroy");
	}
	strv_free(sets, n);
}

static int apply(struct berth_iptnetpol *p, const struct berth_policy_result *r,
		 const struct berth_idtable *ids, const uint32_t *node_ips,
		 size_t nnode)
{
	const struct berth_ipt_policy_in in = { .r = r,
						.ids = ids,
						.node_ips = node_ips,
						.nnode_ips = nnode,
						.self_ip = p->self_ip };
	const char *ipset[] = { "ipset", "restore", NULL };
	const char *restore[] = { berth_ipt_bin(BERTH_IPT_TOOL_RESTORE), "-w",
				  "--noflush", NULL };
	char **stale = NULL, *sets = NULL, *rules = NULL;
	size_t nstale = 0;
	int err;

	err = stale_chains(&stale, &nstale);
	if (!err)
		err = berth_ipt_policy_render(&in, (const char *const *)stale,
					      nstale, &sets, &rules);
	strv_free(stale, nstale);
	if (err)
		return err;
	/* sets before the rules that name them; the jump last, so a first
	 * sync never sends traffic into a chain that is not there */
	err = run_tool(ipset, sets, "ipset restore");
	if (!err)
		err = run_tool(restore, rules, "iptables-restore");
	if (!err)
		err = berth_ipt_policy_jump();
	if (!err)
		destroy_unused_sets(rules);
	free(sets);
	free(rules);
	return err;
}

/* Called with loop.mu held; drops it while compiling and applying. */
static int netpol_sync(void *arg)
{
	struct berth_iptnetpol *p = arg;
	json_object **o[BERTH_PV_MAX] = { 0 };
	size_t n[BERTH_PV_MAX] = { 0 }, nnodes = 0;
	struct berth_policy_result r = { 0 };
	struct berth_idtable ids = { 0 };
	struct berth_node_route *nodes = NULL;
	uint32_t *ips = NULL;
	int err = 0;

	for (int i = 0; i < BERTH_PV_MAX && !err; i++)
		err = berth_kview_objects(&p->loop.views[i], &o[i], &n[i]);
	pthread_mutex_unlock(&p->loop.mu);
	if (!err)
		err = berth_nodes_parse(o[BERTH_PV_NODES], n[BERTH_PV_NODES],
					p->node_name, &nodes, &nnodes);
	if (!err)
		err = berth_identities_build(o[BERTH_PV_PODS], n[BERTH_PV_PODS],
					     &ids);
	if (!err) {
		struct berth_policy_input in = {
			.policies = o[BERTH_PV_POLICIES],
			.npolicies = n[BERTH_PV_POLICIES],
			.namespaces = o[BERTH_PV_NAMESPACES],
			.nnamespaces = n[BERTH_PV_NAMESPACES],
			.ids = &ids,
			.self = p->node_name,
		};

		err = berth_policy_compile(&in, &r);
	}
	ips = calloc(nnodes ? nnodes : 1, sizeof(*ips));
	for (size_t i = 0; ips && i < nnodes; i++)
		ips[i] = nodes[i].ip;
	if (!err)
		err = ips ? apply(p, &r, &ids, ips, nnodes) : -ENOMEM;
	if (!err)
		pr_info("network policy (iptables): %zu policies, %zu local pods, %zu allows",
			n[BERTH_PV_POLICIES], r.neps, r.n);
	free(ips);
	free(nodes);
	berth_policy_result_free(&r);
	berth_identities_free(&ids);
	pthread_mutex_lock(&p->loop.mu);
	for (int i = 0; i < BERTH_PV_MAX; i++)
		berth_kview_put(o[i], n[i]);
	return err;
}

static int start(struct berth_iptnetpol *p)
{
	const struct berth_syncloop_opts lo = {
		.debounce_ms = DEBOUNCE_MS,
		.retry_ms = RETRY_MS,
		/* the periodic pass repairs what others removed */
		.idle_ms = p->opts.full_sync_s * 1000L,
		.sync = netpol_sync,
		.ctx = p,
	};
	int err = berth_syncloop_init(&p->loop, &lo, berth_policy_collections,
				      BERTH_PV_MAX);

	return err ?: berth_syncloop_start(&p->loop, p->opts.kubeconfig);
}

int berth_iptnetpol_start(const struct berth_iptnetpol_opts *opts,
			  struct berth_iptnetpol **out)
{
	struct berth_iptnetpol *p = calloc(1, sizeof(*p));
	struct in_addr a = { 0 };
	int err;

	if (!p)
		return -ENOMEM;
	p->opts = *opts;
	if (!p->opts.full_sync_s)
		p->opts.full_sync_s = BERTH_IPT_FULL_SYNC_S;
	snprintf(p->node_name, sizeof(p->node_name), "%s",
		 opts->node_name ? opts->node_name : "");
	if (opts->node_ip && inet_pton(AF_INET, opts->node_ip, &a) != 1) {
		free(p);
		return -EINVAL;
	}
	p->self_ip = a.s_addr;
	err = start(p);
	if (err) {
		pr_err("network policy (iptables): start: %s", strerror(-err));
		berth_iptnetpol_stop(p);
		return err;
	}
	*out = p;
	return 0;
}

void berth_iptnetpol_stop(struct berth_iptnetpol *p)
{
	if (!p)
		return;
	berth_syncloop_stop(&p->loop);
	free(p);
}
