// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Nodes -> ipcache entries and host routes, as a diff: see nodesync.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/abi/policy.h>
#include <berth/abi/route.h>
#include <berth/log.h>

#include "kview.h"
#include "nodesync.h"

#define MAX_IPCACHE_SCAN 65536 /* bound on the walk over the map */

static uint32_t mask_of(uint8_t prefix)
{
	return prefix ? htonl(~0u << (32 - prefix)) : 0;
}

bool berth_parse_cidr4(const char *s, uint32_t *net, uint8_t *prefix)
{
	char buf[64], *slash, *end;
	struct in_addr a;
	long p;

	if (!s || snprintf(buf, sizeof(buf), "%s", s) >= (int)sizeof(buf))
		return false;
	slash = strchr(buf, '/');
	if (!slash)
		return false;
	*slash = '\0';
	p = strtol(slash + 1, &end, 10);
	if (*end || end == slash + 1 || p < 0 || p > 32 ||
	    inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*prefix = p;
	*net = a.s_addr & mask_of(p);
	return true;
}

static bool internal_ip(json_object *node, uint32_t *ip)
{
	json_object *addrs =
		berth_jget(berth_jget(node, "status"), "addresses");
	struct in_addr a;

	for (size_t i = 0; i < berth_jlen(addrs); i++) {
		json_object *e = json_object_array_get_idx(addrs, i);
		const char *type = berth_jstr(e, "type");
		const char *addr = berth_jstr(e, "address");

		if (type && addr && !strcmp(type, "InternalIP") &&
		    inet_pton(AF_INET, addr, &a) == 1) {
			*ip = a.s_addr;
			return true;
		}
	}
	return false;
}

static int cmp_route_name(const void *a, const void *b)
{
	return strcmp(((const struct berth_node_route *)a)->name,
		      ((const struct berth_node_route *)b)->name);
}

int berth_nodes_parse(json_object *const *nodes, size_t n, const char *self,
		      struct berth_node_route **out, size_t *nout)
{
	struct berth_node_route *r = calloc(n ? n : 1, sizeof(*r));
	size_t k = 0;

	if (!r)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		json_object *meta = berth_jget(nodes[i], "metadata");
		const char *name = berth_jstr(meta, "name");
		const char *cidr =
			berth_jstr(berth_jget(nodes[i], "spec"), "podCIDR");
		struct berth_node_route *e = &r[k];

		/* zeroed: callers compare route sets with memcmp */
		memset(e, 0, sizeof(*e));
		if (!name || strlen(name) >= sizeof(e->name))
			continue;
		if (!berth_parse_cidr4(cidr, &e->net, &e->prefix) ||
		    !internal_ip(nodes[i], &e->ip)) {
			pr_debug(
				"node %s: no IPv4 podCIDR or InternalIP yet, not routed",
				name);
			continue;
		}
		snprintf(e->name, sizeof(e->name), "%s", name);
		e->self = self && !strcmp(self, name);
		k++;
	}
	if (k)
		qsort(r, k, sizeof(*r), cmp_route_name);
	*out = r;
	*nout = k;
	return 0;
}

/* ---- ipcache ---- */

struct ipc_entry {
	struct berth_ipcache_key key;
	struct berth_ipcache_val val;
};

static void want_entries(const struct berth_node_route *nodes, size_t n,
			 struct ipc_entry *want, size_t *nwant)
{
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		const struct berth_node_route *r = &nodes[i];
		__u8 local = r->self ? BERTH_IPCACHE_F_LOCAL : 0;

		want[k++] = (struct ipc_entry){
			.key = { .prefixlen = r->prefix, .ip = r->net },
			.val = { .tunnel_ip = r->self ? 0 : r->ip,
				 .flags = BERTH_IPCACHE_F_POD | local },
		};
		want[k++] = (struct ipc_entry){
			.key = { .prefixlen = 32, .ip = r->ip },
			/* policy: a pod's own node always passes */
			.val = { .identity = r->self ? BERTH_ID_HOST :
						       BERTH_ID_REMOTE_NODE,
				 .flags = BERTH_IPCACHE_F_NODE | local },
		};
	}
	*nwant = k;
}

/* ipc_entry starts with its key: one comparison serves both arrays */
static int cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct berth_ipcache_key));
}

static bool has_key(const void *arr, size_t n, size_t size,
		    const struct berth_ipcache_key *key)
{
	return n && bsearch(key, arr, n, size, cmp_key);
}

/* The keys the map holds now (bounded walk). */
static int ipc_keys(struct berth_map *m, struct berth_ipcache_key **out,
		    size_t *n)
{
	struct berth_ipcache_key *keys = NULL, cur, next, *prev = NULL;
	size_t k = 0, cap = 0;
	int err;

	while (k < MAX_IPCACHE_SCAN && !(err = m->next_key(m, prev, &next))) {
		if (k == cap) {
			struct berth_ipcache_key *nk;

			cap = cap ? 2 * cap : 64;
			nk = realloc(keys, cap * sizeof(*nk));
			if (!nk) {
				free(keys);
				return -ENOMEM;
			}
			keys = nk;
		}
		keys[k++] = next;
		cur = next;
		prev = &cur;
	}
	*out = keys;
	*n = k;
	return 0;
}

static int sync_ipcache(struct berth_map *m, const struct ipc_entry *want,
			size_t nwant, struct berth_nodesync_stats *st)
{
	struct berth_ipcache_key *have = NULL;
	struct berth_ipcache_val val;
	size_t nhave = 0;
	int err, ret;

	ret = ipc_keys(m, &have, &nhave);
	if (ret)
		return ret;
	if (nhave)
		qsort(have, nhave, sizeof(*have), cmp_key);
	/* additions and changes first, then what is gone. Only a key the
	 * walk found is compared: an LPM lookup of a missing prefix answers
	 * with whatever shorter prefix covers it. */
	for (size_t i = 0; i < nwant; i++) {
		if (has_key(have, nhave, sizeof(*have), &want[i].key) &&
		    !m->lookup(m, &want[i].key, &val) &&
		    !memcmp(&val, &want[i].val, sizeof(val)))
			continue;
		err = m->update(m, &want[i].key, &want[i].val);
		if (err) {
			pr_warn("ipcache: write %s/%u: %s",
				inet_ntoa((struct in_addr){ want[i].key.ip }),
				want[i].key.prefixlen, strerror(-err));
			ret = ret ? ret : err;
			continue;
		}
		st->ipcache_written++;
	}
	for (size_t i = 0; i < nhave; i++) {
		if (has_key(want, nwant, sizeof(*want), &have[i]))
			continue;
		/* pod /32s and ipBlock prefixes belong to the policy sync */
		if (!m->lookup(m, &have[i], &val) &&
		    (val.flags & BERTH_IPCACHE_F_IDENTITY))
			continue;
		err = m->delete (m, &have[i]);
		if (err && err != -ENOENT) {
			ret = ret ? ret : err;
			continue;
		}
		st->ipcache_deleted++;
	}
	free(have);
	return ret;
}

/* ---- host routes ---- */

static bool same_route(const struct berth_hostroute *a,
		       const struct berth_hostroute *b)
{
	return a->dst == b->dst && a->prefix == b->prefix && a->src == b->src &&
	       a->mtu == b->mtu;
}

static int sync_routes(const struct berth_route_ops *ops,
		       const struct berth_hostroute *want, size_t nwant,
		       struct berth_nodesync_stats *st)
{
	struct berth_hostroute *have = NULL;
	size_t nhave = 0, j;
	int err, ret;

	ret = ops->list(ops->ctx, &have, &nhave);
	if (ret)
		return ret;
	for (size_t i = 0; i < nhave; i++) {
		for (j = 0; j < nwant; j++)
			if (same_route(&have[i], &want[j]))
				break;
		if (j < nwant)
			continue;
		err = ops->del(ops->ctx, &have[i]);
		if (err && err != -ESRCH && err != -ENOENT) {
			ret = ret ? ret : err;
			continue;
		}
		st->routes_deleted++;
	}
	for (size_t i = 0; i < nwant; i++) {
		for (j = 0; j < nhave; j++)
			if (same_route(&have[j], &want[i]))
				break;
		if (j < nhave)
			continue;
		err = ops->replace(ops->ctx, &want[i]);
		if (err) {
			pr_warn("route %s/%u via %s: %s",
				inet_ntoa((struct in_addr){ want[i].dst }),
				want[i].prefix, BERTH_TUNNEL_DEV,
				strerror(-err));
			ret = ret ? ret : err;
			continue;
		}
		st->routes_added++;
	}
	free(have);
	return ret;
}

int berth_nodesync(struct berth_map *ipcache,
		   const struct berth_route_ops *routes,
		   const struct berth_node_route *nodes, size_t n,
		   uint32_t tunnel_mtu, struct berth_nodesync_stats *st)
{
	static bool warned;
	struct ipc_entry *want = calloc(2 * n + 1, sizeof(*want));
	struct berth_hostroute *rt = calloc(n + 1, sizeof(*rt));
	uint32_t self_ip = 0;
	size_t nwant = 0, nrt = 0;
	int err, ret = 0;

	memset(st, 0, sizeof(*st));
	if (!want || !rt) {
		free(want);
		free(rt);
		return -ENOMEM;
	}
	st->nodes = n;
	for (size_t i = 0; i < n; i++)
		if (nodes[i].self)
			self_ip = nodes[i].ip;
	for (size_t i = 0; i < n; i++) {
		if (nodes[i].self)
			continue;
		rt[nrt++] = (struct berth_hostroute){ .dst = nodes[i].net,
						      .prefix = nodes[i].prefix,
						      .src = self_ip,
						      .mtu = tunnel_mtu };
	}
	if (ipcache && ipcache->update) {
		want_entries(nodes, n, want, &nwant);
		if (nwant)
			qsort(want, nwant, sizeof(*want), cmp_key);
		ret = sync_ipcache(ipcache, want, nwant, st);
	} else if (!warned) {
		warned = true;
		pr_info("ipcache map not in this datapath: node routes only on the host");
	}
	if (routes) {
		err = sync_routes(routes, rt, nrt, st);
		ret = ret ? ret : err;
	}
	free(want);
	free(rt);
	return ret;
}
