// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Endpoints controller: the legacy v1 Endpoints of a Service with a
 * selector, named as the Service: its pods' addresses (ready ones in
 * addresses, the others in notReadyAddresses) grouped by the ports they
 * resolve to, at most MAX_ADDRESSES of them. Deleted with the Service.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "ctl.h"
#include "svcpods.h"

#define MAX_ADDRESSES 1000 /* as Kubernetes: beyond, EndpointSlices only */
#define OVER_CAPACITY "endpoints.kubernetes.io/over-capacity"
#define MANAGED_BY "endpoints.kubernetes.io/managed-by" /* since k8s 1.33 */
#define CONTROLLER "endpoint-controller"
#define WAIT_MS 2000

struct ep_ctl {
	struct berth_api *api;
	struct berth_informer *svcs, *pods, *eps;
	struct berth_queue *q;
	struct berth_svc_watch w;
};

/* Endpoints changed by someone else (or deleted): put them right. */
static void ep_changed(void *ctx, struct json_object *obj)
{
	struct ep_ctl *c = ctx;
	char key[320];

	berth_obj_key(obj, key, sizeof(key));
	berth_queue_add(c->q, key);
}

static void ep_updated(void *ctx, struct json_object *old,
		       struct json_object *obj)
{
	(void)old;
	ep_changed(ctx, obj);
}

/* The subset ports of a pod: the Service ports that resolve on it. */
static struct json_object *pod_ports(struct json_object *svc,
				     struct json_object *pod, char *key,
				     size_t size)
{
	struct json_object *sports = berth_json_path(svc, "spec.ports");
	struct json_object *out = json_object_new_array();
	size_t i, n = 0;

	key[0] = 0;
	for (i = 0; json_object_is_type(sports, json_type_array) &&
		    i < json_object_array_length(sports);
	     i++) {
		struct json_object *sp = json_object_array_get_idx(sports, i);
		const char *name = berth_json_get_str(sp, "name");
		const char *proto = berth_json_get_str(sp, "protocol") ?: "TCP";
		const char *ap = berth_json_get_str(sp, "appProtocol");
		int port = berth_svc_target_port(sp, pod);
		struct json_object *p;

		if (port < 0)
			continue;
		p = json_object_new_object();
		if (name && *name)
			berth_json_set_str(p, "name", name);
		berth_json_set_int(p, "port", port);
		berth_json_set_str(p, "protocol", proto);
		if (ap)
			berth_json_set_str(p, "appProtocol", ap);
		json_object_array_add(out, p);
		if (n < size)
			n += snprintf(key + n, size - n, "%s/%s/%d;",
				      name ?: "", proto, port);
	}
	return out;
}

static struct json_object *address(struct json_object *pod,
				   struct json_object *svc)
{
	struct json_object *a = json_object_new_object();
	const char *node = berth_json_path_str(pod, "spec.nodeName");
	const char *host = berth_pod_hostname(pod, svc);

	berth_json_set_str(a, "ip", berth_json_path_str(pod, "status.podIP"));
	if (host)
		berth_json_set_str(a, "hostname", host);
	if (node && *node)
		berth_json_set_str(a, "nodeName", node);
	json_object_object_add(a, "targetRef", berth_pod_ref(pod));
	return a;
}

static int by_ip(const void *a, const void *b)
{
	const char *x =
		berth_json_get_str(*(struct json_object *const *)a, "ip") ?: "";
	const char *y =
		berth_json_get_str(*(struct json_object *const *)b, "ip") ?: "";

	return strcmp(x, y);
}

/* Subsets in the order of their ports, whatever order pods came in. */
static int by_ports(const void *a, const void *b)
{
	struct json_object *x = *(struct json_object *const *)a;
	struct json_object *y = *(struct json_object *const *)b;

	return strcmp(json_object_to_json_string(berth_json_path(x, "ports")),
		      json_object_to_json_string(berth_json_path(y, "ports")));
}

/* Keep at most *budget of list (ready ones are kept first by the caller). */
static void cap_list(struct json_object *subset, const char *field,
		     size_t *budget, bool *truncated)
{
	struct json_object *l = json_object_object_get(subset, field);
	size_t n;

	if (!l)
		return;
	json_object_array_sort(l, by_ip);
	n = json_object_array_length(l);
	if (n > *budget) {
		json_object_array_del_idx(l, *budget, n - *budget);
		*truncated = true;
		n = *budget;
	}
	*budget -= n;
	if (!n)
		json_object_object_del(subset, field);
}

/* obj[key] as an array, made empty if absent. */
static struct json_object *arr(struct json_object *obj, const char *key)
{
	struct json_object *a;

	if (!json_object_object_get_ex(obj, key, &a)) {
		a = json_object_new_array();
		json_object_object_add(obj, key, a);
	}
	return a;
}

/* The subsets the Service's pods make; *truncated if over capacity. */
static struct json_object *subsets(struct ep_ctl *c, struct json_object *svc,
				   bool *truncated)
{
	const char *ns = berth_json_path_str(svc, "metadata.namespace");
	struct json_object *groups = json_object_new_object(), *pods, *out;
	bool pnr = json_object_get_boolean(
		berth_json_path(svc, "spec.publishNotReadyAddresses"));
	size_t i, budget = MAX_ADDRESSES;
	char key[1024];

	pods = berth_informer_list(c->pods, "namespace", ns);
	for (i = 0; i < json_object_array_length(pods); i++) {
		struct json_object *pod = json_object_array_get_idx(pods, i);
		struct json_object *ports, *sub;
		bool ready;

		if (!berth_svc_selects(svc, pod) || !berth_pod_endpoint(pod))
			continue;
		/* terminating pods leave Endpoints unless not-ready ones count */
		if (berth_obj_deleting(pod) && !pnr)
			continue;
		ready = pnr || berth_pod_ready(pod);
		ports = pod_ports(svc, pod, key, sizeof(key));
		if (!json_object_array_length(ports) &&
		    json_object_array_length(
			    berth_json_path(svc, "spec.ports") ?: ports)) {
			json_object_put(ports); /* no port resolves here */
			continue;
		}
		sub = json_object_object_get(groups, key);
		if (!sub) {
			sub = json_object_new_object();
			json_object_object_add(groups, key, sub);
			if (json_object_array_length(ports))
				json_object_object_add(sub, "ports",
						       json_object_get(ports));
		}
		json_object_array_add(arr(sub, ready ? "addresses" :
						       "notReadyAddresses"),
				      address(pod, svc));
		json_object_put(ports);
	}
	json_object_put(pods);
	out = json_object_new_array();
	*truncated = false;
	json_object_object_foreach(groups, k, sub)
	{
		(void)k;
		cap_list(sub, "addresses", &budget, truncated);
	}
	json_object_object_foreach(groups, k2, sub2)
	{
		(void)k2;
		cap_list(sub2, "notReadyAddresses", &budget, truncated);
		if (json_object_object_get(sub2, "addresses") ||
		    json_object_object_get(sub2, "notReadyAddresses"))
			json_object_array_add(out, json_object_get(sub2));
	}
	json_object_put(groups);
	json_object_array_sort(out, by_ports);
	return out;
}

static struct json_object *ep_labels(struct json_object *svc)
{
	struct json_object *l = berth_svc_endpoint_labels(svc);

	berth_json_set_str(l, MANAGED_BY, CONTROLLER);
	return l;
}

/* Write ep as the Service's Endpoints unless they are that already. */
static int ep_write(struct ep_ctl *c, struct json_object *svc,
		    struct json_object *cur, struct json_object *subs,
		    bool truncated)
{
	const char *ns = berth_json_path_str(svc, "metadata.namespace");
	const char *name = berth_json_path_str(svc, "metadata.name");
	struct json_object *labels = ep_labels(svc), *ep, *m, *ann, *out = NULL;
	const char *over;
	int code;

	ann = berth_json_path(cur, "metadata.annotations");
	over = berth_json_get_str(ann, OVER_CAPACITY);
	if (cur &&
	    berth_json_equal(berth_json_path(cur, "metadata.labels"), labels) &&
	    berth_json_equal(berth_json_path(cur, "subsets"),
			     json_object_array_length(subs) ? subs : NULL) &&
	    !!over == truncated) {
		json_object_put(labels);
		return 0;
	}
	if (cur) {
		ep = berth_json_copy(cur);
	} else {
		ep = json_object_new_object();
		berth_json_set_str(ep, "apiVersion", "v1");
		berth_json_set_str(ep, "kind", "Endpoints");
		berth_json_set_str(berth_json_obj(ep, "metadata"), "name",
				   name);
	}
	m = berth_json_obj(ep, "metadata");
	json_object_object_add(m, "labels", labels);
	if (truncated)
		berth_json_set_str(berth_json_obj(m, "annotations"),
				   OVER_CAPACITY, "truncated");
	else if ((ann = berth_json_path(m, "annotations")))
		json_object_object_del(ann, OVER_CAPACITY);
	if (json_object_array_length(subs))
		json_object_object_add(ep, "subsets", json_object_get(subs));
	else
		json_object_object_del(ep, "subsets");
	if (cur)
		code = berth_client_update(c->api, berth_res("", "endpoints"),
					   ns, name, NULL, ep, &out);
	else
		code = berth_client_create(c->api, berth_res("", "endpoints"),
					   ns, ep, &out);
	json_object_put(ep);
	if (code == 200 || code == 201)
		berth_informer_wait_rev(c->eps, berth_obj_rv(out), WAIT_MS);
	json_object_put(out);
	if (code == 200 || code == 201 || code == 403)
		return 0; /* 403: the namespace is terminating */
	if (code != 409 && code != 404)
		pr_warn("service %s/%s: write endpoints: %d", ns, name, code);
	return -EAGAIN;
}

static int ep_sync(void *ctx, const char *key)
{
	struct ep_ctl *c = ctx;
	struct json_object *svc, *cur, *subs;
	bool truncated;
	int err = 0, code;

	svc = berth_informer_get(c->svcs, key);
	cur = berth_informer_get(c->eps, key);
	if (!svc) {
		if (cur) {
			code = berth_client_delete(
				c->api, berth_res("", "endpoints"),
				berth_json_path_str(cur, "metadata.namespace"),
				berth_json_path_str(cur, "metadata.name"), NULL,
				berth_json_path_str(cur, "metadata.uid"));
			if (code >= 300 && code != 404 && code != 409)
				err = -EAGAIN;
		}
		goto out;
	}
	if (!berth_svc_has_selector(svc) || berth_obj_deleting(svc) ||
	    !strcmp(berth_json_path_str(svc, "spec.type") ?: "",
		    "ExternalName"))
		goto out; /* Endpoints of a Service without selector: the user's */
	subs = subsets(c, svc, &truncated);
	err = ep_write(c, svc, cur, subs, truncated);
	json_object_put(subs);
out:
	json_object_put(cur);
	json_object_put(svc);
	return err;
}

static int ep_init(struct berth_ctl *m, void **state)
{
	struct ep_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->q = berth_queue_new("endpoints");
	berth_svc_watch_init(&c->w, m, c->q);
	c->svcs = c->w.svcs;
	c->pods = c->w.pods;
	c->eps = berth_ctl_informer(m, berth_res("", "endpoints"));
	berth_informer_add_handler(
		c->eps, &(struct berth_informer_handler){ .update = ep_updated,
							  .del = ep_changed,
							  .ctx = c });
	*state = c;
	return berth_ctl_workers(m, "endpoints", c->q, 2, ep_sync, c);
}

BERTH_CONTROLLER(endpoints, .name = "endpoints", .init = ep_init, .stop = free);
