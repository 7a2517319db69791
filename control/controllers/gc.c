// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Garbage collector: deletes objects whose owners (ownerReferences, by uid)
 * are all gone, and carries out the propagation policies the API server
 * records as finalizers: "foregroundDeletion" (delete the dependents, wait
 * for the blocking ones, then let the owner go) and "orphan" (cut the
 * dependents loose, then let the owner go).
 *
 * The graph of owners and dependents is the informers' "owner" indexes
 * over every resource kind; an owner is only declared gone after a live GET.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/registry.h"
#include "ctl.h"

#define GC_MAX_RES 64
#define GC_WORKERS 2
#define GC_RETRIES 5 /* conflicting writes to one object */

struct gc;

/* The handler context of one resource's informer. */
struct gc_res {
	struct gc *g;
	size_t ri; /* index in berth_resources */
};

struct gc {
	struct berth_api *api;
	struct berth_queue *q; /* keys "ri|ns/name" */
	struct berth_informer *inf[GC_MAX_RES]; /* NULL: not collected */
	struct gc_res res[GC_MAX_RES];
};

enum owner_state { OWNER_SOLID, OWNER_DANGLING, OWNER_WAITING };

static bool has_finalizer(struct json_object *obj, const char *f)
{
	struct json_object *a = berth_json_path(obj, "metadata.finalizers");
	size_t i, n;

	if (!json_object_is_type(a, json_type_array))
		return false;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		const char *s =
			json_object_get_string(json_object_array_get_idx(a, i));

		if (s && !strcmp(s, f))
			return true;
	}
	return false;
}

static bool gc_finalizing(struct json_object *obj)
{
	return berth_obj_deleting(obj) &&
	       (has_finalizer(obj, "orphan") ||
		has_finalizer(obj, "foregroundDeletion"));
}

static struct json_object *owner_refs(struct json_object *obj)
{
	struct json_object *r = berth_json_path(obj, "metadata.ownerReferences");

	return json_object_is_type(r, json_type_array) ? r : NULL;
}

static void index_uid(struct json_object *obj, berth_index_emit emit,
		      void *ectx)
{
	const char *uid = berth_json_path_str(obj, "metadata.uid");

	if (uid)
		emit(ectx, uid);
}

static void enqueue(struct gc *g, size_t ri, struct json_object *obj)
{
	char key[600], okey[512];

	berth_obj_key(obj, okey, sizeof(okey));
	snprintf(key, sizeof(key), "%zu|%s", ri, okey);
	berth_queue_add(g->q, key);
}

/* Call fn for every cached object whose ownerReferences name uid. */
static int for_dependents(struct gc *g, const char *uid,
			  int (*fn)(struct gc *g, size_t ri,
				    struct json_object *dep, void *ctx),
			  void *ctx)
{
	size_t ri, i, n;
	int err = 0;

	for (ri = 0; ri < berth_nresources; ri++) {
		struct json_object *l;

		if (!g->inf[ri])
			continue;
		l = berth_informer_list(g->inf[ri], "owner", uid);
		n = json_object_array_length(l);
		for (i = 0; i < n; i++) {
			int e = fn(g, ri, json_object_array_get_idx(l, i), ctx);

			if (e && !err)
				err = e;
		}
		json_object_put(l);
	}
	return err;
}

static int enqueue_dep(struct gc *g, size_t ri, struct json_object *dep,
		       void *ctx)
{
	(void)ctx;
	enqueue(g, ri, dep);
	return 0;
}

/* Enqueue the cached object with uid, wherever it is. */
static void enqueue_uid(struct gc *g, const char *uid)
{
	size_t ri;

	for (ri = 0; ri < berth_nresources && uid; ri++) {
		struct json_object *l;

		if (!g->inf[ri])
			continue;
		l = berth_informer_list(g->inf[ri], "gc-uid", uid);
		if (json_object_array_length(l))
			enqueue(g, ri, json_object_array_get_idx(l, 0));
		json_object_put(l);
	}
}

/* A dependent left or changed: its owners may be waiting for it. */
static void enqueue_owners(struct gc *g, struct json_object *obj)
{
	struct json_object *refs = owner_refs(obj);
	size_t i, n = refs ? json_object_array_length(refs) : 0;

	for (i = 0; i < n; i++)
		enqueue_uid(g, berth_json_get_str(
				       json_object_array_get_idx(refs, i), "uid"));
}

static void gc_add(void *ctx, struct json_object *obj)
{
	struct gc_res *r = ctx;

	if (owner_refs(obj) || gc_finalizing(obj))
		enqueue(r->g, r->ri, obj);
}

static void gc_update(void *ctx, struct json_object *old,
		      struct json_object *obj)
{
	struct gc_res *r = ctx;

	if (gc_finalizing(obj)) {
		enqueue(r->g, r->ri, obj);
	} else if (!berth_json_equal(owner_refs(old), owner_refs(obj))) {
		enqueue(r->g, r->ri, obj);
		enqueue_owners(r->g, old);
	}
}

static void gc_del(void *ctx, struct json_object *obj)
{
	struct gc_res *r = ctx;

	for_dependents(r->g, berth_json_path_str(obj, "metadata.uid"),
		       enqueue_dep, NULL);
	enqueue_owners(r->g, obj);
}

/* The resource an ownerReference names, or NULL. */
static const struct berth_resource *ref_resource(struct json_object *ref)
{
	const char *av = berth_json_get_str(ref, "apiVersion");
	const char *kind = berth_json_get_str(ref, "kind");
	const char *slash = av ? strchr(av, '/') : NULL;
	char group[128] = "";

	if (!av || !kind)
		return NULL;
	if (slash)
		snprintf(group, sizeof(group), "%.*s", (int)(slash - av), av);
	return berth_resource_by_kind(group, kind);
}

static enum owner_state state_of(struct json_object *owner)
{
	return berth_obj_deleting(owner) &&
			       has_finalizer(owner, "foregroundDeletion") ?
		       OWNER_WAITING :
		       OWNER_SOLID;
}

/*
 * Whether the owner ref names exists: the cache may lag behind a create,
 * so "gone" is only believed after a live GET (404, or another uid under
 * the name). -errno when the API cannot say.
 */
static int owner_state(struct gc *g, struct json_object *dep,
		       struct json_object *ref, enum owner_state *st)
{
	const struct berth_resource *r = ref_resource(ref);
	const char *name = berth_json_get_str(ref, "name");
	const char *uid = berth_json_get_str(ref, "uid");
	const char *ns = berth_json_path_str(dep, "metadata.namespace");
	struct json_object *o = NULL;
	char key[512];
	int code;

	*st = OWNER_SOLID;
	if (!r || !name || !uid)
		return 0; /* unresolvable: never delete on a guess */
	if (r->namespaced && !ns) {
		*st = OWNER_DANGLING; /* a cluster object cannot have one */
		return 0;
	}
	if (!r->namespaced)
		ns = NULL;
	if (g->inf[r - berth_resources]) {
		snprintf(key, sizeof(key), "%s%s%s", ns ?: "", ns ? "/" : "",
			 name);
		o = berth_informer_get(g->inf[r - berth_resources], key);
		if (o && !strcmp(berth_json_path_str(o, "metadata.uid") ?: "",
				 uid)) {
			*st = state_of(o);
			json_object_put(o);
			return 0;
		}
		json_object_put(o);
		o = NULL;
	}
	code = berth_client_get(g->api, r, ns, name, &o);
	if (code == 404) {
		*st = OWNER_DANGLING;
	} else if (code == 200) {
		if (strcmp(berth_json_path_str(o, "metadata.uid") ?: "", uid))
			*st = OWNER_DANGLING;
		else
			*st = state_of(o);
	}
	json_object_put(o);
	return code == 200 || code == 404 ? 0 : -EIO;
}

static bool uid_in(struct json_object *uids, const char *uid)
{
	size_t i, n = json_object_array_length(uids);

	for (i = 0; i < n && uid; i++)
		if (!strcmp(json_object_get_string(
				    json_object_array_get_idx(uids, i)),
			    uid))
			return true;
	return false;
}

/*
 * Change the live object obj names (same uid) with edit, which returns
 * false when there is nothing to change, and write it back; conflicts are
 * retried. 0 also when the object is gone.
 */
static int edit_live(struct gc *g, size_t ri, struct json_object *obj,
		     bool (*edit)(struct json_object *cur, const void *arg),
		     const void *arg, const char *what)
{
	const struct berth_resource *r = &berth_resources[ri];
	const char *name = berth_json_path_str(obj, "metadata.name");
	const char *ns = berth_json_path_str(obj, "metadata.namespace");
	const char *uid = berth_json_path_str(obj, "metadata.uid");
	int attempt, code = 0;

	for (attempt = 0; attempt < GC_RETRIES; attempt++) {
		struct json_object *cur = NULL, *out = NULL;

		code = berth_client_get(g->api, r, ns, name, &cur);
		if (code != 200 ||
		    strcmp(berth_json_path_str(cur, "metadata.uid") ?: "",
			   uid ?: "") ||
		    !edit(cur, arg)) {
			json_object_put(cur);
			return code == 200 || code == 404 ? 0 : -EIO;
		}
		code = berth_client_update(g->api, r, ns, name, NULL, cur,
					   &out);
		if (code == 200)
			berth_informer_wait_rev(g->inf[ri], berth_obj_rv(out),
						1000);
		json_object_put(cur);
		json_object_put(out);
		if (code == 200 || code == 404)
			return 0;
		if (code != 409)
			break;
	}
	berth_event_emit(g->api, "garbage-collector-controller", obj,
			 "Warning", "FailedUpdate", "%s: HTTP %d", what, code);
	return -EIO;
}

/*
 * Drop the elements of metadata.field for which drop says so; the field
 * goes when it is left empty. false if nothing was dropped.
 */
static bool drop_from(struct json_object *obj, const char *field,
		      bool (*drop)(struct json_object *e, const void *arg),
		      const void *arg)
{
	struct json_object *m = berth_json_obj(obj, "metadata"), *a, *keep;
	size_t i, n;

	if (!json_object_object_get_ex(m, field, &a) ||
	    !json_object_is_type(a, json_type_array))
		return false;
	n = json_object_array_length(a);
	keep = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		if (!drop(e, arg))
			json_object_array_add(keep, json_object_get(e));
	}
	if (json_object_array_length(keep) == n) {
		json_object_put(keep);
		return false;
	}
	if (json_object_array_length(keep))
		json_object_object_add(m, field, keep);
	else {
		json_object_put(keep);
		json_object_object_del(m, field);
	}
	return true;
}

static bool ref_in(struct json_object *ref, const void *uids)
{
	return uid_in((struct json_object *)uids,
		      berth_json_get_str(ref, "uid"));
}

static bool drop_refs(struct json_object *cur, const void *uids)
{
	return drop_from(cur, "ownerReferences", ref_in, uids);
}

static bool is_str(struct json_object *e, const void *s)
{
	return !strcmp(json_object_get_string(e) ?: "", s);
}

static bool drop_finalizer(struct json_object *cur, const void *f)
{
	return drop_from(cur, "finalizers", is_str, f);
}

/* Take the ownerReferences to the owners in uids out of the live object. */
static int remove_refs(struct gc *g, size_t ri, struct json_object *obj,
		       struct json_object *uids)
{
	return edit_live(g, ri, obj, drop_refs, uids,
			 "removing ownerReferences");
}

/* Remove finalizer f from the live owner; the last one lets it go. */
static int remove_finalizer(struct gc *g, size_t ri, struct json_object *obj,
			    const char *f)
{
	return edit_live(g, ri, obj, drop_finalizer, f, "removing a finalizer");
}

static bool has_dependents(struct gc *g, struct json_object *obj)
{
	const char *uid = berth_json_path_str(obj, "metadata.uid");
	size_t ri;

	for (ri = 0; ri < berth_nresources && uid; ri++) {
		struct json_object *l;
		bool any;

		if (!g->inf[ri])
			continue;
		l = berth_informer_list(g->inf[ri], "owner", uid);
		any = json_object_array_length(l) > 0;
		json_object_put(l);
		if (any)
			return true;
	}
	return false;
}

/* Delete dep if its ownerReferences have not changed since the cache. */
static int delete_dependent(struct gc *g, size_t ri, struct json_object *dep,
			    const char *policy)
{
	const struct berth_resource *r = &berth_resources[ri];
	const char *name = berth_json_path_str(dep, "metadata.name");
	const char *ns = berth_json_path_str(dep, "metadata.namespace");
	const char *uid = berth_json_path_str(dep, "metadata.uid");
	struct json_object *cur = NULL;
	int code;

	code = berth_client_get(g->api, r, ns, name, &cur);
	if (code == 404)
		return 0;
	if (code != 200)
		return -EIO;
	if (strcmp(berth_json_path_str(cur, "metadata.uid") ?: "", uid ?: "") ||
	    !berth_json_equal(owner_refs(cur), owner_refs(dep))) {
		json_object_put(cur);
		return -EAGAIN; /* the cache is behind: look again */
	}
	json_object_put(cur);
	code = berth_client_delete(g->api, r, ns, name, policy, uid);
	if (code == 200 || code == 202 || code == 404 || code == 409)
		return 0;
	berth_event_emit(g->api, "garbage-collector-controller", dep,
			 "Warning", "FailedDelete",
			 "deleting %s %s whose owners are gone: HTTP %d",
			 r->singular, name, code);
	return -EIO;
}

/*
 * A dependent not being deleted: keep it while an owner is solid (but drop
 * references to owners that are gone or going in the foreground); delete it
 * once none is.
 */
static int sync_dependent(struct gc *g, size_t ri, struct json_object *dep,
			  void *ctx)
{
	struct json_object *refs = owner_refs(dep), *gone;
	size_t i, n = refs ? json_object_array_length(refs) : 0;
	bool solid = false, waiting = false;
	int err = 0;

	(void)ctx;
	if (!n || berth_obj_deleting(dep))
		return 0;
	gone = json_object_new_array();
	for (i = 0; i < n; i++) {
		struct json_object *ref = json_object_array_get_idx(refs, i);
		enum owner_state st;

		err = owner_state(g, dep, ref, &st);
		if (err)
			goto out;
		if (st == OWNER_SOLID) {
			solid = true;
			continue;
		}
		waiting |= st == OWNER_WAITING;
		json_object_array_add(
			gone, json_object_new_string(
				      berth_json_get_str(ref, "uid") ?: ""));
	}
	if (solid) {
		if (json_object_array_length(gone))
			err = remove_refs(g, ri, dep, gone);
	} else {
		/* an owner waits in the foreground: so do our own dependents */
		err = delete_dependent(g, ri, dep,
				       waiting && has_dependents(g, dep) ?
					       "Foreground" :
					       "Background");
	}
out:
	json_object_put(gone);
	return err;
}

static int orphan_dependent(struct gc *g, size_t ri, struct json_object *dep,
			    void *ctx)
{
	return remove_refs(g, ri, dep, ctx);
}

struct fg {
	const char *uid;
	int blocking;
};

static bool blocks(struct json_object *dep, const char *uid)
{
	struct json_object *refs = owner_refs(dep), *b;
	size_t i, n = refs ? json_object_array_length(refs) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *ref = json_object_array_get_idx(refs, i);

		if (!strcmp(berth_json_get_str(ref, "uid") ?: "", uid) &&
		    json_object_object_get_ex(ref, "blockOwnerDeletion", &b) &&
		    json_object_get_boolean(b))
			return true;
	}
	return false;
}

static int foreground_dependent(struct gc *g, size_t ri,
				struct json_object *dep, void *ctx)
{
	struct fg *f = ctx;

	if (blocks(dep, f->uid))
		f->blocking++;
	return sync_dependent(g, ri, dep, NULL);
}

/* An owner being deleted with an "orphan" or "foregroundDeletion" finalizer. */
static int sync_owner(struct gc *g, size_t ri, struct json_object *obj)
{
	const char *uid = berth_json_path_str(obj, "metadata.uid");
	int err;

	if (has_finalizer(obj, "orphan")) {
		struct json_object *uids = json_object_new_array();

		json_object_array_add(uids, json_object_new_string(uid));
		err = for_dependents(g, uid, orphan_dependent, uids);
		json_object_put(uids);
		if (err)
			return err;
		return remove_finalizer(g, ri, obj, "orphan");
	}
	if (has_finalizer(obj, "foregroundDeletion")) {
		struct fg f = { .uid = uid };

		err = for_dependents(g, uid, foreground_dependent, &f);
		if (err)
			return err;
		/* the blocking dependents' deletions enqueue us again */
		if (f.blocking)
			return 0;
		return remove_finalizer(g, ri, obj, "foregroundDeletion");
	}
	return 0;
}

static int gc_sync(void *ctx, const char *key)
{
	struct gc *g = ctx;
	struct json_object *obj;
	char *end;
	size_t ri = strtoul(key, &end, 10);
	int err = 0;

	if (*end != '|' || ri >= berth_nresources || !g->inf[ri])
		return 0;
	obj = berth_informer_get(g->inf[ri], end + 1);
	if (!obj)
		return 0;
	if (berth_obj_deleting(obj))
		err = sync_owner(g, ri, obj);
	else
		err = sync_dependent(g, ri, obj, NULL);
	json_object_put(obj);
	return err;
}

static int gc_init(struct berth_ctl *m, void **state)
{
	struct gc *g = calloc(1, sizeof(*g));
	size_t ri;

	if (!g)
		return -ENOMEM;
	if (berth_nresources > GC_MAX_RES) {
		free(g);
		return -E2BIG;
	}
	g->api = berth_ctl_api(m);
	g->q = berth_queue_new("garbagecollector");
	for (ri = 0; ri < berth_nresources; ri++) {
		const struct berth_resource *r = &berth_resources[ri];

		/* Events are many and never owned, as in kube-controller-manager */
		if (!strcmp(r->kind, "Event"))
			continue;
		g->res[ri] = (struct gc_res){ .g = g, .ri = ri };
		g->inf[ri] = berth_ctl_informer(m, r);
		berth_informer_add_index(g->inf[ri], "owner",
					 berth_index_owner_uid);
		berth_informer_add_index(g->inf[ri], "gc-uid", index_uid);
		berth_informer_add_handler(
			g->inf[ri],
			&(struct berth_informer_handler){ .add = gc_add,
							  .update = gc_update,
							  .del = gc_del,
							  .ctx = &g->res[ri] });
	}
	*state = g;
	return berth_ctl_workers(m, "garbagecollector", g->q, GC_WORKERS,
				 gc_sync, g);
}

BERTH_CONTROLLER(garbagecollector, .name = "garbagecollector",
		 .init = gc_init, .stop = free);
