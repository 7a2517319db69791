// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The shared store suite, what survives: a restart keeps keys, revisions,
 * compaction and history; a writer killed with SIGKILL in the middle of a
 * burst loses none of the writes it had acknowledged.
 */
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>

#include "suite.h"

TestSuite(durable, .init = store_setup, .fini = store_teardown, .timeout = 30);

Test(durable, restart_keeps_data_and_revisions)
{
	struct berth_kv_list l;
	struct berth_watch *w;
	struct recorder rec;
	struct berth_kv kv;
	int64_t c, u, b, d, t, last, rev;
	bool more;

	c = must_create("/r/a", "a1");
	u = must_update("/r/a", "a2");
	b = must_create("/r/b", "b1");
	d = must_delete("/r/b");
	cr_assert_eq(berth_store_create(store, "/r/c", "c1", 2, 600, &t), 0);
	cr_assert_eq(berth_store_compact(store, u), 0);
	last = cur_rev();
	cr_assert_eq(last, t);

	cr_assert_eq(store_fixture_restart(&store), 0);
	cr_expect_eq(cur_rev(), last, "the revision survives");
	expect_kv("/r/a", "a2", c, u);
	expect_kv("/r/c", "c1", t, t);
	cr_expect_eq(berth_store_get(store, "/r/b", &kv), -ENOENT);
	cr_expect_eq(berth_store_list(store, "/r/", NULL, 0, u - 1, &l, &rev,
				      &more),
		     -ESTALE, "the compaction survives");
	cr_assert_eq(
		berth_store_list(store, "/r/", NULL, 0, u, &l, &rev, &more), 0);
	cr_assert_eq(l.n, 1);
	cr_expect_str_eq(l.items[0].value, "a2");
	berth_kv_list_free(&l);

	rec_init(&rec);
	w = must_watch("/r/", u, &rec);
	cr_assert(rec_wait(&rec, 3, WAIT_MS), "history after a restart: %zu",
		  rec_count(&rec));
	cr_expect_eq(rec.ev[0].mod_rev, b);
	cr_expect_eq(rec.ev[1].mod_rev, d);
	cr_expect_eq(rec.ev[1].type, BERTH_EVENT_DELETE);
	cr_expect_eq(rec.ev[2].mod_rev, t);
	cr_expect_eq(must_create("/r/d", "d1"), last + 1,
		     "revisions go on from where they were");
	cr_assert(rec_wait(&rec, 4, WAIT_MS));
	berth_watch_cancel(w);
	rec_free(&rec);
}

struct ack {
	int64_t i;
	int64_t rev;
};

#define MAX_ACKS 100000

/* The child: create keys as fast as it can, report each acknowledged one. */
static void __attribute__((noreturn)) crash_writer(int fd, int round)
{
	struct berth_store *s = NULL;
	char key[48], value[256];
	struct ack a;
	int64_t i;

	/* never outlive the test, whatever happens to it */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	signal(SIGPIPE, SIG_DFL);
	if (store_fixture_reopen(&s))
		_exit(2);
	memset(value, 'v', sizeof(value));
	for (i = 0;; i++) {
		snprintf(key, sizeof(key), "/crash/%d/%08lld", round,
			 (long long)i);
		snprintf(value, 32, "%lld", (long long)i);
		if (berth_store_create(s, key, value, sizeof(value), 0, &a.rev))
			_exit(3);
		a.i = i;
		if (write(fd, &a, sizeof(a)) != sizeof(a))
			_exit(4);
	}
}

/* Read acks until n are in or the pipe ends; returns the count. */
static size_t read_acks(int fd, struct ack *acks, size_t have, size_t n)
{
	ssize_t got;

	while (have < n) {
		got = read(fd, &acks[have], sizeof(acks[have]));
		if (got <= 0)
			break;
		cr_assert_eq(got, sizeof(acks[have]), "a torn ack");
		have++;
	}
	return have;
}

static void crash_round(int round, size_t kill_after)
{
	static struct ack acks[MAX_ACKS];
	struct berth_kv kv;
	char key[48];
	int fds[2], status;
	int64_t rev;
	size_t n, i;
	pid_t pid;

	store_fixture_suspend(store);
	store = NULL;
	cr_assert_eq(pipe(fds), 0);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		close(fds[0]);
		crash_writer(fds[1], round);
	}
	close(fds[1]);
	n = read_acks(fds[0], acks, 0, kill_after);
	kill(pid, SIGKILL);
	/* acks already in the pipe were acknowledged before the kill */
	n = read_acks(fds[0], acks, n, MAX_ACKS);
	close(fds[0]);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL,
		  "the writer ended by itself (status %#x) after %zu acks",
		  status, n);
	cr_assert_geq(n, kill_after);

	cr_assert_eq(store_fixture_reopen(&store), 0);
	for (i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "/crash/%d/%08lld", round,
			 (long long)acks[i].i);
		cr_assert_eq(berth_store_get(store, key, &kv), 0,
			     "acknowledged write %s (revision %lld) lost", key,
			     (long long)acks[i].rev);
		cr_expect_eq(kv.mod_revision, acks[i].rev, "%s", key);
		cr_expect_eq(atoll(kv.value), acks[i].i, "%s", key);
		berth_kv_free(&kv);
	}
	cr_assert_eq(berth_store_revision(store, &rev), 0);
	cr_expect_geq(rev, acks[n - 1].rev);
}

Test(durable, kill9_loses_no_acknowledged_write)
{
	crash_round(1, 50);
	crash_round(2, 400);
	crash_round(3, 1000);
	/* the store still works after three crashes */
	must_create("/crash/after", "ok");
}

/*
 * A snapshot is a store of its own: written to a file and opened as a new
 * SQLite store it holds the same keys and revisions. etcd has its own tool
 * (etcdctl snapshot save) and says so.
 */
Test(durable, snapshot_restores_as_a_store)
{
	char dir[] = "/tmp/berth-snap.XXXXXX", path[64];
	struct berth_store *copy = NULL;
	struct berth_kv kv;
	int64_t c, u, last, rev;
	size_t len;
	void *buf;
	FILE *f;

	c = must_create("/s/a", "a1");
	u = must_update("/s/a", "a2");
	must_create("/s/b", "b1");
	must_delete("/s/b");
	last = cur_rev();
	if (strcmp(berth_store_backend(store), "sqlite")) {
		cr_expect_eq(berth_store_snapshot(store, &buf, &len),
			     -EOPNOTSUPP);
		return;
	}
	cr_assert_eq(berth_store_snapshot(store, &buf, &len), 0);
	cr_assert_gt(len, 0);
	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/state.db", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(buf, 1, len, f), len);
	fclose(f);
	free(buf);
	must_create("/s/after", "x"); /* not in the snapshot */

	cr_assert_eq(berth_store_open_sqlite(&copy, path), 0);
	cr_expect_eq(berth_store_revision(copy, &rev), 0);
	cr_expect_eq(rev, last, "the snapshot's revision");
	cr_assert_eq(berth_store_get(copy, "/s/a", &kv), 0);
	cr_expect_str_eq(kv.value, "a2");
	cr_expect_eq(kv.create_revision, c);
	cr_expect_eq(kv.mod_revision, u);
	berth_kv_free(&kv);
	cr_expect_eq(berth_store_get(copy, "/s/b", &kv), -ENOENT);
	cr_expect_eq(berth_store_get(copy, "/s/after", &kv), -ENOENT);
	berth_store_close(copy);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.db-wal", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/state.db-shm", dir);
	unlink(path);
	rmdir(dir);
}
