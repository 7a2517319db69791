// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Helpers of the node's routing modes (nlutil.h). */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <netlink/netlink.h>

#include <berth/abi/route.h>
#include <berth/log.h>
#include <berth/netdev.h>

#include "nlutil.h"
#include "node.h"

#define LINK_WAIT_MS 2000 /* a deleted tunnel device takes this to vanish */

struct nl_sock *berth_nl_open(void)
{
	struct nl_sock *sk = nl_socket_alloc();
	int e;

	if (!sk)
		return NULL;
	e = nl_connect(sk, NETLINK_ROUTE);
	if (e < 0) {
		pr_err("netlink: %s", nl_geterror(e));
		nl_socket_free(sk);
		return NULL;
	}
	return sk;
}

int berth_nl_errno(int e)
{
	switch (-e) {
	case 0:
		return 0;
	case NLE_OBJ_NOTFOUND:
	case NLE_NODEV:
		return -ENODEV;
	case NLE_EXIST:
		return -EEXIST;
	case NLE_PERM:
		return -EPERM;
	case NLE_NOMEM:
		return -ENOMEM;
	default:
		return -EIO;
	}
}

/* /proc/sys/net is the netns of the process that opens it: the agent's. */
int berth_sysctl_set(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int err = 0;

	if (!f)
		return -errno;
	if (fputs(val, f) < 0)
		err = -EIO;
	if (fclose(f) && !err)
		err = -errno;
	if (err)
		pr_warn("sysctl %s=%s: %s", path, val, strerror(-err));
	return err;
}

int berth_device_of(uint32_t ip, char *name, size_t len)
{
	struct ifaddrs *ifs, *i;
	int ret = -ENODEV;

	if (getifaddrs(&ifs))
		return -errno;
	for (i = ifs; i; i = i->ifa_next) {
		if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET ||
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr != ip)
			continue;
		snprintf(name, len, "%s", i->ifa_name);
		ret = 0;
		break;
	}
	freeifaddrs(ifs);
	return ret;
}

struct timespec berth_after_ms(long ms)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	t.tv_sec += ms / 1000;
	t.tv_nsec += (ms % 1000) * 1000000L;
	if (t.tv_nsec >= 1000000000L) {
		t.tv_sec++;
		t.tv_nsec -= 1000000000L;
	}
	return t;
}

time_t berth_mono_s(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec;
}

int berth_netdev_info(struct berth_netdev_info *d)
{
	int mtu = 0, err;

	d->ifindex = if_nametoindex(d->name);
	if (!d->ifindex)
		return -errno;
	err = berth_netdev_mac_mtu(d->name, d->mac, &mtu);
	d->mtu = (uint32_t)mtu;
	return err;
}

int berth_node_ip_pick(const char *given, char *s, size_t len, uint32_t *ip)
{
	struct in_addr a;

	if (given)
		snprintf(s, len, "%s", given);
	else if (berth_node_first_ip(s, len))
		s[0] = '\0';
	if (inet_pton(AF_INET, s, &a) != 1) {
		pr_err("node IP '%s' is not an IPv4 address (give --node-ip)",
		       s);
		return -EINVAL;
	}
	*ip = a.s_addr;
	return 0;
}

int berth_underlay_find(const char *device, uint32_t node_ip,
			const char *node_ip_s, struct berth_netdev_info *u)
{
	int err;

	if (device) {
		if (snprintf(u->name, sizeof(u->name), "%s", device) >=
		    (int)sizeof(u->name))
			return -ENAMETOOLONG;
	} else {
		err = berth_device_of(node_ip, u->name, sizeof(u->name));
		if (err) {
			pr_err("no device holds the node IP %s (give --device)",
			       node_ip_s);
			return err;
		}
	}
	err = berth_netdev_info(u);
	if (err) {
		pr_err("underlay device %s: %s", u->name, strerror(-err));
		return err;
	}
	if (u->mtu <= BERTH_TUNNEL_OVERHEAD + 68) {
		pr_err("underlay device %s: MTU %u leaves no room for the tunnel",
		       u->name, u->mtu);
		return -EINVAL;
	}
	return 0;
}

/*
 * The tunnel carries IPv4 only: without this its IPv6 (link-local address,
 * DAD, router solicitations, MLD) goes out with no node to send it to. A
 * kernel without IPv6 has no such file and nothing to turn off.
 */
void berth_tunnel_no_ipv6(void)
{
	char path[128];
	int err;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv6/conf/%s/disable_ipv6",
		 BERTH_TUNNEL_DEV);
	err = berth_sysctl_set(path, "1");
	if (err == -ENOENT)
		pr_debug("tunnel %s: no IPv6 in this kernel", BERTH_TUNNEL_DEV);
	else if (err)
		pr_warn("tunnel %s: disable IPv6: %s", BERTH_TUNNEL_DEV,
			strerror(-err));
}

int berth_tunnel_sysctls(void)
{
	char path[128];
	int err;

	err = berth_sysctl_set("/proc/sys/net/ipv4/ip_forward", "1");
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/rp_filter",
		 BERTH_TUNNEL_DEV);
	/* decapsulated packets come from pod IPs no route points back into
	 * the tunnel for; strict reverse-path filtering would drop them */
	return berth_sysctl_set(path, "0") ?: err;
}

void berth_link_wait_gone(const char *name)
{
	for (int i = 0; i < LINK_WAIT_MS / 10 && if_nametoindex(name); i++)
		usleep(10000);
}
