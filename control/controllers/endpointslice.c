// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * EndpointSlice controller: the pods a Service selects, as EndpointSlices
 * (discovery.k8s.io/v1) owned by the Service. Pods whose ports resolve to
 * the same numbers share slices of at most ENDPOINTS_PER_SLICE; an endpoint
 * stays in the slice it is in, so a change writes the slices it touches
 * and nothing is written when nothing changed.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "ctl.h"
#include "svcpods.h"

#define ENDPOINTS_PER_SLICE 100 /* as kube-controller-manager's default */
#define MANAGED_BY "endpointslice.kubernetes.io/managed-by"
#define CONTROLLER "endpointslice-controller.k8s.io"
#define SERVICE_NAME "kubernetes.io/service-name"
#define ZONE_LABEL "topology.kubernetes.io/zone"
#define WAIT_MS 2000
#define PLACEHOLDER "placeholder" /* group of a Service without endpoints */

struct eps_ctl {
	struct berth_api *api;
	struct berth_informer *svcs, *pods, *slices, *nodes;
	struct berth_queue *q;
	struct berth_svc_watch w;
};

/* A slice to be: the one it is now (NULL: new), its ports, endpoints. */
struct plan {
	struct json_object *cur; /* borrowed from the existing list */
	const char *key; /* port set; owned by groups */
	struct json_object *ports, *eps; /* owned */
};

struct plans {
	struct plan *v;
	size_t n, cap;
};

static void slice_index(struct json_object *obj, berth_index_emit emit,
			void *ectx)
{
	const char *ns = berth_json_path_str(obj, "metadata.namespace");
	struct json_object *l = berth_json_path(obj, "metadata.labels");
	const char *svc = berth_json_get_str(l, SERVICE_NAME);
	const char *by = berth_json_get_str(l, MANAGED_BY);
	char buf[320];

	if (!ns || !svc || !by || strcmp(by, CONTROLLER))
		return;
	snprintf(buf, sizeof(buf), "%s/%s", ns, svc);
	emit(ectx, buf);
}

/* Our slice changed or went (a user's edit): put it right. */
static void slice_changed(void *ctx, struct json_object *obj)
{
	struct eps_ctl *c = ctx;
	const char *ns = berth_json_path_str(obj, "metadata.namespace");
	struct json_object *l = berth_json_path(obj, "metadata.labels");
	const char *svc = berth_json_get_str(l, SERVICE_NAME);
	const char *by = berth_json_get_str(l, MANAGED_BY);
	char key[320];

	if (!ns || !svc || !by || strcmp(by, CONTROLLER))
		return;
	snprintf(key, sizeof(key), "%s/%s", ns, svc);
	berth_queue_add(c->q, key);
}

static void slice_updated(void *ctx, struct json_object *old,
			  struct json_object *obj)
{
	(void)old;
	slice_changed(ctx, obj);
}

/* A node's zone changed: every Service may have endpoints there. */
static void node_updated(void *ctx, struct json_object *old,
			 struct json_object *obj)
{
	struct eps_ctl *c = ctx;
	struct json_object *keys;
	size_t i;

	if (!strcmp(berth_json_get_str(berth_json_path(old, "metadata.labels"), ZONE_LABEL) ?:
			    "",
		    berth_json_get_str(berth_json_path(obj, "metadata.labels"), ZONE_LABEL) ?:
			    ""))
		return;
	keys = berth_informer_keys(c->svcs);
	for (i = 0; i < json_object_array_length(keys); i++)
		berth_queue_add(c->q,
				json_object_get_string(
					json_object_array_get_idx(keys, i)));
	json_object_put(keys);
}

static void node_added(void *ctx, struct json_object *obj)
{
	node_updated(ctx, NULL, obj);
}

/* The slice ports of a pod: each Service port its targetPort resolves on. */
static struct json_object *pod_ports(struct json_object *svc,
				     struct json_object *pod)
{
	struct json_object *sports = berth_json_path(svc, "spec.ports");
	struct json_object *out = json_object_new_array();
	size_t i;

	for (i = 0; json_object_is_type(sports, json_type_array) &&
		    i < json_object_array_length(sports);
	     i++) {
		struct json_object *sp = json_object_array_get_idx(sports, i);
		struct json_object *p;
		const char *ap = berth_json_get_str(sp, "appProtocol");
		int port = berth_svc_target_port(sp, pod);

		if (port < 0)
			continue;
		p = json_object_new_object();
		berth_json_set_str(p, "name",
				   berth_json_get_str(sp, "name") ?: "");
		berth_json_set_str(p, "protocol",
				   berth_json_get_str(sp, "protocol") ?: "TCP");
		berth_json_set_int(p, "port", port);
		if (ap)
			berth_json_set_str(p, "appProtocol", ap);
		json_object_array_add(out, p);
	}
	return out;
}

/* The same port set written the same way, whatever order fields came in. */
static const char *ports_key(struct json_object *ports, char *buf, size_t size)
{
	size_t i, n = 0;

	buf[0] = 0;
	for (i = 0; json_object_is_type(ports, json_type_array) &&
		    i < json_object_array_length(ports) && n < size;
	     i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);

		n += snprintf(buf + n, size - n, "%s/%s/%lld/%s;",
			      berth_json_get_str(p, "name") ?: "",
			      berth_json_get_str(p, "protocol") ?: "TCP",
			      (long long)berth_json_get_int(p, "port", 0),
			      berth_json_get_str(p, "appProtocol") ?: "");
	}
	return buf;
}

static struct json_object *endpoint(struct eps_ctl *c, struct json_object *svc,
				    struct json_object *pod)
{
	struct json_object *ep = json_object_new_object(), *addrs, *cond;
	const char *node = berth_json_path_str(pod, "spec.nodeName");
	const char *host = berth_pod_hostname(pod, svc);
	bool pnr = json_object_get_boolean(
		berth_json_path(svc, "spec.publishNotReadyAddresses"));
	bool ready = berth_pod_ready(pod), term = berth_obj_deleting(pod);

	addrs = json_object_new_array();
	json_object_array_add(addrs, json_object_new_string(berth_json_path_str(
					     pod, "status.podIP")));
	json_object_object_add(ep, "addresses", addrs);
	cond = berth_json_obj(ep, "conditions");
	json_object_object_add(cond, "ready",
			       json_object_new_boolean(pnr ||
						       (ready && !term)));
	json_object_object_add(cond, "serving",
			       json_object_new_boolean(pnr || ready));
	json_object_object_add(cond, "terminating",
			       json_object_new_boolean(term));
	if (host)
		berth_json_set_str(ep, "hostname", host);
	if (node && *node) {
		struct json_object *n = berth_informer_get(c->nodes, node);
		const char *zone = berth_json_get_str(
			berth_json_path(n, "metadata.labels"), ZONE_LABEL);

		berth_json_set_str(ep, "nodeName", node);
		if (zone)
			berth_json_set_str(ep, "zone", zone);
		json_object_put(n);
	}
	json_object_object_add(ep, "targetRef", berth_pod_ref(pod));
	return ep;
}

/*
 * groups: port key -> {"ports": [...], "eps": {pod uid: endpoint}}; a
 * Service with no endpoints at all gets one empty group (its placeholder).
 */
static struct json_object *desired(struct eps_ctl *c, struct json_object *svc)
{
	const char *ns = berth_json_path_str(svc, "metadata.namespace");
	struct json_object *groups = json_object_new_object(), *pods, *g;
	char key[1024];
	size_t i;

	pods = berth_informer_list(c->pods, "namespace", ns);
	for (i = 0; i < json_object_array_length(pods); i++) {
		struct json_object *pod = json_object_array_get_idx(pods, i);
		struct json_object *ports;

		if (!berth_svc_selects(svc, pod) || !berth_pod_endpoint(pod))
			continue;
		ports = pod_ports(svc, pod);
		ports_key(ports, key, sizeof(key));
		g = json_object_object_get(groups, key);
		if (!g) {
			g = json_object_new_object();
			json_object_object_add(g, "ports", ports);
			json_object_object_add(g, "eps",
					       json_object_new_object());
			json_object_object_add(groups, key, g);
		} else {
			json_object_put(ports);
		}
		json_object_object_add(json_object_object_get(g, "eps"),
				       berth_json_path_str(pod, "metadata.uid"),
				       endpoint(c, svc, pod));
	}
	json_object_put(pods);
	if (!json_object_object_length(groups)) {
		g = json_object_new_object();
		json_object_object_add(g, "ports", json_object_new_array());
		json_object_object_add(g, "eps", json_object_new_object());
		json_object_object_add(groups, PLACEHOLDER, g);
	}
	return groups;
}

static struct plan *plan_add(struct plans *ps, struct json_object *cur,
			     const char *key, struct json_object *ports)
{
	struct plan *p;

	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? ps->cap * 2 : 8;
		struct plan *v = realloc(ps->v, cap * sizeof(*v));

		if (!v)
			abort();
		ps->v = v;
		ps->cap = cap;
	}
	p = &ps->v[ps->n++];
	p->cur = cur;
	p->key = key;
	p->ports = json_object_get(ports);
	p->eps = json_object_new_array();
	return p;
}

/*
 * Keep every endpoint in the slice it is in; put the new ones where there
 * is room, then in new slices. Slices left with nothing are reused for new
 * slices before any is created (fewer writes), the rest deleted.
 */
static void plan(struct json_object *groups, struct json_object *existing,
		 struct plans *ps, struct json_object *spare)
{
	char key[1024];
	size_t i, j;

	for (i = 0; i < json_object_array_length(existing); i++) {
		struct json_object *s = json_object_array_get_idx(existing, i);
		struct json_object *g, *eps, *have;
		struct plan *p;

		ports_key(berth_json_path(s, "ports"), key, sizeof(key));
		g = json_object_object_get(groups, key);
		if (!g) {
			json_object_array_add(spare, json_object_get(s));
			continue;
		}
		p = plan_add(ps, s, key, json_object_object_get(g, "ports"));
		json_object_object_foreach(groups, gk, gv) if (gv == g)
			p->key = gk;
		eps = json_object_object_get(g, "eps");
		have = berth_json_path(s, "endpoints");
		for (j = 0; json_object_is_type(have, json_type_array) &&
			    j < json_object_array_length(have);
		     j++) {
			const char *uid = berth_json_path_str(
				json_object_array_get_idx(have, j),
				"targetRef.uid");
			struct json_object *ep =
				uid ? json_object_object_get(eps, uid) : NULL;

			if (!ep || json_object_array_length(p->eps) >=
					   ENDPOINTS_PER_SLICE)
				continue;
			json_object_array_add(p->eps, json_object_get(ep));
			json_object_object_del(eps, uid);
		}
	}
	json_object_object_foreach(groups, gk, g)
	{
		struct json_object *eps = json_object_object_get(g, "eps");
		struct json_object *ports = json_object_object_get(g, "ports");
		struct plan *open = NULL;
		size_t k;
		bool any = false;

		for (k = 0; k < ps->n; k++)
			any |= ps->v[k].key == gk;
		if (!any && !json_object_object_length(eps))
			open = plan_add(ps, NULL, gk, ports); /* placeholder */
		json_object_object_foreach(eps, uid, ep)
		{
			(void)uid;
			for (k = 0; !open && k < ps->n; k++)
				if (ps->v[k].key == gk &&
				    json_object_array_length(ps->v[k].eps) <
					    ENDPOINTS_PER_SLICE)
					open = &ps->v[k];
			if (!open)
				open = plan_add(ps, NULL, gk, ports);
			json_object_array_add(open->eps, json_object_get(ep));
			if (json_object_array_length(open->eps) >=
			    ENDPOINTS_PER_SLICE)
				open = NULL;
		}
	}
	/* emptied slices (but one per group when the Service has none) */
	for (i = 0; i < ps->n; i++) {
		struct plan *p = &ps->v[i];

		if (!p->cur || json_object_array_length(p->eps) ||
		    !strcmp(p->key, PLACEHOLDER))
			continue;
		json_object_array_add(spare, json_object_get(p->cur));
		p->cur = NULL;
		p->key = NULL; /* dropped */
	}
	for (i = 0; i < ps->n; i++) {
		struct plan *p = &ps->v[i];
		size_t last = json_object_array_length(spare);

		if (p->cur || !p->key || !last)
			continue;
		/* borrowed: existing still holds it after spare lets go */
		p->cur = json_object_array_get_idx(spare, last - 1);
		json_object_array_del_idx(spare, last - 1, 1);
	}
}

static struct json_object *slice_labels(struct json_object *svc)
{
	struct json_object *l = berth_svc_endpoint_labels(svc);

	berth_json_set_str(l, SERVICE_NAME,
			   berth_json_path_str(svc, "metadata.name"));
	berth_json_set_str(l, MANAGED_BY, CONTROLLER);
	return l;
}

static bool slice_current(struct json_object *cur, struct json_object *labels,
			  const struct plan *p, const char *svc_uid)
{
	const char *owner =
		berth_json_get_str(berth_owner_controller(cur), "uid");

	return owner && !strcmp(owner, svc_uid) &&
	       !strcmp(berth_json_get_str(cur, "addressType") ?: "", "IPv4") &&
	       berth_json_equal(berth_json_path(cur, "metadata.labels"),
				labels) &&
	       berth_json_equal(berth_json_path(cur, "endpoints"), p->eps) &&
	       berth_json_equal(berth_json_path(cur, "ports"), p->ports);
}

/* Create or update one planned slice; the highest revision in *rev. */
static int write_slice(struct eps_ctl *c, struct json_object *svc,
		       const struct plan *p, int64_t *rev)
{
	const char *ns = berth_json_path_str(svc, "metadata.namespace");
	const char *uid = berth_json_path_str(svc, "metadata.uid") ?: "";
	struct json_object *labels = slice_labels(svc), *s, *m, *refs,
			   *out = NULL;
	int code, err = 0;

	if (p->cur && slice_current(p->cur, labels, p, uid)) {
		json_object_put(labels);
		return 0;
	}
	if (p->cur) {
		s = berth_json_copy(p->cur);
		m = berth_json_obj(s, "metadata");
	} else {
		char gen[300];

		s = json_object_new_object();
		berth_json_set_str(s, "apiVersion", "discovery.k8s.io/v1");
		berth_json_set_str(s, "kind", "EndpointSlice");
		m = berth_json_obj(s, "metadata");
		snprintf(gen, sizeof(gen), "%s-",
			 berth_json_path_str(svc, "metadata.name"));
		berth_json_set_str(m, "generateName", gen);
	}
	json_object_object_add(m, "labels", labels);
	refs = json_object_new_array();
	json_object_array_add(refs, berth_owner_ref(svc, true));
	json_object_object_add(m, "ownerReferences", refs);
	berth_json_set_str(s, "addressType", "IPv4");
	json_object_object_add(s, "endpoints", json_object_get(p->eps));
	json_object_object_add(s, "ports", json_object_get(p->ports));
	if (p->cur)
		code = berth_client_update(
			c->api, berth_res("discovery.k8s.io", "endpointslices"),
			ns, berth_json_path_str(s, "metadata.name"), NULL, s,
			&out);
	else
		code = berth_client_create(
			c->api, berth_res("discovery.k8s.io", "endpointslices"),
			ns, s, &out);
	if (code == 200 || code == 201) {
		if (berth_obj_rv(out) > *rev)
			*rev = berth_obj_rv(out);
	} else {
		if (code != 409 && code != 404 && code != 403)
			pr_warn("service %s/%s: %s endpointslice: %d", ns,
				berth_json_path_str(svc, "metadata.name"),
				p->cur ? "update" : "create", code);
		err = -EAGAIN;
	}
	json_object_put(s);
	json_object_put(out);
	return err;
}

static int delete_slices(struct eps_ctl *c, struct json_object *list)
{
	size_t i;
	int err = 0, code;

	for (i = 0; i < json_object_array_length(list); i++) {
		struct json_object *s = json_object_array_get_idx(list, i);

		code = berth_client_delete(
			c->api, berth_res("discovery.k8s.io", "endpointslices"),
			berth_json_path_str(s, "metadata.namespace"),
			berth_json_path_str(s, "metadata.name"), NULL,
			berth_json_path_str(s, "metadata.uid"));
		if (code >= 300 && code != 404 && code != 409)
			err = -EAGAIN;
	}
	return err;
}

static int eps_sync(void *ctx, const char *key)
{
	struct eps_ctl *c = ctx;
	struct json_object *svc, *existing, *groups = NULL, *spare;
	struct plans ps = { 0 };
	int64_t rev = 0;
	size_t i;
	int err = 0;

	svc = berth_informer_get(c->svcs, key);
	existing = berth_informer_list(c->slices, "service", key);
	spare = json_object_new_array();
	if (!svc || !strcmp(berth_json_path_str(svc, "spec.type") ?: "",
			    "ExternalName")) {
		/* the garbage collector would too; ExternalName has none */
		err = delete_slices(c, existing);
		goto out;
	}
	if (!berth_svc_has_selector(svc) || berth_obj_deleting(svc))
		goto out; /* slices without a selector are the user's */
	groups = desired(c, svc);
	plan(groups, existing, &ps, spare);
	for (i = 0; i < ps.n; i++)
		if (ps.v[i].key && write_slice(c, svc, &ps.v[i], &rev))
			err = -EAGAIN;
	if (delete_slices(c, spare))
		err = -EAGAIN;
	if (rev)
		berth_informer_wait_rev(c->slices, rev, WAIT_MS);
out:
	for (i = 0; i < ps.n; i++) {
		json_object_put(ps.v[i].ports);
		json_object_put(ps.v[i].eps);
	}
	free(ps.v);
	json_object_put(spare);
	json_object_put(groups);
	json_object_put(existing);
	json_object_put(svc);
	return err;
}

static int eps_init(struct berth_ctl *m, void **state)
{
	struct eps_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->q = berth_queue_new("endpointslice");
	berth_svc_watch_init(&c->w, m, c->q);
	c->svcs = c->w.svcs;
	c->pods = c->w.pods;
	c->nodes = berth_ctl_informer(m, berth_res("", "nodes"));
	c->slices = berth_ctl_informer(m, berth_res("discovery.k8s.io",
						    "endpointslices"));
	berth_informer_add_index(c->slices, "service", slice_index);
	berth_informer_add_handler(c->slices, &(struct berth_informer_handler){
						      .update = slice_updated,
						      .del = slice_changed,
						      .ctx = c });
	berth_informer_add_handler(c->nodes, &(struct berth_informer_handler){
						     .add = node_added,
						     .update = node_updated,
						     .ctx = c });
	*state = c;
	return berth_ctl_workers(m, "endpointslice", c->q, 2, eps_sync, c);
}

BERTH_CONTROLLER(endpointslice, .name = "endpointslice", .init = eps_init,
		 .stop = free);
