/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Small helpers the node's two routing modes share (routing.c: BPF,
 * ipt_route.c: kernel VXLAN): a route netlink socket, libnl errors as
 * -errno, sysctls of the agent's netns, the device holding an address,
 * monotonic deadlines.
 */
#ifndef BERTH_AGENT_NLUTIL_H
#define BERTH_AGENT_NLUTIL_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct nl_sock;

/* A connected NETLINK_ROUTE socket, or NULL (logged). */
struct nl_sock *berth_nl_open(void);
/* libnl's error (negative NLE_*) as -errno; 0 stays 0. */
int berth_nl_errno(int e);
/* Write a /proc/sys file of the caller's netns; -errno, logged. */
int berth_sysctl_set(const char *path, const char *val);
/* The device holding IPv4 ip (network order); -ENODEV if none. */
int berth_device_of(uint32_t ip, char *name, size_t len);
/* CLOCK_MONOTONIC: now + ms, and now in seconds. */
struct timespec berth_after_ms(long ms);
time_t berth_mono_s(void);

#endif
