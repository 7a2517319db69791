// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Namespace controller: a namespace whose deletionTimestamp is set is
 * emptied (every namespaced kind, through the API so finalizers and
 * graceful pod deletion apply), its progress is reported in the
 * NamespaceDeletion* / NamespaceContentRemaining / NamespaceFinalizersRemaining
 * conditions, and once nothing is left its "kubernetes" finalizer is
 * removed, which removes the namespace.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/registry.h"
#include "ctl.h"

#define NS_PURGE_DELAY_MS 500 /* "kubectl delete -f" deletes the rest first */
/*
 * Objects held by finalizers or a grace period are looked at again after a
 * quarter of the time the namespace has been terminating, within these.
 */
#define NS_WAIT_MIN_MS 250
#define NS_WAIT_MAX_MS 5000
#define NS_MSG_MAX 1024
#define NS_LIST_PAGE "500"

struct ns_ctl {
	struct berth_api *api;
	struct berth_informer *ns;
	struct berth_queue *q;
};

/* What one pass over a namespace's content found. */
struct ns_content {
	char remaining[NS_MSG_MAX]; /* "pods has 2 resource instances, ..." */
	char finalizers[NS_MSG_MAX]; /* "example.com/x in 1 resource instances" */
	char failed[NS_MSG_MAX]; /* resource types a delete failed for */
	int nremaining, nfailed;
	struct json_object *fins; /* finalizer -> count */
};

static void ns_added(void *ctx, struct json_object *obj)
{
	struct ns_ctl *c = ctx;

	/* the first list hands over namespaces an earlier run left */
	if (berth_obj_deleting(obj))
		berth_queue_add(c->q,
				berth_json_path_str(obj, "metadata.name"));
}

static void ns_updated(void *ctx, struct json_object *old,
		       struct json_object *obj)
{
	struct ns_ctl *c = ctx;

	if (berth_obj_deleting(obj) && !berth_obj_deleting(old))
		berth_queue_add_after(c->q,
				      berth_json_path_str(obj, "metadata.name"),
				      NS_PURGE_DELAY_MS);
}

static void append(char *buf, const char *fmt, const char *what, long n)
{
	size_t len = strlen(buf);

	if (len + 2 >= NS_MSG_MAX)
		return;
	snprintf(buf + len, NS_MSG_MAX - len, "%s", len ? ", " : "");
	len = strlen(buf);
	snprintf(buf + len, NS_MSG_MAX - len, fmt, what, n);
}

static void count_finalizers(struct ns_content *nc, struct json_object *obj)
{
	struct json_object *f = berth_json_path(obj, "metadata.finalizers"), *n;
	size_t i;

	for (i = 0; json_object_is_type(f, json_type_array) &&
		    i < json_object_array_length(f);
	     i++) {
		const char *name =
			json_object_get_string(json_object_array_get_idx(f, i));

		if (!name)
			continue;
		n = json_object_object_get(nc->fins, name);
		json_object_object_add(
			nc->fins, name,
			json_object_new_int64(n ? json_object_get_int64(n) + 1 :
						  1));
	}
}

/*
 * Delete one object of r found in ns; true if it is still there (held by
 * finalizers or a graceful pod deletion) or its deletion failed.
 */
static bool purge_one(struct ns_ctl *c, const struct berth_resource *r,
		      const char *ns, struct json_object *obj,
		      struct ns_content *nc)
{
	const char *name = berth_json_path_str(obj, "metadata.name");
	const char *uid = berth_json_path_str(obj, "metadata.uid");
	struct json_object *out = NULL;
	bool left = false;
	int code;

	if (!name)
		return false;
	if (berth_obj_deleting(obj)) {
		count_finalizers(nc, obj);
		return true;
	}
	code = berth_client_delete(c->api, r, ns, name, "Background", uid);
	if (code == 404 || code == 409)
		return false; /* gone, or a new object of that name */
	if (code >= 300) {
		pr_warn("namespace %s: delete %s %s: %d", ns, r->name, name,
			code);
		nc->nfailed++;
		return true;
	}
	/* marked, not removed? */
	if (berth_client_get(c->api, r, ns, name, &out) == 200 &&
	    !strcmp(berth_json_path_str(out, "metadata.uid") ?: "",
		    uid ?: "")) {
		count_finalizers(nc, out);
		left = true;
	}
	json_object_put(out);
	return left;
}

/* Delete what is left of r in ns, a page at a time; count what remains. */
static void purge_resource(struct ns_ctl *c, const struct berth_resource *r,
			   const char *ns, struct ns_content *nc)
{
	/* a page small enough to come whole, not streamed */
	const char *args[] = { "limit", NS_LIST_PAGE, "continue", NULL, NULL };
	struct json_object *list = NULL, *items;
	char path[512], gr[128], *next = NULL;
	int code, failed = nc->nfailed;
	long left = 0;
	size_t i;

	berth_client_path(r, ns, NULL, NULL, path, sizeof(path));
	if (*r->group)
		snprintf(gr, sizeof(gr), "%s.%s", r->name, r->group);
	else
		snprintf(gr, sizeof(gr), "%s", r->name);
	do {
		args[3] = next;
		if (!next)
			args[2] = NULL;
		code = berth_client_request(c->api, "GET", path, args, NULL,
					    NULL, &list);
		free(next);
		next = NULL;
		items = berth_json_path(list, "items");
		if (code != 200 ||
		    !json_object_is_type(items, json_type_array)) {
			pr_warn("namespace %s: list %s: %d", ns, gr, code);
			nc->nfailed++;
			json_object_put(list);
			break;
		}
		for (i = 0; i < json_object_array_length(items); i++)
			left += purge_one(c, r, ns,
					  json_object_array_get_idx(items, i),
					  nc);
		if (berth_json_path_str(list, "metadata.continue") &&
		    *berth_json_path_str(list, "metadata.continue"))
			next = strdup(
				berth_json_path_str(list, "metadata.continue"));
		json_object_put(list);
		list = NULL;
	} while (next);
	if (nc->nfailed != failed)
		append(nc->failed, "%s", gr, 0);
	if (left) {
		append(nc->remaining, "%s has %ld resource instances", gr,
		       left);
		nc->nremaining += (int)left;
	}
}

static bool set_conditions(struct json_object *status,
			   const struct ns_content *nc)
{
	char msg[NS_MSG_MAX + 128];
	bool changed = false;

	changed |= berth_set_condition(status,
				       "NamespaceDeletionDiscoveryFailure",
				       "False", "ResourcesDiscovered",
				       "All resources successfully discovered");
	changed |= berth_set_condition(
		status, "NamespaceDeletionGroupVersionParsingFailure", "False",
		"ParsedGroupVersions",
		"All legacy kube types successfully parsed");
	if (nc->nfailed) {
		snprintf(
			msg, sizeof(msg),
			"Failed to delete all resource types, %d remaining: %s",
			nc->nfailed, nc->failed);
		changed |= berth_set_condition(
			status, "NamespaceDeletionContentFailure", "True",
			"ContentDeletionFailed", msg);
	} else {
		changed |= berth_set_condition(
			status, "NamespaceDeletionContentFailure", "False",
			"ContentDeleted",
			"All content successfully deleted, may be waiting on finalization");
	}
	if (nc->nremaining) {
		snprintf(msg, sizeof(msg), "Some resources are remaining: %s",
			 nc->remaining);
		changed |=
			berth_set_condition(status, "NamespaceContentRemaining",
					    "True", "SomeResourcesRemain", msg);
	} else {
		changed |= berth_set_condition(
			status, "NamespaceContentRemaining", "False",
			"ContentRemoved", "All content successfully removed");
	}
	if (*nc->finalizers) {
		snprintf(
			msg, sizeof(msg),
			"Some content in the namespace has finalizers remaining: %s",
			nc->finalizers);
		changed |= berth_set_condition(status,
					       "NamespaceFinalizersRemaining",
					       "True", "SomeFinalizersRemain",
					       msg);
	} else {
		changed |= berth_set_condition(
			status, "NamespaceFinalizersRemaining", "False",
			"ContentHasNoFinalizers",
			"All content-preserving finalizers finished");
	}
	return changed;
}

static int spec_finalizers(struct json_object *ns)
{
	struct json_object *f = berth_json_path(ns, "spec.finalizers");

	return json_object_is_type(f, json_type_array) ?
		       (int)json_object_array_length(f) :
		       0;
}

/* Report progress on the namespace (not when nothing would keep it). */
static void report(struct ns_ctl *c, struct json_object *ns,
		   const struct ns_content *nc)
{
	struct json_object *upd = berth_json_copy(ns), *out = NULL;
	const char *name = berth_json_path_str(ns, "metadata.name");
	int code;

	/* a status write to a namespace nothing holds would remove it */
	if (!spec_finalizers(ns) ||
	    !set_conditions(berth_json_obj(upd, "status"), nc))
		goto out;
	code = berth_client_update(c->api, berth_res("", "namespaces"), NULL,
				   name, "status", upd, &out);
	if (code == 200)
		berth_informer_wait_rev(c->ns, berth_obj_rv(out), 1000);
	else if (code != 404 && code != 409)
		pr_warn("namespace %s: update status: %d", name, code);
out:
	json_object_put(upd);
	json_object_put(out);
}

/* Everything is gone: drop our finalizer, which removes the namespace. */
static int finalize(struct ns_ctl *c, struct json_object *ns)
{
	const struct berth_resource *r = berth_res("", "namespaces");
	const char *name = berth_json_path_str(ns, "metadata.name");
	struct json_object *upd, *f, *keep;
	size_t i;
	int code;

	f = berth_json_path(ns, "spec.finalizers");
	if (!spec_finalizers(ns)) {
		/* nothing of ours holds it: a repeated DELETE removes it */
		code = berth_client_delete(c->api, r, NULL, name, NULL,
					   berth_json_path_str(ns,
							       "metadata.uid"));
		return code < 300 || code == 404 || code == 409 ? 0 : -EIO;
	}
	upd = berth_json_copy(ns);
	keep = json_object_new_array();
	for (i = 0; i < json_object_array_length(f); i++) {
		const char *s =
			json_object_get_string(json_object_array_get_idx(f, i));

		if (s && strcmp(s, "kubernetes"))
			json_object_array_add(keep, json_object_new_string(s));
	}
	json_object_object_add(berth_json_obj(upd, "spec"), "finalizers", keep);
	code = berth_client_update(c->api, r, NULL, name, NULL, upd, NULL);
	json_object_put(upd);
	if (code == 409)
		return -EAGAIN; /* our copy was stale: again, with back-off */
	if (code != 200 && code != 404) {
		pr_warn("namespace %s: remove the kubernetes finalizer: %d",
			name, code);
		return -EIO;
	}
	return 0;
}

/* Back-off without state: it survives a restart. */
static int wait_ms(struct json_object *ns)
{
	double ms = berth_since(berth_json_path_str(
			    ns, "metadata.deletionTimestamp")) *
		    1000 / 4;

	return ms < NS_WAIT_MIN_MS ? NS_WAIT_MIN_MS :
	       ms > NS_WAIT_MAX_MS ? NS_WAIT_MAX_MS :
				     (int)ms;
}

static int ns_sync(void *ctx, const char *name)
{
	struct ns_ctl *c = ctx;
	struct ns_content nc = { .fins = json_object_new_object() };
	struct json_object *ns;
	size_t i;
	int err = 0;

	ns = berth_informer_get(c->ns, name);
	if (!ns || !berth_obj_deleting(ns))
		goto out;
	for (i = 0; i < berth_nresources; i++)
		if (berth_resources[i].namespaced)
			purge_resource(c, &berth_resources[i], name, &nc);
	json_object_object_foreach(nc.fins, fin, n)
		append(nc.finalizers, "%s in %ld resource instances", fin,
		       (long)json_object_get_int64(n));
	report(c, ns, &nc);
	if (nc.nfailed) {
		err = -EIO; /* back-off */
	} else if (nc.nremaining) {
		berth_queue_add_after(c->q, name, wait_ms(ns));
	} else {
		err = finalize(c, ns);
	}
out:
	json_object_put(nc.fins);
	json_object_put(ns);
	return err;
}

static int ns_init(struct berth_ctl *m, void **state)
{
	struct ns_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->q = berth_queue_new("namespace");
	c->ns = berth_ctl_informer(m, berth_res("", "namespaces"));
	berth_informer_add_handler(
		c->ns, &(struct berth_informer_handler){ .add = ns_added,
							 .update = ns_updated,
							 .ctx = c });
	*state = c;
	return berth_ctl_workers(m, "namespace", c->q, 2, ns_sync, c);
}

BERTH_CONTROLLER(namespace, .name = "namespace", .init = ns_init, .stop = free);
