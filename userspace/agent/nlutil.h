/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Small helpers the node's two routing modes share (routing.c: BPF,
 * ipt_route.c: kernel VXLAN): a route netlink socket, libnl errors as
 * -errno, sysctls of the agent's netns, the device holding an address,
 * monotonic deadlines.
 */
#ifndef BERTH_AGENT_NLUTIL_H
#define BERTH_AGENT_NLUTIL_H

#include <net/if.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct nl_sock;

struct berth_netdev_info {
	char name[IFNAMSIZ];
	int ifindex;
	uint32_t mtu;
	uint8_t mac[6];
};

/* A connected NETLINK_ROUTE socket, or NULL (logged). */
struct nl_sock *berth_nl_open(void);
/* libnl's error (negative NLE_*) as -errno; 0 stays 0. */
int berth_nl_errno(int e);
/* Write a /proc/sys file of the caller's netns; -errno, logged. */
int berth_sysctl_set(const char *path, const char *val);
/* The device holding IPv4 ip (network order); -ENODEV if none. */
int berth_device_of(uint32_t ip, char *name, size_t len);
/* d->name's ifindex, MTU and MAC; -errno. */
int berth_netdev_info(struct berth_netdev_info *d);
/*
 * The node's address: given (dotted), or the machine's first; into s and
 * *ip (network order). -EINVAL (logged) if that is no IPv4 address.
 */
int berth_node_ip_pick(const char *given, char *s, size_t len, uint32_t *ip);
/*
 * The underlay: device, or the one holding node_ip (node_ip_s for the log),
 * with room for the tunnel's overhead in its MTU. -errno, logged.
 */
int berth_underlay_find(const char *device, uint32_t node_ip,
			const char *node_ip_s, struct berth_netdev_info *u);
/* Sysctls of the tunnel (BERTH_TUNNEL_DEV): IPv6 off (before it is up). */
void berth_tunnel_no_ipv6(void);
/* Forwarding on, the tunnel's reverse-path filter off; -errno of the first. */
int berth_tunnel_sysctls(void);
/* Wait (bounded) for a deleted device name to vanish. */
void berth_link_wait_gone(const char *name);

/* CLOCK_MONOTONIC: now + ms, and now in seconds. */
struct timespec berth_after_ms(long ms);
time_t berth_mono_s(void);

#endif
