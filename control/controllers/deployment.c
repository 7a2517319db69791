// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Deployment controller: one ReplicaSet per pod template ("<name>-<hash>",
 * label pod-template-hash), rolled from the old ones to the new one by the
 * strategy (RollingUpdate within maxSurge/maxUnavailable, or Recreate),
 * with revisions in annotations for `kubectl rollout history|undo`,
 * proportional scaling, pause, the progress deadline and the status and
 * conditions `kubectl get deploy` and `kubectl rollout status` read.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/rest.h"
#include "../apiserver/selector.h"
#include "ctl.h"
#include "podtmpl.h"
#include "rollout.h"

#define DP_COMPONENT "deployment-controller"
#define HASH_LABEL "pod-template-hash"
#define ANN_REVISION "deployment.kubernetes.io/revision"
#define ANN_HISTORY "deployment.kubernetes.io/revision-history"
#define ANN_DESIRED "deployment.kubernetes.io/desired-replicas"
#define ANN_MAX "deployment.kubernetes.io/max-replicas"
#define MAX_RS 256 /* ReplicaSets one Deployment may own that we look at */

struct dp_ctl {
	struct berth_api *api;
	struct berth_informer *dp, *rs, *pods;
	struct berth_queue *q;
	const struct berth_resource *dp_res, *rs_res;
};

/* One sync's view of a Deployment and its ReplicaSets. */
struct dp_view {
	struct json_object *d; /* the Deployment (owned) */
	struct json_object *spec;
	struct json_object *list; /* the namespace's ReplicaSets (owned) */
	struct json_object *rs[MAX_RS]; /* those d owns, borrowed from list */
	size_t n;
	struct json_object *new_rs; /* one of rs[], or NULL */
	struct json_object *created; /* a new RS this sync made (owned) */
	int64_t replicas, surge, unavail;
	bool rolling;
	const char *progress_reason; /* NewReplicaSetCreated, Found... */
};

/* Annotations of the Deployment that are not copied to its ReplicaSets. */
static const char *const skip_annotations[] = {
	"kubectl.kubernetes.io/last-applied-configuration", ANN_REVISION,
	ANN_HISTORY, ANN_DESIRED, ANN_MAX,
	"deprecated.deployment.rollback.to", NULL
};

/* ---- small accessors ---- */

static int64_t spec_replicas(struct json_object *rs)
{
	return berth_json_get_int(berth_json_path(rs, "spec"), "replicas", 1);
}

static int64_t st_int(struct json_object *obj, const char *key)
{
	return berth_json_get_int(berth_json_path(obj, "status"), key, 0);
}

static int64_t ann_int(struct json_object *obj, const char *key, int64_t def)
{
	const char *v = berth_json_get_str(
		berth_json_path(obj, "metadata.annotations"), key);

	return v && *v ? strtoll(v, NULL, 10) : def;
}

static const char *name_of(struct json_object *obj)
{
	return berth_json_path_str(obj, "metadata.name") ?: "";
}

static const char *ns_of(struct json_object *obj)
{
	return berth_json_path_str(obj, "metadata.namespace") ?: "";
}

/* Available pods of rs as far as the rollout may count on them: a status
 * not yet caught up with a scale-down cannot count deleted pods. */
static int64_t rs_available(struct json_object *rs)
{
	int64_t a = st_int(rs, "availableReplicas"), s = spec_replicas(rs);

	return a < s ? a : s;
}

/* Pods rs has or is about to have: its status may still count pods of a
 * scale-down the ReplicaSet controller has not carried out yet. */
static int64_t rs_pods(struct json_object *rs)
{
	int64_t p = st_int(rs, "replicas"), s = spec_replicas(rs);

	return p > s ? p : s;
}

static bool skipped_annotation(const char *k)
{
	int i;

	for (i = 0; skip_annotations[i]; i++)
		if (!strcmp(k, skip_annotations[i]))
			return true;
	return false;
}

/* ---- the template hash ---- */

#define FNV_OFFSET 2166136261u
#define FNV_PRIME 16777619u

static uint32_t fnv(uint32_t h, const char *s)
{
	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * FNV_PRIME;
	return (h ^ 0xff) * FNV_PRIME; /* a separator: "ab","c" != "a","bc" */
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A hash of a json value that does not depend on the order of members. */
static uint32_t hash_json(uint32_t h, struct json_object *v)
{
	const char **keys;
	size_t i, n;

	if (json_object_is_type(v, json_type_object)) {
		n = (size_t)json_object_object_length(v);
		keys = calloc(n + 1, sizeof(*keys));
		if (!keys)
			return h;
		i = 0;
		json_object_object_foreach(v, k, val)
		{
			if (val) /* null is absent, as to the Go types */
				keys[i++] = k;
		}
		n = i;
		qsort(keys, n, sizeof(*keys), key_cmp);
		h = fnv(h, "{");
		for (i = 0; i < n; i++) {
			h = fnv(h, keys[i]);
			h = hash_json(h, json_object_object_get(v, keys[i]));
		}
		free(keys);
		return fnv(h, "}");
	}
	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		h = fnv(h, "[");
		for (i = 0; i < n; i++)
			h = hash_json(h, json_object_array_get_idx(v, i));
		return fnv(h, "]");
	}
	return fnv(h, json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN));
}

/*
 * pod-template-hash as Kubernetes spells it: the decimal hash with each
 * digit mapped into consonants and digits that never spell words.
 */
static void template_hash(struct json_object *d, char *buf, size_t size)
{
	static const char alpha[] = "bcdfghjklmnpqrstvwxz2456789";
	uint32_t h = hash_json(FNV_OFFSET, berth_json_path(d, "spec.template"));
	int64_t coll = st_int(d, "collisionCount");
	char num[32], *p;

	if (coll) {
		snprintf(num, sizeof(num), "%lld", (long long)coll);
		h = fnv(h, num);
	}
	snprintf(num, sizeof(num), "%u", h);
	for (p = num; *p && (size_t)(p - num) + 1 < size; p++)
		buf[p - num] = alpha[(unsigned char)*p % (sizeof(alpha) - 1)];
	buf[p - num] = 0;
}

/*
 * Members that are null are absent, as they are to the Go types (kubectl
 * rollout undo sends "creationTimestamp": null in the template).
 */
static void drop_nulls(struct json_object *v)
{
	size_t i, n;

	if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			drop_nulls(json_object_array_get_idx(v, i));
		return;
	}
	if (!json_object_is_type(v, json_type_object))
		return;
again:
	json_object_object_foreach(v, k, val)
	{
		if (!val) {
			json_object_object_del(v, k);
			goto again; /* the iteration is broken by the delete */
		}
		drop_nulls(val);
	}
}

/* Does rs run d's template (ignoring the pod-template-hash label)? */
static bool template_equal(struct json_object *rs, struct json_object *d)
{
	struct json_object *a = berth_json_copy(
		berth_json_path(rs, "spec.template"));
	struct json_object *b = berth_json_copy(
		berth_json_path(d, "spec.template"));
	struct json_object *la = berth_json_path(a, "metadata.labels");
	struct json_object *lb = berth_json_path(b, "metadata.labels");
	bool eq;

	if (la)
		json_object_object_del(la, HASH_LABEL);
	if (lb)
		json_object_object_del(lb, HASH_LABEL);
	drop_nulls(a);
	drop_nulls(b);
	eq = berth_json_equal(a, b);
	json_object_put(a);
	json_object_put(b);
	return eq;
}

/* ---- which Deployments an event concerns ---- */

static void enqueue_matching(struct dp_ctl *c, struct json_object *obj)
{
	struct json_object *list =
		berth_informer_list(c->dp, "namespace", ns_of(obj));
	struct json_object *labels = berth_json_path(obj, "metadata.labels");
	size_t i, n = json_object_array_length(list);
	char key[512];

	for (i = 0; i < n; i++) {
		struct json_object *d = json_object_array_get_idx(list, i);
		struct json_object *sel = berth_json_path(d, "spec.selector");

		if (sel && json_object_object_length(sel) &&
		    berth_labelselector_match(sel, labels)) {
			berth_obj_key(d, key, sizeof(key));
			berth_queue_add(c->q, key);
		}
	}
	json_object_put(list);
}

static void rs_concerns(struct dp_ctl *c, struct json_object *rs)
{
	char key[512];

	if (berth_owner_key(rs, "Deployment", key, sizeof(key)))
		berth_queue_add(c->q, key);
	else if (!berth_owner_controller(rs))
		enqueue_matching(c, rs);
}

static void rs_add(void *ctx, struct json_object *rs)
{
	rs_concerns(ctx, rs);
}

static void rs_update(void *ctx, struct json_object *old,
		      struct json_object *rs)
{
	rs_concerns(ctx, rs);
	if (!berth_json_equal(berth_owner_controller(old),
			      berth_owner_controller(rs)) ||
	    !berth_json_equal(berth_json_path(old, "metadata.labels"),
			      berth_json_path(rs, "metadata.labels")))
		rs_concerns(ctx, old);
}

/* A pod gone: a Recreate rollout may be waiting for it. */
static void pod_del(void *ctx, struct json_object *pod)
{
	struct dp_ctl *c = ctx;
	struct json_object *rs;
	char key[512], dkey[512];

	if (!berth_owner_key(pod, "ReplicaSet", key, sizeof(key)))
		return;
	rs = berth_informer_get(c->rs, key);
	if (rs && berth_owner_key(rs, "Deployment", dkey, sizeof(dkey)))
		berth_queue_add(c->q, dkey);
	json_object_put(rs);
}

/* ---- claiming ReplicaSets ---- */

static int claim_rs(struct dp_ctl *c, struct dp_view *v)
{
	const char *uid = berth_json_path_str(v->d, "metadata.uid");
	struct json_object *sel = berth_json_path(v->spec, "selector");
	size_t i, n;
	int err = 0, code;

	v->list = berth_informer_list(c->rs, "namespace", ns_of(v->d));
	n = json_object_array_length(v->list);
	for (i = 0; i < n && v->n < MAX_RS; i++) {
		struct json_object *rs = json_object_array_get_idx(v->list, i);
		bool match = berth_labelselector_match(
			sel, berth_json_path(rs, "metadata.labels"));
		bool mine = berth_rollout_owned_by(rs, uid);

		if (!mine && match && !berth_owner_controller(rs) &&
		    !berth_obj_deleting(rs)) {
			code = berth_rollout_adopt(c->api, c->rs_res, v->d, rs);
			if (code != 200) {
				err = code == 404 ? err : -EAGAIN;
				continue;
			}
			mine = true;
		} else if (mine && !match) {
			code = berth_rollout_release(c->api, c->rs_res, v->d,
						     rs);
			if (code != 200 && code != 404)
				err = -EAGAIN;
			continue;
		}
		if (mine)
			v->rs[v->n++] = rs;
	}
	return err;
}

/* ---- fenceposts ---- */

static void resolve_fenceposts(struct dp_view *v)
{
	struct json_object *st = berth_json_path(v->spec, "strategy");
	struct json_object *ru = berth_json_path(st, "rollingUpdate");
	const char *type = berth_json_get_str(st, "type");

	v->replicas = berth_json_get_int(v->spec, "replicas", 1);
	v->rolling = !type || strcmp(type, "Recreate");
	v->surge = v->unavail = 0;
	if (!v->rolling)
		return;
	v->surge = berth_wl_scaled(json_object_object_get(ru, "maxSurge"),
				   (int)v->replicas, true, 0);
	v->unavail = berth_wl_scaled(
		json_object_object_get(ru, "maxUnavailable"), (int)v->replicas,
		false, 0);
	/* both may round to 0: a rollout must still make progress */
	if (!v->surge && !v->unavail)
		v->unavail = 1;
}

/* maxUnavailable as the Available condition counts it. */
static int64_t max_unavailable(struct dp_view *v)
{
	if (!v->rolling || !v->replicas)
		return 0;
	return v->unavail > v->replicas ? v->replicas : v->unavail;
}

/* ---- writes ---- */

/* The desired/max-replicas annotations and copied ones rs should carry. */
static void wanted_annotations(struct dp_view *v, struct json_object *ann)
{
	struct json_object *da = berth_json_path(v->d, "metadata.annotations");
	char num[32];

	if (json_object_is_type(da, json_type_object)) {
		json_object_object_foreach(da, k, val)
		{
			if (!skipped_annotation(k))
				json_object_object_add(ann, k,
						       json_object_get(val));
		}
	}
	snprintf(num, sizeof(num), "%lld", (long long)v->replicas);
	berth_json_set_str(ann, ANN_DESIRED, num);
	snprintf(num, sizeof(num), "%lld", (long long)(v->replicas + v->surge));
	berth_json_set_str(ann, ANN_MAX, num);
}

/* Merge-patch rs (owned by v) and wait for the cache to see it. */
static int patch_rs(struct dp_ctl *c, struct json_object *rs,
		    struct json_object *patch)
{
	struct json_object *out = NULL;
	int code;

	code = berth_client_merge_patch(c->api, c->rs_res, ns_of(rs),
					name_of(rs), NULL, patch, &out);
	if (code == 200)
		berth_informer_wait_rev(c->rs, berth_obj_rv(out), 2000);
	else
		pr_warn("deployment: patch replicaset %s/%s: %d", ns_of(rs),
			name_of(rs), code);
	json_object_put(out);
	return code == 200 ? 0 : -EAGAIN;
}

/* Scale rs to n, with the replicas annotations; 1 if scaled, or -errno. */
static int scale_rs(struct dp_ctl *c, struct dp_view *v, struct json_object *rs,
		    int64_t n)
{
	struct json_object *patch = json_object_new_object();
	int64_t was = spec_replicas(rs);
	int err;

	wanted_annotations(v, berth_json_obj(berth_json_obj(patch, "metadata"),
					     "annotations"));
	berth_json_set_int(berth_json_obj(patch, "spec"), "replicas", n);
	err = patch_rs(c, rs, patch);
	json_object_put(patch);
	if (err)
		return err;
	berth_json_set_int(berth_json_obj(rs, "spec"), "replicas", n);
	if (was != n)
		berth_event_emit(c->api, DP_COMPONENT, v->d, "Normal",
				 "ScalingReplicaSet",
				 "Scaled %s replica set %s from %lld to %lld",
				 n > was ? "up" : "down", name_of(rs),
				 (long long)was, (long long)n);
	return was != n;
}

/* Make d's metadata annotation key = val if it differs. */
static int set_dp_annotation(struct dp_ctl *c, struct dp_view *v,
			     const char *key, const char *val)
{
	struct json_object *patch, *out = NULL;
	const char *cur = berth_json_get_str(
		berth_json_path(v->d, "metadata.annotations"), key);
	int code;

	if (cur && !strcmp(cur, val))
		return 0;
	patch = json_object_new_object();
	berth_json_set_str(
		berth_json_obj(berth_json_obj(patch, "metadata"), "annotations"),
		key, val);
	code = berth_client_merge_patch(c->api, c->dp_res, ns_of(v->d),
					name_of(v->d), NULL, patch, &out);
	json_object_put(patch);
	if (code != 200) {
		json_object_put(out);
		return -EAGAIN;
	}
	/* go on with the object as written, so the status write is no 409 */
	json_object_put(v->d);
	v->d = out;
	v->spec = berth_json_path(out, "spec");
	return 0;
}

/* ---- the new ReplicaSet and revisions ---- */

static int64_t max_old_revision(struct dp_view *v)
{
	int64_t max = 0, r;
	size_t i;

	for (i = 0; i < v->n; i++) {
		if (v->rs[i] == v->new_rs)
			continue;
		r = ann_int(v->rs[i], ANN_REVISION, 0);
		if (r > max)
			max = r;
	}
	return max;
}

static void find_new_rs(struct dp_view *v)
{
	const char *best = NULL;
	size_t i;

	v->new_rs = NULL;
	for (i = 0; i < v->n; i++) {
		const char *ts = berth_json_path_str(
			v->rs[i], "metadata.creationTimestamp") ?: "";

		if (!template_equal(v->rs[i], v->d))
			continue;
		/* several equal (a hash collision of old): the oldest */
		if (!best || strcmp(ts, best) < 0) {
			best = ts;
			v->new_rs = v->rs[i];
		}
	}
}

/*
 * Bring the existing new RS's revision (a rollback makes an old one new
 * again: it takes the next revision and remembers the old in
 * revision-history), copied annotations and minReadySeconds up to date.
 */
static int sync_new_rs(struct dp_ctl *c, struct dp_view *v)
{
	struct json_object *rs = v->new_rs, *patch, *ann, *cur;
	int64_t next = max_old_revision(v) + 1;
	int64_t rev = ann_int(rs, ANN_REVISION, 0);
	int64_t mrs = berth_json_get_int(v->spec, "minReadySeconds", 0);
	char num[32], hist[512];
	bool change = false;
	int err;

	patch = json_object_new_object();
	ann = berth_json_obj(berth_json_obj(patch, "metadata"), "annotations");
	cur = berth_json_path(rs, "metadata.annotations");
	wanted_annotations(v, ann);
	json_object_object_del(ann, ANN_DESIRED);
	json_object_object_del(ann, ANN_MAX);
	json_object_object_foreach(ann, k, val)
	{
		const char *have = berth_json_get_str(cur, k);

		if (!have || strcmp(have, json_object_get_string(val)))
			change = true;
	}
	if (rev < next) {
		snprintf(num, sizeof(num), "%lld", (long long)next);
		berth_json_set_str(ann, ANN_REVISION, num);
		if (rev) {
			const char *h = berth_json_get_str(cur, ANN_HISTORY);

			snprintf(hist, sizeof(hist), "%s%s%lld", h ?: "",
				 h && *h ? "," : "", (long long)rev);
			berth_json_set_str(ann, ANN_HISTORY, hist);
		}
		change = true;
	}
	if (berth_json_get_int(berth_json_path(rs, "spec"), "minReadySeconds",
			       0) != mrs) {
		berth_json_set_int(berth_json_obj(patch, "spec"),
				   "minReadySeconds", mrs);
		change = true;
	}
	err = change ? patch_rs(c, rs, patch) : 0;
	if (!err && rev < next) {
		/* the cached copy is v's: refresh the annotation we read */
		snprintf(num, sizeof(num), "%lld", (long long)next);
		berth_json_set_str(
			berth_json_obj(berth_json_obj(rs, "metadata"),
				       "annotations"),
			ANN_REVISION, num);
	}
	json_object_put(patch);
	return err;
}

/* A new ReplicaSet for d's template with n replicas. */
static struct json_object *new_rs_object(struct dp_view *v, const char *hash,
					 int64_t n, int64_t revision)
{
	struct json_object *rs = json_object_new_object(), *md, *spec, *sel;
	struct json_object *tmpl, *refs;
	char name[320], num[32];

	berth_json_set_str(rs, "apiVersion", "apps/v1");
	berth_json_set_str(rs, "kind", "ReplicaSet");
	md = berth_json_obj(rs, "metadata");
	snprintf(name, sizeof(name), "%.240s-%s", name_of(v->d), hash);
	berth_json_set_str(md, "name", name);
	berth_json_set_str(md, "namespace", ns_of(v->d));
	tmpl = berth_json_copy(berth_json_path(v->spec, "template"));
	drop_nulls(tmpl);
	berth_json_set_str(berth_json_obj(berth_json_obj(tmpl, "metadata"),
					  "labels"),
			   HASH_LABEL, hash);
	json_object_object_add(md, "labels",
			       berth_json_copy(berth_json_path(
				       tmpl, "metadata.labels")));
	wanted_annotations(v, berth_json_obj(md, "annotations"));
	snprintf(num, sizeof(num), "%lld", (long long)revision);
	berth_json_set_str(berth_json_obj(md, "annotations"), ANN_REVISION,
			   num);
	refs = json_object_new_array();
	json_object_array_add(refs, berth_owner_ref(v->d, true));
	json_object_object_add(md, "ownerReferences", refs);
	spec = berth_json_obj(rs, "spec");
	berth_json_set_int(spec, "replicas", n);
	berth_json_set_int(spec, "minReadySeconds",
			   berth_json_get_int(v->spec, "minReadySeconds", 0));
	sel = berth_json_copy(berth_json_path(v->spec, "selector"));
	berth_json_set_str(berth_json_obj(sel, "matchLabels"), HASH_LABEL,
			   hash);
	json_object_object_add(spec, "selector", sel);
	json_object_object_add(spec, "template", tmpl);
	return rs;
}

/* How many pods the new RS should have now (NewRSNewReplicas). */
static int64_t new_rs_target(struct dp_view *v)
{
	int64_t cur = v->new_rs ? spec_replicas(v->new_rs) : 0;
	int64_t total = 0, max, up;
	size_t i;

	if (!v->rolling)
		return v->replicas;
	/* maxSurge bounds pods, not sizes: count the ones still going */
	for (i = 0; i < v->n; i++)
		total += rs_pods(v->rs[i]);
	max = v->replicas + v->surge;
	if (total >= max)
		return cur;
	up = max - total;
	if (up > v->replicas - cur)
		up = v->replicas - cur;
	return cur + (up > 0 ? up : 0);
}

/* Is "<d>-<hash>" a ReplicaSet with d's template (so no collision)? */
static bool same_template_named(struct dp_ctl *c, struct dp_view *v,
				const char *hash)
{
	struct json_object *rs;
	char key[600];
	bool same;

	snprintf(key, sizeof(key), "%s/%.240s-%s", ns_of(v->d), name_of(v->d),
		 hash);
	rs = berth_informer_get(c->rs, key);
	same = rs && template_equal(rs, v->d);
	json_object_put(rs);
	return same;
}

/* Create the new RS; on a name taken by another template, count the
 * collision (the next sync hashes differently). */
static int create_new_rs(struct dp_ctl *c, struct dp_view *v)
{
	struct json_object *rs, *out = NULL;
	char hash[32];
	int code;

	template_hash(v->d, hash, sizeof(hash));
	rs = new_rs_object(v, hash, new_rs_target(v), max_old_revision(v) + 1);
	code = berth_client_create(c->api, c->rs_res, ns_of(v->d), rs, &out);
	json_object_put(rs);
	if (code == 201) {
		berth_informer_wait_rev(c->rs, berth_obj_rv(out), 2000);
		berth_event_emit(c->api, DP_COMPONENT, v->d, "Normal",
				 "ScalingReplicaSet",
				 "Scaled up replica set %s from 0 to %lld",
				 name_of(out), (long long)spec_replicas(out));
		v->created = out;
		v->new_rs = out;
		if (v->n < MAX_RS)
			v->rs[v->n++] = out;
		v->progress_reason = "NewReplicaSetCreated";
		return 0;
	}
	json_object_put(out);
	if (code == 409) {
		struct json_object *st = berth_json_copy(
			berth_json_path(v->d, "status")) ?:
						 json_object_new_object();

		/* ours but not in the cache yet: the next sync finds it */
		berth_rollout_barrier(c->api, c->rs_res, ns_of(v->d), c->rs);
		if (same_template_named(c, v, hash))
			return -EAGAIN;
		/* another template has the name: hash again, differently */
		berth_json_set_int(st, "collisionCount",
				   st_int(v->d, "collisionCount") + 1);
		out = NULL;
		json_object_object_add(v->d, "status", st);
		code = berth_client_update(c->api, c->dp_res, ns_of(v->d),
					   name_of(v->d), "status", v->d, &out);
		json_object_put(out);
	}
	pr_warn("deployment: create replicaset for %s/%s: %d", ns_of(v->d),
		name_of(v->d), code);
	return -EAGAIN;
}

/* Find the new RS and sync revisions; create it when create is set. */
static int get_new_rs(struct dp_ctl *c, struct dp_view *v, bool create)
{
	char num[32];
	int err;

	find_new_rs(v);
	if (v->new_rs) {
		err = sync_new_rs(c, v);
		if (err)
			return err;
		if (!berth_get_condition(berth_json_path(v->d, "status"),
					 "Progressing"))
			v->progress_reason = "FoundNewReplicaSet";
	} else if (create) {
		err = create_new_rs(c, v);
		if (err)
			return err;
	} else {
		return 0;
	}
	snprintf(num, sizeof(num), "%lld",
		 (long long)ann_int(v->new_rs, ANN_REVISION, 0));
	return set_dp_annotation(c, v, ANN_REVISION, num);
}

/* ---- scaling ---- */

static int size_cmp_newer(const void *pa, const void *pb)
{
	struct json_object *a = *(struct json_object *const *)pa;
	struct json_object *b = *(struct json_object *const *)pb;
	int64_t x = spec_replicas(a), y = spec_replicas(b);

	if (x != y)
		return x > y ? -1 : 1;
	return strcmp(berth_json_path_str(b, "metadata.creationTimestamp") ?: "",
		      berth_json_path_str(a, "metadata.creationTimestamp") ?: "");
}

static int size_cmp_older(const void *pa, const void *pb)
{
	struct json_object *a = *(struct json_object *const *)pa;
	struct json_object *b = *(struct json_object *const *)pb;
	int64_t x = spec_replicas(a), y = spec_replicas(b);

	if (x != y)
		return x > y ? -1 : 1;
	return -size_cmp_newer(pa, pb);
}

static int created_cmp(const void *pa, const void *pb)
{
	struct json_object *a = *(struct json_object *const *)pa;
	struct json_object *b = *(struct json_object *const *)pb;

	return strcmp(berth_json_path_str(a, "metadata.creationTimestamp") ?: "",
		      berth_json_path_str(b, "metadata.creationTimestamp") ?: "");
}

/* rs's share of a change in size: its size scaled by the ratio of the
 * Deployment's size (plus surge) to the size rs was last scaled for. */
static int64_t rs_fraction(struct dp_view *v, struct json_object *rs)
{
	int64_t total = v->replicas + v->surge;
	int64_t was = ann_int(rs, ANN_MAX, st_int(v->d, "replicas"));

	if (!v->replicas)
		return -spec_replicas(rs);
	if (was <= 0)
		return 0;
	return (int64_t)llround((double)spec_replicas(rs) * (double)total /
				(double)was) -
	       spec_replicas(rs);
}

static bool saturated(struct dp_view *v, struct json_object *rs)
{
	return rs && spec_replicas(rs) == v->replicas &&
	       ann_int(rs, ANN_DESIRED, -1) == v->replicas &&
	       st_int(rs, "availableReplicas") == v->replicas;
}

/*
 * Scale to spec.replicas without rolling: the one active RS takes all; a
 * saturated new RS leaves the old at 0; during a rolling update the
 * change is spread over the active RSs in proportion to their sizes.
 */
static int scale(struct dp_ctl *c, struct dp_view *v)
{
	struct json_object *active[MAX_RS], *only = NULL;
	int64_t sizes[MAX_RS], total = 0, add, added = 0;
	size_t i, na = 0;
	int err = 0, r;

	for (i = 0; i < v->n; i++)
		if (spec_replicas(v->rs[i]) > 0)
			active[na++] = v->rs[i];
	if (na == 1) {
		only = active[0];
	} else if (!na && v->new_rs) {
		only = v->new_rs;
	} else if (!na && v->n) {
		qsort(v->rs, v->n, sizeof(*v->rs), created_cmp);
		only = v->rs[v->n - 1];
	}
	if (only) {
		if (spec_replicas(only) == v->replicas)
			return 0;
		r = scale_rs(c, v, only, v->replicas);
		return r < 0 ? r : 0;
	}
	if (saturated(v, v->new_rs)) {
		for (i = 0; i < v->n; i++)
			if (v->rs[i] != v->new_rs && spec_replicas(v->rs[i])) {
				r = scale_rs(c, v, v->rs[i], 0);
				err = r < 0 ? r : err;
			}
		return err;
	}
	if (!v->rolling)
		return 0;
	for (i = 0; i < na; i++)
		total += spec_replicas(active[i]);
	add = v->replicas + v->surge - total;
	if (!add)
		return 0;
	qsort(active, na, sizeof(*active),
	      add > 0 ? size_cmp_newer : size_cmp_older);
	for (i = 0; i < na; i++) {
		int64_t f = 0, left = add - added;

		if (left) {
			f = rs_fraction(v, active[i]);
			f = add > 0 ? (f < left ? f : left) :
				      (f > left ? f : left);
		}
		sizes[i] = spec_replicas(active[i]) + f;
		added += f;
	}
	sizes[0] += add - added; /* what rounding left goes to the largest */
	for (i = 0; i < na; i++) {
		if (sizes[i] < 0)
			sizes[i] = 0;
		if (sizes[i] != spec_replicas(active[i])) {
			r = scale_rs(c, v, active[i], sizes[i]);
			err = r < 0 ? r : err;
		}
	}
	return err;
}

/* replicas changed, not the template: some active RS was sized for
 * another count */
static bool scaling_event(struct dp_view *v)
{
	size_t i;

	for (i = 0; i < v->n; i++) {
		int64_t want = ann_int(v->rs[i], ANN_DESIRED, -1);

		if (spec_replicas(v->rs[i]) > 0 && want >= 0 &&
		    want != v->replicas)
			return true;
	}
	return false;
}

/* ---- cleanup of old revisions ---- */

static int revision_cmp(const void *pa, const void *pb)
{
	int64_t a = ann_int(*(struct json_object *const *)pa, ANN_REVISION, 0);
	int64_t b = ann_int(*(struct json_object *const *)pb, ANN_REVISION, 0);

	if (a != b)
		return a < b ? -1 : 1;
	return created_cmp(pa, pb);
}

/* Delete the oldest scaled-down RSs beyond revisionHistoryLimit. */
static void cleanup(struct dp_ctl *c, struct dp_view *v)
{
	struct json_object *old[MAX_RS];
	int64_t limit = berth_json_get_int(v->spec, "revisionHistoryLimit", -1);
	size_t i, n = 0;
	int64_t diff;

	if (limit < 0)
		return;
	for (i = 0; i < v->n; i++)
		if (v->rs[i] != v->new_rs && !berth_obj_deleting(v->rs[i]))
			old[n++] = v->rs[i];
	diff = (int64_t)n - limit;
	if (diff <= 0)
		return;
	qsort(old, n, sizeof(*old), revision_cmp);
	for (i = 0; i < (size_t)diff; i++) {
		struct json_object *rs = old[i];

		if (st_int(rs, "replicas") || spec_replicas(rs) ||
		    st_int(rs, "observedGeneration") <
			    berth_json_get_int(berth_json_path(rs, "metadata"),
					       "generation", 0))
			continue;
		berth_client_delete(c->api, c->rs_res, ns_of(rs), name_of(rs),
				    NULL,
				    berth_json_path_str(rs, "metadata.uid"));
	}
}

/* ---- status ---- */

static void set_update_time(struct json_object *status, const char *type)
{
	char ts[32];

	berth_now_rfc3339(ts, sizeof(ts));
	berth_json_set_str(berth_get_condition(status, type), "lastUpdateTime",
			   ts);
}

static void set_cond(struct json_object *status, const char *type,
		     const char *s, const char *reason, const char *msg)
{
	if (berth_set_condition(status, type, s, reason, msg))
		set_update_time(status, type);
}

static bool complete(struct dp_view *v, struct json_object *st)
{
	return berth_json_get_int(st, "updatedReplicas", 0) == v->replicas &&
	       berth_json_get_int(st, "replicas", 0) == v->replicas &&
	       berth_json_get_int(st, "availableReplicas", 0) == v->replicas &&
	       berth_json_get_int(st, "observedGeneration", 0) >=
		       berth_json_get_int(berth_json_path(v->d, "metadata"),
					  "generation", 0);
}

/* Did the rollout move since the last status? */
static bool progressed(struct json_object *old, struct json_object *st)
{
	static const char *const up[] = { "updatedReplicas", "readyReplicas",
					  "availableReplicas", NULL };
	int i;

	for (i = 0; up[i]; i++)
		if (berth_json_get_int(st, up[i], 0) >
		    berth_json_get_int(old, up[i], 0))
			return true;
	return berth_json_get_int(st, "replicas", 0) -
		       berth_json_get_int(st, "updatedReplicas", 0) <
	       berth_json_get_int(old, "replicas", 0) -
		       berth_json_get_int(old, "updatedReplicas", 0);
}

/* The counts from the ReplicaSets and the Available condition. */
static void count_status(struct dp_view *v, struct json_object *st)
{
	int64_t replicas = 0, ready = 0, avail = 0, unavail;
	size_t i;

	for (i = 0; i < v->n; i++) {
		replicas += st_int(v->rs[i], "replicas");
		ready += st_int(v->rs[i], "readyReplicas");
		avail += st_int(v->rs[i], "availableReplicas");
	}
	unavail = v->replicas - avail;
	berth_json_set_int(st, "observedGeneration",
			   berth_json_get_int(berth_json_path(v->d, "metadata"),
					      "generation", 0));
	berth_json_set_int(st, "replicas", replicas);
	berth_json_set_int(st, "updatedReplicas",
			   v->new_rs ? st_int(v->new_rs, "replicas") : 0);
	berth_json_set_int(st, "readyReplicas", ready);
	berth_json_set_int(st, "availableReplicas", avail);
	berth_json_set_int(st, "unavailableReplicas", unavail > 0 ? unavail : 0);
	if (avail >= v->replicas - max_unavailable(v))
		set_cond(st, "Available", "True", "MinimumReplicasAvailable",
			 "Deployment has minimum availability.");
	else
		set_cond(st, "Available", "False", "MinimumReplicasUnavailable",
			 "Deployment does not have minimum availability.");
}

static bool reason_is(struct json_object *cond, const char *reason)
{
	return cond && !strcmp(berth_json_get_str(cond, "reason") ?: "", reason);
}

/* Progressing while paused, on resume, and on finding the new RS. */
static void pause_progress(struct dp_view *v, struct json_object *st,
			   bool paused)
{
	struct json_object *cond = berth_get_condition(st, "Progressing");
	char msg[400];

	if (paused) {
		if (!reason_is(cond, "DeploymentPaused"))
			set_cond(st, "Progressing", "Unknown",
				 "DeploymentPaused", "Deployment is paused");
	} else if (reason_is(cond, "DeploymentPaused")) {
		set_cond(st, "Progressing", "Unknown", "DeploymentResumed",
			 "Deployment is resumed");
	} else if (v->progress_reason && v->new_rs) {
		snprintf(msg, sizeof(msg),
			 strcmp(v->progress_reason, "NewReplicaSetCreated") ?
				 "Found new replica set \"%s\"" :
				 "Created new replica set \"%s\"",
			 name_of(v->new_rs));
		set_cond(st, "Progressing", "True", v->progress_reason, msg);
	}
}

/*
 * Progressing of a rollout: complete, moving (lastUpdateTime renewed) or
 * stalled past progressDeadlineSeconds. Returns the ms after which the
 * deadline must be looked at again (0: not needed).
 */
static int rollout_progress(struct dp_ctl *c, struct dp_view *v,
			    struct json_object *old, struct json_object *st)
{
	int64_t deadline = berth_json_get_int(v->spec,
					      "progressDeadlineSeconds", -1);
	struct json_object *cond = berth_get_condition(st, "Progressing");
	const char *nrs = name_of(v->new_rs);
	char msg[400];
	double left;

	if (deadline < 0)
		return 0;
	if (complete(v, st)) {
		snprintf(msg, sizeof(msg),
			 "ReplicaSet \"%s\" has successfully progressed.", nrs);
		set_cond(st, "Progressing", "True", "NewReplicaSetAvailable",
			 msg);
		return 0;
	}
	if (progressed(old, st)) {
		snprintf(msg, sizeof(msg), "ReplicaSet \"%s\" is progressing.",
			 nrs);
		berth_set_condition(st, "Progressing", "True",
				    "ReplicaSetUpdated", msg);
		set_update_time(st, "Progressing");
	} else if (reason_is(cond, "ProgressDeadlineExceeded")) {
		return 0;
	} else if (cond && berth_since(berth_json_get_str(
				   cond, "lastUpdateTime")) > (double)deadline) {
		snprintf(msg, sizeof(msg),
			 "ReplicaSet \"%s\" has timed out progressing.", nrs);
		set_cond(st, "Progressing", "False", "ProgressDeadlineExceeded",
			 msg);
		berth_event_emit(c->api, DP_COMPONENT, v->d, "Warning",
				 "ProgressDeadlineExceeded", "%s", msg);
		return 0;
	}
	cond = berth_get_condition(st, "Progressing");
	left = (double)deadline -
	       berth_since(berth_json_get_str(cond, "lastUpdateTime"));
	return left > 0 ? (int)(left * 1000) + 1000 : 1000;
}

/*
 * Status from the ReplicaSets and the conditions (Progressing of a
 * rollout only when rolling), written if changed. *recheck_ms: when to
 * look at the progress deadline again (0: not needed).
 */
static int sync_status(struct dp_ctl *c, struct dp_view *v, bool rolling,
		       int *recheck_ms)
{
	struct json_object *old = berth_json_path(v->d, "status");
	struct json_object *st = berth_json_copy(old) ?:
				 json_object_new_object();
	struct json_object *out = NULL;
	bool paused = json_object_get_boolean(
		json_object_object_get(v->spec, "paused"));
	int code;

	*recheck_ms = 0;
	count_status(v, st);
	pause_progress(v, st, paused);
	if (rolling && !paused && v->new_rs)
		*recheck_ms = rollout_progress(c, v, old, st);
	if (berth_json_equal(st, old)) {
		json_object_put(st);
		return 0;
	}
	json_object_object_add(v->d, "status", st);
	code = berth_client_update(c->api, c->dp_res, ns_of(v->d),
				   name_of(v->d), "status", v->d, &out);
	if (code == 200)
		berth_informer_wait_rev(c->dp, berth_obj_rv(out), 1000);
	json_object_put(out);
	return code == 200 || code == 404 ? 0 : -EAGAIN;
}

/* ---- strategies ---- */

/* Scale old RSs down as far as availability allows (rolling update). */
static int scale_down_old(struct dp_ctl *c, struct dp_view *v)
{
	struct json_object *old[MAX_RS];
	int64_t all = 0, old_pods = 0, min_avail, max_down, avail = 0, done = 0;
	int64_t new_unavail = 0, total;
	size_t i, n = 0;
	int r, scaled = 0;

	for (i = 0; i < v->n; i++) {
		all += spec_replicas(v->rs[i]);
		avail += rs_available(v->rs[i]);
		if (v->rs[i] == v->new_rs)
			continue;
		old[n++] = v->rs[i];
		old_pods += spec_replicas(v->rs[i]);
	}
	if (!old_pods)
		return 0;
	min_avail = v->replicas - max_unavailable(v);
	if (v->new_rs)
		new_unavail = spec_replicas(v->new_rs) -
			      rs_available(v->new_rs);
	max_down = all - min_avail - new_unavail;
	if (max_down <= 0)
		return 0;
	qsort(old, n, sizeof(*old), created_cmp);
	/* first the old pods that are not available anyway */
	for (i = 0; i < n && done < max_down; i++) {
		int64_t s = spec_replicas(old[i]), a = rs_available(old[i]);
		int64_t k = s - a;

		if (!s || k <= 0)
			continue;
		if (k > max_down - done)
			k = max_down - done;
		r = scale_rs(c, v, old[i], s - k);
		if (r < 0)
			return r;
		done += k;
		scaled |= r;
	}
	/* then available ones, keeping min_avail */
	total = avail - min_avail;
	if (total > max_down - done)
		total = max_down - done;
	for (i = 0; i < n && total > 0; i++) {
		int64_t s = spec_replicas(old[i]), k = s < total ? s : total;

		if (!s)
			continue;
		r = scale_rs(c, v, old[i], s - k);
		if (r < 0)
			return r;
		total -= k;
		scaled |= r;
	}
	return scaled;
}

static int rollout_rolling(struct dp_ctl *c, struct dp_view *v)
{
	int64_t want;
	int r;

	r = get_new_rs(c, v, true);
	if (r < 0)
		return r;
	want = spec_replicas(v->new_rs);
	if (want > v->replicas)
		r = scale_rs(c, v, v->new_rs, v->replicas);
	else if (want < v->replicas && new_rs_target(v) != want)
		r = scale_rs(c, v, v->new_rs, new_rs_target(v));
	else
		r = 0;
	if (r)
		return r < 0 ? r : 0;
	r = scale_down_old(c, v);
	if (r)
		return r < 0 ? r : 0;
	if (complete(v, berth_json_path(v->d, "status")))
		cleanup(c, v);
	return 0;
}

/* Pods of old RSs still there (even terminating) hold a Recreate back. */
static bool old_pods_running(struct dp_ctl *c, struct dp_view *v)
{
	bool running = false;
	size_t i, j, n;

	for (i = 0; i < v->n && !running; i++) {
		struct json_object *pods;

		if (v->rs[i] == v->new_rs)
			continue;
		if (st_int(v->rs[i], "replicas")) {
			running = true;
			break;
		}
		pods = berth_informer_list(
			c->pods, "owner",
			berth_json_path_str(v->rs[i], "metadata.uid"));
		n = json_object_array_length(pods);
		for (j = 0; j < n; j++)
			if (!berth_pod_finished(
				    json_object_array_get_idx(pods, j)))
				running = true;
		json_object_put(pods);
	}
	return running;
}

static int rollout_recreate(struct dp_ctl *c, struct dp_view *v)
{
	size_t i;
	int r, scaled = 0;

	r = get_new_rs(c, v, false);
	if (r < 0)
		return r;
	for (i = 0; i < v->n; i++) {
		if (v->rs[i] == v->new_rs || !spec_replicas(v->rs[i]))
			continue;
		r = scale_rs(c, v, v->rs[i], 0);
		if (r < 0)
			return r;
		scaled |= r;
	}
	if (scaled || old_pods_running(c, v))
		return 0;
	if (!v->new_rs) {
		r = get_new_rs(c, v, true);
		if (r < 0)
			return r;
	}
	if (spec_replicas(v->new_rs) != v->replicas) {
		r = scale_rs(c, v, v->new_rs, v->replicas);
		if (r)
			return r < 0 ? r : 0;
	}
	if (complete(v, berth_json_path(v->d, "status")))
		cleanup(c, v);
	return 0;
}

static int dp_sync(void *ctx, const char *key)
{
	struct dp_ctl *c = ctx;
	struct dp_view v = { 0 };
	bool paused, rolling = false;
	int err, recheck = 0;

	v.d = berth_informer_get(c->dp, key);
	if (!v.d)
		return 0;
	v.spec = berth_json_path(v.d, "spec");
	resolve_fenceposts(&v);
	err = claim_rs(c, &v);
	if (err)
		goto out;
	paused = json_object_get_boolean(
		json_object_object_get(v.spec, "paused"));
	if (berth_obj_deleting(v.d)) {
		find_new_rs(&v);
	} else if (paused || scaling_event(&v)) {
		err = get_new_rs(c, &v, false);
		if (!err)
			err = scale(c, &v);
		if (!err && paused)
			cleanup(c, &v);
	} else {
		rolling = true;
		err = v.rolling ? rollout_rolling(c, &v) :
				  rollout_recreate(c, &v);
	}
	if (!err)
		err = sync_status(c, &v, rolling, &recheck);
	if (recheck)
		berth_queue_add_after(c->q, key, recheck);
out:
	json_object_put(v.created);
	json_object_put(v.list);
	json_object_put(v.d);
	return err;
}

static int dp_init(struct berth_ctl *m, void **state)
{
	struct dp_ctl *c = calloc(1, sizeof(*c));
	struct berth_informer_handler h;

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->dp_res = berth_res("apps", "deployments");
	c->rs_res = berth_res("apps", "replicasets");
	c->q = berth_queue_new("deployment");
	c->dp = berth_ctl_informer(m, c->dp_res);
	c->rs = berth_ctl_informer(m, c->rs_res);
	c->pods = berth_ctl_informer(m, berth_res("", "pods"));
	berth_informer_add_index(c->pods, "owner", berth_index_owner_uid);
	berth_enqueue_handler(&h, c->q);
	berth_informer_add_handler(c->dp, &h);
	berth_informer_add_handler(
		c->rs, &(struct berth_informer_handler){ .add = rs_add,
							 .update = rs_update,
							 .del = rs_add,
							 .ctx = c });
	berth_informer_add_handler(
		c->pods,
		&(struct berth_informer_handler){ .del = pod_del, .ctx = c });
	*state = c;
	return berth_ctl_workers(m, "deployment", c->q, 2, dp_sync, c);
}

BERTH_CONTROLLER(deployment, .name = "deployment", .init = dp_init,
		 .stop = free);
