// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The shared store suite, watches and TTL: new writes only, replay from an
 * older revision racing live writes (no gap, no duplicate, in order, prev
 * values), a future start, many watchers, cancel, and expiry as a DELETE.
 */
#include "suite.h"

TestSuite(watch, .init = store_setup, .fini = store_teardown, .timeout = 30);

static void expect_event(struct recorder *r, size_t i,
			 enum berth_event_type type, const char *key,
			 const char *value, int64_t create_rev, int64_t mod_rev,
			 const char *prev, int64_t prev_mod_rev)
{
	struct rec_event *e;

	cr_assert_lt(i, rec_count(r), "event %zu missing", i);
	e = &r->ev[i];
	cr_expect_eq(e->type, type, "event %zu: type", i);
	cr_expect_str_eq(e->key, key, "event %zu: key", i);
	cr_expect_str_eq(e->value, value, "event %zu: value", i);
	cr_expect_eq(e->create_rev, create_rev,
		     "event %zu: create_revision %lld, want %lld", i,
		     (long long)e->create_rev, (long long)create_rev);
	cr_expect_eq(e->mod_rev, mod_rev,
		     "event %zu: mod_revision %lld, want %lld", i,
		     (long long)e->mod_rev, (long long)mod_rev);
	cr_expect_eq(e->has_prev, prev != NULL, "event %zu: has_prev", i);
	if (prev && e->has_prev) {
		cr_expect_str_eq(e->prev, prev, "event %zu: prev value", i);
		cr_expect_eq(e->prev_mod_rev, prev_mod_rev,
			     "event %zu: prev mod_revision", i);
	}
}

Test(watch, new_writes_only)
{
	struct recorder rec;
	struct berth_watch *w;
	int64_t c, u, d;

	must_create("/w/before", "old");
	must_create("/w/gone", "old");
	rec_init(&rec);
	w = must_watch("/w/", 0, &rec);
	c = must_create("/w/a", "1");
	must_create("/wx", "not under /w/");
	must_create("/x/a", "elsewhere");
	u = must_update("/w/a", "2");
	d = must_delete("/w/a");
	must_delete("/w/gone");
	cr_assert(rec_wait(&rec, 4, WAIT_MS), "%zu events", rec_count(&rec));
	expect_event(&rec, 0, BERTH_EVENT_PUT, "/w/a", "1", c, c, NULL, 0);
	expect_event(&rec, 1, BERTH_EVENT_PUT, "/w/a", "2", c, u, "1", c);
	/* a DELETE carries the deleted value, at the delete's revision */
	expect_event(&rec, 2, BERTH_EVENT_DELETE, "/w/a", "2", c, d, "2", u);
	cr_expect_str_eq(rec.ev[3].key, "/w/gone");
	usleep(100 * 1000);
	cr_expect_eq(rec_count(&rec), 4, "nothing older, nothing else");
	cr_expect_eq(rec.ends, 0);
	berth_watch_cancel(w);
	rec_free(&rec);
}

/* One write as the test made it, to compare events with. */
struct wrote {
	int64_t rev;
	int key;
	enum berth_event_type type;
	char value[16];
	char prev[16]; /* "" when created */
};

#define RW_KEYS 8

struct history {
	struct wrote *w;
	size_t n, cap;
	char value[RW_KEYS][16]; /* "" when absent */
	int next;
};

/* A pseudo-random mix of creates, updates and deletes on /rw/0../rw/7. */
static void write_some(struct history *h, int count)
{
	struct wrote *w;
	char key[16];
	int i, k;

	for (i = 0; i < count; i++, h->next++) {
		if (h->n == h->cap) {
			h->cap = h->cap ? 2 * h->cap : 256;
			h->w = realloc(h->w, h->cap * sizeof(*h->w));
			cr_assert(h->w);
		}
		w = &h->w[h->n++];
		k = (h->next * 5) % RW_KEYS;
		snprintf(key, sizeof(key), "/rw/%d", k);
		w->key = k;
		strcpy(w->prev, h->value[k]);
		if (!h->value[k][0]) {
			snprintf(w->value, sizeof(w->value), "c%d", h->next);
			w->rev = must_create(key, w->value);
			w->type = BERTH_EVENT_PUT;
		} else if (h->next % 7 == 3) {
			strcpy(w->value, h->value[k]);
			w->rev = must_delete(key);
			w->type = BERTH_EVENT_DELETE;
		} else {
			snprintf(w->value, sizeof(w->value), "u%d", h->next);
			w->rev = must_update(key, w->value);
			w->type = BERTH_EVENT_PUT;
		}
		if (w->type == BERTH_EVENT_DELETE)
			h->value[k][0] = '\0';
		else
			strcpy(h->value[k], w->value);
		if (h->next % 4 == 0) /* noise outside the prefix */
			berth_store_update(store, "/noise", "n", 1, 0, 0, NULL);
	}
}

static void *writer(void *arg)
{
	write_some(arg, 300);
	return NULL;
}

/* Everything after from, in order, each once, as the writes were made. */
static void expect_history(struct recorder *r, const struct history *h,
			   int64_t from)
{
	size_t i, j = 0;
	char key[16];

	for (i = 0; i < h->n; i++) {
		if (h->w[i].rev <= from)
			continue;
		cr_assert_lt(j, rec_count(r), "event for revision %lld missing",
			     (long long)h->w[i].rev);
		snprintf(key, sizeof(key), "/rw/%d", h->w[i].key);
		cr_assert_eq(r->ev[j].mod_rev, h->w[i].rev,
			     "event %zu: revision %lld, want %lld", j,
			     (long long)r->ev[j].mod_rev,
			     (long long)h->w[i].rev);
		cr_expect_str_eq(r->ev[j].key, key);
		cr_expect_eq(r->ev[j].type, h->w[i].type);
		cr_expect_str_eq(r->ev[j].value, h->w[i].value, "at %lld",
				 (long long)h->w[i].rev);
		cr_expect_eq(r->ev[j].has_prev, h->w[i].prev[0] != '\0',
			     "has_prev at %lld", (long long)h->w[i].rev);
		if (r->ev[j].has_prev && h->w[i].prev[0])
			cr_expect_str_eq(r->ev[j].prev, h->w[i].prev);
		j++;
	}
	cr_expect_eq(rec_count(r), j, "%zu events, want %zu", rec_count(r), j);
}

/* From an older revision: the replay meets live writes with no seam. */
Test(watch, replay_then_live)
{
	struct history h = { 0 };
	struct recorder rec, all;
	struct berth_watch *w, *wa;
	pthread_t th;
	int64_t mid;
	size_t want;
	int64_t r0;

	must_create("/noise", "n"); /* a watch from 0 would mean "new only" */
	r0 = cur_rev();

	/* more history than one read of the log holds */
	write_some(&h, 400);
	mid = h.w[25].rev;
	rec_init(&rec);
	rec_init(&all);
	pthread_create(&th, NULL, writer, &h);
	w = must_watch("/rw/", mid, &rec);
	wa = must_watch("/rw/", r0, &all);
	pthread_join(th, NULL);
	want = h.n - 26;
	cr_assert(rec_wait(&rec, want, WAIT_MS), "%zu of %zu events",
		  rec_count(&rec), want);
	cr_assert(rec_wait(&all, h.n, WAIT_MS));
	usleep(50 * 1000);
	expect_history(&rec, &h, mid);
	expect_history(&all, &h, r0);
	berth_watch_cancel(w);
	berth_watch_cancel(wa);
	rec_free(&rec);
	rec_free(&all);
	free(h.w);
}

#define BACKLOG 600

/* A watcher that falls far behind still gets everything, in order. */
Test(watch, live_backlog)
{
	struct recorder rec;
	struct berth_watch *w;
	char key[32];
	int64_t first = 0, r;
	size_t i;

	rec_init(&rec);
	rec.delay_once = 300 * 1000;
	w = must_watch("/b/", 0, &rec);
	for (i = 0; i < BACKLOG; i++) {
		snprintf(key, sizeof(key), "/b/%04zu", i);
		r = must_create(key, key);
		if (!first)
			first = r;
	}
	cr_assert(rec_wait(&rec, BACKLOG, WAIT_MS), "%zu of %d events",
		  rec_count(&rec), BACKLOG);
	for (i = 0; i < BACKLOG; i++) {
		snprintf(key, sizeof(key), "/b/%04zu", i);
		cr_assert_str_eq(rec.ev[i].key, key);
		cr_assert_eq(rec.ev[i].mod_rev, first + (int64_t)i);
	}
	berth_watch_cancel(w);
	rec_free(&rec);
}

Test(watch, from_future_revision)
{
	struct recorder rec;
	struct berth_watch *w;
	int64_t r0 = cur_rev(), r;

	rec_init(&rec);
	w = must_watch("/f/", r0 + 2, &rec);
	must_create("/f/1", "1");
	must_create("/f/2", "2");
	r = must_create("/f/3", "3");
	cr_assert(rec_wait(&rec, 1, WAIT_MS));
	usleep(50 * 1000);
	cr_expect_eq(rec_count(&rec), 1);
	cr_expect_eq(rec.ev[0].mod_rev, r);
	berth_watch_cancel(w);
	rec_free(&rec);
}

#define WATCHERS 50
#define FANOUT_WRITES 100
#define PRE_WRITES 10

/*
 * Watcher i sees the PRE_WRITES made after watcher WATCHERS/2 started if it
 * started before them or replays from before them.
 */
static size_t pre_events(size_t i)
{
	return i <= WATCHERS / 2 || i % 10 == 0 ? PRE_WRITES : 0;
}

Test(watch, many_watchers)
{
	static struct recorder rec[WATCHERS];
	struct berth_watch *w[WATCHERS];
	char key[32];
	int64_t r0 = must_create("/begin", "x");
	size_t i, j;

	for (i = 0; i < WATCHERS; i++) {
		rec_init(&rec[i]);
		/* a few start in the past and replay, the others are live */
		w[i] = must_watch(i % 2 ? "/m/" : "/m", i % 10 ? 0 : r0,
				  &rec[i]);
		if (i == WATCHERS / 2)
			for (j = 0; j < PRE_WRITES; j++) {
				snprintf(key, sizeof(key), "/m/pre%zu", j);
				must_create(key, "x");
			}
	}
	for (j = 0; j < FANOUT_WRITES; j++) {
		snprintf(key, sizeof(key), "/m/%03zu", j);
		must_create(key, key);
	}
	for (i = 0; i < WATCHERS; i++) {
		size_t want = FANOUT_WRITES + pre_events(i);

		cr_assert(rec_wait(&rec[i], want, WAIT_MS),
			  "watcher %zu: %zu of %zu", i, rec_count(&rec[i]),
			  want);
		for (j = 1; j < rec[i].n; j++)
			cr_assert_gt(rec[i].ev[j].mod_rev,
				     rec[i].ev[j - 1].mod_rev,
				     "watcher %zu in order", i);
		snprintf(key, sizeof(key), "/m/%03d", FANOUT_WRITES - 1);
		cr_expect_str_eq(rec[i].ev[rec[i].n - 1].key, key);
	}
	usleep(50 * 1000);
	for (i = 0; i < WATCHERS; i++) {
		size_t want = FANOUT_WRITES + pre_events(i);

		cr_expect_eq(rec_count(&rec[i]), want, "watcher %zu", i);
		berth_watch_cancel(w[i]);
		rec_free(&rec[i]);
	}
}

Test(watch, cancel_waits_for_callback)
{
	struct recorder slow, idle, replay;
	struct berth_watch *w, *wi, *wr;
	int64_t r0 = must_create("/begin", "x");
	char key[32];
	size_t n;
	int i;

	for (i = 0; i < 200; i++) {
		snprintf(key, sizeof(key), "/c/old%03d", i);
		must_create(key, "x");
	}
	rec_init(&slow);
	rec_init(&idle);
	rec_init(&replay);
	slow.delay = 20 * 1000;
	w = must_watch("/c/", 0, &slow);
	wi = must_watch("/nothing/", 0, &idle);
	for (i = 0; i < 10; i++) {
		snprintf(key, sizeof(key), "/c/%d", i);
		must_create(key, "v");
	}
	cr_assert(rec_wait(&slow, 1, WAIT_MS));
	berth_watch_cancel(w);
	pthread_mutex_lock(&slow.mu);
	cr_expect_eq(slow.in_cb, 0, "a callback runs after cancel returned");
	n = slow.n;
	pthread_mutex_unlock(&slow.mu);
	cr_expect_lt(n, 10, "cancel did not wait for all ten");
	must_create("/c/after", "v");
	usleep(100 * 1000);
	cr_expect_eq(rec_count(&slow), n, "events after cancel");
	cr_expect_eq(slow.max_in_cb, 1, "callbacks of a watch never overlap");
	berth_watch_cancel(wi);

	/* cancelled while it replays */
	replay.delay = 1000;
	wr = must_watch("/c/", r0, &replay);
	usleep(20 * 1000);
	berth_watch_cancel(wr);
	n = rec_count(&replay);
	usleep(50 * 1000);
	cr_expect_eq(rec_count(&replay), n);
	rec_free(&slow);
	rec_free(&idle);
	rec_free(&replay);
}

/* Expiry is a DELETE like any other; a TTL removed by an update is gone. */
Test(watch, ttl_expiry)
{
	struct recorder rec;
	struct berth_watch *w;
	struct berth_kv kv;
	int64_t c, r = 0, t0;
	size_t i;

	rec_init(&rec);
	w = must_watch("/ttl/", 0, &rec);
	cr_assert_eq(berth_store_create(store, "/ttl/short", "s", 1, 1, &c), 0);
	cr_assert_eq(berth_store_create(store, "/ttl/cleared", "c", 1, 1, &r),
		     0);
	cr_assert_eq(berth_store_update(store, "/ttl/cleared", "c2", 2, 0, 0,
					&r),
		     0);
	cr_assert_eq(berth_store_create(store, "/ttl/long", "l", 1, 600, &r),
		     0);
	t0 = now_ms();
	cr_assert(rec_wait(&rec, 5, WAIT_MS), "no expiry after %lld ms",
		  (long long)(now_ms() - t0));
	cr_expect_geq(now_ms() - t0, 900, "expired early");
	expect_kv("/ttl/long", "l", 0, 0);
	expect_kv("/ttl/cleared", "c2", 0, 0);
	i = rec_count(&rec) - 1;
	cr_expect_eq(rec.ev[i].type, BERTH_EVENT_DELETE);
	cr_expect_str_eq(rec.ev[i].key, "/ttl/short");
	cr_expect_str_eq(rec.ev[i].value, "s");
	cr_expect_eq(rec.ev[i].create_rev, c);
	cr_expect_gt(rec.ev[i].mod_rev, r);
	cr_expect_eq(berth_store_get(store, "/ttl/short", &kv), -ENOENT);
	/* by now /ttl/cleared's old expiry has passed too */
	usleep(1000 * 1000);
	expect_kv("/ttl/cleared", "c2", 0, 0);
	cr_expect_eq(rec_count(&rec), 5);
	berth_watch_cancel(w);
	rec_free(&rec);
}
