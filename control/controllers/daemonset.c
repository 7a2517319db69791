// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * DaemonSet controller: one pod per eligible node (nodeSelector, required
 * node affinity, taints against the pod's tolerations plus the ones
 * Kubernetes adds to daemon pods), following node changes; RollingUpdate
 * with maxUnavailable/maxSurge or OnDelete; the status kubectl prints.
 *
 * Revisions are ControllerRevisions "<ds>-<template hash>" (pods carry the
 * hash as controller-revision-hash), for `kubectl rollout history|undo`.
 *
 * Pods are placed by the controller itself: spec.nodeName is set at
 * creation, and the pod also carries the matchFields metadata.name node
 * affinity kube-controller-manager gives daemon pods, so it reads the same.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../apiserver/jsonutil.h"
#include "ctl.h"
#include "podtmpl.h"

#define DS_COMPONENT "daemonset-controller"

struct ds_ctl {
	struct berth_api *api;
	struct berth_wl_watch w;
	struct berth_informer *nodes;
};

/* What a node has of one DaemonSet. */
struct ds_node {
	const char *name;
	bool run; /* a new pod may be placed here */
	bool keep; /* a pod already here may stay (NoExecute tolerated) */
	struct json_object *old, *cur; /* live pods of an old / this revision */
	int deleting;
};

struct ds_sync {
	struct ds_ctl *c;
	struct json_object *ds;
	const char *ns;
	char hash[16];
	int err;
};

/* The tolerations every daemon pod gets (key, effect). */
static const char *const default_tolerations[][2] = {
	{ "node.kubernetes.io/not-ready", "NoExecute" },
	{ "node.kubernetes.io/unreachable", "NoExecute" },
	{ "node.kubernetes.io/disk-pressure", "NoSchedule" },
	{ "node.kubernetes.io/memory-pressure", "NoSchedule" },
	{ "node.kubernetes.io/pid-pressure", "NoSchedule" },
	{ "node.kubernetes.io/unschedulable", "NoSchedule" },
};

/* Any node change may change where every DaemonSet runs. */
static void ds_node_changed(void *ctx, struct json_object *node)
{
	struct ds_ctl *c = ctx;
	struct json_object *keys = berth_informer_keys(c->w.owners);
	size_t i, n = json_object_array_length(keys);

	(void)node;
	for (i = 0; i < n; i++)
		berth_queue_add(c->w.q,
				json_object_get_string(
					json_object_array_get_idx(keys, i)));
	json_object_put(keys);
}

static void ds_node_updated(void *ctx, struct json_object *old,
			    struct json_object *node)
{
	/* heartbeats change only status: they move no daemon pod */
	if (berth_json_equal(berth_json_path(old, "spec"),
			     berth_json_path(node, "spec")) &&
	    berth_json_equal(berth_json_path(old, "metadata.labels"),
			     berth_json_path(node, "metadata.labels")))
		return;
	ds_node_changed(ctx, node);
}

static bool has_toleration(struct json_object *tols, const char *key,
			   const char *effect)
{
	size_t i, n = json_object_array_length(tols);

	for (i = 0; i < n; i++) {
		struct json_object *t = json_object_array_get_idx(tols, i);
		const char *k = berth_json_get_str(t, "key");
		const char *e = berth_json_get_str(t, "effect");

		if (k && e && !strcmp(k, key) && !strcmp(e, effect))
			return true;
	}
	return false;
}

/* spec.tolerations of the pod spec with the defaults added (in place). */
static struct json_object *add_default_tolerations(struct json_object *pspec)
{
	struct json_object *tols = NULL;
	size_t i;

	if (!json_object_object_get_ex(pspec, "tolerations", &tols) ||
	    !json_object_is_type(tols, json_type_array)) {
		tols = json_object_new_array();
		json_object_object_add(pspec, "tolerations", tols);
	}
	for (i = 0;
	     i < sizeof(default_tolerations) / sizeof(default_tolerations[0]);
	     i++) {
		struct json_object *t;

		if (has_toleration(tols, default_tolerations[i][0],
				   default_tolerations[i][1]))
			continue;
		t = json_object_new_object();
		berth_json_set_str(t, "key", default_tolerations[i][0]);
		berth_json_set_str(t, "operator", "Exists");
		berth_json_set_str(t, "effect", default_tolerations[i][1]);
		json_object_array_add(tols, t);
	}
	return tols;
}

/* Pin the pod to node as Kubernetes does: one matchFields term. */
static void pin_to_node(struct json_object *pspec, const char *node)
{
	struct json_object *req, *terms, *term, *fields, *f, *vals;

	req = berth_json_obj(berth_json_obj(berth_json_obj(pspec, "affinity"),
					    "nodeAffinity"),
			     "requiredDuringSchedulingIgnoredDuringExecution");
	terms = json_object_new_array();
	term = json_object_new_object();
	fields = json_object_new_array();
	f = json_object_new_object();
	vals = json_object_new_array();
	berth_json_set_str(f, "key", "metadata.name");
	berth_json_set_str(f, "operator", "In");
	json_object_array_add(vals, json_object_new_string(node));
	json_object_object_add(f, "values", vals);
	json_object_array_add(fields, f);
	json_object_object_add(term, "matchFields", fields);
	json_object_array_add(terms, term);
	json_object_object_add(req, "nodeSelectorTerms", terms);
	berth_json_set_str(pspec, "nodeName", node);
}

static void ds_create(struct ds_sync *s, const char *node)
{
	struct json_object *pod = berth_wl_pod(s->ds, NULL);
	struct json_object *md = berth_json_obj(pod, "metadata");
	struct json_object *pspec = berth_json_obj(pod, "spec");
	char gen[300];

	snprintf(gen, sizeof(gen), "%s-",
		 berth_json_path_str(s->ds, "metadata.name"));
	berth_json_set_str(md, "generateName", gen);
	berth_json_set_str(berth_json_obj(md, "labels"), BERTH_REVISION_LABEL,
			   s->hash);
	add_default_tolerations(pspec);
	pin_to_node(pspec, node);
	if (berth_wl_create_pod(s->c->api, s->c->w.pods, s->ds, DS_COMPONENT,
				pod))
		s->err = -EIO;
	json_object_put(pod);
}

static void ds_delete(struct ds_sync *s, struct json_object *pod)
{
	if (berth_wl_delete_pod(s->c->api, s->c->w.pods, s->ds, DS_COMPONENT,
				pod))
		s->err = -EIO;
}

static bool live_ready(struct json_object *pod)
{
	return pod && berth_pod_ready(pod);
}

static struct ds_node *find_node(struct ds_node *v, size_t n, const char *name)
{
	size_t i;

	for (i = 0; name && i < n; i++)
		if (!strcmp(v[i].name, name))
			return &v[i];
	return NULL;
}

/* Sort pods onto nodes; pods that may not stay, or are surplus, go. */
static void ds_place(struct ds_sync *s, struct json_object *pods,
		     struct ds_node *v, size_t n, int *misscheduled)
{
	size_t i, np = json_object_array_length(pods);

	for (i = 0; i < np; i++) {
		struct json_object *p = json_object_array_get_idx(pods, i);
		struct ds_node *d = find_node(
			v, n, berth_json_path_str(p, "spec.nodeName"));
		const char *h = berth_wl_label(p, BERTH_REVISION_LABEL);
		bool cur = h && !strcmp(h, s->hash);

		if (berth_obj_deleting(p)) {
			if (d)
				d->deleting++;
			continue;
		}
		if (!d || !d->keep) {
			(*misscheduled)++;
			ds_delete(s, p);
		} else if (berth_pod_finished(p)) {
			ds_delete(s, p); /* a daemon pod is replaced */
			d->deleting++;
		} else if (cur && !d->cur) {
			d->cur = p;
		} else if (!cur && !d->old) {
			d->old = p;
		} else {
			ds_delete(s, p);
		}
	}
}

static void ds_rolling(struct ds_sync *s, struct ds_node *v, size_t n,
		       int desired)
{
	struct json_object *ru =
		berth_json_path(s->ds, "spec.updateStrategy.rollingUpdate");
	int surge = berth_wl_scaled(berth_json_path(ru, "maxSurge"), desired,
				    true, 0);
	int unavail = berth_wl_scaled(berth_json_path(ru, "maxUnavailable"),
				      desired, true, 1);
	int down = 0, surging = 0;
	size_t i;

	if (!surge && !unavail)
		unavail = 1;
	for (i = 0; i < n; i++) {
		if (!v[i].keep)
			continue;
		if (!live_ready(v[i].cur) && !live_ready(v[i].old))
			down++;
		if (v[i].cur && v[i].old)
			surging++;
	}
	for (i = 0; i < n; i++) {
		struct ds_node *d = &v[i];

		if (!d->keep || !d->old)
			continue;
		if (d->cur) {
			if (live_ready(d->cur))
				ds_delete(s, d->old); /* surge done here */
		} else if (!live_ready(d->old)) {
			ds_delete(s, d->old); /* unavailable already */
		} else if (surge) {
			if (surging < surge && d->run) {
				ds_create(s, d->name);
				surging++;
			}
		} else if (down < unavail) {
			ds_delete(s, d->old);
			down++;
		}
	}
}

static void ds_status(struct ds_sync *s, struct ds_node *v, size_t n,
		      int misscheduled)
{
	struct json_object *st = json_object_new_object();
	int desired = 0, current = 0, ready = 0, updated = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		struct json_object *p = v[i].cur ? v[i].cur : v[i].old;

		if (!v[i].run) {
			/* kept on a node it would not be placed on now */
			misscheduled += p != NULL;
			continue;
		}
		desired++;
		if (!p)
			continue;
		current++;
		if (berth_pod_ready(p))
			ready++;
		if (v[i].cur)
			updated++;
	}
	berth_json_set_int(st, "currentNumberScheduled", current);
	berth_json_set_int(st, "numberMisscheduled", misscheduled);
	berth_json_set_int(st, "desiredNumberScheduled", desired);
	berth_json_set_int(st, "numberReady", ready);
	berth_json_set_int(
		st, "observedGeneration",
		berth_json_get_int(berth_json_path(s->ds, "metadata"),
				   "generation", 0));
	berth_json_set_int(st, "updatedNumberScheduled", updated);
	berth_json_set_int(st, "numberAvailable", ready);
	berth_json_set_int(st, "numberUnavailable", desired - ready);
	if (berth_wl_write_status(s->c->api, berth_res("apps", "daemonsets"),
				  s->ds, st))
		s->err = -EIO;
	json_object_put(st);
}

/* The ControllerRevisions, sparing those of live pods. */
static int ds_revisions(struct ds_sync *s, struct json_object *pods)
{
	struct json_object *live = json_object_new_array();
	size_t i, n = json_object_array_length(pods);
	char name[320];
	int err;

	for (i = 0; i < n; i++) {
		const char *h =
			berth_wl_label(json_object_array_get_idx(pods, i),
				       BERTH_REVISION_LABEL);

		snprintf(name, sizeof(name), "%s-%s",
			 berth_json_path_str(s->ds, "metadata.name"),
			 h ? h : "");
		json_object_array_add(live, json_object_new_string(name));
	}
	err = berth_wl_sync_revisions(s->c->api, s->c->w.crs, s->ds, s->hash,
				      live);
	json_object_put(live);
	return err;
}

static int ds_sync(void *ctx, const char *key)
{
	struct ds_sync s = { .c = ctx };
	struct json_object *nodes = NULL, *pods = NULL, *pspec = NULL, *tols;
	struct ds_node *v = NULL;
	size_t i, n;
	int misscheduled = 0, desired = 0;
	const char *strategy;

	s.ds = berth_informer_get(s.c->w.owners, key);
	if (!s.ds || berth_obj_deleting(s.ds))
		goto out;
	s.ns = berth_json_path_str(s.ds, "metadata.namespace");
	berth_wl_template_hash(s.ds, s.hash, sizeof(s.hash));
	pspec = berth_json_copy(berth_json_path(s.ds, "spec.template.spec"));
	if (!pspec)
		goto out;
	tols = add_default_tolerations(pspec);
	nodes = berth_informer_list(s.c->nodes, NULL, NULL);
	n = json_object_array_length(nodes);
	v = calloc(n + 1, sizeof(*v));
	if (!v) {
		s.err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct json_object *node = json_object_array_get_idx(nodes, i);
		bool sel = berth_wl_node_selected(pspec, node) &&
			   !berth_obj_deleting(node);

		v[i].name = berth_json_path_str(node, "metadata.name");
		v[i].run = sel && berth_wl_taints_tolerated(tols, node, NULL);
		v[i].keep = sel &&
			    berth_wl_taints_tolerated(tols, node, "NoExecute");
		desired += v[i].run;
	}
	pods = berth_wl_owned_pods(s.c->w.pods, s.ds);
	s.err = ds_revisions(&s, pods);
	ds_place(&s, pods, v, n, &misscheduled);
	ds_status(&s, v, n, misscheduled);
	for (i = 0; i < n; i++)
		if (v[i].run && !v[i].cur && !v[i].old && !v[i].deleting)
			ds_create(&s, v[i].name);
	strategy = berth_json_path_str(s.ds, "spec.updateStrategy.type");
	if (!strategy || !strcmp(strategy, "RollingUpdate"))
		ds_rolling(&s, v, n, desired);
out:
	free(v);
	json_object_put(pods);
	json_object_put(nodes);
	json_object_put(pspec);
	json_object_put(s.ds);
	return s.err;
}

static int ds_init(struct berth_ctl *m, void **state)
{
	struct ds_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->w = (struct berth_wl_watch){ .q = berth_queue_new("daemonset"),
					.kind = "DaemonSet" };
	berth_wl_watch(m, berth_res("apps", "daemonsets"), true, &c->w);
	c->nodes = berth_ctl_informer(m, berth_res("", "nodes"));
	berth_informer_add_handler(c->nodes, &(struct berth_informer_handler){
						     .add = ds_node_changed,
						     .update = ds_node_updated,
						     .del = ds_node_changed,
						     .ctx = c });
	*state = c;
	return berth_ctl_workers(m, "daemonset", c->w.q, 2, ds_sync, c);
}

BERTH_CONTROLLER(daemonset, .name = "daemonset", .init = ds_init, .stop = free);
