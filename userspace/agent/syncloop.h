/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The watch-and-sync loop the agent's reconcilers share (node routing in
 * both dataplanes, NetworkPolicy in both): a few kviews over one mutex, a
 * thread that, once every view has listed and something changed, waits a
 * debounce, runs sync() and retries a failed pass after a pause.
 */
#ifndef BERTH_AGENT_SYNCLOOP_H
#define BERTH_AGENT_SYNCLOOP_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include <berth/kube.h>

#include "kview.h"

#define BERTH_SYNCLOOP_MAX_VIEWS 4

struct berth_syncloop_opts {
	long debounce_ms; /* changes coalesce this long before a pass */
	/* when no pass began for this long, a change runs one at once (the
	 * debounce then holds only changes that follow it); 0: always wait */
	long leading_ms;
	long retry_ms; /* a failed pass runs again after this */
	/* with nothing changing, a pass (repairing what others removed) runs
	 * after this long; 0: only on changes */
	long idle_ms;
	/* One pass, with mu held (it may drop it while it writes); 0, or
	 * -errno to be retried. dirty and urgent are cleared before it runs. */
	int (*sync)(void *ctx);
	void *ctx;
};

struct berth_syncloop {
	struct berth_syncloop_opts opts;
	pthread_mutex_t mu; /* the views, the flags, passes; the owner's too */
	pthread_cond_t cv; /* the flags moved */
	pthread_cond_t done_cv; /* passes moved */
	struct berth_kview views[BERTH_SYNCLOOP_MAX_VIEWS];
	size_t nviews; /* initialised */
	struct berth_kube *kube;
	bool dirty; /* a view changed since the last pass began */
	bool urgent; /* someone waits for the next pass: no debounce */
	bool stop, started;
	unsigned long passes; /* passes run (ok or not) */
	struct timespec last_pass; /* CLOCK_MONOTONIC start of the last pass */
	pthread_t thread;
};

/*
 * The mutex, condvars and n empty views of collections (n at most
 * BERTH_SYNCLOOP_MAX_VIEWS); set views[i].keep before the start. 0 or
 * -errno; berth_syncloop_stop() cleans up either way.
 */
int berth_syncloop_init(struct berth_syncloop *l,
			const struct berth_syncloop_opts *o,
			const char *const *collections, size_t n);
/* Open kubeconfig, start the thread and the views' watches. */
int berth_syncloop_start(struct berth_syncloop *l, const char *kubeconfig);
/* Stop the watches and the thread, free the views, the client, the locks. */
void berth_syncloop_stop(struct berth_syncloop *l);
/* With mu held: every view has completed a list. */
bool berth_syncloop_listed(const struct berth_syncloop *l);
/* With mu held: ask for a pass; urgent skips the debounce. */
void berth_syncloop_kick(struct berth_syncloop *l, bool urgent);
/*
 * With mu held: wait until passes reaches target, the loop stops or until
 * (CLOCK_MONOTONIC) passes. 0, or -ETIMEDOUT when passes is still short.
 */
int berth_syncloop_wait_passes(struct berth_syncloop *l, unsigned long target,
			       const struct timespec *until);

#endif
