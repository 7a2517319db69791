// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Policy, endpoint flags and identity ipcache entries into the maps: see policysync.h. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <berth/abi/policy.h>
#include <berth/abi/route.h>
#include <berth/log.h>

#include "policysync.h"

#define MAX_SCAN (1u << 20) /* bound on a walk over a map */

/* The keys a map holds (bounded walk); *out malloc'ed. */
static int map_keys(struct berth_map *m, void **out, size_t *n)
{
	size_t ks = m->key_size, k = 0, cap = 0;
	char *keys = NULL, *prev = NULL;
	char cur[64], next[64];
	int err;

	if (ks > sizeof(cur))
		return -EINVAL;
	while (k < MAX_SCAN && !(err = m->next_key(m, prev, next))) {
		if (k == cap) {
			char *nk;

			cap = cap ? 2 * cap : 256;
			nk = realloc(keys, cap * ks);
			if (!nk) {
				free(keys);
				return -ENOMEM;
			}
			keys = nk;
		}
		memcpy(keys + k * ks, next, ks);
		memcpy(cur, next, ks);
		prev = cur;
		k++;
	}
	if (err && err != -ENOENT) {
		free(keys);
		return err;
	}
	*out = keys;
	*n = k;
	return 0;
}

static int cmp_ipc(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct berth_ipcache_key));
}

static int cmp_pkey(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct berth_policy_key));
}

int berth_policy_ipcache_want(const struct berth_idtable *ids,
			      const struct berth_policy_result *r,
			      const struct berth_node_route *nodes,
			      size_t nnodes, const char *self,
			      struct berth_ipcache_entry **out, size_t *nout)
{
	struct berth_ipcache_entry *pods, *all;
	size_t npods, n;
	int err =
		berth_identity_ipcache(ids, nodes, nnodes, self, &pods, &npods);

	if (err)
		return err;
	all = realloc(pods, (npods + r->ncidrs + 1) * sizeof(*all));
	if (!all) {
		free(pods);
		return -ENOMEM;
	}
	for (size_t i = 0; i < npods; i++)
		all[i].val.flags |= BERTH_IPCACHE_F_IDENTITY;
	n = npods;
	for (size_t i = 0; i < r->ncidrs; i++) {
		/* a /32 ipBlock of a pod's address: the pod's entry stands */
		struct berth_ipcache_key k = { .prefixlen = r->cidrs[i].prefix,
					       .ip = r->cidrs[i].net };

		if (k.prefixlen == 32 &&
		    bsearch(&k, all, npods, sizeof(*all), cmp_ipc))
			continue;
		all[n++] = (struct berth_ipcache_entry){
			.key = k,
			.val = { .identity = r->cidrs[i].id,
				 .flags = BERTH_IPCACHE_F_IDENTITY },
		};
	}
	if (n)
		qsort(all, n, sizeof(*all), cmp_ipc);
	*out = all;
	*nout = n;
	return 0;
}

/* ---- steps ---- */

static void keep_first(int *ret, int err)
{
	if (err && !*ret)
		*ret = err;
}

static int cmp_hkey(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct berth_policy_hkey));
}

/* the maps' part; the compile cache stays */
static void shadow_maps_free(struct berth_policy_shadow *s)
{
	free(s->h);
	free(s->rk);
	free(s->ipc);
	s->h = NULL;
	s->rk = NULL;
	s->ipc = NULL;
	s->nh = s->nr = s->nipc = 0;
	s->valid = false;
}

void berth_policy_shadow_free(struct berth_policy_shadow *s)
{
	shadow_maps_free(s);
	berth_policy_cache_free(&s->cache);
}

/* Where entry k of the compiler goes: *hk (and head bit *bit) or a range. */
static bool layout_one(const struct berth_policy_key *k,
		       struct berth_policy_hkey *hk, uint32_t *bit)
{
	int i = berth_policy_proto_idx(k->proto);

	*hk = (struct berth_policy_hkey){ .ep_ip = k->ep_ip,
					  .identity = ntohl(k->identity),
					  .dir = k->dir };
	if (k->prefixlen <= BERTH_POLICY_PREFIX_ANY_PROTO) {
		*bit = BERTH_POLICY_F_ALLOW;
		return true;
	}
	if (i < 0) { /* the compiler makes none: nothing could match it */
		*bit = 0;
		return true;
	}
	if (k->prefixlen <= BERTH_POLICY_PREFIX_ANY_PORT) {
		*bit = BERTH_POLICY_F_ANY_PORT(i);
		return true;
	}
	if (k->prefixlen >= BERTH_POLICY_PREFIX_FULL) {
		*bit = BERTH_POLICY_F_PORTS(i);
		return true;
	}
	*bit = BERTH_POLICY_F_RANGES(i);
	return false;
}

int berth_policy_layout(const struct berth_policy_result *r,
			struct berth_policy_hentry **h, size_t *nh,
			struct berth_policy_key **rk, size_t *nr)
{
	struct berth_policy_hentry *e = malloc((2 * r->n + 1) * sizeof(*e));
	struct berth_policy_key *rg = malloc((r->n + 1) * sizeof(*rg));
	size_t n = 0, m = 0, out = 0;

	if (!e || !rg) {
		free(e);
		free(rg);
		return -ENOMEM;
	}
	for (size_t i = 0; i < r->n; i++) {
		const struct berth_policy_key *k = &r->entries[i].key;
		struct berth_policy_hkey hk;
		uint32_t bit;

		if (!layout_one(k, &hk, &bit))
			rg[m++] = *k;
		if (!bit)
			continue;
		e[n++] =
			(struct berth_policy_hentry){ .key = hk,
						      .val = { .flags = bit } };
		if (bit & (BERTH_POLICY_F_PORTS(0) | BERTH_POLICY_F_PORTS(1) |
			   BERTH_POLICY_F_PORTS(2))) {
			hk.proto = k->proto;
			hk.port = k->port;
			e[n++] = (struct berth_policy_hentry){
				.key = hk,
				.val = { .flags = BERTH_POLICY_F_ALLOW }
			};
		}
	}
	if (n)
		qsort(e, n, sizeof(*e), cmp_hkey);
	/* one entry a key: a head's flags are the union of its allows */
	for (size_t i = 0; i < n; i++) {
		if (out && !cmp_hkey(&e[out - 1].key, &e[i].key))
			e[out - 1].val.flags |= e[i].val.flags;
		else
			e[out++] = e[i];
	}
	if (m)
		qsort(rg, m, sizeof(*rg), cmp_pkey);
	*h = e;
	*nh = out;
	*rk = rg;
	*nr = m;
	return 0;
}

/* The hash's entries (keys and values) through the syscall; sorted. */
static int hash_read(struct berth_map *m, struct berth_policy_hentry **out,
		     size_t *nout)
{
	struct berth_policy_hkey *keys = NULL;
	struct berth_policy_hentry *e;
	size_t n = 0, k = 0;
	int err = map_keys(m, (void **)&keys, &n);

	if (err)
		return err;
	e = malloc((n + 1) * sizeof(*e));
	if (!e) {
		free(keys);
		return -ENOMEM;
	}
	for (size_t i = 0; i < n; i++) {
		e[k].key = keys[i];
		if (!m->lookup(m, &keys[i], &e[k].val))
			k++;
	}
	free(keys);
	if (k)
		qsort(e, k, sizeof(*e), cmp_hkey);
	*out = e;
	*nout = k;
	return 0;
}

/* What the policy maps hold: the shadow if trusted, else read. */
struct policy_have {
	struct berth_policy_hentry *h;
	size_t nh;
	struct berth_policy_key *rk;
	size_t nr;
	bool owned; /* read here, freed after */
};

static int have_get(const struct berth_policy_maps *m, struct policy_have *hv)
{
	int err = 0;

	memset(hv, 0, sizeof(*hv));
	if (m->shadow && m->shadow->valid) {
		hv->h = m->shadow->h;
		hv->nh = m->shadow->nh;
		hv->rk = m->shadow->rk;
		hv->nr = m->shadow->nr;
		return 0;
	}
	hv->owned = true;
	err = hash_read(m->policy, &hv->h, &hv->nh);
	if (!err && m->policy_ranges) {
		err = map_keys(m->policy_ranges, (void **)&hv->rk, &hv->nr);
		if (!err && hv->nr)
			qsort(hv->rk, hv->nr, sizeof(*hv->rk), cmp_pkey);
	}
	return err;
}

static void have_free(struct policy_have *hv)
{
	if (hv->owned) {
		free(hv->h);
		free(hv->rk);
	}
}

/* the wanted layout of r */
struct policy_want {
	struct berth_policy_hentry *h;
	size_t nh;
	struct berth_policy_key *rk;
	size_t nr;
};

static int write_counted(struct berth_map *m, const void *k, const void *v,
			 struct berth_policysync_stats *st)
{
	int err = m->update(m, k, v);

	if (err)
		pr_debug("policy map %s: write: %s", m->name, strerror(-err));
	else
		st->policy_added++;
	return err;
}

/*
 * Step 1: range and port allows that are missing, then heads (a head
 * both hold gets the union of its old and new flags).
 */
static int policy_add(const struct berth_policy_maps *m,
		      const struct policy_want *w, const struct policy_have *hv,
		      struct berth_policysync_stats *st)
{
	struct berth_policy_val allow = { .flags = BERTH_POLICY_F_ALLOW };
	int ret = 0;

	for (size_t i = 0; m->policy_ranges && i < w->nr; i++)
		if (!hv->nr || !bsearch(&w->rk[i], hv->rk, hv->nr,
					sizeof(*hv->rk), cmp_pkey))
			keep_first(&ret, write_counted(m->policy_ranges,
						       &w->rk[i], &allow, st));
	for (int heads = 0; heads < 2; heads++) {
		for (size_t i = 0; i < w->nh; i++) {
			const struct berth_policy_hentry *e = &w->h[i], *o;
			struct berth_policy_val v = e->val;

			if ((e->key.proto == 0) != heads)
				continue;
			o = hv->nh ? bsearch(&e->key, hv->h, hv->nh,
					     sizeof(*hv->h), cmp_hkey) :
				     NULL;
			if (o)
				v.flags |= o->val.flags;
			if (o && !memcmp(&o->val, &v, sizeof(v)))
				continue;
			keep_first(&ret,
				   write_counted(m->policy, &e->key, &v, st));
		}
	}
	return ret;
}

static int delete_counted(struct berth_map *m, const void *k,
			  struct berth_policysync_stats *st)
{
	int err = m->delete (m, k);

	if (!err)
		st->policy_deleted++;
	return err == -ENOENT ? 0 : err;
}

/* Step 6: heads to their new flags, then what the new policy lacks. */
static int policy_del(const struct berth_policy_maps *m,
		      const struct policy_want *w, const struct policy_have *hv,
		      struct berth_policysync_stats *st)
{
	int ret = 0;

	for (size_t i = 0; i < w->nh; i++) {
		const struct berth_policy_hentry *e = &w->h[i], *o;

		if (e->key.proto || !hv->nh)
			continue;
		o = bsearch(&e->key, hv->h, hv->nh, sizeof(*hv->h), cmp_hkey);
		if (o && memcmp(&o->val, &e->val, sizeof(e->val)) &&
		    (o->val.flags & ~e->val.flags))
			keep_first(&ret, write_counted(m->policy, &e->key,
						       &e->val, st));
	}
	for (size_t i = 0; i < hv->nh; i++)
		if (!w->nh || !bsearch(&hv->h[i].key, w->h, w->nh,
				       sizeof(*w->h), cmp_hkey))
			keep_first(&ret, delete_counted(m->policy,
							&hv->h[i].key, st));
	for (size_t i = 0; m->policy_ranges && i < hv->nr; i++)
		if (!w->nr || !bsearch(&hv->rk[i], w->rk, w->nr, sizeof(*w->rk),
				       cmp_pkey))
			keep_first(&ret, delete_counted(m->policy_ranges,
							&hv->rk[i], st));
	return ret;
}

/* as r->eps is sorted: by address, in host order */
static int cmp_ep_ip(const void *a, const void *b)
{
	uint32_t x = ntohl(((const struct berth_policy_ep *)a)->ip);
	uint32_t y = ntohl(((const struct berth_policy_ep *)b)->ip);

	return (x > y) - (x < y);
}

static uint32_t want_flags(const struct berth_policy_result *r, uint32_t ip)
{
	struct berth_policy_ep k = { .ip = ip }, *e = NULL;

	if (r->neps)
		e = bsearch(&k, r->eps, r->neps, sizeof(k), cmp_ep_ip);
	return e ? e->flags : 0;
}

/*
 * Endpoint values: @on writes identities and added flags (keeping the
 * ones still to be removed), !@on the final flags.
 */
static int eps_write(struct berth_map *m, const struct berth_policy_result *r,
		     const struct berth_idtable *ids, const uint32_t *ips,
		     size_t n, bool on, uint32_t *left,
		     struct berth_policysync_stats *st)
{
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		const struct berth_ident_pod *p =
			berth_identity_pod(ids, ips[i]);
		uint32_t want = want_flags(r, ips[i]);
		struct berth_endpoint_info v, nv;
		int err;

		/* left[i]: the flags @on left; the final pass reads again
		 * only where it has bits to take away */
		if (!on && left[i] == want)
			continue;
		if (m->lookup(m, &ips[i], &v))
			continue; /* removed meanwhile */
		if (on)
			left[i] = v.flags | want;
		nv = v;
		nv.flags = on ? v.flags | want : want;
		if (on)
			nv.identity = p ? p->id : BERTH_ID_UNKNOWN;
		if (!memcmp(&nv, &v, sizeof(v)))
			continue;
		err = m->update(m, &ips[i], &nv);
		if (!err)
			st->eps_written++;
		keep_first(&ret, err);
	}
	return ret;
}

static int ipc_add(struct berth_map *m, const struct berth_ipcache_entry *want,
		   size_t n, const struct berth_ipcache_key *have, size_t nhave,
		   const struct berth_ipcache_entry *wrote, size_t nwrote,
		   struct berth_policysync_stats *st)
{
	struct berth_ipcache_val val;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		bool held = nhave && bsearch(&want[i].key, have, nhave,
					     sizeof(*have), cmp_ipc);
		const struct berth_ipcache_entry *o = NULL;
		int err;

		if (held && nwrote)
			o = bsearch(&want[i].key, wrote, nwrote, sizeof(*wrote),
				    cmp_ipc);
		/* there, and wanted as last time: written then (or routing's) */
		if (o && !memcmp(&o->val, &want[i].val, sizeof(o->val)))
			continue;
		if (held && !m->lookup(m, &want[i].key, &val)) {
			if (!memcmp(&val, &want[i].val, sizeof(val)))
				continue;
			if (!(val.flags & BERTH_IPCACHE_F_IDENTITY))
				continue; /* the node sync's: routing wins */
		}
		err = m->update(m, &want[i].key, &want[i].val);
		if (!err)
			st->ipcache_written++;
		keep_first(&ret, err);
	}
	return ret;
}

static int ipc_del(struct berth_map *m, const struct berth_ipcache_entry *want,
		   size_t n, const struct berth_ipcache_key *have, size_t nhave,
		   struct berth_policysync_stats *st)
{
	struct berth_ipcache_val val;
	int ret = 0;

	for (size_t i = 0; i < nhave; i++) {
		int err;

		if (n && bsearch(&have[i], want, n, sizeof(*want), cmp_ipc))
			continue;
		if (m->lookup(m, &have[i], &val) ||
		    !(val.flags & BERTH_IPCACHE_F_IDENTITY))
			continue;
		err = m->delete (m, &have[i]);
		if (!err)
			st->ipcache_deleted++;
		keep_first(&ret, err == -ENOENT ? 0 : err);
	}
	return ret;
}

/*
 * Step 1 failed (a full map): put back what it changed, so the maps hold
 * the old policy exactly (heads first, then the entries they no longer
 * point to) and the next try has the room the partial write took.
 */
static void policy_undo(const struct berth_policy_maps *m,
			const struct policy_want *w,
			const struct policy_have *hv)
{
	struct berth_policysync_stats ignore = { 0 };

	for (size_t i = 0; i < w->nh; i++) {
		const struct berth_policy_hentry *e = &w->h[i], *o;

		if (e->key.proto)
			continue;
		o = hv->nh ? bsearch(&e->key, hv->h, hv->nh, sizeof(*hv->h),
				     cmp_hkey) :
			     NULL;
		if (o)
			write_counted(m->policy, &o->key, &o->val, &ignore);
		else
			delete_counted(m->policy, &e->key, &ignore);
	}
	for (size_t i = 0; i < w->nh; i++)
		if (w->h[i].key.proto &&
		    (!hv->nh || !bsearch(&w->h[i].key, hv->h, hv->nh,
					 sizeof(*hv->h), cmp_hkey)))
			delete_counted(m->policy, &w->h[i].key, &ignore);
	for (size_t i = 0; m->policy_ranges && i < w->nr; i++)
		if (!hv->nr || !bsearch(&w->rk[i], hv->rk, hv->nr,
					sizeof(*hv->rk), cmp_pkey))
			delete_counted(m->policy_ranges, &w->rk[i], &ignore);
}

/* After a sync: the shadow is what the maps now hold, or untrusted. */
static void shadow_set(struct berth_policy_shadow *s, struct policy_want *w,
		       const struct berth_ipcache_entry *ipc, size_t nipc,
		       bool ok)
{
	shadow_maps_free(s);
	if (!ok)
		return;
	s->ipc = malloc((nipc + 1) * sizeof(*ipc));
	if (!s->ipc)
		return; /* untrusted: the next sync reads the maps */
	if (nipc)
		memcpy(s->ipc, ipc, nipc * sizeof(*ipc));
	s->nipc = nipc;
	s->h = w->h;
	s->nh = w->nh;
	s->rk = w->rk;
	s->nr = w->nr;
	s->valid = true;
	memset(w, 0, sizeof(*w));
}

static bool is_full(int err)
{
	return err == -E2BIG || err == -ENOSPC || err == -ENOMEM;
}

int berth_policy_sync(const struct berth_policy_maps *m,
		      const struct berth_policy_result *r,
		      const struct berth_idtable *ids,
		      const struct berth_ipcache_entry *ipc, size_t nipc,
		      struct berth_policysync_stats *st)
{
	struct policy_have hv = { 0 };
	struct policy_want w = { 0 };
	const struct berth_ipcache_entry *wrote = NULL;
	void *ikeys = NULL, *ekeys = NULL;
	size_t ni = 0, ne = 0, nwrote = 0;
	uint32_t *left = NULL;
	int ret = 0, padd = 0;

	memset(st, 0, sizeof(*st));
	if (m->policy) {
		keep_first(&ret,
			   berth_policy_layout(r, &w.h, &w.nh, &w.rk, &w.nr));
		if (!ret)
			keep_first(&ret, have_get(m, &hv));
	}
	if (m->ipcache)
		keep_first(&ret, map_keys(m->ipcache, &ikeys, &ni));
	if (m->endpoints)
		keep_first(&ret, map_keys(m->endpoints, &ekeys, &ne));
	if (!ret) {
		left = malloc((ne + 1) * sizeof(*left));
		if (!left)
			ret = -ENOMEM;
		else /* none read yet: the final pass reads every one */
			memset(left, 0xff, (ne + 1) * sizeof(*left));
	}
	if (m->shadow && m->shadow->valid) {
		wrote = m->shadow->ipc;
		nwrote = m->shadow->nipc;
	}
	if (ret)
		goto out;
	if (ni)
		qsort(ikeys, ni, sizeof(struct berth_ipcache_key), cmp_ipc);
	/* abi/policy.h: allows, flags on, ipcache, flags off, old allows */
	if (m->policy) {
		padd = policy_add(m, &w, &hv, st);
		st->full = is_full(padd);
		if (padd)
			policy_undo(m, &w, &hv);
		keep_first(&ret, padd);
	}
	if (m->endpoints && !padd)
		keep_first(&ret, eps_write(m->endpoints, r, ids, ekeys, ne,
					   true, left, st));
	if (m->ipcache) {
		keep_first(&ret, ipc_add(m->ipcache, ipc, nipc, ikeys, ni,
					 wrote, nwrote, st));
		keep_first(&ret, ipc_del(m->ipcache, ipc, nipc, ikeys, ni, st));
	}
	if (m->endpoints && !padd)
		keep_first(&ret, eps_write(m->endpoints, r, ids, ekeys, ne,
					   false, left, st));
	if (m->policy && !padd)
		keep_first(&ret, policy_del(m, &w, &hv, st));
out:
	if (m->shadow)
		shadow_set(m->shadow, &w, ipc, nipc, m->policy && !ret);
	free(left);
	have_free(&hv);
	free(w.h);
	free(w.rk);
	free(ikeys);
	free(ekeys);
	return ret;
}
