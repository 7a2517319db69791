// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The node's devices and routes for a cluster: underlay, VXLAN tunnel,
 * sysctls, node map, overlay/underlay attach, and the Node watch that keeps
 * ipcache and host routes in step (routing.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/route.h>

#include <berth/abi/route.h>
#include <berth/kube.h>
#include <berth/log.h>
#include <berth/netdev.h>

#include "kview.h"
#include "node.h"
#include "nlutil.h"
#include "nodesync.h"
#include "routing.h"
#include "syncloop.h"

#define DEBOUNCE_MS 50 /* Node events coalesce this long before a sync */
#define RETRY_MS 1000 /* a failed sync is tried again after this */
/* Node heartbeats change nothing routing cares about: such events are
 * skipped, but a full pass (repairing routes someone removed) runs at
 * least this often while events come */
#define FULL_SYNC_S 60

struct berth_routing {
	struct berth_routing_opts opts;
	char node_name[254], root[PATH_MAX], node_ip_s[INET_ADDRSTRLEN];
	uint32_t node_ip; /* network order */
	struct berth_netdev_info under, tunnel;
	const char *xdp_mode;
	struct nl_sock *sk; /* route ops; only the sync thread uses it */

	struct berth_syncloop loop; /* its mu: the view, syncs, last, prev */
	uint64_t syncs;
	struct berth_nodesync_stats last;
	int last_err;
	struct berth_node_route *prev; /* the last synced nodes */
	size_t nprev;
	time_t last_full; /* CLOCK_MONOTONIC s */
};

/* ---- devices ---- */

/* Does the existing link have every setting we want? why gets the first
 * that differs. */
static bool tunnel_ok(struct rtnl_link *l, uint32_t mtu, const uint8_t *mac,
		      const char **why)
{
	struct nl_addr *a = rtnl_link_get_addr(l);
	uint32_t port = 0;

	*why = NULL;
	if (!rtnl_link_is_vxlan(l))
		*why = "not a vxlan device";
	else if (rtnl_link_vxlan_get_collect_metadata(l) != 1)
		*why = "not in external (collect_metadata) mode";
	else if (rtnl_link_vxlan_get_port(l, &port) || port != BERTH_VXLAN_PORT)
		*why = "wrong dstport";
	else if (rtnl_link_get_mtu(l) != mtu)
		*why = "wrong MTU";
	else if (!(rtnl_link_get_flags(l) & IFF_NOARP))
		*why = "ARP on";
	else if (!a || nl_addr_get_len(a) != 6 ||
		 memcmp(nl_addr_get_binary_addr(a), mac, 6))
		*why = "wrong MAC";
	return !*why;
}

static int tunnel_create(struct nl_sock *sk, uint32_t mtu, const uint8_t *mac)
{
	struct rtnl_link *l = rtnl_link_vxlan_alloc();
	struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);
	int e = -NLE_NOMEM;

	if (l && a) {
		rtnl_link_set_name(l, BERTH_TUNNEL_DEV);
		rtnl_link_vxlan_set_collect_metadata(l, 1);
		rtnl_link_vxlan_set_port(l, BERTH_VXLAN_PORT);
		rtnl_link_vxlan_set_learning(l, 0);
		rtnl_link_set_mtu(l, mtu);
		rtnl_link_set_addr(l, a);
		rtnl_link_set_flags(l, IFF_NOARP);
		e = rtnl_link_add(sk, l, NLM_F_CREATE | NLM_F_EXCL);
	}
	nl_addr_put(a);
	rtnl_link_put(l);
	return e < 0 ? berth_nl_errno(e) : 0;
}

static int tunnel_up(struct nl_sock *sk)
{
	struct rtnl_link *l = NULL, *ch;
	int e;

	e = rtnl_link_get_kernel(sk, 0, BERTH_TUNNEL_DEV, &l);
	if (e < 0)
		return berth_nl_errno(e);
	berth_tunnel_no_ipv6();
	e = 0;
	if (!(rtnl_link_get_flags(l) & IFF_UP)) {
		ch = rtnl_link_alloc();
		if (!ch) {
			rtnl_link_put(l);
			return -ENOMEM;
		}
		rtnl_link_set_flags(ch, IFF_UP);
		e = rtnl_link_change(sk, l, ch, 0);
		rtnl_link_put(ch);
	}
	rtnl_link_put(l);
	if (e < 0) {
		pr_warn("set %s up: %s", BERTH_TUNNEL_DEV, nl_geterror(e));
		return berth_nl_errno(e);
	}
	return 0;
}

static int ensure_tunnel(struct berth_routing *r)
{
	uint32_t mtu = r->under.mtu - BERTH_TUNNEL_OVERHEAD;
	struct rtnl_link *l = NULL;
	uint8_t mac[6];
	const char *why;
	int e, err;

	sscanf(BERTH_TUNNEL_MAC, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx", &mac[0],
	       &mac[1], &mac[2], &mac[3], &mac[4], &mac[5]);
	e = rtnl_link_get_kernel(r->sk, 0, BERTH_TUNNEL_DEV, &l);
	if (e >= 0 && tunnel_ok(l, mtu, mac, &why)) {
		rtnl_link_put(l);
		tunnel_up(r->sk);
		pr_info("tunnel %s: in place (mtu %u)", BERTH_TUNNEL_DEV, mtu);
		goto info;
	}
	if (e >= 0) {
		pr_info("tunnel %s: %s, re-creating it", BERTH_TUNNEL_DEV, why);
		e = rtnl_link_delete(r->sk, l);
		rtnl_link_put(l);
		if (e < 0) {
			pr_err("delete %s: %s", BERTH_TUNNEL_DEV,
			       nl_geterror(e));
			return berth_nl_errno(e);
		}
		berth_link_wait_gone(BERTH_TUNNEL_DEV);
	}
	err = tunnel_create(r->sk, mtu, mac);
	if (err) {
		pr_err("create %s (vxlan external dstport %d): %s",
		       BERTH_TUNNEL_DEV, BERTH_VXLAN_PORT, strerror(-err));
		return err;
	}
	pr_info("tunnel %s: created (vxlan external dstport %d, mtu %u)",
		BERTH_TUNNEL_DEV, BERTH_VXLAN_PORT, mtu);
	/* created down: IPv6 goes off before the device sends anything */
	tunnel_up(r->sk);
info:
	snprintf(r->tunnel.name, sizeof(r->tunnel.name), "%s",
		 BERTH_TUNNEL_DEV);
	err = berth_netdev_info(&r->tunnel);
	if (err)
		pr_err("tunnel %s: %s", BERTH_TUNNEL_DEV, strerror(-err));
	return err;
}

/* ---- node map and programs ---- */

static void node_cfg(const struct berth_routing *r, struct berth_node_cfg *c)
{
	memset(c, 0, sizeof(*c));
	c->node_ip = r->node_ip;
	c->tunnel_ifindex = r->tunnel.ifindex;
	c->netdev_ifindex = r->under.ifindex;
	c->flags = r->opts.masquerade ? BERTH_NODE_F_MASQUERADE : 0;
	if (r->xdp_mode && strcmp(r->xdp_mode, "none"))
		c->flags |= BERTH_NODE_F_XDP;
	c->nodeport_min = r->opts.nodeport_min;
	c->nodeport_max = r->opts.nodeport_max;
	c->snat_port_min = BERTH_SNAT_PORT_MIN;
	c->snat_port_max = BERTH_SNAT_PORT_MAX;
	memcpy(c->netdev_mac, r->under.mac, 6);
	memcpy(c->tunnel_mac, r->tunnel.mac, 6);
	c->vni = r->opts.vni;
}

static int write_node_map(struct berth_routing *r)
{
	struct berth_map *m = &r->opts.dp->node;
	struct berth_node_cfg c;
	__u32 key = 0;
	int err;

	if (!m->update) {
		pr_info("node map not in this datapath: node configuration not written");
		return 0;
	}
	node_cfg(r, &c);
	err = m->update(m, &key, &c);
	if (err)
		pr_err("write node map: %s", strerror(-err));
	return err;
}

static void attach(struct berth_routing *r)
{
	int err;

	err = berth_dp_attach_overlay(r->opts.dp, r->tunnel.name);
	if (err)
		pr_warn("attach overlay programs to %s: %s (pods reach other nodes only once they are)",
			r->tunnel.name, strerror(-err));
	else
		pr_info("attached overlay programs to %s", r->tunnel.name);
	r->xdp_mode = "none";
	err = berth_dp_attach_netdev(r->opts.dp, r->under.name, r->opts.accel,
				     &r->xdp_mode);
	if (!r->xdp_mode)
		r->xdp_mode = "none";
	if (err)
		pr_warn("attach NodePort programs to %s: %s (no NodePort on this node)",
			r->under.name, strerror(-err));
	else
		pr_info("attached NodePort programs to %s: XDP %s%s",
			r->under.name, r->xdp_mode,
			strcmp(r->xdp_mode, "none") ? "" : ", tc only");
}

/* ---- host routes over netlink ---- */

static void route_from(struct rtnl_route *rt, struct berth_hostroute *out)
{
	struct nl_addr *d = rtnl_route_get_dst(rt);
	struct nl_addr *s = rtnl_route_get_pref_src(rt);
	uint32_t mtu = 0;

	memset(out, 0, sizeof(*out));
	if (d && nl_addr_get_len(d) == 4)
		memcpy(&out->dst, nl_addr_get_binary_addr(d), 4);
	out->prefix = d ? nl_addr_get_prefixlen(d) : 0;
	if (s && nl_addr_get_len(s) == 4)
		memcpy(&out->src, nl_addr_get_binary_addr(s), 4);
	if (!rtnl_route_get_metric(rt, RTAX_MTU, &mtu))
		out->mtu = mtu;
}

struct list_arg {
	int ifindex;
	struct berth_hostroute *v;
	size_t n, cap;
	int err;
};

static void list_one(struct nl_object *o, void *arg)
{
	struct rtnl_route *rt = (struct rtnl_route *)o;
	struct list_arg *l = arg;
	struct rtnl_nexthop *nh;

	if (rtnl_route_get_protocol(rt) != BERTH_RTPROT ||
	    rtnl_route_get_table(rt) != RT_TABLE_MAIN ||
	    rtnl_route_get_nnexthops(rt) != 1)
		return;
	nh = rtnl_route_nexthop_n(rt, 0);
	if (!nh || rtnl_route_nh_get_ifindex(nh) != l->ifindex)
		return;
	if (l->n == l->cap) {
		size_t cap = l->cap ? 2 * l->cap : 16;
		struct berth_hostroute *v = realloc(l->v, cap * sizeof(*v));

		if (!v) {
			l->err = -ENOMEM;
			return;
		}
		l->v = v;
		l->cap = cap;
	}
	route_from(rt, &l->v[l->n++]);
}

static int rt_list(void *ctx, struct berth_hostroute **out, size_t *n)
{
	struct berth_routing *r = ctx;
	struct list_arg l = { .ifindex = r->tunnel.ifindex };
	struct nl_cache *cache;
	int e;

	e = rtnl_route_alloc_cache(r->sk, AF_INET, 0, &cache);
	if (e < 0)
		return berth_nl_errno(e);
	nl_cache_foreach(cache, list_one, &l);
	nl_cache_free(cache);
	if (l.err) {
		free(l.v);
		return l.err;
	}
	*out = l.v;
	*n = l.n;
	return 0;
}

static struct rtnl_route *route_to(struct berth_routing *r,
				   const struct berth_hostroute *h)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = nl_addr_build(AF_INET, &h->dst, 4);
	struct nl_addr *s = h->src ? nl_addr_build(AF_INET, &h->src, 4) : NULL;

	if (!rt || !nh || !d || (h->src && !s)) {
		rtnl_route_put(rt);
		rtnl_route_nh_free(nh);
		nl_addr_put(d);
		nl_addr_put(s);
		return NULL;
	}
	nl_addr_set_prefixlen(d, h->prefix);
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, BERTH_RTPROT);
	rtnl_route_set_scope(rt, RT_SCOPE_LINK);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_set_dst(rt, d);
	if (s)
		rtnl_route_set_pref_src(rt, s);
	if (h->mtu)
		rtnl_route_set_metric(rt, RTAX_MTU, h->mtu);
	rtnl_route_nh_set_ifindex(nh, r->tunnel.ifindex);
	rtnl_route_add_nexthop(rt, nh);
	nl_addr_put(d);
	nl_addr_put(s);
	return rt;
}

static int rt_replace(void *ctx, const struct berth_hostroute *h)
{
	struct rtnl_route *rt = route_to(ctx, h);
	int e;

	if (!rt)
		return -ENOMEM;
	e = rtnl_route_add(((struct berth_routing *)ctx)->sk, rt,
			   NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_route_put(rt);
	return e < 0 ? berth_nl_errno(e) : 0;
}

static int rt_del(void *ctx, const struct berth_hostroute *h)
{
	struct rtnl_route *rt = route_to(ctx, h);
	int e;

	if (!rt)
		return -ENOMEM;
	e = rtnl_route_delete(((struct berth_routing *)ctx)->sk, rt, 0);
	rtnl_route_put(rt);
	return e == -NLE_OBJ_NOTFOUND ? 0 : e < 0 ? berth_nl_errno(e) : 0;
}

/* ---- ROOT/routing.json ---- */

static void mac_str(const uint8_t *m, char *buf)
{
	sprintf(buf, "%02x:%02x:%02x:%02x:%02x:%02x", m[0], m[1], m[2], m[3],
		m[4], m[5]);
}

/* Called with loop.mu held (or before the thread runs). */
static void write_state(struct berth_routing *r)
{
	char path[PATH_MAX + 32], tmp[PATH_MAX + 32], um[18], tm[18];
	FILE *f;

	if (!r->root[0])
		return;
	snprintf(path, sizeof(path), "%s/routing.json", r->root);
	snprintf(tmp, sizeof(tmp), "%s/.routing.json.tmp", r->root);
	mac_str(r->under.mac, um);
	mac_str(r->tunnel.mac, tm);
	f = fopen(tmp, "w");
	if (!f)
		return;
	fprintf(f,
		"{\"nodeIP\": \"%s\", \"device\": {\"name\": \"%s\", \"ifindex\": %d, \"mtu\": %u, \"mac\": \"%s\"},\n"
		" \"tunnel\": {\"name\": \"%s\", \"ifindex\": %d, \"mtu\": %u, \"mac\": \"%s\"},\n"
		" \"podMTU\": %u, \"vni\": %u, \"xdpMode\": \"%s\", \"masquerade\": %s, \"nodePortRange\": \"%u-%u\",\n"
		" \"nodeSyncs\": %lu, \"nodes\": %zu, \"ok\": %s}\n",
		r->node_ip_s, r->under.name, r->under.ifindex, r->under.mtu, um,
		r->tunnel.name, r->tunnel.ifindex, r->tunnel.mtu, tm,
		berth_routing_pod_mtu(r), r->opts.vni, r->xdp_mode,
		r->opts.masquerade ? "true" : "false", r->opts.nodeport_min,
		r->opts.nodeport_max, (unsigned long)r->syncs, r->last.nodes,
		r->last_err ? "false" : "true");
	if (fclose(f) || rename(tmp, path))
		pr_warn("write %s: %s", path, strerror(errno));
}

/* ---- the Node watch ---- */

/* Same nodes as the last good sync, and that was not long ago? */
static bool unchanged(const struct berth_routing *r,
		      const struct berth_node_route *routes, size_t n)
{
	return r->prev && !r->last_err && n == r->nprev &&
	       !memcmp(routes, r->prev, n * sizeof(*routes)) &&
	       berth_mono_s() - r->last_full < FULL_SYNC_S;
}

/* Called with loop.mu held; drops it while writing. */
static int node_sync(void *arg)
{
	struct berth_routing *r = arg;
	const struct berth_route_ops ops = {
		.list = rt_list, .replace = rt_replace, .del = rt_del, .ctx = r
	};
	struct berth_nodesync_stats st = { 0 };
	struct berth_node_route *routes = NULL;
	json_object **objs = NULL;
	size_t n = 0, nr = 0;
	int err;

	err = berth_kview_objects(&r->loop.views[0], &objs, &n);
	if (!err)
		err = berth_nodes_parse(objs, n, r->node_name, &routes, &nr);
	berth_kview_put(objs, n);
	if (!err && unchanged(r, routes, nr)) {
		free(routes);
		return 0;
	}
	pthread_mutex_unlock(&r->loop.mu);
	if (!err)
		err = berth_nodesync(&r->opts.dp->ipcache, &ops, routes, nr,
				     r->tunnel.mtu, &st);
	pthread_mutex_lock(&r->loop.mu);
	free(r->prev);
	r->prev = err ? NULL : routes;
	r->nprev = err ? 0 : nr;
	if (err)
		free(routes);
	r->last_full = berth_mono_s();
	r->syncs++;
	r->last = st;
	r->last_err = err;
	if (err) {
		pr_warn("node routes: %s; again in %d ms", strerror(-err),
			RETRY_MS);
	} else if (st.ipcache_written || st.ipcache_deleted ||
		   st.routes_added || st.routes_deleted) {
		pr_info("node routes: %zu nodes, ipcache %zu written %zu deleted, routes %zu added %zu deleted",
			st.nodes, st.ipcache_written, st.ipcache_deleted,
			st.routes_added, st.routes_deleted);
	}
	write_state(r);
	return err;
}

/* ---- start/stop ---- */

static int routing_init(struct berth_routing *r,
			const struct berth_routing_opts *opts)
{
	const struct berth_syncloop_opts lo = {
		/* let a burst of Node updates (heartbeats) land first */
		.debounce_ms = DEBOUNCE_MS,
		.retry_ms = RETRY_MS,
		.sync = node_sync,
		.ctx = r,
	};
	const char *const nodes = "/api/v1/nodes";
	int err;

	r->opts = *opts;
	if (!r->opts.vni)
		r->opts.vni = BERTH_VXLAN_VNI_DEFAULT;
	err = berth_syncloop_init(&r->loop, &lo, &nodes, 1);
	if (err)
		return err;
	snprintf(r->node_name, sizeof(r->node_name), "%s",
		 opts->node_name ? opts->node_name : "");
	snprintf(r->root, sizeof(r->root), "%s", opts->root ? opts->root : "");
	r->opts.node_name = r->node_name;
	r->opts.root = r->root;
	if (!r->opts.nodeport_min) {
		r->opts.nodeport_min = BERTH_NODEPORT_MIN;
		r->opts.nodeport_max = BERTH_NODEPORT_MAX;
	}
	r->xdp_mode = "none";
	err = berth_node_ip_pick(opts->node_ip, r->node_ip_s,
				 sizeof(r->node_ip_s), &r->node_ip);
	if (err)
		return err;
	r->sk = berth_nl_open();
	return r->sk ? 0 : -ENOMEM;
}

int berth_routing_start(const struct berth_routing_opts *opts,
			struct berth_routing **out)
{
	struct berth_routing *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	err = routing_init(r, opts);
	if (!err)
		err = berth_underlay_find(r->opts.device, r->node_ip,
					  r->node_ip_s, &r->under);
	if (!err)
		err = ensure_tunnel(r);
	if (err)
		goto fail;
	berth_tunnel_sysctls();
	err = write_node_map(r);
	if (err)
		goto fail;
	attach(r);
	/* the node map says whether XDP sits in front of tc */
	if (strcmp(r->xdp_mode, "none"))
		write_node_map(r);
	pr_info("node %s: %s on %s (mtu %u), tunnel %s (mtu %u, vni %u), pods mtu %u, NodePort %u-%u, masquerade %s",
		r->node_name, r->node_ip_s, r->under.name, r->under.mtu,
		r->tunnel.name, r->tunnel.mtu, r->opts.vni,
		berth_routing_pod_mtu(r), r->opts.nodeport_min,
		r->opts.nodeport_max, r->opts.masquerade ? "on" : "off");
	write_state(r);
	if (opts->kubeconfig) {
		err = berth_syncloop_start(&r->loop, opts->kubeconfig);
		if (err)
			goto fail;
	}
	*out = r;
	return 0;
fail:
	berth_routing_stop(r);
	return err;
}

void berth_routing_stop(struct berth_routing *r)
{
	if (!r)
		return;
	berth_syncloop_stop(&r->loop);
	free(r->prev);
	if (r->sk)
		nl_socket_free(r->sk);
	free(r);
}

uint32_t berth_routing_pod_mtu(const struct berth_routing *r)
{
	return r->under.mtu - BERTH_TUNNEL_OVERHEAD;
}

const char *berth_routing_node_ip(const struct berth_routing *r)
{
	return r->node_ip_s;
}

const char *berth_routing_xdp_mode(const struct berth_routing *r)
{
	return r->xdp_mode;
}

int berth_routing_uninstall(void)
{
	struct nl_sock *sk = berth_nl_open();
	struct rtnl_link *l = NULL;
	int e;

	if (!sk)
		return -ENOMEM;
	e = rtnl_link_get_kernel(sk, 0, BERTH_TUNNEL_DEV, &l);
	if (e < 0) {
		nl_socket_free(sk);
		return 0; /* nothing to remove */
	}
	/* only our own kind of device goes, with the routes through it */
	e = rtnl_link_is_vxlan(l) ? rtnl_link_delete(sk, l) : 0;
	rtnl_link_put(l);
	nl_socket_free(sk);
	if (e < 0)
		return berth_nl_errno(e);
	pr_info("removed %s and the routes through it", BERTH_TUNNEL_DEV);
	return 0;
}

int berth_parse_port_range(const char *s, uint16_t *min, uint16_t *max)
{
	unsigned int a, b;
	int n = 0;

	if (!s || sscanf(s, "%u-%u%n", &a, &b, &n) != 2 || s[n] || !a ||
	    a > b || b > 65535)
		return -EINVAL;
	*min = a;
	*max = b;
	return 0;
}
