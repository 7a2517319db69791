/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A string-keyed hash map with chaining, and the small time and condition
 * variable helpers the controllers' threads share.
 */
#ifndef BERTH_CONTROLLERS_STRMAP_H
#define BERTH_CONTROLLERS_STRMAP_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct berth_strmap_ent {
	struct berth_strmap_ent *next;
	char *key; /* a copy */
	void *val;
};

/* All zero is an empty map. */
struct berth_strmap {
	struct berth_strmap_ent **b;
	size_t nb, n;
};

/* FNV-1a of a string. */
uint64_t berth_str_hash(const char *s);
void *berth_strmap_get(const struct berth_strmap *m, const char *key);
/* Insert or replace; aborts when out of memory (as the callers would). */
void berth_strmap_put(struct berth_strmap *m, const char *key, void *val);
/* Remove key; its value, or NULL. */
void *berth_strmap_del(struct berth_strmap *m, const char *key);
/* Free the entries (not the values). */
void berth_strmap_free(struct berth_strmap *m);

/* Walk every entry: for (e = NULL; (e = berth_strmap_next(m, &i, e));) */
struct berth_strmap_ent *berth_strmap_next(const struct berth_strmap *m,
					   size_t *bucket,
					   struct berth_strmap_ent *e);

/* A condition variable timed on CLOCK_MONOTONIC. */
void berth_cond_init_monotonic(pthread_cond_t *c);
/* *ts = CLOCK_MONOTONIC now + ms, for pthread_cond_timedwait. */
void berth_deadline(struct timespec *ts, int64_t ms);

#endif
