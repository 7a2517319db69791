/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the EndpointSlice and Endpoints controllers share: which pods a
 * Service selects, which of them are endpoints, and the port a Service
 * port reaches on each pod.
 */
#ifndef BERTH_CONTROLLERS_SVCPODS_H
#define BERTH_CONTROLLERS_SVCPODS_H

#include <stdbool.h>

#include <json-c/json.h>

struct berth_informer;
struct berth_queue;

struct berth_ctl;

/* Services, pods and the queue of a controller that follows both. */
struct berth_svc_watch {
	struct berth_informer *svcs, *pods;
	struct berth_queue *q;
};

/* spec.selector set and not empty (else endpoints are the user's). */
bool berth_svc_has_selector(struct json_object *svc);
/* A pod of the Service's namespace whose labels match its selector. */
bool berth_svc_selects(struct json_object *svc, struct json_object *pod);
/* Has an IP and has not finished: may be an endpoint. */
bool berth_pod_endpoint(struct json_object *pod);
/*
 * The pod port Service port sport reaches: a number as is, a name looked
 * up among the pod's container ports of the same protocol; -1 if none.
 */
int berth_svc_target_port(struct json_object *sport, struct json_object *pod);
/* A targetRef to pod, as endpoints name it. */
struct json_object *berth_pod_ref(struct json_object *pod);
/* The pod's hostname when its subdomain is the Service's name, else NULL. */
const char *berth_pod_hostname(struct json_object *pod,
			       struct json_object *svc);
/* The Service's labels and, if headless, the headless label. */
struct json_object *berth_svc_endpoint_labels(struct json_object *svc);
/*
 * Get the services and pods informers into w (kept by the caller for the
 * controller's life); a Service's change enqueues its key into q, a pod's
 * the keys of the Services selecting it (before and after).
 */
void berth_svc_watch_init(struct berth_svc_watch *w, struct berth_ctl *m,
			  struct berth_queue *q);

#endif
