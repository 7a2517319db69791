// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Policy, endpoint flags and identity ipcache entries into the maps: see policysync.h. */
#include <arpa/inet.h>
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

static int policy_add(struct berth_map *m, const struct berth_policy_result *r,
		      const struct berth_policy_key *have, size_t nhave,
		      struct berth_policysync_stats *st)
{
	struct berth_policy_val val;
	int ret = 0;

	for (size_t i = 0; i < r->n; i++) {
		const struct berth_policy_entry *e = &r->entries[i];
		int err;

		if (nhave &&
		    bsearch(&e->key, have, nhave, sizeof(*have), cmp_pkey) &&
		    !m->lookup(m, &e->key, &val) &&
		    !memcmp(&val, &e->val, sizeof(val)))
			continue;
		err = m->update(m, &e->key, &e->val);
		if (err)
			pr_warn("policy map: write: %s", strerror(-err));
		else
			st->policy_added++;
		keep_first(&ret, err);
	}
	return ret;
}

static int policy_del(struct berth_map *m, const struct berth_policy_result *r,
		      const struct berth_policy_key *have, size_t nhave,
		      struct berth_policysync_stats *st)
{
	int ret = 0;

	for (size_t i = 0; i < nhave; i++) {
		int err;

		if (r->n && bsearch(&have[i], r->entries, r->n,
				    sizeof(*r->entries), cmp_pkey))
			continue;
		err = m->delete (m, &have[i]);
		if (!err)
			st->policy_deleted++;
		keep_first(&ret, err == -ENOENT ? 0 : err);
	}
	return ret;
}

static uint32_t want_flags(const struct berth_policy_result *r, uint32_t ip)
{
	for (size_t i = 0; i < r->neps; i++)
		if (r->eps[i].ip == ip)
			return r->eps[i].flags;
	return 0;
}

/*
 * Endpoint values: @on writes identities and added flags (keeping the
 * ones still to be removed), !@on the final flags.
 */
static int eps_write(struct berth_map *m, const struct berth_policy_result *r,
		     const struct berth_idtable *ids, const uint32_t *ips,
		     size_t n, bool on, struct berth_policysync_stats *st)
{
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		const struct berth_ident_pod *p =
			berth_identity_pod(ids, ips[i]);
		uint32_t want = want_flags(r, ips[i]);
		struct berth_endpoint_info v, nv;
		int err;

		if (m->lookup(m, &ips[i], &v))
			continue; /* removed meanwhile */
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
		   struct berth_policysync_stats *st)
{
	struct berth_ipcache_val val;
	int ret = 0;

	for (size_t i = 0; i < n; i++) {
		bool held = nhave && bsearch(&want[i].key, have, nhave,
					     sizeof(*have), cmp_ipc);
		int err;

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

int berth_policy_sync(const struct berth_policy_maps *m,
		      const struct berth_policy_result *r,
		      const struct berth_idtable *ids,
		      const struct berth_ipcache_entry *ipc, size_t nipc,
		      struct berth_policysync_stats *st)
{
	void *pkeys = NULL, *ikeys = NULL, *ekeys = NULL;
	size_t np = 0, ni = 0, ne = 0;
	int ret = 0;

	memset(st, 0, sizeof(*st));
	if (m->policy)
		keep_first(&ret, map_keys(m->policy, &pkeys, &np));
	if (m->ipcache)
		keep_first(&ret, map_keys(m->ipcache, &ikeys, &ni));
	if (m->endpoints)
		keep_first(&ret, map_keys(m->endpoints, &ekeys, &ne));
	if (ret)
		goto out;
	if (np)
		qsort(pkeys, np, sizeof(struct berth_policy_key), cmp_pkey);
	if (ni)
		qsort(ikeys, ni, sizeof(struct berth_ipcache_key), cmp_ipc);
	/* abi/policy.h: allows, flags on, ipcache, flags off, old allows */
	if (m->policy)
		keep_first(&ret, policy_add(m->policy, r, pkeys, np, st));
	if (m->endpoints)
		keep_first(&ret, eps_write(m->endpoints, r, ids, ekeys, ne,
					   true, st));
	if (m->ipcache) {
		keep_first(&ret, ipc_add(m->ipcache, ipc, nipc, ikeys, ni, st));
		keep_first(&ret, ipc_del(m->ipcache, ipc, nipc, ikeys, ni, st));
	}
	if (m->endpoints)
		keep_first(&ret, eps_write(m->endpoints, r, ids, ekeys, ne,
					   false, st));
	if (m->policy)
		keep_first(&ret, policy_del(m->policy, r, pkeys, np, st));
out:
	free(pkeys);
	free(ikeys);
	free(ekeys);
	return ret;
}
