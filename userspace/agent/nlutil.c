// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Helpers of the node's routing modes (nlutil.h). */
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include <netlink/netlink.h>

#include <berth/log.h>

#include "nlutil.h"

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
