// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The store on etcd v3, through its JSON gateway over libcurl: range, txn
 * (compare-and-swap on mod_revision, create_revision == 0 for create),
 * deleterange, compaction, leases for TTLs and one streaming /v3/watch per
 * watch. Revisions are etcd's own (header.revision).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include <berth/base64.h>
#include <berth/log.h>

#include "store_impl.h"

#define ETCD_CONNECT_TIMEOUT_MS 2000
#define ETCD_REQUEST_TIMEOUT_MS 60000 /* a physical compaction can be slow */
#define ETCD_WATCH_CREATE_TIMEOUT_MS 10000 /* connected but no "created" */
#define ETCD_KEEP_BUF (1 << 20) /* idle connections keep answers this big */
#define ETCD_WATCH_POLL_MS 1000 /* cancel also wakes the poll up */
#define ETCD_WATCH_STABLE_MS 1000 /* a stream that lived this long was fine */

/* A growable byte buffer; a failed allocation sticks and is checked once. */
struct ebuf {
	char *p;
	size_t len, cap;
	bool oom;
};

/* One pooled HTTP connection: an easy handle keeps its connection alive. */
struct etcd_conn {
	CURL *curl;
	struct ebuf resp;
	struct etcd_conn *next;
};

struct etcd_store {
	struct berth_store base;
	char **endpoints; /* without a trailing '/' */
	size_t n;
	atomic_size_t cur; /* the endpoint that answered last */
	pthread_mutex_t lock; /* guards idle and watches */
	struct etcd_conn *idle;
	struct etcd_watch *watches; /* not cancelled yet: close ends them */
};

/* A key range as etcd wants it: [key, end), end empty for a single key. */
struct krange {
	char *key, *end;
	size_t key_len, end_len;
};

struct etcd_watch {
	struct berth_watch base;
	struct etcd_store *s;
	struct etcd_watch *next, **pprev; /* on s->watches */
	struct krange r;
	berth_watch_cb cb;
	void *ctx;
	int64_t next_rev; /* start_revision of the next (re)connect; 0: now */
	atomic_bool stop;
	CURLM *multi;
	pthread_t thread;
	/* the stream being read */
	struct timespec t0; /* when it was asked for */
	struct ebuf line;
	bool created;
	int err;
	/* hand-shake with berth_store_watch: created, or why not */
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool started;
	int start_err;
};

/*
 * Request headers of every call: JSON, and no "Expect: 100-continue" that
 * would hold a large value back for a round trip. Built once, read-only.
 */
static struct curl_slist *etcd_headers;

static inline struct etcd_store *to_etcd(struct berth_store *s)
{
	return (struct etcd_store *)s;
}

/* ---- buffers and base64 (the gateway carries keys and values so) ---- */

static void ebuf_reserve(struct ebuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return;
	if (b->len + more + 1 <= b->cap)
		return;
	cap = b->cap ? b->cap : 256;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return;
	}
	b->p = p;
	b->cap = cap;
}

static void ebuf_add(struct ebuf *b, const void *p, size_t n)
{
	ebuf_reserve(b, n);
	if (b->oom)
		return;
	memcpy(b->p + b->len, p, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void ebuf_str(struct ebuf *b, const char *s)
{
	ebuf_add(b, s, strlen(s));
}

static void ebuf_int(struct ebuf *b, int64_t v)
{
	char num[24];

	ebuf_add(b, num, snprintf(num, sizeof(num), "%lld", (long long)v));
}

/* Base64 of n bytes appended to b (the gateway's bytes fields). */
static void ebuf_b64(struct ebuf *b, const void *src, size_t n)
{
	char *enc = berth_base64(src, n, false);

	if (!enc) {
		b->oom = true;
		return;
	}
	ebuf_str(b, enc);
	free(enc);
}

/* ---- JSON in and out ---- */

static void req_bytes(struct ebuf *b, const char *name, const void *p, size_t n)
{
	ebuf_str(b, "\"");
	ebuf_str(b, name);
	ebuf_str(b, "\":\"");
	ebuf_b64(b, p, n);
	ebuf_str(b, "\"");
}

/* "key":...[,"range_end":...] */
static void req_range(struct ebuf *b, const struct krange *r)
{
	req_bytes(b, "key", r->key, r->key_len);
	if (r->end_len) {
		ebuf_str(b, ",");
		req_bytes(b, "range_end", r->end, r->end_len);
	}
}

static json_object *jget(json_object *o, const char *name)
{
	json_object *v;

	if (o && json_object_object_get_ex(o, name, &v))
		return v;
	return NULL;
}

/* int64 fields come as strings; json-c parses those too. Absent means 0. */
static int64_t jint(json_object *o, const char *name)
{
	json_object *v = jget(o, name);

	return v ? json_object_get_int64(v) : 0;
}

static bool jbool(json_object *o, const char *name)
{
	json_object *v = jget(o, name);

	return v && json_object_get_boolean(v);
}

static int jbytes(json_object *o, const char *name, char **out, size_t *len)
{
	json_object *v = jget(o, name);

	*out = berth_base64_decode(v ? json_object_get_string(v) : "", false,
				   len);
	return *out ? 0 : -EIO;
}

static int kv_from_json(json_object *o, struct berth_kv *kv)
{
	int err;

	memset(kv, 0, sizeof(*kv));
	err = jbytes(o, "key", &kv->key, NULL);
	if (!err)
		err = jbytes(o, "value", &kv->value, &kv->value_len);
	if (err) {
		berth_kv_free(kv);
		return err;
	}
	kv->create_revision = jint(o, "create_revision");
	kv->mod_revision = jint(o, "mod_revision");
	return 0;
}

static int64_t header_rev(json_object *o)
{
	return jint(jget(o, "header"), "revision");
}

/* The gRPC error the gateway passes on, as -errno. */
static int etcd_error(json_object *root, const char *path)
{
	json_object *m = jget(root, "message");
	const char *msg = m ? json_object_get_string(m) : "";
	int64_t code = jint(root, "code");

	if (strstr(msg, "required revision has been compacted"))
		return -ESTALE;
	if (strstr(msg, "future revision"))
		return -EINVAL;
	if (strstr(msg, "requested lease not found"))
		return -ENOENT;
	pr_warn("etcd %s: %s (code %lld)", path, msg, (long long)code);
	if (code == 3 || code == 11) /* InvalidArgument, OutOfRange */
		return -EINVAL;
	return -EIO;
}

/* ---- unary calls over pooled connections ---- */

static size_t conn_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct ebuf *b = arg;

	ebuf_add(b, p, size * nmemb);
	return b->oom ? 0 : size * nmemb;
}

static struct etcd_conn *conn_get(struct etcd_store *s)
{
	struct etcd_conn *c;

	pthread_mutex_lock(&s->lock);
	c = s->idle;
	if (c)
		s->idle = c->next;
	pthread_mutex_unlock(&s->lock);
	if (c)
		return c;

	c = calloc(1, sizeof(*c));
	if (!c)
		return NULL;
	c->curl = curl_easy_init();
	if (!c->curl) {
		free(c);
		return NULL;
	}
	curl_easy_setopt(c->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c->curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)ETCD_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_TIMEOUT_MS,
			 (long)ETCD_REQUEST_TIMEOUT_MS);
	curl_easy_setopt(c->curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, etcd_headers);
	curl_easy_setopt(c->curl, CURLOPT_WRITEFUNCTION, conn_write);
	curl_easy_setopt(c->curl, CURLOPT_WRITEDATA, &c->resp);
	return c;
}

static void conn_put(struct etcd_store *s, struct etcd_conn *c)
{
	if (c->resp.cap > ETCD_KEEP_BUF) { /* a big list: give it back */
		free(c->resp.p);
		memset(&c->resp, 0, sizeof(c->resp));
	}
	pthread_mutex_lock(&s->lock);
	c->next = s->idle;
	s->idle = c;
	pthread_mutex_unlock(&s->lock);
}

static void conn_free(struct etcd_conn *c)
{
	curl_easy_cleanup(c->curl);
	free(c->resp.p);
	free(c);
}

/* The request never reached a server, so another endpoint may take it. */
static bool conn_refused(CURLcode rc)
{
	return rc == CURLE_COULDNT_CONNECT || rc == CURLE_COULDNT_RESOLVE_HOST;
}

/*
 * POST body to path on the first endpoint that takes the connection,
 * starting with the one that answered last. *out gets the parsed answer,
 * or the call returns the gRPC error it carries.
 */
static int etcd_call(struct etcd_store *s, const char *path,
		     const struct ebuf *body, json_object **out)
{
	size_t start = atomic_load(&s->cur), i, ep = start;
	enum json_tokener_error jerr;
	struct etcd_conn *c;
	json_object *root;
	CURLcode rc = CURLE_OK;
	char url[512];
	int err;

	*out = NULL;
	if (body->oom)
		return -ENOMEM;
	c = conn_get(s);
	if (!c)
		return -ENOMEM;
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDS, body->p);
	curl_easy_setopt(c->curl, CURLOPT_POSTFIELDSIZE_LARGE,
			 (curl_off_t)body->len);
	for (i = 0; i < s->n; i++) {
		ep = (start + i) % s->n;
		snprintf(url, sizeof(url), "%s%s", s->endpoints[ep], path);
		curl_easy_setopt(c->curl, CURLOPT_URL, url);
		c->resp.len = 0;
		c->resp.oom = false;
		rc = curl_easy_perform(c->curl);
		if (!conn_refused(rc))
			break;
	}
	if (rc != CURLE_OK) {
		err = conn_refused(rc) ? -ENOTCONN : -EIO;
		if (c->resp.oom)
			err = -ENOMEM;
		pr_warn("etcd %s %s: %s", s->endpoints[ep], path,
			curl_easy_strerror(rc));
		conn_free(c);
		return err;
	}
	if (ep != start)
		atomic_store(&s->cur, ep);

	root = json_tokener_parse_verbose(c->resp.len ? c->resp.p : "", &jerr);
	if (!root || !json_object_is_type(root, json_type_object)) {
		long status = 0;

		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		pr_warn("etcd %s %s: HTTP %ld, no JSON answer",
			s->endpoints[ep], path, status);
		json_object_put(root);
		conn_put(s, c);
		return -EIO;
	}
	conn_put(s, c);
	if (jget(root, "error") || jget(root, "code")) {
		err = etcd_error(root, path);
		json_object_put(root);
		return err;
	}
	*out = root;
	return 0;
}

/* ---- key ranges ---- */

static void krange_free(struct krange *r)
{
	free(r->key);
	free(r->end);
	memset(r, 0, sizeof(*r));
}

/*
 * Keys starting with prefix: [prefix, prefix with its last byte + 1), the
 * trailing 0xff bytes dropped first. "" (or all 0xff) means every key:
 * ["\0", "\0"), etcd's "from key to the end".
 */
static int krange_prefix(struct krange *r, const char *prefix)
{
	size_t n = strlen(prefix), e = n;

	memset(r, 0, sizeof(*r));
	while (e && (unsigned char)prefix[e - 1] == 0xff)
		e--;
	r->key = malloc(n + 1);
	r->end = malloc(e + 1);
	if (!r->key || !r->end) {
		krange_free(r);
		return -ENOMEM;
	}
	memcpy(r->key, prefix, n + 1);
	r->key_len = n ? n : 1;
	memcpy(r->end, prefix, e);
	r->end[e] = '\0';
	if (e)
		r->end[e - 1]++;
	r->end_len = e ? e : 1;
	return 0;
}

/* ---- the operations ---- */

static int etcd_range(struct etcd_store *s, const struct krange *r,
		      const char *extra, json_object **out)
{
	struct ebuf b = {};
	int err;

	ebuf_str(&b, "{");
	req_range(&b, r);
	ebuf_str(&b, extra);
	ebuf_str(&b, "}");
	err = etcd_call(s, "/v3/kv/range", &b, out);
	free(b.p);
	return err;
}

static int etcd_revision(struct berth_store *bs, int64_t *rev)
{
	struct krange r = { .key = "", .key_len = 1 };
	json_object *root;
	int err;

	err = etcd_range(to_etcd(bs), &r, ",\"count_only\":true", &root);
	if (err)
		return err;
	*rev = header_rev(root);
	json_object_put(root);
	return 0;
}

static int etcd_get(struct berth_store *bs, const char *key,
		    struct berth_kv *out)
{
	struct krange r = { .key = (char *)key, .key_len = strlen(key) };
	json_object *root, *kvs;
	int err;

	err = etcd_range(to_etcd(bs), &r, "", &root);
	if (err)
		return err;
	kvs = jget(root, "kvs");
	if (kvs && json_object_array_length(kvs))
		err = kv_from_json(json_object_array_get_idx(kvs, 0), out);
	else
		err = -ENOENT;
	json_object_put(root);
	return err;
}

static int etcd_list(struct berth_store *bs, const char *prefix,
		     const char *start_after, size_t limit, int64_t at_rev,
		     struct berth_kv_list *out, int64_t *rev, bool *more)
{
	struct ebuf extra = {};
	json_object *root = NULL, *kvs;
	struct krange r;
	size_t i, n;
	int err;

	err = krange_prefix(&r, prefix);
	if (err)
		return err;
	/* resume right after start_after: start_after + "\0" */
	if (start_after && strcmp(start_after, prefix) >= 0) {
		size_t len = strlen(start_after);
		char *k = malloc(len + 2);

		if (!k) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(k, start_after, len + 1);
		k[len + 1] = '\0';
		free(r.key);
		r.key = k;
		r.key_len = len + 1;
	}
	if (limit) {
		ebuf_str(&extra, ",\"limit\":");
		ebuf_int(&extra, (int64_t)limit);
	}
	if (at_rev) {
		ebuf_str(&extra, ",\"revision\":");
		ebuf_int(&extra, at_rev);
	}
	if (extra.oom) {
		err = -ENOMEM;
		goto out;
	}
	err = etcd_range(to_etcd(bs), &r, extra.p ? extra.p : "", &root);
	if (err)
		goto out;

	kvs = jget(root, "kvs");
	n = kvs ? json_object_array_length(kvs) : 0;
	if (n) {
		out->items = calloc(n, sizeof(*out->items));
		if (!out->items) {
			err = -ENOMEM;
			goto out;
		}
	}
	for (i = 0; i < n; i++) {
		err = kv_from_json(json_object_array_get_idx(kvs, i),
				   &out->items[i]);
		if (err) {
			berth_kv_list_free(out);
			goto out;
		}
		out->n++;
	}
	*rev = at_rev ? at_rev : header_rev(root);
	*more = jbool(root, "more");
out:
	json_object_put(root);
	krange_free(&r);
	free(extra.p);
	return err;
}

static int etcd_count(struct berth_store *bs, const char *prefix, size_t *n)
{
	json_object *root;
	struct krange r;
	int err;

	err = krange_prefix(&r, prefix);
	if (err)
		return err;
	err = etcd_range(to_etcd(bs), &r, ",\"count_only\":true", &root);
	krange_free(&r);
	if (err)
		return err;
	*n = (size_t)jint(root, "count");
	json_object_put(root);
	return 0;
}

/* A lease of ttl seconds for a key to hang on; etcd deletes the key with it. */
static int lease_grant(struct etcd_store *s, int64_t ttl, int64_t *id)
{
	struct ebuf b = {};
	json_object *root;
	int err;

	ebuf_str(&b, "{\"TTL\":");
	ebuf_int(&b, ttl);
	ebuf_str(&b, "}");
	err = etcd_call(s, "/v3/lease/grant", &b, &root);
	free(b.p);
	if (err)
		return err;
	*id = jint(root, "ID");
	json_object_put(root);
	return *id ? 0 : -EIO;
}

/* A lease no key took; it would expire anyway, so failures do not matter. */
static void lease_revoke(struct etcd_store *s, int64_t id)
{
	struct ebuf b = {};
	json_object *root;

	ebuf_str(&b, "{\"ID\":");
	ebuf_int(&b, id);
	ebuf_str(&b, "}");
	if (!etcd_call(s, "/v3/lease/revoke", &b, &root))
		json_object_put(root);
	free(b.p);
}

/*
 * The guard of a write on key: expect_mod_rev > 0 compares the key's
 * mod_revision, 0 asks that the key exist, -1 that it does not.
 */
static void req_compare(struct ebuf *b, const char *key, int64_t expect)
{
	ebuf_str(b, "\"compare\":[{");
	req_bytes(b, "key", key, strlen(key));
	if (expect > 0) {
		ebuf_str(b, ",\"target\":\"MOD\",\"result\":\"EQUAL\","
			    "\"mod_revision\":");
		ebuf_int(b, expect);
	} else {
		ebuf_str(b, ",\"target\":\"CREATE\",\"result\":");
		ebuf_str(b, expect ? "\"EQUAL\"" : "\"GREATER\"");
		ebuf_str(b, ",\"create_revision\":0");
	}
	ebuf_str(b, "}]");
}

/*
 * Runs a txn whose success branch is one request; when the compare fails,
 * the failure branch counts the key so the caller can tell -ENOENT from
 * -ECANCELED. *resp is that one response of the success branch.
 */
static int etcd_txn(struct etcd_store *s, struct ebuf *b, const char *key,
		    int64_t expect, json_object **root, json_object **resp,
		    int64_t *rev)
{
	json_object *r;
	int err;

	ebuf_str(b, ",\"failure\":[{\"request_range\":{");
	req_bytes(b, "key", key, strlen(key));
	ebuf_str(b, ",\"count_only\":true}}]}");
	err = etcd_call(s, "/v3/kv/txn", b, root);
	if (err)
		return err;
	r = json_object_array_get_idx(jget(*root, "responses"), 0);
	if (!jbool(*root, "succeeded")) {
		int64_t n = jint(jget(r, "response_range"), "count");

		if (expect < 0)
			err = -EEXIST;
		else if (expect > 0 && n)
			err = -ECANCELED;
		else
			err = -ENOENT;
		json_object_put(*root);
		*root = NULL;
		return err;
	}
	*rev = header_rev(*root);
	*resp = r;
	return 0;
}

static int etcd_put(struct etcd_store *s, const char *key, const void *value,
		    size_t len, int64_t expect, int64_t ttl, int64_t *rev)
{
	json_object *root = NULL, *resp;
	struct ebuf b = {};
	int64_t lease = 0;
	int err;

	if (ttl) {
		err = lease_grant(s, ttl, &lease);
		if (err)
			return err;
	}
	ebuf_str(&b, "{");
	req_compare(&b, key, expect);
	ebuf_str(&b, ",\"success\":[{\"request_put\":{");
	req_bytes(&b, "key", key, strlen(key));
	ebuf_str(&b, ",");
	req_bytes(&b, "value", value, len);
	if (lease) {
		ebuf_str(&b, ",\"lease\":");
		ebuf_int(&b, lease);
	}
	ebuf_str(&b, "}}]");
	err = etcd_txn(s, &b, key, expect, &root, &resp, rev);
	free(b.p);
	json_object_put(root);
	if (err && lease)
		lease_revoke(s, lease);
	return err;
}

static int etcd_create(struct berth_store *bs, const char *key,
		       const void *value, size_t len, int64_t ttl_seconds,
		       int64_t *rev)
{
	return etcd_put(to_etcd(bs), key, value, len, -1, ttl_seconds, rev);
}

static int etcd_update(struct berth_store *bs, const char *key,
		       const void *value, size_t len, int64_t expect_mod_rev,
		       int64_t ttl_seconds, int64_t *rev)
{
	return etcd_put(to_etcd(bs), key, value, len, expect_mod_rev,
			ttl_seconds, rev);
}

static int etcd_delete(struct berth_store *bs, const char *key,
		       int64_t expect_mod_rev, struct berth_kv *prev,
		       int64_t *rev)
{
	json_object *root = NULL, *resp, *kvs;
	struct ebuf b = {};
	int err;

	ebuf_str(&b, "{");
	req_compare(&b, key, expect_mod_rev);
	ebuf_str(&b, ",\"success\":[{\"request_delete_range\":{");
	req_bytes(&b, "key", key, strlen(key));
	if (prev)
		ebuf_str(&b, ",\"prev_kv\":true");
	ebuf_str(&b, "}}]");
	err = etcd_txn(to_etcd(bs), &b, key, expect_mod_rev, &root, &resp, rev);
	free(b.p);
	if (!err && prev) {
		kvs = jget(jget(resp, "response_delete_range"), "prev_kvs");
		if (kvs && json_object_array_length(kvs))
			err = kv_from_json(json_object_array_get_idx(kvs, 0),
					   prev);
		else
			err = -EIO;
	}
	json_object_put(root);
	return err;
}

static int etcd_compact(struct berth_store *bs, int64_t rev)
{
	struct ebuf b = {};
	json_object *root;
	int err;

	if (!rev)
		return 0;
	/* physical: return once done, so no read sees half of it */
	ebuf_str(&b, "{\"revision\":");
	ebuf_int(&b, rev);
	ebuf_str(&b, ",\"physical\":true}");
	err = etcd_call(to_etcd(bs), "/v3/kv/compaction", &b, &root);
	free(b.p);
	if (err == -ESTALE) /* compacted already, at rev or later */
		return 0;
	if (err)
		return err;
	json_object_put(root);
	return 0;
}

/* ---- watches: one thread and one streaming request each ---- */

/* Tell berth_store_watch how the start went; false if it knows already. */
static bool watch_started(struct etcd_watch *w, int err)
{
	bool first;

	pthread_mutex_lock(&w->lock);
	first = !w->started;
	if (first) {
		w->started = true;
		w->start_err = err;
		pthread_cond_signal(&w->cond);
	}
	pthread_mutex_unlock(&w->lock);
	return first;
}

static int watch_event(struct etcd_watch *w, json_object *je)
{
	json_object *type = jget(je, "type"), *jprev = jget(je, "prev_kv");
	struct berth_event ev = {};
	int err;

	ev.type = BERTH_EVENT_PUT;
	if (type && !strcmp(json_object_get_string(type), "DELETE"))
		ev.type = BERTH_EVENT_DELETE;
	err = kv_from_json(jget(je, "kv"), &ev.kv);
	if (err)
		return err;
	if (jprev) {
		err = kv_from_json(jprev, &ev.prev);
		if (err)
			goto out;
		ev.has_prev = true;
	}
	/* etcd's delete carries only the key: the deleted value is prev */
	if (ev.type == BERTH_EVENT_DELETE && ev.has_prev) {
		char *v = malloc(ev.prev.value_len + 1);

		if (!v) {
			err = -ENOMEM;
			goto out;
		}
		memcpy(v, ev.prev.value, ev.prev.value_len + 1);
		free(ev.kv.value);
		ev.kv.value = v;
		ev.kv.value_len = ev.prev.value_len;
		ev.kv.create_revision = ev.prev.create_revision;
	}
	w->cb(w->ctx, &ev, 0);
	w->next_rev = ev.kv.mod_revision + 1;
out:
	berth_kv_free(&ev.kv);
	berth_kv_free(&ev.prev);
	return err;
}

/* One message of the stream: created, events, or why it was canceled. */
static int watch_message(struct etcd_watch *w, json_object *msg)
{
	json_object *res = jget(msg, "result"), *evs;
	size_t i, n;
	int err;

	if (!res) {
		json_object *e = jget(jget(msg, "error"), "message");

		pr_warn("etcd watch: %s", e ? json_object_get_string(e) : "?");
		return -EIO;
	}
	if (jint(res, "compact_revision") > 0)
		return -ESTALE;
	if (jbool(res, "canceled")) {
		json_object *why = jget(res, "cancel_reason");

		pr_warn("etcd watch canceled: %s",
			why ? json_object_get_string(why) : "?");
		return -EIO;
	}
	if (jbool(res, "created")) {
		w->created = true;
		if (!w->next_rev)
			w->next_rev = header_rev(res) + 1;
		watch_started(w, 0);
	}
	evs = jget(res, "events");
	n = evs ? json_object_array_length(evs) : 0;
	for (i = 0; i < n && !atomic_load(&w->stop); i++) {
		err = watch_event(w, json_object_array_get_idx(evs, i));
		if (err)
			return err;
	}
	return 0;
}

/* The gateway writes one JSON object per line; they may come in pieces. */
static size_t watch_write(char *p, size_t size, size_t nmemb, void *arg)
{
	struct etcd_watch *w = arg;
	size_t n = size * nmemb, off = 0;
	char *nl;

	if (atomic_load(&w->stop))
		return 0;
	ebuf_add(&w->line, p, n);
	if (w->line.oom) {
		w->err = -ENOMEM;
		return 0;
	}
	while ((nl = memchr(w->line.p + off, '\n', w->line.len - off))) {
		json_object *msg;

		*nl = '\0';
		msg = json_tokener_parse(w->line.p + off);
		off = nl + 1 - w->line.p;
		if (!msg) {
			pr_warn("etcd watch: unreadable message");
			w->err = -EIO;
			return 0;
		}
		w->err = watch_message(w, msg);
		json_object_put(msg);
		if (w->err || atomic_load(&w->stop))
			return 0;
	}
	memmove(w->line.p, w->line.p + off, w->line.len - off);
	w->line.len -= off;
	return n;
}

static long elapsed_ms(const struct timespec *since)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - since->tv_sec) * 1000 +
	       (now.tv_nsec - since->tv_nsec) / 1000000;
}

/*
 * One streaming request to endpoint, read until it ends. 0 when stopped,
 * -EPIPE when an established stream broke (resume elsewhere), -ENOTCONN
 * when it never got going, or the error the stream reported.
 */
static int watch_stream(struct etcd_watch *w, const char *endpoint)
{
	struct ebuf b = {};
	char url[512];
	CURL *curl;
	int running = 1, err;

	ebuf_str(&b, "{\"create_request\":{");
	req_range(&b, &w->r);
	ebuf_str(&b, ",\"prev_kv\":true");
	if (w->next_rev) {
		ebuf_str(&b, ",\"start_revision\":");
		ebuf_int(&b, w->next_rev);
	}
	ebuf_str(&b, "}}");
	curl = curl_easy_init();
	if (b.oom || !curl) {
		free(b.p);
		curl_easy_cleanup(curl);
		return -ENOMEM;
	}
	snprintf(url, sizeof(url), "%s/v3/watch", endpoint);
	curl_easy_setopt(curl, CURLOPT_URL, url);
	curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
			 (long)ETCD_CONNECT_TIMEOUT_MS);
	curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPIDLE, 10L);
	curl_easy_setopt(curl, CURLOPT_TCP_KEEPINTVL, 5L);
	curl_easy_setopt(curl, CURLOPT_HTTPHEADER, etcd_headers);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDS, b.p);
	curl_easy_setopt(curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)b.len);
	curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, watch_write);
	curl_easy_setopt(curl, CURLOPT_WRITEDATA, w);

	w->line.len = 0;
	w->created = false;
	w->err = 0;
	clock_gettime(CLOCK_MONOTONIC, &w->t0);
	curl_multi_add_handle(w->multi, curl);
	while (running && !atomic_load(&w->stop)) {
		if (curl_multi_perform(w->multi, &running) != CURLM_OK)
			break;
		if (!running)
			break;
		if (!w->created &&
		    elapsed_ms(&w->t0) > ETCD_WATCH_CREATE_TIMEOUT_MS) {
			pr_warn("etcd watch %s: not created in time", endpoint);
			break;
		}
		curl_multi_poll(w->multi, NULL, 0, ETCD_WATCH_POLL_MS, NULL);
	}
	curl_multi_remove_handle(w->multi, curl);
	curl_easy_cleanup(curl);
	free(b.p);

	if (atomic_load(&w->stop))
		return 0;
	if (w->err)
		return w->err;
	err = w->created ? -EPIPE : -ENOTCONN;
	pr_debug("etcd watch %s: stream ended (%d)", endpoint, err);
	return err;
}

/*
 * Follow the stream, moving to the next endpoint when one fails; a broken
 * stream resumes from the revision after the last event delivered. A
 * stream that breaks as soon as it starts counts as a failed endpoint.
 * When every endpoint failed in a row, or etcd ends the watch, cb hears it
 * once.
 */
static void *watch_main(void *arg)
{
	struct etcd_watch *w = arg;
	struct etcd_store *s = w->s;
	size_t ep = atomic_load(&s->cur), failed = 0;
	int err = 0;

	while (!atomic_load(&w->stop)) {
		err = watch_stream(w, s->endpoints[ep]);
		if (!err)
			break;
		if (err == -EPIPE &&
		    elapsed_ms(&w->t0) > ETCD_WATCH_STABLE_MS) {
			failed = 0;
			continue;
		}
		if ((err != -EPIPE && err != -ENOTCONN) || ++failed >= s->n)
			break;
		ep = (ep + 1) % s->n;
	}
	if (err == -EPIPE)
		err = -ENOTCONN;
	if (!atomic_load(&w->stop) && !watch_started(w, err) && err)
		w->cb(w->ctx, NULL, err);
	return NULL;
}

static void watch_free(struct etcd_watch *w)
{
	if (w->multi)
		curl_multi_cleanup(w->multi);
	krange_free(&w->r);
	free(w->line.p);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w);
}

/*
 * etcd would cancel a watch on a compacted revision only after it was
 * created: a range at from_rev says -ESTALE now. A from_rev in the future
 * is fine; the events come once writes get there.
 */
static int watch_check_rev(struct etcd_store *s, int64_t from_rev)
{
	struct krange r = { .key = "", .key_len = 1 };
	struct ebuf extra = {};
	json_object *root;
	int err;

	ebuf_str(&extra, ",\"count_only\":true,\"revision\":");
	ebuf_int(&extra, from_rev);
	err = extra.oom ? -ENOMEM : etcd_range(s, &r, extra.p, &root);
	free(extra.p);
	if (!err)
		json_object_put(root);
	return err == -EINVAL ? 0 : err;
}

static int etcd_watch(struct berth_store *bs, const char *prefix,
		      int64_t from_rev, berth_watch_cb cb, void *ctx,
		      struct berth_watch **out)
{
	struct etcd_store *s = to_etcd(bs);
	struct etcd_watch *w;
	int err;

	if (from_rev) {
		err = watch_check_rev(s, from_rev);
		if (err)
			return err;
	}
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->s = s;
	w->cb = cb;
	w->ctx = ctx;
	w->next_rev = from_rev ? from_rev + 1 : 0;
	err = krange_prefix(&w->r, prefix);
	if (err)
		goto err_free;
	w->multi = curl_multi_init();
	if (!w->multi) {
		err = -ENOMEM;
		goto err_free;
	}
	err = -pthread_create(&w->thread, NULL, watch_main, w);
	if (err)
		goto err_free;

	/* return once etcd has the watch, so no later write is missed */
	pthread_mutex_lock(&w->lock);
	while (!w->started)
		pthread_cond_wait(&w->cond, &w->lock);
	err = w->start_err;
	pthread_mutex_unlock(&w->lock);
	if (err) {
		pthread_join(w->thread, NULL);
		goto err_free;
	}
	w->base.store = bs;
	pthread_mutex_lock(&s->lock);
	w->next = s->watches;
	if (w->next)
		w->next->pprev = &w->next;
	w->pprev = &s->watches;
	s->watches = w;
	pthread_mutex_unlock(&s->lock);
	*out = &w->base;
	return 0;

err_free:
	watch_free(w);
	return err;
}

/* Unlinked from s->watches by the caller. */
static void watch_stop(struct etcd_watch *w)
{
	atomic_store(&w->stop, true);
	curl_multi_wakeup(w->multi);
	pthread_join(w->thread, NULL);
	watch_free(w);
}

static void watch_unlink(struct etcd_watch *w)
{
	*w->pprev = w->next;
	if (w->next)
		w->next->pprev = w->pprev;
}

static void etcd_watch_cancel(struct berth_watch *bw)
{
	struct etcd_watch *w = (struct etcd_watch *)bw;
	struct etcd_store *s = w->s;

	pthread_mutex_lock(&s->lock);
	watch_unlink(w);
	pthread_mutex_unlock(&s->lock);
	watch_stop(w);
}

/* ---- the store ---- */

static void etcd_close(struct berth_store *bs)
{
	struct etcd_store *s = to_etcd(bs);
	struct etcd_watch *w;
	struct etcd_conn *c;
	size_t i;

	while ((w = s->watches)) {
		watch_unlink(w);
		watch_stop(w);
	}
	while ((c = s->idle)) {
		s->idle = c->next;
		conn_free(c);
	}
	for (i = 0; i < s->n; i++)
		free(s->endpoints[i]);
	free(s->endpoints);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static const struct store_ops etcd_ops = {
	.name = "etcd",
	.close = etcd_close,
	.revision = etcd_revision,
	.get = etcd_get,
	.list = etcd_list,
	.count = etcd_count,
	.create = etcd_create,
	.update = etcd_update,
	.del = etcd_delete,
	.compact = etcd_compact,
	.watch = etcd_watch,
	.watch_cancel = etcd_watch_cancel,
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	struct curl_slist *h;

	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
	if (curl_init_rc != CURLE_OK)
		return;
	h = curl_slist_append(NULL, "Content-Type: application/json");
	etcd_headers = h ? curl_slist_append(h, "Expect:") : NULL;
	if (!etcd_headers) {
		curl_slist_free_all(h);
		curl_init_rc = CURLE_OUT_OF_MEMORY;
	}
}

int berth_store_open_etcd(struct berth_store **out,
			  const char *const *endpoints, size_t n)
{
	struct etcd_store *s;
	int64_t rev;
	size_t i, len;
	int err;

	if (!n || !endpoints)
		return -EINVAL;
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -EIO;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &etcd_ops;
	pthread_mutex_init(&s->lock, NULL);
	s->endpoints = calloc(n, sizeof(*s->endpoints));
	if (!s->endpoints) {
		err = -ENOMEM;
		goto err;
	}
	for (i = 0; i < n; i++) {
		len = strlen(endpoints[i]);
		while (len && endpoints[i][len - 1] == '/')
			len--;
		if (!len || len > 400) {
			err = -EINVAL;
			goto err;
		}
		s->endpoints[i] = strndup(endpoints[i], len);
		if (!s->endpoints[i]) {
			err = -ENOMEM;
			goto err;
		}
		s->n++;
	}
	/* fail now, not at the first request, when no endpoint answers */
	err = etcd_revision(&s->base, &rev);
	if (err)
		goto err;
	*out = &s->base;
	return 0;

err:
	etcd_close(&s->base);
	return err;
}
