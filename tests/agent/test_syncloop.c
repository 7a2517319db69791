// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The shared watch-and-sync loop (syncloop.h): debounce, urgent kicks,
 * retry after a failed pass, the idle pass, waiting for passes, no pass
 * before every view has listed, a prompt stop. Views are real kviews; the
 * API server address refuses connections, so a view never lists.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../userspace/agent/nlutil.h"
#include "../../userspace/agent/syncloop.h"

struct calls {
	int n; /* passes run */
	int fail; /* this many first passes return -EIO */
	struct timespec at[8]; /* when each ran */
};

static int count_sync(void *arg)
{
	struct calls *c = arg;

	if (c->n < 8)
		clock_gettime(CLOCK_MONOTONIC, &c->at[c->n]);
	return c->n++ < c->fail ? -EIO : 0;
}

static long ms_between(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) * 1000L +
	       (b->tv_nsec - a->tv_nsec) / 1000000L;
}

static char kubeconfig[] = "/tmp/berth-test-syncloop-XXXXXX";

/* a server nothing listens on: a view's list fails and is retried */
static void write_kubeconfig(void)
{
	static const char text[] =
		"apiVersion: v1\nkind: Config\ncurrent-context: a\n"
		"clusters:\n- name: c\n  cluster: {server: 'http://127.0.0.1:9'}\n"
		"contexts:\n- name: a\n  context: {cluster: c}\n";
	int fd = mkstemp(kubeconfig);

	cr_assert(fd >= 0);
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
}

static void rm_kubeconfig(void)
{
	unlink(kubeconfig);
}

TestSuite(syncloop, .init = write_kubeconfig, .fini = rm_kubeconfig,
	  .timeout = 30);

static void loop_up_leading(struct berth_syncloop *l, struct calls *c,
			    long debounce, long leading, long retry, long idle,
			    size_t nviews)
{
	const struct berth_syncloop_opts o = {
		.debounce_ms = debounce,
		.leading_ms = leading,
		.retry_ms = retry,
		.idle_ms = idle,
		.sync = count_sync,
		.ctx = c,
	};
	const char *const cols[] = { "/api/v1/nodes" };

	cr_assert_eq(berth_syncloop_init(l, &o, cols, nviews), 0);
	cr_assert_eq(berth_syncloop_start(l, kubeconfig), 0);
}

static void loop_up(struct berth_syncloop *l, struct calls *c, long debounce,
		    long retry, long idle, size_t nviews)
{
	loop_up_leading(l, c, debounce, 0, retry, idle, nviews);
}

/* kick (urgent or not) and wait up to ms for the next pass */
static int kick_wait(struct berth_syncloop *l, bool urgent, long ms,
		     struct timespec *t0)
{
	struct timespec until = berth_after_ms(ms);
	unsigned long target;
	int err;

	pthread_mutex_lock(&l->mu);
	clock_gettime(CLOCK_MONOTONIC, t0);
	target = l->passes + 1;
	berth_syncloop_kick(l, urgent);
	err = berth_syncloop_wait_passes(l, target, &until);
	pthread_mutex_unlock(&l->mu);
	return err;
}

Test(syncloop, kick_waits_the_debounce_urgent_does_not)
{
	struct berth_syncloop l;
	struct calls c = { 0 };
	struct timespec t0;

	loop_up(&l, &c, 300, 1000, 0, 0);
	cr_assert_eq(kick_wait(&l, false, 5000, &t0), 0);
	cr_expect_geq(ms_between(&t0, &c.at[0]), 300, "debounced: %ld ms",
		      ms_between(&t0, &c.at[0]));
	cr_assert_eq(kick_wait(&l, true, 5000, &t0), 0);
	cr_expect_lt(ms_between(&t0, &c.at[1]), 150, "urgent: %ld ms",
		     ms_between(&t0, &c.at[1]));
	berth_syncloop_stop(&l);
	cr_expect_eq(c.n, 2, "passes: %d", c.n);
}

Test(syncloop, change_after_quiet_runs_at_once_followers_wait)
{
	struct berth_syncloop l;
	struct calls c = { 0 };
	struct timespec t0;

	loop_up_leading(&l, &c, 300, 200, 1000, 0, 0);
	cr_assert_eq(kick_wait(&l, false, 5000, &t0), 0);
	cr_expect_lt(ms_between(&t0, &c.at[0]), 150, "first, quiet: %ld ms",
		     ms_between(&t0, &c.at[0]));
	cr_assert_eq(kick_wait(&l, false, 5000, &t0), 0);
	cr_expect_geq(ms_between(&t0, &c.at[1]), 300, "right after: %ld ms",
		      ms_between(&t0, &c.at[1]));
	usleep(250 * 1000);
	cr_assert_eq(kick_wait(&l, false, 5000, &t0), 0);
	cr_expect_lt(ms_between(&t0, &c.at[2]), 150, "quiet again: %ld ms",
		     ms_between(&t0, &c.at[2]));
	berth_syncloop_stop(&l);
	cr_expect_eq(c.n, 3, "passes: %d", c.n);
}

Test(syncloop, failed_pass_is_retried_after_the_pause)
{
	struct berth_syncloop l;
	struct calls c = { .fail = 1 };
	struct timespec t0, until;
	int err;

	loop_up(&l, &c, 10, 400, 0, 0);
	cr_assert_eq(kick_wait(&l, false, 5000, &t0), 0);
	until = berth_after_ms(5000);
	pthread_mutex_lock(&l.mu);
	err = berth_syncloop_wait_passes(&l, 2, &until);
	pthread_mutex_unlock(&l.mu);
	cr_assert_eq(err, 0, "retry: %d", err);
	cr_expect_geq(ms_between(&c.at[0], &c.at[1]), 400,
		      "retried after %ld ms", ms_between(&c.at[0], &c.at[1]));
	berth_syncloop_stop(&l);
	cr_expect_eq(c.n, 2, "passes: %d (no more after a good one)", c.n);
}

Test(syncloop, idle_pass_and_none_without)
{
	struct berth_syncloop l, quiet;
	struct calls c = { 0 }, q = { 0 };
	struct timespec until;
	int err;

	loop_up(&l, &c, 10, 1000, 200, 0);
	loop_up(&quiet, &q, 10, 1000, 0, 0);
	until = berth_after_ms(3000);
	pthread_mutex_lock(&l.mu);
	err = berth_syncloop_wait_passes(&l, 2, &until);
	pthread_mutex_unlock(&l.mu);
	cr_expect_eq(err, 0, "two idle passes within 3 s: %d", err);
	until = berth_after_ms(300);
	pthread_mutex_lock(&quiet.mu);
	err = berth_syncloop_wait_passes(&quiet, 1, &until);
	pthread_mutex_unlock(&quiet.mu);
	cr_expect_eq(err, -ETIMEDOUT, "no idle pass when idle_ms is 0");
	berth_syncloop_stop(&l);
	berth_syncloop_stop(&quiet);
	cr_expect_eq(q.n, 0);
}

Test(syncloop, no_pass_before_every_view_listed)
{
	struct berth_syncloop l;
	struct calls c = { 0 };
	struct timespec t0;

	loop_up(&l, &c, 10, 1000, 100, 1);
	cr_expect_eq(kick_wait(&l, true, 500, &t0), -ETIMEDOUT);
	pthread_mutex_lock(&l.mu);
	cr_expect_not(berth_syncloop_listed(&l));
	pthread_mutex_unlock(&l.mu);
	berth_syncloop_stop(&l);
	cr_expect_eq(c.n, 0, "passes: %d", c.n);
}

Test(syncloop, stop_ends_a_long_debounce_at_once)
{
	struct berth_syncloop l;
	struct calls c = { 0 };
	struct timespec t0, t1;

	loop_up(&l, &c, 60000, 1000, 0, 0);
	pthread_mutex_lock(&l.mu);
	berth_syncloop_kick(&l, false);
	pthread_mutex_unlock(&l.mu);
	usleep(50000);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	berth_syncloop_stop(&l);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	cr_expect_lt(ms_between(&t0, &t1), 1000, "stop took %ld ms",
		     ms_between(&t0, &t1));
	cr_expect_eq(c.n, 0, "no pass after stop");
}
