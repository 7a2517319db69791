// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berth-server's metrics (kube-apiserver's names and buckets where they
 * fit) and health checks. One registry per process, made on first use.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>
#include <berth/prom.h>

#include "../store/store.h"
#include "api.h"
#include "metrics.h"

static struct {
	struct berth_prom_registry *reg;
	struct berth_prom_metric *requests, *duration, *longrunning, *watchers;
	struct berth_prom_metric *store_duration, *store_errors;
} M;

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* kube-apiserver's apiserver_request_duration_seconds buckets */
static const double request_buckets[] = { 0.005, 0.025, 0.05, 0.1,  0.2, 0.4,
					  0.6,	 0.8,	1.0,  1.25, 1.5, 2,
					  3,	 4,	5,    6,    8,	 10,
					  15,	 20,	30,   45,   60 };
/* SQLite answers in microseconds, etcd in milliseconds: finer low end */
static const double store_buckets[] = { 0.0001, 0.00025, 0.0005, 0.001,
					0.0025, 0.005,	 0.01,	 0.025,
					0.05,	0.1,	 0.25,	 0.5,
					1,	2.5,	 5,	 10 };

static void store_observed(const char *op, const char *backend, int err,
			   double seconds)
{
	const char *lv[] = { op, backend };

	berth_prom_observe(berth_prom_child(M.store_duration, lv), seconds);
	/* answers the API turns into 404/409 are not the store failing */
	if (err && err != -ENOENT && err != -EEXIST && err != -ECANCELED &&
	    err != -ESTALE)
		berth_prom_inc(berth_prom_child(M.store_errors, lv));
}

static void init(void)
{
	static const char *const req_labels[] = { "verb",	 "group",
						  "version",	 "resource",
						  "subresource", "code",
						  NULL };
	/* the same without code */
	static const char *const dur_labels[] = { "verb",	 "group",
						  "version",	 "resource",
						  "subresource", NULL };
	static const char *const watch_labels[] = { "group", "version",
						    "resource", NULL };
	static const char *const store_labels[] = { "operation", "backend",
						    NULL };

	M.reg = berth_prom_registry_new();
	if (!M.reg)
		return;
	M.requests = berth_prom_counter(
		M.reg, "apiserver_request_total",
		"Counter of apiserver requests broken out for each verb, group, version, resource, subresource and HTTP response code.",
		req_labels);
	M.duration = berth_prom_histogram(
		M.reg, "apiserver_request_duration_seconds",
		"Response latency distribution in seconds for each verb, group, version, resource and subresource (streamed replies: until the stream starts).",
		dur_labels, request_buckets,
		sizeof(request_buckets) / sizeof(request_buckets[0]));
	M.longrunning = berth_prom_gauge(
		M.reg, "apiserver_longrunning_requests",
		"Gauge of all active long-running apiserver requests (watches, followed logs) broken out by verb, group, version, resource and subresource.",
		dur_labels);
	M.watchers = berth_prom_gauge(
		M.reg, "apiserver_registered_watchers",
		"Number of currently registered watchers for a given resource.",
		watch_labels);
	M.store_duration = berth_prom_histogram(
		M.reg, "berth_store_request_duration_seconds",
		"Latency of the store's operations in seconds, by operation and backend (sqlite, etcd).",
		store_labels, store_buckets,
		sizeof(store_buckets) / sizeof(store_buckets[0]));
	M.store_errors = berth_prom_counter(
		M.reg, "berth_store_request_errors_total",
		"Store operations that failed (not counting absent keys, conflicts and compacted revisions), by operation and backend.",
		store_labels);
	if (berth_prom_process_metrics(M.reg))
		pr_warn("metrics: no process metrics");
	berth_store_set_observer(store_observed);
}

static bool ready(void)
{
	pthread_once(&once, init);
	return M.reg != NULL;
}

/* Subresources the server knows; anything else is one bounded label. */
static const char *sub_label(const char *sub)
{
	static const char *const known[] = {
		"status", "scale",    "log",	  "binding",
		"token",  "finalize", "eviction", "ephemeralcontainers"
	};
	size_t i;

	if (!sub)
		return "";
	for (i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (!strcmp(sub, known[i]))
			return known[i];
	return "unknown";
}

static bool is_true(const char *v)
{
	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

/* The verb as kube-apiserver reports it. */
static const char *verb_of(const struct berth_http_req *req,
			   const struct berth_req_info *ri)
{
	static const char *const methods[] = { "GET",	 "HEAD",  "POST",
					       "PUT",	 "PATCH", "DELETE",
					       "OPTIONS" };
	const char *m = req->method, *ct;
	size_t i;

	if (ri->resource) {
		if (!strcmp(m, "GET") || !strcmp(m, "HEAD")) {
			if (ri->named)
				return "GET";
			return is_true(berth_http_query(req, "watch")) ?
				       "WATCH" :
				       "LIST";
		}
		if (!strcmp(m, "POST"))
			return "CREATE";
		if (!strcmp(m, "PUT"))
			return "UPDATE";
		if (!strcmp(m, "PATCH")) {
			ct = berth_http_header(req, "Content-Type");
			return ct && strstr(ct, "apply-patch") ? "APPLY" :
								 "PATCH";
		}
		if (!strcmp(m, "DELETE"))
			return ri->named ? "DELETE" : "DELETECOLLECTION";
	}
	for (i = 0; i < sizeof(methods) / sizeof(methods[0]); i++)
		if (!strcmp(m, methods[i]))
			return methods[i];
	return "other";
}

/* An HTTP code as 3 digits (out of range: 500); no printf on the hot path. */
static void code_str(int code, char out[4])
{
	if (code < 100 || code > 999)
		code = 500;
	out[0] = '0' + code / 100;
	out[1] = '0' + code / 10 % 10;
	out[2] = '0' + code % 10;
	out[3] = 0;
}

/*
 * A streamed reply. Long-running (watch, followed log): in the gauges until
 * it ends. Otherwise (a large LIST): its duration runs to the stream's end.
 */
struct tracked_stream {
	berth_stream_fn fn;
	void *ctx;
	void (*free)(void *ctx);
	struct berth_prom_child *lr, *watchers, *duration;
	double start;
};

static ssize_t tracked_read(void *ctx, char *buf, size_t max)
{
	struct tracked_stream *s = ctx;

	return s->fn(s->ctx, buf, max);
}

static void tracked_free(void *ctx)
{
	struct tracked_stream *s = ctx;

	if (s->free)
		s->free(s->ctx);
	berth_prom_add(s->lr, -1);
	berth_prom_add(s->watchers, -1);
	berth_prom_observe(s->duration, berth_prom_now() - s->start);
	free(s);
}

static struct tracked_stream *track_stream(struct berth_http_resp *resp)
{
	struct tracked_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->fn = resp->stream;
	s->ctx = resp->stream_ctx;
	s->free = resp->stream_free;
	resp->stream = tracked_read;
	resp->stream_ctx = s;
	resp->stream_free = tracked_free;
	return s;
}

void berth_apimetrics_request(const struct berth_http_req *req,
			      struct berth_http_resp *resp,
			      const struct berth_req_info *ri, double start)
{
	struct berth_prom_child *duration;
	struct tracked_stream *s;
	const char *verb;
	bool watch, longrunning;
	char code[4];

	if (!ready())
		return;
	verb = verb_of(req, ri);
	code_str(resp->code, code);
	const char *lv[] = {
		verb,
		ri->resource ? ri->group : "",
		ri->resource ? ri->version : "",
		ri->resource ? ri->resource : "",
		ri->resource ? sub_label(ri->subresource) : "",
		code,
	};
	/* the watchers' labels: group, version, resource */
	const char *wv[] = { lv[1], lv[2], lv[3] };

	berth_prom_inc(berth_prom_child(M.requests, lv));
	/* the duration's labels: the same without the code */
	duration = berth_prom_child(M.duration, lv);
	watch = !strcmp(verb, "WATCH");
	longrunning = watch || (ri->subresource && !strcmp(lv[4], "log") &&
				is_true(berth_http_query(req, "follow")));
	s = resp->stream ? track_stream(resp) : NULL;
	if (!s || longrunning)
		berth_prom_observe(duration, berth_prom_now() - start);
	if (!s)
		return;
	if (!longrunning) {
		s->duration = duration;
		s->start = start;
		return;
	}
	s->lr = berth_prom_child(M.longrunning, lv);
	berth_prom_add(s->lr, 1);
	if (watch) {
		s->watchers = berth_prom_child(M.watchers, wv);
		berth_prom_add(s->watchers, 1);
	}
}

void berth_apimetrics_serve(struct berth_http_resp *resp)
{
	char *buf = NULL;
	size_t len = 0;
	int err = ready() ? berth_prom_render_buf(M.reg, &buf, &len) : -ENOMEM;

	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
	if (err) {
		resp->code = 500;
		resp->content_type = "text/plain; charset=utf-8";
		return;
	}
	resp->body = buf;
	resp->len = len;
	resp->code = 200;
	resp->content_type = BERTH_PROM_CONTENT_TYPE;
}

/* A health check: 0 if fine, else -errno with why filled in. */
struct check {
	const char *name;
	int (*fn)(struct berth_api *api, char *why, size_t len);
};

static int check_ping(struct berth_api *api, char *why, size_t len)
{
	(void)api, (void)why, (void)len;
	return 0;
}

/* The store answers a read (etcd reachable, SQLite readable). */
static int check_store(struct berth_api *api, char *why, size_t len)
{
	int64_t rev;
	int err = berth_store_revision(api->store, &rev);

	if (err)
		snprintf(why, len, "%s", strerror(-err));
	return err;
}

static int check_shutdown(struct berth_api *api, char *why, size_t len)
{
	if (!atomic_load(&api->stopping))
		return 0;
	snprintf(why, len, "shutting down");
	return -ESHUTDOWN;
}

/*
 * The checks of each endpoint. livez leaves the store out: a server that
 * lost etcd is not helped by a restart, and keeps serving what it can.
 */
static size_t checks_of(const char *ep, struct berth_api *api,
			struct check *out)
{
	size_t n = 0;

	out[n++] = (struct check){ "ping", check_ping };
	if (!strcmp(ep, "livez"))
		return n;
	/* kube-apiserver's name for it when the store is etcd */
	out[n++] =
		(struct check){ berth_store_backend(api->store), check_store };
	if (!strcmp(ep, "readyz"))
		out[n++] = (struct check){ "shutdown", check_shutdown };
	return n;
}

void berth_apihealth_serve(struct berth_api *api,
			   const struct berth_http_req *req,
			   struct berth_http_resp *resp, char **segs, int n)
{
	const char *exclude = berth_http_query(req, "exclude");
	bool verbose = berth_http_has_query(req, "verbose");
	struct check checks[4];
	size_t nc = checks_of(segs[0], api, checks), i, len = 0;
	char *out = NULL, why[256];
	bool failed = false, found = false;
	FILE *f;

	f = open_memstream(&out, &len);
	if (!f) {
		berth_resp_text(resp, 500, "out of memory");
		return;
	}
	for (i = 0; i < nc; i++) {
		/* /readyz/NAME: that check alone, in the short form */
		if ((n == 2 && strcmp(segs[1], checks[i].name)) ||
		    (exclude && !strcmp(exclude, checks[i].name)))
			continue;
		found = true;
		why[0] = 0;
		if (checks[i].fn(api, why, sizeof(why))) {
			failed = true;
			fprintf(f, "[-]%s failed: %s\n", checks[i].name, why);
			pr_debug("%s: check %s failed: %s", segs[0],
				 checks[i].name, why);
		} else {
			fprintf(f, "[+]%s ok\n", checks[i].name);
		}
	}
	if (verbose || failed)
		fprintf(f, "%s check %s\n", segs[0],
			failed ? "failed" : "passed");
	fclose(f);
	if (n == 2 && !found)
		berth_resp_error(
			resp, 404, "NotFound",
			"the server could not find the requested resource");
	else if (!failed && !verbose)
		berth_resp_text(resp, 200, "ok");
	else
		berth_resp_text(resp, failed ? 500 : 200, out ? out : "");
	free(out);
}
