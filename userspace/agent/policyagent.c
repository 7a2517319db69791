// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Watches -> compiled NetworkPolicy -> maps: see policyagent.h. */
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <arpa/inet.h>

#include <berth/kube.h>
#include <berth/log.h>

#include "kview.h"
#include "metrics.h"
#include "nlutil.h"
#include "policyagent.h"
#include "syncloop.h"

/* a burst of changes (a Deployment's pods) lands before one sync; short,
 * as a policy change should be enforced within 100 ms */
#define DEBOUNCE_MS 20
#define RETRY_MS 1000

const char *const berth_policy_collections[BERTH_PV_MAX] = {
	[BERTH_PV_PODS] = "/api/v1/pods",
	[BERTH_PV_NAMESPACES] = "/api/v1/namespaces",
	[BERTH_PV_POLICIES] = "/apis/networking.k8s.io/v1/networkpolicies",
	[BERTH_PV_NODES] = "/api/v1/nodes",
};

/*
 * What the compiler, identities and names read of each kind (kview.keep):
 * the view holds every pod of the cluster, so it keeps a handful of fields
 * rather than ~100 json-c objects per pod. Policies are kept whole.
 */
static const char *const pod_fields[] = {
	"metadata.name",   "metadata.namespace",      "metadata.uid",
	"metadata.labels", "spec.nodeName",	      "spec.hostNetwork",
	"status.phase",	   "spec.containers[].ports", "status.podIP",
	"status.podIPs",   NULL,
};
static const char *const namespace_fields[] = {
	"metadata.name",
	"metadata.labels",
	NULL,
};
static const char *const node_fields[] = {
	"metadata.name", "spec.podCIDR", "spec.podCIDRs", "status.addresses",
	NULL,
};
static const char *const *const view_fields[BERTH_PV_MAX] = {
	[BERTH_PV_PODS] = pod_fields,
	[BERTH_PV_NAMESPACES] = namespace_fields,
	[BERTH_PV_NODES] = node_fields,
};

struct pod_name {
	uint32_t ip;
	char name[256]; /* ns/name */
	char uid[64];
};

/* a pod CNI gave an address the API does not show yet */
struct local_pod {
	char key[512]; /* ns/name */
	char ip[64];
	bool judged; /* a pass found its object and gave it the address */
};

#define MAX_LOCAL 256

struct berth_policyagent {
	struct berth_policyagent_opts opts;
	char node_name[254];
	char state_path[PATH_MAX]; /* <root>/policy.json, or "" */
	/* pods by address for berth_policyagent_pod (monitor thread) */
	pthread_mutex_t names_mu;
	struct pod_name *names; /* sorted by ip */
	size_t nnames;
	struct berth_syncloop loop; /* its mu guards the views and local */
	/* berth_policyagent_local_pod: under loop.mu */
	struct local_pod local[MAX_LOCAL];
	size_t nlocal;
	/* the policy maps as last written: under loop.mu (the sync thread) */
	struct berth_policy_shadow shadow;
	bool full; /* the last pass found the policy maps full */
	/* the highest policy resourceVersion the maps enforce (loop.mu) */
	unsigned long long applied_rv;
};

static json_object *ip_json(uint32_t ip)
{
	char buf[INET_ADDRSTRLEN];
	struct in_addr a = { .s_addr = ip };

	return json_object_new_string(inet_ntop(AF_INET, &a, buf, sizeof(buf)));
}

static json_object *state_identities(const struct berth_idtable *ids,
				     const struct berth_policy_result *r)
{
	json_object *arr = json_object_new_array(), *o;
	char cidr[INET_ADDRSTRLEN + 4];

	for (size_t i = 0; i < ids->n; i++) {
		o = json_object_new_object();
		json_object_object_add(o, "id",
				       json_object_new_int64(ids->ids[i].id));
		json_object_object_add(o, "namespace",
				       json_object_new_string(ids->ids[i].ns));
		json_object_object_add(o, "labels",
				       json_object_get(ids->ids[i].labels));
		json_object_array_add(arr, o);
	}
	for (size_t i = 0; i < r->ncidrs; i++) {
		struct in_addr a = { .s_addr = r->cidrs[i].net };

		inet_ntop(AF_INET, &a, cidr, INET_ADDRSTRLEN);
		snprintf(cidr + strlen(cidr), 5, "/%u", r->cidrs[i].prefix);
		o = json_object_new_object();
		json_object_object_add(o, "id",
				       json_object_new_int64(r->cidrs[i].id));
		json_object_object_add(o, "cidr", json_object_new_string(cidr));
		json_object_array_add(arr, o);
	}
	return arr;
}

static json_object *state_pods(const struct berth_idtable *ids)
{
	json_object *arr = json_object_new_array(), *o;

	for (size_t i = 0; i < ids->npods; i++) {
		const struct berth_ident_pod *p = &ids->pods[i];

		o = json_object_new_object();
		json_object_object_add(o, "ip", ip_json(p->ip));
		json_object_object_add(o, "namespace",
				       json_object_new_string(p->ns));
		json_object_object_add(o, "name",
				       json_object_new_string(p->name));
		json_object_object_add(
			o, "node",
			json_object_new_string(p->node ? p->node : ""));
		json_object_object_add(o, "identity",
				       json_object_new_int64(p->id));
		json_object_array_add(arr, o);
	}
	return arr;
}

/*
 * <root>/policy.json: what identity numbers and pod addresses stand for,
 * for `berthctl bpf policy` (the maps hold numbers only). Replaced whole.
 */
static int state_write(const char *path, const struct berth_idtable *ids,
		       const struct berth_policy_result *r)
{
	json_object *o = json_object_new_object();
	char tmp[PATH_MAX];
	int err = 0;

	json_object_object_add(o, "identities", state_identities(ids, r));
	json_object_object_add(o, "pods", state_pods(ids));
	if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
		err = -ENAMETOOLONG;
	else if (json_object_to_file_ext(tmp, o, JSON_C_TO_STRING_PLAIN))
		err = -EIO;
	else if (rename(tmp, path))
		err = -errno;
	if (err)
		pr_warn("network policy: write %s: %s", path, strerror(-err));
	json_object_put(o);
	return err;
}

static int cmp_name_ip(const void *a, const void *b)
{
	const struct pod_name *x = a, *y = b;

	return (x->ip > y->ip) - (x->ip < y->ip);
}

/* Every pod's ns/name and uid by address; NULL when out of memory. */
static struct pod_name *names_build(const struct berth_idtable *ids)
{
	struct pod_name *n = calloc(ids->npods ? ids->npods : 1, sizeof(*n));
	json_object *meta, *uid;

	for (size_t i = 0; n && i < ids->npods; i++) {
		const struct berth_ident_pod *p = &ids->pods[i];

		n[i].ip = p->ip;
		snprintf(n[i].name, sizeof(n[i].name), "%s/%s", p->ns, p->name);
		if (json_object_object_get_ex(p->obj, "metadata", &meta) &&
		    json_object_object_get_ex(meta, "uid", &uid))
			snprintf(n[i].uid, sizeof(n[i].uid), "%s",
				 json_object_get_string(uid));
	}
	if (n && ids->npods)
		qsort(n, ids->npods, sizeof(*n), cmp_name_ip);
	return n;
}

static void names_set(struct berth_policyagent *pa,
		      const struct berth_idtable *ids)
{
	struct pod_name *n = names_build(ids), *old;

	if (!n)
		return;
	pthread_mutex_lock(&pa->names_mu);
	old = pa->names;
	pa->names = n;
	pa->nnames = ids->npods;
	pthread_mutex_unlock(&pa->names_mu);
	free(old);
}

bool berth_policyagent_pod(struct berth_policyagent *pa, uint32_t ip,
			   char *name, size_t len, char *uid, size_t uidlen)
{
	struct pod_name key = { .ip = ip }, *f = NULL;

	if (!pa)
		return false;
	pthread_mutex_lock(&pa->names_mu);
	if (pa->nnames)
		f = bsearch(&key, pa->names, pa->nnames, sizeof(key),
			    cmp_name_ip);
	if (f) {
		snprintf(name, len, "%s", f->name);
		if (uid)
			snprintf(uid, uidlen, "%s", f->uid);
	}
	pthread_mutex_unlock(&pa->names_mu);
	return f;
}

static int policy_pass_sync(const struct berth_policy_objects *o,
			    const char *self,
			    const struct berth_policy_maps *maps,
			    const char *state_path,
			    struct berth_policyagent *pa,
			    struct berth_policysync_stats *st);

int berth_policyagent_sync(const struct berth_policy_objects *o,
			   const char *self,
			   const struct berth_policy_maps *maps,
			   const char *state_path,
			   struct berth_policysync_stats *st)
{
	return policy_pass_sync(o, self, maps, state_path, NULL, st);
}

/* berth_policyagent_sync, and pa's pod names when pa */
static int policy_pass_sync(const struct berth_policy_objects *o,
			    const char *self,
			    const struct berth_policy_maps *maps,
			    const char *state_path,
			    struct berth_policyagent *pa,
			    struct berth_policysync_stats *st)
{
	struct berth_policy_result r = { 0 };
	struct berth_ipcache_entry *ipc = NULL;
	struct berth_node_route *nodes = NULL;
	struct berth_idtable ids = { 0 };
	size_t nipc = 0, nnodes = 0;
	int err;

	memset(st, 0, sizeof(*st));
	err = berth_nodes_parse(o->nodes, o->nnodes, self, &nodes, &nnodes);
	if (!err)
		err = berth_identities_build(o->pods, o->npods, &ids);
	if (!err) {
		struct berth_policy_input in = {
			.policies = o->policies,
			.npolicies = o->npolicies,
			.namespaces = o->namespaces,
			.nnamespaces = o->nnamespaces,
			.ids = &ids,
			.self = self,
			.cache = maps->shadow ? &maps->shadow->cache : NULL,
		};

		err = berth_policy_compile(&in, &r);
	}
	if (!err)
		err = berth_policy_ipcache_want(&ids, &r, nodes, nnodes, self,
						&ipc, &nipc);
	if (!err)
		err = berth_policy_sync(maps, &r, &ids, ipc, nipc, st);
	/* a failed write costs berthctl its names, not the node its policy */
	if (!err && state_path)
		state_write(state_path, &ids, &r);
	if (!err && pa)
		names_set(pa, &ids);
	free(ipc);
	free(nodes);
	berth_policy_result_free(&r);
	berth_identities_free(&ids);
	return err;
}

static struct local_pod *local_find(struct berth_policyagent *pa,
				     const char *key)
{
	for (size_t i = 0; i < pa->nlocal; i++)
		if (!strcmp(pa->local[i].key, key))
			return &pa->local[i];
	return NULL;
}

static void local_drop(struct berth_policyagent *pa, struct local_pod *l)
{
	*l = pa->local[--pa->nlocal];
}

/*
 * With mu: pods CNI addressed whose objects have no podIP yet get a copy
 * with it, so this pass judges them; entries the API caught up with go.
 */
static void apply_local(struct berth_policyagent *pa, json_object **pods,
			size_t n)
{
	char key[512];

	for (size_t i = 0; i < n && pa->nlocal; i++) {
		json_object *meta = berth_jget(pods[i], "metadata");
		json_object *st = berth_jget(pods[i], "status"), *copy = NULL;
		struct local_pod *l;

		snprintf(key, sizeof(key), "%s/%s",
			 berth_jstr(meta, "namespace") ?: "default",
			 berth_jstr(meta, "name") ?: "");
		l = local_find(pa, key);
		if (!l)
			continue;
		if (berth_jstr(st, "podIP")) {
			local_drop(pa, l);
			continue;
		}
		if (json_object_deep_copy(pods[i], &copy, NULL))
			continue;
		st = berth_jget(copy, "status");
		if (!st) {
			st = json_object_new_object();
			json_object_object_add(copy, "status", st);
		}
		json_object_object_add(st, "podIP",
				       json_object_new_string(l->ip));
		json_object_put(pods[i]);
		pods[i] = copy;
		l->judged = true;
	}
}

/* A Warning Event on this node's Node object (the map is the node's). */
static void full_event(struct berth_policyagent *pa, const char *msg)
{
	struct berth_kube *k = NULL;
	char name[320];
	json_object *o;
	long now = time(NULL);
	int st;

	snprintf(name, sizeof(name), "%s.policymapfull.%lx", pa->node_name,
		 (unsigned long)now);
	o = berth_kube_event_json(&(struct berth_kevent){
		.name = name,
		.ns = "default",
		.kind = "Node",
		.obj_name = pa->node_name,
		.reason = "PolicyMapFull",
		.message = msg,
		.type = "Warning",
		.count = 1,
		.first = now,
		.last = now,
		.component = "berth-agent",
		.host = pa->node_name,
	});
	if (pa->opts.kubeconfig && !berth_kube_open(&k, pa->opts.kubeconfig)) {
		/* under the loop's lock: a pod's CNI ADD may be waiting */
		berth_kube_set_timeout(k, 2);
		st = berth_kube_post(k, "/api/v1/namespaces/default/events", o,
				     NULL);
		if (st != 201 && st != 200)
			pr_warn("network policy: post Event %s: %d", name, st);
		berth_kube_free(k);
	}
	json_object_put(o);
}

/*
 * The policy maps full, or room again: said once per change (log, Event,
 * the berth_agent_policy_map_full gauge); the retry loop tries on.
 */
static void full_report(struct berth_policyagent *pa, bool full)
{
	const char *msg =
		"network policy: the policy map is full (--policy-map-entries): "
		"the policy enforced before stays, new allows wait for room";

	if (full == pa->full)
		return;
	pa->full = full;
	berth_agent_metrics_policy_full(full);
	if (!full) {
		pr_info("network policy: the policy map has room again: the current policy is enforced");
		return;
	}
	pr_err("%s", msg);
	full_event(pa, msg + strlen("network policy: "));
}

/* The highest metadata.resourceVersion among the policies (store revisions). */
static unsigned long long policies_rv(json_object **pols, size_t n)
{
	unsigned long long max = 0;

	for (size_t i = 0; i < n; i++) {
		const char *rv = berth_jstr(berth_jget(pols[i], "metadata"),
					    "resourceVersion");
		unsigned long long v = rv ? strtoull(rv, NULL, 10) : 0;

		if (v > max)
			max = v;
	}
	return max;
}

/*
 * A pass enforced a newer policy set: say when (CLOCK_REALTIME, so an
 * operator or bench/policy can set it beside the API write's time) and
 * which resourceVersion, once per version, not at every pass.
 */
static void applied_report(struct berth_policyagent *pa,
			   unsigned long long rv)
{
	struct timespec ts;

	if (rv == pa->applied_rv)
		return;
	pa->applied_rv = rv;
	clock_gettime(CLOCK_REALTIME, &ts);
	berth_agent_metrics_policy_applied(ts.tv_sec + ts.tv_nsec / 1e9);
	pr_info("network policy: enforced resourceVersion %llu at %lld.%06ld",
		rv, (long long)ts.tv_sec, ts.tv_nsec / 1000);
}

/* Called with loop.mu held; holds it throughout (json-c references). */
static int sync_views(void *arg)
{
	struct berth_policyagent *pa = arg;
	json_object **objs[BERTH_PV_MAX] = { 0 };
	size_t n[BERTH_PV_MAX] = { 0 };
	struct berth_policysync_stats st;
	unsigned long long rv = 0;
	int err = 0;

	for (int i = 0; !err && i < BERTH_PV_MAX; i++)
		err = berth_kview_objects(&pa->loop.views[i], &objs[i], &n[i]);
	if (!err)
		apply_local(pa, objs[BERTH_PV_PODS], n[BERTH_PV_PODS]);
	if (!err) {
		struct berth_policy_objects o = {
			objs[BERTH_PV_PODS],	 objs[BERTH_PV_NAMESPACES],
			objs[BERTH_PV_POLICIES], objs[BERTH_PV_NODES],
			n[BERTH_PV_PODS],	 n[BERTH_PV_NAMESPACES],
			n[BERTH_PV_POLICIES],	 n[BERTH_PV_NODES],
		};

		err = policy_pass_sync(
			&o, pa->node_name, &pa->opts.maps,
			pa->state_path[0] ? pa->state_path : NULL, pa, &st);
		if (!err)
			rv = policies_rv(objs[BERTH_PV_POLICIES],
					 n[BERTH_PV_POLICIES]);
	}
	for (int i = 0; i < BERTH_PV_MAX; i++)
		berth_kview_put(objs[i], n[i]);
	if (!err || st.full)
		full_report(pa, st.full);
	/* a full map is said once by full_report, not at every retry */
	if (err && !st.full)
		pr_warn("network policy: sync: %s; again in %d ms",
			strerror(-err), RETRY_MS);
	else if (!err && (st.policy_added || st.policy_deleted ||
			  st.eps_written || st.ipcache_written ||
			  st.ipcache_deleted))
		pr_info("network policy: %zu allows added, %zu removed, %zu endpoints, ipcache %zu written %zu deleted",
			st.policy_added, st.policy_deleted, st.eps_written,
			st.ipcache_written, st.ipcache_deleted);
	if (!err)
		applied_report(pa, rv);
	return err;
}

static int start_watches(struct berth_policyagent *pa)
{
	const struct berth_syncloop_opts lo = {
		.debounce_ms = DEBOUNCE_MS,
		/* a lone policy change is enforced at once, a burst coalesces */
		.leading_ms = 4 * DEBOUNCE_MS,
		.retry_ms = RETRY_MS,
		.sync = sync_views,
		.ctx = pa,
	};
	int err = berth_syncloop_init(&pa->loop, &lo, berth_policy_collections,
				      BERTH_PV_MAX);

	for (int i = 0; !err && i < BERTH_PV_MAX; i++)
		pa->loop.views[i].keep = view_fields[i];
	return err ?: berth_syncloop_start(&pa->loop, pa->opts.kubeconfig);
}

int berth_policyagent_start(const struct berth_policyagent_opts *opts,
			    struct berth_policyagent **out)
{
	struct berth_policyagent *pa = calloc(1, sizeof(*pa));
	int err;

	if (!pa)
		return -ENOMEM;
	pa->opts = *opts;
	snprintf(pa->node_name, sizeof(pa->node_name), "%s",
		 opts->node_name ? opts->node_name : "");
	pa->opts.node_name = pa->node_name;
	if (opts->root)
		snprintf(pa->state_path, sizeof(pa->state_path),
			 "%s/policy.json", opts->root);
	pa->opts.root = NULL; /* the caller's string: not kept */
	if (pa->opts.maps.policy)
		pa->opts.maps.shadow = &pa->shadow;
	berth_agent_metrics_policy_full(false); /* 0 until it is */
	pthread_mutex_init(&pa->names_mu, NULL);
	err = start_watches(pa);
	if (err) {
		pr_warn("network policy: start watching: %s", strerror(-err));
		berth_policyagent_stop(pa);
		return err;
	}
	*out = pa;
	return 0;
}

int berth_policyagent_local_pod(struct berth_policyagent *pa, const char *ns,
				const char *name, const char *ip,
				long timeout_ms)
{
	struct timespec until = berth_after_ms(timeout_ms);
	struct local_pod *l;
	unsigned long target;
	char key[512];
	int err;

	if (!pa)
		return 0;
	snprintf(key, sizeof(key), "%s/%s", ns && *ns ? ns : "default",
		 name ? name : "");
	pthread_mutex_lock(&pa->loop.mu);
	l = local_find(pa, key);
	if (!l && pa->nlocal == MAX_LOCAL) /* never answered: the oldest */
		local_drop(pa, &pa->local[0]);
	if (!l)
		l = &pa->local[pa->nlocal++];
	snprintf(l->key, sizeof(l->key), "%s", key);
	snprintf(l->ip, sizeof(l->ip), "%s", ip);
	l->judged = false;
	/* passes run under mu: the next one sees l */
	target = pa->loop.passes + 1;
	/* a pod waits: skip the debounce */
	berth_syncloop_kick(&pa->loop, true);
	err = berth_syncloop_wait_passes(&pa->loop, target, &until);
	l = local_find(pa, key);
	if (l && !l->judged)
		err = -ETIMEDOUT;
	pthread_mutex_unlock(&pa->loop.mu);
	return err;
}

void berth_policyagent_stop(struct berth_policyagent *pa)
{
	if (!pa)
		return;
	berth_syncloop_stop(&pa->loop);
	pthread_mutex_destroy(&pa->names_mu);
	berth_policy_shadow_free(&pa->shadow);
	free(pa->names);
	free(pa);
}
