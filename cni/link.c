// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* veth pairs, addresses, routes and neighbours through libnl-route-3. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if.h>
#include <linux/neighbour.h>
#include <linux/rtnetlink.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <netlink/netlink.h>
#include <netlink/route/addr.h>
#include <netlink/route/link.h>
#include <netlink/route/link/veth.h>
#include <netlink/route/neighbour.h>
#include <netlink/route/route.h>

#include "link.h"

static struct nl_sock *nl_open(char *err, size_t errlen)
{
	struct nl_sock *sk = nl_socket_alloc();
	int e;

	if (!sk) {
		snprintf(err, errlen, "netlink: out of memory");
		return NULL;
	}
	e = nl_connect(sk, NETLINK_ROUTE);
	if (e < 0) {
		snprintf(err, errlen, "netlink connect: %s", nl_geterror(e));
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

/* libnl's error as -errno-ish for callers; the text goes into err */
static int nl_fail(int e, char *err, size_t errlen, const char *what,
		   const char *name)
{
	snprintf(err, errlen, "%s %s: %s", what, name, nl_geterror(e));
	return e == -NLE_OBJ_NOTFOUND || e == -NLE_NODEV ? -ENODEV :
	       e == -NLE_EXIST				 ? -EEXIST :
								   -EIO;
}

/* Run fn inside the netns at path, then come back. */
static int in_netns(const char *path, int (*fn)(void *), void *arg,
		    char *err, size_t errlen)
{
	int self, target, ret;

	self = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
	if (self < 0) {
		snprintf(err, errlen, "open own netns: %s", strerror(errno));
		return -errno;
	}
	target = open(path, O_RDONLY | O_CLOEXEC);
	if (target < 0) {
		ret = -errno;
		snprintf(err, errlen, "open netns %s: %s", path,
			 strerror(errno));
		close(self);
		return ret;
	}
	if (setns(target, CLONE_NEWNET)) {
		ret = -errno;
		snprintf(err, errlen, "enter netns %s: %s", path,
			 strerror(errno));
		goto out;
	}
	ret = fn(arg);
	if (setns(self, CLONE_NEWNET)) {
		/* nothing later may run in the wrong netns */
		fprintf(stderr, "berth-cni: return from netns %s: %s\n", path,
			strerror(errno));
		_exit(1);
	}
out:
	close(target);
	close(self);
	return ret;
}

int berth_cni_veth_create(const char *host, const char *ifname,
			  const char *netns_path, uint32_t mtu, char *err,
			  size_t errlen)
{
	struct rtnl_link *veth = NULL, *peer = NULL;
	struct nl_sock *sk;
	int nsfd, e, ret = 0;

	nsfd = open(netns_path, O_RDONLY | O_CLOEXEC);
	if (nsfd < 0) {
		snprintf(err, errlen, "open netns %s: %s", netns_path,
			 strerror(errno));
		return -errno;
	}
	sk = nl_open(err, errlen);
	if (!sk) {
		close(nsfd);
		return -EIO;
	}
	veth = rtnl_link_veth_alloc();
	if (!veth) {
		ret = -ENOMEM;
		snprintf(err, errlen, "veth: out of memory");
		goto out;
	}
	peer = rtnl_link_veth_get_peer(veth);
	rtnl_link_set_name(veth, host);
	rtnl_link_set_mtu(veth, mtu);
	rtnl_link_set_name(peer, ifname);
	rtnl_link_set_mtu(peer, mtu);
	rtnl_link_set_ns_fd(peer, nsfd);
	e = rtnl_link_add(sk, veth, NLM_F_CREATE | NLM_F_EXCL);
	if (e < 0)
		ret = nl_fail(e, err, errlen, "create veth", host);
out:
	if (peer)
		rtnl_link_put(peer);
	rtnl_link_put(veth);
	nl_socket_free(sk);
	close(nsfd);
	return ret;
}

static int link_up(struct nl_sock *sk, const char *name, int *ifindex,
		   char *err, size_t errlen)
{
	struct rtnl_link *link, *change;
	int e;

	e = rtnl_link_get_kernel(sk, 0, name, &link);
	if (e < 0)
		return nl_fail(e, err, errlen, "find link", name);
	if (ifindex)
		*ifindex = rtnl_link_get_ifindex(link);
	change = rtnl_link_alloc();
	rtnl_link_set_flags(change, IFF_UP);
	e = rtnl_link_change(sk, link, change, 0);
	rtnl_link_put(change);
	rtnl_link_put(link);
	return e < 0 ? nl_fail(e, err, errlen, "bring up", name) : 0;
}

static struct nl_addr *v4(uint32_t ip, int prefix)
{
	uint32_t be = htonl(ip);
	struct nl_addr *a = nl_addr_build(AF_INET, &be, 4);

	if (a)
		nl_addr_set_prefixlen(a, prefix);
	return a;
}

/* route dst/prefix dev ifindex [via gw] */
static int route_add(struct nl_sock *sk, uint32_t dst, int prefix,
		     int ifindex, uint32_t gw, int scope, char *err,
		     size_t errlen, const char *what)
{
	struct rtnl_route *r = rtnl_route_alloc();
	struct rtnl_nexthop *nh = rtnl_route_nh_alloc();
	struct nl_addr *d = v4(dst, prefix), *g = NULL;
	int e;

	rtnl_route_set_family(r, AF_INET);
	rtnl_route_set_dst(r, d);
	rtnl_route_set_scope(r, scope);
	rtnl_route_set_table(r, RT_TABLE_MAIN);
	rtnl_route_set_protocol(r, RTPROT_STATIC);
	rtnl_route_nh_set_ifindex(nh, ifindex);
	if (gw) {
		g = v4(gw, 32);
		rtnl_route_nh_set_gateway(nh, g);
	}
	rtnl_route_add_nexthop(r, nh);
	e = rtnl_route_add(sk, r, NLM_F_CREATE | NLM_F_REPLACE);
	nl_addr_put(d);
	if (g)
		nl_addr_put(g);
	rtnl_route_put(r);
	return e < 0 ? nl_fail(e, err, errlen, "add route", what) : 0;
}

static int neigh_add(struct nl_sock *sk, int ifindex, uint32_t ip,
		     const char *mac, char *err, size_t errlen)
{
	struct rtnl_neigh *n = rtnl_neigh_alloc();
	struct nl_addr *dst = v4(ip, 32), *ll = NULL;
	int e;

	e = nl_addr_parse(mac, AF_LLC, &ll);
	if (e < 0) {
		snprintf(err, errlen, "parse MAC %s: %s", mac, nl_geterror(e));
		goto out;
	}
	rtnl_neigh_set_ifindex(n, ifindex);
	rtnl_neigh_set_dst(n, dst);
	rtnl_neigh_set_lladdr(n, ll);
	rtnl_neigh_set_state(n, NUD_PERMANENT);
	e = rtnl_neigh_add(sk, n, NLM_F_CREATE | NLM_F_REPLACE);
	if (e < 0)
		snprintf(err, errlen, "add neighbour %s: %s", mac,
			 nl_geterror(e));
out:
	nl_addr_put(dst);
	if (ll)
		nl_addr_put(ll);
	rtnl_neigh_put(n);
	return e < 0 ? -EIO : 0;
}

struct pod_setup {
	const char *ifname;
	uint32_t ip;
	const char *host_mac;
	char *pod_mac;
	char *err;
	size_t errlen;
};

static int pod_setup(void *arg)
{
	struct pod_setup *p = arg;
	struct rtnl_addr *addr = NULL;
	struct nl_addr *local = NULL;
	struct nl_sock *sk;
	uint32_t gw;
	int ifindex, e, ret;

	inet_pton(AF_INET, BERTH_CNI_GW, &gw);
	gw = ntohl(gw);
	sk = nl_open(p->err, p->errlen);
	if (!sk)
		return -EIO;
	ret = link_up(sk, "lo", NULL, p->err, p->errlen);
	if (ret)
		goto out;
	ret = link_up(sk, p->ifname, &ifindex, p->err, p->errlen);
	if (ret)
		goto out;
	addr = rtnl_addr_alloc();
	local = v4(p->ip, 32);
	rtnl_addr_set_ifindex(addr, ifindex);
	rtnl_addr_set_local(addr, local);
	e = rtnl_addr_add(sk, addr, NLM_F_REPLACE);
	if (e < 0) {
		ret = nl_fail(e, p->err, p->errlen, "add address on",
			      p->ifname);
		goto out;
	}
	ret = route_add(sk, gw, 32, ifindex, 0, RT_SCOPE_LINK, p->err,
			p->errlen, BERTH_CNI_GW);
	if (!ret)
		ret = route_add(sk, 0, 0, ifindex, gw, RT_SCOPE_UNIVERSE,
				p->err, p->errlen, "default");
	if (!ret)
		ret = neigh_add(sk, ifindex, gw, p->host_mac, p->err,
				p->errlen);
	if (!ret && berth_cni_link_mac(p->ifname, p->pod_mac, 32)) {
		snprintf(p->err, p->errlen, "read MAC of %s", p->ifname);
		ret = -ENODEV;
	}
out:
	if (local)
		nl_addr_put(local);
	if (addr)
		rtnl_addr_put(addr);
	nl_socket_free(sk);
	return ret;
}

int berth_cni_pod_setup(const char *netns_path, const char *ifname,
			uint32_t ip, const char *host_mac, char *pod_mac,
			char *err, size_t errlen)
{
	struct pod_setup p = { ifname, ip, host_mac, pod_mac, err, errlen };

	return in_netns(netns_path, pod_setup, &p, err, errlen);
}

int berth_cni_host_setup(const char *host, uint32_t ip, const char *pod_mac,
			 char *err, size_t errlen)
{
	struct nl_sock *sk = nl_open(err, errlen);
	int ifindex, ret;

	if (!sk)
		return -EIO;
	ret = link_up(sk, host, &ifindex, err, errlen);
	if (!ret)
		ret = route_add(sk, ip, 32, ifindex, 0, RT_SCOPE_LINK, err,
				errlen, host);
	if (!ret)
		ret = neigh_add(sk, ifindex, ip, pod_mac, err, errlen);
	nl_socket_free(sk);
	return ret;
}

int berth_cni_link_mac(const char *name, char *mac, size_t len)
{
	struct rtnl_link *link;
	struct nl_sock *sk;
	char e[128];
	int ret = -ENODEV;

	sk = nl_open(e, sizeof(e));
	if (!sk)
		return -EIO;
	if (rtnl_link_get_kernel(sk, 0, name, &link) >= 0) {
		struct nl_addr *a = rtnl_link_get_addr(link);

		if (a) {
			nl_addr2str(a, mac, len);
			ret = 0;
		}
		rtnl_link_put(link);
	}
	nl_socket_free(sk);
	return ret;
}

int berth_cni_link_del(const char *name, char *err, size_t errlen)
{
	struct rtnl_link *link;
	struct nl_sock *sk = nl_open(err, errlen);
	int e, ret = 0;

	if (!sk)
		return -EIO;
	e = rtnl_link_get_kernel(sk, 0, name, &link);
	if (e >= 0) {
		e = rtnl_link_delete(sk, link);
		if (e < 0 && e != -NLE_OBJ_NOTFOUND && e != -NLE_NODEV)
			ret = nl_fail(e, err, errlen, "delete link", name);
		rtnl_link_put(link);
	}
	nl_socket_free(sk);
	return ret;
}

struct pod_link {
	const char *ifname;
	uint32_t ip;
	char *err;
	size_t errlen;
};

static int pod_link_del(void *arg)
{
	struct pod_link *p = arg;

	return berth_cni_link_del(p->ifname, p->err, p->errlen);
}

int berth_cni_pod_link_del(const char *netns_path, const char *ifname,
			   char *err, size_t errlen)
{
	struct pod_link p = { ifname, 0, err, errlen };

	if (!netns_path || !*netns_path || access(netns_path, F_OK))
		return 0;
	return in_netns(netns_path, pod_link_del, &p, err, errlen);
}

static int pod_check(void *arg)
{
	struct pod_link *p = arg;
	struct nl_sock *sk = nl_open(p->err, p->errlen);
	struct rtnl_link *link;
	struct nl_cache *addrs = NULL;
	struct nl_object *o;
	int e, ifindex, ret = -EADDRNOTAVAIL;

	if (!sk)
		return -EIO;
	e = rtnl_link_get_kernel(sk, 0, p->ifname, &link);
	if (e < 0) {
		ret = nl_fail(e, p->err, p->errlen, "find", p->ifname);
		goto out;
	}
	ifindex = rtnl_link_get_ifindex(link);
	if (!(rtnl_link_get_flags(link) & IFF_UP)) {
		snprintf(p->err, p->errlen, "%s is down", p->ifname);
		ret = -ENETDOWN;
		rtnl_link_put(link);
		goto out;
	}
	rtnl_link_put(link);
	e = rtnl_addr_alloc_cache(sk, &addrs);
	if (e < 0) {
		ret = nl_fail(e, p->err, p->errlen, "list addresses of",
			      p->ifname);
		goto out;
	}
	for (o = nl_cache_get_first(addrs); o; o = nl_cache_get_next(o)) {
		struct rtnl_addr *a = (struct rtnl_addr *)o;
		struct nl_addr *l = rtnl_addr_get_local(a);
		uint32_t be;

		if (rtnl_addr_get_ifindex(a) != ifindex || !l ||
		    nl_addr_get_family(l) != AF_INET)
			continue;
		memcpy(&be, nl_addr_get_binary_addr(l), 4);
		if (ntohl(be) == p->ip && rtnl_addr_get_prefixlen(a) == 32)
			ret = 0;
	}
	if (ret) {
		struct in_addr ia = { .s_addr = htonl(p->ip) };

		snprintf(p->err, p->errlen, "%s does not have %s/32",
			 p->ifname, inet_ntoa(ia));
	}
out:
	if (addrs)
		nl_cache_free(addrs);
	nl_socket_free(sk);
	return ret;
}

int berth_cni_pod_check(const char *netns_path, const char *ifname,
			uint32_t ip, char *err, size_t errlen)
{
	struct pod_link p = { ifname, ip, err, errlen };

	return in_netns(netns_path, pod_check, &p, err, errlen);
}
