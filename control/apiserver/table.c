// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Server-side printing: per-kind Table columns and their cells. */
#define _GNU_SOURCE /* strptime, timegm */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "csr.h"
#include "jsonutil.h"
#include "selector.h"
#include "table.h"

struct column {
	const char *name;
	const char *type; /* string, integer, date */
	int priority; /* 1: -o wide only */
	const char *description;
};

/* Columns many kinds share. The descriptions are berth's own words. */
#define COL(name, type, wide, desc)    \
	{                              \
		name, type, wide, desc \
	}
#define COL_NAME COL("Name", "string", 0, "The object's name.")
#define COL_AGE COL("Age", "string", 0, "Time since the object was created.")
#define COL_CONTAINERS \
	COL("Containers", "string", 1, "Container names of the pod template.")
#define COL_IMAGES COL("Images", "string", 1, "Images of the pod template.")
#define COL_SELECTOR \
	COL("Selector", "string", 1, "The label selector of the pods.")
#define COL_END COL(NULL, NULL, 0, NULL)

static const struct column pod_cols[] = {
	COL_NAME,
	COL("Ready", "string", 0, "Ready containers out of all."),
	COL("Status", "string", 0, "The pod's phase or its containers' state."),
	COL("Restarts", "string", 0,
	    "Container restarts, and how long ago the last one was."),
	COL_AGE,
	COL("IP", "string", 1, "The pod's address."),
	COL("Node", "string", 1, "The node the pod is bound to."),
	COL("Nominated Node", "string", 1, "The node picked for preemption."),
	COL("Readiness Gates", "string", 1, "Readiness gates met out of all."),
	COL_END
};

static const struct column svc_cols[] = {
	COL_NAME,
	COL("Type", "string", 0, "ClusterIP, NodePort, LoadBalancer..."),
	COL("Cluster-IP", "string", 0, "The virtual address."),
	COL("External-IP", "string", 0, "Addresses outside the cluster."),
	COL("Port(s)", "string", 0, "Ports, with node ports, and protocols."),
	COL_AGE,
	COL_SELECTOR,
	COL_END
};

static const struct column deploy_cols[] = {
	COL_NAME,
	COL("Ready", "string", 0, "Ready replicas out of desired."),
	COL("Up-to-date", "integer", 0, "Replicas with the current template."),
	COL("Available", "integer", 0, "Replicas available to serve."),
	COL_AGE,
	COL_CONTAINERS,
	COL_IMAGES,
	COL_SELECTOR,
	COL_END
};

static const struct column rs_cols[] = {
	COL_NAME,
	COL("Desired", "integer", 0, "Replicas wanted."),
	COL("Current", "integer", 0, "Replicas that exist."),
	COL("Ready", "integer", 0, "Replicas that are ready."),
	COL_AGE,
	COL_CONTAINERS,
	COL_IMAGES,
	COL_SELECTOR,
	COL_END
};

static const struct column sts_cols[] = {
	COL_NAME,   COL("Ready", "string", 0, "Ready replicas out of desired."),
	COL_AGE,    COL_CONTAINERS,
	COL_IMAGES, COL_END
};

static const struct column ds_cols[] = {
	COL_NAME,
	COL("Desired", "integer", 0, "Nodes that should run the pod."),
	COL("Current", "integer", 0, "Nodes running the pod."),
	COL("Ready", "integer", 0, "Nodes where the pod is ready."),
	COL("Up-to-date", "integer", 0, "Nodes running the current template."),
	COL("Available", "integer", 0, "Nodes where the pod is available."),
	COL("Node Selector", "string", 0,
	    "Labels a node needs to get the pod."),
	COL_AGE,
	COL_CONTAINERS,
	COL_IMAGES,
	COL_SELECTOR,
	COL_END
};

static const struct column job_cols[] = {
	COL_NAME,
	COL("Status", "string", 0, "Running, Complete or Failed."),
	COL("Completions", "string", 0, "Succeeded pods out of wanted."),
	COL("Duration", "string", 0, "How long the job ran."),
	COL_AGE,
	COL_CONTAINERS,
	COL_IMAGES,
	COL_SELECTOR,
	COL_END
};

static const struct column node_cols[] = {
	COL_NAME,
	COL("Status", "string", 0, "Ready or not, and schedulable or not."),
	COL("Roles", "string", 0, "Roles from the node's role labels."),
	COL_AGE,
	COL("Version", "string", 0, "The node agent's version."),
	COL("Internal-IP", "string", 1, "The node's internal address."),
	COL("External-IP", "string", 1, "The node's external address."),
	COL("OS-Image", "string", 1, "The node's operating system."),
	COL("Kernel-Version", "string", 1, "The node's kernel."),
	COL("Container-Runtime", "string", 1, "The node's container runtime."),
	COL_END
};

static const struct column ns_cols[] = {
	COL_NAME, COL("Status", "string", 0, "Active or Terminating."), COL_AGE,
	COL_END
};

static const struct column cm_cols[] = {
	COL_NAME, COL("Data", "integer", 0, "Number of keys."), COL_AGE, COL_END
};

static const struct column secret_cols[] = {
	COL_NAME, COL("Type", "string", 0, "The secret's type."),
	COL("Data", "integer", 0, "Number of keys."), COL_AGE, COL_END
};

static const struct column sa_cols[] = {
	COL_NAME, COL("Secrets", "integer", 0, "Number of secrets listed."),
	COL_AGE, COL_END
};

static const struct column ep_cols[] = {
	COL_NAME,
	COL("Endpoints", "string", 0, "Addresses and ports, the first few."),
	COL_AGE, COL_END
};

static const struct column slice_cols[] = {
	COL_NAME,
	COL("AddressType", "string", 0, "The type of the addresses."),
	COL("Ports", "string", 0, "Ports, the first few."),
	COL("Endpoints", "string", 0, "Addresses, the first few."),
	COL_AGE,
	COL_END
};

static const struct column event_cols[] = {
	COL("Last Seen", "string", 0, "Time since the event last happened."),
	COL("Type", "string", 0, "Normal or Warning."),
	COL("Reason", "string", 0, "Why, in one word."),
	COL("Object", "string", 0, "What the event is about."),
	COL("Message", "string", 0, "What happened."),
	COL_END
};

static const struct column lease_cols[] = {
	COL_NAME, COL("Holder", "string", 0, "Who holds the lease."), COL_AGE,
	COL_END
};

static const struct column csr_cols[] = {
	COL_NAME, COL_AGE,
	COL("SignerName", "string", 0, "Who is asked to sign."),
	COL("Requestor", "string", 0, "The user who asked."),
	COL("Condition", "string", 0, "Pending, Approved, Denied, Issued..."),
	COL_END
};

static const struct column default_cols[] = { COL_NAME, COL_AGE, COL_END };

struct kind_table {
	const char *kind;
	const struct column *cols;
};

static const struct kind_table kind_tables[] = {
	{ "Pod", pod_cols },	       { "Service", svc_cols },
	{ "Deployment", deploy_cols }, { "ReplicaSet", rs_cols },
	{ "StatefulSet", sts_cols },   { "DaemonSet", ds_cols },
	{ "Job", job_cols },	       { "Node", node_cols },
	{ "Namespace", ns_cols },      { "ConfigMap", cm_cols },
	{ "Secret", secret_cols },     { "ServiceAccount", sa_cols },
	{ "Endpoints", ep_cols },      { "Event", event_cols },
	{ "Lease", lease_cols },       { "EndpointSlice", slice_cols },
	{ "CertificateSigningRequest", csr_cols },
};

static const struct column *columns(const struct berth_resource *r)
{
	size_t i;

	for (i = 0; i < sizeof(kind_tables) / sizeof(kind_tables[0]); i++)
		if (!strcmp(kind_tables[i].kind, r->kind))
			return kind_tables[i].cols;
	return default_cols;
}

struct json_object *berth_table_new(const struct berth_resource *r)
{
	struct json_object *t = json_object_new_object(), *defs;
	const struct column *c;

	berth_json_set_str(t, "kind", "Table");
	berth_json_set_str(t, "apiVersion", "meta.k8s.io/v1");
	json_object_object_add(t, "metadata", json_object_new_object());
	defs = json_object_new_array();
	for (c = columns(r); c->name; c++) {
		struct json_object *d = json_object_new_object();

		berth_json_set_str(d, "name", c->name);
		berth_json_set_str(d, "type", c->type);
		berth_json_set_str(d, "format",
				   c == columns(r) && !strcmp(c->name, "Name") ?
					   "name" :
					   "");
		berth_json_set_str(d, "description", c->description);
		berth_json_set_int(d, "priority", c->priority);
		json_object_array_add(defs, d);
	}
	json_object_object_add(t, "columnDefinitions", defs);
	json_object_object_add(t, "rows", json_object_new_array());
	return t;
}

void berth_human_duration(time_t s, char *buf, size_t size)
{
	long long m, h, d;

	if (s < -1) {
		snprintf(buf, size, "<invalid>");
		return;
	}
	if (s < 0)
		s = 0;
	if (s < 120) {
		snprintf(buf, size, "%llds", (long long)s);
		return;
	}
	m = s / 60;
	if (m < 10) {
		if (s % 60)
			snprintf(buf, size, "%lldm%llds", m, (long long)s % 60);
		else
			snprintf(buf, size, "%lldm", m);
		return;
	}
	if (m < 180) {
		snprintf(buf, size, "%lldm", m);
		return;
	}
	h = s / 3600;
	if (h < 8) {
		if (m % 60)
			snprintf(buf, size, "%lldh%lldm", h, m % 60);
		else
			snprintf(buf, size, "%lldh", h);
		return;
	}
	if (h < 48) {
		snprintf(buf, size, "%lldh", h);
		return;
	}
	d = h / 24;
	if (h < 24 * 8) {
		if (h % 24)
			snprintf(buf, size, "%lldd%lldh", d, h % 24);
		else
			snprintf(buf, size, "%lldd", d);
		return;
	}
	if (d < 365 * 2) {
		snprintf(buf, size, "%lldd", d);
		return;
	}
	if (d < 365 * 8) {
		if (d % 365)
			snprintf(buf, size, "%lldy%lldd", d / 365, d % 365);
		else
			snprintf(buf, size, "%lldy", d / 365);
		return;
	}
	snprintf(buf, size, "%lldy", d / 365);
}

static time_t parse_time(const char *s)
{
	struct tm tm = { 0 };

	if (!s || !strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

static void age_since(const char *ts, char *buf, size_t size)
{
	time_t t = parse_time(ts);

	if (!t) {
		snprintf(buf, size, "<unknown>");
		return;
	}
	berth_human_duration(time(NULL) - t, buf, size);
}

static void add_str(struct json_object *cells, const char *s)
{
	json_object_array_add(cells,
			      json_object_new_string(s && *s ? s : "<none>"));
}

static void add_int(struct json_object *cells, int64_t v)
{
	json_object_array_add(cells, json_object_new_int64(v));
}

static void add_age(struct json_object *cells, struct json_object *obj)
{
	char buf[32];

	age_since(berth_json_path_str(obj, "metadata.creationTimestamp"), buf,
		  sizeof(buf));
	json_object_array_add(cells, json_object_new_string(buf));
}

static size_t alen(struct json_object *a)
{
	return json_object_is_type(a, json_type_array) ?
		       json_object_array_length(a) :
		       0;
}

/* Join field key of each element of array a with ",". */
static void join_field(struct json_object *a, const char *key, char *buf,
		       size_t size)
{
	size_t i, off = 0, n = alen(a);

	buf[0] = 0;
	for (i = 0; i < n && off < size; i++) {
		const char *s = berth_json_get_str(
			json_object_array_get_idx(a, i), key);

		off += snprintf(buf + off, size - off, "%s%s", i ? "," : "",
				s ? s : "");
	}
}

static void pod_status(struct json_object *pod, char *buf, size_t size)
{
	const char *reason = berth_json_path_str(pod, "status.reason");
	struct json_object *cs =
		berth_json_path(pod, "status.containerStatuses");
	size_t i, n = alen(cs);

	if (!reason)
		reason = berth_json_path_str(pod, "status.phase");
	if (!reason)
		reason = "Pending";
	snprintf(buf, size, "%s", reason);
	for (i = n; i-- > 0;) {
		struct json_object *c = json_object_array_get_idx(cs, i);
		const char *w = berth_json_path_str(c, "state.waiting.reason");
		const char *t =
			berth_json_path_str(c, "state.terminated.reason");

		if (w && *w)
			snprintf(buf, size, "%s", w);
		else if (t && *t)
			snprintf(buf, size, "%s", t);
	}
	if (berth_json_path(pod, "metadata.deletionTimestamp"))
		snprintf(buf, size, "Terminating");
}

static void pod_cells(struct json_object *cells, struct json_object *pod)
{
	struct json_object *cs =
		berth_json_path(pod, "status.containerStatuses");
	size_t i, n = alen(cs), ready = 0;
	int64_t restarts = 0;
	char buf[128];

	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cs, i);
		struct json_object *r = berth_json_path(c, "ready");

		if (json_object_get_boolean(r))
			ready++;
		restarts += berth_json_get_int(c, "restartCount", 0);
	}
	snprintf(buf, sizeof(buf), "%zu/%zu", ready,
		 alen(berth_json_path(pod, "spec.containers")));
	add_str(cells, buf);
	pod_status(pod, buf, sizeof(buf));
	add_str(cells, buf);
	snprintf(buf, sizeof(buf), "%lld", (long long)restarts);
	add_str(cells, buf);
	add_age(cells, pod);
	add_str(cells, berth_json_path_str(pod, "status.podIP"));
	add_str(cells, berth_json_path_str(pod, "spec.nodeName"));
	add_str(cells, berth_json_path_str(pod, "status.nominatedNodeName"));
	add_str(cells, NULL);
}

static void svc_cells(struct json_object *cells, struct json_object *svc)
{
	struct json_object *spec = berth_json_path(svc, "spec");
	const char *type = berth_json_get_str(spec, "type");
	struct json_object *ports = berth_json_path(spec, "ports");
	struct json_object *sel = berth_json_path(spec, "selector");
	char buf[512];
	size_t i, off = 0;

	add_str(cells, type ? type : "ClusterIP");
	add_str(cells, berth_json_get_str(spec, "clusterIP"));
	if (type && !strcmp(type, "ExternalName")) {
		add_str(cells, berth_json_get_str(spec, "externalName"));
	} else if (type && !strcmp(type, "LoadBalancer")) {
		join_field(berth_json_path(svc, "status.loadBalancer.ingress"),
			   "ip", buf, sizeof(buf));
		add_str(cells, *buf ? buf : "<pending>");
	} else {
		add_str(cells, NULL);
	}
	buf[0] = 0;
	for (i = 0; i < alen(ports) && off < sizeof(buf); i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);
		int64_t np = berth_json_get_int(p, "nodePort", 0);
		const char *proto = berth_json_get_str(p, "protocol");

		off += snprintf(buf + off, sizeof(buf) - off, "%s%lld",
				i ? "," : "",
				(long long)berth_json_get_int(p, "port", 0));
		if (np && off < sizeof(buf))
			off += snprintf(buf + off, sizeof(buf) - off, ":%lld",
					(long long)np);
		if (off < sizeof(buf))
			off += snprintf(buf + off, sizeof(buf) - off, "/%s",
					proto ? proto : "TCP");
	}
	add_str(cells, buf);
	add_age(cells, svc);
	buf[0] = 0;
	off = 0;
	if (json_object_is_type(sel, json_type_object)) {
		json_object_object_foreach(sel, k, v)
		{
			if (off < sizeof(buf))
				off += snprintf(buf + off, sizeof(buf) - off,
						"%s%s=%s", off ? "," : "", k,
						json_object_get_string(v));
		}
	}
	add_str(cells, buf);
}

static void template_cells(struct json_object *cells, struct json_object *obj,
			   bool selector)
{
	struct json_object *cs =
		berth_json_path(obj, "spec.template.spec.containers");
	char buf[512];

	join_field(cs, "name", buf, sizeof(buf));
	add_str(cells, buf);
	join_field(cs, "image", buf, sizeof(buf));
	add_str(cells, buf);
	if (!selector)
		return;
	berth_labelselector_string(berth_json_path(obj, "spec.selector"), buf,
				   sizeof(buf));
	add_str(cells, buf);
}

static int64_t st(struct json_object *obj, const char *key)
{
	return berth_json_get_int(berth_json_path(obj, "status"), key, 0);
}

static void workload_cells(struct json_object *cells, const char *kind,
			   struct json_object *obj)
{
	int64_t replicas =
		berth_json_get_int(berth_json_path(obj, "spec"), "replicas", 1);
	char buf[256];

	if (!strcmp(kind, "Deployment")) {
		snprintf(buf, sizeof(buf), "%lld/%lld",
			 (long long)st(obj, "readyReplicas"),
			 (long long)replicas);
		add_str(cells, buf);
		add_int(cells, st(obj, "updatedReplicas"));
		add_int(cells, st(obj, "availableReplicas"));
		add_age(cells, obj);
		template_cells(cells, obj, true);
	} else if (!strcmp(kind, "ReplicaSet")) {
		add_int(cells, replicas);
		add_int(cells, st(obj, "replicas"));
		add_int(cells, st(obj, "readyReplicas"));
		add_age(cells, obj);
		template_cells(cells, obj, true);
	} else if (!strcmp(kind, "StatefulSet")) {
		snprintf(buf, sizeof(buf), "%lld/%lld",
			 (long long)st(obj, "readyReplicas"),
			 (long long)replicas);
		add_str(cells, buf);
		add_age(cells, obj);
		template_cells(cells, obj, false);
	} else if (!strcmp(kind, "DaemonSet")) {
		struct json_object *ns =
			berth_json_path(obj, "spec.template.spec.nodeSelector");
		size_t off = 0;

		add_int(cells, st(obj, "desiredNumberScheduled"));
		add_int(cells, st(obj, "currentNumberScheduled"));
		add_int(cells, st(obj, "numberReady"));
		add_int(cells, st(obj, "updatedNumberScheduled"));
		add_int(cells, st(obj, "numberAvailable"));
		buf[0] = 0;
		if (json_object_is_type(ns, json_type_object)) {
			json_object_object_foreach(ns, k, v)
			{
				if (off < sizeof(buf))
					off += snprintf(
						buf + off, sizeof(buf) - off,
						"%s%s=%s", off ? "," : "", k,
						json_object_get_string(v));
			}
		}
		add_str(cells, buf);
		add_age(cells, obj);
		template_cells(cells, obj, true);
	}
}

static bool has_condition(struct json_object *obj, const char *type)
{
	struct json_object *conds = berth_json_path(obj, "status.conditions");
	size_t i;

	for (i = 0; i < alen(conds); i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *t = berth_json_get_str(c, "type");
		const char *s = berth_json_get_str(c, "status");

		if (t && s && !strcmp(t, type) && !strcmp(s, "True"))
			return true;
	}
	return false;
}

static void job_cells(struct json_object *cells, struct json_object *job)
{
	time_t start = parse_time(berth_json_path_str(job, "status.startTime"));
	time_t end =
		parse_time(berth_json_path_str(job, "status.completionTime"));
	char buf[64];

	if (has_condition(job, "Complete"))
		add_str(cells, "Complete");
	else if (has_condition(job, "Failed"))
		add_str(cells, "Failed");
	else if (has_condition(job, "Suspended"))
		add_str(cells, "Suspended");
	else
		add_str(cells, "Running");
	snprintf(buf, sizeof(buf), "%lld/%lld", (long long)st(job, "succeeded"),
		 (long long)berth_json_get_int(berth_json_path(job, "spec"),
					       "completions", 1));
	add_str(cells, buf);
	if (start) {
		berth_human_duration((end ? end : time(NULL)) - start, buf,
				     sizeof(buf));
		add_str(cells, buf);
	} else {
		add_str(cells, "");
	}
	add_age(cells, job);
	template_cells(cells, job, true);
}

static void node_cells(struct json_object *cells, struct json_object *node)
{
	struct json_object *conds = berth_json_path(node, "status.conditions");
	struct json_object *labels = berth_json_path(node, "metadata.labels");
	struct json_object *addrs = berth_json_path(node, "status.addresses");
	const char *status = "Unknown";
	char buf[256], ext[256] = "", in[256] = "";
	size_t i, off = 0;

	for (i = 0; i < alen(conds); i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *t = berth_json_get_str(c, "type");
		const char *s = berth_json_get_str(c, "status");

		/* as kubectl: Unknown only without a Ready condition */
		if (t && s && !strcmp(t, "Ready"))
			status = !strcmp(s, "True") ? "Ready" : "NotReady";
	}
	snprintf(buf, sizeof(buf), "%s%s", status,
		 json_object_get_boolean(
			 berth_json_path(node, "spec.unschedulable")) ?
			 ",SchedulingDisabled" :
			 "");
	add_str(cells, buf);
	buf[0] = 0;
	if (json_object_is_type(labels, json_type_object)) {
		json_object_object_foreach(labels, k, v)
		{
			(void)v;
			if (!strncmp(k, "node-role.kubernetes.io/", 24) &&
			    off < sizeof(buf))
				off += snprintf(buf + off, sizeof(buf) - off,
						"%s%s", off ? "," : "", k + 24);
		}
	}
	add_str(cells, buf);
	add_age(cells, node);
	add_str(cells,
		berth_json_path_str(node, "status.nodeInfo.kubeletVersion"));
	for (i = 0; i < alen(addrs); i++) {
		struct json_object *a = json_object_array_get_idx(addrs, i);
		const char *t = berth_json_get_str(a, "type");
		const char *ip = berth_json_get_str(a, "address");

		if (t && ip && !strcmp(t, "InternalIP") && !*in)
			snprintf(in, sizeof(in), "%s", ip);
		if (t && ip && !strcmp(t, "ExternalIP") && !*ext)
			snprintf(ext, sizeof(ext), "%s", ip);
	}
	add_str(cells, in);
	add_str(cells, ext);
	add_str(cells, berth_json_path_str(node, "status.nodeInfo.osImage"));
	add_str(cells,
		berth_json_path_str(node, "status.nodeInfo.kernelVersion"));
	add_str(cells,
		berth_json_path_str(node,
				    "status.nodeInfo.containerRuntimeVersion"));
}

static size_t map_len(struct json_object *m)
{
	return json_object_is_type(m, json_type_object) ?
		       json_object_object_length(m) :
		       0;
}

static void endpoints_cells(struct json_object *cells, struct json_object *ep)
{
	struct json_object *subsets = berth_json_path(ep, "subsets");
	char buf[512];
	size_t i, j, k, off = 0;

	buf[0] = 0;
	for (i = 0; i < alen(subsets); i++) {
		struct json_object *s = json_object_array_get_idx(subsets, i);
		struct json_object *addrs = berth_json_path(s, "addresses");
		struct json_object *ports = berth_json_path(s, "ports");

		for (j = 0; j < alen(addrs); j++) {
			const char *ip = berth_json_get_str(
				json_object_array_get_idx(addrs, j), "ip");

			for (k = 0; k < (alen(ports) ? alen(ports) : 1) &&
				    off < sizeof(buf);
			     k++) {
				int64_t port =
					alen(ports) ?
						berth_json_get_int(
							json_object_array_get_idx(
								ports, k),
							"port", 0) :
						0;

				if (port)
					off += snprintf(
						buf + off, sizeof(buf) - off,
						"%s%s:%lld", off ? "," : "",
						ip ? ip : "", (long long)port);
				else
					off += snprintf(buf + off,
							sizeof(buf) - off,
							"%s%s", off ? "," : "",
							ip ? ip : "");
			}
		}
	}
	add_str(cells, buf);
}

/* kubectl's list of at most 3: "a,b,c + 2 more...", "<unset>" if empty. */
struct few {
	char buf[256];
	size_t off, count;
};

static void few_add(struct few *f, const char *s)
{
	if (f->count++ < 3 && f->off < sizeof(f->buf))
		f->off += snprintf(f->buf + f->off, sizeof(f->buf) - f->off,
				   "%s%s", f->off ? "," : "", s);
}

static void few_cell(struct json_object *cells, struct few *f)
{
	if (f->count > 3 && f->off < sizeof(f->buf))
		snprintf(f->buf + f->off, sizeof(f->buf) - f->off,
			 " + %zu more...", f->count - 3);
	add_str(cells, f->count ? f->buf : "<unset>");
}

static void slice_cells(struct json_object *cells, struct json_object *sl)
{
	struct json_object *ports = berth_json_path(sl, "ports");
	struct json_object *eps = berth_json_path(sl, "endpoints");
	struct few p = { 0 }, e = { 0 };
	char num[16];
	size_t i, j;

	add_str(cells, berth_json_path_str(sl, "addressType"));
	for (i = 0; i < alen(ports); i++) {
		struct json_object *o = json_object_array_get_idx(ports, i);
		const char *name = berth_json_get_str(o, "name");

		snprintf(num, sizeof(num), "%lld",
			 (long long)berth_json_get_int(o, "port", 0));
		if (berth_json_get_int(o, "port", 0))
			few_add(&p, num);
		else
			few_add(&p, name && *name ? name : "*");
	}
	few_cell(cells, &p);
	for (i = 0; i < alen(eps); i++) {
		struct json_object *a = berth_json_path(
			json_object_array_get_idx(eps, i), "addresses");

		for (j = 0; j < alen(a); j++)
			few_add(&e, json_object_get_string(
					    json_object_array_get_idx(a, j)));
	}
	few_cell(cells, &e);
}

static void event_cells(struct json_object *cells, struct json_object *ev)
{
	const char *last = berth_json_path_str(ev, "lastTimestamp");
	char buf[256];

	if (!last)
		last = berth_json_path_str(ev, "eventTime");
	if (!last)
		last = berth_json_path_str(ev, "metadata.creationTimestamp");
	age_since(last, buf, sizeof(buf));
	add_str(cells, buf);
	add_str(cells, berth_json_path_str(ev, "type"));
	add_str(cells, berth_json_path_str(ev, "reason"));
	snprintf(buf, sizeof(buf), "%s/%s",
		 berth_json_path_str(ev, "involvedObject.kind") ?: "",
		 berth_json_path_str(ev, "involvedObject.name") ?: "");
	{
		char *p;

		for (p = buf; *p && *p != '/'; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	add_str(cells, buf);
	add_str(cells, berth_json_path_str(ev, "message"));
}

static void kind_cells(struct json_object *cells,
		       const struct berth_resource *r, struct json_object *obj)
{
	const char *k = r->kind;
	char buf[64];

	if (!strcmp(k, "Event")) {
		event_cells(cells, obj);
		return;
	}
	add_str(cells, berth_json_path_str(obj, "metadata.name"));
	if (!strcmp(k, "Pod")) {
		pod_cells(cells, obj);
	} else if (!strcmp(k, "Service")) {
		svc_cells(cells, obj);
	} else if (!strcmp(k, "Deployment") || !strcmp(k, "ReplicaSet") ||
		   !strcmp(k, "StatefulSet") || !strcmp(k, "DaemonSet")) {
		workload_cells(cells, k, obj);
	} else if (!strcmp(k, "Job")) {
		job_cells(cells, obj);
	} else if (!strcmp(k, "Node")) {
		node_cells(cells, obj);
	} else if (!strcmp(k, "Namespace")) {
		add_str(cells, berth_json_path_str(obj, "status.phase"));
		add_age(cells, obj);
	} else if (!strcmp(k, "ConfigMap")) {
		add_int(cells,
			map_len(berth_json_path(obj, "data")) +
				map_len(berth_json_path(obj, "binaryData")));
		add_age(cells, obj);
	} else if (!strcmp(k, "Secret")) {
		add_str(cells, berth_json_path_str(obj, "type"));
		add_int(cells, map_len(berth_json_path(obj, "data")));
		add_age(cells, obj);
	} else if (!strcmp(k, "ServiceAccount")) {
		add_int(cells, alen(berth_json_path(obj, "secrets")));
		add_age(cells, obj);
	} else if (!strcmp(k, "EndpointSlice")) {
		slice_cells(cells, obj);
		add_age(cells, obj);
	} else if (!strcmp(k, "Endpoints")) {
		endpoints_cells(cells, obj);
		add_age(cells, obj);
	} else if (!strcmp(k, "Lease")) {
		add_str(cells, berth_json_path_str(obj, "spec.holderIdentity"));
		add_age(cells, obj);
	} else if (!strcmp(k, "CertificateSigningRequest")) {
		char cond[128];

		add_age(cells, obj);
		add_str(cells, berth_json_path_str(obj, "spec.signerName"));
		add_str(cells, berth_json_path_str(obj, "spec.username"));
		berth_csr_condition(obj, cond, sizeof(cond));
		add_str(cells, cond);
	} else {
		add_age(cells, obj);
	}
	(void)buf;
}

void berth_table_add(struct json_object *table, const struct berth_resource *r,
		     struct json_object *obj, const char *include)
{
	struct json_object *row = json_object_new_object(), *cells, *rows;

	cells = json_object_new_array();
	kind_cells(cells, r, obj);
	json_object_object_add(row, "cells", cells);
	if (!include || !strcmp(include, "Metadata")) {
		struct json_object *pom = json_object_new_object();

		berth_json_set_str(pom, "kind", "PartialObjectMetadata");
		berth_json_set_str(pom, "apiVersion", "meta.k8s.io/v1");
		json_object_object_add(
			pom, "metadata",
			berth_json_copy(berth_json_path(obj, "metadata")));
		json_object_object_add(row, "object", pom);
	} else if (!strcmp(include, "Object")) {
		json_object_object_add(row, "object", json_object_get(obj));
	}
	json_object_object_get_ex(table, "rows", &rows);
	json_object_array_add(rows, row);
}
