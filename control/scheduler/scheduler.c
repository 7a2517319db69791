// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The scheduler: pods without a node wait in its queue; one loop filters
 * and scores every node from the cache (no JSON, no store reads), assumes
 * the pod on the best one and hands the bind to workers that POST the
 * binding subresource. Pods that fit nowhere get PodScheduled=False and an
 * Event, and wait for a cluster change or the periodic retry.
 */
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../controllers/ctl.h"
#include "cache.h"
#include "podinfo.h"

#define SCHEDULER_NAME "default-scheduler"
#define RESYNC_MS 20000 /* unschedulable pods are retried at least this often */
#define BACKOFF_MIN_MS 1000 /* kube-scheduler's pod back-off: 1 s doubling */
#define BACKOFF_MAX_MS 10000 /* ... to 10 s */
#define BIND_WORKERS 2
#define MAX_REASONS 32
#define SPREAD_MISSING (1LL << 40) /* raw spread of a node without the key */
#define TOPO_KEYS 8 /* topology keys whose node domains are kept */
#define BURST_IDLE_MS 1000 /* a burst of binds ends after this long idle */

/* score weights: kube-scheduler's default profile */
#define W_LEAST 1
#define W_BALANCED 1
#define W_TAINT 3
#define W_NODE_AFFINITY 2
#define W_POD_AFFINITY 2
#define W_SPREAD 2
#define W_SELECTOR_SPREAD 1

struct reason {
	char msg[320];
	int count;
};

/* Label value -> count, cleared by bumping gen. */
struct strtab {
	struct {
		const char *k;
		int v;
		unsigned gen;
	} *e;
	size_t cap;
	unsigned gen;
};

/* The domain of each node for one topology key, until nodes change. */
struct topo {
	char *key;
	int *dom; /* per node: domain id, -1: no such label or node gone */
	int ndom, nnodes;
	uint64_t gen;
};

/* A Service's selector, for spreading the pods it selects. */
struct svc {
	char *key; /* "ns/name" */
	struct sched_sel sel;
};

/* The Services of one namespace. */
struct svcns {
	struct svc **a;
	int n, cap;
};

struct sched {
	struct berth_api *api;
	struct berth_ctl *m;
	struct berth_informer *pods;
	struct berth_queue *jobs; /* "b|ns/name|uid|node", "u|ns/name" */
	struct sched_cache c;
	int64_t next_resync;
	unsigned rr;
	/* per-decision scratch, sized to the node count */
	int *feasible, *own, *tmp;
	int64_t *raw[6];
	size_t scratch;
	struct strtab tab;
	struct cpod **cand;
	size_t cand_cap;
	struct topo topo[TOPO_KEYS];
	unsigned topo_next;
	int *dsum;
	bool record; /* filters note why a node does not fit */
	struct berth_strmap svcs; /* namespace -> svcns; under the cache lock */
	struct reason reasons[MAX_REASONS];
	int nreasons;
	/* a burst: from the first pod taken off an empty queue to the last
	 * bind, logged when queue and binds are both idle */
	int64_t burst_start;
	atomic_int_fast64_t burst_last;
	atomic_int burst_bound, burst_failed;
};

/* ---- domain counting (topology keys) ---- */

static void tab_reset(struct strtab *t, size_t n)
{
	size_t want = 16;

	while (want < 2 * n)
		want *= 2;
	if (want > t->cap) {
		free(t->e);
		t->e = calloc(want, sizeof(*t->e));
		if (!t->e)
			abort();
		t->cap = want;
		t->gen = 0;
	}
	t->gen++;
}

static int *tab_slot(struct strtab *t, const char *k)
{
	size_t i = berth_str_hash(k) & (t->cap - 1);

	while (t->e[i].gen == t->gen && strcmp(t->e[i].k, k))
		i = (i + 1) & (t->cap - 1);
	if (t->e[i].gen != t->gen) {
		t->e[i].gen = t->gen;
		t->e[i].k = k;
		t->e[i].v = 0;
	}
	return &t->e[i].v;
}

/* The namespaces a selector applies to (nss NULL: every one). */
struct scope {
	const struct sched_sel *sel;
	char *const *nss;
	int nns;
};

static struct scope pterm_scope(const struct sched_pterm *t,
				const struct sched_pod *self)
{
	struct scope sc = { &t->sel, t->ns, t->nns };

	if (t->all_ns)
		sc.nss = NULL;
	else if (!t->nns) {
		sc.nss = (char *const *)&self->ns;
		sc.nns = 1;
	}
	return sc;
}

/*
 * Placed pods that may match sc into s->cand: the pods with the values of
 * the selector's In requirement that has the fewest, in its namespaces.
 * false: no such requirement, every placed pod must be looked at.
 */
static bool candidates(struct sched *s, const struct scope *sc, int *n)
{
	const struct sched_req *best = NULL;
	int best_n = 0, i, j, k;

	if (!sc->nss || sc->sel->none)
		return !sc->sel->none ? false : (*n = 0, true);
	for (i = 0; i < sc->sel->n; i++) {
		const struct sched_req *r = &sc->sel->r[i];
		int cnt = 0;

		if (r->op != OP_IN)
			continue;
		for (j = 0; j < r->nvals; j++)
			for (k = 0; k < sc->nns; k++) {
				struct plist *pl = cache_label_pods(
					&s->c, sc->nss[k], r->key, r->vals[j]);

				cnt += pl ? pl->n : 0;
			}
		if (!best || cnt < best_n) {
			best = r;
			best_n = cnt;
		}
	}
	if (!best)
		return false;
	if ((size_t)best_n > s->cand_cap) {
		s->cand_cap = best_n * 2;
		s->cand = realloc(s->cand, s->cand_cap * sizeof(*s->cand));
		if (!s->cand)
			abort();
	}
	*n = 0;
	for (j = 0; j < best->nvals; j++)
		for (k = 0; k < sc->nns; k++) {
			struct plist *pl = cache_label_pods(
				&s->c, sc->nss[k], best->key, best->vals[j]);

			for (i = 0; pl && i < pl->n; i++)
				s->cand[(*n)++] = pl->a[i];
		}
	return true;
}

static bool in_scope(const struct scope *sc, const struct sched_pod *o)
{
	bool in = !sc->nss;

	for (int i = 0; !in && i < sc->nns; i++)
		in = !strcmp(sc->nss[i], o->ns);
	return in && !o->deleting && sched_sel_match(sc->sel, &o->labels);
}

static const struct topo *topo_get(struct sched *s, const char *key)
{
	struct sched_cache *c = &s->c;
	struct topo *t = NULL;
	int i;

	for (i = 0; i < TOPO_KEYS && !t; i++)
		if (s->topo[i].key && !strcmp(s->topo[i].key, key))
			t = &s->topo[i];
	if (t && t->gen == c->node_gen && t->nnodes == c->nnodes)
		return t;
	if (!t) {
		t = &s->topo[s->topo_next++ % TOPO_KEYS];
		free(t->key);
		t->key = strdup(key);
		if (!t->key)
			abort();
	}
	t->dom = realloc(t->dom, (c->nnodes + 1) * sizeof(int));
	if (!t->dom)
		abort();
	tab_reset(&s->tab, c->nnodes);
	t->ndom = 0;
	for (i = 0; i < c->nnodes; i++) {
		const struct snode *n = &c->nodes[i];
		const char *v = n->present && n->info ?
					sched_label(&n->info->labels, key) :
					NULL;
		int *id;

		t->dom[i] = -1;
		if (!v)
			continue;
		id = tab_slot(&s->tab, v);
		if (!*id)
			*id = ++t->ndom;
		t->dom[i] = *id - 1;
	}
	t->gen = c->node_gen;
	t->nnodes = c->nnodes;
	return t;
}

/* s->tmp[i]: placed pods in scope on node i (self not counted). */
static void node_counts(struct sched *s, const struct sched_pod *self,
			const struct scope *sc)
{
	struct sched_cache *c = &s->c;
	int i, j, n;

	memset(s->tmp, 0, c->nnodes * sizeof(int));
	if (candidates(s, sc, &n)) {
		for (i = 0; i < n; i++)
			if (s->cand[i]->node >= 0 && s->cand[i]->pi != self &&
			    in_scope(sc, s->cand[i]->pi))
				s->tmp[s->cand[i]->node]++;
	} else {
		for (i = 0; i < c->nnodes; i++)
			for (j = 0; j < c->nodes[i].np; j++)
				if (c->nodes[i].pods[j]->pi != self &&
				    in_scope(sc, c->nodes[i].pods[j]->pi))
					s->tmp[i]++;
	}
}

/*
 * out[i]: placed pods in scope in node i's domain of topology key (-1: the
 * node has no such label or is not eligible). Returns the smallest domain
 * count (0 if no domain); *total: all the pods counted.
 */
static int domain_counts(struct sched *s, const struct sched_pod *self,
			 const struct scope *sc, const char *key,
			 const bool *eligible, int *out, int *total)
{
	struct sched_cache *c = &s->c;
	const struct topo *t;
	int i, min = -1;

	node_counts(s, self, sc);
	t = topo_get(s, key);
	for (i = 0; i < t->ndom; i++)
		s->dsum[i] = -1; /* no eligible node */
	*total = 0;
	for (i = 0; i < c->nnodes; i++) {
		int d = t->dom[i];

		if (d < 0 || (eligible && !eligible[i]))
			continue;
		s->dsum[d] = (s->dsum[d] < 0 ? 0 : s->dsum[d]) + s->tmp[i];
		*total += s->tmp[i];
	}
	for (i = 0; i < c->nnodes; i++) {
		int d = t->dom[i];

		out[i] = d < 0 || (eligible && !eligible[i]) ? -1 : s->dsum[d];
	}
	for (i = 0; i < t->ndom; i++)
		if (s->dsum[i] >= 0 && (min < 0 || s->dsum[i] < min))
			min = s->dsum[i];
	return min < 0 ? 0 : min;
}

/* ---- filters ---- */

static void reason_add(struct sched *s, const char *msg)
{
	int i;

	if (!s->record)
		return;
	for (i = 0; i < s->nreasons; i++)
		if (!strcmp(s->reasons[i].msg, msg)) {
			s->reasons[i].count++;
			return;
		}
	if (s->nreasons == MAX_REASONS)
		return;
	snprintf(s->reasons[i].msg, sizeof(s->reasons[i].msg), "%s", msg);
	s->reasons[i].count = 1;
	s->nreasons++;
}

static bool node_affinity_ok(const struct sched_pod *p,
			     const struct sched_node_info *n)
{
	int i;

	for (i = 0; i < p->node_selector.n; i++) {
		const char *v = sched_label(&n->labels, p->node_selector.a[i].k);

		if (!v || strcmp(v, p->node_selector.a[i].v))
			return false;
	}
	if (!p->has_req_affinity)
		return true;
	for (i = 0; i < p->nreq_terms; i++)
		if (sched_nterm_match(&p->req_terms[i], n))
			return true;
	return false;
}

static bool ports_conflict(const struct sched_pod *p, const struct snode *n)
{
	for (int i = 0; i < p->nports; i++)
		for (int j = 0; j < n->np; j++) {
			const struct sched_pod *o = n->pods[j]->pi;

			for (int k = 0; k < o->nports; k++) {
				const struct sched_port *a = &p->ports[i];
				const struct sched_port *b = &o->ports[k];
				bool any = !*a->ip || !*b->ip ||
					   !strcmp(a->ip, "0.0.0.0") ||
					   !strcmp(b->ip, "0.0.0.0");

				if (a->port == b->port && a->proto == b->proto &&
				    (any || !strcmp(a->ip, b->ip)))
					return true;
			}
		}
	return false;
}

/* Per-decision facts about the pod's pod-level constraints. */
struct prefilter {
	int **aff, **anti, **spread; /* per term: domain counts per node */
	int *spread_min;
	bool aff_self; /* no pod matches every affinity term; the pod does */
	bool *forbidden; /* nodes in the domain of an existing anti term */
	bool *eligible;
};

static bool filter(struct sched *s, const struct sched_pod *p, int i,
		   const struct prefilter *pf)
{
	const struct snode *n = &s->c.nodes[i];
	const struct sched_node_info *ni = n->info;
	bool fit = true;
	char buf[320];
	int k;

	if (!ni->ready) {
		reason_add(s, "node(s) were not ready");
		return false;
	}
	if (ni->unschedulable) {
		struct sched_taint t = { "node.kubernetes.io/unschedulable", "",
					 EFF_NOSCHEDULE };

		if (!sched_tolerates(p, &t)) {
			reason_add(s, "node(s) were unschedulable");
			return false;
		}
	}
	if (*p->node_name && strcmp(p->node_name, ni->name)) {
		reason_add(s, "node(s) didn't match the requested node name");
		return false;
	}
	for (k = 0; k < ni->ntaints; k++) {
		const struct sched_taint *t = &ni->taints[k];

		if (t->effect == EFF_PREFER || sched_tolerates(p, t))
			continue;
		if (s->record) {
			snprintf(buf, sizeof(buf),
				 "node(s) had untolerated taint {%s: %s}",
				 t->key, t->value);
			reason_add(s, buf);
		}
		return false;
	}
	if (pf->eligible ? !pf->eligible[i] : !node_affinity_ok(p, ni)) {
		reason_add(s, "node(s) didn't match Pod's node affinity/selector");
		return false;
	}
	if (p->nports && ports_conflict(p, n)) {
		reason_add(s, "node(s) didn't have free ports for the requested pod ports");
		return false;
	}
	if (n->npods + 1 > ni->pods) {
		reason_add(s, "Too many pods");
		fit = false;
	}
	if (p->cpu_m && n->cpu_m + p->cpu_m > ni->cpu_m) {
		reason_add(s, "Insufficient cpu");
		fit = false;
	}
	if (p->mem && n->mem + p->mem > ni->mem) {
		reason_add(s, "Insufficient memory");
		fit = false;
	}
	if (!fit)
		return false;
	for (k = 0; k < p->nspread; k++) {
		const struct sched_spread *c = &p->spread[k];
		int self = sched_sel_match(&c->sel, &p->labels);

		if (!c->hard)
			continue;
		if (pf->spread[k][i] < 0) {
			reason_add(s, "node(s) didn't match pod topology spread constraints (missing required label)");
			return false;
		}
		if (pf->spread[k][i] + self - pf->spread_min[k] > c->max_skew) {
			reason_add(s, "node(s) didn't match pod topology spread constraints");
			return false;
		}
	}
	for (k = 0; k < p->naff; k++)
		if (pf->aff[k][i] < 0 || (!pf->aff[k][i] && !pf->aff_self)) {
			reason_add(s, "node(s) didn't match pod affinity rules");
			return false;
		}
	for (k = 0; k < p->nanti; k++)
		if (pf->anti[k][i] > 0) {
			reason_add(s, "node(s) didn't match pod anti-affinity rules");
			return false;
		}
	if (pf->forbidden && pf->forbidden[i]) {
		reason_add(s, "node(s) didn't satisfy existing pods anti-affinity rules");
		return false;
	}
	return true;
}

/* ---- scores ---- */

static int64_t least_allocated(const struct snode *n, const struct sched_pod *p)
{
	int64_t a = 0, b = 0;
	int64_t cpu = n->score_cpu_m + p->score_cpu_m;
	int64_t mem = n->score_mem + p->score_mem;

	if (n->info->cpu_m > 0 && cpu < n->info->cpu_m)
		a = (n->info->cpu_m - cpu) * 100 / n->info->cpu_m;
	if (n->info->mem > 0 && mem < n->info->mem)
		b = (n->info->mem - mem) * 100 / n->info->mem;
	return (a + b) / 2;
}

static int64_t balanced(const struct snode *n, const struct sched_pod *p)
{
	double c = 1, m = 1, d;

	if (n->info->cpu_m > 0)
		c = (double)(n->score_cpu_m + p->score_cpu_m) / n->info->cpu_m;
	if (n->info->mem > 0)
		m = (double)(n->score_mem + p->score_mem) / n->info->mem;
	c = c > 1 ? 1 : c;
	m = m > 1 ? 1 : m;
	d = c > m ? c - m : m - c;
	return (int64_t)((1 - d / 2) * 100);
}

/* Scale raw[] over the feasible nodes to 0..100; reverse: fewer is better. */
static void normalize(int64_t *raw, const int *feas, int nf, bool reverse,
		      bool minmax)
{
	int64_t lo = INT64_MAX, hi = INT64_MIN;
	int i;

	for (i = 0; i < nf; i++) {
		lo = raw[feas[i]] < lo ? raw[feas[i]] : lo;
		hi = raw[feas[i]] > hi ? raw[feas[i]] : hi;
	}
	if (!minmax)
		lo = 0;
	for (i = 0; i < nf; i++) {
		int64_t *v = &raw[feas[i]];

		if (hi == lo)
			*v = reverse || (minmax && hi) ? 100 : (hi ? 100 : 0);
		else if (reverse)
			*v = (hi - *v) * 100 / (hi - lo);
		else
			*v = (*v - lo) * 100 / (hi - lo);
	}
}

/* ---- one decision ---- */

static void scratch_grow(struct sched *s, size_t n)
{
	if (n <= s->scratch)
		return;
	n = n * 2;
	s->feasible = realloc(s->feasible, n * sizeof(int));
	s->own = realloc(s->own, n * sizeof(int));
	s->tmp = realloc(s->tmp, n * sizeof(int));
	s->dsum = realloc(s->dsum, n * sizeof(int));
	for (int i = 0; i < 6; i++)
		s->raw[i] = realloc(s->raw[i], n * sizeof(int64_t));
	if (!s->feasible || !s->own || !s->tmp || !s->dsum)
		abort();
	s->scratch = n;
}

static int *counts_new(struct sched *s)
{
	int *a = malloc((s->c.nnodes + 1) * sizeof(int));

	if (!a)
		abort();
	return a;
}

static void prefilter(struct sched *s, const struct sched_pod *p,
		      struct prefilter *pf)
{
	struct sched_cache *c = &s->c;
	int k, total, i;

	memset(pf, 0, sizeof(*pf));
	if (p->nspread) {
		pf->eligible = calloc(c->nnodes + 1, sizeof(bool));
		for (i = 0; i < c->nnodes; i++)
			pf->eligible[i] = c->nodes[i].present &&
					  c->nodes[i].info &&
					  node_affinity_ok(p, c->nodes[i].info);
		pf->spread = calloc(p->nspread, sizeof(int *));
		pf->spread_min = calloc(p->nspread, sizeof(int));
		for (k = 0; k < p->nspread; k++) {
			pf->spread[k] = counts_new(s);
			struct scope sc = { &p->spread[k].sel,
					     (char *const *)&p->ns, 1 };

			pf->spread_min[k] = domain_counts(s, p, &sc,
							  p->spread[k].key,
							  pf->eligible,
							  pf->spread[k], &total);
		}
	}
	if (p->naff) {
		bool none = true, self = true;

		pf->aff = calloc(p->naff, sizeof(int *));
		for (k = 0; k < p->naff; k++) {
			struct scope sc = pterm_scope(&p->aff[k], p);

			pf->aff[k] = counts_new(s);
			domain_counts(s, p, &sc, p->aff[k].key, NULL,
				      pf->aff[k], &total);
			none = none && !total;
			self = self && sched_pterm_selects(&p->aff[k], p->ns, p);
		}
		pf->aff_self = none && self;
	}
	if (p->nanti) {
		pf->anti = calloc(p->nanti, sizeof(int *));
		for (k = 0; k < p->nanti; k++) {
			struct scope sc = pterm_scope(&p->anti[k], p);

			pf->anti[k] = counts_new(s);
			domain_counts(s, p, &sc, p->anti[k].key, NULL,
				      pf->anti[k], &total);
		}
	}
	/* existing pods whose anti-affinity selects this pod */
	for (i = 0; i < c->nanti; i++) {
		const struct cpod *e = c->anti[i];

		for (k = 0; k < e->pi->nanti; k++) {
			const struct sched_pterm *t = &e->pi->anti[k];
			const struct topo *tp;
			int d;

			if (!sched_pterm_selects(t, e->pi->ns, p))
				continue;
			tp = topo_get(s, t->key);
			d = tp->dom[e->node];
			if (d < 0)
				continue;
			if (!pf->forbidden)
				pf->forbidden = calloc(c->nnodes + 1,
						       sizeof(bool));
			for (int j = 0; j < c->nnodes; j++)
				pf->forbidden[j] |= tp->dom[j] == d;
		}
	}
}

static void prefilter_free(const struct sched_pod *p, struct prefilter *pf)
{
	for (int k = 0; pf->spread && k < p->nspread; k++)
		free(pf->spread[k]);
	for (int k = 0; pf->aff && k < p->naff; k++)
		free(pf->aff[k]);
	for (int k = 0; pf->anti && k < p->nanti; k++)
		free(pf->anti[k]);
	free(pf->spread);
	free(pf->spread_min);
	free(pf->aff);
	free(pf->anti);
	free(pf->forbidden);
	free(pf->eligible);
}

/* Nodes without a soft constraint's topology key score as the worst. */
static void spread_missing_worst(struct sched *s, int nf)
{
	int64_t worst = 0, *v;
	int f;

	for (f = 0; f < nf; f++) {
		v = &s->raw[4][s->feasible[f]];
		if (*v < SPREAD_MISSING && *v > worst)
			worst = *v;
	}
	for (f = 0; f < nf; f++) {
		v = &s->raw[4][s->feasible[f]];
		if (*v >= SPREAD_MISSING)
			*v = worst + 1;
	}
}

/*
 * Add to s->own the pods on each node selected by the Services that
 * select p (SelectorSpread). false: no Service selects p.
 */
static bool services_counts(struct sched *s, const struct sched_pod *p)
{
	struct svcns *l = berth_strmap_get(&s->svcs, p->ns);
	bool any = false;

	for (int k = 0; l && k < l->n; k++) {
		struct scope sc = { &l->a[k]->sel, (char *const *)&p->ns, 1 };

		if (!sched_sel_match(&l->a[k]->sel, &p->labels))
			continue;
		node_counts(s, p, &sc);
		for (int i = 0; i < s->c.nnodes; i++)
			s->own[i] += s->tmp[i];
		any = true;
	}
	return any;
}

/*
 * Raw preference scores of the feasible nodes into s->raw[]; true if the
 * pod has siblings (owner, Services) to spread from.
 */
static bool score_raw(struct sched *s, const struct sched_pod *p, int nf)
{
	struct sched_cache *c = &s->c;
	struct group *g = cache_group(c, p->owner_uid);
	int *pa[8], npa = 0, *ps[8], nps = 0, k, total, i;
	bool spread_own = g;

	memset(s->own, 0, c->nnodes * sizeof(int));
	for (k = 0; g && k < g->n; k++)
		s->own[g->node[k]] = g->cnt[k];
	if (services_counts(s, p))
		spread_own = true;
	for (k = 0; k < p->npaff + p->npanti && npa < 8; k++) {
		const struct sched_pterm *t =
			k < p->npaff ? &p->paff[k] : &p->panti[k - p->npaff];
		struct scope sc = pterm_scope(t, p);

		pa[npa] = counts_new(s);
		domain_counts(s, p, &sc, t->key, NULL, pa[npa], &total);
		npa++;
	}
	for (k = 0; k < p->nspread && nps < 8; k++) {
		if (p->spread[k].hard)
			continue;
		struct scope sc = { &p->spread[k].sel, (char *const *)&p->ns,
				    1 };

		ps[nps] = counts_new(s);
		domain_counts(s, p, &sc, p->spread[k].key, NULL, ps[nps],
			      &total);
		nps++;
	}
	for (int f = 0; f < nf; f++) {
		const struct snode *n = &c->nodes[s->feasible[f]];
		int64_t taints = 0, naff = 0, paff = 0, spread = 0;

		i = s->feasible[f];
		for (k = 0; k < n->info->ntaints; k++)
			if (n->info->taints[k].effect == EFF_PREFER &&
			    !sched_tolerates(p, &n->info->taints[k]))
				taints++;
		for (k = 0; k < p->npref_terms; k++)
			if (sched_nterm_match(&p->pref_terms[k], n->info))
				naff += p->pref_terms[k].weight;
		for (k = 0; k < npa; k++) {
			int w = k < p->npaff ? p->paff[k].weight :
					       -p->panti[k - p->npaff].weight;

			if (pa[k][i] > 0)
				paff += (int64_t)w * pa[k][i];
		}
		for (k = 0; k < nps; k++)
			spread += ps[k][i] < 0 ? SPREAD_MISSING : ps[k][i];
		s->raw[0][i] = least_allocated(n, p) * W_LEAST +
			       balanced(n, p) * W_BALANCED;
		s->raw[1][i] = taints;
		s->raw[2][i] = naff;
		s->raw[3][i] = paff;
		s->raw[4][i] = spread;
		s->raw[5][i] = s->own[i];
	}
	if (nps)
		spread_missing_worst(s, nf);
	for (k = 0; k < npa; k++)
		free(pa[k]);
	for (k = 0; k < nps; k++)
		free(ps[k]);
	return spread_own;
}

/* The chosen node index, or -1 with s->reasons filled. */
static int decide(struct sched *s, const struct sched_pod *p)
{
	struct sched_cache *c = &s->c;
	struct prefilter pf;
	bool spread_own;
	int nf = 0, i, best_n = 0;
	int64_t best = INT64_MIN;

	scratch_grow(s, c->nnodes + 1);
	s->nreasons = 0;
	s->record = false;
	prefilter(s, p, &pf);
	for (i = 0; i < c->nnodes; i++)
		if (c->nodes[i].present && c->nodes[i].info &&
		    filter(s, p, i, &pf))
			s->feasible[nf++] = i;
	/* no node fits: once more, noting why (the message) */
	for (i = 0, s->record = true; !nf && i < c->nnodes; i++)
		if (c->nodes[i].present && c->nodes[i].info)
			filter(s, p, i, &pf);
	prefilter_free(p, &pf);
	if (nf <= 1)
		return nf ? s->feasible[0] : -1;
	spread_own = score_raw(s, p, nf);
	normalize(s->raw[1], s->feasible, nf, true, false);
	if (p->npref_terms)
		normalize(s->raw[2], s->feasible, nf, false, false);
	if (p->npaff || p->npanti)
		normalize(s->raw[3], s->feasible, nf, false, true);
	if (p->nspread)
		normalize(s->raw[4], s->feasible, nf, true, true);
	if (spread_own)
		normalize(s->raw[5], s->feasible, nf, true, false);
	for (int f = 0; f < nf; f++) {
		int64_t v;

		i = s->feasible[f];
		v = s->raw[0][i] + W_TAINT * s->raw[1][i] +
		    W_NODE_AFFINITY * s->raw[2][i] +
		    W_POD_AFFINITY * s->raw[3][i] + W_SPREAD * s->raw[4][i] +
		    W_SELECTOR_SPREAD * s->raw[5][i];
		if (v > best) {
			best = v;
			best_n = 0;
		}
		if (v == best)
			s->tmp[best_n++] = i;
	}
	return s->tmp[s->rr++ % best_n];
}

static int reason_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

/* kube-scheduler's "0/3 nodes are available: 1 ..., 2 Insufficient cpu." */
static char *unschedulable_msg(struct sched *s)
{
	char items[MAX_REASONS][340], *msg;
	size_t len = 64, off;
	int i, all = 0;

	for (i = 0; i < s->c.nnodes; i++)
		all += s->c.nodes[i].present && s->c.nodes[i].info;
	for (i = 0; i < s->nreasons; i++) {
		snprintf(items[i], sizeof(items[i]), "%d %s",
			 s->reasons[i].count, s->reasons[i].msg);
		len += strlen(items[i]) + 2;
	}
	qsort(items, s->nreasons, sizeof(items[0]), reason_cmp);
	msg = malloc(len);
	if (!msg)
		abort();
	off = snprintf(msg, len, "0/%d nodes are available", all);
	for (i = 0; i < s->nreasons; i++)
		off += snprintf(msg + off, len - off, "%s%s", i ? ", " : ": ",
				items[i]);
	snprintf(msg + off, len - off, ".");
	return msg;
}

/* ---- the queue ---- */

static int64_t backoff_ms(int attempts)
{
	int64_t d = BACKOFF_MIN_MS;

	while (--attempts > 0 && d < BACKOFF_MAX_MS)
		d *= 2;
	return d < BACKOFF_MAX_MS ? d : BACKOFF_MAX_MS;
}

/* A cluster change: unschedulable pods try again (after their back-off). */
static void retry_unschedulable(struct sched *s)
{
	struct sched_cache *c = &s->c;
	struct cpod *p;
	int64_t now = berth_now_ms();

	while ((p = c->q[Q_UNSCHED].head))
		q_push(c, p, p->backoff_until > now ? Q_BACKOFF : Q_ACTIVE);
}

static void schedule_one(struct sched *s, struct cpod *p)
{
	char job[640];
	int n = decide(s, p->pi);

	if (n >= 0) {
		cache_node_place(&s->c, p, n);
		p->assumed = true;
		snprintf(job, sizeof(job), "b|%s|%s|%s", p->key, p->pi->uid,
			 s->c.nodes[n].info->name);
		berth_queue_add(s->jobs, job);
		return;
	}
	p->attempts++;
	p->backoff_until = berth_now_ms() + backoff_ms(p->attempts);
	free(p->msg);
	p->msg = unschedulable_msg(s);
	atomic_fetch_add(&s->burst_failed, 1);
	q_push(&s->c, p, Q_UNSCHED);
	snprintf(job, sizeof(job), "u|%s", p->key);
	berth_queue_add(s->jobs, job);
}

static void burst_end(struct sched *s)
{
	int64_t ms = atomic_load(&s->burst_last) - s->burst_start;
	int n = atomic_exchange(&s->burst_bound, 0);
	int failed = atomic_exchange(&s->burst_failed, 0);

	if (n > 0)
		pr_info("scheduler: bound %d pods in %lld ms (%.0f pods/s), %d unschedulable",
			n, (long long)ms, ms > 0 ? n * 1000.0 / ms : 0.0,
			failed);
	s->burst_start = 0;
}

static void sched_loop(void *ctx)
{
	struct sched *s = ctx;
	struct sched_cache *c = &s->c;

	pthread_mutex_lock(&c->lock);
	s->next_resync = berth_now_ms() + RESYNC_MS;
	/* a server that loses the controllers' Lease stops deciding */
	while (!berth_ctl_stopping(s->m) && berth_ctl_leading(s->m)) {
		int64_t now = berth_now_ms(), wake = now + 200;
		struct cpod *p, *nx;
		struct timespec ts;

		if (now >= s->next_resync) {
			retry_unschedulable(s);
			s->next_resync = now + RESYNC_MS;
		}
		for (p = c->q[Q_BACKOFF].head; p; p = nx) {
			nx = p->next;
			if (p->backoff_until <= now)
				q_push(c, p, Q_ACTIVE);
			else if (p->backoff_until < wake)
				wake = p->backoff_until;
		}
		p = c->q[Q_ACTIVE].head;
		if (p) {
			if (!s->burst_start)
				s->burst_start = now;
			q_remove(c, p);
			schedule_one(s, p);
			/* let waiting informer handlers in between pods */
			pthread_mutex_unlock(&c->lock);
			for (int i = 0; i < 1000 && atomic_load(&c->waiters); i++)
				sched_yield();
			pthread_mutex_lock(&c->lock);
			continue;
		}
		if (s->burst_start && !berth_queue_len(s->jobs) &&
		    now - atomic_load(&s->burst_last) >= BURST_IDLE_MS)
			burst_end(s);
		berth_deadline(&ts, wake - now);
		pthread_cond_timedwait(&c->cond, &c->lock, &ts);
	}
	pthread_mutex_unlock(&c->lock);
}

/* ---- informer handlers ---- */

static void pod_drop(struct sched *s, struct cpod *p)
{
	cache_node_unplace(&s->c, p);
	q_remove(&s->c, p);
	berth_strmap_del(&s->c.pods, p->key);
	sched_pod_free(p->pi);
	free(p->key);
	free(p->msg);
	free(p->lslots);
	free(p);
}

/* The pod's new state from the informer (obj NULL: deleted). */
static void pod_seen(struct sched *s, struct json_object *obj,
		     bool spec_changed)
{
	struct sched_cache *c = &s->c;
	struct sched_pod *pi = obj ? sched_pod_parse(obj) : NULL;
	char key[320];
	struct cpod *p;

	berth_obj_key(obj, key, sizeof(key));
	cache_lock(c);
	p = berth_strmap_get(&c->pods, key);
	if (!pi || pi->terminal ||
	    (!*pi->node_name && (!pi->ours || pi->deleting))) {
		if (p) {
			if (p->node >= 0)
				retry_unschedulable(s);
			pod_drop(s, p);
		}
		goto out;
	}
	if (p && strcmp(p->pi->uid, pi->uid)) { /* recreated meanwhile */
		pod_drop(s, p);
		p = NULL;
	}
	if (!p) {
		p = calloc(1, sizeof(*p));
		if (!p || !(p->key = strdup(key)))
			abort();
		p->node = -1;
		p->anti_slot = -1;
		p->list = Q_NONE;
		berth_strmap_put(&c->pods, key, p);
	} else if (!*pi->node_name && p->assumed) {
		goto out; /* our bind is on its way */
	}
	if (*pi->node_name) {
		q_remove(c, p);
		cache_node_unplace(c, p);
		sched_pod_free(p->pi);
		p->pi = pi;
		pi = NULL;
		cache_node_place(c, p, cache_node_index(c, p->pi->node_name));
		goto out;
	}
	sched_pod_free(p->pi);
	p->pi = pi;
	pi = NULL;
	if (p->list == Q_NONE || (spec_changed && p->list == Q_UNSCHED))
		q_push(c, p, Q_ACTIVE);
out:
	cache_unlock(c);
	sched_pod_free(pi);
}

static void pod_add(void *ctx, struct json_object *obj)
{
	pod_seen(ctx, obj, true);
}

static void pod_update(void *ctx, struct json_object *old,
		       struct json_object *obj)
{
	pod_seen(ctx, obj,
		 !berth_json_equal(berth_json_path(old, "spec"),
				   berth_json_path(obj, "spec")));
}

static void pod_del(void *ctx, struct json_object *obj)
{
	struct sched *s = ctx;
	struct cpod *p;
	char key[320];

	berth_obj_key(obj, key, sizeof(key));
	cache_lock(&s->c);
	p = berth_strmap_get(&s->c.pods, key);
	if (p) {
		if (p->node >= 0)
			retry_unschedulable(s);
		pod_drop(s, p);
	}
	cache_unlock(&s->c);
}

static void node_seen(void *ctx, struct json_object *obj)
{
	struct sched *s = ctx;
	struct sched_node_info *ni = sched_node_parse(obj);
	struct snode *n;
	int i;

	if (!ni)
		return;
	cache_lock(&s->c);
	i = cache_node_index(&s->c, ni->name); /* may move nodes */
	n = &s->c.nodes[i];
	if (!n->present || !n->info || !sched_node_info_same(n->info, ni)) {
		s->c.node_gen++;
		retry_unschedulable(s);
	}
	sched_node_info_free(n->info);
	n->info = ni;
	n->present = true;
	cache_unlock(&s->c);
}

static void node_update(void *ctx, struct json_object *old,
			struct json_object *obj)
{
	(void)old;
	node_seen(ctx, obj);
}

static void node_del(void *ctx, struct json_object *obj)
{
	struct sched *s = ctx;
	const char *name = berth_json_path_str(obj, "metadata.name");
	intptr_t i;

	cache_lock(&s->c);
	i = name ? (intptr_t)berth_strmap_get(&s->c.node_idx, name) : 0;
	if (i) {
		s->c.nodes[i - 1].present = false;
		s->c.node_gen++;
	}
	cache_unlock(&s->c);
}

static void svc_remove(struct sched *s, const char *ns, const char *key)
{
	struct svcns *l = berth_strmap_get(&s->svcs, ns);

	for (int i = 0; l && i < l->n; i++) {
		if (strcmp(l->a[i]->key, key))
			continue;
		sched_sel_free(&l->a[i]->sel);
		free(l->a[i]->key);
		free(l->a[i]);
		l->a[i] = l->a[--l->n];
		break;
	}
}

static void svc_seen(void *ctx, struct json_object *obj)
{
	struct sched *s = ctx;
	const char *ns = berth_json_path_str(obj, "metadata.namespace");
	struct json_object *sel = berth_json_path(obj, "spec.selector");
	struct svcns *l;
	struct svc *v;
	char key[320];

	if (!ns)
		return;
	berth_obj_key(obj, key, sizeof(key));
	cache_lock(&s->c);
	svc_remove(s, ns, key);
	v = calloc(1, sizeof(*v));
	if (!v || !sched_sel_from_map(sel, &v->sel)) {
		free(v); /* no selector: it selects no pod */
		goto out;
	}
	l = berth_strmap_get(&s->svcs, ns);
	if (!l) {
		if (!(l = calloc(1, sizeof(*l))))
			abort();
		berth_strmap_put(&s->svcs, ns, l);
	}
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 4;
		l->a = realloc(l->a, l->cap * sizeof(*l->a));
		if (!l->a)
			abort();
	}
	if (!(v->key = strdup(key)))
		abort();
	l->a[l->n++] = v;
out:
	cache_unlock(&s->c);
}

static void svc_update(void *ctx, struct json_object *old,
		       struct json_object *obj)
{
	(void)old;
	svc_seen(ctx, obj);
}

static void svc_del(void *ctx, struct json_object *obj)
{
	struct sched *s = ctx;
	const char *ns = berth_json_path_str(obj, "metadata.namespace");
	char key[320];

	berth_obj_key(obj, key, sizeof(key));
	cache_lock(&s->c);
	if (ns)
		svc_remove(s, ns, key);
	cache_unlock(&s->c);
}

/* ---- binding and status (worker threads) ---- */

static void bind_failed(struct sched *s, const char *key, const char *uid,
			const char *node, int code)
{
	struct cpod *p;

	pr_warn("scheduler: bind %s to %s: HTTP %d", key, node, code);
	cache_lock(&s->c);
	p = berth_strmap_get(&s->c.pods, key);
	if (p && p->assumed && !strcmp(p->pi->uid, uid) &&
	    !strcmp(p->pi->node_name, "")) {
		cache_node_unplace(&s->c, p); /* forget the assumption */
		p->attempts++;
		p->backoff_until = berth_now_ms() + backoff_ms(p->attempts);
		q_push(&s->c, p, Q_BACKOFF);
		pthread_cond_signal(&s->c.cond);
	}
	cache_unlock(&s->c);
}

static int do_bind(struct sched *s, char *key)
{
	char *uid = strchr(key, '|'), *node, *name, path[512];
	struct json_object *b, *md, *t;
	int code;

	if (!uid || !(node = strchr(uid + 1, '|')))
		return 0;
	*uid++ = 0;
	*node++ = 0;
	name = strchr(key, '/');
	if (!name)
		return 0;
	*name = 0;
	berth_client_path(berth_res("", "pods"), key, name + 1, "binding", path,
			  sizeof(path));
	b = json_object_new_object();
	berth_json_set_str(b, "apiVersion", "v1");
	berth_json_set_str(b, "kind", "Binding");
	md = berth_json_obj(b, "metadata");
	berth_json_set_str(md, "name", name + 1);
	berth_json_set_str(md, "namespace", key);
	berth_json_set_str(md, "uid", uid);
	t = berth_json_obj(b, "target");
	berth_json_set_str(t, "apiVersion", "v1");
	berth_json_set_str(t, "kind", "Node");
	berth_json_set_str(t, "name", node);
	code = berth_client_request(s->api, "POST", path, NULL,
				    "application/json", b, NULL);
	json_object_put(b);
	*name = '/';
	if (code != 201) {
		bind_failed(s, key, uid, node, code);
		return 0;
	}
	atomic_store(&s->burst_last, berth_now_ms());
	atomic_fetch_add(&s->burst_bound, 1);
	return 0;
}

static int do_unschedulable(struct sched *s, const char *key)
{
	struct json_object *pod = berth_informer_get(s->pods, key), *st;
	const char *nn;
	char *msg = NULL;
	struct cpod *p;
	int code;

	if (!pod)
		return 0;
	cache_lock(&s->c);
	p = berth_strmap_get(&s->c.pods, key);
	if (p && p->msg && p->node < 0 &&
	    !strcmp(p->pi->uid, berth_json_path_str(pod, "metadata.uid") ?: ""))
		msg = strdup(p->msg);
	cache_unlock(&s->c);
	nn = berth_json_path_str(pod, "spec.nodeName");
	if (!msg || (nn && *nn))
		goto out;
	st = berth_json_obj(pod, "status");
	if (berth_set_condition(st, "PodScheduled", "False", "Unschedulable",
				msg)) {
		code = berth_client_update(
			s->api, berth_res("", "pods"),
			berth_json_path_str(pod, "metadata.namespace"),
			berth_json_path_str(pod, "metadata.name"), "status",
			pod, NULL);
		if (code != 200 && code != 409 && code != 404)
			pr_warn("scheduler: status of unschedulable pod %s: HTTP %d",
				key, code);
	}
	berth_event_emit(s->api, SCHEDULER_NAME, pod, "Warning",
			 "FailedScheduling", "%s", msg);
out:
	free(msg);
	json_object_put(pod);
	return 0;
}

static int job_sync(void *ctx, const char *job)
{
	char buf[640];

	snprintf(buf, sizeof(buf), "%s", job + 2);
	return job[0] == 'b' ? do_bind(ctx, buf) : do_unschedulable(ctx, buf);
}

/* ---- the controller ---- */

static int sched_init(struct berth_ctl *m, void **state)
{
	struct sched *s = calloc(1, sizeof(*s));
	struct berth_informer *nodes;
	int err;

	if (!s)
		return -ENOMEM;
	s->m = m;
	s->api = berth_ctl_api(m);
	cache_init(&s->c);
	s->jobs = berth_queue_new("scheduler");
	s->pods = berth_ctl_informer(m, berth_res("", "pods"));
	nodes = berth_ctl_informer(m, berth_res("", "nodes"));
	berth_informer_add_handler(
		s->pods, &(struct berth_informer_handler){ .add = pod_add,
							   .update = pod_update,
							   .del = pod_del,
							   .ctx = s });
	berth_informer_add_handler(
		nodes, &(struct berth_informer_handler){ .add = node_seen,
							 .update = node_update,
							 .del = node_del,
							 .ctx = s });
	berth_informer_add_handler(
		berth_ctl_informer(m, berth_res("", "services")),
		&(struct berth_informer_handler){ .add = svc_seen,
						  .update = svc_update,
						  .del = svc_del,
						  .ctx = s });
	*state = s;
	err = berth_ctl_workers(m, "scheduler-bind", s->jobs, BIND_WORKERS,
				job_sync, s);
	return err ? err : berth_ctl_every(m, "scheduler", 1000, sched_loop, s);
}

static void sched_stop(void *state)
{
	struct sched *s = state;

	cache_free(&s->c);
	free(s->feasible);
	free(s->own);
	free(s->tmp);
	for (int i = 0; i < 6; i++)
		free(s->raw[i]);
	free(s->tab.e);
	free(s->cand);
	free(s->dsum);
	for (size_t i = 0; i < s->svcs.nb; i++)
		for (struct berth_strmap_ent *e = s->svcs.b[i]; e; e = e->next) {
			struct svcns *l = e->val;

			while (l->n)
				svc_remove(s, e->key, l->a[0]->key);
			free(l->a);
			free(l);
		}
	berth_strmap_free(&s->svcs);
	for (int i = 0; i < TOPO_KEYS; i++) {
		free(s->topo[i].key);
		free(s->topo[i].dom);
	}
	free(s);
}

BERTH_CONTROLLER(scheduler, .name = "scheduler", .init = sched_init,
		 .stop = sched_stop);
