/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The machinery every in-process controller (and the scheduler) is built
 * from, as client-go gives it to kube-controller-manager:
 *  - a client that makes API requests through the same handler HTTP
 *    requests go through (defaulting, admission, allocation, watches of
 *    other clients all see them);
 *  - shared informers: one list+watch of a resource's store prefix, a cache
 *    of its objects with indexes, and handlers told about every change;
 *  - work queues of object keys with de-duplication, delayed and
 *    rate-limited requeues;
 *  - a manager that starts the controllers registered with
 *    BERTH_CONTROLLER once every informer has its first list.
 */
#ifndef BERTH_CONTROLLERS_CTL_H
#define BERTH_CONTROLLERS_CTL_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

struct berth_api;
struct berth_resource;

/* ---- client ---- */

/*
 * One request: method, path ("/api/v1/namespaces/x/pods"), query arguments
 * and the body (NULL: none). Returns the HTTP code; *out (if not NULL) gets
 * the decoded response (NULL when it is not JSON).
 */
int berth_client_request(struct berth_api *api, const char *method,
			 const char *path, const char *const *args,
			 const char *content_type, struct json_object *body,
			 struct json_object **out);
/* The URL path of a resource's collection (name NULL) or object. */
int berth_client_path(const struct berth_resource *r, const char *ns,
		      const char *name, const char *sub, char *buf,
		      size_t size);
/* r by plural and group: berth_res("apps", "deployments"). Aborts if absent. */
const struct berth_resource *berth_res(const char *group, const char *name);

int berth_client_get(struct berth_api *api, const struct berth_resource *r,
		     const char *ns, const char *name,
		     struct json_object **out);
/* POST obj (not consumed); *out gets the created object. */
int berth_client_create(struct berth_api *api, const struct berth_resource *r,
			const char *ns, struct json_object *obj,
			struct json_object **out);
/* PUT obj to the object or to its subresource sub (NULL: the object). */
int berth_client_update(struct berth_api *api, const struct berth_resource *r,
			const char *ns, const char *name, const char *sub,
			struct json_object *obj, struct json_object **out);
/* PATCH with a merge patch (application/merge-patch+json). */
int berth_client_merge_patch(struct berth_api *api,
			     const struct berth_resource *r, const char *ns,
			     const char *name, const char *sub,
			     struct json_object *patch,
			     struct json_object **out);
/*
 * DELETE; propagation "Background", "Foreground", "Orphan" or NULL (the
 * resource's default); uid (if not NULL) is a precondition.
 */
int berth_client_delete(struct berth_api *api, const struct berth_resource *r,
			const char *ns, const char *name,
			const char *propagation, const char *uid);

/*
 * An Event about obj (a whole object): type "Normal" or "Warning". Repeats
 * of the same reason and message within an hour bump the count of one
 * Event instead of making new ones.
 */
void berth_event_emit(struct berth_api *api, const char *component,
		      struct json_object *obj, const char *type,
		      const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* ---- informers ---- */

struct berth_informer;

struct berth_informer_handler {
	/* objects are borrowed for the call; they must not be kept or changed */
	void (*add)(void *ctx, struct json_object *obj);
	void (*update)(void *ctx, struct json_object *old,
		       struct json_object *obj);
	void (*del)(void *ctx, struct json_object *obj);
	void *ctx;
};

/*
 * Index values of an object: call emit for each (strings copied). Indexes
 * make berth_informer_list(inf, "name", value) cost the matching objects,
 * not the whole cache. "namespace" exists on every informer.
 */
typedef void (*berth_index_emit)(void *ectx, const char *value);
typedef void (*berth_index_fn)(struct json_object *obj, berth_index_emit emit,
			       void *ectx);

/* Handlers are called on the informer's thread, in revision order. */
void berth_informer_add_handler(struct berth_informer *inf,
				const struct berth_informer_handler *h);
/* Before the manager starts only. */
void berth_informer_add_index(struct berth_informer *inf, const char *name,
			      berth_index_fn fn);
/* A copy of the object ("ns/name" or "name"), NULL if absent: caller puts. */
struct json_object *berth_informer_get(struct berth_informer *inf,
				       const char *key);
/*
 * Copies of the objects with index value (index NULL: all objects), as a
 * json array the caller puts. Never NULL.
 */
struct json_object *berth_informer_list(struct berth_informer *inf,
					const char *index, const char *value);
/* Keys ("ns/name") of all cached objects, for resyncs: caller puts. */
struct json_object *berth_informer_keys(struct berth_informer *inf);
size_t berth_informer_count(struct berth_informer *inf);
/*
 * Wait (at most timeout_ms) until the cache has seen revision rev, e.g. of
 * a write this controller just made. true when it has.
 */
bool berth_informer_wait_rev(struct berth_informer *inf, int64_t rev,
			     int timeout_ms);
/* The key of an object: "ns/name" or "name". */
void berth_obj_key(struct json_object *obj, char *buf, size_t size);
/* metadata.resourceVersion as a number (0 if none). */
int64_t berth_obj_rv(struct json_object *obj);

/* ---- work queues ---- */

struct berth_queue;

struct berth_queue *berth_queue_new(const char *name);
void berth_queue_free(struct berth_queue *q);
void berth_queue_add(struct berth_queue *q, const char *key);
void berth_queue_add_after(struct berth_queue *q, const char *key,
			   int delay_ms);
/* Requeue after a per-key back-off: 5 ms doubling to 60 s. */
void berth_queue_add_rate_limited(struct berth_queue *q, const char *key);
/* Reset key's back-off (after a successful sync). */
void berth_queue_forget(struct berth_queue *q, const char *key);
/*
 * Next key (malloc'd) or NULL once shut down. A key is never handed to two
 * workers at once; adds while it is processed queue it again after done.
 */
char *berth_queue_get(struct berth_queue *q);
void berth_queue_done(struct berth_queue *q, const char *key);
void berth_queue_shutdown(struct berth_queue *q);
size_t berth_queue_len(struct berth_queue *q);

/* ---- the manager ---- */

struct berth_ctl;

struct berth_controller_def {
	const char *name;
	/*
	 * Get informers, add handlers and indexes, make queues and register
	 * workers; nothing runs before every informer has listed. Returns 0
	 * or -errno; *state is passed to stop.
	 */
	int (*init)(struct berth_ctl *m, void **state);
	void (*stop)(void *state); /* after the workers have ended; or NULL */
};

/* Place a controller in the table the manager starts. */
#define BERTH_CONTROLLER(id, ...)                                         \
	static const struct berth_controller_def berth_ctl_def_##id          \
		__attribute__((used, section("berth_controllers"),          \
			       aligned(sizeof(void *)))) = { __VA_ARGS__ }

struct berth_ctl_options {
	const char *cluster_cidr; /* node IPAM; NULL or "" disables it */
	unsigned int node_cidr_bits; /* prefix length of a node's podCIDR */
	int node_grace_s; /* node lifecycle: NotReady after this (40) */
	int eviction_s; /* default tolerationSeconds of pods (300) */
	const char *only; /* comma list of controllers to run; NULL: all */
	/*
	 * Who contends for the controllers' Lease; stable across restarts of
	 * one server (so a restart takes its own lease back at once).
	 */
	const char *identity;
};

struct berth_api *berth_ctl_api(struct berth_ctl *m);
const struct berth_ctl_options *berth_ctl_opts(struct berth_ctl *m);
/* The shared informer of resource r, made on first use (init time only). */
struct berth_informer *berth_ctl_informer(struct berth_ctl *m,
					  const struct berth_resource *r);
/*
 * Run workers threads that take keys from q and call sync(ctx, key): 0 is
 * done (back-off reset), an error requeues with back-off. The queue is shut
 * down and freed by the manager.
 */
int berth_ctl_workers(struct berth_ctl *m, const char *name,
		      struct berth_queue *q, int workers,
		      int (*sync)(void *ctx, const char *key), void *ctx);
/* Call fn(ctx) every period_ms on a thread of its own until stop. */
int berth_ctl_every(struct berth_ctl *m, const char *name, int period_ms,
		    void (*fn)(void *ctx), void *ctx);
bool berth_ctl_stopping(struct berth_ctl *m);
/* Does this server hold the controllers' Lease? (Long loops check it.) */
bool berth_ctl_leading(struct berth_ctl *m);

/* Start informers and controllers; returns once they run. */
int berth_ctl_start(struct berth_ctl **out, struct berth_api *api,
		    const struct berth_ctl_options *opts);
/* Stop workers, informers; free. */
void berth_ctl_stop(struct berth_ctl *m);

/* Handlers that enqueue the object's own key into q, the common case. */
void berth_enqueue_handler(struct berth_informer_handler *h,
			   struct berth_queue *q);

/* ---- object helpers the controllers share ---- */

/* The controller ownerReference of obj (controller: true), or NULL. */
struct json_object *berth_owner_controller(struct json_object *obj);
/* An ownerReference to owner (kind, apiVersion from the object). */
struct json_object *berth_owner_ref(struct json_object *owner, bool controller);
/* "ns/name" of obj's controlling owner of kind, for an index; or false. */
bool berth_owner_key(struct json_object *obj, const char *kind, char *buf,
		     size_t size);
/* Index function: the uid of each ownerReference ("owner" index). */
void berth_index_owner_uid(struct json_object *obj, berth_index_emit emit,
			   void *ectx);
/* metadata.deletionTimestamp set? */
bool berth_obj_deleting(struct json_object *obj);
/* Pod is Running/Ready per its conditions. */
bool berth_pod_ready(struct json_object *pod);
/* Pod phase Succeeded or Failed. */
bool berth_pod_finished(struct json_object *pod);
/* Seconds since an RFC 3339 timestamp (0 if unparsable). */
double berth_since(const char *rfc3339);
/* Set or replace condition type in status.conditions (a json array);
 * lastTransitionTime changes only when the status does. true if changed. */
bool berth_set_condition(struct json_object *status, const char *type,
			 const char *cstatus, const char *reason,
			 const char *message);
/* The condition of type in status.conditions, or NULL. */
struct json_object *berth_get_condition(struct json_object *status,
					const char *type);
/* Monotonic ms. */
int64_t berth_now_ms(void);

#endif
