// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Services' pods and their ports, for the endpoint controllers. */
#include <stdlib.h>
#include <string.h>

#include "../apiserver/jsonutil.h"
#include "ctl.h"
#include "svcpods.h"

bool berth_svc_has_selector(struct json_object *svc)
{
	struct json_object *sel = berth_json_path(svc, "spec.selector");

	return json_object_is_type(sel, json_type_object) &&
	       json_object_object_length(sel) > 0;
}

bool berth_svc_selects(struct json_object *svc, struct json_object *pod)
{
	struct json_object *labels = berth_json_path(pod, "metadata.labels");
	const char *sns = berth_json_path_str(svc, "metadata.namespace");
	const char *pns = berth_json_path_str(pod, "metadata.namespace");

	if (!berth_svc_has_selector(svc) || !sns || !pns || strcmp(sns, pns))
		return false;
	json_object_object_foreach(berth_json_path(svc, "spec.selector"), k, v)
	{
		const char *have = berth_json_get_str(labels, k);

		if (!have || strcmp(have, json_object_get_string(v) ?: ""))
			return false;
	}
	return true;
}

bool berth_pod_endpoint(struct json_object *pod)
{
	const char *ip = berth_json_path_str(pod, "status.podIP");

	return ip && *ip && !berth_pod_finished(pod);
}

static const char *proto(struct json_object *port)
{
	return berth_json_get_str(port, "protocol") ?: "TCP";
}

int berth_svc_target_port(struct json_object *sport, struct json_object *pod)
{
	struct json_object *tp = berth_json_path(sport, "targetPort");
	struct json_object *cs = berth_json_path(pod, "spec.containers");
	const char *name;
	size_t i, j;

	if (!tp)
		return (int)berth_json_get_int(sport, "port", -1);
	if (json_object_is_type(tp, json_type_int))
		return json_object_get_int(tp);
	name = json_object_get_string(tp);
	for (i = 0; name && json_object_is_type(cs, json_type_array) &&
		    i < json_object_array_length(cs);
	     i++) {
		struct json_object *ps = berth_json_path(
			json_object_array_get_idx(cs, i), "ports");

		for (j = 0; json_object_is_type(ps, json_type_array) &&
			    j < json_object_array_length(ps);
		     j++) {
			struct json_object *p =
				json_object_array_get_idx(ps, j);
			const char *pn = berth_json_get_str(p, "name");

			if (pn && !strcmp(pn, name) &&
			    !strcmp(proto(p), proto(sport)))
				return (int)berth_json_get_int(
					p, "containerPort", -1);
		}
	}
	return -1;
}

struct json_object *berth_pod_ref(struct json_object *pod)
{
	struct json_object *ref = json_object_new_object();

	berth_json_set_str(ref, "kind", "Pod");
	berth_json_set_str(ref, "namespace",
			   berth_json_path_str(pod, "metadata.namespace"));
	berth_json_set_str(ref, "name",
			   berth_json_path_str(pod, "metadata.name"));
	berth_json_set_str(ref, "uid",
			   berth_json_path_str(pod, "metadata.uid"));
	return ref;
}

const char *berth_pod_hostname(struct json_object *pod, struct json_object *svc)
{
	const char *host = berth_json_path_str(pod, "spec.hostname");
	const char *sub = berth_json_path_str(pod, "spec.subdomain");
	const char *name = berth_json_path_str(svc, "metadata.name");

	return host && sub && name && !strcmp(sub, name) ? host : NULL;
}

struct json_object *berth_svc_endpoint_labels(struct json_object *svc)
{
	struct json_object *l = json_object_new_object();
	struct json_object *have = berth_json_path(svc, "metadata.labels");
	const char *cip = berth_json_path_str(svc, "spec.clusterIP");

	if (json_object_is_type(have, json_type_object)) {
		json_object_object_foreach(have, k, v)
			json_object_object_add(l, k, json_object_get(v));
	}
	if (cip && !strcmp(cip, "None"))
		berth_json_set_str(l, "service.kubernetes.io/headless", "");
	return l;
}

static void enqueue_selecting(struct berth_svc_watch *w,
			      struct json_object *pod)
{
	const char *ns = berth_json_path_str(pod, "metadata.namespace");
	struct json_object *svcs;
	char key[320];
	size_t i;

	if (!ns)
		return;
	svcs = berth_informer_list(w->svcs, "namespace", ns);
	for (i = 0; i < json_object_array_length(svcs); i++) {
		struct json_object *svc = json_object_array_get_idx(svcs, i);

		if (!berth_svc_selects(svc, pod))
			continue;
		berth_obj_key(svc, key, sizeof(key));
		berth_queue_add(w->q, key);
	}
	json_object_put(svcs);
}

static void pod_added(void *ctx, struct json_object *pod)
{
	enqueue_selecting(ctx, pod);
}

static void pod_updated(void *ctx, struct json_object *old,
			struct json_object *pod)
{
	enqueue_selecting(ctx, pod);
	if (!berth_json_equal(berth_json_path(old, "metadata.labels"),
			      berth_json_path(pod, "metadata.labels")))
		enqueue_selecting(ctx, old);
}

void berth_svc_watch_init(struct berth_svc_watch *w, struct berth_ctl *m,
			  struct berth_queue *q)
{
	struct berth_informer_handler h;

	w->q = q;
	w->svcs = berth_ctl_informer(m, berth_res("", "services"));
	w->pods = berth_ctl_informer(m, berth_res("", "pods"));
	berth_enqueue_handler(&h, q);
	berth_informer_add_handler(w->svcs, &h);
	berth_informer_add_handler(w->pods, &(struct berth_informer_handler){
						    .add = pod_added,
						    .update = pod_updated,
						    .del = pod_added,
						    .ctx = w });
}
