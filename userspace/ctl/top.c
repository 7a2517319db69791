// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl top nodes|pods: usage from metrics.k8s.io when the server has
 * it; otherwise what is reserved: pod requests against node allocatable
 * (the column names and a note on stderr say which).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/quantity.h>

#include "ctl.h"

#define METRICS_API "/apis/metrics.k8s.io/v1beta1"
#define METRICS_NODES METRICS_API "/nodes"

/* A resource.Quantity in base units (cores, bytes); NAN if malformed. */
static double quantity(const char *s)
{
	int64_t m;

	return s && !berth_quantity_milli(s, &m) ? m / 1000.0 : NAN;
}

/* a pod's requests: the sum of its containers' (init containers run first
 * and alone: their maximum counts if larger) */
static void pod_requests(json_object *pod, double *cpu, double *mem)
{
	static const char *const lists[] = { "spec.containers",
					     "spec.initContainers" };
	double sum[2][2] = { { 0 } };

	for (int l = 0; l < 2; l++) {
		json_object *cs = ctl_get(pod, lists[l]);

		for (size_t i = 0; cs && i < json_object_array_length(cs);
		     i++) {
			json_object *ct = json_object_array_get_idx(cs, i);
			double c =
				quantity(ctl_str(ct, "resources.requests.cpu"));
			double m = quantity(
				ctl_str(ct, "resources.requests.memory"));

			c = isnan(c) ? 0 : c;
			m = isnan(m) ? 0 : m;
			if (l == 0) {
				sum[0][0] += c;
				sum[0][1] += m;
			} else {
				sum[1][0] = fmax(sum[1][0], c);
				sum[1][1] = fmax(sum[1][1], m);
			}
		}
	}
	*cpu = fmax(sum[0][0], sum[1][0]);
	*mem = fmax(sum[0][1], sum[1][1]);
}

static bool pod_active(json_object *pod)
{
	const char *ph = ctl_str(pod, "status.phase");

	return !ph || (strcmp(ph, "Succeeded") && strcmp(ph, "Failed"));
}

static void fmt_cpu(double cores, char *buf, size_t len)
{
	snprintf(buf, len, "%.0fm", cores * 1000);
}

static void fmt_mem(double bytes, char *buf, size_t len)
{
	snprintf(buf, len, "%.0fMi", bytes / 1048576.0);
}

static void fmt_pct(double used, double total, char *buf, size_t len)
{
	if (total > 0)
		snprintf(buf, len, "%.0f%%", used * 100 / total);
	else
		snprintf(buf, len, "<unknown>");
}

static json_object *list_all(struct ctl *c, const char *path)
{
	return ctl_fetch(c, path);
}

static int top_nodes(struct ctl *c, bool metrics)
{
	json_object *nodes = list_all(c, "/api/v1/nodes"), *pods = NULL,
		    *m = NULL;
	json_object *ni, *pi;
	struct ctl_table *t = NULL;
	int ret = CTL_ERR;

	if (!nodes)
		return CTL_ERR;
	pods = metrics ? NULL : list_all(c, "/api/v1/pods");
	m = metrics ? list_all(c, METRICS_NODES) : NULL;
	if (metrics ? !m : !pods)
		goto out;
	ni = ctl_get(nodes, "items");
	pi = ctl_get(pods ? pods : m, "items");
	t = ctl_table_new(5);
	ctl_table_pad_last(t);
	ctl_table_add(t,
		      (const char *const[]){
			      "NAME", metrics ? "CPU(cores)" : "CPU(requests)",
			      "CPU(%)",
			      metrics ? "MEMORY(bytes)" : "MEMORY(requests)",
			      "MEMORY(%)" });
	for (size_t i = 0; ni && i < json_object_array_length(ni); i++) {
		json_object *n = json_object_array_get_idx(ni, i);
		const char *name = ctl_str(n, "metadata.name");
		double cpu = 0, mem = 0, pc, pm;
		char cs[32], ms[32], cp[32], mp[32];

		for (size_t j = 0; pi && j < json_object_array_length(pi);
		     j++) {
			json_object *p = json_object_array_get_idx(pi, j);
			const char *node = metrics ?
						   ctl_str(p, "metadata.name") :
						   ctl_str(p, "spec.nodeName");

			if (!node || strcmp(node, name))
				continue;
			if (metrics) {
				cpu = quantity(ctl_str(p, "usage.cpu"));
				mem = quantity(ctl_str(p, "usage.memory"));
			} else if (pod_active(p)) {
				pod_requests(p, &pc, &pm);
				cpu += pc;
				mem += pm;
			}
		}
		fmt_cpu(cpu, cs, sizeof(cs));
		fmt_mem(mem, ms, sizeof(ms));
		fmt_pct(cpu, quantity(ctl_str(n, "status.allocatable.cpu")), cp,
			sizeof(cp));
		fmt_pct(mem, quantity(ctl_str(n, "status.allocatable.memory")),
			mp, sizeof(mp));
		ctl_table_add(t, (const char *const[]){ name, cs, cp, ms, mp });
	}
	if (ctl_table_rows(t) > 1)
		ctl_table_print(t, stdout);
	else
		fprintf(stderr, "No resources found\n");
	ret = CTL_OK;
out:
	ctl_table_free(t);
	json_object_put(nodes);
	json_object_put(pods);
	json_object_put(m);
	return ret;
}

/* a PodMetrics' usage: the sum of its containers' */
static void pod_usage(json_object *pm, double *cpu, double *mem)
{
	json_object *cs = ctl_get(pm, "containers");

	*cpu = *mem = 0;
	for (size_t i = 0; cs && i < json_object_array_length(cs); i++) {
		json_object *ct = json_object_array_get_idx(cs, i);
		double c = quantity(ctl_str(ct, "usage.cpu"));
		double m = quantity(ctl_str(ct, "usage.memory"));

		*cpu += isnan(c) ? 0 : c;
		*mem += isnan(m) ? 0 : m;
	}
}

static int top_pods(struct ctl *c, bool metrics)
{
	const char *api = metrics ? METRICS_API : "/api/v1";
	const char *cpu_col = metrics ? "CPU(cores)" : "CPU(requests)";
	const char *mem_col = metrics ? "MEMORY(bytes)" : "MEMORY(requests)";
	json_object *pods, *pi;
	struct ctl_table *t;
	char path[1200];
	int n = 0;

	if (c->all_ns)
		snprintf(path, sizeof(path), "%s/pods", api);
	else
		snprintf(path, sizeof(path), "%s/namespaces/%s/pods", api,
			 ctl_ns(c));
	if (ctl_add_selector(c, path, sizeof(path)))
		return CTL_USAGE;
	pods = list_all(c, path);
	if (!pods)
		return CTL_ERR;
	pi = ctl_get(pods, "items");
	t = ctl_table_new(c->all_ns ? 4 : 3);
	ctl_table_pad_last(t);
	if (c->all_ns)
		ctl_table_add(t, (const char *const[]){ "NAMESPACE", "NAME",
							cpu_col, mem_col });
	else
		ctl_table_add(t, (const char *const[]){ "NAME", cpu_col,
							mem_col });
	for (size_t j = 0; pi && j < json_object_array_length(pi); j++) {
		json_object *p = json_object_array_get_idx(pi, j);
		char cs[32], ms[32];
		double cpu, mem;

		if (metrics)
			pod_usage(p, &cpu, &mem);
		else if (pod_active(p))
			pod_requests(p, &cpu, &mem);
		else
			continue;
		fmt_cpu(cpu, cs, sizeof(cs));
		fmt_mem(mem, ms, sizeof(ms));
		if (c->all_ns)
			ctl_table_add(t,
				      (const char *const[]){
					      ctl_str(p, "metadata.namespace"),
					      ctl_str(p, "metadata.name"), cs,
					      ms });
		else
			ctl_table_add(t, (const char *const[]){
						 ctl_str(p, "metadata.name"),
						 cs, ms });
		n++;
	}
	if (n)
		ctl_table_print(t, stdout);
	else if (c->all_ns)
		fprintf(stderr, "No resources found\n");
	else
		fprintf(stderr, "No resources found in %s namespace.\n",
			ctl_ns(c));
	ctl_table_free(t);
	json_object_put(pods);
	return CTL_OK;
}

int cmd_top(struct ctl *c)
{
	bool metrics;
	int st;

	if (c->argc != 1 ||
	    (strcmp(c->argv[0], "nodes") && strcmp(c->argv[0], "node") &&
	     strcmp(c->argv[0], "pods") && strcmp(c->argv[0], "pod"))) {
		fprintf(stderr, "error: usage: berthctl top nodes|pods\n");
		return CTL_USAGE;
	}
	st = berth_kube_get(ctl_kube(c), METRICS_API, NULL);
	if (st < 0)
		return ctl_server_error(NULL, st);
	metrics = st == 200;
	if (!metrics)
		fprintf(stderr,
			"note: no metrics API (metrics.k8s.io): showing %s\n",
			strncmp(c->argv[0], "pod", 3) ?
				"pod requests against node allocatable" :
				"the requests of running pods");
	if (!strncmp(c->argv[0], "pod", 3))
		return top_pods(c, metrics);
	return top_nodes(c, metrics);
}
