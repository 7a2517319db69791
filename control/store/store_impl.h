/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the store's backends (sqlite.c, etcd.c) share with common.c: the ops
 * table every backend fills in, and the points store.h leaves open that both
 * backends must settle the same way, since one test suite runs against both.
 *
 * A backend embeds struct berth_store (and struct berth_watch) as the FIRST
 * member of its own structs and casts back (container_of style).
 *
 * common.c checks arguments before it calls an op, so an op may rely on:
 *   - s (and w) are not NULL;
 *   - key is not NULL and not empty;
 *   - prefix is not NULL ("" when the caller passed NULL: every key);
 *   - start_after is NULL or not empty (a caller's "" becomes NULL);
 *   - value is not NULL (a caller's NULL with len 0 becomes "");
 *   - out (get, list) is not NULL and zeroed; rev, more, n are not NULL
 *     (common.c passes a local when the caller passed NULL); prev (delete)
 *     may be NULL: the backend then need not read the old value;
 *   - revisions, expect_mod_rev, ttl_seconds and from_rev are >= 0;
 *   - watch: cb and out are not NULL.
 *
 * Semantics both backends follow where store.h is silent:
 *   - ttl_seconds is set by each write: an update with 0 removes an earlier
 *     expiry (as an etcd put without a lease does). Expiry is at least
 *     ttl_seconds after the write and may be up to ~2 s later (etcd rounds
 *     short leases up, SQLite sweeps periodically).
 *   - list: at_rev > current revision -> -EINVAL; at_rev < compacted
 *     revision -> -ESTALE; at_rev == compacted revision is readable.
 *     start_after sorting before prefix means "from the first key".
 *     *more is false when limit is 0.
 *   - compact(rev): rev > current revision -> -EINVAL; rev at or below the
 *     revision already compacted -> 0, nothing done.
 *   - watch: from_rev < compacted revision -> -ESTALE; from_rev above the
 *     current revision is allowed (events start once writes get there).
 *     Events arrive one revision at a time, in revision order, with no gap
 *     for the watch's prefix. For DELETE, kv holds the deleted value
 *     (create_revision of the deleted key, mod_revision = the delete's) and
 *     prev holds it too with its own mod_revision. Pointers in ev are valid
 *     only during the callback. A watch that falls behind a compaction
 *     (history it still needs is gone) gets cb(ctx, NULL, -ESTALE) once and
 *     ends; the caller still cancels it.
 *   - close: the caller cancels its watches first; close ends any left
 *     without calling them again and frees them.
 */
#ifndef BERTH_STORE_IMPL_H
#define BERTH_STORE_IMPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"

struct store_ops;

struct berth_store {
	const struct store_ops *ops;
	const struct berth_store_transformer *xf; /* NULL: values as given */
};

struct berth_watch {
	struct berth_store *store; /* whose ops cancel it */
	void *xf_watch; /* common.c's wrapper of cb when xf is set */
};

/* One op per function of store.h, same arguments, after common.c's checks. */
struct store_ops {
	const char *name; /* berth_store_backend() */
	void (*close)(struct berth_store *s);
	int (*revision)(struct berth_store *s, int64_t *rev);
	int (*get)(struct berth_store *s, const char *key,
		   struct berth_kv *out);
	int (*list)(struct berth_store *s, const char *prefix,
		    const char *start_after, size_t limit, int64_t at_rev,
		    struct berth_kv_list *out, int64_t *rev, bool *more);
	int (*count)(struct berth_store *s, const char *prefix, size_t *n);
	int (*create)(struct berth_store *s, const char *key, const void *value,
		      size_t len, int64_t ttl_seconds, int64_t *rev);
	int (*update)(struct berth_store *s, const char *key, const void *value,
		      size_t len, int64_t expect_mod_rev, int64_t ttl_seconds,
		      int64_t *rev);
	int (*del)(struct berth_store *s, const char *key,
		   int64_t expect_mod_rev, struct berth_kv *prev, int64_t *rev);
	int (*compact)(struct berth_store *s, int64_t rev);
	int (*watch)(struct berth_store *s, const char *prefix,
		     int64_t from_rev, berth_watch_cb cb, void *ctx,
		     struct berth_watch **out);
	void (*watch_cancel)(struct berth_watch *w);
	/* NULL: the backend has its own tool (etcd: etcdctl snapshot) */
	int (*snapshot)(struct berth_store *s, void **buf, size_t *len);
};

/* Helpers in common.c for both backends. */

/*
 * Fill kv with copies of key (key_len bytes) and value (value_len bytes,
 * NUL added); 0 or -ENOMEM (kv then holds nothing to free).
 */
int store_kv_fill(struct berth_kv *kv, const char *key, size_t key_len,
		  const void *value, size_t value_len, int64_t create_rev,
		  int64_t mod_rev);
/* A zeroed slot at the end of l (growing it, *cap tracks room), or NULL. */
struct berth_kv *store_list_add(struct berth_kv_list *l, size_t *cap);
bool store_has_prefix(const char *key, const char *prefix);

#endif
