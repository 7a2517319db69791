/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Helpers of the shared store suite (tests/store/test_*.c): a store per
 * test from the backend's fixture, writes that must succeed, and a
 * recorder that collects watch events for a test to wait on.
 */
#ifndef BERTH_TESTS_STORE_SUITE_H
#define BERTH_TESTS_STORE_SUITE_H

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "fixture.h"

/* Long enough for etcd on a loaded machine; only reached when a test fails. */
#define WAIT_MS 5000

static struct berth_store *store;

static inline void store_setup(void)
{
	int err = store_fixture_open(&store);

	cr_assert_eq(err, 0, "open the store: %s", strerror(-err));
}

static inline void store_teardown(void)
{
	if (store)
		store_fixture_close(store);
	store = NULL;
}

static inline int64_t cur_rev(void)
{
	int64_t rev = -1;
	int err = berth_store_revision(store, &rev);

	cr_assert_eq(err, 0, "revision: %s", strerror(-err));
	return rev;
}

static inline int64_t must_create(const char *key, const char *value)
{
	int64_t rev = 0;
	int err = berth_store_create(store, key, value, strlen(value), 0, &rev);

	cr_assert_eq(err, 0, "create %s: %s", key, strerror(-err));
	return rev;
}

static inline int64_t must_update(const char *key, const char *value)
{
	int64_t rev = 0;
	int err = berth_store_update(store, key, value, strlen(value), 0, 0,
				     &rev);

	cr_assert_eq(err, 0, "update %s: %s", key, strerror(-err));
	return rev;
}

static inline int64_t must_delete(const char *key)
{
	int64_t rev = 0;
	int err = berth_store_delete(store, key, 0, NULL, &rev);

	cr_assert_eq(err, 0, "delete %s: %s", key, strerror(-err));
	return rev;
}

/* Assert key holds value with these revisions (0: don't check). */
static inline void expect_kv(const char *key, const char *value,
			     int64_t create_rev, int64_t mod_rev)
{
	struct berth_kv kv;
	int err = berth_store_get(store, key, &kv);

	cr_assert_eq(err, 0, "get %s: %s", key, strerror(-err));
	cr_expect_str_eq(kv.key, key);
	cr_expect_eq(kv.value_len, strlen(value), "%s: length %zu, want %zu",
		     key, kv.value_len, strlen(value));
	cr_expect_str_eq(kv.value, value, "%s: value", key);
	if (create_rev)
		cr_expect_eq(kv.create_revision, create_rev,
			     "%s: create_revision %lld, want %lld", key,
			     (long long)kv.create_revision,
			     (long long)create_rev);
	if (mod_rev)
		cr_expect_eq(kv.mod_revision, mod_rev,
			     "%s: mod_revision %lld, want %lld", key,
			     (long long)kv.mod_revision, (long long)mod_rev);
	berth_kv_free(&kv);
}

static inline int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* A copy of one watch event. */
struct rec_event {
	enum berth_event_type type;
	char *key;
	char *value;
	size_t value_len;
	int64_t create_rev;
	int64_t mod_rev;
	bool has_prev;
	char *prev;
	int64_t prev_mod_rev;
};

struct recorder {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	struct rec_event *ev;
	size_t n, cap;
	int err; /* the error that ended the watch */
	int ends; /* how many times cb got ev == NULL */
	int in_cb; /* callbacks running now */
	int max_in_cb;
	useconds_t delay; /* each callback sleeps this long */
	useconds_t delay_once; /* the first callback sleeps this long */
};

static inline void rec_init(struct recorder *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
}

static inline void rec_free(struct recorder *r)
{
	size_t i;

	for (i = 0; i < r->n; i++) {
		free(r->ev[i].key);
		free(r->ev[i].value);
		free(r->ev[i].prev);
	}
	free(r->ev);
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
}

static inline char *dup_bytes(const char *p, size_t len)
{
	char *d = malloc(len + 1);

	cr_assert(d);
	memcpy(d, p, len);
	d[len] = '\0';
	return d;
}

static inline void rec_cb(void *ctx, const struct berth_event *ev, int err)
{
	struct recorder *r = ctx;
	struct rec_event *e;

	pthread_mutex_lock(&r->mu);
	if (++r->in_cb > r->max_in_cb)
		r->max_in_cb = r->in_cb;
	pthread_mutex_unlock(&r->mu);
	if (r->delay)
		usleep(r->delay);
	if (r->delay_once) {
		usleep(r->delay_once);
		r->delay_once = 0; /* callbacks of a watch never overlap */
	}
	pthread_mutex_lock(&r->mu);
	r->in_cb--;
	if (!ev) {
		r->ends++;
		r->err = err;
		goto out;
	}
	if (r->n == r->cap) {
		r->cap = r->cap ? r->cap * 2 : 64;
		r->ev = realloc(r->ev, r->cap * sizeof(*r->ev));
		cr_assert(r->ev);
	}
	e = &r->ev[r->n++];
	memset(e, 0, sizeof(*e));
	e->type = ev->type;
	e->key = dup_bytes(ev->kv.key, strlen(ev->kv.key));
	e->value =
		dup_bytes(ev->kv.value ? ev->kv.value : "", ev->kv.value_len);
	e->value_len = ev->kv.value_len;
	e->create_rev = ev->kv.create_revision;
	e->mod_rev = ev->kv.mod_revision;
	e->has_prev = ev->has_prev;
	if (ev->has_prev) {
		e->prev = dup_bytes(ev->prev.value ? ev->prev.value : "",
				    ev->prev.value_len);
		e->prev_mod_rev = ev->prev.mod_revision;
	}
out:
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

/* Wait until r holds n events (or the watch ended); true if it does. */
static inline bool rec_wait(struct recorder *r, size_t n, int timeout_ms)
{
	struct timespec ts;
	bool ok;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += timeout_ms / 1000;
	ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000;
	if (ts.tv_nsec >= 1000000000) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000;
	}
	pthread_mutex_lock(&r->mu);
	while (r->n < n && !r->ends &&
	       pthread_cond_timedwait(&r->cv, &r->mu, &ts) == 0)
		;
	ok = r->n >= n;
	pthread_mutex_unlock(&r->mu);
	return ok;
}

static inline size_t rec_count(struct recorder *r)
{
	size_t n;

	pthread_mutex_lock(&r->mu);
	n = r->n;
	pthread_mutex_unlock(&r->mu);
	return n;
}

static inline struct berth_watch *
must_watch(const char *prefix, int64_t from_rev, struct recorder *r)
{
	struct berth_watch *w = NULL;
	int err = berth_store_watch(store, prefix, from_rev, rec_cb, r, &w);

	cr_assert_eq(err, 0, "watch %s from %lld: %s", prefix,
		     (long long)from_rev, strerror(-err));
	return w;
}

#endif
