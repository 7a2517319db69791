/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Helpers the ReplicaSet and Deployment controllers share (rollout.c). */
#ifndef BERTH_CONTROLLERS_ROLLOUT_H
#define BERTH_CONTROLLERS_ROLLOUT_H

#include <stdbool.h>

#include <json-c/json.h>

struct berth_api;
struct berth_informer;
struct berth_resource;

/*
 * Wait until inf has seen every write made so far in namespace ns of
 * resource r (a list's revision is the store's), so the next sync never
 * acts on a cache that misses this controller's own creates or deletes.
 */
void berth_rollout_barrier(struct berth_api *api,
			   const struct berth_resource *r, const char *ns,
			   struct berth_informer *inf);

/*
 * Adopt (set a controller ownerReference to owner) or release (drop the
 * reference to owner's uid) obj with a merge patch guarded by obj's
 * resourceVersion. Returns the HTTP code.
 */
int berth_rollout_adopt(struct berth_api *api, const struct berth_resource *r,
			struct json_object *owner, struct json_object *obj);
int berth_rollout_release(struct berth_api *api,
			  const struct berth_resource *r,
			  struct json_object *owner, struct json_object *obj);

/* Is obj's controller ownerReference the object with this uid? */
bool berth_rollout_owned_by(struct json_object *obj, const char *uid);

/* Seconds the pod has been Ready (its Ready condition's transition), or -1. */
double berth_pod_ready_for(struct json_object *pod);

/* Remove condition type from status.conditions; true if it was there. */
bool berth_rollout_del_condition(struct json_object *status, const char *type);

#endif
