// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Device facts through the ioctls every kernel has (no netlink socket to set up). */
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <berth/netdev.h>

int berth_netdev_mac_mtu(const char *ifname, uint8_t mac[6], int *mtu)
{
	struct ifreq ifr = { 0 };
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), err = 0;

	if (fd < 0)
		return -errno;
	snprintf(ifr.ifr_name, sizeof(ifr.ifr_name), "%s", ifname);
	if (mtu) {
		if (ioctl(fd, SIOCGIFMTU, &ifr))
			err = -errno;
		else
			*mtu = ifr.ifr_mtu;
	}
	if (!err && ioctl(fd, SIOCGIFHWADDR, &ifr))
		err = -errno;
	if (!err)
		memcpy(mac, ifr.ifr_hwaddr.sa_data, 6);
	close(fd);
	return err;
}
