// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The store's public functions: argument checks both backends share, then
 * a call through the backend's ops (store_impl.h), plus the kv helpers.
 */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store_impl.h"

static _Atomic(berth_store_observer) observer;

void berth_store_set_observer(berth_store_observer fn)
{
	atomic_store(&observer, fn);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* call (an op) timed for the observer, when one is set */
#define TIMED(s, op, call)                                                    \
	({                                                                    \
		berth_store_observer o_ = atomic_load_explicit(               \
			&observer, memory_order_relaxed);                     \
		double t_ = o_ ? now_s() : 0;                                 \
		int r_ = (call);                                              \
		if (o_)                                                       \
			o_(op, (s)->ops->name, r_, now_s() - t_);             \
		r_;                                                           \
	})

void berth_store_set_transformer(struct berth_store *s,
				 const struct berth_store_transformer *t)
{
	if (s)
		s->xf = t;
}

/* in's readable form in *out when the transformer changes it: 1 if so. */
static int kv_copy_from(const struct berth_store_transformer *xf,
			const struct berth_kv *in, struct berth_kv *out)
{
	bool stale = false;
	char *v;
	size_t n;
	int r;

	*out = *in;
	if (!in->key || !in->value)
		return 0;
	r = xf->from(xf->ctx, in->key, in->value, in->value_len, &v, &n,
		     &stale);
	if (r < 0)
		return r;
	out->stale = stale;
	if (r == 1)
		return 0;
	out->value = v;
	out->value_len = n;
	return 1;
}

/* kv's value in its readable form, in place; 0 or -errno. */
static int kv_from(const struct berth_store_transformer *xf,
		   struct berth_kv *kv)
{
	struct berth_kv out;
	int r;

	if (!xf)
		return 0;
	r = kv_copy_from(xf, kv, &out);
	if (r < 0)
		return r;
	if (r == 1)
		free(kv->value);
	*kv = out;
	return 0;
}

static int list_from(const struct berth_store_transformer *xf,
		     struct berth_kv_list *l)
{
	size_t i;
	int r;

	for (i = 0; xf && i < l->n; i++) {
		r = kv_from(xf, &l->items[i]);
		if (r) {
			berth_kv_list_free(l);
			return r;
		}
	}
	return 0;
}

/* The stored form of value in *buf (to free) or value itself; -errno. */
static int value_to(struct berth_store *s, const char *key,
		    const void **value, size_t *len, char **buf)
{
	size_t n;
	int r;

	*buf = NULL;
	if (!s->xf)
		return 0;
	r = s->xf->to(s->xf->ctx, key, *value, *len, buf, &n);
	if (r < 0)
		return r;
	if (r == 0) {
		*value = *buf;
		*len = n;
	}
	return 0;
}

static bool key_ok(const char *key)
{
	return key && key[0];
}

void berth_store_close(struct berth_store *s)
{
	if (s)
		s->ops->close(s);
}

const char *berth_store_backend(const struct berth_store *s)
{
	return s ? s->ops->name : "none";
}

int berth_store_revision(struct berth_store *s, int64_t *rev)
{
	if (!s || !rev)
		return -EINVAL;
	return TIMED(s, "revision", s->ops->revision(s, rev));
}

int berth_store_get(struct berth_store *s, const char *key,
		    struct berth_kv *out)
{
	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!s || !key_ok(key))
		return -EINVAL;
	int r = TIMED(s, "get", s->ops->get(s, key, out));

	if (!r && (r = kv_from(s->xf, out)))
		berth_kv_free(out);
	return r;
}

int berth_store_list(struct berth_store *s, const char *prefix,
		     const char *start_after, size_t limit, int64_t at_rev,
		     struct berth_kv_list *out, int64_t *rev, bool *more)
{
	int64_t dummy_rev;
	bool dummy_more;

	if (!out)
		return -EINVAL;
	memset(out, 0, sizeof(*out));
	if (!s || at_rev < 0)
		return -EINVAL;
	if (start_after && !start_after[0])
		start_after = NULL;
	int r = TIMED(s, "list", s->ops->list(s, prefix ? prefix : "", start_after, limit, at_rev,
			    out, rev ? rev : &dummy_rev,
			    more ? more : &dummy_more));

	return r ? r : list_from(s->xf, out);
}

int berth_store_snapshot(struct berth_store *s, void **buf, size_t *len)
{
	if (!s || !buf || !len)
		return -EINVAL;
	if (!s->ops->snapshot)
		return -EOPNOTSUPP;
	return s->ops->snapshot(s, buf, len);
}

int berth_store_count(struct berth_store *s, const char *prefix, size_t *n)
{
	if (!s || !n)
		return -EINVAL;
	return TIMED(s, "count", s->ops->count(s, prefix ? prefix : "", n));
}

/* A NULL value is only allowed with length 0; backends always get a pointer. */
static int value_check(const void **value, size_t len)
{
	if (*value)
		return 0;
	if (len)
		return -EINVAL;
	*value = "";
	return 0;
}

int berth_store_create(struct berth_store *s, const char *key,
		       const void *value, size_t len, int64_t ttl_seconds,
		       int64_t *rev)
{
	int64_t dummy;
	char *buf;
	int r;

	if (!s || !key_ok(key) || ttl_seconds < 0 || value_check(&value, len))
		return -EINVAL;
	r = value_to(s, key, &value, &len, &buf);
	if (r)
		return r;
	r = TIMED(s, "create", s->ops->create(s, key, value, len, ttl_seconds,
			      rev ? rev : &dummy));
	free(buf);
	return r;
}

int berth_store_update(struct berth_store *s, const char *key,
		       const void *value, size_t len, int64_t expect_mod_rev,
		       int64_t ttl_seconds, int64_t *rev)
{
	int64_t dummy;
	char *buf;
	int r;

	if (!s || !key_ok(key) || ttl_seconds < 0 || expect_mod_rev < 0 ||
	    value_check(&value, len))
		return -EINVAL;
	r = value_to(s, key, &value, &len, &buf);
	if (r)
		return r;
	r = TIMED(s, "update", s->ops->update(s, key, value, len, expect_mod_rev, ttl_seconds,
			      rev ? rev : &dummy));
	free(buf);
	return r;
}

int berth_store_delete(struct berth_store *s, const char *key,
		       int64_t expect_mod_rev, struct berth_kv *prev,
		       int64_t *rev)
{
	int64_t dummy;

	if (prev)
		memset(prev, 0, sizeof(*prev));
	if (!s || !key_ok(key) || expect_mod_rev < 0)
		return -EINVAL;
	int r = TIMED(s, "delete", s->ops->del(s, key, expect_mod_rev, prev, rev ? rev : &dummy));

	if (!r && prev && prev->value && (r = kv_from(s->xf, prev)))
		berth_kv_free(prev);
	return r;
}

int berth_store_compact(struct berth_store *s, int64_t rev)
{
	if (!s || rev < 0)
		return -EINVAL;
	return TIMED(s, "compact", s->ops->compact(s, rev));
}

/* A watch through a transformer: events' values readable before cb. */
struct xf_watch {
	const struct berth_store_transformer *xf;
	berth_watch_cb cb;
	void *ctx;
};

static void xf_event(void *ctx, const struct berth_event *ev, int err)
{
	struct xf_watch *x = ctx;
	struct berth_event e;
	int rk = 0, rp = 0;

	if (!ev) {
		x->cb(x->ctx, ev, err);
		return;
	}
	e = *ev;
	rk = kv_copy_from(x->xf, &ev->kv, &e.kv);
	if (rk >= 0 && ev->has_prev)
		rp = kv_copy_from(x->xf, &ev->prev, &e.prev);
	/* an event that cannot be read is dropped, never passed on raw */
	if (rk >= 0 && rp >= 0)
		x->cb(x->ctx, &e, err);
	if (rk == 1)
		free(e.kv.value);
	if (rp == 1)
		free(e.prev.value);
}

int berth_store_watch(struct berth_store *s, const char *prefix,
		      int64_t from_rev, berth_watch_cb cb, void *ctx,
		      struct berth_watch **out)
{
	struct xf_watch *x;
	int r;

	if (out)
		*out = NULL;
	if (!s || !cb || !out || from_rev < 0)
		return -EINVAL;
	if (!s->xf)
		return TIMED(s, "watch", s->ops->watch(s, prefix ? prefix : "", from_rev, cb, ctx, out));
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	*x = (struct xf_watch){ .xf = s->xf, .cb = cb, .ctx = ctx };
	r = TIMED(s, "watch", s->ops->watch(s, prefix ? prefix : "", from_rev, xf_event, x, out));
	if (r) {
		free(x);
		return r;
	}
	(*out)->xf_watch = x;
	return 0;
}

void berth_watch_cancel(struct berth_watch *w)
{
	void *x;

	if (!w)
		return;
	x = w->xf_watch;
	w->store->ops->watch_cancel(w);
	free(x);
}

void berth_kv_free(struct berth_kv *kv)
{
	if (!kv)
		return;
	free(kv->key);
	free(kv->value);
	memset(kv, 0, sizeof(*kv));
}

void berth_kv_list_free(struct berth_kv_list *l)
{
	size_t i;

	if (!l)
		return;
	for (i = 0; i < l->n; i++)
		berth_kv_free(&l->items[i]);
	free(l->items);
	l->items = NULL;
	l->n = 0;
}

int store_kv_fill(struct berth_kv *kv, const char *key, size_t key_len,
		  const void *value, size_t value_len, int64_t create_rev,
		  int64_t mod_rev)
{
	kv->key = malloc(key_len + 1);
	kv->value = malloc(value_len + 1);
	if (!kv->key || !kv->value) {
		berth_kv_free(kv);
		return -ENOMEM;
	}
	memcpy(kv->key, key, key_len);
	kv->key[key_len] = '\0';
	if (value_len)
		memcpy(kv->value, value, value_len);
	kv->value[value_len] = '\0';
	kv->value_len = value_len;
	kv->create_revision = create_rev;
	kv->mod_revision = mod_rev;
	return 0;
}

struct berth_kv *store_list_add(struct berth_kv_list *l, size_t *cap)
{
	struct berth_kv *items;
	size_t ncap;

	if (l->n == *cap) {
		ncap = *cap ? *cap * 2 : 16;
		items = realloc(l->items, ncap * sizeof(*items));
		if (!items)
			return NULL;
		l->items = items;
		*cap = ncap;
	}
	memset(&l->items[l->n], 0, sizeof(l->items[0]));
	return &l->items[l->n++];
}

bool store_has_prefix(const char *key, const char *prefix)
{
	return strncmp(key, prefix, strlen(prefix)) == 0;
}
