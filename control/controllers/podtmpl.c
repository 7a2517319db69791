// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Helpers of the DaemonSet, Job and StatefulSet controllers: pods from a
 * template, revision hashes, status writes, node eligibility.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/selector.h"
#include "ctl.h"
#include "podtmpl.h"

static const char *str_or(const char *s, const char *def)
{
	return s ? s : def;
}

static uint64_t fnv(uint64_t h, const char *s)
{
	for (; s && *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* FNV-1a over v with object keys in sorted order, so that a template put
 * back by a rollback hashes the same whatever order its keys came in. */
static uint64_t hash_json(uint64_t h, struct json_object *v, int depth)
{
	const char **keys;
	size_t i, n = 0;

	if (!json_object_is_type(v, json_type_object) ||
	    depth > BERTH_JSON_MAX_DEPTH) {
		if (json_object_is_type(v, json_type_array)) {
			h = fnv(h, "[");
			for (i = 0; i < json_object_array_length(v); i++)
				h = hash_json(h,
					      json_object_array_get_idx(v, i),
					      depth + 1);
			return fnv(h, "]");
		}
		return fnv(fnv(h, json_object_to_json_string_ext(
					  v, JSON_C_TO_STRING_PLAIN)),
			   ",");
	}
	keys = malloc((json_object_object_length(v) + 1) * sizeof(*keys));
	if (!keys)
		return h;
	json_object_object_foreach(v, k, val)
	{
		(void)val;
		keys[n++] = k;
	}
	qsort(keys, n, sizeof(*keys), str_cmp);
	h = fnv(h, "{");
	for (i = 0; i < n; i++) {
		h = fnv(fnv(h, keys[i]), ":");
		h = hash_json(h, json_object_object_get(v, keys[i]), depth + 1);
	}
	free(keys);
	return fnv(h, "}");
}

void berth_wl_template_hash(struct json_object *owner, char *buf, size_t size)
{
	uint64_t h = hash_json(1469598103934665603ULL, /* FNV-1a 64 */
			       berth_json_path(owner, "spec.template"), 0);
	static const char digits[] = "bcdfghjklmnpqrstvwxz2456789";
	size_t i;

	/* the alphabet k8s uses for hashes: no vowels, no 0/1/3 */
	for (i = 0; i + 1 < size && i < 10; i++) {
		buf[i] = digits[h % (sizeof(digits) - 1)];
		h /= sizeof(digits) - 1;
	}
	buf[i] = 0;
}

struct json_object *berth_wl_pod(struct json_object *owner,
				 struct json_object *tmpl)
{
	struct json_object *t = tmpl ? tmpl :
				       berth_json_path(owner, "spec.template");
	struct json_object *pod = json_object_new_object();
	struct json_object *md, *refs, *v;

	berth_json_set_str(pod, "apiVersion", "v1");
	berth_json_set_str(pod, "kind", "Pod");
	md = berth_json_obj(pod, "metadata");
	berth_json_set_str(
		md, "namespace",
		str_or(berth_json_path_str(owner, "metadata.namespace"),
		       "default"));
	v = berth_json_path(t, "metadata.labels");
	json_object_object_add(md, "labels",
			       v ? berth_json_copy(v) :
				   json_object_new_object());
	v = berth_json_path(t, "metadata.annotations");
	if (v)
		json_object_object_add(md, "annotations", berth_json_copy(v));
	refs = json_object_new_array();
	json_object_array_add(refs, berth_owner_ref(owner, true));
	json_object_object_add(md, "ownerReferences", refs);
	v = berth_json_path(t, "spec");
	json_object_object_add(
		pod, "spec", v ? berth_json_copy(v) : json_object_new_object());
	return pod;
}

static void owner_enqueue(void *ctx, struct json_object *pod)
{
	struct berth_wl_watch *w = ctx;
	char key[512];

	if (berth_owner_key(pod, w->kind, key, sizeof(key)))
		berth_queue_add(w->q, key);
}

static void owner_enqueue_update(void *ctx, struct json_object *old,
				 struct json_object *pod)
{
	(void)old;
	owner_enqueue(ctx, pod);
}

void berth_wl_watch(struct berth_ctl *m, const struct berth_resource *r,
		    bool revisions, struct berth_wl_watch *w)
{
	struct berth_informer_handler h;

	w->owners = berth_ctl_informer(m, r);
	berth_enqueue_handler(&h, w->q);
	berth_informer_add_handler(w->owners, &h);
	w->pods = berth_ctl_informer(m, berth_res("", "pods"));
	berth_informer_add_index(w->pods, "owner", berth_index_owner_uid);
	berth_informer_add_handler(w->pods,
				   &(struct berth_informer_handler){
					   .add = owner_enqueue,
					   .update = owner_enqueue_update,
					   .del = owner_enqueue,
					   .ctx = w });
	if (!revisions)
		return;
	w->crs =
		berth_ctl_informer(m, berth_res("apps", "controllerrevisions"));
	berth_informer_add_index(w->crs, "owner", berth_index_owner_uid);
}

int berth_wl_create_pod(struct berth_api *api, struct berth_informer *pods,
			struct json_object *owner, const char *component,
			struct json_object *pod)
{
	struct json_object *out = NULL;
	const char *ns = berth_json_path_str(pod, "metadata.namespace");
	int code, err = 0;

	code = berth_client_create(api, berth_res("", "pods"), ns, pod, &out);
	if (code == 201) {
		berth_informer_wait_rev(pods, berth_obj_rv(out), 2000);
		berth_event_emit(api, component, owner, "Normal",
				 "SuccessfulCreate", "Created pod: %s",
				 berth_json_path_str(out, "metadata.name"));
	} else if (code != 403 && code != 409) {
		/* 403: the namespace is terminating; 409: made meanwhile */
		pr_warn("%s: create pod for %s/%s: HTTP %d", component, ns,
			berth_json_path_str(owner, "metadata.name"), code);
		err = -EIO;
	}
	json_object_put(out);
	return err;
}

int berth_wl_delete_pod(struct berth_api *api, struct berth_informer *pods,
			struct json_object *owner, const char *component,
			struct json_object *pod)
{
	const char *uid = berth_json_path_str(pod, "metadata.uid");
	const char *name = berth_json_path_str(pod, "metadata.name");
	char key[512];
	int code, i;

	code = berth_client_delete(api, berth_res("", "pods"),
				   berth_json_path_str(pod,
						       "metadata.namespace"),
				   name, NULL, uid);
	if (code == 404 || code == 409)
		return 0; /* gone already, or another pod by now */
	if (code != 200 && code != 202) {
		pr_warn("%s: delete pod %s of %s: HTTP %d", component, name,
			berth_json_path_str(owner, "metadata.name"), code);
		return -EIO;
	}
	berth_event_emit(api, component, owner, "Normal", "SuccessfulDelete",
			 "Deleted pod: %s", name);
	/* the delete returns no revision: wait until the cache shows it */
	berth_obj_key(pod, key, sizeof(key));
	for (i = 0; i < 500; i++) {
		struct json_object *p = berth_informer_get(pods, key);
		const char *u = berth_json_path_str(p, "metadata.uid");
		bool seen = !p || berth_obj_deleting(p) || !u ||
			    strcmp(u, str_or(uid, ""));

		json_object_put(p);
		if (seen)
			break;
		usleep(2000);
	}
	return 0;
}

struct json_object *berth_wl_owned_pods(struct berth_informer *pods,
					struct json_object *owner)
{
	const char *uid = berth_json_path_str(owner, "metadata.uid");
	struct json_object *all, *mine = json_object_new_array();
	size_t i, n;

	if (!uid)
		return mine;
	all = berth_informer_list(pods, "owner", uid);
	n = json_object_array_length(all);
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(all, i);
		const char *cu =
			berth_json_get_str(berth_owner_controller(p), "uid");

		if (cu && !strcmp(cu, uid))
			json_object_array_add(mine, json_object_get(p));
	}
	json_object_put(all);
	return mine;
}

int berth_wl_write_status(struct berth_api *api, const struct berth_resource *r,
			  struct json_object *owner, struct json_object *status)
{
	struct json_object *patch, *out = NULL;
	int code;

	if (berth_json_equal(status, berth_json_path(owner, "status")))
		return 0;
	patch = json_object_new_object();
	json_object_object_add(patch, "status", json_object_get(status));
	code = berth_client_merge_patch(
		api, r, berth_json_path_str(owner, "metadata.namespace"),
		berth_json_path_str(owner, "metadata.name"), "status", patch,
		&out);
	json_object_put(patch);
	json_object_put(out);
	if (code == 404)
		return 0;
	return code == 200 ? 0 : -EIO;
}

int berth_wl_scaled(struct json_object *v, int total, bool round_up, int def)
{
	const char *s;
	long pct;

	if (json_object_is_type(v, json_type_int))
		return json_object_get_int(v);
	if (!json_object_is_type(v, json_type_string))
		return def;
	s = json_object_get_string(v);
	pct = strtol(s, NULL, 10);
	if (!strchr(s, '%'))
		return (int)pct;
	if (round_up)
		return (int)((pct * total + 99) / 100);
	return (int)(pct * total / 100);
}

const char *berth_wl_label(struct json_object *obj, const char *key)
{
	return berth_json_get_str(berth_json_path(obj, "metadata.labels"), key);
}

/* ---- ControllerRevisions ---- */

static int64_t rev_of(struct json_object *cr)
{
	return berth_json_get_int(cr, "revision", 0);
}

static int rev_cmp(const void *a, const void *b)
{
	int64_t x = rev_of(*(struct json_object *const *)a);
	int64_t y = rev_of(*(struct json_object *const *)b);

	return x < y ? -1 : x > y;
}

static bool name_in(struct json_object *names, const char *name)
{
	size_t i, n = json_object_is_type(names, json_type_array) ?
			      json_object_array_length(names) :
			      0;

	for (i = 0; name && i < n; i++)
		if (!strcmp(json_object_get_string(
				    json_object_array_get_idx(names, i)),
			    name))
			return true;
	return false;
}

/* A new ControllerRevision of owner's template, numbered rev. */
static struct json_object *new_revision(struct json_object *owner,
					const char *name, int64_t rev)
{
	struct json_object *cr = json_object_new_object(), *md, *refs, *t, *v;
	const char *cause = berth_json_get_str(
		berth_json_path(owner, "metadata.annotations"),
		"kubernetes.io/change-cause");

	berth_json_set_str(cr, "apiVersion", "apps/v1");
	berth_json_set_str(cr, "kind", "ControllerRevision");
	md = berth_json_obj(cr, "metadata");
	berth_json_set_str(md, "name", name);
	v = berth_json_path(owner, "spec.template.metadata.labels");
	json_object_object_add(md, "labels",
			       v ? berth_json_copy(v) :
				   json_object_new_object());
	if (cause)
		berth_json_set_str(berth_json_obj(md, "annotations"),
				   "kubernetes.io/change-cause", cause);
	refs = json_object_new_array();
	json_object_array_add(refs, berth_owner_ref(owner, true));
	json_object_object_add(md, "ownerReferences", refs);
	t = berth_json_copy(berth_json_path(owner, "spec.template"));
	if (!t)
		t = json_object_new_object();
	berth_json_set_str(t, "$patch", "replace");
	json_object_object_add(berth_json_obj(berth_json_obj(cr, "data"),
					      "spec"),
			       "template", t);
	berth_json_set_int(cr, "revision", rev);
	return cr;
}

/* Delete the oldest revisions past the limit, sparing cur and live ones. */
static void trim_revisions(struct berth_api *api, struct json_object *owner,
			   struct json_object *list, const char *cur,
			   struct json_object *live)
{
	const struct berth_resource *r =
		berth_res("apps", "controllerrevisions");
	int64_t limit = berth_json_get_int(berth_json_path(owner, "spec"),
					   "revisionHistoryLimit", 10);
	size_t i, n = json_object_array_length(list);
	int64_t old = (int64_t)n - 1; /* all but the current one */

	json_object_array_sort(list, rev_cmp);
	for (i = 0; i < n && old > limit; i++) {
		struct json_object *cr = json_object_array_get_idx(list, i);
		const char *name = berth_json_path_str(cr, "metadata.name");

		if (!name || !strcmp(name, cur) || name_in(live, name))
			continue;
		if (berth_client_delete(
			    api, r,
			    berth_json_path_str(cr, "metadata.namespace"), name,
			    NULL,
			    berth_json_path_str(cr, "metadata.uid")) == 200)
			old--;
	}
}

int berth_wl_sync_revisions(struct berth_api *api, struct berth_informer *crs,
			    struct json_object *owner, const char *hash,
			    struct json_object *live)
{
	const struct berth_resource *r =
		berth_res("apps", "controllerrevisions");
	const char *uid = berth_json_path_str(owner, "metadata.uid");
	const char *ns = berth_json_path_str(owner, "metadata.namespace");
	struct json_object *all, *mine, *cr = NULL, *out = NULL, *patch;
	int64_t max = 0;
	char name[320];
	size_t i, n;
	int code = 200, err = 0;

	if (!uid)
		return 0;
	snprintf(name, sizeof(name), "%s-%s",
		 berth_json_path_str(owner, "metadata.name"), hash);
	all = berth_informer_list(crs, "owner", uid);
	mine = json_object_new_array();
	n = json_object_array_length(all);
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(all, i);
		const char *cu =
			berth_json_get_str(berth_owner_controller(c), "uid");
		const char *cn = berth_json_path_str(c, "metadata.name");

		if (!cu || strcmp(cu, uid))
			continue;
		json_object_array_add(mine, json_object_get(c));
		if (rev_of(c) > max)
			max = rev_of(c);
		if (cn && !strcmp(cn, name))
			cr = c;
	}
	if (!cr) {
		cr = new_revision(owner, name, max + 1);
		code = berth_client_create(api, r, ns, cr, &out);
		json_object_put(cr);
		if (code == 201)
			json_object_array_add(mine, json_object_get(out));
	} else if (rev_of(cr) < max) {
		patch = json_object_new_object();
		berth_json_set_int(patch, "revision", max + 1);
		code = berth_client_merge_patch(api, r, ns, name, NULL, patch,
						&out);
		json_object_put(patch);
	}
	if (out)
		berth_informer_wait_rev(crs, berth_obj_rv(out), 2000);
	if (code != 200 && code != 201 && code != 403)
		err = -EIO; /* 409: made meanwhile; the retry finds it */
	else
		trim_revisions(api, owner, mine, name, live);
	json_object_put(out);
	json_object_put(mine);
	json_object_put(all);
	return err;
}

struct json_object *berth_wl_revision_template(struct berth_informer *crs,
					       struct json_object *owner,
					       const char *name)
{
	const char *uid = berth_json_path_str(owner, "metadata.uid");
	struct json_object *cr, *t = NULL;
	char key[512];

	snprintf(key, sizeof(key), "%s/%s",
		 berth_json_path_str(owner, "metadata.namespace"), name);
	cr = berth_informer_get(crs, key);
	if (cr && uid &&
	    !strcmp(berth_json_get_str(berth_owner_controller(cr), "uid") ?: "",
		    uid)) {
		t = berth_json_copy(berth_json_path(cr, "data.spec.template"));
		if (t)
			json_object_object_del(t, "$patch");
	}
	json_object_put(cr);
	return t;
}

/* ---- node eligibility ---- */

static bool in_values(struct json_object *vals, const char *v)
{
	size_t i, n = json_object_is_type(vals, json_type_array) ?
			      json_object_array_length(vals) :
			      0;

	for (i = 0; v && i < n; i++)
		if (!strcmp(json_object_get_string(
				    json_object_array_get_idx(vals, i)),
			    v))
			return true;
	return false;
}

/* One node selector requirement against a value (NULL: absent). */
static bool requirement_ok(struct json_object *req, const char *v)
{
	const char *op = str_or(berth_json_get_str(req, "operator"), "");
	struct json_object *vals = NULL;
	long long want;

	json_object_object_get_ex(req, "values", &vals);
	if (!strcmp(op, "In"))
		return in_values(vals, v);
	if (!strcmp(op, "NotIn"))
		return !in_values(vals, v);
	if (!strcmp(op, "Exists"))
		return v != NULL;
	if (!strcmp(op, "DoesNotExist"))
		return v == NULL;
	if ((strcmp(op, "Gt") && strcmp(op, "Lt")) || !v ||
	    !json_object_is_type(vals, json_type_array) ||
	    json_object_array_length(vals) != 1)
		return false;
	want = strtoll(
		json_object_get_string(json_object_array_get_idx(vals, 0)),
		NULL, 10);
	return !strcmp(op, "Gt") ? strtoll(v, NULL, 10) > want :
				   strtoll(v, NULL, 10) < want;
}

static bool term_ok(struct json_object *term, struct json_object *node)
{
	struct json_object *labels = berth_json_path(node, "metadata.labels");
	struct json_object *exprs = NULL, *fields = NULL;
	size_t i, n;

	json_object_object_get_ex(term, "matchExpressions", &exprs);
	json_object_object_get_ex(term, "matchFields", &fields);
	n = json_object_is_type(exprs, json_type_array) ?
		    json_object_array_length(exprs) :
		    0;
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(exprs, i);
		const char *key = berth_json_get_str(r, "key");

		if (!key || !requirement_ok(r, berth_json_get_str(labels, key)))
			return false;
	}
	n = json_object_is_type(fields, json_type_array) ?
		    json_object_array_length(fields) :
		    0;
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(fields, i);
		const char *key = berth_json_get_str(r, "key");

		if (!key || strcmp(key, "metadata.name") ||
		    !requirement_ok(r,
				    berth_json_path_str(node, "metadata.name")))
			return false;
	}
	return true;
}

bool berth_wl_node_selected(struct json_object *pspec, struct json_object *node)
{
	struct json_object *sel = NULL, *terms;
	size_t i, n;

	if (json_object_object_get_ex(pspec, "nodeSelector", &sel) &&
	    json_object_is_type(sel, json_type_object) &&
	    !berth_labels_match_map(berth_json_path(node, "metadata.labels"),
				    sel))
		return false;
	terms = berth_json_path(
		pspec,
		"affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution");
	if (!terms ||
	    !json_object_object_get_ex(terms, "nodeSelectorTerms", &terms) ||
	    !json_object_is_type(terms, json_type_array))
		return true;
	n = json_object_array_length(terms);
	for (i = 0; i < n; i++)
		if (term_ok(json_object_array_get_idx(terms, i), node))
			return true;
	return false; /* no term matched (an empty list matches nothing) */
}

static bool tolerates(struct json_object *tol, struct json_object *taint)
{
	const char *te = berth_json_get_str(tol, "effect");
	const char *tk = berth_json_get_str(tol, "key");
	const char *op = str_or(berth_json_get_str(tol, "operator"), "Equal");
	const char *effect = str_or(berth_json_get_str(taint, "effect"), "");
	const char *key = str_or(berth_json_get_str(taint, "key"), "");

	if (te && *te && strcmp(te, effect))
		return false;
	if (tk && *tk && strcmp(tk, key))
		return false;
	if (!strcmp(op, "Exists"))
		return true;
	return (tk && *tk) &&
	       !strcmp(str_or(berth_json_get_str(tol, "value"), ""),
		       str_or(berth_json_get_str(taint, "value"), ""));
}

bool berth_wl_taints_tolerated(struct json_object *tolerations,
			       struct json_object *node, const char *effect)
{
	struct json_object *taints = berth_json_path(node, "spec");
	size_t i, j, n, m;

	if (!json_object_object_get_ex(taints, "taints", &taints) ||
	    !json_object_is_type(taints, json_type_array))
		return true;
	n = json_object_array_length(taints);
	m = json_object_is_type(tolerations, json_type_array) ?
		    json_object_array_length(tolerations) :
		    0;
	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(taints, i);
		const char *e = str_or(berth_json_get_str(t, "effect"), "");
		bool ok = false;

		if (!strcmp(e, "PreferNoSchedule") ||
		    (effect && strcmp(e, effect)))
			continue;
		for (j = 0; j < m && !ok; j++)
			ok = tolerates(
				json_object_array_get_idx(tolerations, j), t);
		if (!ok)
			return false;
	}
	return true;
}
