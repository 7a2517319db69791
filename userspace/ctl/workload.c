// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* berthctl logs, scale and rollout status|undo. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define ROLLOUT_POLL_MS 250
#define ANN_REVISION "deployment.kubernetes.io/revision"

/* ---- logs ---- */

struct logbuf {
	char *data;
	size_t len, cap;
	bool direct; /* stream to stdout */
};

static int log_data(const char *data, size_t len, void *arg)
{
	struct logbuf *b = arg;

	if (b->direct) {
		fwrite(data, 1, len, stdout);
		fflush(stdout);
		return 0;
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = (b->len + len + 1) * 2;
		char *n = realloc(b->data, cap);

		if (!n)
			return 1;
		b->data = n;
		b->cap = cap;
	}
	memcpy(b->data + b->len, data, len);
	b->len += len;
	b->data[b->len] = 0;
	return 0;
}

/* GETs @path into memory; prints the server's error if not 200 */
static int log_request(struct ctl *c, const char *path, struct logbuf *b)
{
	int st = berth_kube_stream(ctl_kube(c), path, log_data, b);
	json_object *o;

	if (st == 200)
		return 0;
	o = b->data ? json_tokener_parse(b->data) : NULL;
	ctl_server_error(o, st);
	json_object_put(o);
	return CTL_ERR;
}

/*
 * Without -c, a pod of several containers gives its default one (the
 * kubectl.kubernetes.io/default-container annotation, else the first),
 * with kubectl's notice. Returns -1 if the pod could not be read.
 */
static int default_container(struct ctl *c, const struct ctl_res *r,
			     const char *pod, char *buf, size_t len)
{
	char path[2048], names[1024] = "";
	json_object *o, *cs, *ann, *v;
	size_t n;

	ctl_path(path, sizeof(path), r, ctl_ns(c), pod, NULL);
	o = ctl_fetch(c, path);
	if (!o)
		return -1;
	cs = ctl_get(o, "spec.containers");
	n = cs ? json_object_array_length(cs) : 0;
	if (n > 1) {
		ann = ctl_get(o, "metadata.annotations");
		if (ann &&
		    json_object_object_get_ex(
			    ann, "kubectl.kubernetes.io/default-container", &v))
			snprintf(buf, len, "%s", json_object_get_string(v));
		else
			snprintf(buf, len, "%s",
				 ctl_str(json_object_array_get_idx(cs, 0),
					 "name"));
		for (size_t i = 0; i < n; i++)
			snprintf(names + strlen(names),
				 sizeof(names) - strlen(names), "%s%s",
				 i ? ", " : "",
				 ctl_str(json_object_array_get_idx(cs, i),
					 "name"));
		fprintf(stderr, "Defaulted container \"%s\" out of: %s\n", buf,
			names);
	}
	json_object_put(o);
	return 0;
}

int cmd_logs(struct ctl *c)
{
	char dflt[256] = "";
	char path[2048], q[512] = "", esc[256];
	struct logbuf b = { 0 };
	const char *pod;
	struct ctl_res r;
	int ret;

	if (c->argc < 1 || c->argc > 2) {
		fprintf(stderr,
			"error: expected POD [-c CONTAINER] (berthctl logs POD)\n");
		return CTL_USAGE;
	}
	pod = c->argv[0];
	if (!strncmp(pod, "pod/", 4) || !strncmp(pod, "pods/", 5))
		pod = strchr(pod, '/') + 1;
	if (c->argc == 2 && !c->container)
		c->container = c->argv[1];
	if (ctl_resolve(c, "pods", &r))
		return CTL_ERR;
	if (!c->container) {
		if (default_container(c, &r, pod, dflt, sizeof(dflt)))
			return CTL_ERR;
		if (dflt[0])
			c->container = dflt;
	}
	if (c->container && !berth_kube_escape(c->container, esc, sizeof(esc)))
		snprintf(q + strlen(q), sizeof(q) - strlen(q), "&container=%s",
			 esc);
	if (c->previous)
		snprintf(q + strlen(q), sizeof(q) - strlen(q),
			 "&previous=true");
	if (c->follow) {
		/* the errors first, then the stream goes straight out */
		ctl_path(path, sizeof(path), &r, ctl_ns(c), pod,
			 "/log?tailLines=0");
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s",
			 q);
		ret = log_request(c, path, &b);
		free(b.data);
		if (ret)
			return ret;
		b = (struct logbuf){ .direct = true };
		snprintf(q + strlen(q), sizeof(q) - strlen(q), "&follow=true");
	}
	if (c->tail >= 0)
		snprintf(q + strlen(q), sizeof(q) - strlen(q), "&tailLines=%ld",
			 c->tail);
	ctl_path(path, sizeof(path), &r, ctl_ns(c), pod, "/log");
	if (q[0]) {
		q[0] = '?';
		snprintf(path + strlen(path), sizeof(path) - strlen(path), "%s",
			 q);
	}
	ret = log_request(c, path, &b);
	if (!ret && !b.direct && b.len)
		fwrite(b.data, 1, b.len, stdout);
	free(b.data);
	return ret;
}

/* ---- scale ---- */

int cmd_scale(struct ctl *c)
{
	json_object *patch, *spec, *out = NULL;
	char path[2048], kg[160];
	const char *name;
	struct ctl_res r;
	int ret, st;

	if (c->replicas < 0) {
		fprintf(stderr,
			"error: required flag(s) \"replicas\" not set\n");
		return CTL_USAGE;
	}
	ret = ctl_kind_name(c, "scale", &r, &name);
	if (ret)
		return ret;
	patch = json_object_new_object();
	spec = json_object_new_object();
	json_object_object_add(spec, "replicas",
			       json_object_new_int64(c->replicas));
	json_object_object_add(patch, "spec", spec);
	ctl_path(path, sizeof(path), &r, ctl_ns(c), name, "/scale");
	st = berth_kube_patch(ctl_kube(c), path, BERTH_KUBE_PATCH_MERGE, patch,
			      &out);
	json_object_put(patch);
	if (st != 200) {
		ctl_server_error(out, st);
		json_object_put(out);
		return CTL_ERR;
	}
	json_object_put(out);
	ctl_kind_group(kg, sizeof(kg), &r);
	printf("%s/%s scaled\n", kg, name);
	return CTL_OK;
}

/* ---- rollout ---- */

static bool has_condition_reason(json_object *d, const char *type,
				 const char *reason)
{
	json_object *conds = ctl_get(d, "status.conditions");

	for (size_t i = 0; conds && i < json_object_array_length(conds); i++) {
		json_object *cd = json_object_array_get_idx(conds, i);
		const char *t = ctl_str(cd, "type"),
			   *rs = ctl_str(cd, "reason");

		if (t && rs && !strcmp(t, type) && !strcmp(rs, reason))
			return true;
	}
	return false;
}

/*
 * kubectl's deployment status viewer: the message for @d, and whether
 * the rollout is done; -1 if it can no longer finish.
 */
static int rollout_state(json_object *d, const char *name, char *msg,
			 size_t len)
{
	long long gen = ctl_int(d, "metadata.generation", 0);
	long long obs = ctl_int(d, "status.observedGeneration", 0);
	long long want = ctl_int(d, "spec.replicas", 1);
	long long total = ctl_int(d, "status.replicas", 0);
	long long upd = ctl_int(d, "status.updatedReplicas", 0);
	long long avail = ctl_int(d, "status.availableReplicas", 0);

	if (obs < gen) {
		snprintf(
			msg, len,
			"Waiting for deployment spec update to be observed...\n");
		return 0;
	}
	if (has_condition_reason(d, "Progressing",
				 "ProgressDeadlineExceeded")) {
		snprintf(msg, len,
			 "deployment \"%s\" exceeded its progress deadline",
			 name);
		return -1;
	}
	if (upd < want)
		snprintf(
			msg, len,
			"Waiting for deployment \"%s\" rollout to finish: %lld out of %lld new replicas have been updated...\n",
			name, upd, want);
	else if (total > upd)
		snprintf(
			msg, len,
			"Waiting for deployment \"%s\" rollout to finish: %lld old replicas are pending termination...\n",
			name, total - upd);
	else if (avail < upd)
		snprintf(
			msg, len,
			"Waiting for deployment \"%s\" rollout to finish: %lld of %lld updated replicas are available...\n",
			name, avail, upd);
	else {
		snprintf(msg, len,
			 "deployment \"%s\" successfully rolled out\n", name);
		return 1;
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int rollout_status(struct ctl *c, const struct ctl_res *r,
			  const char *name)
{
	double end = now_s() + c->timeout;
	char path[2048], msg[512], last[512] = "";
	int state;

	ctl_path(path, sizeof(path), r, ctl_ns(c), name, NULL);
	for (;;) {
		json_object *d = ctl_fetch(c, path);

		if (!d)
			return CTL_ERR;
		state = rollout_state(d, name, msg, sizeof(msg));
		json_object_put(d);
		if (state < 0) {
			fprintf(stderr, "error: %s\n", msg);
			return CTL_ERR;
		}
		if (strcmp(msg, last)) {
			fputs(msg, stdout);
			fflush(stdout);
			snprintf(last, sizeof(last), "%s", msg);
		}
		if (state > 0)
			return CTL_OK;
		if (now_s() >= end) {
			fprintf(stderr,
				"error: timed out waiting for the condition\n");
			return CTL_ERR;
		}
		usleep(ROLLOUT_POLL_MS * 1000);
	}
}

static long revision_of(json_object *o)
{
	json_object *ann = ctl_get(o, "metadata.annotations"), *v;

	if (!ann || !json_object_object_get_ex(ann, ANN_REVISION, &v))
		return 0;
	return strtol(json_object_get_string(v), NULL, 10);
}

static bool owned_by(json_object *o, const char *uid)
{
	json_object *refs = ctl_get(o, "metadata.ownerReferences");

	for (size_t i = 0; refs && i < json_object_array_length(refs); i++) {
		const char *u =
			ctl_str(json_object_array_get_idx(refs, i), "uid");

		if (u && !strcmp(u, uid))
			return true;
	}
	return false;
}

/* the ReplicaSet of revision @want (0: the newest before @cur) */
static json_object *find_revision(json_object *items, const char *uid, long cur,
				  long want)
{
	json_object *best = NULL;
	long best_rev = 0;

	for (size_t i = 0; items && i < json_object_array_length(items); i++) {
		json_object *rs = json_object_array_get_idx(items, i);
		long rev = revision_of(rs);

		if (!owned_by(rs, uid))
			continue;
		if (want ? rev == want : rev < cur && rev > best_rev) {
			best = rs;
			best_rev = rev;
		}
	}
	return best;
}

static int rollout_undo(struct ctl *c, const struct ctl_res *r,
			const char *name)
{
	json_object *d, *list, *rs, *tmpl, *labels, *patch, *op, *out = NULL;
	char path[2048], kg[160];
	const char *uid;
	struct ctl_res rsr;
	int ret = CTL_ERR, st;

	ctl_path(path, sizeof(path), r, ctl_ns(c), name, NULL);
	d = ctl_fetch(c, path);
	if (!d)
		return CTL_ERR;
	uid = ctl_str(d, "metadata.uid");
	if (ctl_resolve(c, "replicasets.apps", &rsr))
		goto out_d;
	ctl_path(path, sizeof(path), &rsr, ctl_ns(c), NULL, NULL);
	list = ctl_fetch(c, path);
	if (!list)
		goto out_d;
	rs = find_revision(ctl_get(list, "items"), uid ? uid : "",
			   revision_of(d), c->to_revision);
	ctl_kind_group(kg, sizeof(kg), r);
	if (!rs) {
		if (c->to_revision)
			ctl_err("unable to find specified revision %ld in history",
				c->to_revision);
		else
			ctl_err("no rollout history found for deployment \"%s\"",
				name);
		goto out_list;
	}
	tmpl = json_object_get(ctl_get(rs, "spec.template"));
	labels = ctl_get(tmpl, "metadata.labels");
	if (labels)
		json_object_object_del(labels, "pod-template-hash");
	if (json_object_equal(tmpl, ctl_get(d, "spec.template"))) {
		printf("%s/%s skipped rollback (current template already matches revision %ld)\n",
		       kg, name, revision_of(rs));
		json_object_put(tmpl);
		ret = CTL_OK;
		goto out_list;
	}
	/* replace, not merge: keys the old template lacks must go */
	patch = json_object_new_array();
	op = json_object_new_object();
	json_object_object_add(op, "op", json_object_new_string("replace"));
	json_object_object_add(op, "path",
			       json_object_new_string("/spec/template"));
	json_object_object_add(op, "value", tmpl);
	json_object_array_add(patch, op);
	ctl_path(path, sizeof(path), r, ctl_ns(c), name, NULL);
	st = berth_kube_patch(ctl_kube(c), path, BERTH_KUBE_PATCH_JSON, patch,
			      &out);
	json_object_put(patch);
	if (st != 200) {
		ctl_server_error(out, st);
	} else {
		printf("%s/%s rolled back\n", kg, name);
		ret = CTL_OK;
	}
	json_object_put(out);
out_list:
	json_object_put(list);
out_d:
	json_object_put(d);
	return ret;
}

int cmd_rollout(struct ctl *c)
{
	const char *sub, *name;
	struct ctl_res r;
	int ret;

	if (c->argc < 2) {
		fprintf(stderr,
			"error: usage: berthctl rollout status|undo deployment/NAME\n");
		return CTL_USAGE;
	}
	sub = c->argv[0];
	if (strcmp(sub, "status") && strcmp(sub, "undo")) {
		fprintf(stderr, "error: unknown rollout command \"%s\"\n", sub);
		return CTL_USAGE;
	}
	c->argc--;
	c->argv++;
	ret = ctl_kind_name(c, "rollout", &r, &name);
	if (ret)
		return ret;
	if (strcmp(r.kind, "Deployment")) {
		ctl_err("no status viewer has been implemented for %s", r.kind);
		return CTL_ERR;
	}
	if (!strcmp(sub, "status"))
		return rollout_status(c, &r, name);
	return rollout_undo(c, &r, name);
}
