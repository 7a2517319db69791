/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the DaemonSet, Job and StatefulSet controllers share: pods made from
 * a workload's template, the template's revision hash, a status write that
 * only happens on change, and the node checks a DaemonSet needs (node
 * selector, required node affinity, taints against tolerations).
 */
#ifndef BERTH_CONTROLLERS_PODTMPL_H
#define BERTH_CONTROLLERS_PODTMPL_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

struct berth_api;
struct berth_ctl;
struct berth_informer;
struct berth_queue;
struct berth_resource;

#define BERTH_REVISION_LABEL "controller-revision-hash"

/* A short stable hash of spec.template ("6d4f9c8b7"), for revisions. */
void berth_wl_template_hash(struct json_object *owner, char *buf, size_t size);
/*
 * A pod from tmpl (NULL: owner's spec.template): its labels, annotations
 * and spec, a controller ownerReference to owner. Caller names and puts it.
 */
struct json_object *berth_wl_pod(struct json_object *owner,
				 struct json_object *tmpl);
/*
 * Create pod (in its namespace) for owner, wait for the pods informer to
 * have it, and tell with an Event from component. 0, or -EIO (logged);
 * a terminating namespace or a name taken meanwhile are not errors.
 */
int berth_wl_create_pod(struct berth_api *api, struct berth_informer *pods,
			struct json_object *owner, const char *component,
			struct json_object *pod);
/* Delete owner's pod (uid precondition), the same way. */
int berth_wl_delete_pod(struct berth_api *api, struct berth_informer *pods,
			struct json_object *owner, const char *component,
			struct json_object *pod);
/* The informers of a controller of pods and what it queues from them. */
struct berth_wl_watch {
	struct berth_queue *q; /* gets owner keys */
	const char *kind; /* the owners' kind: "DaemonSet" */
	struct berth_informer *owners, *pods, *crs; /* crs: NULL if unused */
};
/*
 * Watch the owners of resource r (a change queues the owner), their pods
 * (a change queues the pod's controller of w->kind) and, with revisions,
 * their ControllerRevisions; pods and revisions get the "owner" index.
 * w must live as long as the controller.
 */
void berth_wl_watch(struct berth_ctl *m, const struct berth_resource *r,
		    bool revisions, struct berth_wl_watch *w);
/* Copies of the pods whose controller is owner (needs the "owner" index). */
struct json_object *berth_wl_owned_pods(struct berth_informer *pods,
					struct json_object *owner);
/* Merge-patch status into owner's status subresource unless unchanged. */
int berth_wl_write_status(struct berth_api *api, const struct berth_resource *r,
			  struct json_object *owner,
			  struct json_object *status);
/* An int-or-percent of total ("25%", 2); round up or down. */
int berth_wl_scaled(struct json_object *v, int total, bool round_up, int def);
/* Pod label value, or NULL. */
const char *berth_wl_label(struct json_object *obj, const char *key);

/*
 * Record owner's template as the ControllerRevision "<owner>-<hash>" (data:
 * the patch that restores it, as kubectl rollout undo applies it), one
 * revision above the newest; an old template that comes back (a rollback)
 * is renumbered to the newest. Past spec.revisionHistoryLimit the oldest
 * revisions go, except the names in live (a json array of strings, or
 * NULL). The CR informer needs the "owner" index.
 */
int berth_wl_sync_revisions(struct berth_api *api, struct berth_informer *crs,
			    struct json_object *owner, const char *hash,
			    struct json_object *live);
/* The pod template recorded in revision name of owner's namespace; put it. */
struct json_object *berth_wl_revision_template(struct berth_informer *crs,
					       struct json_object *owner,
					       const char *name);

/* Does the node satisfy the pod spec's nodeSelector and required affinity? */
bool berth_wl_node_selected(struct json_object *pspec,
			    struct json_object *node);
/*
 * Is every taint of the node with effect (NoSchedule or NoExecute; NULL:
 * both) tolerated by the tolerations array?
 */
bool berth_wl_taints_tolerated(struct json_object *tolerations,
			       struct json_object *node, const char *effect);

#endif
