// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The scheduler's cache: hash maps, node accounting, queue lists. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"

void cache_init(struct sched_cache *c)
{
	memset(c, 0, sizeof(*c));
	pthread_mutex_init(&c->lock, NULL);
	berth_cond_init_monotonic(&c->cond);
}

void cache_free(struct sched_cache *c)
{
	for (size_t i = 0; i < c->pods.nb; i++)
		for (struct berth_strmap_ent *e = c->pods.b[i]; e; e = e->next) {
			struct cpod *p = e->val;

			sched_pod_free(p->pi);
			free(p->key);
			free(p->msg);
			free(p->lslots);
			free(p);
		}
	for (size_t i = 0; i < c->by_label.nb; i++)
		for (struct berth_strmap_ent *e = c->by_label.b[i]; e; e = e->next) {
			struct plist *pl = e->val;

			free(pl->a);
			free(pl);
		}
	for (size_t i = 0; i < c->groups.nb; i++)
		for (struct berth_strmap_ent *e = c->groups.b[i]; e; e = e->next) {
			struct group *g = e->val;

			free(g->node);
			free(g->cnt);
			free(g);
		}
	for (int i = 0; i < c->nnodes; i++) {
		sched_node_info_free(c->nodes[i].info);
		free(c->nodes[i].pods);
	}
	free(c->nodes);
	free(c->anti);
	berth_strmap_free(&c->pods);
	berth_strmap_free(&c->node_idx);
	berth_strmap_free(&c->groups);
	berth_strmap_free(&c->by_label);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->cond);
}

void cache_lock(struct sched_cache *c)
{
	atomic_fetch_add(&c->waiters, 1);
	pthread_mutex_lock(&c->lock);
	atomic_fetch_sub(&c->waiters, 1);
}

void cache_unlock(struct sched_cache *c)
{
	pthread_mutex_unlock(&c->lock);
}

int cache_node_index(struct sched_cache *c, const char *name)
{
	intptr_t i = (intptr_t)berth_strmap_get(&c->node_idx, name);

	if (i)
		return i - 1;
	if (c->nnodes == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->nodes = realloc(c->nodes, c->cap * sizeof(*c->nodes));
		if (!c->nodes)
			abort();
	}
	memset(&c->nodes[c->nnodes], 0, sizeof(c->nodes[0]));
	berth_strmap_put(&c->node_idx, name, (void *)(intptr_t)(c->nnodes + 1));
	return c->nnodes++;
}

struct group *cache_group(struct sched_cache *c, const char *uid)
{
	return uid && *uid ? berth_strmap_get(&c->groups, uid) : NULL;
}

static void group_add(struct sched_cache *c, const char *uid, int node,
		      int d)
{
	struct group *g;
	int i;

	if (!uid || !*uid)
		return;
	g = berth_strmap_get(&c->groups, uid);
	if (!g) {
		if (d < 0 || !(g = calloc(1, sizeof(*g))))
			return;
		berth_strmap_put(&c->groups, uid, g);
	}
	for (i = 0; i < g->n && g->node[i] != node; i++)
		;
	if (i == g->n) {
		if (g->n == g->cap) {
			g->cap = g->cap ? g->cap * 2 : 8;
			g->node = realloc(g->node, g->cap * sizeof(int));
			g->cnt = realloc(g->cnt, g->cap * sizeof(int));
			if (!g->node || !g->cnt)
				abort();
		}
		g->node[g->n] = node;
		g->cnt[g->n++] = 0;
	}
	g->cnt[i] += d;
	if (g->cnt[i] <= 0) {
		g->n--;
		g->node[i] = g->node[g->n];
		g->cnt[i] = g->cnt[g->n];
	}
	if (!g->n) {
		berth_strmap_del(&c->groups, uid);
		free(g->node);
		free(g->cnt);
		free(g);
	}
}

static void label_key(char *buf, size_t size, const char *ns, const char *k,
		      const char *v)
{
	snprintf(buf, size, "%s\x1f%s\x1f%s", ns, k, v);
}

struct plist *cache_label_pods(struct sched_cache *c, const char *ns,
			       const char *key, const char *value)
{
	char buf[1024];

	label_key(buf, sizeof(buf), ns, key, value);
	return berth_strmap_get(&c->by_label, buf);
}

static void labels_index(struct sched_cache *c, struct cpod *p)
{
	const struct sched_labels *l = &p->pi->labels;
	char buf[1024];

	free(p->lslots);
	p->lslots = calloc(l->n + 1, sizeof(int));
	if (!p->lslots)
		abort();
	for (int i = 0; i < l->n; i++) {
		struct plist *pl;

		label_key(buf, sizeof(buf), p->pi->ns, l->a[i].k, l->a[i].v);
		pl = berth_strmap_get(&c->by_label, buf);
		if (!pl) {
			if (!(pl = calloc(1, sizeof(*pl))))
				abort();
			berth_strmap_put(&c->by_label, buf, pl);
		}
		if (pl->n == pl->cap) {
			pl->cap = pl->cap ? pl->cap * 2 : 8;
			pl->a = realloc(pl->a, pl->cap * sizeof(*pl->a));
			if (!pl->a)
				abort();
		}
		p->lslots[i] = pl->n;
		pl->a[pl->n++] = p;
	}
}

static void labels_unindex(struct sched_cache *c, struct cpod *p)
{
	const struct sched_labels *l = &p->pi->labels;
	char buf[1024];

	for (int i = 0; i < l->n; i++) {
		struct plist *pl;
		struct cpod *moved;

		label_key(buf, sizeof(buf), p->pi->ns, l->a[i].k, l->a[i].v);
		pl = berth_strmap_get(&c->by_label, buf);
		if (!pl)
			continue;
		moved = pl->a[--pl->n];
		pl->a[p->lslots[i]] = moved;
		for (int j = 0; moved != p && j < moved->pi->labels.n; j++)
			if (!strcmp(moved->pi->labels.a[j].k, l->a[i].k))
				moved->lslots[j] = p->lslots[i];
		if (!pl->n) {
			berth_strmap_del(&c->by_label, buf);
			free(pl->a);
			free(pl);
		}
	}
}

void cache_node_place(struct sched_cache *c, struct cpod *p, int node)
{
	struct snode *n = &c->nodes[node];

	if (n->np == n->cap) {
		n->cap = n->cap ? n->cap * 2 : 16;
		n->pods = realloc(n->pods, n->cap * sizeof(*n->pods));
		if (!n->pods)
			abort();
	}
	p->slot = n->np;
	n->pods[n->np++] = p;
	p->node = node;
	n->cpu_m += p->pi->cpu_m;
	n->mem += p->pi->mem;
	n->npods++;
	n->score_cpu_m += p->pi->score_cpu_m;
	n->score_mem += p->pi->score_mem;
	group_add(c, p->pi->owner_uid, node, 1);
	labels_index(c, p);
	p->anti_slot = -1;
	if (p->pi->nanti) {
		if (c->nanti == c->anti_cap) {
			c->anti_cap = c->anti_cap ? c->anti_cap * 2 : 16;
			c->anti = realloc(c->anti,
					  c->anti_cap * sizeof(*c->anti));
			if (!c->anti)
				abort();
		}
		p->anti_slot = c->nanti;
		c->anti[c->nanti++] = p;
	}
}

void cache_node_unplace(struct sched_cache *c, struct cpod *p)
{
	struct snode *n;

	if (p->node < 0)
		return;
	n = &c->nodes[p->node];
	n->pods[p->slot] = n->pods[--n->np];
	n->pods[p->slot]->slot = p->slot;
	n->cpu_m -= p->pi->cpu_m;
	n->mem -= p->pi->mem;
	n->npods--;
	n->score_cpu_m -= p->pi->score_cpu_m;
	n->score_mem -= p->pi->score_mem;
	group_add(c, p->pi->owner_uid, p->node, -1);
	labels_unindex(c, p);
	if (p->anti_slot >= 0) {
		c->anti[p->anti_slot] = c->anti[--c->nanti];
		c->anti[p->anti_slot]->anti_slot = p->anti_slot;
		p->anti_slot = -1;
	}
	p->node = -1;
	p->assumed = false;
}

void q_remove(struct sched_cache *c, struct cpod *p)
{
	struct qlist *l;

	if (p->list == Q_NONE)
		return;
	l = &c->q[p->list];
	if (p->prev)
		p->prev->next = p->next;
	else
		l->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		l->tail = p->prev;
	p->prev = p->next = NULL;
	p->list = Q_NONE;
	l->n--;
}

void q_push(struct sched_cache *c, struct cpod *p, enum qlist_id id)
{
	struct qlist *l = &c->q[id];

	q_remove(c, p);
	p->list = id;
	p->prev = l->tail;
	p->next = NULL;
	if (l->tail)
		l->tail->next = p;
	else
		l->head = p;
	l->tail = p;
	l->n++;
	if (id == Q_ACTIVE)
		pthread_cond_signal(&c->cond);
}
