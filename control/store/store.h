/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * berth-server's store: a revisioned key-value store with etcd v3's model,
 * so both backends (SQLite, etcd) behave the same. Every write gets the next
 * revision of the whole store; a key remembers the revision that created it
 * and the one that last changed it; watches replay history from any
 * revision not yet compacted and then follow new writes in order.
 *
 * All calls return 0 or -errno:
 *   -ENOENT     key absent (get, update, delete)
 *   -EEXIST     create of a key that exists
 *   -ECANCELED  compare-and-swap lost: the key's mod_revision is not the one
 *               the caller expected (-> HTTP 409)
 *   -ESTALE     revision compacted (-> HTTP 410 Gone)
 *   -EINVAL     bad argument (empty key, revision in the future)
 *   -EIO/-ENOTCONN  backend failure (disk, etcd unreachable)
 * Acknowledged writes are durable against a crash of the process.
 * Thread-safe: any call from any thread.
 */
#ifndef BERTH_STORE_H
#define BERTH_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berth_kv {
	char *key; /* NUL-terminated */
	char *value; /* value_len bytes, NUL-terminated for convenience */
	size_t value_len;
	int64_t create_revision;
	int64_t mod_revision;
	bool stale; /* read through a transformer, not in its write form */
};

struct berth_kv_list {
	struct berth_kv *items;
	size_t n;
};

enum berth_event_type {
	BERTH_EVENT_PUT, /* created or updated: kv.create_revision tells which */
	BERTH_EVENT_DELETE, /* kv is the deleted value, mod_revision = the delete's */
};

struct berth_event {
	enum berth_event_type type;
	struct berth_kv kv;
	bool has_prev;
	struct berth_kv prev; /* the value before this event, if any */
};

struct berth_store;
struct berth_watch;

/*
 * A value transformer (encryption at rest): to turns a value into its
 * stored form, from turns it back; each returns 0 with a malloc'd *out
 * (NUL-terminated, *outlen bytes), 1 to leave the value as it is (a key it
 * does not cover), or -errno. from sets *stale when the stored form is not
 * what to would write now (an older key), so a rewrite is worth it.
 */
struct berth_store_transformer {
	int (*to)(void *ctx, const char *key, const void *in, size_t len,
		  char **out, size_t *outlen);
	int (*from)(void *ctx, const char *key, const void *in, size_t len,
		    char **out, size_t *outlen, bool *stale);
	void *ctx;
};
/* Set before any other use of s; t must outlive s. */
void berth_store_set_transformer(struct berth_store *s,
				 const struct berth_store_transformer *t);

/* SQLite at path (created if missing), WAL mode. */
int berth_store_open_sqlite(struct berth_store **out, const char *path);
/*
 * etcd v3 JSON gateway: endpoints like "http://127.0.0.1:2379", tried in
 * order. etcd must accept requests of 4 MiB (--max-request-bytes) for the
 * API's 3 MiB bodies.
 */
int berth_store_open_etcd(struct berth_store **out,
			  const char *const *endpoints, size_t n);
void berth_store_close(struct berth_store *s);
/* "sqlite" or "etcd", for logs and metrics. */
const char *berth_store_backend(const struct berth_store *s);

/* The revision of the last write (empty store: SQLite 0, etcd 1). */
int berth_store_revision(struct berth_store *s, int64_t *rev);

int berth_store_get(struct berth_store *s, const char *key,
		    struct berth_kv *out);

/*
 * Keys with prefix, in key order, starting after start_after (NULL: from the
 * first), at most limit (0: all), as of revision at_rev (0: now; older
 * revisions need the history: -ESTALE when compacted). *rev is the revision
 * the list is consistent with; *more tells whether keys were left out.
 */
int berth_store_list(struct berth_store *s, const char *prefix,
		     const char *start_after, size_t limit, int64_t at_rev,
		     struct berth_kv_list *out, int64_t *rev, bool *more);
/* Number of keys with prefix now. */
int berth_store_count(struct berth_store *s, const char *prefix, size_t *n);

/*
 * Writes. *rev (if not NULL) gets the write's revision. expect_mod_rev 0
 * means "whatever is there" (update/delete), otherwise compare-and-swap.
 * ttl_seconds > 0: the key is deleted (a DELETE event) once it expires.
 */
int berth_store_create(struct berth_store *s, const char *key,
		       const void *value, size_t len, int64_t ttl_seconds,
		       int64_t *rev);
int berth_store_update(struct berth_store *s, const char *key,
		       const void *value, size_t len, int64_t expect_mod_rev,
		       int64_t ttl_seconds, int64_t *rev);
/* prev (if not NULL) gets the deleted value. */
int berth_store_delete(struct berth_store *s, const char *key,
		       int64_t expect_mod_rev, struct berth_kv *prev,
		       int64_t *rev);

/* Forget history before rev; watches and lists older than that get -ESTALE. */
int berth_store_compact(struct berth_store *s, int64_t rev);

/*
 * Watch keys with prefix: events with revision > from_rev (0: only new
 * writes), in revision order, delivered to cb on a thread of the store.
 * cb must not block for long and must not cancel its own watch. -ESTALE if
 * from_rev is compacted. When the store cannot go on (backend lost), cb gets
 * ev == NULL with err set, once, and the watch ends.
 */
typedef void (*berth_watch_cb)(void *ctx, const struct berth_event *ev,
			       int err);
int berth_store_watch(struct berth_store *s, const char *prefix,
		      int64_t from_rev, berth_watch_cb cb, void *ctx,
		      struct berth_watch **out);
/* Stop a watch; cb is not called once this returns. */
void berth_watch_cancel(struct berth_watch *w);

/*
 * A consistent copy of the whole store as one file image (SQLite: the
 * database file), for backups: *buf is malloc'd, the caller frees it.
 * -EOPNOTSUPP for a backend that has its own snapshot tool (etcd).
 */
int berth_store_snapshot(struct berth_store *s, void **buf, size_t *len);

/*
 * Called after every operation of every store with its name ("get",
 * "list", "count", "create", "update", "delete", "compact", "watch",
 * "revision"), the backend's name, the result and the time it took; for
 * metrics. NULL (the default) turns it off. Must be quick and thread-safe.
 */
typedef void (*berth_store_observer)(const char *op, const char *backend,
				     int err, double seconds);
void berth_store_set_observer(berth_store_observer fn);

void berth_kv_free(struct berth_kv *kv);
void berth_kv_list_free(struct berth_kv_list *l);

#endif
