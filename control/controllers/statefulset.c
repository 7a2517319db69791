// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * StatefulSet controller: pods "<sts>-<ordinal>" with a stable hostname
 * under the governing Service; OrderedReady (ordinal N only once 0..N-1
 * are Running and Ready, scale down from the highest, one at a time) or
 * Parallel; RollingUpdate from the highest ordinal down to the partition,
 * or OnDelete.
 *
 * Revisions are ControllerRevisions "<sts>-<template hash>" (the pods'
 * controller-revision-hash label): a pod below the partition comes back at
 * the current revision, `kubectl rollout history|undo` read them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../apiserver/jsonutil.h"
#include "ctl.h"
#include "podtmpl.h"

#define STS_MAX_REPLICAS 100000

#define STS_COMPONENT "statefulset-controller"

struct sts_ctl {
	struct berth_api *api;
	struct berth_wl_watch w;
};

struct sts_sync {
	struct sts_ctl *c;
	struct json_object *sts;
	const char *key, *name;
	char update_rev[300], current_rev[300];
	int replicas, npods;
	struct json_object **pods; /* by ordinal, borrowed; npods slots */
	bool parallel;
	int err;
};

/* The ordinal of "<sts>-<n>", or -1. */
static int pod_ordinal(const char *sts, struct json_object *pod)
{
	const char *name = berth_json_path_str(pod, "metadata.name");
	size_t n = strlen(sts);
	char *end;
	long o;

	if (!name || strncmp(name, sts, n) || name[n] != '-' || !name[n + 1])
		return -1;
	o = strtol(name + n + 1, &end, 10);
	return (*end || o < 0 || o >= STS_MAX_REPLICAS) ? -1 : (int)o;
}

static const char *pod_rev(struct json_object *pod)
{
	return berth_wl_label(pod, BERTH_REVISION_LABEL);
}

static bool is_rev(struct json_object *pod, const char *rev)
{
	const char *r = pod_rev(pod);

	return r && !strcmp(r, rev);
}

static bool healthy(struct json_object *pod)
{
	const char *phase = berth_json_path_str(pod, "status.phase");

	return pod && !berth_obj_deleting(pod) && phase &&
	       !strcmp(phase, "Running") && berth_pod_ready(pod);
}

/*
 * The revision ordinal ord is made at: the current one below a
 * RollingUpdate's partition, else the update revision. Its template, or
 * NULL for the set's own; *rev gets the revision name.
 */
static struct json_object *revision_for(struct sts_sync *s, int ord,
					const char **rev)
{
	struct json_object *strat =
		berth_json_path(s->sts, "spec.updateStrategy");
	const char *type = berth_json_get_str(strat, "type");
	int part = (int)berth_json_get_int(
		berth_json_path(strat, "rollingUpdate"), "partition", 0);
	struct json_object *t;

	*rev = s->update_rev;
	if ((type && strcmp(type, "RollingUpdate")) || ord >= part ||
	    !strcmp(s->current_rev, s->update_rev))
		return NULL;
	t = berth_wl_revision_template(s->c->w.crs, s->sts, s->current_rev);
	if (t)
		*rev = s->current_rev;
	return t;
}

static void sts_create(struct sts_sync *s, int ord)
{
	const char *rev;
	struct json_object *tmpl = revision_for(s, ord, &rev);
	struct json_object *pod = berth_wl_pod(s->sts, tmpl);
	struct json_object *md = berth_json_obj(pod, "metadata");
	struct json_object *labels = berth_json_obj(md, "labels");
	struct json_object *spec = berth_json_obj(pod, "spec");
	const char *svc = berth_json_path_str(s->sts, "spec.serviceName");
	char name[320], num[16];

	json_object_put(tmpl);
	snprintf(name, sizeof(name), "%s-%d", s->name, ord);
	snprintf(num, sizeof(num), "%d", ord);
	berth_json_set_str(md, "name", name);
	berth_json_set_str(labels, BERTH_REVISION_LABEL, rev);
	berth_json_set_str(labels, "statefulset.kubernetes.io/pod-name", name);
	berth_json_set_str(labels, "apps.kubernetes.io/pod-index", num);
	berth_json_set_str(spec, "hostname", name);
	if (svc && *svc)
		berth_json_set_str(spec, "subdomain", svc);
	if (berth_wl_create_pod(s->c->api, s->c->w.pods, s->sts, STS_COMPONENT,
				pod))
		s->err = -EIO;
	json_object_put(pod);
}

static void sts_delete(struct sts_sync *s, struct json_object *pod)
{
	if (berth_wl_delete_pod(s->c->api, s->c->w.pods, s->sts, STS_COMPONENT,
				pod))
		s->err = -EIO;
}

/*
 * Make the pods 0..replicas-1 exist and be healthy. false when an ordered
 * set must wait (a pod is missing, starting or going).
 */
static bool sts_scale_up(struct sts_sync *s)
{
	bool all = true;
	int i;

	for (i = 0; i < s->replicas; i++) {
		struct json_object *p = s->pods[i];

		if (p && berth_pod_finished(p) && !berth_obj_deleting(p)) {
			sts_delete(s, p); /* a failed member is replaced */
			p = NULL;
			all = false;
			if (!s->parallel)
				return false;
			continue;
		}
		if (!p) {
			sts_create(s, i);
			all = false;
			if (!s->parallel)
				return false;
			continue;
		}
		if (!healthy(p)) {
			all = false;
			if (!s->parallel)
				return false;
		}
	}
	return all;
}

/* Remove ordinals >= replicas, highest first; false while any remain. */
static bool sts_scale_down(struct sts_sync *s, bool healthy_set)
{
	bool none = true;
	int i;

	for (i = s->npods - 1; i >= s->replicas; i--) {
		struct json_object *p = s->pods[i];

		if (!p)
			continue;
		none = false;
		if (berth_obj_deleting(p)) {
			if (!s->parallel)
				return false; /* one at a time */
			continue;
		}
		if (!s->parallel && !healthy_set)
			return false;
		sts_delete(s, p);
		if (!s->parallel)
			return false;
	}
	return none;
}

/* RollingUpdate: replace the highest outdated pod at or above partition. */
static void sts_roll(struct sts_sync *s)
{
	struct json_object *strat =
		berth_json_path(s->sts, "spec.updateStrategy");
	const char *type = berth_json_get_str(strat, "type");
	int part = (int)berth_json_get_int(
		berth_json_path(strat, "rollingUpdate"), "partition", 0);
	int i;

	if (type && strcmp(type, "RollingUpdate"))
		return;
	for (i = s->replicas - 1; i >= part && i >= 0; i--) {
		struct json_object *p = s->pods[i];

		if (!p || is_rev(p, s->update_rev))
			continue;
		if (berth_obj_deleting(p))
			return;
		sts_delete(s, p);
		return;
	}
}

static void sts_status(struct sts_sync *s)
{
	struct json_object *st =
		berth_json_copy(berth_json_path(s->sts, "status"));
	int i, n = 0, ready = 0, cur = 0, upd = 0;

	if (!st)
		st = json_object_new_object();
	for (i = 0; i < s->npods; i++) {
		struct json_object *p = s->pods[i];

		if (!p)
			continue;
		n++;
		if (healthy(p))
			ready++;
		if (is_rev(p, s->current_rev))
			cur++;
		if (is_rev(p, s->update_rev))
			upd++;
	}
	/* the update is done: the update revision becomes the current one */
	if (upd == s->replicas && n == s->replicas) {
		snprintf(s->current_rev, sizeof(s->current_rev), "%s",
			 s->update_rev);
		cur = upd;
	}
	berth_json_set_int(
		st, "observedGeneration",
		berth_json_get_int(berth_json_path(s->sts, "metadata"),
				   "generation", 0));
	berth_json_set_int(st, "replicas", n);
	berth_json_set_int(st, "readyReplicas", ready);
	berth_json_set_int(st, "currentReplicas", cur);
	berth_json_set_int(st, "updatedReplicas", upd);
	berth_json_set_int(st, "availableReplicas", ready);
	berth_json_set_str(st, "currentRevision", s->current_rev);
	berth_json_set_str(st, "updateRevision", s->update_rev);
	berth_json_set_int(st, "collisionCount", 0);
	if (berth_wl_write_status(s->c->api, berth_res("apps", "statefulsets"),
				  s->sts, st))
		s->err = -EIO;
	json_object_put(st);
}

static int sts_sync(void *ctx, const char *key)
{
	struct sts_sync s = { .c = ctx, .key = key };
	struct json_object *pods = NULL, *live = NULL;
	const char *policy, *cur;
	char hash[16];
	size_t i, n;
	bool up;

	s.sts = berth_informer_get(s.c->w.owners, key);
	if (!s.sts || berth_obj_deleting(s.sts))
		goto out;
	s.name = berth_json_path_str(s.sts, "metadata.name");
	s.replicas = (int)berth_json_get_int(berth_json_path(s.sts, "spec"),
					     "replicas", 1);
	if (s.replicas > STS_MAX_REPLICAS)
		s.replicas = STS_MAX_REPLICAS;
	policy = berth_json_path_str(s.sts, "spec.podManagementPolicy");
	s.parallel = policy && !strcmp(policy, "Parallel");
	berth_wl_template_hash(s.sts, hash, sizeof(hash));
	snprintf(s.update_rev, sizeof(s.update_rev), "%s-%s", s.name, hash);
	cur = berth_json_path_str(s.sts, "status.currentRevision");
	snprintf(s.current_rev, sizeof(s.current_rev), "%s",
		 cur && *cur ? cur : s.update_rev);
	pods = berth_wl_owned_pods(s.c->w.pods, s.sts);
	n = json_object_array_length(pods);
	s.npods = s.replicas;
	for (i = 0; i < n; i++) {
		int o = pod_ordinal(s.name, json_object_array_get_idx(pods, i));

		if (o >= s.npods)
			s.npods = o + 1;
	}
	s.pods = calloc(s.npods + 1, sizeof(*s.pods));
	if (!s.pods) {
		s.err = -ENOMEM;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(pods, i);
		int o = pod_ordinal(s.name, p);

		if (o >= 0)
			s.pods[o] = p;
	}
	live = json_object_new_array();
	for (i = 0; i < n; i++) {
		const char *r = pod_rev(json_object_array_get_idx(pods, i));

		if (r)
			json_object_array_add(live, json_object_new_string(r));
	}
	json_object_array_add(live, json_object_new_string(s.current_rev));
	s.err = berth_wl_sync_revisions(s.c->api, s.c->w.crs, s.sts, hash,
					live);
	sts_status(&s);
	up = sts_scale_up(&s);
	if (sts_scale_down(&s, up) && up)
		sts_roll(&s);
out:
	free(s.pods);
	json_object_put(live);
	json_object_put(pods);
	json_object_put(s.sts);
	return s.err;
}

static int sts_init(struct berth_ctl *m, void **state)
{
	struct sts_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->w = (struct berth_wl_watch){ .q = berth_queue_new("statefulset"),
					.kind = "StatefulSet" };
	berth_wl_watch(m, berth_res("apps", "statefulsets"), true, &c->w);
	*state = c;
	return berth_ctl_workers(m, "statefulset", c->w.q, 2, sts_sync, c);
}

BERTH_CONTROLLER(statefulset, .name = "statefulset", .init = sts_init,
		 .stop = free);
