/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pod's veth with libnl-route-3. Addressing (Cilium-style): the pod
 * gets its IP as a /32 and reaches everything through a link-local
 * gateway, BERTH_CNI_GW (a route "169.254.1.1 dev eth0 scope link", a
 * default route via it, and a permanent neighbour entry naming the host
 * veth's MAC, so the pod never ARPs). The host side has no address: a
 * /32 route to the pod through the veth and a permanent neighbour entry
 * for the pod's MAC. No bridge, no proxy ARP, no per-node subnet on the
 * link: the datapath's tc programs see every packet on the host veth.
 */
#ifndef BERTH_CNI_LINK_H
#define BERTH_CNI_LINK_H

#include <stddef.h>
#include <stdint.h>

#define BERTH_CNI_GW "169.254.1.1"

/* Create host<->ifname, ifname moved into the netns at netns_path. */
int berth_cni_veth_create(const char *host, const char *ifname,
			  const char *netns_path, uint32_t mtu, char *err,
			  size_t errlen);
/* Configure the pod side (address, routes, gateway neighbour, up), return its MAC. */
int berth_cni_pod_setup(const char *netns_path, const char *ifname,
			uint32_t ip, const char *host_mac, char *pod_mac,
			char *err, size_t errlen);
/* Bring the host side up with a /32 route and neighbour entry for the pod. */
int berth_cni_host_setup(const char *host, uint32_t ip, const char *pod_mac,
			 char *err, size_t errlen);
/* MAC of a link of this netns ("aa:bb:.."), 0 or -ENODEV. */
int berth_cni_link_mac(const char *name, char *mac, size_t len);
/* Delete a link of this netns; a missing one is not an error. */
int berth_cni_link_del(const char *name, char *err, size_t errlen);
/* Delete ifname in the netns (missing netns or link: 0). */
int berth_cni_pod_link_del(const char *netns_path, const char *ifname,
			   char *err, size_t errlen);
/* Is ifname in the netns, up, with ip/32? 0 or -errno with err. */
int berth_cni_pod_check(const char *netns_path, const char *ifname,
			uint32_t ip, char *err, size_t errlen);

#endif
