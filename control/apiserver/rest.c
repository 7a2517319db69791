// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Generic REST over the store: get, list, create, update, patch, delete,
 * deletecollection and the status, scale, binding and log subresources.
 * Objects are stored as JSON without metadata.resourceVersion; it is the
 * key's mod_revision, set on the way out. Updates are compare-and-swap on
 * that revision: a stale resourceVersion is a 409, a race without one is
 * retried.
 */
#include <errno.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <berth/log.h>
#include <json-c/printbuf.h>

#include "../store/store.h"
#include "admission.h"
#include "admit.h"
#include "alloc.h"
#include "apply.h"
#include "csr.h"
#include <berth/base64.h>
#include "jsonutil.h"
#include "logproxy.h"
#include "patch.h"
#include "proto.h"
#include "rest.h"
#include "selector.h"
#include "status.h"
#include "table.h"
#include "tokenreq.h"
#include "watch.h"
#include "yaml.h"

#define KEY_MAX 512
#define UPDATE_RETRIES 16
#define GENERATE_RETRIES 8
#define FIELD_MANAGER_MAX 128 /* Kubernetes' limit on a manager name */

/* ---- small helpers ---- */

void berth_now_rfc3339(char *buf, size_t size)
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void time_rfc3339(time_t t, char *buf, size_t size)
{
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fill_random(void *buf, size_t n)
{
	if (getrandom(buf, n, 0) != (ssize_t)n) {
		unsigned char *p = buf;

		while (n--)
			*p++ = (unsigned char)random();
	}
}

void berth_new_uid(char *buf, size_t size)
{
	unsigned char b[16];

	fill_random(b, sizeof(b));
	b[6] = (b[6] & 0x0f) | 0x40;
	b[8] = (b[8] & 0x3f) | 0x80;
	snprintf(
		buf, size,
		"%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
		b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9],
		b[10], b[11], b[12], b[13], b[14], b[15]);
}

void berth_qualified_name(const struct berth_resource *r, char *buf,
			  size_t size)
{
	snprintf(buf, size, "%s%s%s", r->name, *r->group ? "." : "", r->group);
}

void berth_obj_set_rv(struct json_object *obj, int64_t rev)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", (long long)rev);
	berth_json_set_str(berth_json_obj(obj, "metadata"), "resourceVersion",
			   buf);
}

struct json_object *berth_obj_from_store(const char *value, size_t len,
					 int64_t rev)
{
	struct json_object *obj = berth_json_parse(value, len, NULL);

	if (!obj)
		return NULL;
	if (!json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		return NULL;
	}
	berth_obj_set_rv(obj, rev);
	return obj;
}

static struct json_object *meta(struct json_object *obj)
{
	return berth_json_obj(obj, "metadata");
}

static bool streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static int key_of(struct berth_call *c, const char *name, char *buf)
{
	return berth_resource_key(c->res, c->ns, name, buf, KEY_MAX);
}

/* "application/json; charset=utf-8" is "application/json". */
static bool media_is(const char *ctype, const char *want)
{
	size_t n;

	if (!ctype)
		return false;
	while (*ctype == ' ')
		ctype++;
	n = strcspn(ctype, "; ");
	return n == strlen(want) && !strncasecmp(ctype, want, n);
}

static int64_t parse_rv(const char *s, bool *ok)
{
	char *end;
	long long v;

	*ok = false;
	if (!s || !*s)
		return 0;
	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || *end || v < 0)
		return 0;
	*ok = true;
	return v;
}

/* ---- errors ---- */

static void not_found(struct berth_call *c, const char *name)
{
	struct json_object *st;
	char q[128];

	berth_qualified_name(c->res, q, sizeof(q));
	st = berth_status_new(404, "NotFound", "%s \"%s\" not found", q,
			      name ? name : "");
	berth_status_details(st, name, c->res->group, c->res->name);
	berth_resp_status(c->resp, st);
}

static struct json_object *conflict_status(struct berth_call *c,
					   const char *name)
{
	struct json_object *st;
	char q[128];

	berth_qualified_name(c->res, q, sizeof(q));
	st = berth_status_new(
		409, "Conflict",
		"Operation cannot be fulfilled on %s \"%s\": the object has been modified; please apply your changes to the latest version and try again",
		q, name);
	return berth_status_details(st, name, c->res->group, c->res->name);
}

static void conflict(struct berth_call *c, const char *name)
{
	berth_resp_status(c->resp, conflict_status(c, name));
}

void berth_rest_store_error(struct berth_call *c, int err, const char *name)
{
	struct json_object *st;
	char q[128];

	berth_qualified_name(c->res, q, sizeof(q));
	switch (err) {
	case -ENOENT:
		not_found(c, name);
		return;
	case -EEXIST:
		st = berth_status_new(409, "AlreadyExists",
				      "%s \"%s\" already exists", q, name);
		berth_resp_status(c->resp,
				  berth_status_details(st, name, c->res->group,
						       c->res->name));
		return;
	case -ECANCELED:
		conflict(c, name);
		return;
	case -ESTALE:
		berth_resp_error(c->resp, 410, "Expired",
				 "too old resource version");
		return;
	case -ENAMETOOLONG:
		berth_resp_error(c->resp, 400, NULL, "name too long");
		return;
	default:
		pr_warn("store: %s %s: %s", q, name ? name : "",
			strerror(-err));
		berth_resp_error(c->resp, err == -ENOTCONN ? 503 : 500, NULL,
				 "storage error: %s", strerror(-err));
	}
}

/* ---- request pieces ---- */

/* dryRun=All -> true; absent -> false; anything else answers 400. */
static int dry_run(struct berth_call *c, bool *dry)
{
	const char *v = c->req ? berth_http_query(c->req, "dryRun") : NULL;

	*dry = false;
	if (!v || !*v)
		return 0;
	if (!strcmp(v, "All")) {
		*dry = true;
		return 0;
	}
	berth_resp_error(
		c->resp, 400, NULL,
		"Invalid dry run value \"%s\": supported values: \"All\"", v);
	return -1;
}

static bool bad_metadata(struct json_object *obj)
{
	struct json_object *m;

	return json_object_object_get_ex(obj, "metadata", &m) &&
	       !json_object_is_type(m, json_type_object);
}

/* The request body as a JSON object, or an answered error (-1). */
static int body_object(struct berth_call *c, struct json_object **out,
		       bool patch)
{
	const char *ctype = berth_http_header(c->req, "Content-Type");
	const char *err = NULL;
	struct json_object *obj;
	bool yaml;

	*out = NULL;
	if (c->req->too_large) {
		berth_resp_error(c->resp, 413, NULL,
				 "Request entity too large: limit is %d",
				 BERTH_HTTP_MAX_BODY);
		return -1;
	}
	if (!patch && media_is(ctype, BERTH_PROTO_MEDIA)) {
		char msg[160];

		obj = berth_proto_decode(c->req->body, c->req->body_len, msg,
					 sizeof(msg));
		if (!obj) {
			berth_resp_error(c->resp, 415, NULL, "%s", msg);
			return -1;
		}
		*out = obj;
		return 0;
	}
	yaml = patch ? media_is(ctype, "application/apply-patch+yaml") :
		       media_is(ctype, "application/yaml");
	if (!patch && ctype && !yaml && !media_is(ctype, "application/json")) {
		berth_resp_error(
			c->resp, 415, NULL,
			"the body of the request was in an unknown format - accepted media types include: application/json, application/yaml");
		return -1;
	}
	obj = berth_json_parse(c->req->body, c->req->body_len, &err);
	if (!obj && yaml && c->req->body_len) {
		char msg[256];

		obj = berth_yaml_parse(c->req->body, c->req->body_len, msg,
				       sizeof(msg));
		if (!obj) {
			berth_resp_error(c->resp, 400, NULL,
					 "error decoding request body: %s",
					 msg);
			return -1;
		}
	}
	if (!obj) {
		berth_resp_error(c->resp, 400, NULL,
				 "error decoding request body: %s",
				 c->req->body_len ? err : "empty body");
		return -1;
	}
	if (!patch && !json_object_is_type(obj, json_type_object)) {
		json_object_put(obj);
		berth_resp_error(
			c->resp, 400, NULL,
			"error decoding request body: not a JSON object");
		return -1;
	}
	if (!patch && bad_metadata(obj)) {
		json_object_put(obj);
		berth_resp_error(
			c->resp, 400, NULL,
			"error decoding request body: metadata must be an object");
		return -1;
	}
	*out = obj;
	return 0;
}

/*
 * The Warning header of the response: each line of msg a 299 warning,
 * quoted, comma-separated (client-go reads several from one header).
 */
static void set_warning(struct berth_call *c, const char *msg)
{
	size_t n = strlen(msg), i, o;

	free(c->resp->warning);
	c->resp->warning = malloc(2 * n + 16 + 12 * n);
	if (!c->resp->warning)
		return;
	o = sprintf(c->resp->warning, "299 - \"");
	for (i = 0; i < n; i++) {
		if (msg[i] == '\n') {
			o += sprintf(c->resp->warning + o, "\", 299 - \"");
			continue;
		}
		if (msg[i] == '"' || msg[i] == '\\')
			c->resp->warning[o++] = '\\';
		c->resp->warning[o++] = msg[i];
	}
	strcpy(c->resp->warning + o, "\"");
}

/* fieldValidation: Strict rejects unknown fields, Warn (default) warns. */
static int field_validation(struct berth_call *c, struct json_object *obj)
{
	const char *mode =
		c->req ? berth_http_query(c->req, "fieldValidation") : NULL;
	char msgs[1024];

	if (mode && *mode && strcmp(mode, "Strict") && strcmp(mode, "Warn") &&
	    strcmp(mode, "Ignore")) {
		berth_resp_error(
			c->resp, 400, NULL,
			"fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\"");
		return -1;
	}
	if (mode && !strcmp(mode, "Ignore")) {
		berth_unknown_fields(c->res, obj, true, msgs, sizeof(msgs));
		return 0;
	}
	if (!berth_unknown_fields(c->res, obj,
				  !(mode && !strcmp(mode, "Strict")), msgs,
				  sizeof(msgs)))
		return 0;
	if (mode && !strcmp(mode, "Strict")) {
		berth_resp_error(c->resp, 400, NULL,
				 "strict decoding error: %s", msgs);
		return -1;
	}
	set_warning(c, msgs);
	return 0;
}

/* kind/apiVersion, if given, must be the resource's; filled in if not. */
static int check_type(struct berth_call *c, struct json_object *obj,
		      const char *kind, const char *api_version)
{
	const char *k = berth_json_get_str(obj, "kind");
	const char *av = berth_json_get_str(obj, "apiVersion");

	if (av && *av && strcmp(av, api_version)) {
		berth_resp_error(
			c->resp, 400, NULL,
			"the API version in the data (%s) does not match the expected API version (%s)",
			av, api_version);
		return -1;
	}
	if (k && *k && strcmp(k, kind)) {
		berth_resp_error(
			c->resp, 400, NULL,
			"the kind in the data (%s) does not match the expected kind (%s)",
			k, kind);
		return -1;
	}
	berth_json_set_str(obj, "kind", kind);
	berth_json_set_str(obj, "apiVersion", api_version);
	return 0;
}

static int check_own_type(struct berth_call *c, struct json_object *obj)
{
	char av[96];

	berth_resource_api_version(c->res, av, sizeof(av));
	return check_type(c, obj, c->res->kind, av);
}

int berth_rest_selectors(struct berth_call *c, struct berth_selector **ls,
			 struct berth_selector **fs)
{
	char err[256];

	*ls = *fs = NULL;
	if (berth_selector_parse(berth_http_query(c->req, "labelSelector"),
				 false, ls, err, sizeof(err))) {
		berth_resp_error(c->resp, 400, NULL,
				 "unable to parse requirement: %s", err);
		return -1;
	}
	if (berth_selector_parse(berth_http_query(c->req, "fieldSelector"),
				 true, fs, err, sizeof(err))) {
		berth_selector_free(*ls);
		*ls = NULL;
		berth_resp_error(c->resp, 400, NULL, "%s", err);
		return -1;
	}
	return 0;
}

bool berth_rest_match(struct berth_selector *ls, struct berth_selector *fs,
		      struct json_object *obj)
{
	return berth_selector_match(ls, obj) && berth_selector_match(fs, obj);
}

static const char *include_object(struct berth_call *c)
{
	return berth_http_query(c->req, "includeObject");
}

/* ---- continue tokens: base64url of {"rv":N,"start":"key"} ---- */

static char *make_continue(int64_t rev, const char *key)
{
	struct json_object *o = json_object_new_object();
	const char *js;
	char *tok;

	berth_json_set_int(o, "rv", rev);
	berth_json_set_str(o, "start", key);
	js = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
	tok = berth_base64(js, strlen(js), true);
	json_object_put(o);
	return tok;
}

/* -> *rev, start key (malloc'd); -EINVAL if not ours or not for prefix. */
static int parse_continue(const char *tok, const char *prefix, int64_t *rev,
			  char **start)
{
	char *raw = berth_base64_decode(tok, true, NULL);
	struct json_object *o;
	const char *k;
	int ret = -EINVAL;

	if (!raw)
		return -EINVAL;
	o = berth_json_parse(raw, strlen(raw), NULL);
	free(raw);
	k = berth_json_get_str(o, "start");
	*rev = berth_json_get_int(o, "rv", 0);
	if (k && *rev > 0 && !strncmp(k, prefix, strlen(prefix))) {
		*start = strdup(k);
		ret = *start ? 0 : -ENOMEM;
	}
	json_object_put(o);
	return ret;
}

/* ---- scale ---- */

static struct json_object *scale_of(struct json_object *obj)
{
	struct json_object *s = json_object_new_object(), *m, *om, *v;
	char sel[512];
	static const char *const keep[] = { "name",
					    "namespace",
					    "uid",
					    "resourceVersion",
					    "creationTimestamp",
					    NULL };
	int i;

	berth_json_set_str(s, "kind", "Scale");
	berth_json_set_str(s, "apiVersion", "autoscaling/v1");
	m = json_object_new_object();
	om = berth_json_path(obj, "metadata");
	for (i = 0; keep[i]; i++)
		if (json_object_object_get_ex(om, keep[i], &v))
			json_object_object_add(m, keep[i], berth_json_copy(v));
	json_object_object_add(s, "metadata", m);
	berth_json_set_int(berth_json_obj(s, "spec"), "replicas",
			   berth_json_get_int(berth_json_path(obj, "spec"),
					      "replicas", 1));
	v = berth_json_obj(s, "status");
	berth_json_set_int(v, "replicas",
			   berth_json_get_int(berth_json_path(obj, "status"),
					      "replicas", 0));
	berth_labelselector_string(berth_json_path(obj, "spec.selector"), sel,
				   sizeof(sel));
	if (*sel)
		berth_json_set_str(v, "selector", sel);
	return s;
}

/* ---- GET ---- */

static void respond_object(struct berth_call *c, int code,
			   struct json_object *obj)
{
	struct json_object *t, *rv;

	if (c->req && berth_accept_table(c->req)) {
		t = berth_table_new(c->res);
		berth_table_add(t, c->res, obj, include_object(c));
		rv = berth_json_path(obj, "metadata.resourceVersion");
		if (rv)
			json_object_object_add(meta(t), "resourceVersion",
					       json_object_get(rv));
		json_object_put(obj);
		obj = t;
	}
	berth_resp_json(c->resp, code, obj);
}

static void do_get(struct berth_call *c)
{
	struct berth_kv kv = { 0 };
	struct json_object *obj;
	char key[KEY_MAX];
	int err;

	err = key_of(c, c->name, key);
	if (!err)
		err = berth_store_get(c->api->store, key, &kv);
	if (err) {
		berth_rest_store_error(c, err, c->name);
		return;
	}
	obj = berth_obj_from_store(kv.value, kv.value_len, kv.mod_revision);
	berth_kv_free(&kv);
	if (!obj) {
		berth_resp_error(c->resp, 500, NULL,
				 "stored object is corrupt");
		return;
	}
	if (c->sub && !strcmp(c->sub, "scale")) {
		berth_resp_json(c->resp, 200, scale_of(obj));
		json_object_put(obj);
		return;
	}
	respond_object(c, 200, obj);
}

/* ---- LIST ---- */

/*
 * A LIST reads the store LIST_PAGE keys at a time, every page at the
 * revision of the first, so the list is consistent and what it holds does
 * not grow with the number of objects: the body is streamed as it is read
 * (list_stream), unless the client asked for a page small enough to build
 * whole. Errors are answered as a Status only before the first byte: the
 * first page is read before the 200 is committed to.
 */
#define LIST_PAGE 100 /* keys per store read */
/* a limit up to this is answered whole: kubectl's --chunk-size (500) */
#define LIST_WHOLE_MAX 500
/*
 * After a body this large, give the heap it used back: each connection's
 * thread has its own malloc arena, which keeps what it freed otherwise
 * (16 concurrent pages of 500 pods: 65 MB after, 20 MB with the trim).
 */
#define LIST_TRIM_BYTES (256 * 1024)

/* The objects of a LIST that pass its selectors, in key order. */
struct list_iter {
	struct berth_store *store;
	struct berth_selector *ls, *fs; /* not owned */
	char prefix[KEY_MAX];
	char *start; /* read after this key (malloc'd), NULL: from the first */
	int64_t rev; /* asked for (0: now), then the first page's */
	size_t limit, count; /* limit 0: no limit */
	struct berth_kv_list page;
	size_t next; /* index in page */
	bool more; /* keys after page */
	char *cont; /* continue token, once limit is reached with keys left */
};

/* The next page, after the last key of this one. */
static int list_fetch(struct list_iter *it)
{
	size_t n = it->limit && it->limit < LIST_PAGE ? it->limit : LIST_PAGE;
	char *last;

	if (it->page.n) {
		last = strdup(it->page.items[it->page.n - 1].key);
		if (!last)
			return -ENOMEM;
		free(it->start);
		it->start = last;
	}
	berth_kv_list_free(&it->page);
	it->next = 0;
	return berth_store_list(it->store, it->prefix, it->start, n, it->rev,
				&it->page, &it->rev, &it->more);
}

/* *out: the next object (reference to the caller), NULL at the end. */
static int list_next(struct list_iter *it, struct json_object **out)
{
	const struct berth_kv *kv;
	struct json_object *o;
	int err;

	*out = NULL;
	for (;;) {
		if (it->next == it->page.n) {
			if (!it->more || !it->page.n)
				return 0;
			err = list_fetch(it);
			if (err)
				return err;
			continue;
		}
		kv = &it->page.items[it->next++];
		o = berth_obj_from_store(kv->value, kv->value_len,
					 kv->mod_revision);
		if (!o || !berth_rest_match(it->ls, it->fs, o)) {
			json_object_put(o);
			continue;
		}
		if (it->limit && ++it->count == it->limit &&
		    (it->next < it->page.n || it->more)) {
			it->cont = make_continue(it->rev, kv->key);
			it->next = it->page.n;
			it->more = false;
		}
		*out = o;
		return 0;
	}
}

static void list_close(struct list_iter *it)
{
	berth_kv_list_free(&it->page);
	free(it->start);
	free(it->cont);
	it->start = it->cont = NULL;
}

static void list_error(struct berth_call *c, int err, int64_t at_rev)
{
	const char *cont = berth_http_query(c->req, "continue");
	const char *rv_s = berth_http_query(c->req, "resourceVersion");

	if (err == -ESTALE && cont && *cont)
		berth_resp_error(
			c->resp, 410, "Expired",
			"The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
	else if (err == -ESTALE)
		berth_resp_error(c->resp, 410, "Expired",
				 "too old resource version: %s",
				 rv_s ? rv_s : "");
	else if (err == -EINVAL && at_rev)
		berth_resp_error(c->resp, 504, "Timeout",
				 "Too large resource version: %lld",
				 (long long)at_rev);
	else
		berth_rest_store_error(c, err, "");
}

/*
 * limit, continue, resourceVersion(Match) into it, and the first page read:
 * 0, or -1 with the error answered. list_close it after 0.
 */
static int list_open(struct berth_call *c, struct berth_selector *ls,
		     struct berth_selector *fs, struct list_iter *it)
{
	const char *limit_s = berth_http_query(c->req, "limit");
	const char *cont = berth_http_query(c->req, "continue");
	const char *rv_s = berth_http_query(c->req, "resourceVersion");
	const char *match = berth_http_query(c->req, "resourceVersionMatch");
	int64_t at_rev, rev;
	bool ok;
	int err;

	memset(it, 0, sizeof(*it));
	it->store = c->api->store;
	it->ls = ls;
	it->fs = fs;
	key_of(c, NULL, it->prefix);
	if (limit_s && *limit_s) {
		long long v = strtoll(limit_s, NULL, 10);

		it->limit = v > 0 ? (size_t)v : 0;
	}
	if (cont && *cont) {
		if (rv_s && *rv_s && strcmp(rv_s, "0")) {
			berth_resp_error(
				c->resp, 400, NULL,
				"specifying resource version is not allowed when using continue");
			return -1;
		}
		if (parse_continue(cont, it->prefix, &it->rev, &it->start)) {
			berth_resp_error(c->resp, 400, NULL,
					 "continue key is not valid");
			return -1;
		}
	} else if (rv_s && *rv_s) {
		int64_t want = parse_rv(rv_s, &ok);

		if (!ok) {
			berth_resp_error(c->resp, 400, NULL,
					 "invalid resource version \"%s\"",
					 rv_s);
			return -1;
		}
		if (match && !strcmp(match, "Exact")) {
			it->rev = want;
		} else if (want && !berth_store_revision(c->api->store, &rev) &&
			   want > rev) {
			berth_resp_error(
				c->resp, 504, "Timeout",
				"Too large resource version: %lld, current: %lld",
				(long long)want, (long long)rev);
			return -1;
		}
	}
	at_rev = it->rev;
	err = list_fetch(it);
	if (err) {
		list_close(it);
		list_error(c, err, at_rev);
		return -1;
	}
	return 0;
}

struct list_page {
	struct json_object *items;
	int64_t rev;
	char *cont; /* continue token or NULL */
};

/* The rest of it into pg, then closed: 0, or -1 with the error answered. */
static int list_collect(struct berth_call *c, struct list_iter *it,
			struct list_page *pg)
{
	struct json_object *o;
	int err;

	pg->items = json_object_new_array();
	while (!(err = list_next(it, &o)) && o)
		json_object_array_add(pg->items, o);
	if (err) {
		json_object_put(pg->items);
		pg->items = NULL;
		list_error(c, err, it->rev);
	} else {
		pg->rev = it->rev;
		pg->cont = it->cont;
		it->cont = NULL;
	}
	list_close(it);
	return err ? -1 : 0;
}

/* The whole list (as far as limit): 0, or -1 with the error answered. */
static int list_page(struct berth_call *c, struct berth_selector *ls,
		     struct berth_selector *fs, struct list_page *pg)
{
	struct list_iter it;

	if (list_open(c, ls, fs, &it))
		return -1;
	return list_collect(c, &it, pg);
}

/*
 * What holds a list's items: a Table (in "rows") or a <Kind>List (in
 * "items"), with metadata.resourceVersion.
 */
static struct json_object *list_shell(struct berth_call *c, bool table,
				      int64_t rev)
{
	struct json_object *list;
	char av[96], kind[96], rv[24];

	if (table) {
		list = berth_table_new(c->res);
	} else {
		list = json_object_new_object();
		snprintf(kind, sizeof(kind), "%sList", c->res->kind);
		berth_resource_api_version(c->res, av, sizeof(av));
		berth_json_set_str(list, "kind", kind);
		berth_json_set_str(list, "apiVersion", av);
		json_object_object_add(list, "metadata",
				       json_object_new_object());
		json_object_object_add(list, "items", json_object_new_array());
	}
	snprintf(rv, sizeof(rv), "%lld", (long long)rev);
	berth_json_set_str(meta(list), "resourceVersion", rv);
	return list;
}

/* A list built whole: a page the client asked to be small. */
static void list_whole(struct berth_call *c, struct list_iter *it)
{
	bool table = berth_accept_table(c->req);
	struct list_page pg = { 0 };
	struct json_object *list;
	size_t i, n;

	if (list_collect(c, it, &pg))
		return;
	list = list_shell(c, table, pg.rev);
	if (table) {
		n = json_object_array_length(pg.items);
		for (i = 0; i < n; i++)
			berth_table_add(list, c->res,
					json_object_array_get_idx(pg.items, i),
					include_object(c));
		json_object_put(pg.items);
	} else {
		json_object_object_add(list, "items", pg.items);
	}
	if (pg.cont)
		berth_json_set_str(meta(list), "continue", pg.cont);
	free(pg.cont);
	berth_resp_json(c->resp, 200, list);
	if (c->resp->len >= LIST_TRIM_BYTES)
		malloc_trim(0);
}

/*
 * A streamed list body: the list's head, its items one after another as
 * they are read, then the tail. With a limit the metadata (which holds the
 * continue token, known only at the end) comes after the items.
 */
struct list_stream {
	struct list_iter it;
	struct berth_selector *ls, *fs;
	const struct berth_resource *res;
	/* a Table that makes one row at a time; NULL: items are objects */
	struct json_object *table;
	char *include; /* includeObject, for rows */
	struct json_object *md; /* metadata for the tail, or NULL */
	size_t n; /* items written */
	size_t sent; /* bytes handed to http.c */
	bool done; /* the tail is in out */
	struct printbuf *out; /* to send: from off to out->bpos */
	size_t off;
};

static int ls_put(struct list_stream *ls, const char *s, size_t n)
{
	return printbuf_memappend(ls->out, s, (int)n) < 0 ? -ENOMEM : 0;
}

/* shell serialised without key and its closing brace, then ,"key":[ */
static int ls_head(struct list_stream *ls, struct json_object *shell,
		   const char *key)
{
	const char *js;
	size_t len;
	char open[16];
	int n;

	json_object_object_del(shell, key);
	js = berth_json_str(shell, &len);
	n = snprintf(open, sizeof(open), ",\"%s\":[", key);
	if (!js || len < 2 || ls_put(ls, js, len - 1) ||
	    ls_put(ls, open, (size_t)n))
		return -ENOMEM;
	return 0;
}

static int ls_tail(struct list_stream *ls)
{
	const char *js;
	size_t len;

	ls->done = true;
	if (!ls->md)
		return ls_put(ls, "]}", 2);
	if (ls->it.cont)
		berth_json_set_str(ls->md, "continue", ls->it.cont);
	js = berth_json_str(ls->md, &len);
	if (ls_put(ls, "],\"metadata\":", 13) || ls_put(ls, js, len) ||
	    ls_put(ls, "}", 1))
		return -ENOMEM;
	return 0;
}

/* One more item into out, or the tail after the last. */
static int ls_fill(struct list_stream *ls)
{
	struct json_object *o, *rows = NULL;
	const char *js;
	size_t len;
	int err;

	err = list_next(&ls->it, &o);
	if (err)
		return err;
	if (!o)
		return ls_tail(ls);
	if (ls->n++ && ls_put(ls, ",", 1)) {
		json_object_put(o);
		return -ENOMEM;
	}
	if (ls->table) {
		berth_table_add(ls->table, ls->res, o, ls->include);
		json_object_object_get_ex(ls->table, "rows", &rows);
		js = berth_json_str(json_object_array_get_idx(rows, 0), &len);
	} else {
		js = berth_json_str(o, &len);
	}
	err = ls_put(ls, js, len);
	if (rows)
		json_object_array_del_idx(rows, 0, 1);
	json_object_put(o);
	return err;
}

/* berth_stream_fn; below -1 (http.c) cuts the connection: no valid end. */
static ssize_t ls_read(void *ctx, char *buf, size_t max)
{
	struct list_stream *ls = ctx;
	struct printbuf *out = ls->out;
	size_t n;
	int err;

	if (ls->off) {
		memmove(out->buf, out->buf + ls->off, out->bpos - ls->off);
		out->bpos -= (int)ls->off;
		ls->off = 0;
	}
	while ((size_t)out->bpos < max && !ls->done) {
		err = ls_fill(ls);
		if (err) {
			pr_warn("list %s at %lld: %s after the response began, cutting it short",
				ls->it.prefix, (long long)ls->it.rev,
				err == -ESTALE ? "revision compacted" :
						 strerror(-err));
			return -2;
		}
	}
	n = (size_t)out->bpos < max ? (size_t)out->bpos : max;
	if (!n)
		return -1;
	memcpy(buf, out->buf, n);
	ls->off = n;
	ls->sent += n;
	return (ssize_t)n;
}

static void ls_free(void *ctx)
{
	struct list_stream *ls = ctx;

	list_close(&ls->it);
	berth_selector_free(ls->ls);
	berth_selector_free(ls->fs);
	json_object_put(ls->table);
	json_object_put(ls->md);
	free(ls->include);
	if (ls->out)
		printbuf_free(ls->out);
	if (ls->sent >= LIST_TRIM_BYTES)
		malloc_trim(0);
	free(ls);
}

/*
 * Answer with a streamed body. Takes it (its first page read) and the
 * selectors, whatever happens.
 */
static void list_stream(struct berth_call *c, struct list_iter *it,
			struct berth_selector *ls, struct berth_selector *fs)
{
	bool table = berth_accept_table(c->req);
	const char *inc = include_object(c);
	struct list_stream *st;
	struct json_object *shell;
	int err = -ENOMEM;

	st = calloc(1, sizeof(*st));
	if (!st) {
		list_close(it);
		berth_selector_free(ls);
		berth_selector_free(fs);
		berth_resp_error(c->resp, 500, NULL, "out of memory");
		return;
	}
	st->it = *it;
	st->ls = ls;
	st->fs = fs;
	st->res = c->res;
	st->out = printbuf_new();
	shell = list_shell(c, table, it->rev);
	if (it->limit) {
		st->md = json_object_get(meta(shell));
		json_object_object_del(shell, "metadata");
	}
	if (table) {
		st->table = berth_table_new(c->res);
		st->include = inc ? strdup(inc) : NULL;
		if (!st->table || (inc && !st->include))
			goto fail;
	}
	err = st->out ? ls_head(st, shell, table ? "rows" : "items") : -ENOMEM;
	if (err)
		goto fail;
	json_object_put(shell);
	c->resp->code = 200;
	c->resp->content_type = "application/json";
	c->resp->stream = ls_read;
	c->resp->stream_ctx = st;
	c->resp->stream_free = ls_free;
	return;
fail:
	json_object_put(shell);
	ls_free(st);
	berth_resp_error(c->resp, 500, NULL, "list: %s", strerror(-err));
}

static void do_list(struct berth_call *c)
{
	struct berth_selector *ls, *fs;
	struct list_iter it;

	if (berth_rest_selectors(c, &ls, &fs))
		return;
	if (!list_open(c, ls, fs, &it)) {
		if (!it.limit || it.limit > LIST_WHOLE_MAX) {
			list_stream(c, &it, ls, fs);
			return;
		}
		list_whole(c, &it);
	}
	berth_selector_free(ls);
	berth_selector_free(fs);
}

/* ---- CREATE ---- */

static bool has_status_sub(const struct berth_resource *r)
{
	return r->subresources & BERTH_SUB_STATUS;
}

/* A namespace that must exist (and not be terminating) to create in. */
static int check_namespace(struct berth_call *c, const char *name)
{
	const struct berth_resource *nsr =
		berth_resource_find("", "v1", "namespaces");
	struct berth_kv kv = { 0 };
	struct json_object *ns, *st;
	char key[KEY_MAX], q[128];
	int err;

	berth_resource_key(nsr, NULL, c->ns, key, sizeof(key));
	err = berth_store_get(c->api->store, key, &kv);
	if (err == -ENOENT) {
		st = berth_status_new(404, "NotFound",
				      "namespaces \"%s\" not found", c->ns);
		berth_resp_status(c->resp, berth_status_details(st, c->ns, "",
								"namespaces"));
		return -1;
	}
	if (err) {
		berth_rest_store_error(c, err, name);
		return -1;
	}
	ns = berth_json_parse(kv.value, kv.value_len, NULL);
	berth_kv_free(&kv);
	if (berth_json_path(ns, "metadata.deletionTimestamp")) {
		berth_qualified_name(c->res, q, sizeof(q));
		st = berth_status_new(
			403, "Forbidden",
			"%s \"%s\" is forbidden: unable to create new content in namespace %s because it is being terminated",
			q, name, c->ns);
		berth_resp_status(c->resp,
				  berth_status_details(st, name, c->res->group,
						       c->res->name));
		json_object_put(ns);
		return -1;
	}
	json_object_put(ns);
	return 0;
}

static void generate_name(struct berth_call *c, struct json_object *m,
			  const char *prefix)
{
	static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char r[5];
	char name[300];
	size_t n = strlen(prefix), i;

	(void)c;
	if (n > 253 - 5)
		n = 253 - 5;
	memcpy(name, prefix, n);
	fill_random(r, sizeof(r));
	for (i = 0; i < 5; i++)
		name[n + i] = alnum[r[i] % (sizeof(alnum) - 1)];
	name[n + 5] = 0;
	berth_json_set_str(m, "name", name);
}

/*
 * The part of a create that needs no store: metadata set or cleared, the
 * name generated and validated. 0, or -1 with the error answered.
 */
static int create_prepare(struct berth_call *c, struct json_object *obj)
{
	struct json_object *m = berth_json_path(obj, "metadata"), *v;
	const char *name, *gen, *bns;
	char uid[40], now[32];
	struct berth_verrs ve = { 0 };

	if (m && !json_object_is_type(m, json_type_object)) {
		berth_resp_error(c->resp, 400, NULL,
				 "metadata must be an object");
		return -1;
	}
	m = meta(obj);
	bns = berth_json_get_str(m, "namespace");
	if (c->res->namespaced) {
		if (bns && *bns && strcmp(bns, c->ns)) {
			berth_resp_error(
				c->resp, 400, NULL,
				"the namespace of the provided object does not match the namespace sent on the request");
			return -1;
		}
		berth_json_set_str(m, "namespace", c->ns);
	} else {
		json_object_object_del(m, "namespace");
	}
	if (json_object_object_get_ex(m, "resourceVersion", &v) &&
	    json_object_is_type(v, json_type_string) &&
	    *json_object_get_string(v)) {
		berth_resp_error(
			c->resp, 400, NULL,
			"resourceVersion should not be set on objects to be created");
		return -1;
	}
	json_object_object_del(m, "resourceVersion");
	json_object_object_del(m, "selfLink");
	json_object_object_del(m, "deletionTimestamp");
	json_object_object_del(m, "deletionGracePeriodSeconds");
	berth_new_uid(uid, sizeof(uid));
	berth_json_set_str(m, "uid", uid);
	berth_now_rfc3339(now, sizeof(now));
	berth_json_set_str(m, "creationTimestamp", now);
	if (json_object_object_get_ex(obj, "spec", &v))
		berth_json_set_int(m, "generation", 1);
	else
		json_object_object_del(m, "generation");
	if (has_status_sub(c->res) && strcmp(c->res->kind, "Node"))
		json_object_object_del(obj, "status");

	name = berth_json_get_str(m, "name");
	gen = berth_json_get_str(m, "generateName");
	if ((!name || !*name) && gen && *gen)
		generate_name(c, m, gen);
	name = berth_json_get_str(m, "name");
	if (!name || !*name)
		berth_verr(&ve, BERTH_VERR_REQUIRED, "metadata.name", NULL,
			   "name or generateName is required");
	else
		berth_validate_name(c->res, name, &ve);
	if (ve.n) {
		berth_resp_status(c->resp,
				  berth_verrs_status(&ve, c->res, name));
		return -1;
	}
	return 0;
}

/*
 * Who makes the request, for admission. No plugin here limits by user yet
 * (NodeRestriction is judged with the Node authorizer, nodeauthz.c): NULL.
 */
static const struct berth_admit_user *call_user(struct berth_call *c)
{
	(void)c;
	return NULL;
}

/* Admission of obj (old on update); 0, or -1 with the refusal answered. */
static int admission(struct berth_call *c, enum berth_admit_op op,
		     struct json_object *obj, struct json_object *old,
		     bool validate, bool dry)
{
	struct berth_admission_req rq = {
		.api = c->api,
		.res = c->res,
		.ns = c->ns,
		.name = berth_json_path_str(obj, "metadata.name"),
		.sub = c->sub,
		.op = op,
		.obj = obj,
		.old = old,
		.user = call_user(c),
		.dry = dry,
	};
	struct json_object *st;
	char warn[2048];

	if (!c->api)
		return 0;
	st = validate ? berth_admission_validate(&rq, warn, sizeof(warn)) :
			berth_admission_mutate(&rq);
	if (validate && !st && *warn)
		set_warning(c, warn);
	if (!st)
		return 0;
	berth_resp_status(c->resp, st);
	return -1;
}

static bool is_csr(const struct berth_call *c)
{
	return !strcmp(c->res->kind, "CertificateSigningRequest");
}

/* Everything of a create after the body is read: obj reference taken. */
static void create_object(struct berth_call *c, struct json_object *obj,
			  bool dry)
{
	struct json_object *m;
	const char *name, *gen;
	char key[KEY_MAX];
	struct berth_verrs ve = { 0 };
	bool locked = false;
	int64_t rev = 0;
	int err = 0, try;

	if (create_prepare(c, obj))
		goto out;
	m = meta(obj);
	gen = berth_json_get_str(m, "generateName");
	name = berth_json_get_str(m, "name");
	/* NamespaceLifecycle, then kube-apiserver's order: mutating
	 * admission, defaulting and validation, validating admission */
	if (c->res->namespaced && check_namespace(c, name))
		goto out;
	if (admission(c, BERTH_ADMIT_CREATE, obj, NULL, false, dry))
		goto out;
	berth_admit(c->res, obj, NULL, &ve);
	if (!ve.n && is_csr(c))
		berth_csr_create(c, obj, &ve);
	if (ve.n) {
		berth_resp_status(c->resp,
				  berth_verrs_status(&ve, c->res, name));
		goto out;
	}
	if (admission(c, BERTH_ADMIT_CREATE, obj, NULL, true, dry))
		goto out;
	for (try = 0; try < GENERATE_RETRIES; try++) {
		name = berth_json_path_str(obj, "metadata.name");
		err = key_of(c, name, key);
		if (err)
			break;
		if (!strcmp(c->res->kind, "Service")) {
			pthread_mutex_lock(&c->api->alloc_lock);
			locked = true;
			err = berth_alloc_service(c->api, obj, NULL, &ve);
			if (err)
				break;
			if (ve.n) {
				berth_resp_status(
					c->resp,
					berth_verrs_status(&ve, c->res, name));
				goto out;
			}
		}
		if (dry)
			break;
		{
			size_t len;
			const char *js = berth_json_str(obj, &len);

			err = berth_store_create(c->api->store, key, js, len, 0,
						 &rev);
		}
		if (locked) {
			pthread_mutex_unlock(&c->api->alloc_lock);
			locked = false;
		}
		if (err != -EEXIST || !(gen && *gen))
			break;
		generate_name(c, m, gen);
	}
	if (err) {
		berth_rest_store_error(c, err, name);
		goto out;
	}
	if (!dry)
		berth_obj_set_rv(obj, rev);
	berth_resp_json(c->resp, 201, json_object_get(obj));
out:
	if (locked)
		pthread_mutex_unlock(&c->api->alloc_lock);
	json_object_put(obj);
}

/* fieldManager, else the User-Agent's program name, as Kubernetes does. */
static const char *field_manager(struct berth_call *c, char *buf, size_t size)
{
	const char *fm, *ua;

	if (!c->req)
		return "berth-server";
	fm = berth_http_query(c->req, "fieldManager");
	ua = berth_http_header(c->req, "User-Agent");
	if (fm && *fm)
		return fm;
	if (!ua || !*ua)
		return "unknown";
	snprintf(buf, size, "%.*s", (int)strcspn(ua, "/"), ua);
	return buf;
}

static void do_create(struct berth_call *c)
{
	struct json_object *obj;
	char fm[FIELD_MANAGER_MAX + 1];
	bool dry;

	if (dry_run(c, &dry) || body_object(c, &obj, false))
		return;
	if (check_own_type(c, obj) || field_validation(c, obj)) {
		json_object_put(obj);
		return;
	}
	berth_managed_update(NULL, obj, field_manager(c, fm, sizeof(fm)), NULL);
	create_object(c, obj, dry);
}

int berth_rest_check_create(const struct berth_resource *r, const char *ns,
			    const char *body, size_t len, bool proto,
			    struct berth_http_resp *resp)
{
	struct berth_http_req req = { .method = "POST",
				      .body = body,
				      .body_len = len };
	struct berth_call c = { .req = &req, .resp = resp, .res = r, .ns = ns };
	struct berth_verrs ve = { 0 };
	struct json_object *obj;
	const char *name;
	char msg[160];

	if (proto) {
		obj = berth_proto_decode(body, len, msg, sizeof(msg));
		if (!obj) {
			berth_resp_error(resp, 415, NULL, "%s", msg);
			return resp->code;
		}
	} else if (body_object(&c, &obj, false)) {
		return resp->code;
	}
	if (check_own_type(&c, obj) || field_validation(&c, obj) ||
	    create_prepare(&c, obj))
		goto out;
	berth_admit(r, obj, NULL, &ve);
	if (ve.n) {
		name = berth_json_path_str(obj, "metadata.name");
		berth_resp_status(resp, berth_verrs_status(&ve, r, name));
		goto out;
	}
	berth_resp_json(resp, 201, json_object_get(obj));
out:
	json_object_put(obj);
	return resp->code;
}

int berth_rest_create(struct berth_api *api, const struct berth_resource *r,
		      const char *ns, struct json_object *obj)
{
	struct berth_http_resp resp = { 0 };
	struct berth_call c = { .api = api, .resp = &resp, .res = r, .ns = ns };
	char av[96];

	berth_resource_api_version(r, av, sizeof(av));
	berth_json_set_str(obj, "kind", r->kind);
	berth_json_set_str(obj, "apiVersion", av);
	create_object(&c, json_object_get(obj), false);
	if (resp.code != 201 && resp.body)
		pr_debug("create %s: %d %s", r->name, resp.code, resp.body);
	free(resp.body);
	free(resp.warning);
	return resp.code;
}

/* ---- UPDATE and PATCH ---- */

enum mutation { MUT_PUT, MUT_MERGE, MUT_JSON, MUT_STRATEGIC, MUT_APPLY };

/* Does the request itself name a resourceVersion (a precondition)? */
static bool explicit_rv(enum mutation m, struct json_object *body)
{
	size_t i, n;

	if (m != MUT_JSON) {
		const char *rv =
			berth_json_path_str(body, "metadata.resourceVersion");

		return rv && *rv;
	}
	n = json_object_array_length(body);
	for (i = 0; i < n; i++) {
		const char *p = berth_json_get_str(
			json_object_array_get_idx(body, i), "path");

		if (p && strstr(p, "resourceVersion"))
			return true;
	}
	return false;
}

static bool force(struct berth_call *c)
{
	const char *f = c->req ? berth_http_query(c->req, "force") : NULL;

	return f && !strcmp(f, "true");
}

static struct json_object *mutate(struct berth_call *c, enum mutation m,
				  struct json_object *target,
				  struct json_object *body)
{
	struct berth_apply_opts opts = { 0 };
	char err[512];
	struct json_object *out = NULL;
	struct json_object *st;

	switch (m) {
	case MUT_PUT:
		return berth_json_copy(body);
	case MUT_MERGE:
		out = berth_merge_patch(target, body, err, sizeof(err));
		break;
	case MUT_JSON:
		out = berth_json_patch(target, body, err, sizeof(err));
		break;
	case MUT_STRATEGIC:
		out = berth_strategic_patch(target, body, err, sizeof(err));
		break;
	case MUT_APPLY:
		opts.manager = berth_http_query(c->req, "fieldManager");
		opts.force = force(c);
		out = berth_apply(target, body, &opts, &st);
		if (!out) {
			berth_resp_status(c->resp,
					  berth_status_details(st, c->name,
							       c->res->group,
							       c->res->name));
			return NULL;
		}
		break;
	}
	if (!out) {
		st = berth_status_new(422, "Invalid", "%s", err);
		berth_resp_status(c->resp, st);
		return NULL;
	}
	if (!json_object_is_type(out, json_type_object) || bad_metadata(out)) {
		json_object_put(out);
		berth_resp_error(
			c->resp, 422, "Invalid",
			"the patched object is not a valid object (metadata must be an object)");
		return NULL;
	}
	return out;
}

/* new (owned) from the request; old is the stored object. */
static struct json_object *merge_update(struct berth_call *c,
					struct json_object *old,
					struct json_object *new)
{
	static const char *const keep[] = { "uid",
					    "creationTimestamp",
					    "namespace",
					    "deletionTimestamp",
					    "deletionGracePeriodSeconds",
					    "generation",
					    NULL };
	struct json_object *om = meta(old), *nm, *v, *ospec, *nspec;
	int64_t gen;
	int i;

	if (c->sub &&
	    (!strcmp(c->sub, "status") || !strcmp(c->sub, "approval"))) {
		struct json_object *fin = berth_json_copy(old);

		if (json_object_object_get_ex(new, "status", &v))
			json_object_object_add(fin, "status",
					       berth_json_copy(v));
		else
			json_object_object_del(fin, "status");
		json_object_put(new);
		new = fin;
	} else if (has_status_sub(c->res)) {
		if (json_object_object_get_ex(old, "status", &v))
			json_object_object_add(new, "status",
					       berth_json_copy(v));
		else
			json_object_object_del(new, "status");
	}
	nm = meta(new);
	for (i = 0; keep[i]; i++) {
		if (json_object_object_get_ex(om, keep[i], &v))
			json_object_object_add(nm, keep[i], berth_json_copy(v));
		else
			json_object_object_del(nm, keep[i]);
	}
	json_object_object_del(nm, "resourceVersion");
	json_object_object_del(nm, "selfLink");
	gen = berth_json_get_int(om, "generation", 0);
	json_object_object_get_ex(old, "spec", &ospec);
	if (!json_object_object_get_ex(new, "spec", &nspec))
		nspec = NULL;
	if (gen && !berth_json_equal(ospec, nspec))
		berth_json_set_int(nm, "generation", gen + 1);
	return new;
}

static bool empty_list(struct json_object *f)
{
	return !json_object_is_type(f, json_type_array) ||
	       !json_object_array_length(f);
}

/* Deleting and held by nothing (spec.finalizers: a namespace's). */
static bool finalized(struct json_object *obj)
{
	return berth_json_path(obj, "metadata.deletionTimestamp") &&
	       empty_list(berth_json_path(obj, "metadata.finalizers")) &&
	       empty_list(berth_json_path(obj, "spec.finalizers"));
}

/* Server-side apply of an object that does not exist yet: a create. */
static void apply_create(struct berth_call *c, struct json_object *body,
			 bool dry)
{
	struct berth_apply_opts opts = { .manager = berth_http_query(
						 c->req, "fieldManager"),
					 .force = force(c) };
	struct json_object *obj, *st;
	const char *name;

	obj = berth_apply(NULL, body, &opts, &st);
	if (!obj) {
		berth_resp_status(c->resp, berth_status_details(st, c->name,
								c->res->group,
								c->res->name));
		return;
	}
	name = berth_json_path_str(obj, "metadata.name");
	if (name && *name && strcmp(name, c->name)) {
		berth_resp_error(
			c->resp, 400, NULL,
			"the name of the object (%s) does not match the name on the URL (%s)",
			name, c->name);
		json_object_put(obj);
		return;
	}
	berth_json_set_str(meta(obj), "name", c->name);
	if (check_own_type(c, obj)) {
		json_object_put(obj);
		return;
	}
	create_object(c, obj, dry);
}

/* body: the PUT object or the patch; reference kept by the caller. */
static void do_update(struct berth_call *c, enum mutation m,
		      struct json_object *body)
{
	bool dry, scale = c->sub && !strcmp(c->sub, "scale");
	bool expl = explicit_rv(m, body), ok, locked = false;
	struct json_object *old = NULL, *new = NULL, *fin = NULL, *target;
	struct berth_kv kv = { 0 };
	char key[KEY_MAX], fm[FIELD_MANAGER_MAX + 1];
	int64_t rev;
	int err, attempt;

	if (dry_run(c, &dry))
		return;
	if (key_of(c, c->name, key)) {
		not_found(c, c->name);
		return;
	}
	for (attempt = 0; attempt < UPDATE_RETRIES; attempt++) {
		struct berth_verrs ve = { 0 };
		const char *name, *rvs;
		int64_t want;

		err = berth_store_get(c->api->store, key, &kv);
		if (err == -ENOENT && m == MUT_APPLY && !c->sub) {
			apply_create(c, body, dry);
			return;
		}
		if (err) {
			berth_rest_store_error(c, err, c->name);
			return;
		}
		old = berth_obj_from_store(kv.value, kv.value_len,
					   kv.mod_revision);
		if (!old) {
			berth_resp_error(c->resp, 500, NULL,
					 "stored object is corrupt");
			goto out;
		}
		target = scale ? scale_of(old) : json_object_get(old);
		new = mutate(c, m, target, body);
		json_object_put(target);
		if (!new)
			goto out;
		if (scale) {
			struct json_object *r =
				berth_json_path(new, "spec.replicas");

			if (check_type(c, new, "Scale", "autoscaling/v1"))
				goto out;
			if (!json_object_is_type(r, json_type_int) ||
			    json_object_get_int64(r) < 0) {
				berth_verr(
					&ve, BERTH_VERR_INVALID,
					"spec.replicas",
					r ? json_object_to_json_string(r) :
					    "null",
					"must be greater than or equal to 0");
				berth_resp_status(
					c->resp, berth_verrs_status(&ve, c->res,
								    c->name));
				goto out;
			}
		} else if (check_own_type(c, new)) {
			goto out;
		}
		name = berth_json_path_str(new, "metadata.name");
		if (!name || !*name) {
			berth_json_set_str(meta(new), "name", c->name);
		} else if (strcmp(name, c->name)) {
			berth_resp_error(
				c->resp, 400, NULL,
				"the name of the object (%s) does not match the name on the URL (%s)",
				name, c->name);
			goto out;
		}
		rvs = berth_json_path_str(new, "metadata.resourceVersion");
		if (rvs && *rvs) {
			want = parse_rv(rvs, &ok);
			if (!ok) {
				berth_resp_error(
					c->resp, 400, NULL,
					"invalid resourceVersion \"%s\"", rvs);
				goto out;
			}
			if (want != kv.mod_revision) {
				conflict(c, c->name);
				goto out;
			}
		}
		if (scale) {
			struct json_object *full = berth_json_copy(old);

			berth_json_set_int(
				berth_json_obj(full, "spec"), "replicas",
				berth_json_get_int(berth_json_path(new, "spec"),
						   "replicas", 1));
			json_object_put(new);
			new = full;
		}
		fin = merge_update(c, old, new);
		new = NULL;
		if (m != MUT_APPLY)
			berth_managed_update(old, fin,
					     field_manager(c, fm, sizeof(fm)),
					     c->sub);
		if (admission(c, BERTH_ADMIT_UPDATE, fin, old, false, dry))
			goto out;
		if (!c->sub || scale)
			berth_admit(c->res, fin, old, &ve);
		else if (is_csr(c)) {
			struct json_object *st =
				berth_csr_approval_check(c, fin, old);

			if (st) {
				berth_resp_status(c->resp, st);
				goto out;
			}
			berth_csr_update(c, fin, old, &ve);
		}
		if (!ve.n &&
		    admission(c, BERTH_ADMIT_UPDATE, fin, old, true, dry))
			goto out;
		if (!ve.n && !strcmp(c->res->kind, "Service")) {
			pthread_mutex_lock(&c->api->alloc_lock);
			locked = true;
			err = berth_alloc_service(c->api, fin, old, &ve);
			if (err) {
				berth_rest_store_error(c, err, c->name);
				goto out;
			}
		}
		if (ve.n) {
			berth_resp_status(c->resp,
					  berth_verrs_status(&ve, c->res,
							     c->name));
			goto out;
		}
		json_object_object_del(meta(old), "resourceVersion");
		/* a stale value (an older encryption key) is rewritten: that
		 * is how keys rotate */
		if (berth_json_equal(old, fin) && !kv.stale) {
			/* nothing changed: no write, no event */
			berth_obj_set_rv(fin, kv.mod_revision);
			break;
		}
		if (dry) {
			berth_obj_set_rv(fin, kv.mod_revision);
			break;
		}
		if (finalized(fin)) {
			err = berth_store_delete(c->api->store, key,
						 kv.mod_revision, NULL, &rev);
		} else {
			size_t len;
			const char *js = berth_json_str(fin, &len);

			err = berth_store_update(c->api->store, key, js, len,
						 kv.mod_revision, 0, &rev);
		}
		if (locked) {
			pthread_mutex_unlock(&c->api->alloc_lock);
			locked = false;
		}
		if (!err) {
			berth_obj_set_rv(fin, rev);
			break;
		}
		if (err != -ECANCELED || expl) {
			berth_rest_store_error(c, err, c->name);
			goto out;
		}
		json_object_put(old);
		json_object_put(fin);
		old = fin = NULL;
		berth_kv_free(&kv);
	}
	if (attempt == UPDATE_RETRIES) {
		conflict(c, c->name);
		goto out;
	}
	if (scale) {
		berth_resp_json(c->resp, 200, scale_of(fin));
		goto out;
	}
	respond_object(c, 200, json_object_get(fin));
out:
	if (locked)
		pthread_mutex_unlock(&c->api->alloc_lock);
	berth_kv_free(&kv);
	json_object_put(old);
	json_object_put(new);
	json_object_put(fin);
}

static void do_put(struct berth_call *c)
{
	struct json_object *body;

	if (body_object(c, &body, false))
		return;
	if (field_validation(c, body)) {
		json_object_put(body);
		return;
	}
	do_update(c, MUT_PUT, body);
	json_object_put(body);
}

static void do_patch(struct berth_call *c)
{
	const char *ctype = berth_http_header(c->req, "Content-Type");
	struct json_object *body;
	enum mutation m;

	if (media_is(ctype, "application/merge-patch+json")) {
		m = MUT_MERGE;
	} else if (media_is(ctype, "application/json-patch+json")) {
		m = MUT_JSON;
	} else if (media_is(ctype, "application/strategic-merge-patch+json")) {
		m = MUT_STRATEGIC;
	} else if (media_is(ctype, "application/apply-patch+yaml")) {
		const char *fm = berth_http_query(c->req, "fieldManager");

		if (!fm || !*fm) {
			berth_resp_error(
				c->resp, 400, NULL,
				"PATCH, fieldManager is required for apply requests");
			return;
		}
		m = MUT_APPLY;
	} else {
		berth_resp_error(
			c->resp, 415, NULL,
			"the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json");
		return;
	}
	if (body_object(c, &body, true))
		return;
	if (m == MUT_APPLY && (!json_object_is_type(body, json_type_object) ||
			       !berth_json_get_str(body, "apiVersion") ||
			       !berth_json_get_str(body, "kind"))) {
		berth_resp_error(
			c->resp, 400, NULL,
			"an apply configuration must be an object with apiVersion and kind");
		json_object_put(body);
		return;
	}
	if (m == MUT_APPLY && field_validation(c, body)) {
		json_object_put(body);
		return;
	}
	if ((m == MUT_JSON) != json_object_is_type(body, json_type_array)) {
		berth_resp_error(
			c->resp, 400, NULL,
			m == MUT_JSON ?
				"a json patch must be a list of operations" :
				"a merge patch must be a JSON object");
		json_object_put(body);
		return;
	}
	do_update(c, m, body);
	json_object_put(body);
}

/* ---- DELETE ---- */

struct del_opts {
	int64_t grace; /* -1: the object's own */
	const char *uid;
	const char *rv;
	const char *prop; /* propagationPolicy; NULL: keep the object's own */
	bool dry;
};

static int delete_opts(struct berth_call *c, struct del_opts *o,
		       struct json_object **body)
{
	const char *g = berth_http_query(c->req, "gracePeriodSeconds");
	const char *pp = berth_http_query(c->req, "propagationPolicy");
	struct json_object *v;

	*body = NULL;
	o->grace = -1;
	if (dry_run(c, &o->dry))
		return -1;
	if (c->req->body_len) {
		if (body_object(c, body, false))
			return -1;
		o->uid = berth_json_path_str(*body, "preconditions.uid");
		o->rv = berth_json_path_str(*body,
					    "preconditions.resourceVersion");
		v = berth_json_path(*body, "gracePeriodSeconds");
		if (json_object_is_type(v, json_type_int))
			o->grace = json_object_get_int64(v);
		if (!pp)
			pp = berth_json_path_str(*body, "propagationPolicy");
		v = berth_json_path(*body, "orphanDependents");
		if (!pp && json_object_is_type(v, json_type_boolean))
			pp = json_object_get_boolean(v) ? "Orphan" :
							  "Background";
		v = berth_json_path(*body, "dryRun");
		if (json_object_is_type(v, json_type_array) &&
		    json_object_array_length(v))
			o->dry = true;
	}
	if (g && *g)
		o->grace = strtoll(g, NULL, 10);
	/* the finalizers delete_one sets; the garbage collector acts on them */
	o->prop = pp;
	if (pp && strcmp(pp, "Orphan") && strcmp(pp, "Background") &&
	    strcmp(pp, "Foreground")) {
		berth_resp_error(
			c->resp, 400, NULL,
			"propagationPolicy: Unsupported value: \"%s\": supported values: \"Foreground\", \"Background\", \"Orphan\"",
			pp);
		return -1;
	}
	return 0;
}

/*
 * A namespace is not removed at once: it turns Terminating and the
 * namespace controller empties it, then drops its "kubernetes" finalizer.
 * Deleting it again once nothing holds it removes it.
 */
static int terminate_namespace(struct berth_call *c, const char *key,
			       const struct berth_kv *kv,
			       struct json_object *old, bool dry,
			       struct json_object **out)
{
	struct json_object *fin;
	char ts[32];
	const char *js;
	size_t len;
	int64_t rev;
	int err;

	if (berth_json_path(old, "metadata.deletionTimestamp")) {
		if (!dry && finalized(old)) {
			err = berth_store_delete(c->api->store, key,
						 kv->mod_revision, NULL, &rev);
			if (err)
				return err;
			berth_obj_set_rv(old, rev);
		}
		*out = json_object_get(old);
		return 0;
	}
	fin = berth_json_copy(old);
	berth_now_rfc3339(ts, sizeof(ts));
	berth_json_set_str(meta(fin), "deletionTimestamp", ts);
	berth_json_set_int(meta(fin), "deletionGracePeriodSeconds", 0);
	berth_json_set_str(berth_json_obj(fin, "status"), "phase",
			   "Terminating");
	if (dry) {
		*out = fin;
		return 0;
	}
	json_object_object_del(meta(fin), "resourceVersion");
	js = berth_json_str(fin, &len);
	err = berth_store_update(c->api->store, key, js, len, kv->mod_revision,
				 0, &rev);
	if (err) {
		json_object_put(fin);
		return err;
	}
	berth_obj_set_rv(fin, rev);
	*out = fin;
	return 0;
}

/*
 * The finalizers an object has after a delete with propagation policy pp,
 * as kube-apiserver sets them: "orphan" for Orphan, "foregroundDeletion"
 * for Foreground, neither for Background (which also takes an earlier
 * policy's finalizer back); no policy keeps what the object has. *changed
 * says whether that differs from its finalizers now.
 */
static struct json_object *gc_finalizers(struct json_object *obj,
					 const char *pp, bool *changed)
{
	struct json_object *f = berth_json_path(obj, "metadata.finalizers");
	struct json_object *nf = json_object_new_array();
	size_t i, n = json_object_is_type(f, json_type_array) ?
			      json_object_array_length(f) :
			      0;

	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(f, i);
		const char *s = json_object_get_string(e);

		if (pp && (streq(s, "orphan") || streq(s, "foregroundDeletion")))
			continue;
		json_object_array_add(nf, json_object_get(e));
	}
	if (streq(pp, "Orphan"))
		json_object_array_add(nf, json_object_new_string("orphan"));
	else if (streq(pp, "Foreground"))
		json_object_array_add(nf,
				      json_object_new_string("foregroundDeletion"));
	*changed = n != json_object_array_length(nf) ||
		   (n && !berth_json_equal(f, nf));
	return nf;
}

/* 0 and *out (the object as deleted or marked), or a Status in *st. */
static void delete_one(struct berth_call *c, const char *name,
		       const struct del_opts *o, struct json_object **out,
		       struct json_object **st)
{
	struct berth_kv kv = { 0 };
	struct json_object *old = NULL, *fin, *m, *fins = NULL;
	char key[KEY_MAX], q[128], ts[32];
	int64_t rev, grace;
	int err, attempt;

	*out = *st = NULL;
	berth_qualified_name(c->res, q, sizeof(q));
	if (key_of(c, name, key)) {
		*st = berth_status_new(404, "NotFound", "%s \"%s\" not found",
				       q, name);
		return;
	}
	for (attempt = 0; attempt < UPDATE_RETRIES; attempt++) {
		bool graceful = false, has_fin, fin_changed, dying;

		err = berth_store_get(c->api->store, key, &kv);
		if (err)
			break;
		old = berth_obj_from_store(kv.value, kv.value_len,
					   kv.mod_revision);
		if (!old) {
			err = -EIO;
			break;
		}
		m = meta(old);
		if (o->uid && !streq(o->uid, berth_json_get_str(m, "uid"))) {
			*st = berth_status_new(
				409, "Conflict",
				"Precondition failed: UID in precondition: %s, UID in object meta: %s",
				o->uid, berth_json_get_str(m, "uid") ?: "");
			goto out;
		}
		if (o->rv &&
		    !streq(o->rv, berth_json_get_str(m, "resourceVersion"))) {
			*st = berth_status_new(
				409, "Conflict",
				"Precondition failed: ResourceVersion in precondition: %s, ResourceVersion in meta: %s",
				o->rv,
				berth_json_get_str(m, "resourceVersion"));
			goto out;
		}
		json_object_put(fins);
		fins = gc_finalizers(old, o->prop, &fin_changed);
		has_fin = json_object_array_length(fins);
		dying = berth_json_path(old, "metadata.deletionTimestamp");
		if (!strcmp(c->res->kind, "Namespace")) {
			struct berth_admission_req rq = {
				.api = c->api, .res = c->res, .name = name,
				.op = BERTH_ADMIT_DELETE, .old = old,
				.user = call_user(c), .dry = o->dry,
			};

			*st = berth_admission_delete(&rq);
			if (*st)
				goto out;
			err = terminate_namespace(c, key, &kv, old, o->dry,
						  out);
			if (err == -ECANCELED)
				goto retry;
			if (err)
				break;
			goto out;
		}
		grace = o->grace;
		if (!strcmp(c->res->kind, "Pod")) {
			const char *node =
				berth_json_path_str(old, "spec.nodeName");

			if (grace < 0)
				grace = berth_json_get_int(
					berth_json_path(old, "spec"),
					"terminationGracePeriodSeconds", 30);
			graceful = node && *node && grace > 0;
		}
		if (has_fin || graceful) {
			if (dying && (has_fin || grace > 0) && !fin_changed) {
				*out = json_object_get(old);
				goto out;
			}
			if (!dying || fin_changed) {
				size_t len;
				const char *js;

				fin = berth_json_copy(old);
				if (has_fin)
					json_object_object_add(
						meta(fin), "finalizers",
						json_object_get(fins));
				else
					json_object_object_del(meta(fin),
							       "finalizers");
				time_rfc3339(time(NULL) +
						     (graceful ? grace : 0),
					     ts, sizeof(ts));
				if (!dying) {
					berth_json_set_str(meta(fin),
							   "deletionTimestamp",
							   ts);
					berth_json_set_int(
						meta(fin),
						"deletionGracePeriodSeconds",
						graceful ? grace : 0);
				}
				if (o->dry) {
					*out = fin;
					goto out;
				}
				json_object_object_del(meta(fin),
						       "resourceVersion");
				js = berth_json_str(fin, &len);
				err = berth_store_update(c->api->store, key, js,
							 len, kv.mod_revision,
							 0, &rev);
				if (!err) {
					berth_obj_set_rv(fin, rev);
					*out = fin;
					goto out;
				}
				json_object_put(fin);
				if (err != -ECANCELED)
					break;
				goto retry;
			}
		}
		if (o->dry) {
			*out = json_object_get(old);
			goto out;
		}
		err = berth_store_delete(c->api->store, key, kv.mod_revision,
					 NULL, &rev);
		if (!err) {
			berth_obj_set_rv(old, rev);
			*out = json_object_get(old);
			goto out;
		}
		if (err != -ECANCELED)
			break;
retry:
		json_object_put(old);
		old = NULL;
		berth_kv_free(&kv);
	}
	if (err == -ENOENT) {
		*st = berth_status_new(404, "NotFound", "%s \"%s\" not found",
				       q, name);
		berth_status_details(*st, name, c->res->group, c->res->name);
	} else if (err == -ECANCELED || !err) {
		*st = conflict_status(c, name);
	} else {
		*st = berth_status_new(500, NULL, "storage error: %s",
				       strerror(-err));
	}
out:
	json_object_put(fins);
	json_object_put(old);
	berth_kv_free(&kv);
}

static void do_delete(struct berth_call *c)
{
	struct json_object *body, *out, *st;
	struct del_opts o = { 0 };

	if (delete_opts(c, &o, &body))
		return;
	delete_one(c, c->name, &o, &out, &st);
	if (st)
		berth_resp_status(c->resp, st);
	else
		berth_resp_json(c->resp, 200, out);
	json_object_put(body);
}

static void do_delete_collection(struct berth_call *c)
{
	struct berth_selector *ls, *fs;
	struct json_object *body = NULL, *list, *items, *out, *st;
	struct list_page pg = { 0 };
	struct del_opts o = { 0 };
	char av[96], kind[96];
	size_t i, n;

	if (delete_opts(c, &o, &body))
		return;
	if (berth_rest_selectors(c, &ls, &fs))
		goto out;
	if (list_page(c, ls, fs, &pg))
		goto out;
	items = json_object_new_array();
	n = json_object_array_length(pg.items);
	for (i = 0; i < n; i++) {
		struct json_object *it = json_object_array_get_idx(pg.items, i);
		const char *name = berth_json_path_str(it, "metadata.name");
		const char *ns = berth_json_path_str(it, "metadata.namespace");
		struct berth_call one = *c;

		if (!name)
			continue;
		one.ns = ns;
		delete_one(&one, name, &o, &out, &st);
		if (out)
			json_object_array_add(items, out);
		json_object_put(st);
	}
	json_object_put(pg.items);
	free(pg.cont);
	list = json_object_new_object();
	snprintf(kind, sizeof(kind), "%sList", c->res->kind);
	berth_resource_api_version(c->res, av, sizeof(av));
	berth_json_set_str(list, "kind", kind);
	berth_json_set_str(list, "apiVersion", av);
	json_object_object_add(list, "metadata", json_object_new_object());
	json_object_object_add(list, "items", items);
	berth_resp_json(c->resp, 200, list);
out:
	berth_selector_free(ls);
	berth_selector_free(fs);
	json_object_put(body);
}

/* ---- pods/binding and pods/log ---- */

static void do_binding(struct berth_call *c)
{
	struct json_object *body, *pod = NULL, *conds, *cond;
	const char *node, *cur;
	struct berth_kv kv = { 0 };
	char key[KEY_MAX], now[32];
	int64_t rev;
	int err = 0, attempt;
	bool dry;

	if (dry_run(c, &dry) || body_object(c, &body, false))
		return;
	if (check_type(c, body, "Binding", "v1"))
		goto out;
	node = berth_json_path_str(body, "target.name");
	if (!node || !*node) {
		struct berth_verrs ve = { 0 };

		berth_verr(&ve, BERTH_VERR_REQUIRED, "target.name", NULL, NULL);
		berth_resp_status(c->resp,
				  berth_verrs_status(&ve, c->res, c->name));
		goto out;
	}
	key_of(c, c->name, key);
	for (attempt = 0; attempt < UPDATE_RETRIES; attempt++) {
		size_t len;
		const char *js;

		err = berth_store_get(c->api->store, key, &kv);
		if (err)
			break;
		pod = berth_json_parse(kv.value, kv.value_len, NULL);
		cur = berth_json_path_str(pod, "spec.nodeName");
		if (!pod ||
		    berth_json_path(pod, "metadata.deletionTimestamp")) {
			berth_resp_error(
				c->resp, 409, "Conflict",
				"pod %s is being deleted, cannot be assigned to a host",
				c->name);
			goto out;
		}
		if (cur && *cur) {
			berth_resp_error(
				c->resp, 409, "Conflict",
				"pod %s is already assigned to node \"%s\"",
				c->name, cur);
			goto out;
		}
		berth_json_set_str(berth_json_obj(pod, "spec"), "nodeName",
				   node);
		conds = berth_json_path(pod, "status.conditions");
		if (!json_object_is_type(conds, json_type_array)) {
			conds = json_object_new_array();
			json_object_object_add(berth_json_obj(pod, "status"),
					       "conditions", conds);
		}
		/* replaces a PodScheduled=False the scheduler may have set */
		for (size_t i = json_object_array_length(conds); i-- > 0;) {
			const char *t = berth_json_get_str(
				json_object_array_get_idx(conds, i), "type");

			if (t && !strcmp(t, "PodScheduled"))
				json_object_array_del_idx(conds, i, 1);
		}
		cond = json_object_new_object();
		berth_json_set_str(cond, "type", "PodScheduled");
		berth_json_set_str(cond, "status", "True");
		berth_now_rfc3339(now, sizeof(now));
		berth_json_set_str(cond, "lastTransitionTime", now);
		json_object_array_add(conds, cond);
		if (dry)
			break;
		js = berth_json_str(pod, &len);
		err = berth_store_update(c->api->store, key, js, len,
					 kv.mod_revision, 0, &rev);
		if (err != -ECANCELED)
			break;
		json_object_put(pod);
		pod = NULL;
		berth_kv_free(&kv);
	}
	if (err) {
		berth_rest_store_error(c, err, c->name);
		goto out;
	}
	berth_resp_json(c->resp, 201, berth_status_success());
out:
	json_object_put(pod);
	berth_kv_free(&kv);
	json_object_put(body);
}

static void do_log(struct berth_call *c)
{
	struct berth_kv kv = { 0 };
	struct json_object *pod;
	const char *node;
	char key[KEY_MAX];
	int err;

	key_of(c, c->name, key);
	err = berth_store_get(c->api->store, key, &kv);
	if (err) {
		berth_rest_store_error(c, err, c->name);
		return;
	}
	pod = berth_json_parse(kv.value, kv.value_len, NULL);
	berth_kv_free(&kv);
	node = berth_json_path_str(pod, "spec.nodeName");
	if (!node || !*node) {
		berth_resp_error(c->resp, 400, NULL,
				 "pod %s does not have a host assigned",
				 c->name);
	} else {
		/* the node's kubelet serves them */
		const struct berth_resource *nr =
			berth_resource_find("", "v1", "nodes");
		struct json_object *nobj = NULL;

		err = nr ? berth_resource_key(nr, NULL, node, key, KEY_MAX) :
			   -ENOENT;
		if (!err)
			err = berth_store_get(c->api->store, key, &kv);
		if (!err) {
			nobj = berth_json_parse(kv.value, kv.value_len, NULL);
			berth_kv_free(&kv);
		}
		if (!nobj)
			berth_resp_error(c->resp, 503, NULL,
					 "pod %s: node %s is not registered",
					 c->name, node);
		else
			berth_logproxy(c->req, c->resp, pod, nobj);
		json_object_put(nobj);
	}
	json_object_put(pod);
}

/* ---- dispatch ---- */

static bool has_sub(const struct berth_resource *r, const char *sub)
{
	return (!strcmp(sub, "status") &&
		(r->subresources & BERTH_SUB_STATUS)) ||
	       (!strcmp(sub, "scale") && (r->subresources & BERTH_SUB_SCALE)) ||
	       (!strcmp(sub, "binding") &&
		(r->subresources & BERTH_SUB_BINDING)) ||
	       (!strcmp(sub, "log") && (r->subresources & BERTH_SUB_LOG)) ||
	       (!strcmp(sub, "token") && (r->subresources & BERTH_SUB_TOKEN)) ||
	       (!strcmp(sub, "approval") &&
		(r->subresources & BERTH_SUB_APPROVAL));
}

static bool is_watch(struct berth_call *c)
{
	const char *w = berth_http_query(c->req, "watch");

	return w && (!strcmp(w, "true") || !strcmp(w, "1"));
}

void berth_rest_handle(struct berth_call *c)
{
	const char *m = c->req->method;

	if (c->sub && !has_sub(c->res, c->sub)) {
		berth_resp_error(
			c->resp, 404, "NotFound",
			"the server could not find the requested resource");
		return;
	}
	if (c->res->namespaced && !c->ns && c->name) {
		berth_resp_error(
			c->resp, 404, "NotFound",
			"the server could not find the requested resource");
		return;
	}
	if (!strcmp(m, "GET")) {
		if (c->sub && !strcmp(c->sub, "log"))
			do_log(c);
		else if (c->sub && (!strcmp(c->sub, "binding") ||
				    !strcmp(c->sub, "token")))
			goto not_allowed;
		else if (c->name)
			do_get(c);
		else if (is_watch(c))
			berth_watch_serve(c);
		else
			do_list(c);
	} else if (!strcmp(m, "POST")) {
		if (c->sub && !strcmp(c->sub, "binding"))
			do_binding(c);
		else if (c->sub && !strcmp(c->sub, "token") && c->name)
			berth_tokenreq_create(c);
		else if (c->name || (c->res->namespaced && !c->ns))
			goto not_allowed;
		else
			do_create(c);
	} else if (!strcmp(m, "PUT") || !strcmp(m, "PATCH")) {
		if (!c->name || (c->sub && strcmp(c->sub, "status") &&
				 strcmp(c->sub, "scale") &&
				 strcmp(c->sub, "approval")))
			goto not_allowed;
		if (!strcmp(m, "PUT"))
			do_put(c);
		else
			do_patch(c);
	} else if (!strcmp(m, "DELETE")) {
		if (c->sub)
			goto not_allowed;
		if (c->name)
			do_delete(c);
		else
			do_delete_collection(c);
	} else {
		goto not_allowed;
	}
	return;
not_allowed:
	berth_resp_error(
		c->resp, 405, "MethodNotAllowed",
		"the server does not allow this method on the requested resource");
}
