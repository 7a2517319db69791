// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controller manager: runs every controller placed in the
 * berth_controllers section. Each controller's init asks for the shared
 * informers it needs and registers its workers; the manager starts the
 * informers, waits for their first list (a controller never acts on a
 * half-filled cache), then starts the workers and periodic tasks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <berth/log.h>

#include "../apiserver/api.h"
#include "../apiserver/registry.h"
#include "informer.h"
#include "leader.h"
#include "strmap.h"

#define MAX_INFORMERS 48
#define MAX_WORKER_SETS 48
#define MAX_PERIODIC 32
#define MAX_CONTROLLERS 48
#define SYNC_TIMEOUT_MS 60000

/* the linker's bounds of the section; weak so none at all still links */
extern const struct berth_controller_def __start_berth_controllers[]
	__attribute__((weak));
extern const struct berth_controller_def __stop_berth_controllers[]
	__attribute__((weak));

struct worker_set {
	struct berth_ctl *m;
	char name[48];
	struct berth_queue *q;
	int (*sync)(void *ctx, const char *key);
	void *ctx;
	int n;
	pthread_t threads[8];
};

struct periodic {
	struct berth_ctl *m;
	char name[48];
	int period_ms;
	void (*fn)(void *ctx);
	void *ctx;
	pthread_t thread;
};

struct berth_ctl {
	struct berth_api *api;
	struct berth_ctl_options opts;
	struct berth_informer *inf[MAX_INFORMERS];
	int ninf;
	struct worker_set *ws[MAX_WORKER_SETS];
	int nws;
	struct periodic *per[MAX_PERIODIC];
	int nper;
	const struct berth_controller_def *defs[MAX_CONTROLLERS];
	void *states[MAX_CONTROLLERS];
	int nctl;
	atomic_bool stopping;
	pthread_mutex_t lock;
	pthread_cond_t cond; /* wakes periodic tasks at stop, workers at lead */
	bool running;
	bool leading; /* holds the Lease: workers run only then */
	struct berth_leader *leader;
};

static void lead_changed(void *ctx, bool leading)
{
	struct berth_ctl *m = ctx;

	pthread_mutex_lock(&m->lock);
	m->leading = leading;
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
}

/*
 * Block while another server leads. Keys keep queueing meanwhile (once
 * each), so a new leader reconciles everything that changed. false: stop.
 */
static bool wait_leading(struct berth_ctl *m)
{
	bool ok;

	pthread_mutex_lock(&m->lock);
	while (!m->leading && !atomic_load(&m->stopping))
		pthread_cond_wait(&m->cond, &m->lock);
	ok = !atomic_load(&m->stopping);
	pthread_mutex_unlock(&m->lock);
	return ok;
}

struct berth_api *berth_ctl_api(struct berth_ctl *m)
{
	return m->api;
}

const struct berth_ctl_options *berth_ctl_opts(struct berth_ctl *m)
{
	return &m->opts;
}

bool berth_ctl_stopping(struct berth_ctl *m)
{
	return atomic_load(&m->stopping);
}

bool berth_ctl_leading(struct berth_ctl *m)
{
	bool l;

	pthread_mutex_lock(&m->lock);
	l = m->leading;
	pthread_mutex_unlock(&m->lock);
	return l;
}

struct berth_informer *berth_ctl_informer(struct berth_ctl *m,
					  const struct berth_resource *r)
{
	int i;

	for (i = 0; i < m->ninf; i++)
		if (berth_informer_resource(m->inf[i]) == r)
			return m->inf[i];
	if (m->running || m->ninf == MAX_INFORMERS) {
		pr_err("informer for %s asked too late or too many", r->name);
		abort();
	}
	m->inf[m->ninf] = berth_informer_new(m->api->store, r);
	if (!m->inf[m->ninf])
		abort();
	return m->inf[m->ninf++];
}

int berth_ctl_workers(struct berth_ctl *m, const char *name,
		      struct berth_queue *q, int workers,
		      int (*sync)(void *ctx, const char *key), void *ctx)
{
	struct worker_set *ws;

	if (m->nws == MAX_WORKER_SETS || workers < 1 || workers > 8)
		return -EINVAL;
	ws = calloc(1, sizeof(*ws));
	if (!ws)
		return -ENOMEM;
	ws->m = m;
	strncpy(ws->name, name, sizeof(ws->name) - 1);
	ws->q = q;
	ws->sync = sync;
	ws->ctx = ctx;
	ws->n = workers;
	m->ws[m->nws++] = ws;
	return 0;
}

int berth_ctl_every(struct berth_ctl *m, const char *name, int period_ms,
		    void (*fn)(void *ctx), void *ctx)
{
	struct periodic *p;

	if (m->nper == MAX_PERIODIC || period_ms < 1)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->m = m;
	strncpy(p->name, name, sizeof(p->name) - 1);
	p->period_ms = period_ms;
	p->fn = fn;
	p->ctx = ctx;
	m->per[m->nper++] = p;
	return 0;
}

static void *worker_main(void *arg)
{
	struct worker_set *ws = arg;
	char *key;

	while ((key = berth_queue_get(ws->q))) {
		int err = wait_leading(ws->m) ? ws->sync(ws->ctx, key) : 0;

		if (err && !berth_ctl_stopping(ws->m)) {
			pr_debug("%s: sync %s: %s; retrying", ws->name, key,
				 strerror(err < 0 ? -err : err));
			berth_queue_add_rate_limited(ws->q, key);
		} else {
			berth_queue_forget(ws->q, key);
		}
		berth_queue_done(ws->q, key);
		free(key);
	}
	return NULL;
}

static void *periodic_main(void *arg)
{
	struct periodic *p = arg;
	struct berth_ctl *m = p->m;
	struct timespec ts;

	pthread_mutex_lock(&m->lock);
	while (!atomic_load(&m->stopping)) {
		bool leading = m->leading;

		pthread_mutex_unlock(&m->lock);
		if (leading)
			p->fn(p->ctx);
		pthread_mutex_lock(&m->lock);
		berth_deadline(&ts, p->period_ms);
		while (!atomic_load(&m->stopping) &&
		       !pthread_cond_timedwait(&m->cond, &m->lock, &ts))
			;
	}
	pthread_mutex_unlock(&m->lock);
	return NULL;
}

static bool wanted(const char *only, const char *name)
{
	size_t n = strlen(name);
	const char *p;

	if (!only || !*only)
		return true;
	for (p = only; (p = strstr(p, name)); p += n)
		if ((p == only || p[-1] == ',') && (!p[n] || p[n] == ','))
			return true;
	return false;
}

int berth_ctl_start(struct berth_ctl **out, struct berth_api *api,
		    const struct berth_ctl_options *opts)
{
	const struct berth_controller_def *d;
	struct berth_ctl *m = calloc(1, sizeof(*m));
	int i, j, err;

	if (!m)
		return -ENOMEM;
	m->api = api;
	m->opts = *opts;
	pthread_mutex_init(&m->lock, NULL);
	berth_cond_init_monotonic(&m->cond);
	*out = m;
	for (d = __start_berth_controllers; d < __stop_berth_controllers; d++) {
		if (!wanted(opts->only, d->name))
			continue;
		if (m->nctl == MAX_CONTROLLERS)
			return -E2BIG;
		err = d->init(m, &m->states[m->nctl]);
		if (err) {
			pr_err("controller %s: %s", d->name, strerror(-err));
			return err;
		}
		m->defs[m->nctl++] = d;
	}
	m->running = true;
	for (i = 0; i < m->ninf; i++) {
		err = berth_informer_start(m->inf[i]);
		if (err)
			return err;
	}
	for (i = 0; i < m->ninf; i++)
		if (!berth_informer_wait_synced(m->inf[i], SYNC_TIMEOUT_MS)) {
			pr_err("informer %s: no first list in %d s",
			       berth_informer_resource(m->inf[i])->name,
			       SYNC_TIMEOUT_MS / 1000);
			return -ETIMEDOUT;
		}
	for (i = 0; i < m->nws; i++)
		for (j = 0; j < m->ws[i]->n; j++) {
			err = pthread_create(&m->ws[i]->threads[j], NULL,
					     worker_main, m->ws[i]);
			if (err) {
				m->ws[i]->n = j;
				return -err;
			}
		}
	for (i = 0; i < m->nper; i++) {
		err = pthread_create(&m->per[i]->thread, NULL, periodic_main,
				     m->per[i]);
		if (err) {
			m->nper = i;
			return -err;
		}
	}
	pr_info("controllers: %d ready over %d informers", m->nctl, m->ninf);
	return berth_leader_start(&m->leader, api,
				  opts->identity ?: "berth-server", lead_changed,
				  m);
}

void berth_ctl_stop(struct berth_ctl *m)
{
	int i, j;

	if (!m)
		return;
	berth_leader_stop(m->leader);
	pthread_mutex_lock(&m->lock);
	atomic_store(&m->stopping, true);
	pthread_cond_broadcast(&m->cond);
	pthread_mutex_unlock(&m->lock);
	for (i = 0; i < m->nws; i++)
		berth_queue_shutdown(m->ws[i]->q);
	for (i = 0; i < m->nws; i++)
		for (j = 0; j < m->ws[i]->n; j++)
			pthread_join(m->ws[i]->threads[j], NULL);
	for (i = 0; i < m->nper; i++)
		if (m->per[i]->thread)
			pthread_join(m->per[i]->thread, NULL);
	/* no handler runs once the informers are gone */
	for (i = 0; i < m->ninf; i++)
		berth_informer_free(m->inf[i]);
	for (i = 0; i < m->nctl; i++)
		if (m->defs[i]->stop)
			m->defs[i]->stop(m->states[i]);
	for (i = 0; i < m->nws; i++) {
		berth_queue_free(m->ws[i]->q);
		free(m->ws[i]);
	}
	for (i = 0; i < m->nper; i++)
		free(m->per[i]);
	pthread_mutex_destroy(&m->lock);
	pthread_cond_destroy(&m->cond);
	free(m);
}
