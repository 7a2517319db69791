// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The SQLite store: etcd's revision model on one embedded file, so a
 * single-node berth-server needs nothing else.
 *
 * Tables:
 *   log   one row per write (revision = rowid): key, create_rev, prev_rev
 *         (the mod revision this write replaced, 0 for a create), value
 *         (NULL for a delete), deleted, expire. History for watches and for
 *         lists at an older revision; compaction removes the rows that are
 *         superseded at or before the compacted revision.
 *   kv    the keys that exist now: key -> the log row holding the value,
 *         create_rev, expire. Gets, lists and counts "now" read it.
 *   meta  compact (revisions below it are gone as far as callers can tell)
 *         and purged (history actually deleted up to here, see compact).
 *
 * Durability: WAL with synchronous=NORMAL. A commit is a write() into the
 * WAL, in the page cache once COMMIT returns, so an acknowledged write
 * survives kill -9 of the process; only a power loss or kernel crash can
 * take the last commits (the file stays consistent). That is the contract
 * of store.h and it keeps a create far below a millisecond; fsync per
 * commit (synchronous=FULL) would cost a disk flush each.
 *
 * Concurrency: one connection behind one mutex (s->lock), opened with
 * locking_mode=EXCLUSIVE so a second process cannot open the same file
 * and break the in-memory revision counter (-EBUSY instead). Statements
 * are prepared once at open.
 *
 * Watches: one dispatcher thread per store. It reads each new log row once
 * and hands it to every live watch whose prefix matches; a watch from an
 * older revision first catches up from the log, in batches interleaved
 * with live delivery, and joins the live set when it reaches the
 * dispatcher's position, so there is no gap and no duplicate. A TTL
 * sweeper thread deletes expired keys through the normal delete (a DELETE
 * event each). Lock order: s->lock before s->wlock.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/queue.h>
#include <time.h>

#include <sqlite3.h>

#include <berth/log.h>

#include "store_impl.h"

#define SCHEMA_VERSION 1
#define EVENT_BATCH 256 /* log rows per dispatcher read */
#define SWEEP_BATCH 64 /* expired keys per sweeper read */
#define SWEEP_MAX_SLEEP_MS 1000 /* also catches expiries nobody announced */
#define PURGE_CHUNK 10000 /* revisions of history deleted per transaction */
#define BUSY_TIMEOUT_MS 2000 /* ride over a previous owner still exiting */
#define CACHE_KIB 8192 /* page cache; the server's RSS goal is 64 MB */

enum stmt_id {
	ST_BEGIN,
	ST_COMMIT,
	ST_ROLLBACK,
	ST_KV_REV,
	ST_GET,
	ST_LOG_INSERT,
	ST_LOG_VALUE,
	ST_KV_INSERT,
	ST_KV_UPDATE,
	ST_KV_DELETE,
	ST_LIST_GE,
	ST_LIST_GT,
	ST_LIST_AT_GE,
	ST_LIST_AT_GT,
	ST_COUNT,
	ST_EVENTS,
	ST_EXPIRED,
	ST_NEXT_EXPIRY,
	ST_PURGE_SUPERSEDED,
	ST_PURGE_TOMBSTONES,
	ST_META_SET,
	ST_MAX,
};

/*
 * Key ranges: ?lo is the lower bound, ?hi the upper bound (exclusive) of a
 * prefix. With no upper bound (empty prefix) ?hi is bound as a zero-length
 * BLOB, which sorts after every TEXT value. Lists fetch limit + 1 rows to
 * tell whether there are more.
 */
static const char *const stmt_sql[ST_MAX] = {
	[ST_BEGIN] = "BEGIN",
	[ST_COMMIT] = "COMMIT",
	[ST_ROLLBACK] = "ROLLBACK",
	[ST_KV_REV] = "SELECT rev, create_rev FROM kv WHERE key = ?1",
	[ST_GET] = "SELECT kv.create_rev, kv.rev, log.value FROM kv"
		   " JOIN log ON log.rev = kv.rev WHERE kv.key = ?1",
	[ST_LOG_INSERT] = "INSERT INTO log(rev, key, create_rev, prev_rev,"
			  " value, deleted, expire)"
			  " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
	[ST_LOG_VALUE] = "SELECT value FROM log WHERE rev = ?1",
	[ST_KV_INSERT] = "INSERT INTO kv(key, rev, create_rev, expire)"
			 " VALUES (?1, ?2, ?3, ?4)",
	[ST_KV_UPDATE] = "UPDATE kv SET rev = ?2, expire = ?3 WHERE key = ?1",
	[ST_KV_DELETE] = "DELETE FROM kv WHERE key = ?1",
	[ST_LIST_GE] = "SELECT kv.key, kv.create_rev, kv.rev, log.value"
		       " FROM kv JOIN log ON log.rev = kv.rev"
		       " WHERE kv.key >= ?1 AND kv.key < ?2"
		       " ORDER BY kv.key LIMIT ?3",
	[ST_LIST_GT] = "SELECT kv.key, kv.create_rev, kv.rev, log.value"
		       " FROM kv JOIN log ON log.rev = kv.rev"
		       " WHERE kv.key > ?1 AND kv.key < ?2"
		       " ORDER BY kv.key LIMIT ?3",
	/* the newest row of each key at or before ?4, unless a delete */
	[ST_LIST_AT_GE] =
		"SELECT l.key, l.create_rev, l.rev, l.value FROM log l"
		" WHERE l.key >= ?1 AND l.key < ?2 AND l.rev <= ?4"
		" AND l.deleted = 0 AND l.rev = (SELECT max(m.rev)"
		" FROM log m WHERE m.key = l.key AND m.rev <= ?4)"
		" ORDER BY l.key LIMIT ?3",
	[ST_LIST_AT_GT] =
		"SELECT l.key, l.create_rev, l.rev, l.value FROM log l"
		" WHERE l.key > ?1 AND l.key < ?2 AND l.rev <= ?4"
		" AND l.deleted = 0 AND l.rev = (SELECT max(m.rev)"
		" FROM log m WHERE m.key = l.key AND m.rev <= ?4)"
		" ORDER BY l.key LIMIT ?3",
	[ST_COUNT] = "SELECT count(*) FROM kv WHERE key >= ?1 AND key < ?2",
	/* +l.key: walk revisions, never the key index, even for a prefix */
	[ST_EVENTS] = "SELECT l.rev, l.key, l.create_rev, l.prev_rev,"
		      " l.deleted, l.value, p.value"
		      " FROM log l LEFT JOIN log p ON p.rev = l.prev_rev"
		      " WHERE l.rev > ?1 AND l.rev <= ?2"
		      " AND +l.key >= ?3 AND +l.key < ?4"
		      " ORDER BY l.rev LIMIT ?5",
	[ST_EXPIRED] = "SELECT key, rev FROM kv WHERE expire > 0"
		       " AND expire <= ?1 ORDER BY expire LIMIT ?2",
	[ST_NEXT_EXPIRY] = "SELECT min(expire) FROM kv WHERE expire > 0",
	/* a row is superseded when a later row of its key names it as prev */
	[ST_PURGE_SUPERSEDED] = "DELETE FROM log WHERE rev IN (SELECT prev_rev"
				" FROM log WHERE rev > ?1 AND rev <= ?2"
				" AND prev_rev > 0)",
	/* after the above a delete row only says "absent", which no row says too */
	[ST_PURGE_TOMBSTONES] = "DELETE FROM log WHERE rev > ?1 AND rev <= ?2"
				" AND deleted = 1",
	[ST_META_SET] = "INSERT OR REPLACE INTO meta(name, value)"
			" VALUES (?1, ?2)",
};

static const char schema_sql[] =
	"CREATE TABLE IF NOT EXISTS log ("
	" rev INTEGER PRIMARY KEY,"
	" key TEXT NOT NULL,"
	" create_rev INTEGER NOT NULL,"
	" prev_rev INTEGER NOT NULL,"
	" value BLOB,"
	" deleted INTEGER NOT NULL,"
	" expire INTEGER NOT NULL);"
	"CREATE INDEX IF NOT EXISTS log_key ON log(key, rev);"
	"CREATE TABLE IF NOT EXISTS kv ("
	" key TEXT PRIMARY KEY,"
	" rev INTEGER NOT NULL,"
	" create_rev INTEGER NOT NULL,"
	" expire INTEGER NOT NULL) WITHOUT ROWID;"
	"CREATE INDEX IF NOT EXISTS kv_expire ON kv(expire) WHERE expire > 0;"
	"CREATE TABLE IF NOT EXISTS meta ("
	" name TEXT PRIMARY KEY,"
	" value INTEGER NOT NULL) WITHOUT ROWID;";

enum watch_list {
	WL_NONE, /* ended: on no list, waiting for its cancel */
	WL_PENDING, /* catching up from the log */
	WL_LIVE, /* at the dispatcher's position */
};

struct sql_watch {
	struct berth_watch base;
	TAILQ_ENTRY(sql_watch) link;
	enum watch_list on;
	char *prefix;
	char *hi; /* prefix's upper bound, NULL: none */
	size_t hi_len;
	int64_t pos; /* every event up to here delivered or skipped */
	int64_t from; /* deliver only events after this */
	berth_watch_cb cb;
	void *ctx;
	bool cancelled;
};

TAILQ_HEAD(watch_head, sql_watch);

struct sql_store {
	struct berth_store base;

	pthread_mutex_t lock; /* db, stmt, rev, compact_rev, purged_rev */
	sqlite3 *db;
	sqlite3_stmt *stmt[ST_MAX];
	int64_t rev; /* last written revision */
	int64_t compact_rev;
	int64_t purged_rev;

	pthread_mutex_t wlock; /* everything below */
	pthread_cond_t wake; /* dispatcher: commits, new watches, stop */
	pthread_cond_t idle; /* cancel: in_use changed */
	pthread_cond_t sweep; /* sweeper: earlier expiry, stop */
	int64_t committed; /* == rev, published to the dispatcher */
	int64_t dispatched; /* live watches have seen up to here */
	struct watch_head live;
	struct watch_head pending;
	/* the watch the dispatcher reads for or calls: cancel waits */
	struct sql_watch *in_use;
	int64_t next_wake; /* sweeper's next sweep, ms since epoch */
	bool stop;
	bool threads;
	pthread_t dispatcher;
	pthread_t sweeper;
};

/* One log row as the dispatcher read it. */
struct ev_row {
	int64_t rev, create_rev, prev_rev;
	bool deleted;
	char *key;
	char *value; /* the new value; the old one for a delete */
	size_t value_len;
	char *prev; /* the replaced value, if prev_rev */
	size_t prev_len;
};

static const struct store_ops sql_ops;

static struct sql_store *to_sql(struct berth_store *s)
{
	return (struct sql_store *)s;
}

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t expiry(int64_t ttl_seconds)
{
	return ttl_seconds > 0 ? now_ms() + ttl_seconds * 1000 : 0;
}

static int sql_errno(int rc)
{
	switch (rc & 0xff) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_BUSY:
	case SQLITE_LOCKED:
		return -EBUSY;
	case SQLITE_CANTOPEN:
	case SQLITE_PERM:
	case SQLITE_READONLY:
		return -EACCES;
	default:
		return -EIO;
	}
}

static int sql_fail(struct sql_store *s, int rc, const char *what)
{
	pr_err("store sqlite: %s: %s", what, sqlite3_errmsg(s->db));
	return sql_errno(rc);
}

/* A cached statement, reset and unbound, ready for its parameters. */
static sqlite3_stmt *stmt(struct sql_store *s, enum stmt_id id)
{
	sqlite3_stmt *st = s->stmt[id];

	sqlite3_reset(st);
	sqlite3_clear_bindings(st);
	return st;
}

/* Run a statement that returns no row. */
static int exec_stmt(struct sql_store *s, sqlite3_stmt *st, const char *what)
{
	int rc = sqlite3_step(st);

	if (rc != SQLITE_DONE)
		rc = sql_fail(s, rc, what);
	else
		rc = 0;
	sqlite3_reset(st);
	return rc;
}

static int exec_id(struct sql_store *s, enum stmt_id id, const char *what)
{
	return exec_stmt(s, stmt(s, id), what);
}

static void rollback(struct sql_store *s)
{
	if (sqlite3_get_autocommit(s->db))
		return; /* SQLite already rolled back (e.g. SQLITE_FULL) */
	exec_id(s, ST_ROLLBACK, "rollback");
}

static int commit(struct sql_store *s)
{
	int err = exec_id(s, ST_COMMIT, "commit");

	if (err)
		rollback(s);
	return err;
}

/*
 * The exclusive upper bound of keys with prefix: prefix with its last byte
 * below 0xff incremented and what follows dropped; NULL (no bound) for an
 * empty or all-0xff prefix.
 */
static char *prefix_end(const char *prefix, size_t *len)
{
	size_t n = strlen(prefix);
	char *hi;

	while (n && (unsigned char)prefix[n - 1] == 0xff)
		n--;
	*len = n;
	if (!n)
		return NULL;
	hi = malloc(n + 1);
	if (!hi)
		return NULL;
	memcpy(hi, prefix, n);
	hi[n - 1] = (char)((unsigned char)hi[n - 1] + 1);
	hi[n] = '\0';
	return hi;
}

static void bind_hi(sqlite3_stmt *st, int idx, const char *hi, size_t len)
{
	if (hi)
		sqlite3_bind_text(st, idx, hi, (int)len, SQLITE_STATIC);
	else
		sqlite3_bind_zeroblob(st, idx, 0);
}

static int bind_key(sqlite3_stmt *st, int idx, const char *key)
{
	return sqlite3_bind_text(st, idx, key, -1, SQLITE_STATIC);
}

static int column_kv(sqlite3_stmt *st, int key_col, int crev_col, int mrev_col,
		     int val_col, struct berth_kv *kv)
{
	return store_kv_fill(kv, (const char *)sqlite3_column_text(st, key_col),
			     (size_t)sqlite3_column_bytes(st, key_col),
			     sqlite3_column_blob(st, val_col),
			     (size_t)sqlite3_column_bytes(st, val_col),
			     sqlite3_column_int64(st, crev_col),
			     sqlite3_column_int64(st, mrev_col));
}

/* Tell the dispatcher (and the sweeper, for an earlier expiry) about rev. */
static void publish(struct sql_store *s, int64_t rev, int64_t expire)
{
	pthread_mutex_lock(&s->wlock);
	s->committed = rev;
	pthread_cond_signal(&s->wake);
	if (expire && expire < s->next_wake) {
		s->next_wake = expire;
		pthread_cond_signal(&s->sweep);
	}
	pthread_mutex_unlock(&s->wlock);
}

static int sql_revision(struct berth_store *bs, int64_t *rev)
{
	struct sql_store *s = to_sql(bs);

	pthread_mutex_lock(&s->lock);
	*rev = s->rev;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int sql_get(struct berth_store *bs, const char *key,
		   struct berth_kv *out)
{
	struct sql_store *s = to_sql(bs);
	sqlite3_stmt *st;
	int err, rc;

	pthread_mutex_lock(&s->lock);
	st = stmt(s, ST_GET);
	bind_key(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = store_kv_fill(out, key, strlen(key),
				    sqlite3_column_blob(st, 2),
				    (size_t)sqlite3_column_bytes(st, 2),
				    sqlite3_column_int64(st, 0),
				    sqlite3_column_int64(st, 1));
	else if (rc == SQLITE_DONE)
		err = -ENOENT;
	else
		err = sql_fail(s, rc, "get");
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->lock);
	return err;
}

/*
 * The list statement with its lower bound bound: at now or at an older
 * revision, keys after start_after or from the prefix on.
 */
static sqlite3_stmt *list_stmt(struct sql_store *s, const char *prefix,
			       const char *start_after, bool at_now)
{
	bool after = start_after && strcmp(start_after, prefix) >= 0;
	sqlite3_stmt *st;
	enum stmt_id id;

	if (at_now)
		id = after ? ST_LIST_GT : ST_LIST_GE;
	else
		id = after ? ST_LIST_AT_GT : ST_LIST_AT_GE;
	st = stmt(s, id);
	bind_key(st, 1, after ? start_after : prefix);
	return st;
}

static int list_rows(struct sql_store *s, sqlite3_stmt *st, size_t limit,
		     struct berth_kv_list *out, bool *more)
{
	struct berth_kv *kv;
	size_t cap = 0;
	int rc;

	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		if (limit && out->n == limit) {
			*more = true;
			break;
		}
		kv = store_list_add(out, &cap);
		if (!kv || column_kv(st, 0, 1, 2, 3, kv)) {
			if (kv)
				out->n--;
			return -ENOMEM;
		}
	}
	if (rc != SQLITE_ROW && rc != SQLITE_DONE)
		return sql_fail(s, rc, "list");
	return 0;
}

static int sql_list(struct berth_store *bs, const char *prefix,
		    const char *start_after, size_t limit, int64_t at_rev,
		    struct berth_kv_list *out, int64_t *rev, bool *more)
{
	struct sql_store *s = to_sql(bs);
	size_t hi_len;
	char *hi = prefix_end(prefix, &hi_len);
	sqlite3_stmt *st;
	bool at_now;
	int err;

	*more = false;
	if (!hi && hi_len)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (at_rev > s->rev) {
		err = -EINVAL;
		goto out;
	}
	if (at_rev && at_rev < s->compact_rev) {
		err = -ESTALE;
		goto out;
	}
	at_now = !at_rev || at_rev == s->rev;
	*rev = at_now ? s->rev : at_rev;
	st = list_stmt(s, prefix, start_after, at_now);
	bind_hi(st, 2, hi, hi_len);
	sqlite3_bind_int64(st, 3, limit ? (int64_t)limit + 1 : -1);
	if (!at_now)
		sqlite3_bind_int64(st, 4, at_rev);
	err = list_rows(s, st, limit, out, more);
	sqlite3_reset(st);
out:
	pthread_mutex_unlock(&s->lock);
	free(hi);
	if (err) {
		berth_kv_list_free(out);
		*more = false;
	}
	return err;
}

static int sql_count(struct berth_store *bs, const char *prefix, size_t *n)
{
	struct sql_store *s = to_sql(bs);
	size_t hi_len;
	char *hi = prefix_end(prefix, &hi_len);
	sqlite3_stmt *st;
	int err = 0, rc;

	if (!hi && hi_len)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	st = stmt(s, ST_COUNT);
	bind_key(st, 1, prefix);
	bind_hi(st, 2, hi, hi_len);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		*n = (size_t)sqlite3_column_int64(st, 0);
	else
		err = sql_fail(s, rc, "count");
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->lock);
	free(hi);
	return err;
}

/*
 * The database as one file image, read in one transaction under the store
 * lock (the file itself is locked EXCLUSIVE, so nothing outside the server
 * can copy it while it runs).
 */
static int sql_snapshot(struct berth_store *bs, void **buf, size_t *len)
{
	struct sql_store *s = to_sql(bs);
	sqlite3_int64 size = 0;
	unsigned char *img;
	void *copy;

	pthread_mutex_lock(&s->lock);
	img = sqlite3_serialize(s->db, "main", &size, 0);
	pthread_mutex_unlock(&s->lock);
	if (!img)
		return -ENOMEM;
	/* sqlite3_malloc'd: hand the caller plain malloc memory */
	copy = malloc(size ? (size_t)size : 1);
	if (copy)
		memcpy(copy, img, (size_t)size);
	sqlite3_free(img);
	if (!copy)
		return -ENOMEM;
	*buf = copy;
	*len = (size_t)size;
	return 0;
}

/*
 * The key's current mod and create revisions, checked against the
 * expected one: 0, -ENOENT, -ECANCELED or -errno.
 */
static int kv_check(struct sql_store *s, const char *key,
		    int64_t expect_mod_rev, int64_t *mod_rev,
		    int64_t *create_rev)
{
	sqlite3_stmt *st = stmt(s, ST_KV_REV);
	int err = 0, rc;

	bind_key(st, 1, key);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW) {
		*mod_rev = sqlite3_column_int64(st, 0);
		*create_rev = sqlite3_column_int64(st, 1);
		if (expect_mod_rev && *mod_rev != expect_mod_rev)
			err = -ECANCELED;
	} else if (rc == SQLITE_DONE) {
		err = -ENOENT;
	} else {
		err = sql_fail(s, rc, "read key");
	}
	sqlite3_reset(st);
	return err;
}

/* Append the log row of a write; value NULL means a delete. */
static int log_append(struct sql_store *s, int64_t rev, const char *key,
		      int64_t create_rev, int64_t prev_rev, const void *value,
		      size_t len, int64_t expire)
{
	sqlite3_stmt *st = stmt(s, ST_LOG_INSERT);

	sqlite3_bind_int64(st, 1, rev);
	bind_key(st, 2, key);
	sqlite3_bind_int64(st, 3, create_rev);
	sqlite3_bind_int64(st, 4, prev_rev);
	if (value)
		sqlite3_bind_blob64(st, 5, value, len, SQLITE_STATIC);
	sqlite3_bind_int(st, 6, !value);
	sqlite3_bind_int64(st, 7, expire);
	return exec_stmt(s, st, "append to log");
}

/*
 * Every write is one transaction under s->lock: begin_write takes the lock
 * and *r, the revision the write will have; end_write commits and makes r
 * visible (to callers and watches), or rolls back what err interrupted,
 * and drops the lock.
 */
static int begin_write(struct sql_store *s, int64_t *r)
{
	int err;

	pthread_mutex_lock(&s->lock);
	*r = s->rev + 1;
	err = exec_id(s, ST_BEGIN, "begin");
	if (err)
		pthread_mutex_unlock(&s->lock);
	return err;
}

static int end_write(struct sql_store *s, int err, int64_t r, int64_t expire,
		     int64_t *rev)
{
	if (err) {
		rollback(s);
	} else {
		err = commit(s);
		if (!err) {
			s->rev = r;
			*rev = r;
			publish(s, r, expire);
		}
	}
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int kv_insert(struct sql_store *s, const char *key, int64_t r,
		     int64_t expire)
{
	sqlite3_stmt *st = stmt(s, ST_KV_INSERT);
	int rc;

	bind_key(st, 1, key);
	sqlite3_bind_int64(st, 2, r);
	sqlite3_bind_int64(st, 3, r);
	sqlite3_bind_int64(st, 4, expire);
	rc = sqlite3_step(st);
	if (rc == SQLITE_DONE)
		rc = 0;
	else if (rc == SQLITE_CONSTRAINT)
		rc = -EEXIST;
	else
		rc = sql_fail(s, rc, "create");
	sqlite3_reset(st);
	return rc;
}

static int sql_create(struct berth_store *bs, const char *key,
		      const void *value, size_t len, int64_t ttl_seconds,
		      int64_t *rev)
{
	struct sql_store *s = to_sql(bs);
	int64_t expire = expiry(ttl_seconds);
	int64_t r;
	int err;

	err = begin_write(s, &r);
	if (err)
		return err;
	/* the primary key says whether it exists: one lookup, not two */
	err = kv_insert(s, key, r, expire);
	if (!err)
		err = log_append(s, r, key, r, 0, value, len, expire);
	return end_write(s, err, r, expire, rev);
}

static int read_prev(struct sql_store *s, const char *key, int64_t create_rev,
		     int64_t mod_rev, struct berth_kv *prev)
{
	sqlite3_stmt *st = stmt(s, ST_LOG_VALUE);
	int err, rc;

	sqlite3_bind_int64(st, 1, mod_rev);
	rc = sqlite3_step(st);
	if (rc == SQLITE_ROW)
		err = store_kv_fill(prev, key, strlen(key),
				    sqlite3_column_blob(st, 0),
				    (size_t)sqlite3_column_bytes(st, 0),
				    create_rev, mod_rev);
	else
		err = rc == SQLITE_DONE ? -EIO : sql_fail(s, rc, "read value");
	sqlite3_reset(st);
	return err;
}

/* Point the key at its new log row, or drop it (value NULL). */
static int kv_change(struct sql_store *s, const char *key, const void *value,
		     int64_t r, int64_t expire)
{
	sqlite3_stmt *st = stmt(s, value ? ST_KV_UPDATE : ST_KV_DELETE);

	bind_key(st, 1, key);
	if (value) {
		sqlite3_bind_int64(st, 2, r);
		sqlite3_bind_int64(st, 3, expire);
	}
	return exec_stmt(s, st, value ? "update" : "delete");
}

/*
 * Update (value) or delete (value NULL) a key that exists, compare-and-swap
 * on its mod revision; prev, if not NULL, gets the value it replaced.
 */
static int change(struct sql_store *s, const char *key, int64_t expect_mod_rev,
		  const void *value, size_t len, int64_t expire,
		  struct berth_kv *prev, int64_t *rev)
{
	int64_t mod_rev = 0, create_rev = 0, r;
	int err;

	err = begin_write(s, &r);
	if (err)
		return err;
	err = kv_check(s, key, expect_mod_rev, &mod_rev, &create_rev);
	if (!err && prev)
		err = read_prev(s, key, create_rev, mod_rev, prev);
	if (!err)
		err = log_append(s, r, key, create_rev, mod_rev, value, len,
				 expire);
	if (!err)
		err = kv_change(s, key, value, r, expire);
	err = end_write(s, err, r, expire, rev);
	if (err && prev)
		berth_kv_free(prev);
	return err;
}

static int sql_update(struct berth_store *bs, const char *key,
		      const void *value, size_t len, int64_t expect_mod_rev,
		      int64_t ttl_seconds, int64_t *rev)
{
	return change(to_sql(bs), key, expect_mod_rev, value, len,
		      expiry(ttl_seconds), NULL, rev);
}

static int sql_delete(struct berth_store *bs, const char *key,
		      int64_t expect_mod_rev, struct berth_kv *prev,
		      int64_t *rev)
{
	return change(to_sql(bs), key, expect_mod_rev, NULL, 0, 0, prev, rev);
}

static int meta_set(struct sql_store *s, const char *name, int64_t value)
{
	sqlite3_stmt *st = stmt(s, ST_META_SET);

	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, value);
	return exec_stmt(s, st, "write meta");
}

static int purge_range(struct sql_store *s, enum stmt_id id, int64_t lo,
		       int64_t hi)
{
	sqlite3_stmt *st = stmt(s, id);

	sqlite3_bind_int64(st, 1, lo);
	sqlite3_bind_int64(st, 2, hi);
	return exec_stmt(s, st, "compact");
}

/*
 * Delete the history superseded in (purged_rev, upto], one transaction per
 * PURGE_CHUNK revisions so writers wait for a chunk, not for all of it.
 * Called with s->lock held; drops it between chunks.
 */
static int purge(struct sql_store *s, int64_t upto)
{
	int64_t lo, hi;
	int err = 0;

	while (!err && s->purged_rev < upto) {
		lo = s->purged_rev;
		hi = upto - lo > PURGE_CHUNK ? lo + PURGE_CHUNK : upto;
		err = exec_id(s, ST_BEGIN, "begin");
		if (err)
			break;
		err = purge_range(s, ST_PURGE_SUPERSEDED, lo, hi);
		if (!err)
			err = purge_range(s, ST_PURGE_TOMBSTONES, lo, hi);
		if (!err)
			err = meta_set(s, "purged", hi);
		if (!err)
			err = commit(s);
		else
			rollback(s);
		if (!err)
			s->purged_rev = hi;
		if (!err && hi < upto) { /* let waiting writers in */
			pthread_mutex_unlock(&s->lock);
			sched_yield();
			pthread_mutex_lock(&s->lock);
		}
	}
	return err;
}

static int sql_compact(struct berth_store *bs, int64_t rev)
{
	struct sql_store *s = to_sql(bs);
	int64_t upto;
	int err = 0;

	pthread_mutex_lock(&s->lock);
	if (rev > s->rev) {
		err = -EINVAL;
		goto out;
	}
	if (rev > s->compact_rev) {
		err = meta_set(s, "compact", rev);
		if (err)
			goto out;
		s->compact_rev = rev;
	}
	/*
	 * Rows the dispatcher has not read yet stay until a later compaction:
	 * live watches must not lose events they are owed.
	 */
	pthread_mutex_lock(&s->wlock);
	upto = s->dispatched < s->compact_rev ? s->dispatched : s->compact_rev;
	pthread_mutex_unlock(&s->wlock);
	err = purge(s, upto);
out:
	pthread_mutex_unlock(&s->lock);
	return err;
}

/* Watches: reading the log, delivering, the dispatcher thread. */

static void free_rows(struct ev_row *rows, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		free(rows[i].key);
}

static int read_row(sqlite3_stmt *st, struct ev_row *r)
{
	const void *val, *prev;
	size_t klen, vlen, plen;
	char *buf;

	r->rev = sqlite3_column_int64(st, 0);
	r->create_rev = sqlite3_column_int64(st, 2);
	r->prev_rev = sqlite3_column_int64(st, 3);
	r->deleted = sqlite3_column_int(st, 4);
	klen = (size_t)sqlite3_column_bytes(st, 1);
	val = sqlite3_column_blob(st, 5);
	vlen = (size_t)sqlite3_column_bytes(st, 5);
	prev = sqlite3_column_blob(st, 6);
	plen = (size_t)sqlite3_column_bytes(st, 6);
	/* key, value and prev in one allocation, each NUL-terminated */
	buf = malloc(klen + vlen + plen + 3);
	if (!buf)
		return -ENOMEM;
	r->key = buf;
	memcpy(r->key, sqlite3_column_text(st, 1), klen);
	r->key[klen] = '\0';
	r->value = r->key + klen + 1;
	if (vlen)
		memcpy(r->value, val, vlen);
	r->value[vlen] = '\0';
	r->value_len = vlen;
	r->prev = r->value + vlen + 1;
	if (plen)
		memcpy(r->prev, prev, plen);
	r->prev[plen] = '\0';
	r->prev_len = plen;
	if (r->deleted) { /* a delete event carries the deleted value */
		r->value = r->prev;
		r->value_len = plen;
	}
	return 0;
}

/*
 * Log rows in (after, upto] with keys in [lo, hi), at most EVENT_BATCH.
 * *end is where the next read starts: the last row's revision when the
 * batch is full, upto otherwise. A catch-up read gets -ESTALE when after
 * is compacted; the live read (every key, for all live watches) never
 * does: compaction keeps the rows the dispatcher has not read.
 */
static int read_events(struct sql_store *s, bool live, int64_t after,
		       int64_t upto, const char *lo, const char *hi,
		       size_t hi_len, struct ev_row *rows, size_t *n,
		       int64_t *end)
{
	sqlite3_stmt *st;
	int err = 0, rc;

	*n = 0;
	pthread_mutex_lock(&s->lock);
	if (!live && after < s->compact_rev) {
		pthread_mutex_unlock(&s->lock);
		return -ESTALE;
	}
	st = stmt(s, ST_EVENTS);
	sqlite3_bind_int64(st, 1, after);
	sqlite3_bind_int64(st, 2, upto);
	bind_key(st, 3, lo);
	bind_hi(st, 4, hi, hi_len);
	sqlite3_bind_int(st, 5, EVENT_BATCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		err = read_row(st, &rows[*n]);
		if (err)
			break;
		(*n)++;
	}
	if (!err && rc != SQLITE_DONE)
		err = sql_fail(s, rc, "read log");
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->lock);
	if (err) {
		free_rows(rows, *n);
		*n = 0;
		return err;
	}
	*end = *n == EVENT_BATCH ? rows[*n - 1].rev : upto;
	return 0;
}

static void row_event(const struct ev_row *r, struct berth_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->type = r->deleted ? BERTH_EVENT_DELETE : BERTH_EVENT_PUT;
	ev->kv.key = r->key;
	ev->kv.value = r->value;
	ev->kv.value_len = r->value_len;
	ev->kv.create_revision = r->create_rev;
	ev->kv.mod_revision = r->rev;
	if (!r->prev_rev)
		return;
	ev->has_prev = true;
	ev->prev.key = r->key;
	ev->prev.value = r->prev;
	ev->prev.value_len = r->prev_len;
	ev->prev.create_revision = r->create_rev;
	ev->prev.mod_revision = r->prev_rev;
}

static void watch_free(struct sql_watch *w)
{
	free(w->prefix);
	free(w->hi);
	free(w);
}

static void unlink_watch(struct sql_store *s, struct sql_watch *w)
{
	if (w->on == WL_LIVE)
		TAILQ_REMOVE(&s->live, w, link);
	else if (w->on == WL_PENDING)
		TAILQ_REMOVE(&s->pending, w, link);
	w->on = WL_NONE;
}

/*
 * Call w's callback; wlock held on entry and exit, dropped for the call.
 * in_use keeps cancel from freeing w meanwhile.
 */
static void deliver(struct sql_store *s, struct sql_watch *w,
		    const struct berth_event *ev, int err)
{
	if (w->cancelled)
		return;
	s->in_use = w;
	pthread_mutex_unlock(&s->wlock);
	w->cb(w->ctx, ev, err);
	pthread_mutex_lock(&s->wlock);
	s->in_use = NULL;
	pthread_cond_broadcast(&s->idle);
}

/* The watch cannot go on: tell it once and take it off the lists. */
static void end_watch(struct sql_store *s, struct sql_watch *w, int err)
{
	unlink_watch(s, w);
	deliver(s, w, NULL, err);
}

/*
 * One catch-up batch for the first pending watch, then it goes to the back
 * (round robin) or joins the live set. wlock held, dropped while reading.
 */
static void catch_up(struct sql_store *s, struct sql_watch *w,
		     struct ev_row *rows)
{
	int64_t pos = w->pos, target = s->dispatched, end = 0;
	struct berth_event ev;
	size_t i, n;
	int err;

	s->in_use = w;
	pthread_mutex_unlock(&s->wlock);
	err = read_events(s, false, pos, target, w->prefix, w->hi, w->hi_len,
			  rows, &n, &end);
	pthread_mutex_lock(&s->wlock);
	s->in_use = NULL;
	pthread_cond_broadcast(&s->idle);
	if (err) {
		end_watch(s, w, err);
		return;
	}
	for (i = 0; i < n; i++) {
		if (rows[i].rev <= w->from)
			continue;
		row_event(&rows[i], &ev);
		deliver(s, w, &ev, 0);
	}
	free_rows(rows, n);
	w->pos = end;
	/* its cancel waits for the lock; the dispatcher must not pick it again */
	TAILQ_REMOVE(&s->pending, w, link);
	w->on = WL_NONE;
	if (w->cancelled)
		return;
	if (w->pos >= s->dispatched) {
		TAILQ_INSERT_TAIL(&s->live, w, link);
		w->on = WL_LIVE;
	} else {
		TAILQ_INSERT_TAIL(&s->pending, w, link);
		w->on = WL_PENDING;
	}
}

/* Hand one event to every live watch it concerns. wlock held. */
static void fan_out(struct sql_store *s, const struct ev_row *r)
{
	struct sql_watch *w;
	struct berth_event ev;

	row_event(r, &ev);
	/*
	 * w stays linked while its callback runs (cancel waits for in_use),
	 * so w's next is read under wlock after the call.
	 */
	TAILQ_FOREACH(w, &s->live, link)
	{
		if (r->rev > w->from && store_has_prefix(r->key, w->prefix))
			deliver(s, w, &ev, 0);
	}
}

/* The next batch of new writes to the live watches. wlock held. */
static void dispatch_live(struct sql_store *s, struct ev_row *rows)
{
	int64_t from = s->dispatched, upto = s->committed, end = 0;
	struct sql_watch *w;
	size_t i, n;
	int err;

	pthread_mutex_unlock(&s->wlock);
	err = read_events(s, true, from, upto, "", NULL, 0, rows, &n, &end);
	pthread_mutex_lock(&s->wlock);
	if (err) {
		pr_err("store sqlite: watches end: reading the log: %s",
		       strerror(-err));
		while ((w = TAILQ_FIRST(&s->live)))
			end_watch(s, w, err);
		return;
	}
	for (i = 0; i < n; i++)
		fan_out(s, &rows[i]);
	free_rows(rows, n);
	s->dispatched = end;
}

static void *dispatcher(void *arg)
{
	struct sql_store *s = arg;
	struct ev_row *rows = calloc(EVENT_BATCH, sizeof(*rows));
	struct sql_watch *w;
	bool busy;

	if (!rows) {
		pr_err("store sqlite: watch dispatcher: out of memory");
		return NULL;
	}
	pthread_mutex_lock(&s->wlock);
	while (!s->stop) {
		busy = false;
		w = TAILQ_FIRST(&s->pending);
		if (w && w->pos >= s->dispatched) {
			TAILQ_REMOVE(&s->pending, w, link);
			TAILQ_INSERT_TAIL(&s->live, w, link);
			w->on = WL_LIVE;
			continue;
		}
		if (w) {
			catch_up(s, w, rows);
			busy = true;
		}
		if (s->committed > s->dispatched) {
			if (TAILQ_EMPTY(&s->live))
				s->dispatched = s->committed;
			else
				dispatch_live(s, rows);
			busy = true;
		}
		if (!busy)
			pthread_cond_wait(&s->wake, &s->wlock);
	}
	pthread_mutex_unlock(&s->wlock);
	free(rows);
	return NULL;
}

static int sql_watch(struct berth_store *bs, const char *prefix,
		     int64_t from_rev, berth_watch_cb cb, void *ctx,
		     struct berth_watch **out)
{
	struct sql_store *s = to_sql(bs);
	struct sql_watch *w = calloc(1, sizeof(*w));

	if (!w)
		return -ENOMEM;
	w->base.store = bs;
	w->cb = cb;
	w->ctx = ctx;
	w->prefix = strdup(prefix);
	w->hi = prefix_end(prefix, &w->hi_len);
	if (!w->prefix || (!w->hi && w->hi_len)) {
		watch_free(w);
		return -ENOMEM;
	}
	pthread_mutex_lock(&s->lock);
	if (from_rev < s->compact_rev) {
		pthread_mutex_unlock(&s->lock);
		watch_free(w);
		return -ESTALE;
	}
	/* 0: only writes after this call, i.e. after the current revision */
	w->pos = from_rev ? from_rev : s->rev;
	w->from = w->pos;
	pthread_mutex_lock(&s->wlock);
	TAILQ_INSERT_TAIL(&s->pending, w, link);
	w->on = WL_PENDING;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->wlock);
	pthread_mutex_unlock(&s->lock);
	*out = &w->base;
	return 0;
}

static void sql_watch_cancel(struct berth_watch *bw)
{
	struct sql_watch *w = (struct sql_watch *)bw;
	struct sql_store *s = to_sql(bw->store);

	pthread_mutex_lock(&s->wlock);
	w->cancelled = true;
	if (s->in_use == w && pthread_equal(pthread_self(), s->dispatcher)) {
		/* store.h forbids it; waiting here would never end */
		pr_err("store sqlite: a watch callback cancelled its own watch");
		pthread_mutex_unlock(&s->wlock);
		return;
	}
	while (s->in_use == w)
		pthread_cond_wait(&s->idle, &s->wlock);
	unlink_watch(s, w);
	pthread_mutex_unlock(&s->wlock);
	watch_free(w);
}

/* TTL: the sweeper deletes expired keys through the normal delete. */

/* Expired keys and their revisions, at most SWEEP_BATCH. */
static int read_expired(struct sql_store *s, int64_t now, char **keys,
			int64_t *revs, size_t *n)
{
	sqlite3_stmt *st;
	int err = 0, rc;

	*n = 0;
	pthread_mutex_lock(&s->lock);
	st = stmt(s, ST_EXPIRED);
	sqlite3_bind_int64(st, 1, now);
	sqlite3_bind_int(st, 2, SWEEP_BATCH);
	while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
		keys[*n] = strdup((const char *)sqlite3_column_text(st, 0));
		if (!keys[*n]) {
			err = -ENOMEM;
			break;
		}
		revs[(*n)++] = sqlite3_column_int64(st, 1);
	}
	if (!err && rc != SQLITE_DONE)
		err = sql_fail(s, rc, "read expired keys");
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->lock);
	return err;
}

static int64_t read_next_expiry(struct sql_store *s)
{
	sqlite3_stmt *st;
	int64_t next = 0;

	pthread_mutex_lock(&s->lock);
	st = stmt(s, ST_NEXT_EXPIRY);
	if (sqlite3_step(st) == SQLITE_ROW)
		next = sqlite3_column_int64(st, 0); /* NULL reads as 0 */
	sqlite3_reset(st);
	pthread_mutex_unlock(&s->lock);
	return next;
}

/* Delete what has expired; the next expiry still to come (0: none). */
static int64_t sweep(struct sql_store *s)
{
	char *keys[SWEEP_BATCH];
	int64_t revs[SWEEP_BATCH], rev;
	size_t i, n;
	int err;

	do {
		err = read_expired(s, now_ms(), keys, revs, &n);
		for (i = 0; i < n; i++) {
			/* expected revision: a key renewed meanwhile stays */
			sql_delete(&s->base, keys[i], revs[i], NULL, &rev);
			free(keys[i]);
		}
	} while (!err && n == SWEEP_BATCH);
	return read_next_expiry(s);
}

/*
 * While it sweeps, next_wake is "never", so every expiry written meanwhile
 * lowers it; afterwards it becomes the earliest of those, the earliest
 * expiry in the table and a periodic sweep.
 */
static void *sweeper(void *arg)
{
	struct sql_store *s = arg;
	struct timespec ts;
	int64_t next, later;

	pthread_mutex_lock(&s->wlock);
	while (!s->stop) {
		s->next_wake = INT64_MAX;
		pthread_mutex_unlock(&s->wlock);
		next = sweep(s);
		pthread_mutex_lock(&s->wlock);
		later = now_ms() + SWEEP_MAX_SLEEP_MS;
		if (!next || next > later)
			next = later;
		if (next < s->next_wake)
			s->next_wake = next;
		while (!s->stop && now_ms() < s->next_wake) {
			ts.tv_sec = s->next_wake / 1000;
			ts.tv_nsec = (s->next_wake % 1000) * 1000000;
			pthread_cond_timedwait(&s->sweep, &s->wlock, &ts);
		}
	}
	pthread_mutex_unlock(&s->wlock);
	return NULL;
}

/* Opening and closing. */

/* The first column of the first row of sql (0 if none); arg binds ?1. */
static int query_int(struct sql_store *s, const char *sql, const char *arg,
		     int64_t *value)
{
	sqlite3_stmt *st;
	int rc;

	rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(s, rc, sql);
	if (arg)
		sqlite3_bind_text(st, 1, arg, -1, SQLITE_STATIC);
	rc = sqlite3_step(st);
	*value = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
	rc = rc == SQLITE_ROW || rc == SQLITE_DONE ? 0 : sql_fail(s, rc, sql);
	sqlite3_finalize(st);
	return rc;
}

static int meta_get(struct sql_store *s, const char *name, int64_t *value)
{
	return query_int(s, "SELECT value FROM meta WHERE name = ?1", name,
			 value);
}

/*
 * WAL in exclusive locking mode (set before WAL, so no shared-memory index
 * is made): the lock is taken at the first access and held until close.
 */
static int configure(struct sql_store *s)
{
	static const char pragmas[] = "PRAGMA locking_mode = EXCLUSIVE;"
				      "PRAGMA journal_mode = WAL;"
				      "PRAGMA synchronous = NORMAL;"
				      "PRAGMA temp_store = MEMORY;";
	char sql[64];
	int64_t version, mode_ok;
	int rc;

	sqlite3_busy_timeout(s->db, BUSY_TIMEOUT_MS);
	rc = sqlite3_exec(s->db, pragmas, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(s, rc, "configure");
	snprintf(sql, sizeof(sql), "PRAGMA cache_size = -%d", CACHE_KIB);
	rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	if (rc != SQLITE_OK)
		return sql_fail(s, rc, "configure cache");
	rc = query_int(s,
		       "SELECT journal_mode = 'wal' FROM pragma_journal_mode",
		       NULL, &mode_ok);
	if (rc)
		return rc;
	if (!mode_ok) {
		pr_err("store sqlite: the file refuses WAL mode");
		return -EIO;
	}
	rc = query_int(s, "PRAGMA user_version", NULL, &version);
	if (rc)
		return rc;
	if (version > SCHEMA_VERSION) {
		pr_err("store sqlite: schema version %lld is newer than %d",
		       (long long)version, SCHEMA_VERSION);
		return -EPROTO;
	}
	rc = sqlite3_exec(s->db, "BEGIN", NULL, NULL, NULL);
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, schema_sql, NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
			 SCHEMA_VERSION);
		rc = sqlite3_exec(s->db, sql, NULL, NULL, NULL);
	}
	if (rc == SQLITE_OK)
		rc = sqlite3_exec(s->db, "COMMIT", NULL, NULL, NULL);
	if (rc != SQLITE_OK) {
		rc = sql_fail(s, rc, "create schema");
		sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
		return rc;
	}
	return 0;
}

static int load_state(struct sql_store *s)
{
	int64_t last;
	int err;

	err = meta_get(s, "compact", &s->compact_rev);
	if (!err)
		err = meta_get(s, "purged", &s->purged_rev);
	if (!err)
		err = query_int(s, "SELECT max(rev) FROM log", NULL, &last);
	if (err)
		return err;
	/* a compaction may have removed the newest row (a delete) */
	s->rev = last > s->compact_rev ? last : s->compact_rev;
	s->committed = s->rev;
	s->dispatched = s->rev;
	return 0;
}

static int prepare_all(struct sql_store *s)
{
	int i, rc;

	for (i = 0; i < ST_MAX; i++) {
		rc = sqlite3_prepare_v3(s->db, stmt_sql[i], -1,
					SQLITE_PREPARE_PERSISTENT, &s->stmt[i],
					NULL);
		if (rc != SQLITE_OK)
			return sql_fail(s, rc, stmt_sql[i]);
	}
	return 0;
}

static void sql_close(struct berth_store *bs)
{
	struct sql_store *s = to_sql(bs);
	struct sql_watch *w;
	int i;

	if (s->threads) {
		pthread_mutex_lock(&s->wlock);
		s->stop = true;
		pthread_cond_broadcast(&s->wake);
		pthread_cond_broadcast(&s->sweep);
		pthread_mutex_unlock(&s->wlock);
		pthread_join(s->dispatcher, NULL);
		pthread_join(s->sweeper, NULL);
	}
	while ((w = TAILQ_FIRST(&s->live)) || (w = TAILQ_FIRST(&s->pending))) {
		pr_warn("store sqlite: closed with a watch on \"%s\"",
			w->prefix);
		unlink_watch(s, w);
		watch_free(w);
	}
	for (i = 0; i < ST_MAX; i++)
		sqlite3_finalize(s->stmt[i]);
	if (s->db && sqlite3_close(s->db) != SQLITE_OK)
		pr_err("store sqlite: close: %s", sqlite3_errmsg(s->db));
	pthread_cond_destroy(&s->wake);
	pthread_cond_destroy(&s->idle);
	pthread_cond_destroy(&s->sweep);
	pthread_mutex_destroy(&s->wlock);
	pthread_mutex_destroy(&s->lock);
	free(s);
}

static int start_threads(struct sql_store *s)
{
	int err;

	err = pthread_create(&s->dispatcher, NULL, dispatcher, s);
	if (err)
		return -err;
	err = pthread_create(&s->sweeper, NULL, sweeper, s);
	if (err) {
		pthread_mutex_lock(&s->wlock);
		s->stop = true;
		pthread_cond_broadcast(&s->wake);
		pthread_mutex_unlock(&s->wlock);
		pthread_join(s->dispatcher, NULL);
		return -err;
	}
	s->threads = true;
	return 0;
}

int berth_store_open_sqlite(struct berth_store **out, const char *path)
{
	struct sql_store *s;
	int err, rc;

	if (!out || !path || !path[0])
		return -EINVAL;
	*out = NULL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->base.ops = &sql_ops;
	pthread_mutex_init(&s->lock, NULL);
	pthread_mutex_init(&s->wlock, NULL);
	pthread_cond_init(&s->wake, NULL);
	pthread_cond_init(&s->idle, NULL);
	pthread_cond_init(&s->sweep, NULL);
	TAILQ_INIT(&s->live);
	TAILQ_INIT(&s->pending);
	s->next_wake = INT64_MAX;
	/* our own mutex serialises the connection: no SQLite mutexes needed */
	rc = sqlite3_open_v2(path, &s->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
				     SQLITE_OPEN_NOMUTEX,
			     NULL);
	if (rc != SQLITE_OK) {
		err = s->db ? sql_fail(s, rc, path) : -ENOMEM;
		goto fail;
	}
	err = configure(s);
	if (!err)
		err = load_state(s);
	if (!err)
		err = prepare_all(s);
	if (!err)
		err = start_threads(s);
	if (err)
		goto fail;
	*out = &s->base;
	return 0;
fail:
	pr_err("store sqlite: open %s: %s%s", path, strerror(-err),
	       err == -EBUSY ? " (another process has it open)" : "");
	sql_close(&s->base);
	return err;
}

static const struct store_ops sql_ops = {
	.name = "sqlite",
	.close = sql_close,
	.revision = sql_revision,
	.get = sql_get,
	.list = sql_list,
	.count = sql_count,
	.create = sql_create,
	.update = sql_update,
	.del = sql_delete,
	.compact = sql_compact,
	.watch = sql_watch,
	.watch_cancel = sql_watch_cancel,
	.snapshot = sql_snapshot,
};
