// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* String-keyed hash map; monotonic condition variables and deadlines. */
#include <stdlib.h>
#include <string.h>

#include "strmap.h"

#define STRMAP_MIN_BUCKETS 256

uint64_t berth_str_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

static struct berth_strmap_ent **slot(struct berth_strmap_ent **b, size_t nb,
				      const char *key)
{
	struct berth_strmap_ent **p = &b[berth_str_hash(key) & (nb - 1)];

	while (*p && strcmp((*p)->key, key))
		p = &(*p)->next;
	return p;
}

static void grow(struct berth_strmap *m)
{
	size_t n = m->nb ? m->nb * 2 : STRMAP_MIN_BUCKETS;
	struct berth_strmap_ent **b = calloc(n, sizeof(*b)), *e, *nx;

	if (!b) {
		if (m->nb)
			return; /* longer chains, still correct */
		abort();
	}
	for (size_t i = 0; i < m->nb; i++)
		for (e = m->b[i]; e; e = nx) {
			size_t k = berth_str_hash(e->key) & (n - 1);

			nx = e->next;
			e->next = b[k];
			b[k] = e;
		}
	free(m->b);
	m->b = b;
	m->nb = n;
}

void *berth_strmap_get(const struct berth_strmap *m, const char *key)
{
	struct berth_strmap_ent *e;

	if (!m->nb)
		return NULL;
	e = *slot(m->b, m->nb, key);
	return e ? e->val : NULL;
}

void berth_strmap_put(struct berth_strmap *m, const char *key, void *val)
{
	struct berth_strmap_ent **p;

	if (!m->nb)
		grow(m);
	p = slot(m->b, m->nb, key);
	if (*p) {
		(*p)->val = val;
		return;
	}
	*p = calloc(1, sizeof(**p));
	if (!*p || !((*p)->key = strdup(key)))
		abort();
	(*p)->val = val;
	if (++m->n > m->nb)
		grow(m);
}

void *berth_strmap_del(struct berth_strmap *m, const char *key)
{
	struct berth_strmap_ent **p, *e;
	void *v;

	if (!m->nb)
		return NULL;
	p = slot(m->b, m->nb, key);
	e = *p;
	if (!e)
		return NULL;
	*p = e->next;
	v = e->val;
	free(e->key);
	free(e);
	m->n--;
	return v;
}

struct berth_strmap_ent *berth_strmap_next(const struct berth_strmap *m,
					   size_t *bucket,
					   struct berth_strmap_ent *e)
{
	if (!e)
		*bucket = 0;
	else if (e->next)
		return e->next;
	else
		(*bucket)++;
	for (; *bucket < m->nb; (*bucket)++)
		if (m->b[*bucket])
			return m->b[*bucket];
	return NULL;
}

void berth_strmap_free(struct berth_strmap *m)
{
	struct berth_strmap_ent *e, *nx;

	for (size_t i = 0; i < m->nb; i++)
		for (e = m->b[i]; e; e = nx) {
			nx = e->next;
			free(e->key);
			free(e);
		}
	free(m->b);
	memset(m, 0, sizeof(*m));
}

void berth_cond_init_monotonic(pthread_cond_t *c)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(c, &ca);
	pthread_condattr_destroy(&ca);
}

void berth_deadline(struct timespec *ts, int64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000;
	if (ts->tv_nsec >= 1000000000) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000;
	}
}
