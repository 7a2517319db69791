// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Job controller: runs pods until completions succeed (NonIndexed or
 * Indexed), at most parallelism at once; pod failures count against
 * backoffLimit with an exponential delay between retries;
 * activeDeadlineSeconds, suspend, ttlSecondsAfterFinished. Counts come
 * from the pods, which are kept after they finish, as Kubernetes keeps them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/rest.h"
#include "ctl.h"
#include "podtmpl.h"

#define JOB_BACKOFF_MS 10000 /* first retry delay, doubled per failure */
#define JOB_BACKOFF_MAX_MS 360000 /* capped at 6 minutes, as k8s */
#define JOB_INDEX_KEY "batch.kubernetes.io/job-completion-index"
#define JOB_MAX_INDEXES 100000
#define JOB_COMPONENT "job-controller"

struct job_ctl {
	struct berth_api *api;
	struct berth_wl_watch w;
};

/* One sync's view of a Job and its pods. */
struct job_sync {
	struct job_ctl *c;
	struct json_object *job, *spec, *status;
	const char *key, *name;
	bool indexed;
	int completions; /* -1: unset (a work queue) */
	int parallelism;
	struct json_object *active; /* live, unfinished pods (borrowed) */
	int succeeded, failed, ready;
	double last_failure_s; /* seconds since the latest pod failure */
	char *done; /* Indexed: done[i] when index i succeeded */
	char *running; /* Indexed: running[i] when a live pod has index i */
	int err;
};

static int pod_index(struct json_object *pod, int completions)
{
	const char *v = berth_json_get_str(
		berth_json_path(pod, "metadata.annotations"), JOB_INDEX_KEY);
	char *end;
	long i;

	if (!v || !*v)
		return -1;
	i = strtol(v, &end, 10);
	return (*end || i < 0 || i >= completions) ? -1 : (int)i;
}

/* When a failed pod's container ended; its start if unknown. */
static double failed_since(struct json_object *pod)
{
	struct json_object *cs = berth_json_path(pod, "status");
	size_t i, n;
	double best = -1;

	if (json_object_object_get_ex(cs, "containerStatuses", &cs) &&
	    json_object_is_type(cs, json_type_array)) {
		n = json_object_array_length(cs);
		for (i = 0; i < n; i++) {
			const char *f = berth_json_path_str(
				json_object_array_get_idx(cs, i),
				"state.terminated.finishedAt");

			if (f && (best < 0 || berth_since(f) < best))
				best = berth_since(f);
		}
	}
	if (best < 0)
		best = berth_since(
			berth_json_path_str(pod, "metadata.creationTimestamp"));
	return best;
}

static void job_count(struct job_sync *s, struct json_object *pods)
{
	size_t i, n = json_object_array_length(pods);

	s->last_failure_s = -1;
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(pods, i);
		const char *phase = berth_json_path_str(p, "status.phase");
		int idx = s->indexed ? pod_index(p, s->completions) : -1;

		if (phase && !strcmp(phase, "Succeeded")) {
			if (!s->indexed)
				s->succeeded++;
			else if (idx >= 0 && !s->done[idx])
				s->done[idx] = 1, s->succeeded++;
		} else if (phase && !strcmp(phase, "Failed")) {
			double t = failed_since(p);

			s->failed++;
			if (s->last_failure_s < 0 || t < s->last_failure_s)
				s->last_failure_s = t;
		} else if (!berth_obj_deleting(p)) {
			json_object_array_add(s->active, json_object_get(p));
			if (berth_pod_ready(p))
				s->ready++;
			if (idx >= 0)
				s->running[idx] = 1;
		}
	}
}

static void job_delete_pod(struct job_sync *s, struct json_object *pod)
{
	if (berth_wl_delete_pod(s->c->api, s->c->w.pods, s->job, JOB_COMPONENT,
				pod))
		s->err = -EIO;
}

/* Delete live pods from the end of the active list until keep remain. */
static void job_trim(struct job_sync *s, int keep)
{
	int n = (int)json_object_array_length(s->active);

	for (; n > keep; n--)
		job_delete_pod(s, json_object_array_get_idx(s->active, n - 1));
}

static void add_index_env(struct json_object *pspec)
{
	struct json_object *cs = NULL;
	size_t i, n;

	if (!json_object_object_get_ex(pspec, "containers", &cs) ||
	    !json_object_is_type(cs, json_type_array))
		return;
	n = json_object_array_length(cs);
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cs, i);
		struct json_object *env = NULL, *e, *ref;

		if (!json_object_object_get_ex(c, "env", &env) ||
		    !json_object_is_type(env, json_type_array)) {
			env = json_object_new_array();
			json_object_object_add(c, "env", env);
		}
		e = json_object_new_object();
		berth_json_set_str(e, "name", "JOB_COMPLETION_INDEX");
		ref = berth_json_obj(berth_json_obj(e, "valueFrom"),
				     "fieldRef");
		berth_json_set_str(ref, "fieldPath",
				   "metadata.annotations['" JOB_INDEX_KEY "']");
		json_object_array_add(env, e);
	}
}

static void job_create(struct job_sync *s, int idx)
{
	struct json_object *pod = berth_wl_pod(s->job, NULL);
	struct json_object *md = berth_json_obj(pod, "metadata");
	struct json_object *labels = berth_json_obj(md, "labels");
	const char *uid = berth_json_path_str(s->job, "metadata.uid");
	char buf[320];

	berth_json_set_str(labels, "batch.kubernetes.io/job-name", s->name);
	berth_json_set_str(labels, "job-name", s->name);
	berth_json_set_str(labels, "batch.kubernetes.io/controller-uid", uid);
	berth_json_set_str(labels, "controller-uid", uid);
	if (idx >= 0) {
		snprintf(buf, sizeof(buf), "%d", idx);
		berth_json_set_str(labels, JOB_INDEX_KEY, buf);
		berth_json_set_str(berth_json_obj(md, "annotations"),
				   JOB_INDEX_KEY, buf);
		snprintf(buf, sizeof(buf), "%s-%d", s->name, idx);
		if (!berth_json_path_str(pod, "spec.hostname"))
			berth_json_set_str(berth_json_obj(pod, "spec"),
					   "hostname", buf);
		add_index_env(berth_json_obj(pod, "spec"));
		snprintf(buf, sizeof(buf), "%s-%d-", s->name, idx);
	} else {
		snprintf(buf, sizeof(buf), "%s-", s->name);
	}
	berth_json_set_str(md, "generateName", buf);
	if (berth_wl_create_pod(s->c->api, s->c->w.pods, s->job, JOB_COMPONENT,
				pod))
		s->err = -EIO;
	json_object_put(pod);
}

/* The Indexed mode's completedIndexes: "0-2,5". */
static void completed_indexes(struct job_sync *s, char *buf, size_t size)
{
	size_t off = 0;
	int i = 0, j;

	buf[0] = 0;
	while (i < s->completions && off < size) {
		if (!s->done[i]) {
			i++;
			continue;
		}
		for (j = i; j + 1 < s->completions && s->done[j + 1]; j++)
			;
		if (j == i)
			off += snprintf(buf + off, size - off, "%s%d",
					off ? "," : "", i);
		else
			off += snprintf(buf + off, size - off, "%s%d-%d",
					off ? "," : "", i, j);
		i = j + 1;
	}
}

static void job_finish(struct job_sync *s, bool ok, const char *reason,
		       const char *msg)
{
	char ts[32];

	berth_now_rfc3339(ts, sizeof(ts));
	job_trim(s, 0);
	if (ok) {
		berth_set_condition(s->status, "SuccessCriteriaMet", "True",
				    reason, msg);
		berth_set_condition(s->status, "Complete", "True", reason, msg);
		berth_json_set_str(s->status, "completionTime", ts);
		berth_event_emit(s->c->api, JOB_COMPONENT, s->job, "Normal",
				 "Completed", "Job completed");
	} else {
		berth_set_condition(s->status, "FailureTarget", "True", reason,
				    msg);
		berth_set_condition(s->status, "Failed", "True", reason, msg);
		berth_event_emit(s->c->api, JOB_COMPONENT, s->job, "Warning",
				 reason, "%s", msg);
	}
}

static bool cond_true(struct json_object *status, const char *type)
{
	const char *v =
		berth_json_get_str(berth_get_condition(status, type), "status");

	return v && !strcmp(v, "True");
}

/* A finished Job: delete it once its TTL has passed. */
static void job_ttl(struct job_sync *s)
{
	struct json_object *ttl =
		berth_json_path(s->spec, "ttlSecondsAfterFinished");
	const char *at = berth_json_get_str(s->status, "completionTime");
	double left;
	int code;

	if (!json_object_is_type(ttl, json_type_int))
		return;
	if (!at)
		at = berth_json_get_str(berth_get_condition(s->status,
							    "Failed"),
					"lastTransitionTime");
	left = (double)json_object_get_int64(ttl) - berth_since(at);
	if (left > 0) {
		berth_queue_add_after(s->c->w.q, s->key,
				      (int)(left * 1000) + 100);
		return;
	}
	code = berth_client_delete(
		s->c->api, berth_res("batch", "jobs"),
		berth_json_path_str(s->job, "metadata.namespace"), s->name,
		"Background", berth_json_path_str(s->job, "metadata.uid"));
	if (code != 200 && code != 202 && code != 404 && code != 409) {
		pr_warn("job %s: delete after ttlSecondsAfterFinished: HTTP %d",
			s->key, code);
		s->err = -EIO;
	}
}

/* Start pods up to want, unless a failure's back-off is still running. */
static void job_start(struct job_sync *s, int want)
{
	int active = (int)json_object_array_length(s->active);
	int idx = 0;

	if (s->failed > 0) {
		long delay = JOB_BACKOFF_MS;
		int i;

		for (i = 1; i < s->failed && delay < JOB_BACKOFF_MAX_MS; i++)
			delay *= 2;
		if (delay > JOB_BACKOFF_MAX_MS)
			delay = JOB_BACKOFF_MAX_MS;
		delay -= (long)(s->last_failure_s * 1000);
		if (delay > 0) {
			berth_queue_add_after(s->c->w.q, s->key,
					      (int)delay + 100);
			return;
		}
	}
	for (; active < want; active++) {
		if (s->indexed) {
			while (idx < s->completions &&
			       (s->done[idx] || s->running[idx]))
				idx++;
			if (idx == s->completions)
				return;
			s->running[idx] = 1;
		}
		job_create(s, s->indexed ? idx : -1);
	}
}

/* Wanted running pods now; whether the Job has succeeded. */
static int job_want(struct job_sync *s, bool *complete)
{
	int active = (int)json_object_array_length(s->active);
	int left;

	if (s->completions < 0) { /* work queue: done once one succeeds */
		*complete = s->succeeded > 0 && active == 0;
		return s->succeeded > 0 ? active : s->parallelism;
	}
	left = s->completions - s->succeeded;
	*complete = left <= 0;
	return left < s->parallelism ? left : s->parallelism;
}

static void job_run(struct job_sync *s)
{
	struct json_object *ads =
		berth_json_path(s->spec, "activeDeadlineSeconds");
	const char *start = berth_json_get_str(s->status, "startTime");
	int backoff = (int)berth_json_get_int(s->spec, "backoffLimit", 6);
	bool complete;
	int want;
	char ts[32];

	if (json_object_get_boolean(berth_json_path(s->spec, "suspend"))) {
		job_trim(s, 0);
		if (berth_set_condition(s->status, "Suspended", "True",
					"JobSuspended", "Job suspended"))
			berth_event_emit(s->c->api, JOB_COMPONENT, s->job,
					 "Normal", "Suspended",
					 "Job suspended");
		json_object_object_del(s->status, "startTime");
		return;
	}
	if (cond_true(s->status, "Suspended")) {
		berth_set_condition(s->status, "Suspended", "False",
				    "JobResumed", "Job resumed");
		start = NULL;
	}
	if (!start) {
		berth_now_rfc3339(ts, sizeof(ts));
		berth_json_set_str(s->status, "startTime", ts);
		start = ts;
	}
	want = job_want(s, &complete);
	if (complete) {
		job_finish(s, true, "CompletionsReached",
			   "Reached expected number of succeeded pods");
		return;
	}
	if (s->failed > backoff) {
		job_finish(s, false, "BackoffLimitExceeded",
			   "Job has reached the specified backoff limit");
		return;
	}
	if (json_object_is_type(ads, json_type_int)) {
		double left =
			(double)json_object_get_int64(ads) - berth_since(start);

		if (left <= 0) {
			job_finish(
				s, false, "DeadlineExceeded",
				"Job was active longer than specified deadline");
			return;
		}
		berth_queue_add_after(s->c->w.q, s->key,
				      (int)(left * 1000) + 100);
	}
	if ((int)json_object_array_length(s->active) > want)
		job_trim(s, want);
	else
		job_start(s, want);
}

static void job_status(struct job_sync *s)
{
	char buf[1024];
	bool finished = cond_true(s->status, "Complete") ||
			cond_true(s->status, "Failed");

	berth_json_set_int(s->status, "active",
			   finished ? 0 : json_object_array_length(s->active));
	berth_json_set_int(s->status, "ready", finished ? 0 : s->ready);
	berth_json_set_int(s->status, "succeeded", s->succeeded);
	berth_json_set_int(s->status, "failed", s->failed);
	if (s->indexed) {
		completed_indexes(s, buf, sizeof(buf));
		if (*buf)
			berth_json_set_str(s->status, "completedIndexes", buf);
	}
	if (berth_wl_write_status(s->c->api, berth_res("batch", "jobs"), s->job,
				  s->status))
		s->err = -EIO;
}

static int job_sync(void *ctx, const char *key)
{
	struct job_sync s = { .c = ctx, .key = key };
	struct json_object *pods = NULL;
	const char *mode;
	bool finished;

	s.job = berth_informer_get(s.c->w.owners, key);
	if (!s.job || berth_obj_deleting(s.job))
		goto out;
	s.name = berth_json_path_str(s.job, "metadata.name");
	s.spec = berth_json_path(s.job, "spec");
	s.status = berth_json_copy(berth_json_path(s.job, "status"));
	if (!s.status)
		s.status = json_object_new_object();
	mode = berth_json_get_str(s.spec, "completionMode");
	s.completions =
		json_object_is_type(berth_json_path(s.spec, "completions"),
				    json_type_int) ?
			(int)berth_json_get_int(s.spec, "completions", 1) :
			-1;
	s.parallelism = (int)berth_json_get_int(s.spec, "parallelism", 1);
	s.indexed = mode && !strcmp(mode, "Indexed") && s.completions > 0 &&
		    s.completions <= JOB_MAX_INDEXES;
	if (s.indexed) {
		s.done = calloc(s.completions, 1);
		s.running = calloc(s.completions, 1);
		if (!s.done || !s.running) {
			s.err = -ENOMEM;
			goto out;
		}
	}
	s.active = json_object_new_array();
	pods = berth_wl_owned_pods(s.c->w.pods, s.job);
	job_count(&s, pods);
	finished = cond_true(s.status, "Complete") ||
		   cond_true(s.status, "Failed");
	if (finished)
		job_trim(&s, 0);
	else
		job_run(&s);
	job_status(&s);
	if (finished)
		job_ttl(&s);
out:
	free(s.done);
	free(s.running);
	json_object_put(s.active);
	json_object_put(pods);
	json_object_put(s.status);
	json_object_put(s.job);
	return s.err;
}

static int job_init(struct berth_ctl *m, void **state)
{
	struct job_ctl *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->w = (struct berth_wl_watch){ .q = berth_queue_new("job"),
					.kind = "Job" };
	berth_wl_watch(m, berth_res("batch", "jobs"), false, &c->w);
	*state = c;
	return berth_ctl_workers(m, "job", c->w.q, 2, job_sync, c);
}

BERTH_CONTROLLER(job, .name = "job", .init = job_init, .stop = free);
