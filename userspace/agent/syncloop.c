// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The agent's shared watch-and-sync loop (syncloop.h). */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>

#include "nlutil.h"
#include "syncloop.h"

static void on_change(struct berth_kview *v, enum berth_kube_event ev,
		      json_object *obj, void *arg)
{
	(void)obj;
	/* a change inside a list in progress is not in the view yet */
	if (ev == BERTH_KUBE_LIST_END || !berth_kview_listing(v))
		berth_syncloop_kick(arg, false);
}

void berth_syncloop_kick(struct berth_syncloop *l, bool urgent)
{
	l->dirty = true;
	if (urgent)
		l->urgent = true;
	pthread_cond_signal(&l->cv);
}

bool berth_syncloop_listed(const struct berth_syncloop *l)
{
	for (size_t i = 0; i < l->nviews; i++)
		if (!l->views[i].listed)
			return false;
	return true;
}

/* Sleep until stop or ms have passed; with mu held. */
static void pause_ms(struct berth_syncloop *l, long ms)
{
	struct timespec until = berth_after_ms(ms);

	while (!l->stop &&
	       pthread_cond_timedwait(&l->cv, &l->mu, &until) != ETIMEDOUT)
		;
}

/* Nothing to do yet: wait for a change, or for the idle pass. */
static void idle(struct berth_syncloop *l)
{
	struct timespec until;

	if (!l->opts.idle_ms) {
		pthread_cond_wait(&l->cv, &l->mu);
		return;
	}
	until = berth_after_ms(l->opts.idle_ms);
	if (pthread_cond_timedwait(&l->cv, &l->mu, &until) == ETIMEDOUT)
		l->dirty = true;
}

/* A change after a quiet spell need not wait for others to join it. */
static bool quiet(const struct berth_syncloop *l)
{
	struct timespec now;
	long ms;

	if (!l->opts.leading_ms)
		return false;
	if (!l->passes)
		return true;
	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (now.tv_sec - l->last_pass.tv_sec) * 1000 +
	     (now.tv_nsec - l->last_pass.tv_nsec) / 1000000;
	return ms >= l->opts.leading_ms;
}

static void *loop_thread(void *arg)
{
	struct berth_syncloop *l = arg;
	int err;

	pthread_mutex_lock(&l->mu);
	while (!l->stop) {
		if (!l->dirty || !berth_syncloop_listed(l)) {
			idle(l);
			continue;
		}
		if (!l->urgent && !quiet(l))
			pause_ms(l, l->opts.debounce_ms);
		if (l->stop)
			break;
		l->dirty = l->urgent = false;
		clock_gettime(CLOCK_MONOTONIC, &l->last_pass);
		err = l->opts.sync(l->opts.ctx);
		l->passes++;
		pthread_cond_broadcast(&l->done_cv);
		if (err) {
			pause_ms(l, l->opts.retry_ms);
			l->dirty = true;
		}
	}
	pthread_mutex_unlock(&l->mu);
	return NULL;
}

int berth_syncloop_init(struct berth_syncloop *l,
			const struct berth_syncloop_opts *o,
			const char *const *collections, size_t n)
{
	pthread_condattr_t ca;
	int err;

	memset(l, 0, sizeof(*l));
	l->opts = *o;
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cv, &ca);
	pthread_cond_init(&l->done_cv, &ca);
	pthread_condattr_destroy(&ca);
	if (n > BERTH_SYNCLOOP_MAX_VIEWS)
		return -E2BIG;
	for (size_t i = 0; i < n; i++) {
		err = berth_kview_init(&l->views[i], collections[i], &l->mu,
				       on_change, l);
		if (err)
			return err;
		l->nviews++;
	}
	return 0;
}

int berth_syncloop_start(struct berth_syncloop *l, const char *kubeconfig)
{
	sigset_t all, old;
	int err;

	err = berth_kube_open(&l->kube, kubeconfig);
	if (err)
		return err;
	/* signals stay with the agent's main thread (its signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&l->thread, NULL, loop_thread, l);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err)
		return err;
	l->started = true;
	for (size_t i = 0; !err && i < l->nviews; i++)
		err = berth_kview_start(&l->views[i], l->kube);
	return err;
}

void berth_syncloop_stop(struct berth_syncloop *l)
{
	for (size_t i = 0; i < l->nviews; i++)
		berth_kview_stop(&l->views[i]);
	if (l->started) {
		pthread_mutex_lock(&l->mu);
		l->stop = true;
		pthread_cond_signal(&l->cv);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
		l->started = false;
	}
	for (size_t i = 0; i < l->nviews; i++)
		berth_kview_free(&l->views[i]);
	l->nviews = 0;
	berth_kube_free(l->kube);
	l->kube = NULL;
	pthread_cond_destroy(&l->cv);
	pthread_cond_destroy(&l->done_cv);
	pthread_mutex_destroy(&l->mu);
}

int berth_syncloop_wait_passes(struct berth_syncloop *l, unsigned long target,
			       const struct timespec *until)
{
	int err = 0;

	while (!l->stop && l->passes < target && !err)
		err = -pthread_cond_timedwait(&l->done_cv, &l->mu, until);
	return l->passes < target ? -ETIMEDOUT : err;
}
