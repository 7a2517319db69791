// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The shared store suite, keys and revisions: create/get/update/delete,
 * compare-and-swap (also raced by threads), argument errors, lists with
 * prefix and paging (now and at an older revision), compaction, count.
 * Revisions are compared to the one read at the start of a test, so the
 * suite runs on etcd, whose revision is not 0 when a test starts.
 */
#include "suite.h"

TestSuite(kv, .init = store_setup, .fini = store_teardown, .timeout = 30);

Test(kv, create_get_revisions)
{
	int64_t r0 = cur_rev(), r;
	struct berth_kv kv;

	r = must_create("/a", "one");
	cr_expect_eq(r, r0 + 1, "first write gets revision %lld, not %lld",
		     (long long)r0 + 1, (long long)r);
	cr_expect_eq(cur_rev(), r0 + 1);
	expect_kv("/a", "one", r0 + 1, r0 + 1);

	r = must_create("/b", "two");
	cr_expect_eq(r, r0 + 2);
	expect_kv("/b", "two", r0 + 2, r0 + 2);
	expect_kv("/a", "one", r0 + 1, r0 + 1);

	cr_expect_eq(berth_store_get(store, "/c", &kv), -ENOENT);
	cr_expect_null(kv.key, "a failed get leaves nothing to free");
	cr_expect_eq(berth_store_create(store, "/a", "x", 1, 0, &r), -EEXIST);
	expect_kv("/a", "one", r0 + 1, r0 + 1);
	cr_expect_eq(cur_rev(), r0 + 2, "failed writes take no revision");
	cr_expect(!strcmp(berth_store_backend(store), "sqlite") ||
		  !strcmp(berth_store_backend(store), "etcd"));
}

Test(kv, update_and_cas)
{
	int64_t r0 = cur_rev(), c, u1, u2, r = 0;

	c = must_create("/k", "v1");
	u1 = must_update("/k", "v2");
	cr_expect_eq(u1, r0 + 2);
	expect_kv("/k", "v2", c, u1);

	cr_expect_eq(berth_store_update(store, "/k", "v3", 2, c, 0, &r),
		     -ECANCELED, "stale expected revision must lose");
	expect_kv("/k", "v2", c, u1);
	cr_expect_eq(berth_store_update(store, "/k", "v3", 2, u1 + 100, 0, &r),
		     -ECANCELED);
	cr_expect_eq(berth_store_update(store, "/k", "v3", 2, u1, 0, &r), 0);
	u2 = r;
	cr_expect_eq(u2, r0 + 3);
	expect_kv("/k", "v3", c, u2);

	cr_expect_eq(berth_store_update(store, "/none", "x", 1, 0, 0, &r),
		     -ENOENT);
	cr_expect_eq(berth_store_update(store, "/none", "x", 1, 5, 0, &r),
		     -ENOENT);
	cr_expect_eq(cur_rev(), r0 + 3);
}

Test(kv, delete_and_recreate)
{
	int64_t r0 = cur_rev(), c, u, d, c2, r = 0;
	struct berth_kv prev;

	c = must_create("/d", "first");
	u = must_update("/d", "second");
	cr_expect_eq(berth_store_delete(store, "/d", c, &prev, &r), -ECANCELED);
	cr_expect_null(prev.key);
	expect_kv("/d", "second", c, u);

	cr_expect_eq(berth_store_delete(store, "/d", u, &prev, &r), 0);
	d = r;
	cr_expect_eq(d, r0 + 3);
	cr_expect_str_eq(prev.key, "/d");
	cr_expect_str_eq(prev.value, "second");
	cr_expect_eq(prev.create_revision, c);
	cr_expect_eq(prev.mod_revision, u);
	berth_kv_free(&prev);

	cr_expect_eq(berth_store_get(store, "/d", &prev), -ENOENT);
	cr_expect_eq(berth_store_delete(store, "/d", 0, NULL, &r), -ENOENT);
	cr_expect_eq(berth_store_delete(store, "/d", d, NULL, &r), -ENOENT);

	c2 = must_create("/d", "again");
	cr_expect_eq(c2, r0 + 4);
	expect_kv("/d", "again", c2, c2);
	cr_expect_eq(cur_rev(), r0 + 4);
}

Test(kv, bad_arguments)
{
	struct berth_kv_list l;
	struct berth_kv kv;
	int64_t r0 = cur_rev(), r;

	cr_expect_eq(berth_store_create(store, "", "x", 1, 0, &r), -EINVAL);
	cr_expect_eq(berth_store_create(store, NULL, "x", 1, 0, &r), -EINVAL);
	cr_expect_eq(berth_store_create(store, "/x", NULL, 1, 0, &r), -EINVAL);
	cr_expect_eq(berth_store_create(store, "/x", "x", 1, -1, &r), -EINVAL);
	cr_expect_eq(berth_store_update(store, "", "x", 1, 0, 0, &r), -EINVAL);
	cr_expect_eq(berth_store_update(store, "/x", "x", 1, -1, 0, &r),
		     -EINVAL);
	cr_expect_eq(berth_store_delete(store, "", 0, NULL, &r), -EINVAL);
	cr_expect_eq(berth_store_get(store, "", &kv), -EINVAL);
	cr_expect_eq(berth_store_list(store, "/", NULL, 0, r0 + 10, &l, &r,
				      NULL),
		     -EINVAL, "a list in the future");
	cr_expect_eq(berth_store_list(store, "/", NULL, 0, -1, &l, &r, NULL),
		     -EINVAL);
	cr_expect_eq(berth_store_compact(store, r0 + 10), -EINVAL,
		     "a compaction in the future");
	cr_expect_eq(cur_rev(), r0, "nothing was written");

	/* an empty value is a value; NULL with length 0 is one too */
	cr_expect_eq(berth_store_create(store, "/empty", NULL, 0, 0, &r), 0);
	expect_kv("/empty", "", r, r);
}

Test(kv, binary_values)
{
	static const char bin[] = { 'a', 0, 'b', (char)0xff, 0, '\n' };
	struct berth_kv kv;
	char big[64 * 1024];
	int64_t r;
	size_t i;

	cr_assert_eq(berth_store_create(store, "/bin", bin, sizeof(bin), 0, &r),
		     0);
	cr_assert_eq(berth_store_get(store, "/bin", &kv), 0);
	cr_expect_eq(kv.value_len, sizeof(bin));
	cr_expect_eq(memcmp(kv.value, bin, sizeof(bin)), 0);
	cr_expect_eq(kv.value[kv.value_len], '\0', "NUL after the value");
	berth_kv_free(&kv);

	for (i = 0; i < sizeof(big); i++)
		big[i] = (char)(i * 7);
	cr_assert_eq(berth_store_create(store, "/big", big, sizeof(big), 0, &r),
		     0);
	cr_assert_eq(berth_store_get(store, "/big", &kv), 0);
	cr_expect_eq(kv.value_len, sizeof(big));
	cr_expect_eq(memcmp(kv.value, big, sizeof(big)), 0);
	berth_kv_free(&kv);
}

#define RACERS 8
#define RACE_ROUNDS 20

struct racer {
	pthread_barrier_t *start;
	int64_t expect;
	int result;
	int64_t rev;
	int id;
};

static void *race_update(void *arg)
{
	struct racer *r = arg;
	char value[32];

	snprintf(value, sizeof(value), "racer %d", r->id);
	pthread_barrier_wait(r->start);
	r->result = berth_store_update(store, "/race", value, strlen(value),
				       r->expect, 0, &r->rev);
	return NULL;
}

/* The 409 Conflict of Kubernetes: N writers, one expected revision, one winner. */
Test(kv, cas_race_one_winner)
{
	struct racer racers[RACERS];
	pthread_t th[RACERS];
	pthread_barrier_t start;
	int64_t expect = must_create("/race", "initial");
	int round, i, winners;
	char want[32];

	for (round = 0; round < RACE_ROUNDS; round++) {
		pthread_barrier_init(&start, NULL, RACERS);
		for (i = 0; i < RACERS; i++) {
			racers[i] = (struct racer){ .start = &start,
						    .expect = expect,
						    .id = i };
			pthread_create(&th[i], NULL, race_update, &racers[i]);
		}
		winners = 0;
		for (i = 0; i < RACERS; i++) {
			pthread_join(th[i], NULL);
			if (racers[i].result == 0) {
				winners++;
				expect = racers[i].rev;
				snprintf(want, sizeof(want), "racer %d", i);
			} else {
				cr_expect_eq(racers[i].result, -ECANCELED,
					     "loser %d: %s", i,
					     strerror(-racers[i].result));
			}
		}
		pthread_barrier_destroy(&start);
		cr_assert_eq(winners, 1, "round %d: %d winners", round,
			     winners);
		expect_kv("/race", want, 0, expect);
	}
}

#define WRITERS 4
#define WRITES 150

static void *create_many(void *arg)
{
	int64_t *revs = arg, id = revs[0];
	char key[32];
	int i;

	for (i = 0; i < WRITES; i++) {
		snprintf(key, sizeof(key), "/many/%lld/%03d", (long long)id, i);
		if (berth_store_create(store, key, "v", 1, 0, &revs[i]))
			revs[i] = -1;
	}
	return NULL;
}

static int cmp_rev(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Concurrent writers: every write gets its own revision, none is lost. */
Test(kv, concurrent_writes_unique_revisions)
{
	static int64_t revs[WRITERS * WRITES];
	pthread_t th[WRITERS];
	int64_t r0 = cur_rev();
	size_t n = 0;
	int i;

	for (i = 0; i < WRITERS; i++) {
		revs[i * WRITES] = i;
		pthread_create(&th[i], NULL, create_many, &revs[i * WRITES]);
	}
	for (i = 0; i < WRITERS; i++)
		pthread_join(th[i], NULL);
	qsort(revs, WRITERS * WRITES, sizeof(revs[0]), cmp_rev);
	for (i = 0; i < WRITERS * WRITES; i++)
		cr_assert_eq(
			revs[i], r0 + 1 + i,
			"revisions are r0+1..r0+N, each once (at %d: %lld)", i,
			(long long)revs[i]);
	cr_expect_eq(cur_rev(), r0 + WRITERS * WRITES);
	cr_assert_eq(berth_store_count(store, "/many/", &n), 0);
	cr_expect_eq(n, WRITERS * WRITES);
}

static void expect_keys(const struct berth_kv_list *l, const char *const *keys,
			size_t n)
{
	size_t i;

	cr_assert_eq(l->n, n, "%zu keys listed, want %zu", l->n, n);
	for (i = 0; i < n; i++)
		cr_expect_str_eq(l->items[i].key, keys[i], "item %zu", i);
}

Test(kv, list_prefix_order)
{
	/* inserted out of order; neighbours that share a prefix as text */
	static const char *const ins[] = { "/p/c", "/q/a", "/p/a",   "/p",
					   "/pa",  "/p/b", "/p/b/x", "/o" };
	static const char *const want_p[] = { "/p/a", "/p/b", "/p/b/x",
					      "/p/c" };
	static const char *const want_all[] = { "/o",	"/p",	  "/p/a",
						"/p/b", "/p/b/x", "/p/c",
						"/pa",	"/q/a" };
	struct berth_kv_list l;
	int64_t rev = 0, last = 0;
	bool more = true;
	size_t i, n;

	for (i = 0; i < sizeof(ins) / sizeof(ins[0]); i++)
		last = must_create(ins[i], ins[i]);

	cr_assert_eq(
		berth_store_list(store, "/p/", NULL, 0, 0, &l, &rev, &more), 0);
	expect_keys(&l, want_p, 4);
	cr_expect_eq(rev, last, "the list is as of the last write");
	cr_expect_not(more);
	for (i = 0; i < l.n; i++) {
		cr_expect_str_eq(l.items[i].value, l.items[i].key);
		cr_expect_gt(l.items[i].mod_revision, 0);
		cr_expect_eq(l.items[i].create_revision,
			     l.items[i].mod_revision);
	}
	berth_kv_list_free(&l);
	cr_expect_null(l.items);

	cr_assert_eq(berth_store_list(store, "", NULL, 0, 0, &l, &rev, &more),
		     0);
	expect_keys(&l, want_all, 8);
	berth_kv_list_free(&l);
	cr_assert_eq(berth_store_list(store, NULL, NULL, 0, 0, &l, NULL, NULL),
		     0);
	cr_expect_eq(l.n, 8);
	berth_kv_list_free(&l);

	cr_assert_eq(berth_store_list(store, "/nothing/", NULL, 0, 0, &l, &rev,
				      &more),
		     0);
	cr_expect_eq(l.n, 0);
	cr_expect_not(more);
	berth_kv_list_free(&l);

	cr_assert_eq(berth_store_count(store, "/p/", &n), 0);
	cr_expect_eq(n, 4);
	cr_assert_eq(berth_store_count(store, "/p", &n), 0);
	cr_expect_eq(n, 6);
	cr_assert_eq(berth_store_count(store, "", &n), 0);
	cr_expect_eq(n, 8);
	cr_assert_eq(berth_store_count(store, "/zzz", &n), 0);
	cr_expect_eq(n, 0);
	must_delete("/p/b");
	cr_assert_eq(berth_store_count(store, "/p/", &n), 0);
	cr_expect_eq(n, 3, "deleted keys are not counted");
}

#define PAGE_KEYS 25

/* One page of the "continue" walk; returns the key to continue after. */
static char *page(const char *after, size_t limit, int64_t at_rev,
		  struct berth_kv_list *l, int64_t *rev, bool *more)
{
	int err = berth_store_list(store, "/pg/", after, limit, at_rev, l, rev,
				   more);

	cr_assert_eq(err, 0, "list after %s: %s", after ? after : "-",
		     strerror(-err));
	return l->n ? strdup(l->items[l->n - 1].key) : NULL;
}

Test(kv, list_paging_continue)
{
	struct berth_kv_list l;
	char key[32], *after = NULL, *next;
	int64_t rev = 0, snap = 0;
	size_t seen = 0, pages = 0;
	bool more = true;
	int i;

	for (i = 0; i < PAGE_KEYS; i++) {
		snprintf(key, sizeof(key), "/pg/%02d", i);
		must_create(key, key);
	}
	must_create("/pz", "outside the prefix");

	/* Kubernetes' continue: later pages at the first page's revision */
	while (more) {
		next = page(after, 10, snap, &l, &rev, &more);
		if (!snap)
			snap = rev;
		cr_expect_eq(rev, snap, "every page at the same revision");
		for (i = 0; i < (int)l.n; i++) {
			snprintf(key, sizeof(key), "/pg/%02zu", seen + i);
			cr_expect_str_eq(l.items[i].key, key);
		}
		seen += l.n;
		pages++;
		cr_expect_eq(more, seen < PAGE_KEYS, "more after %zu keys",
			     seen);
		berth_kv_list_free(&l);
		free(after);
		after = next;
		if (pages == 1) { /* writes between pages do not show */
			must_delete("/pg/20");
			must_create("/pg/99", "new");
			must_update("/pg/15", "changed");
		}
	}
	free(after);
	cr_expect_eq(pages, 3);
	cr_expect_eq(seen, PAGE_KEYS);

	/* at now the writes show */
	free(page("/pg/14", 2, 0, &l, &rev, &more));
	cr_assert_eq(l.n, 2);
	cr_expect_str_eq(l.items[0].value, "changed");
	cr_expect(more);
	berth_kv_list_free(&l);
	free(page("/pg/19", 0, 0, &l, &rev, &more));
	cr_assert_eq(l.n, 5, "20 deleted, 99 added: %zu keys", l.n);
	cr_expect_str_eq(l.items[0].key, "/pg/21");
	cr_expect_str_eq(l.items[4].key, "/pg/99");
	cr_expect_not(more);
	berth_kv_list_free(&l);

	/* start_after before the prefix: from the first key */
	free(page("/a", 3, 0, &l, &rev, &more));
	cr_assert_eq(l.n, 3);
	cr_expect_str_eq(l.items[0].key, "/pg/00");
	berth_kv_list_free(&l);
	/* past the last key: nothing */
	free(page("/pg/999", 3, 0, &l, &rev, &more));
	cr_expect_eq(l.n, 0);
	cr_expect_not(more);
	berth_kv_list_free(&l);
}

/* What a list at revision at_rev of prefix /h/ must return. */
static void expect_list_at(int64_t at_rev, const char *const *kvs, size_t n)
{
	struct berth_kv_list l;
	int64_t rev = 0;
	bool more;
	size_t i;
	int err;

	err = berth_store_list(store, "/h/", NULL, 0, at_rev, &l, &rev, &more);
	cr_assert_eq(err, 0, "list at %lld: %s", (long long)at_rev,
		     strerror(-err));
	cr_expect_eq(rev, at_rev);
	cr_assert_eq(l.n, n, "at %lld: %zu keys, want %zu", (long long)at_rev,
		     l.n, n);
	for (i = 0; i < n; i++) {
		cr_expect_str_eq(l.items[i].key, kvs[2 * i], "at %lld",
				 (long long)at_rev);
		cr_expect_str_eq(l.items[i].value, kvs[2 * i + 1], "at %lld %s",
				 (long long)at_rev, kvs[2 * i]);
		cr_expect_leq(l.items[i].mod_revision, at_rev);
	}
	berth_kv_list_free(&l);
}

Test(kv, list_old_revisions_and_compaction)
{
	static const char *const at1[] = { "/h/a", "a1" };
	static const char *const at2[] = { "/h/a", "a1", "/h/b", "b1" };
	static const char *const at3[] = { "/h/a", "a2", "/h/b", "b1" };
	static const char *const at4[] = { "/h/a", "a2" };
	static const char *const at5[] = { "/h/a", "a2", "/h/b", "b2" };
	static const char *const at6[] = { "/h/b", "b2" };
	struct berth_kv_list l;
	struct berth_watch *w = NULL;
	struct recorder rec;
	int64_t r[7], rev;
	bool more;

	r[0] = cur_rev();
	r[1] = must_create("/h/a", "a1");
	r[2] = must_create("/h/b", "b1");
	r[3] = must_update("/h/a", "a2");
	r[4] = must_delete("/h/b");
	r[5] = must_create("/h/b", "b2");
	r[6] = must_delete("/h/a");

	expect_list_at(r[1], at1, 1);
	expect_list_at(r[2], at2, 2);
	expect_list_at(r[3], at3, 2);
	expect_list_at(r[4], at4, 1);
	expect_list_at(r[5], at5, 2);
	expect_list_at(r[6], at6, 1);

	cr_assert_eq(berth_store_compact(store, r[4]), 0);
	cr_expect_eq(berth_store_list(store, "/h/", NULL, 0, r[3], &l, &rev,
				      &more),
		     -ESTALE, "below the compacted revision");
	cr_expect_eq(berth_store_list(store, "/h/", NULL, 0, r[1], &l, &rev,
				      &more),
		     -ESTALE);
	expect_list_at(r[4], at4, 1); /* the compacted revision itself stays */
	expect_list_at(r[5], at5, 2);
	expect_list_at(r[6], at6, 1);
	expect_kv("/h/b", "b2", r[5], r[5]);
	cr_expect_eq(berth_store_compact(store, r[2]), 0,
		     "compacting less than before does nothing");
	expect_list_at(r[4], at4, 1);

	cr_expect_eq(berth_store_watch(store, "/h/", r[1], rec_cb, NULL, &w),
		     -ESTALE, "a watch from a compacted revision");
	cr_expect_null(w);

	/* a watch from the compacted revision replays what followed it */
	rec_init(&rec);
	w = must_watch("/h/", r[4], &rec);
	cr_assert(rec_wait(&rec, 2, WAIT_MS), "replay: %zu events",
		  rec_count(&rec));
	cr_expect_eq(rec.ev[0].mod_rev, r[5]);
	cr_expect_eq(rec.ev[0].type, BERTH_EVENT_PUT);
	cr_expect_eq(rec.ev[1].mod_rev, r[6]);
	cr_expect_eq(rec.ev[1].type, BERTH_EVENT_DELETE);
	cr_expect_str_eq(rec.ev[1].value, "a2");
	berth_watch_cancel(w);
	rec_free(&rec);

	/* compacting everything leaves "now" intact */
	cr_assert_eq(berth_store_compact(store, r[6]), 0);
	expect_list_at(r[6], at6, 1);
	expect_list_at(cur_rev(), at6, 1);
	cr_expect_eq(must_create("/h/c", "c1"), r[6] + 1,
		     "revisions go on after a compaction");
}

/* A lot of history compacted in one go; the store answers correctly after. */
Test(kv, compact_long_history)
{
	struct berth_kv_list l;
	char key[32], val[32];
	int64_t rev, mid = 0;
	int i, j;

	for (j = 0; j < 20; j++) {
		for (i = 0; i < 50; i++) {
			snprintf(key, sizeof(key), "/ch/%02d", i);
			snprintf(val, sizeof(val), "v%d", j);
			if (j == 0)
				must_create(key, val);
			else
				must_update(key, val);
		}
		if (j == 10)
			mid = cur_rev();
	}
	for (i = 0; i < 50; i += 2) {
		snprintf(key, sizeof(key), "/ch/%02d", i);
		must_delete(key);
	}
	cr_assert_eq(berth_store_compact(store, mid), 0);
	cr_assert_eq(berth_store_list(store, "/ch/", NULL, 0, mid, &l, &rev,
				      NULL),
		     0);
	cr_assert_eq(l.n, 50);
	for (i = 0; i < 50; i++)
		cr_expect_str_eq(l.items[i].value, "v10");
	berth_kv_list_free(&l);
	cr_assert_eq(berth_store_compact(store, cur_rev()), 0);
	cr_assert_eq(
		berth_store_list(store, "/ch/", NULL, 0, 0, &l, &rev, NULL), 0);
	cr_assert_eq(l.n, 25);
	for (i = 0; i < 25; i++) {
		snprintf(key, sizeof(key), "/ch/%02d", 2 * i + 1);
		cr_expect_str_eq(l.items[i].key, key);
		cr_expect_str_eq(l.items[i].value, "v19");
	}
	berth_kv_list_free(&l);
}
