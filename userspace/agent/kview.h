/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A cached view of one API collection (Services, EndpointSlices, Nodes):
 * list + watch (berth_kube_watch) into {"ns/name": object}. A relist builds
 * a new view beside the old one and swaps it in when the list ends, so
 * readers always see the last complete list plus the events after it.
 * Shared by the proxy and the node routing; small json-c helpers too.
 */
#ifndef BERTH_AGENT_KVIEW_H
#define BERTH_AGENT_KVIEW_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include <berth/kube.h>

struct berth_kview;

/*
 * Called with the owner's lock held, after the view changed: for each
 * ADDED/MODIFIED/DELETED (obj borrowed) and for LIST_END (obj NULL).
 * berth_kview_listing() tells whether the change is still part of a list
 * in progress (not visible in the view yet).
 */
typedef void (*berth_kview_cb)(struct berth_kview *v, enum berth_kube_event ev,
			       json_object *obj, void *arg);

struct berth_kview {
	const char *collection; /* "/api/v1/nodes" */
	pthread_mutex_t *mu; /* the owner's; guards cur/pending/listed */
	berth_kview_cb cb;
	void *arg;
	json_object *cur; /* {"ns/name": object}: the last complete view */
	json_object *pending; /* a list in progress */
	bool listed; /* a list has completed */
	struct berth_kube_watch *w;
	/*
	 * NULL, or the only fields the owner reads (set before start): the
	 * view keeps a copy with just these, not the whole object — a pod is
	 * ~100 json-c objects of ~700 bytes each, the policy view of every
	 * pod in the cluster needs a handful. Dotted paths; "name[]" walks
	 * each element of an array: "spec.containers[].ports". NULL-ended.
	 */
	const char *const *keep;
};

/*
 * A new object holding only the paths of keep (see berth_kview.keep) that
 * obj has; NULL when out of memory.
 */
json_object *berth_json_pick(json_object *obj, const char *const *keep);

/* Set up an empty view; 0 or -ENOMEM. */
int berth_kview_init(struct berth_kview *v, const char *collection,
		     pthread_mutex_t *mu, berth_kview_cb cb, void *arg);
/* Start listing and watching on k (a thread of its own). */
int berth_kview_start(struct berth_kview *v, struct berth_kube *k);
/* Stop the watch (no callback after it returns); the view stays. */
void berth_kview_stop(struct berth_kview *v);
/* Stop and free the view. */
void berth_kview_free(struct berth_kview *v);
/* With *mu held: a list is in progress. */
bool berth_kview_listing(const struct berth_kview *v);
/*
 * With *mu held: the objects of the current view, each with a reference
 * (json-c counts are not atomic: put them with the lock held, or after
 * every other holder is gone). berth_kview_put() releases them.
 */
int berth_kview_objects(struct berth_kview *v, json_object ***out, size_t *n);
void berth_kview_put(json_object **arr, size_t n);

/* json-c helpers: NULL / -1 / dflt when absent or of another type. */
json_object *berth_jget(json_object *o, const char *key);
const char *berth_jstr(json_object *o, const char *key);
long berth_jint(json_object *o, const char *key);
bool berth_jbool(json_object *o, const char *key, bool dflt);
size_t berth_jlen(json_object *arr);
/* "ns/name" (ns "" if cluster-scoped); false if it has no name */
bool berth_obj_key(json_object *obj, char *buf, size_t len);

#endif
