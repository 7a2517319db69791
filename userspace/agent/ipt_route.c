// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Kernel VXLAN routing between nodes for the iptables dataplane: device,
 * per-node neighbour + FDB + route, pod masquerade (ipt_route.h).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/link.h>
#include <netlink/route/link/vxlan.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include <berth/abi/route.h>
#include <berth/kube.h>
#include <berth/log.h>
#include <berth/netdev.h>

#include "ipt_route.h"
#include "ipt_sync.h"
#include "kview.h"
#include "nlutil.h"
#include "node.h"
#include "nodesync.h"
#include "routing.h" /* BERTH_RTPROT */
#include "syncloop.h"

#define DEBOUNCE_MS 50 /* Node heartbeats coalesce this long */
#define RETRY_MS 1000

struct berth_iptroute {
	struct berth_iptroute_opts opts;
	char node_name[254], node_ip_s[INET_ADDRSTRLEN];
	uint32_t node_ip; /* network order */
	struct berth_netdev_info under;
	int tun_ifindex;
	struct nl_sock *sk; /* the sync thread's, after start */

	struct berth_syncloop loop; /* its mu: the view, prev */
	struct berth_node_route *prev; /* the last synced remote nodes */
	size_t nprev;
	time_t last_full;
};

/* Every node computes every other node's tunnel MAC from its IP. */
static void node_mac(uint32_t ip, uint8_t mac[6])
{
	mac[0] = 0x02;
	mac[1] = 0xbe;
	memcpy(mac + 2, &ip, 4);
}

/* ---- the tunnel device ---- */

static const char *tunnel_wrong(struct berth_iptroute *r, struct rtnl_link *l,
				const uint8_t *mac)
{
	struct nl_addr *a = rtnl_link_get_addr(l);
	uint32_t id = 0, port = 0;

	if (!rtnl_link_is_vxlan(l))
		return "not a vxlan device";
	if (rtnl_link_vxlan_get_collect_metadata(l) == 1)
		return "in external mode (the BPF dataplane's)";
	if (rtnl_link_vxlan_get_id(l, &id) || id != r->opts.vni)
		return "wrong VNI";
	if (rtnl_link_vxlan_get_port(l, &port) || port != BERTH_VXLAN_PORT)
		return "wrong dstport";
	if (rtnl_link_get_mtu(l) != r->under.mtu - BERTH_TUNNEL_OVERHEAD)
		return "wrong MTU";
	if (!a || nl_addr_get_len(a) != 6 ||
	    memcmp(nl_addr_get_binary_addr(a), mac, 6))
		return "wrong MAC";
	return NULL;
}

static int tunnel_create(struct berth_iptroute *r, const uint8_t *mac)
{
	struct rtnl_link *l = rtnl_link_vxlan_alloc();
	struct nl_addr *a = nl_addr_build(AF_LLC, mac, 6);
	struct nl_addr *local = nl_addr_build(AF_INET, &r->node_ip, 4);
	int e = -NLE_NOMEM;

	if (l && a && local) {
		rtnl_link_set_name(l, BERTH_TUNNEL_DEV);
		rtnl_link_vxlan_set_id(l, r->opts.vni);
		rtnl_link_vxlan_set_port(l, BERTH_VXLAN_PORT);
		rtnl_link_vxlan_set_local(l, local);
		rtnl_link_vxlan_set_learning(l, 0);
		rtnl_link_set_link(l, r->under.ifindex);
		rtnl_link_set_mtu(l, r->under.mtu - BERTH_TUNNEL_OVERHEAD);
		rtnl_link_set_addr(l, a);
		e = rtnl_link_add(r->sk, l, NLM_F_CREATE | NLM_F_EXCL);
	}
	nl_addr_put(local);
	nl_addr_put(a);
	rtnl_link_put(l);
	return berth_nl_errno(e);
}

static int tunnel_up(struct berth_iptroute *r)
{
	struct rtnl_link *l = NULL, *ch = rtnl_link_alloc();
	int e;

	if (!ch)
		return -ENOMEM;
	berth_tunnel_no_ipv6();
	e = rtnl_link_get_kernel(r->sk, 0, BERTH_TUNNEL_DEV, &l);
	if (e >= 0) {
		rtnl_link_set_flags(ch, IFF_UP);
		e = rtnl_link_change(r->sk, l, ch, 0);
		r->tun_ifindex = rtnl_link_get_ifindex(l);
		rtnl_link_put(l);
	}
	rtnl_link_put(ch);
	return berth_nl_errno(e);
}

static int ensure_tunnel(struct berth_iptroute *r)
{
	struct rtnl_link *l = NULL;
	const char *why = NULL;
	uint8_t mac[6];
	int e, err;

	node_mac(r->node_ip, mac);
	e = rtnl_link_get_kernel(r->sk, 0, BERTH_TUNNEL_DEV, &l);
	if (e >= 0) {
		why = tunnel_wrong(r, l, mac);
		if (why) {
			pr_info("tunnel %s: %s, re-creating it",
				BERTH_TUNNEL_DEV, why);
			e = rtnl_link_delete(r->sk, l);
		}
		rtnl_link_put(l);
		if (e < 0)
			return berth_nl_errno(e);
		if (why)
			berth_link_wait_gone(BERTH_TUNNEL_DEV);
	}
	if (e < 0 || why) {
		err = tunnel_create(r, mac);
		if (err) {
			pr_err("create %s (vxlan id %u dstport %d dev %s): %s",
			       BERTH_TUNNEL_DEV, r->opts.vni, BERTH_VXLAN_PORT,
			       r->under.name, strerror(-err));
			return err;
		}
		pr_info("tunnel %s: created (vxlan id %u, dstport %d, dev %s)",
			BERTH_TUNNEL_DEV, r->opts.vni, BERTH_VXLAN_PORT,
			r->under.name);
	}
	err = tunnel_up(r);
	if (err)
		pr_err("set %s up: %s", BERTH_TUNNEL_DEV, strerror(-err));
	return err;
}

/* ---- per-node entries ---- */

/* neighbour (AF_INET: gateway -> MAC) or FDB (AF_BRIDGE: MAC -> node) */
static int neigh_op(struct berth_iptroute *r, int family, uint32_t ip,
		    const uint8_t *mac, bool add)
{
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	struct nl_addr *ll = nl_addr_build(AF_LLC, mac, 6);
	struct nl_addr *dst = nl_addr_build(AF_INET, &ip, 4);
	int e = -NLE_NOMEM;

	if (n && ll && dst) {
		rtnl_neigh_set_ifindex(n, r->tun_ifindex);
		/* dst first: libnl takes the family from it and refuses an
		 * IPv4 dst once the family (AF_BRIDGE) is set */
		rtnl_neigh_set_dst(n, dst);
		rtnl_neigh_set_family(n, family);
		rtnl_neigh_set_lladdr(n, ll);
		rtnl_neigh_set_state(n, NUD_PERMANENT);
		if (family == AF_BRIDGE)
			rtnl_neigh_set_flags(n, NTF_SELF);
		e = add ? rtnl_neigh_add(r->sk, n,
					 NLM_F_CREATE | NLM_F_REPLACE) :
			  rtnl_neigh_delete(r->sk, n, 0);
	}
	if (e < 0 && add)
		pr_warn("%s %s: %s", family == AF_BRIDGE ? "fdb" : "neighbour",
			inet_ntoa((struct in_addr){ ip }), nl_geterror(e));
	nl_addr_put(ll);
	nl_addr_put(dst);
	rtnl_neigh_put(n);
	return berth_nl_errno(e);
}

static struct rtnl_route *route_of(struct berth_iptroute *r,
				   const struct berth_node_route *n)
{
	struct rtnl_route *rt = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = nl_addr_build(AF_INET, &n->net, 4);
	struct nl_addr *gw = nl_addr_build(AF_INET, &n->net, 4);

	if (!rt || !nh || !d || !gw) {
		rtnl_route_put(rt);
		rtnl_route_nh_free(nh);
		nl_addr_put(d);
		nl_addr_put(gw);
		return NULL;
	}
	nl_addr_set_prefixlen(d, n->prefix);
	rtnl_route_set_family(rt, AF_INET);
	rtnl_route_set_table(rt, RT_TABLE_MAIN);
	rtnl_route_set_protocol(rt, BERTH_RTPROT);
	rtnl_route_set_type(rt, RTN_UNICAST);
	rtnl_route_set_dst(rt, d);
	rtnl_route_nh_set_ifindex(nh, r->tun_ifindex);
	rtnl_route_nh_set_gateway(nh, gw);
	/* the gateway is the node's pod network address, only a name for
	 * its MAC: no route leads to it but this one */
	rtnl_route_nh_set_flags(nh, RTNH_F_ONLINK);
	rtnl_route_add_nexthop(rt, nh);
	nl_addr_put(d);
	nl_addr_put(gw);
	return rt;
}

static int node_add(struct berth_iptroute *r, const struct berth_node_route *n)
{
	struct rtnl_route *rt;
	uint8_t mac[6];
	int err, e;

	node_mac(n->ip, mac);
	err = neigh_op(r, AF_BRIDGE, n->ip, mac, true);
	if (!err)
		err = neigh_op(r, AF_INET, n->net, mac, true);
	if (err)
		return err;
	rt = route_of(r, n);
	if (!rt)
		return -ENOMEM;
	e = rtnl_route_add(r->sk, rt, NLM_F_CREATE | NLM_F_REPLACE);
	rtnl_route_put(rt);
	if (e < 0)
		pr_warn("route to %s: %s", n->name, nl_geterror(e));
	return berth_nl_errno(e);
}

static void node_del(struct berth_iptroute *r, const struct berth_node_route *n)
{
	struct rtnl_route *rt = route_of(r, n);
	uint8_t mac[6];

	if (rt) {
		rtnl_route_delete(r->sk, rt, 0);
		rtnl_route_put(rt);
	}
	node_mac(n->ip, mac);
	neigh_op(r, AF_INET, n->net, mac, false);
	neigh_op(r, AF_BRIDGE, n->ip, mac, false);
}

static bool same_node(const struct berth_node_route *a,
		      const struct berth_node_route *b)
{
	return a->ip == b->ip && a->net == b->net && a->prefix == b->prefix;
}

static bool listed(const struct berth_node_route *v, size_t n,
		   const struct berth_node_route *x)
{
	for (size_t i = 0; i < n; i++)
		if (!v[i].self && same_node(&v[i], x))
			return true;
	return false;
}

/* Our routes on the tunnel no Node asks for (left by an earlier run). */
struct stale_arg {
	struct berth_iptroute *r;
	const struct berth_node_route *want;
	size_t n;
	struct rtnl_route *del[64];
	int ndel;
};

static void stale_one(struct nl_object *o, void *arg)
{
	struct rtnl_route *rt = (struct rtnl_route *)o;
	struct stale_arg *s = arg;
	struct nl_addr *d = rtnl_route_get_dst(rt);
	struct rtnl_nexthop *nh;
	struct berth_node_route x = { 0 };

	if (rtnl_route_get_protocol(rt) != BERTH_RTPROT ||
	    rtnl_route_get_nnexthops(rt) != 1 || s->ndel == 64 || !d ||
	    nl_addr_get_len(d) != 4)
		return;
	nh = rtnl_route_nexthop_n(rt, 0);
	if (!nh || rtnl_route_nh_get_ifindex(nh) != s->r->tun_ifindex)
		return;
	memcpy(&x.net, nl_addr_get_binary_addr(d), 4);
	x.prefix = nl_addr_get_prefixlen(d);
	for (size_t i = 0; i < s->n; i++)
		if (!s->want[i].self && s->want[i].net == x.net &&
		    s->want[i].prefix == x.prefix)
			return;
	nl_object_get(o);
	s->del[s->ndel++] = rt;
}

static void remove_stale_routes(struct berth_iptroute *r,
				const struct berth_node_route *want, size_t n)
{
	struct stale_arg s = { .r = r, .want = want, .n = n };
	struct nl_cache *cache;

	if (rtnl_route_alloc_cache(r->sk, AF_INET, 0, &cache) < 0)
		return;
	nl_cache_foreach(cache, stale_one, &s);
	nl_cache_free(cache);
	for (int i = 0; i < s.ndel; i++) {
		rtnl_route_delete(r->sk, s.del[i], 0);
		rtnl_route_put(s.del[i]);
	}
}

/* Outside mu. Returns the first error; keeps going. */
static int apply_nodes(struct berth_iptroute *r,
		       const struct berth_node_route *want, size_t n,
		       const struct berth_node_route *prev, size_t nprev)
{
	int err = 0, e;

	for (size_t i = 0; i < nprev; i++)
		if (!listed(want, n, &prev[i]))
			node_del(r, &prev[i]);
	for (size_t i = 0; i < n; i++) {
		if (want[i].self)
			continue;
		e = node_add(r, &want[i]);
		if (e)
			pr_warn("node %s: route/neighbour/fdb: %s",
				want[i].name, strerror(-e));
		err = err ?: e;
	}
	remove_stale_routes(r, want, n);
	return err;
}

/* ---- the Node watch ---- */

/* Called with loop.mu held; drops it while writing. */
static int node_sync(void *arg)
{
	struct berth_iptroute *r = arg;
	struct berth_node_route *want = NULL;
	json_object **objs = NULL;
	size_t n = 0, nw = 0;
	int err;

	err = berth_kview_objects(&r->loop.views[0], &objs, &n);
	if (!err)
		err = berth_nodes_parse(objs, n, r->node_name, &want, &nw);
	berth_kview_put(objs, n);
	if (err)
		goto out;
	/* heartbeats change nothing: skip unless due for a full pass */
	if (r->prev && nw == r->nprev &&
	    !memcmp(want, r->prev, nw * sizeof(*want)) &&
	    berth_mono_s() - r->last_full < (time_t)r->opts.full_sync_s) {
		free(want);
		return 0;
	}
	pthread_mutex_unlock(&r->loop.mu);
	err = apply_nodes(r, want, nw, r->prev, r->nprev);
	pthread_mutex_lock(&r->loop.mu);
	free(r->prev);
	r->prev = want;
	r->nprev = nw;
	r->last_full = err ? 0 : berth_mono_s();
	pr_info("node routes (kernel vxlan): %zu nodes%s", nw,
		err ? ", with errors" : "");
out:
	if (err)
		pr_warn("node routes: %s; again in %d ms", strerror(-err),
			RETRY_MS);
	return err;
}

/* ---- start/stop ---- */

static int init(struct berth_iptroute *r, const struct berth_iptroute_opts *o)
{
	struct berth_syncloop_opts lo = {
		.debounce_ms = DEBOUNCE_MS,
		.retry_ms = RETRY_MS,
		.sync = node_sync,
		.ctx = r,
	};
	const char *const nodes = "/api/v1/nodes";
	int err;

	r->opts = *o;
	if (!r->opts.full_sync_s)
		r->opts.full_sync_s = BERTH_IPT_FULL_SYNC_S;
	if (!r->opts.vni)
		r->opts.vni = BERTH_VXLAN_VNI_DEFAULT;
	lo.idle_ms = r->opts.full_sync_s * 1000L; /* the periodic full pass */
	err = berth_syncloop_init(&r->loop, &lo, &nodes, 1);
	if (err)
		return err;
	snprintf(r->node_name, sizeof(r->node_name), "%s",
		 o->node_name ? o->node_name : "");
	err = berth_node_ip_pick(o->node_ip, r->node_ip_s, sizeof(r->node_ip_s),
				 &r->node_ip);
	if (err)
		return err;
	r->sk = berth_nl_open();
	return r->sk ? 0 : -ENOMEM;
}

int berth_iptroute_start(const struct berth_iptroute_opts *opts,
			 struct berth_iptroute **out)
{
	struct berth_iptroute *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	err = init(r, opts);
	if (!err)
		err = berth_underlay_find(r->opts.device, r->node_ip,
					  r->node_ip_s, &r->under);
	if (!err)
		err = ensure_tunnel(r);
	if (err)
		goto fail;
	berth_tunnel_sysctls();
	pr_info("node %s: %s on %s (mtu %u), tunnel %s (vxlan id %u), pods mtu %u, no BPF",
		r->node_name, r->node_ip_s, r->under.name, r->under.mtu,
		BERTH_TUNNEL_DEV, r->opts.vni, berth_iptroute_pod_mtu(r));
	if (opts->kubeconfig) {
		err = berth_syncloop_start(&r->loop, opts->kubeconfig);
		if (err)
			goto fail;
	}
	*out = r;
	return 0;
fail:
	berth_iptroute_stop(r);
	return err;
}

void berth_iptroute_stop(struct berth_iptroute *r)
{
	if (!r)
		return;
	berth_syncloop_stop(&r->loop);
	free(r->prev);
	if (r->sk)
		nl_socket_free(r->sk);
	free(r);
}

uint32_t berth_iptroute_pod_mtu(const struct berth_iptroute *r)
{
	return r->under.mtu - BERTH_TUNNEL_OVERHEAD;
}

const char *berth_iptroute_node_ip(const struct berth_iptroute *r)
{
	return r->node_ip_s;
}

int berth_iptroute_set_pod_cidr(struct berth_iptroute *r, const char *cidr)
{
	return r->opts.masquerade ? berth_ipt_pod_masquerade(cidr) : 0;
}
