/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* What the agent and its tools read of a network device in this netns. */
#ifndef BERTH_NETDEV_H
#define BERTH_NETDEV_H

#include <stdint.h>

/* The device's hardware address (6 bytes) and, if mtu is not NULL, its MTU. 0 or -errno. */
int berth_netdev_mac_mtu(const char *ifname, uint8_t mac[6], int *mtu);

#endif
