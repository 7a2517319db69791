// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Service controller. ClusterIPs and NodePorts are allocated against the
 * Services in the store (alloc.c), so deleting a Service releases them
 * with no bookkeeping to undo; what is left here:
 *  - repair: report (Warning Event) a ClusterIP outside the service CIDR or
 *    held by two Services, and a NodePort out of range or held twice, as
 *    an earlier run or a changed --service-cidr can leave them;
 *  - the endpoints of default/kubernetes: this server's own address.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/alloc.h"
#include "../apiserver/api.h"
#include "../apiserver/jsonutil.h"
#include "ctl.h"

#define KEY_REPAIR "repair"
#define KEY_KUBERNETES "default/kubernetes"
#define WAIT_MS 2000

struct svc_ctl {
	struct berth_api *api;
	struct berth_informer *svcs, *eps, *slices;
	struct berth_queue *q;
	/* "uid/reason/what" reported by the last pass, and by this one */
	struct json_object *reported, *seen;
};

static void svc_any(void *ctx, struct json_object *obj)
{
	struct svc_ctl *c = ctx;
	char key[320];

	berth_queue_add(c->q, KEY_REPAIR);
	berth_obj_key(obj, key, sizeof(key));
	if (!strcmp(key, KEY_KUBERNETES))
		berth_queue_add(c->q, KEY_KUBERNETES);
}

static void svc_updated(void *ctx, struct json_object *old,
			struct json_object *obj)
{
	(void)old;
	svc_any(ctx, obj);
}

/* default/kubernetes Endpoints or slice changed: put ours back. */
static void kube_ep_changed(void *ctx, struct json_object *obj)
{
	struct svc_ctl *c = ctx;
	char key[320];

	berth_obj_key(obj, key, sizeof(key));
	if (!strcmp(key, KEY_KUBERNETES))
		berth_queue_add(c->q, KEY_KUBERNETES);
}

static void kube_ep_updated(void *ctx, struct json_object *old,
			    struct json_object *obj)
{
	(void)old;
	kube_ep_changed(ctx, obj);
}

/* A Warning Event, once for as long as the problem lasts. */
static void report(struct svc_ctl *c, struct json_object *svc,
		   const char *component, const char *reason, const char *what,
		   const char *msg)
{
	char key[256];

	snprintf(key, sizeof(key), "%s/%s/%s",
		 berth_json_path_str(svc, "metadata.uid") ?: "", reason, what);
	json_object_object_add(c->seen, key, NULL);
	if (json_object_object_get_ex(c->reported, key, NULL))
		return;
	pr_warn("service %s/%s: %s",
		berth_json_path_str(svc, "metadata.namespace"),
		berth_json_path_str(svc, "metadata.name"), msg);
	berth_event_emit(c->api, component, svc, "Warning", reason, "%s", msg);
}

/* Older first: the first holder of an address keeps it. */
static int by_age(const void *a, const void *b)
{
	struct json_object *x = *(struct json_object *const *)a;
	struct json_object *y = *(struct json_object *const *)b;
	int d = strcmp(
		berth_json_path_str(x, "metadata.creationTimestamp") ?: "",
		berth_json_path_str(y, "metadata.creationTimestamp") ?: "");

	return d ? d :
		   strcmp(berth_json_path_str(x, "metadata.uid") ?: "",
			  berth_json_path_str(y, "metadata.uid") ?: "");
}

static void repair_ip(struct svc_ctl *c, struct json_object *svc,
		      struct json_object *ips, const char *cidr)
{
	const char *ip = berth_json_path_str(svc, "spec.clusterIP");
	uint32_t mask = c->api->svc_bits ? ~0u << (32 - c->api->svc_bits) : 0;
	struct in_addr a;
	char msg[256];

	if (!ip || !*ip || !strcmp(ip, "None") ||
	    inet_pton(AF_INET, ip, &a) != 1)
		return;
	if ((ntohl(a.s_addr) & mask) != c->api->svc_net) {
		snprintf(
			msg, sizeof(msg),
			"Cluster IP [IPv4]:%s is not within the configured Service CIDR %s; please recreate service",
			ip, cidr);
		report(c, svc, "ipallocator-repair-controller",
		       "ClusterIPOutOfRange", ip, msg);
	} else if (json_object_object_get_ex(ips, ip, NULL)) {
		snprintf(
			msg, sizeof(msg),
			"Cluster IP [IPv4]:%s was assigned to multiple services; please recreate service",
			ip);
		report(c, svc, "ipallocator-repair-controller",
		       "ClusterIPAlreadyAllocated", ip, msg);
	} else {
		json_object_object_add(ips, ip, NULL);
	}
}

static void repair_ports(struct svc_ctl *c, struct json_object *svc,
			 struct json_object *used)
{
	struct json_object *ports = berth_json_path(svc, "spec.ports");
	char msg[256], what[16];
	size_t i;

	for (i = 0; json_object_is_type(ports, json_type_array) &&
		    i < json_object_array_length(ports);
	     i++) {
		int64_t np = berth_json_get_int(
			json_object_array_get_idx(ports, i), "nodePort", 0);

		if (!np)
			continue;
		snprintf(what, sizeof(what), "%lld", (long long)np);
		if (np < BERTH_NODEPORT_MIN || np > BERTH_NODEPORT_MAX) {
			snprintf(
				msg, sizeof(msg),
				"Port %lld is not within the port range %d-%d; please recreate service",
				(long long)np, BERTH_NODEPORT_MIN,
				BERTH_NODEPORT_MAX);
			report(c, svc, "portallocator-repair-controller",
			       "PortOutOfRange", what, msg);
		} else if (json_object_object_get_ex(used, what, NULL)) {
			snprintf(
				msg, sizeof(msg),
				"Port %lld was assigned to multiple services; please recreate service",
				(long long)np);
			report(c, svc, "portallocator-repair-controller",
			       "PortAlreadyAllocated", what, msg);
		} else {
			json_object_object_add(used, what, NULL);
		}
	}
}

static void repair(struct svc_ctl *c)
{
	struct json_object *all = berth_informer_list(c->svcs, NULL, NULL);
	struct json_object *ips = json_object_new_object();
	struct json_object *ports = json_object_new_object();
	char net[INET_ADDRSTRLEN], cidr[64];
	size_t i;

	inet_ntop(AF_INET, &(struct in_addr){ htonl(c->api->svc_net) }, net,
		  sizeof(net));
	snprintf(cidr, sizeof(cidr), "%s/%u", net, c->api->svc_bits);
	c->seen = json_object_new_object();
	json_object_array_sort(all, by_age);
	for (i = 0; i < json_object_array_length(all); i++) {
		struct json_object *svc = json_object_array_get_idx(all, i);

		repair_ip(c, svc, ips, cidr);
		repair_ports(c, svc, ports);
	}
	json_object_put(c->reported);
	c->reported = c->seen;
	c->seen = NULL;
	json_object_put(ports);
	json_object_put(ips);
	json_object_put(all);
}

/* This server's address as an IPv4 literal and port; false if it has none. */
static bool server_ip(struct svc_ctl *c, char *ip, size_t size, int *port)
{
	const char *colon = strrchr(c->api->server_addr, ':');
	struct in_addr a;

	if (!colon || (size_t)(colon - c->api->server_addr) >= size)
		return false;
	memcpy(ip, c->api->server_addr, colon - c->api->server_addr);
	ip[colon - c->api->server_addr] = 0;
	*port = atoi(colon + 1);
	return inet_pton(AF_INET, ip, &a) == 1 && a.s_addr != INADDR_ANY &&
	       *port > 0;
}

/* Create or replace obj's fields (from want) unless they are so already. */
static int ensure(struct svc_ctl *c, const struct berth_resource *r,
		  struct berth_informer *inf, struct json_object *want,
		  const char *const *fields)
{
	struct json_object *cur = berth_informer_get(inf, KEY_KUBERNETES);
	struct json_object *obj, *out = NULL;
	bool same = cur != NULL;
	int i, code;

	for (i = 0; same && fields[i]; i++)
		same = berth_json_equal(berth_json_path(cur, fields[i]),
					berth_json_path(want, fields[i]));
	if (same) {
		json_object_put(cur);
		return 0;
	}
	obj = cur ? berth_json_copy(cur) : berth_json_copy(want);
	for (i = 0; cur && fields[i]; i++) {
		struct json_object *v = berth_json_path(want, fields[i]);

		/* "metadata.labels" -> obj.metadata, "labels" */
		const char *dot = strchr(fields[i], '.');

		if (dot)
			json_object_object_add(berth_json_obj(obj, "metadata"),
					       dot + 1, berth_json_copy(v));
		else
			json_object_object_add(obj, fields[i],
					       berth_json_copy(v));
	}
	if (cur)
		code = berth_client_update(c->api, r, "default", "kubernetes",
					   NULL, obj, &out);
	else
		code = berth_client_create(c->api, r, "default", obj, &out);
	if (code == 200 || code == 201)
		berth_informer_wait_rev(inf, berth_obj_rv(out), WAIT_MS);
	json_object_put(obj);
	json_object_put(out);
	json_object_put(cur);
	if (code == 200 || code == 201)
		return 0;
	pr_warn("service default/kubernetes: write %s: %d", r->name, code);
	return -EAGAIN;
}

static struct json_object *kube_port(int port)
{
	struct json_object *p = json_object_new_object();

	berth_json_set_str(p, "name", "https");
	berth_json_set_int(p, "port", port);
	berth_json_set_str(p, "protocol", "TCP");
	return p;
}

/* default/kubernetes is reached at this server's own address. */
static int sync_kubernetes(struct svc_ctl *c)
{
	static const char *const ep_fields[] = { "subsets", NULL };
	static const char *const sl_fields[] = { "metadata.labels",
						 "addressType", "endpoints",
						 "ports", NULL };
	struct json_object *ep, *sl, *sub, *a, *e, *arr;
	char ip[INET_ADDRSTRLEN];
	int port, err;

	if (!server_ip(c, ip, sizeof(ip), &port))
		return 0;
	ep = json_object_new_object();
	berth_json_set_str(ep, "apiVersion", "v1");
	berth_json_set_str(ep, "kind", "Endpoints");
	berth_json_set_str(berth_json_obj(ep, "metadata"), "name",
			   "kubernetes");
	sub = json_object_new_object();
	a = json_object_new_object();
	berth_json_set_str(a, "ip", ip);
	arr = json_object_new_array();
	json_object_array_add(arr, a);
	json_object_object_add(sub, "addresses", arr);
	arr = json_object_new_array();
	json_object_array_add(arr, kube_port(port));
	json_object_object_add(sub, "ports", arr);
	arr = json_object_new_array();
	json_object_array_add(arr, sub);
	json_object_object_add(ep, "subsets", arr);
	err = ensure(c, berth_res("", "endpoints"), c->eps, ep, ep_fields);
	json_object_put(ep);

	sl = json_object_new_object();
	berth_json_set_str(sl, "apiVersion", "discovery.k8s.io/v1");
	berth_json_set_str(sl, "kind", "EndpointSlice");
	berth_json_set_str(berth_json_obj(sl, "metadata"), "name",
			   "kubernetes");
	berth_json_set_str(berth_json_obj(berth_json_obj(sl, "metadata"),
					  "labels"),
			   "kubernetes.io/service-name", "kubernetes");
	berth_json_set_str(sl, "addressType", "IPv4");
	e = json_object_new_object();
	arr = json_object_new_array();
	json_object_array_add(arr, json_object_new_string(ip));
	json_object_object_add(e, "addresses", arr);
	json_object_object_add(berth_json_obj(e, "conditions"), "ready",
			       json_object_new_boolean(true));
	arr = json_object_new_array();
	json_object_array_add(arr, e);
	json_object_object_add(sl, "endpoints", arr);
	arr = json_object_new_array();
	json_object_array_add(arr, kube_port(port));
	json_object_object_add(sl, "ports", arr);
	if (ensure(c, berth_res("discovery.k8s.io", "endpointslices"),
		   c->slices, sl, sl_fields))
		err = -EAGAIN;
	json_object_put(sl);
	return err;
}

static int svc_sync(void *ctx, const char *key)
{
	struct svc_ctl *c = ctx;

	if (!strcmp(key, KEY_REPAIR)) {
		repair(c);
		return 0;
	}
	return sync_kubernetes(c);
}

static void svc_stop(void *state)
{
	struct svc_ctl *c = state;

	json_object_put(c->reported);
	free(c);
}

static int svc_init(struct berth_ctl *m, void **state)
{
	struct svc_ctl *c = calloc(1, sizeof(*c));
	struct berth_informer_handler kh = { .add = kube_ep_changed,
					     .update = kube_ep_updated,
					     .del = kube_ep_changed };

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->reported = json_object_new_object();
	c->q = berth_queue_new("service");
	c->svcs = berth_ctl_informer(m, berth_res("", "services"));
	c->eps = berth_ctl_informer(m, berth_res("", "endpoints"));
	c->slices = berth_ctl_informer(m, berth_res("discovery.k8s.io",
						    "endpointslices"));
	kh.ctx = c;
	berth_informer_add_handler(c->svcs, &(struct berth_informer_handler){
						    .add = svc_any,
						    .update = svc_updated,
						    .del = svc_any,
						    .ctx = c });
	berth_informer_add_handler(c->eps, &kh);
	berth_informer_add_handler(c->slices, &kh);
	/* the kubernetes Service may be there before us: look once anyway */
	berth_queue_add(c->q, KEY_KUBERNETES);
	*state = c;
	return berth_ctl_workers(m, "service", c->q, 1, svc_sync, c);
}

BERTH_CONTROLLER(service, .name = "service", .init = svc_init,
		 .stop = svc_stop);
