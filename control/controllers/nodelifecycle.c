// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Node lifecycle controller: a node whose kubelet has not renewed its Lease
 * nor posted status for the grace period turns Ready=Unknown; the Ready
 * condition is mirrored as the node.kubernetes.io/not-ready|unreachable
 * taints (NoSchedule and NoExecute); pods on a node with a NoExecute taint
 * they do not tolerate are evicted (after their tolerationSeconds).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/rest.h"
#include "ctl.h"

#define NLC_COMPONENT "node-controller"
#define NLC_RETRIES 5
#define TAINT_NOT_READY "node.kubernetes.io/not-ready"
#define TAINT_UNREACHABLE "node.kubernetes.io/unreachable"

struct nlc {
	struct berth_api *api;
	struct berth_informer *nodes, *leases, *pods;
	int grace_ms;
	/*
	 * node name -> {"hb": lease renewTime|Ready heartbeat, "at": ms}: when
	 * this controller last saw the heartbeat change, so the grace period
	 * runs on our clock, not the kubelet's. Monitor thread only.
	 */
	struct json_object *seen;
};

static void index_node_name(struct json_object *pod, berth_index_emit emit,
			    void *ectx)
{
	const char *n = berth_json_path_str(pod, "spec.nodeName");

	if (n && *n)
		emit(ectx, n);
}

static const char *ready_status(struct json_object *node)
{
	struct json_object *c =
		berth_get_condition(berth_json_path(node, "status"), "Ready");

	return berth_json_get_str(c, "status") ?: ""; /* never posted */
}

/* ms since the heartbeat last changed; the first sight starts the clock. */
static int64_t heartbeat_age(struct nlc *c, struct json_object *node)
{
	const char *name = berth_json_path_str(node, "metadata.name");
	struct json_object *lease, *rec;
	const char *hb;
	char key[320], sig[160];
	int64_t now = berth_now_ms();

	snprintf(key, sizeof(key), "kube-node-lease/%s", name);
	lease = berth_informer_get(c->leases, key);
	hb = berth_json_get_str(berth_get_condition(berth_json_path(node,
								     "status"),
						    "Ready"),
				"lastHeartbeatTime");
	snprintf(sig, sizeof(sig), "%s|%s",
		 berth_json_path_str(lease, "spec.renewTime") ?: "", hb ?: "");
	json_object_put(lease);
	if (!json_object_object_get_ex(c->seen, name, &rec) ||
	    strcmp(berth_json_get_str(rec, "hb") ?: "", sig)) {
		rec = json_object_new_object();
		berth_json_set_str(rec, "hb", sig);
		berth_json_set_int(rec, "at", now);
		json_object_object_add(c->seen, name, rec);
	}
	return now - berth_json_get_int(rec, "at", now);
}

/* Pods on the node: Ready=False, as the kubelet can no longer say. */
static void mark_pods_not_ready(struct nlc *c, const char *node)
{
	struct json_object *pods = berth_informer_list(c->pods, "nodeName", node);
	size_t i, n = json_object_array_length(pods);

	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(pods, i);
		const char *name = berth_json_path_str(p, "metadata.name");
		const char *ns = berth_json_path_str(p, "metadata.namespace");
		int code;

		if (!berth_pod_ready(p) || berth_pod_finished(p))
			continue;
		berth_set_condition(berth_json_obj(p, "status"), "Ready", "False",
				    NULL, NULL);
		code = berth_client_update(c->api, berth_res("", "pods"), ns,
					   name, "status", p, NULL);
		if (code != 200 && code != 404 && code != 409)
			pr_warn("node lifecycle: mark pod %s/%s not ready: HTTP %d",
				ns, name, code);
	}
	json_object_put(pods);
}

/* Every condition of the node to Unknown: nobody reports them any more. */
static void mark_unknown(struct nlc *c, const char *name)
{
	const struct berth_resource *r = berth_res("", "nodes");
	int attempt, code = 0;

	for (attempt = 0; attempt < NLC_RETRIES; attempt++) {
		struct json_object *node = NULL, *st, *conds;
		size_t i, n;

		code = berth_client_get(c->api, r, NULL, name, &node);
		if (code != 200) {
			json_object_put(node);
			return;
		}
		st = berth_json_obj(node, "status");
		if (!berth_get_condition(st, "Ready"))
			berth_set_condition(st, "Ready", "Unknown",
					    "NodeStatusNeverUpdated",
					    "Kubelet never posted node status.");
		conds = berth_json_path(st, "conditions");
		n = json_object_array_length(conds);
		for (i = 0; i < n; i++)
			berth_set_condition(
				st,
				berth_json_get_str(
					json_object_array_get_idx(conds, i),
					"type"),
				"Unknown", "NodeStatusUnknown",
				"Kubelet stopped posting node status.");
		code = berth_client_update(c->api, r, NULL, name, "status",
					   node, NULL);
		if (code == 200) {
			berth_event_emit(c->api, NLC_COMPONENT, node, "Normal",
					 "NodeNotReady",
					 "Node %s status is now: NodeNotReady",
					 name);
			json_object_put(node);
			mark_pods_not_ready(c, name);
			return;
		}
		json_object_put(node);
		if (code != 409)
			break;
	}
	pr_warn("node lifecycle: mark node %s Unknown: HTTP %d", name, code);
}

static bool managed_taint(const char *key)
{
	return key && (!strcmp(key, TAINT_NOT_READY) ||
		       !strcmp(key, TAINT_UNREACHABLE));
}

/* The taint key the Ready status calls for, or NULL. */
static const char *wanted_taint(const char *ready)
{
	if (!strcmp(ready, "False"))
		return TAINT_NOT_READY;
	if (!strcmp(ready, "Unknown"))
		return TAINT_UNREACHABLE;
	return NULL;
}

static bool has_taint(struct json_object *taints, const char *key,
		      const char *effect)
{
	size_t i, n = json_object_is_type(taints, json_type_array) ?
			      json_object_array_length(taints) :
			      0;

	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(taints, i);

		if (!strcmp(berth_json_get_str(t, "key") ?: "", key) &&
		    !strcmp(berth_json_get_str(t, "effect") ?: "", effect))
			return true;
	}
	return false;
}

/* Do the node's taints say what its Ready status does? */
static bool taints_right(struct json_object *taints, const char *want)
{
	size_t i, n = json_object_is_type(taints, json_type_array) ?
			      json_object_array_length(taints) :
			      0;

	for (i = 0; i < n; i++) {
		const char *k = berth_json_get_str(
			json_object_array_get_idx(taints, i), "key");

		if (managed_taint(k) && (!want || strcmp(k, want)))
			return false;
	}
	return !want || (has_taint(taints, want, "NoSchedule") &&
			 has_taint(taints, want, "NoExecute"));
}

static void set_taints(struct nlc *c, const char *name)
{
	const struct berth_resource *r = berth_res("", "nodes");
	int attempt, code = 0;

	for (attempt = 0; attempt < NLC_RETRIES; attempt++) {
		struct json_object *node = NULL, *old, *taints;
		const char *want;
		char ts[32];
		size_t i, n;

		code = berth_client_get(c->api, r, NULL, name, &node);
		if (code != 200) {
			json_object_put(node);
			return;
		}
		want = wanted_taint(ready_status(node));
		old = berth_json_path(node, "spec.taints");
		if (taints_right(old, want)) {
			json_object_put(node);
			return;
		}
		taints = json_object_new_array();
		n = json_object_is_type(old, json_type_array) ?
			    json_object_array_length(old) :
			    0;
		for (i = 0; i < n; i++) {
			struct json_object *t = json_object_array_get_idx(old, i);
			const char *k = berth_json_get_str(t, "key");

			if (!managed_taint(k) || (want && !strcmp(k, want)))
				json_object_array_add(taints,
						      json_object_get(t));
		}
		berth_now_rfc3339(ts, sizeof(ts));
		if (want && !has_taint(old, want, "NoSchedule")) {
			struct json_object *t = json_object_new_object();

			berth_json_set_str(t, "key", want);
			berth_json_set_str(t, "effect", "NoSchedule");
			json_object_array_add(taints, t);
		}
		if (want && !has_taint(old, want, "NoExecute")) {
			struct json_object *t = json_object_new_object();

			berth_json_set_str(t, "key", want);
			berth_json_set_str(t, "effect", "NoExecute");
			berth_json_set_str(t, "timeAdded", ts);
			json_object_array_add(taints, t);
		}
		json_object_object_add(berth_json_obj(node, "spec"), "taints",
				       taints);
		code = berth_client_update(c->api, r, NULL, name, NULL, node,
					   NULL);
		json_object_put(node);
		if (code == 200 || code == 404)
			return;
		if (code != 409)
			break;
	}
	pr_warn("node lifecycle: taint node %s: HTTP %d", name, code);
}

static bool tolerates(struct json_object *tol, struct json_object *taint)
{
	const char *op = berth_json_get_str(tol, "operator") ?: "Equal";
	const char *tk = berth_json_get_str(tol, "key") ?: "";
	const char *te = berth_json_get_str(tol, "effect") ?: "";
	const char *k = berth_json_get_str(taint, "key") ?: "";

	if (*te && strcmp(te, berth_json_get_str(taint, "effect") ?: ""))
		return false;
	if (!strcmp(op, "Exists"))
		return !*tk || !strcmp(tk, k);
	return !strcmp(tk, k) &&
	       !strcmp(berth_json_get_str(tol, "value") ?: "",
		       berth_json_get_str(taint, "value") ?: "");
}

/*
 * Seconds the pod may stay on a node with the NoExecute taint: -1 forever,
 * 0 not at all (no toleration), else the shortest tolerationSeconds.
 */
static int64_t toleration_s(struct json_object *pod, struct json_object *taint)
{
	struct json_object *tols = berth_json_path(pod, "spec.tolerations"), *v;
	size_t i, n = json_object_is_type(tols, json_type_array) ?
			      json_object_array_length(tols) :
			      0;
	int64_t best = 0;
	bool any = false;

	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(tols, i);
		int64_t s;

		if (!tolerates(t, taint))
			continue;
		s = -1; /* no bound: tolerated for ever */
		if (json_object_object_get_ex(t, "tolerationSeconds", &v) && v)
			s = json_object_get_int64(v) > 0 ?
				    json_object_get_int64(v) :
				    0;
		/* the shortest bounded toleration wins over unbounded ones */
		if (!any || (s >= 0 && (best < 0 || s < best)))
			best = s;
		any = true;
	}
	return best;
}

static int delete_pod(struct nlc *c, struct json_object *pod, bool force)
{
	struct json_object *opts = json_object_new_object();
	char path[512];
	int code;

	if (berth_client_path(berth_res("", "pods"),
			      berth_json_path_str(pod, "metadata.namespace"),
			      berth_json_path_str(pod, "metadata.name"), NULL,
			      path, sizeof(path))) {
		json_object_put(opts);
		return 414;
	}
	berth_json_set_str(opts, "kind", "DeleteOptions");
	berth_json_set_str(opts, "apiVersion", "v1");
	berth_json_set_str(berth_json_obj(opts, "preconditions"), "uid",
			   berth_json_path_str(pod, "metadata.uid") ?: "");
	if (force)
		berth_json_set_int(opts, "gracePeriodSeconds", 0);
	code = berth_client_request(c->api, "DELETE", path, NULL, NULL, opts,
				    NULL);
	json_object_put(opts);
	return code;
}

/* true when some NoExecute taint of the node has run out its time for pod. */
static bool evict_due(struct json_object *pod, struct json_object *taints)
{
	size_t i, n = json_object_is_type(taints, json_type_array) ?
			      json_object_array_length(taints) :
			      0;

	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(taints, i);
		int64_t s;

		if (strcmp(berth_json_get_str(t, "effect") ?: "", "NoExecute"))
			continue;
		s = toleration_s(pod, t);
		if (s == 0)
			return true;
		if (s > 0 &&
		    berth_since(berth_json_get_str(t, "timeAdded")) >= (double)s)
			return true;
	}
	return false;
}

/*
 * Evict the pods of a node with NoExecute taints. A pod already terminating
 * on an unreachable node is removed for good once its grace period is over:
 * no kubelet is left to confirm it stopped.
 */
static void evict_pods(struct nlc *c, struct json_object *node, bool unreachable)
{
	const char *name = berth_json_path_str(node, "metadata.name");
	struct json_object *taints = berth_json_path(node, "spec.taints");
	struct json_object *pods = berth_informer_list(c->pods, "nodeName", name);
	size_t i, n = json_object_array_length(pods);

	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(pods, i);
		int code;

		if (berth_obj_deleting(p)) {
			const char *dt = berth_json_path_str(
				p, "metadata.deletionTimestamp");

			if (unreachable && berth_since(dt) >= 0)
				delete_pod(c, p, true);
			continue;
		}
		if (!evict_due(p, taints))
			continue;
		berth_event_emit(c->api, NLC_COMPONENT, p, "Normal",
				 "TaintManagerEviction",
				 "Marking for deletion Pod %s/%s",
				 berth_json_path_str(p, "metadata.namespace"),
				 berth_json_path_str(p, "metadata.name"));
		code = delete_pod(c, p, false);
		if (code != 200 && code != 404 && code != 409)
			pr_warn("node lifecycle: evict pod %s from %s: HTTP %d",
				berth_json_path_str(p, "metadata.name"), name,
				code);
	}
	json_object_put(pods);
}

static bool has_no_execute(struct json_object *taints)
{
	size_t i, n = json_object_is_type(taints, json_type_array) ?
			      json_object_array_length(taints) :
			      0;

	for (i = 0; i < n; i++)
		if (!strcmp(berth_json_get_str(json_object_array_get_idx(taints,
									 i),
					       "effect") ?:
				    "",
			    "NoExecute"))
			return true;
	return false;
}

static void monitor_node(struct nlc *c, struct json_object *node)
{
	const char *name = berth_json_path_str(node, "metadata.name");
	const char *ready = ready_status(node);
	struct json_object *taints = berth_json_path(node, "spec.taints");
	int64_t age = heartbeat_age(c, node);

	if (!name)
		return;
	if (age > c->grace_ms && strcmp(ready, "Unknown")) {
		pr_info("node %s: no heartbeat for %lld ms: Unknown", name,
			(long long)age);
		mark_unknown(c, name);
		ready = "Unknown";
	}
	if (!taints_right(taints, wanted_taint(ready)))
		set_taints(c, name);
	if (has_no_execute(taints) || !strcmp(ready, "Unknown"))
		evict_pods(c, node, !strcmp(ready, "Unknown"));
}

static void nlc_monitor(void *ctx)
{
	struct nlc *c = ctx;
	struct json_object *nodes = berth_informer_list(c->nodes, NULL, NULL);
	struct json_object *names = json_object_new_object();
	size_t i, n = json_object_array_length(nodes);

	for (i = 0; i < n; i++) {
		struct json_object *node = json_object_array_get_idx(nodes, i);
		const char *name = berth_json_path_str(node, "metadata.name");

		if (name)
			json_object_object_add(names, name, NULL);
		monitor_node(c, node);
	}
	/* forget nodes that are gone */
	{
		json_object_object_foreach(c->seen, k, v)
		{
			(void)v;
			if (!json_object_object_get_ex(names, k, NULL)) {
				json_object_object_del(c->seen, k);
				break; /* the rest next round: safe iteration */
			}
		}
	}
	json_object_put(names);
	json_object_put(nodes);
}

static void nlc_stop(void *state)
{
	struct nlc *c = state;

	json_object_put(c->seen);
	free(c);
}

static int nlc_init(struct berth_ctl *m, void **state)
{
	const struct berth_ctl_options *o = berth_ctl_opts(m);
	struct nlc *c = calloc(1, sizeof(*c));
	int period;

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->grace_ms = (o->node_grace_s > 0 ? o->node_grace_s : 40) * 1000;
	c->seen = json_object_new_object();
	c->nodes = berth_ctl_informer(m, berth_res("", "nodes"));
	c->leases = berth_ctl_informer(m, berth_res("coordination.k8s.io",
						    "leases"));
	c->pods = berth_ctl_informer(m, berth_res("", "pods"));
	berth_informer_add_index(c->pods, "nodeName", index_node_name);
	*state = c;
	/* k8s checks every 5 s against a 40 s grace; keep that ratio, ≤ 1 s */
	period = c->grace_ms / 8;
	if (period > 1000)
		period = 1000;
	if (period < 100)
		period = 100;
	return berth_ctl_every(m, "nodelifecycle", period, nlc_monitor, c);
}

BERTH_CONTROLLER(nodelifecycle, .name = "nodelifecycle", .init = nlc_init,
		 .stop = nlc_stop);
