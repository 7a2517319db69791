// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ReplicaSet controller: keeps spec.replicas pods that match the selector,
 * owned through a controller ownerReference (orphans that match are
 * adopted, owned pods that stop matching are released), and reports the
 * replicas, ready and available counts in status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/selector.h"
#include "ctl.h"
#include "rollout.h"

#define RS_BURST 500 /* pods created or deleted in one sync at most */
#define RS_COMPONENT "replicaset-controller"
#define DELETION_COST "controller.kubernetes.io/pod-deletion-cost"

struct rs_ctl {
	struct berth_api *api;
	struct berth_informer *rs, *pods;
	struct berth_queue *q;
	const struct berth_resource *rs_res, *pod_res;
};

/* ---- which ReplicaSets a pod concerns ---- */

static void enqueue_matching(struct rs_ctl *c, struct json_object *pod)
{
	const char *ns = berth_json_path_str(pod, "metadata.namespace");
	struct json_object *labels = berth_json_path(pod, "metadata.labels");
	struct json_object *list = berth_informer_list(c->rs, "namespace", ns);
	size_t i, n = json_object_array_length(list);
	char key[512];

	for (i = 0; i < n; i++) {
		struct json_object *rs = json_object_array_get_idx(list, i);
		struct json_object *sel = berth_json_path(rs, "spec.selector");

		if (sel && json_object_object_length(sel) &&
		    berth_labelselector_match(sel, labels)) {
			berth_obj_key(rs, key, sizeof(key));
			berth_queue_add(c->q, key);
		}
	}
	json_object_put(list);
}

static void pod_concerns(struct rs_ctl *c, struct json_object *pod)
{
	char key[512];

	if (berth_owner_key(pod, "ReplicaSet", key, sizeof(key)))
		berth_queue_add(c->q, key);
	else if (!berth_owner_controller(pod))
		enqueue_matching(c, pod);
}

static void pod_add(void *ctx, struct json_object *pod)
{
	pod_concerns(ctx, pod);
}

static void pod_update(void *ctx, struct json_object *old,
		       struct json_object *pod)
{
	struct rs_ctl *c = ctx;

	pod_concerns(c, pod);
	if (!berth_json_equal(berth_json_path(old, "metadata.labels"),
			      berth_json_path(pod, "metadata.labels")) ||
	    !berth_json_equal(berth_owner_controller(old),
			      berth_owner_controller(pod)))
		pod_concerns(c, old);
}

/* ---- which surplus pods go first ---- */

static int phase_rank(struct json_object *pod)
{
	const char *p = berth_json_path_str(pod, "status.phase") ?: "Pending";

	if (!strcmp(p, "Pending"))
		return 0;
	if (!strcmp(p, "Running"))
		return 2;
	return 1; /* Unknown */
}

static int64_t restarts(struct json_object *pod)
{
	struct json_object *cs = berth_json_path(pod, "status");
	int64_t n = 0;
	size_t i, len;

	if (!json_object_object_get_ex(cs, "containerStatuses", &cs) ||
	    !json_object_is_type(cs, json_type_array))
		return 0;
	len = json_object_array_length(cs);
	for (i = 0; i < len; i++)
		n += berth_json_get_int(json_object_array_get_idx(cs, i),
					"restartCount", 0);
	return n;
}

static int64_t deletion_cost(struct json_object *pod)
{
	const char *v = berth_json_get_str(berth_json_path(pod, "metadata.annotations"),
			       DELETION_COST);
	return v ? strtoll(v, NULL, 10) : 0;
}

/*
 * The order Kubernetes deletes surplus pods in, first to go first:
 * unscheduled, pending before running, not ready, lower deletion cost,
 * ready for less time, more restarts, newer.
 */
static int surplus_cmp(const void *pa, const void *pb)
{
	struct json_object *a = *(struct json_object *const *)pa;
	struct json_object *b = *(struct json_object *const *)pb;
	const char *na = berth_json_path_str(a, "spec.nodeName");
	const char *nb = berth_json_path_str(b, "spec.nodeName");
	bool sa = na && *na, sb = nb && *nb;
	double ra, rb;
	int64_t x, y;
	const char *ta, *tb;
	int cmp;

	if (sa != sb)
		return sa ? 1 : -1;
	if (phase_rank(a) != phase_rank(b))
		return phase_rank(a) - phase_rank(b);
	if (berth_pod_ready(a) != berth_pod_ready(b))
		return berth_pod_ready(a) ? 1 : -1;
	x = deletion_cost(a);
	y = deletion_cost(b);
	if (x != y)
		return x < y ? -1 : 1;
	ra = berth_pod_ready_for(a);
	rb = berth_pod_ready_for(b);
	if (ra >= 0 && rb >= 0 && ra != rb)
		return ra < rb ? -1 : 1;
	x = restarts(a);
	y = restarts(b);
	if (x != y)
		return x > y ? -1 : 1;
	ta = berth_json_path_str(a, "metadata.creationTimestamp") ?: "";
	tb = berth_json_path_str(b, "metadata.creationTimestamp") ?: "";
	cmp = strcmp(tb, ta); /* newer (greater) first */
	if (cmp)
		return cmp;
	return strcmp(berth_json_path_str(b, "metadata.name") ?: "",
		      berth_json_path_str(a, "metadata.name") ?: "");
}

/* ---- sync ---- */

struct rs_pods {
	struct json_object *all; /* the namespace's pods (owns them) */
	struct json_object **active; /* owned, not terminating nor finished */
	size_t nactive;
};

/*
 * Claim the pods of rs: adopt matching orphans, release owned pods that
 * no longer match, collect the active ones it owns.
 */
static int claim_pods(struct rs_ctl *c, struct json_object *rs,
		      struct rs_pods *p)
{
	const char *ns = berth_json_path_str(rs, "metadata.namespace");
	const char *uid = berth_json_path_str(rs, "metadata.uid");
	struct json_object *sel = berth_json_path(rs, "spec.selector");
	bool deleting = berth_obj_deleting(rs);
	size_t i, n;
	int err = 0, code;

	p->all = berth_informer_list(c->pods, "namespace", ns);
	n = json_object_array_length(p->all);
	p->active = calloc(n + 1, sizeof(*p->active));
	if (!p->active)
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct json_object *pod = json_object_array_get_idx(p->all, i);
		bool match = berth_labelselector_match(
			sel, berth_json_path(pod, "metadata.labels"));
		bool mine = berth_rollout_owned_by(pod, uid);

		if (!mine && match && !deleting && !berth_obj_deleting(pod) &&
		    !berth_owner_controller(pod)) {
			code = berth_rollout_adopt(c->api, c->pod_res, rs, pod);
			if (code != 200) {
				if (code != 404)
					err = -EAGAIN;
				continue;
			}
			mine = true;
		} else if (mine && !match && !berth_obj_deleting(pod)) {
			code = berth_rollout_release(c->api, c->pod_res, rs,
						     pod);
			if (code != 200 && code != 404)
				err = -EAGAIN;
			continue;
		}
		if (mine && !match)
			continue;
		if (mine && !berth_obj_deleting(pod) &&
		    !berth_pod_finished(pod))
			p->active[p->nactive++] = pod;
	}
	return err;
}

/* A pod to create from rs's template. */
static struct json_object *pod_from_template(struct json_object *rs)
{
	struct json_object *tmpl = berth_json_path(rs, "spec.template");
	struct json_object *pod = json_object_new_object(), *md, *v, *refs;
	char gen[300];

	berth_json_set_str(pod, "apiVersion", "v1");
	berth_json_set_str(pod, "kind", "Pod");
	md = berth_json_obj(pod, "metadata");
	snprintf(gen, sizeof(gen), "%.250s-",
		 berth_json_path_str(rs, "metadata.name"));
	berth_json_set_str(md, "generateName", gen);
	if ((v = berth_json_path(tmpl, "metadata.labels")))
		json_object_object_add(md, "labels", berth_json_copy(v));
	if ((v = berth_json_path(tmpl, "metadata.annotations")))
		json_object_object_add(md, "annotations", berth_json_copy(v));
	if ((v = berth_json_path(tmpl, "metadata.finalizers")))
		json_object_object_add(md, "finalizers", berth_json_copy(v));
	refs = json_object_new_array();
	json_object_array_add(refs, berth_owner_ref(rs, true));
	json_object_object_add(md, "ownerReferences", refs);
	json_object_object_add(pod, "spec",
			       berth_json_copy(berth_json_path(tmpl, "spec")));
	return pod;
}

/*
 * Create want pods in slow-start batches (1, 2, 4, ...) so a create that
 * fails for all (quota, admission) fails once, not want times. Returns
 * the number created; *fail gets the first failure's message.
 */
static int create_pods(struct rs_ctl *c, struct json_object *rs, int want,
		       char *fail, size_t size)
{
	const char *ns = berth_json_path_str(rs, "metadata.namespace");
	struct json_object *pod = pod_from_template(rs);
	int batch = 1, made = 0, i, code;
	int64_t rev = 0;

	while (made < want) {
		int n = batch < want - made ? batch : want - made, ok = 0;

		for (i = 0; i < n; i++) {
			struct json_object *out = NULL;

			code = berth_client_create(c->api, c->pod_res, ns, pod,
						   &out);
			if (code == 201) {
				ok++;
				if (berth_obj_rv(out) > rev)
					rev = berth_obj_rv(out);
				berth_event_emit(
					c->api, RS_COMPONENT, rs, "Normal",
					"SuccessfulCreate", "Created pod: %s",
					berth_json_path_str(out,
							    "metadata.name"));
			} else if (!*fail) {
				const char *msg =
					berth_json_get_str(out, "message");

				snprintf(fail, size, "%s", msg ?: "error");
				berth_event_emit(c->api, RS_COMPONENT, rs,
						 "Warning", "FailedCreate",
						 "Error creating: %s",
						 msg ?: "error");
			}
			json_object_put(out);
		}
		made += ok;
		if (ok < n)
			break;
		batch *= 2;
	}
	if (rev)
		berth_informer_wait_rev(c->pods, rev, 2000);
	json_object_put(pod);
	return made;
}

static int delete_pods(struct rs_ctl *c, struct json_object *rs,
		       struct rs_pods *p, size_t n)
{
	const char *ns = berth_json_path_str(rs, "metadata.namespace");
	size_t i;
	int err = 0, code;

	qsort(p->active, p->nactive, sizeof(*p->active), surplus_cmp);
	for (i = 0; i < n && i < p->nactive; i++) {
		struct json_object *pod = p->active[i];
		const char *name = berth_json_path_str(pod, "metadata.name");

		code = berth_client_delete(
			c->api, c->pod_res, ns, name, NULL,
			berth_json_path_str(pod, "metadata.uid"));
		if (code == 200 || code == 202)
			berth_event_emit(c->api, RS_COMPONENT, rs, "Normal",
					 "SuccessfulDelete", "Deleted pod: %s",
					 name);
		else if (code != 404 && code != 409)
			err = -EIO;
	}
	berth_rollout_barrier(c->api, c->pod_res, ns, c->pods);
	return err;
}

/* Pods of p that are available (Ready for minReadySeconds); *next_ms gets
 * when the next one becomes so (0: none pending). */
static void count_status(struct json_object *rs, struct rs_pods *p,
			 struct json_object *status, int *next_ms)
{
	struct json_object *tl = berth_json_path(rs, "spec.template.metadata.labels");
	int64_t min_ready = berth_json_get_int(berth_json_path(rs, "spec"),
					       "minReadySeconds", 0);
	int64_t full = 0, ready = 0, avail = 0;
	size_t i;

	*next_ms = 0;
	for (i = 0; i < p->nactive; i++) {
		struct json_object *pod = p->active[i];
		double rf = berth_pod_ready_for(pod);

		if (berth_labels_match_map(
			    berth_json_path(pod, "metadata.labels"), tl))
			full++;
		if (rf < 0)
			continue;
		ready++;
		if (!min_ready || rf >= (double)min_ready) {
			avail++;
		} else {
			int ms = (int)(((double)min_ready - rf) * 1000) + 50;

			if (!*next_ms || ms < *next_ms)
				*next_ms = ms;
		}
	}
	berth_json_set_int(status, "replicas", (int64_t)p->nactive);
	berth_json_set_int(status, "fullyLabeledReplicas", full);
	berth_json_set_int(status, "readyReplicas", ready);
	berth_json_set_int(status, "availableReplicas", avail);
	berth_json_set_int(status, "observedGeneration",
			   berth_json_get_int(berth_json_path(rs, "metadata"),
					      "generation", 0));
}

static int update_status(struct rs_ctl *c, struct json_object *rs,
			 struct json_object *status)
{
	struct json_object *out = NULL;
	int code;

	if (berth_json_equal(status, berth_json_path(rs, "status")))
		return 0;
	json_object_object_add(rs, "status", json_object_get(status));
	code = berth_client_update(
		c->api, c->rs_res, berth_json_path_str(rs, "metadata.namespace"),
		berth_json_path_str(rs, "metadata.name"), "status", rs, &out);
	if (code == 200)
		berth_informer_wait_rev(c->rs, berth_obj_rv(out), 1000);
	json_object_put(out);
	return code == 200 || code == 404 ? 0 : -EAGAIN;
}

static int rs_sync(void *ctx, const char *key)
{
	struct rs_ctl *c = ctx;
	struct json_object *rs = berth_informer_get(c->rs, key);
	struct json_object *status = NULL;
	struct rs_pods p = { 0 };
	int64_t want, diff;
	char fail[512] = "";
	int err, next_ms;

	if (!rs)
		return 0;
	err = claim_pods(c, rs, &p);
	if (err == -ENOMEM)
		goto out;
	want = berth_json_get_int(berth_json_path(rs, "spec"), "replicas", 1);
	diff = (int64_t)p.nactive - want;
	if (!berth_obj_deleting(rs) && !err && diff < 0) {
		int n = -diff > RS_BURST ? RS_BURST : (int)-diff;

		if (create_pods(c, rs, n, fail, sizeof(fail)) < n)
			err = -EAGAIN;
	} else if (!berth_obj_deleting(rs) && !err && diff > 0) {
		err = delete_pods(c, rs, &p,
				  diff > RS_BURST ? RS_BURST : (size_t)diff);
	}
	if (diff) {
		/* count what the cache holds after our writes */
		free(p.active);
		json_object_put(p.all);
		memset(&p, 0, sizeof(p));
		if (claim_pods(c, rs, &p) == -ENOMEM)
			goto out;
	}
	status = berth_json_copy(berth_json_path(rs, "status")) ?:
		 json_object_new_object();
	count_status(rs, &p, status, &next_ms);
	if (*fail)
		berth_set_condition(status, "ReplicaFailure", "True",
				    "FailedCreate", fail);
	else if (!err)
		berth_rollout_del_condition(status, "ReplicaFailure");
	if (update_status(c, rs, status) && !err)
		err = -EAGAIN;
	if (next_ms)
		berth_queue_add_after(c->q, key, next_ms);
out:
	json_object_put(status);
	free(p.active);
	json_object_put(p.all);
	json_object_put(rs);
	return err;
}

static int rs_init(struct berth_ctl *m, void **state)
{
	struct rs_ctl *c = calloc(1, sizeof(*c));
	struct berth_informer_handler h;

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->rs_res = berth_res("apps", "replicasets");
	c->pod_res = berth_res("", "pods");
	c->q = berth_queue_new("replicaset");
	c->rs = berth_ctl_informer(m, c->rs_res);
	c->pods = berth_ctl_informer(m, c->pod_res);
	berth_enqueue_handler(&h, c->q);
	berth_informer_add_handler(c->rs, &h);
	berth_informer_add_handler(
		c->pods, &(struct berth_informer_handler){ .add = pod_add,
							   .update = pod_update,
							   .del = pod_add,
							   .ctx = c });
	*state = c;
	return berth_ctl_workers(m, "replicaset", c->q, 2, rs_sync, c);
}

BERTH_CONTROLLER(replicaset, .name = "replicaset", .init = rs_init,
		 .stop = free);
