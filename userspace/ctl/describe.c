// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl describe: the fields a person looks at first for pods,
 * deployments, services and nodes (other kinds: metadata, then spec and
 * status as YAML), and the object's Events.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"

#define KEY_WIDTH 20 /* the values' column */

static void kv(int indent, const char *key, const char *val)
{
	char k[128];

	snprintf(k, sizeof(k), "%s:", key);
	printf("%*s%-*s%s\n", indent, "", KEY_WIDTH - indent, k,
	       val && *val ? val : "<none>");
}

static void kv_int(int indent, const char *key, long long v)
{
	char b[32];

	snprintf(b, sizeof(b), "%lld", v);
	kv(indent, key, b);
}

/* a map as key=value lines under the value column */
/* kubectl leaves out the copy of the object kubectl apply keeps */
#define LAST_APPLIED "kubectl.kubernetes.io/last-applied-configuration"

static void kv_map(int indent, const char *key, json_object *m)
{
	bool first = true;
	char line[1024];

	if (!json_object_is_type(m, json_type_object)) {
		kv(indent, key, NULL);
		return;
	}
	json_object_object_foreach(m, k, v)
	{
		if (!strcmp(k, LAST_APPLIED))
			continue;
		snprintf(line, sizeof(line), "%s=%s", k,
			 json_object_is_type(v, json_type_string) ?
				 json_object_get_string(v) :
				 json_object_to_json_string(v));
		if (first)
			kv(indent, key, line);
		else
			printf("%*s%s\n", KEY_WIDTH, "", line);
		first = false;
	}
	if (first)
		kv(indent, key, NULL);
}

static void section(int indent, const char *title)
{
	printf("%*s%s:\n", indent, "", title);
}

static void metadata(json_object *o)
{
	kv(0, "Name", ctl_str(o, "metadata.name"));
	if (ctl_str(o, "metadata.namespace"))
		kv(0, "Namespace", ctl_str(o, "metadata.namespace"));
	kv(0, "CreationTimestamp", ctl_str(o, "metadata.creationTimestamp"));
	kv_map(0, "Labels", ctl_get(o, "metadata.labels"));
	kv_map(0, "Annotations", ctl_get(o, "metadata.annotations"));
}

static void controlled_by(json_object *o)
{
	json_object *refs = ctl_get(o, "metadata.ownerReferences");

	for (size_t i = 0; refs && i < json_object_array_length(refs); i++) {
		json_object *r = json_object_array_get_idx(refs, i);
		char b[256];

		if (!json_object_get_boolean(ctl_get(r, "controller")))
			continue;
		snprintf(b, sizeof(b), "%s/%s", ctl_str(r, "kind"),
			 ctl_str(r, "name"));
		kv(0, "Controlled By", b);
	}
}

static void requests(int indent, json_object *ct)
{
	json_object *req = ctl_get(ct, "resources.requests");
	json_object *lim = ctl_get(ct, "resources.limits");

	if (lim && json_object_object_length(lim)) {
		section(indent, "Limits");
		json_object_object_foreach(lim, k, v)
			kv(indent + 2, k, json_object_get_string(v));
	}
	if (req && json_object_object_length(req)) {
		section(indent, "Requests");
		json_object_object_foreach(req, k, v)
			kv(indent + 2, k, json_object_get_string(v));
	}
}

static json_object *status_of(json_object *pod, const char *name)
{
	json_object *ss = ctl_get(pod, "status.containerStatuses");

	for (size_t i = 0; ss && i < json_object_array_length(ss); i++) {
		json_object *s = json_object_array_get_idx(ss, i);
		const char *n = ctl_str(s, "name");

		if (n && !strcmp(n, name))
			return s;
	}
	return NULL;
}

static void container_state(json_object *st)
{
	json_object *state = ctl_get(st, "state");

	if (ctl_get(state, "running")) {
		kv(4, "State", "Running");
		kv(6, "Started", ctl_str(state, "running.startedAt"));
	} else if (ctl_get(state, "waiting")) {
		kv(4, "State", "Waiting");
		kv(6, "Reason", ctl_str(state, "waiting.reason"));
	} else if (ctl_get(state, "terminated")) {
		kv(4, "State", "Terminated");
		kv(6, "Reason", ctl_str(state, "terminated.reason"));
		kv_int(6, "Exit Code",
		       ctl_int(state, "terminated.exitCode", 0));
	} else {
		kv(4, "State", "Waiting");
	}
}

static void containers(json_object *o, const char *path, json_object *pod)
{
	json_object *cs = ctl_get(o, path);

	int base = pod ? 0 : 2; /* a template is one level down */

	section(base, "Containers");
	for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
		json_object *ct = json_object_array_get_idx(cs, i), *ports, *st;
		char b[256] = "";

		printf("%*s%s:\n", base + 2, "", ctl_str(ct, "name"));
		kv(base + 4, "Image", ctl_str(ct, "image"));
		ports = ctl_get(ct, "ports");
		for (size_t j = 0; ports && j < json_object_array_length(ports);
		     j++) {
			json_object *p = json_object_array_get_idx(ports, j);

			snprintf(b + strlen(b), sizeof(b) - strlen(b),
				 "%s%lld/%s", j ? ", " : "",
				 ctl_int(p, "containerPort", 0),
				 ctl_str(p, "protocol") ?: "TCP");
		}
		kv(base + 4, "Port", b);
		st = pod ? status_of(pod, ctl_str(ct, "name")) : NULL;
		if (pod) {
			container_state(st);
			kv(4, "Ready",
			   json_object_get_boolean(ctl_get(st, "ready")) ?
				   "True" :
				   "False");
			kv_int(4, "Restart Count",
			       ctl_int(st, "restartCount", 0));
		}
		requests(base + 4, ct);
	}
}

static void conditions(json_object *o)
{
	json_object *conds = ctl_get(o, "status.conditions");
	size_t n = conds ? json_object_array_length(conds) : 0;
	bool reasons = false; /* a Reason column only if one has a reason */
	struct ctl_table *t;

	for (size_t i = 0; i < n; i++)
		reasons |= !!ctl_str(json_object_array_get_idx(conds, i),
				     "reason");
	t = ctl_table_new(reasons ? 3 : 2);
	section(0, "Conditions");
	ctl_table_add(t, (const char *const[]){ "  Type", "Status", "Reason" });
	ctl_table_add(t, (const char *const[]){ "  ----", "------", "------" });
	for (size_t i = 0; i < n; i++) {
		json_object *cd = json_object_array_get_idx(conds, i);
		char type[128];

		snprintf(type, sizeof(type), "  %s", ctl_str(cd, "type") ?: "");
		ctl_table_add(t, (const char *const[]){
					 type, ctl_str(cd, "status"),
					 ctl_str(cd, "reason") ?: "" });
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
}

static void describe_pod(json_object *o)
{
	metadata(o);
	kv(0, "Service Account", ctl_str(o, "spec.serviceAccountName"));
	kv(0, "Node", ctl_str(o, "spec.nodeName"));
	kv(0, "Start Time", ctl_str(o, "status.startTime"));
	kv(0, "Status", ctl_str(o, "status.phase"));
	kv(0, "IP", ctl_str(o, "status.podIP"));
	controlled_by(o);
	containers(o, "spec.containers", o);
	conditions(o);
}

static void describe_deployment(json_object *o)
{
	char b[256];
	json_object *ml = ctl_get(o, "spec.selector.matchLabels");

	metadata(o);
	b[0] = 0;
	if (ml) {
		json_object_object_foreach(ml, k, v)
			snprintf(b + strlen(b), sizeof(b) - strlen(b),
				 "%s%s=%s", b[0] ? "," : "", k,
				 json_object_get_string(v));
	}
	kv(0, "Selector", b);
	snprintf(
		b, sizeof(b),
		"%lld desired | %lld updated | %lld total | %lld available | %lld unavailable",
		ctl_int(o, "spec.replicas", 1),
		ctl_int(o, "status.updatedReplicas", 0),
		ctl_int(o, "status.replicas", 0),
		ctl_int(o, "status.availableReplicas", 0),
		ctl_int(o, "status.unavailableReplicas", 0));
	kv(0, "Replicas", b);
	kv(0, "StrategyType",
	   ctl_str(o, "spec.strategy.type") ?: "RollingUpdate");
	section(0, "Pod Template");
	kv_map(2, "Labels", ctl_get(o, "spec.template.metadata.labels"));
	containers(o, "spec.template.spec.containers", NULL);
	conditions(o);
}

static void describe_service(json_object *o)
{
	json_object *ports = ctl_get(o, "spec.ports");
	char b[256];

	metadata(o);
	kv_map(0, "Selector", ctl_get(o, "spec.selector"));
	kv(0, "Type", ctl_str(o, "spec.type") ?: "ClusterIP");
	kv(0, "IP", ctl_str(o, "spec.clusterIP"));
	for (size_t i = 0; ports && i < json_object_array_length(ports); i++) {
		json_object *p = json_object_array_get_idx(ports, i);
		json_object *tp = ctl_get(p, "targetPort");

		snprintf(b, sizeof(b), "%s  %lld/%s",
			 ctl_str(p, "name") ?: "<unset>", ctl_int(p, "port", 0),
			 ctl_str(p, "protocol") ?: "TCP");
		kv(0, "Port", b);
		snprintf(b, sizeof(b), "%s/%s",
			 tp ? json_object_get_string(tp) : "",
			 ctl_str(p, "protocol") ?: "TCP");
		kv(0, "TargetPort", b);
		if (ctl_int(p, "nodePort", 0)) {
			snprintf(b, sizeof(b), "%lld/%s",
				 ctl_int(p, "nodePort", 0),
				 ctl_str(p, "protocol") ?: "TCP");
			kv(0, "NodePort", b);
		}
	}
	kv(0, "Session Affinity", ctl_str(o, "spec.sessionAffinity") ?: "None");
}

static void quantities(const char *title, json_object *m)
{
	section(0, title);
	if (m) {
		json_object_object_foreach(m, k, v)
			kv(2, k, json_object_get_string(v));
	}
}

static void describe_node(struct ctl *c, json_object *o)
{
	json_object *addrs = ctl_get(o, "status.addresses");
	json_object *taints = ctl_get(o, "spec.taints"), *pods;
	char path[512], b[512] = "";

	metadata(o);
	for (size_t i = 0; taints && i < json_object_array_length(taints);
	     i++) {
		json_object *t = json_object_array_get_idx(taints, i);

		snprintf(b + strlen(b), sizeof(b) - strlen(b), "%s%s%s%s:%s",
			 i ? ", " : "", ctl_str(t, "key") ?: "",
			 ctl_str(t, "value") ? "=" : "",
			 ctl_str(t, "value") ?: "", ctl_str(t, "effect") ?: "");
	}
	kv(0, "Taints", b);
	kv(0, "Unschedulable",
	   json_object_get_boolean(ctl_get(o, "spec.unschedulable")) ? "true" :
								       "false");
	conditions(o);
	section(0, "Addresses");
	for (size_t i = 0; addrs && i < json_object_array_length(addrs); i++) {
		json_object *a = json_object_array_get_idx(addrs, i);

		kv(2, ctl_str(a, "type") ?: "?", ctl_str(a, "address"));
	}
	quantities("Capacity", ctl_get(o, "status.capacity"));
	quantities("Allocatable", ctl_get(o, "status.allocatable"));
	kv(0, "PodCIDR", ctl_str(o, "spec.podCIDR"));
	snprintf(path, sizeof(path),
		 "/api/v1/pods?fieldSelector=spec.nodeName%%3D%s",
		 ctl_str(o, "metadata.name"));
	pods = ctl_fetch(c, path);
	if (pods) {
		json_object *items = ctl_get(pods, "items");

		kv_int(0, "Pods", items ? json_object_array_length(items) : 0);
		for (size_t i = 0; items && i < json_object_array_length(items);
		     i++) {
			json_object *p = json_object_array_get_idx(items, i);

			printf("%*s%s/%s\n", KEY_WIDTH, "",
			       ctl_str(p, "metadata.namespace"),
			       ctl_str(p, "metadata.name"));
		}
		json_object_put(pods);
	}
}

static void describe_other(json_object *o)
{
	json_object *part = json_object_new_object();

	metadata(o);
	if (ctl_get(o, "spec"))
		json_object_object_add(part, "Spec",
				       json_object_get(ctl_get(o, "spec")));
	if (ctl_get(o, "status"))
		json_object_object_add(part, "Status",
				       json_object_get(ctl_get(o, "status")));
	if (ctl_get(o, "data"))
		json_object_object_add(part, "Data",
				       json_object_get(ctl_get(o, "data")));
	if (json_object_object_length(part))
		ctl_print_yaml(part, stdout);
	json_object_put(part);
}

static const char *event_time(json_object *e)
{
	return ctl_str(e, "lastTimestamp")			?:
		       ctl_str(e, "eventTime")			?:
		       ctl_str(e, "metadata.creationTimestamp") ?:
								  "";
}

/* oldest first, as kubectl lists them */
static int cmp_event(const void *a, const void *b)
{
	json_object *x = *(json_object *const *)a,
		    *y = *(json_object *const *)b;
	long tx = 0, ty = 0;

	berth_kube_parse_time(event_time(x), &tx);
	berth_kube_parse_time(event_time(y), &ty);
	return (tx > ty) - (tx < ty);
}

static void events(struct ctl *c, const struct ctl_res *r, json_object *o)
{
	char path[2048], sel[512], esc[1024];
	const char *ns = ctl_str(o, "metadata.namespace");
	json_object *list, *items;
	struct ctl_table *t;
	size_t n;

	/* the uid too: not the events of an earlier object of that name */
	snprintf(
		sel, sizeof(sel),
		"involvedObject.name=%s,involvedObject.kind=%s,involvedObject.uid=%s",
		ctl_str(o, "metadata.name"), r->kind,
		ctl_str(o, "metadata.uid") ?: "");
	if (berth_kube_escape(sel, esc, sizeof(esc)))
		return;
	if (ns)
		snprintf(path, sizeof(path),
			 "/api/v1/namespaces/%s/events?fieldSelector=%s", ns,
			 esc);
	else
		snprintf(path, sizeof(path), "/api/v1/events?fieldSelector=%s",
			 esc);
	list = ctl_fetch(c, path);
	items = ctl_get(list, "items");
	n = items ? json_object_array_length(items) : 0;
	if (!n) {
		printf("Events:%*s<none>\n", KEY_WIDTH - 7, "");
		json_object_put(list);
		return;
	}
	printf("Events:\n");
	json_object_array_sort(items, cmp_event);
	t = ctl_table_new(5);
	ctl_table_add(t, (const char *const[]){ "  Type", "Reason", "Age",
						"From", "Message" });
	ctl_table_add(t, (const char *const[]){ "  ----", "------", "----",
						"----", "-------" });
	for (size_t i = 0; i < n; i++) {
		json_object *e = json_object_array_get_idx(items, i);
		const char *ts = event_time(e);
		char type[64], age[32];

		snprintf(type, sizeof(type), "  %s", ctl_str(e, "type") ?: "");
		ctl_age(ts, age, sizeof(age));
		ctl_table_add(t,
			      (const char *const[]){
				      type, ctl_str(e, "reason"), age,
				      ctl_str(e, "source.component") ?:
					      ctl_str(e, "reportingComponent"),
				      ctl_str(e, "message") });
	}
	ctl_table_print(t, stdout);
	ctl_table_free(t);
	json_object_put(list);
}

int cmd_describe(struct ctl *c)
{
	char path[2048];
	const char *name;
	struct ctl_res r;
	json_object *o;
	int ret;

	ret = ctl_kind_name(c, "describe", &r, &name);
	if (ret)
		return ret;
	ctl_path(path, sizeof(path), &r, ctl_ns(c), name, NULL);
	o = ctl_fetch(c, path);
	if (!o)
		return CTL_ERR;
	if (!strcmp(r.kind, "Pod"))
		describe_pod(o);
	else if (!strcmp(r.kind, "Deployment"))
		describe_deployment(o);
	else if (!strcmp(r.kind, "Service"))
		describe_service(o);
	else if (!strcmp(r.kind, "Node"))
		describe_node(c, o);
	else
		describe_other(o);
	events(c, &r, o);
	json_object_put(o);
	return CTL_OK;
}
