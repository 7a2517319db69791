/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node's part in a cluster (kubelet mode): at start, the underlay
 * device (the one holding the node IP, or --device), the VXLAN device
 * BERTH_TUNNEL_DEV (external/collect_md, dstport BERTH_VXLAN_PORT, MTU =
 * underlay MTU - BERTH_TUNNEL_OVERHEAD, NOARP, BERTH_TUNNEL_MAC, up;
 * re-created when a setting is wrong), ip_forward=1 and rp_filter=0 on the
 * tunnel in the agent's netns, the node map, then the overlay and underlay
 * programs. Then a watch on Nodes keeps the ipcache and the host routes to
 * other nodes' pod CIDRs equal to them (nodesync.h).
 *
 * What was set up is written to ROOT/routing.json (devices, MTUs, the
 * NodePort XDP mode, the last Node sync), and the XDP mode also goes into
 * ROOT/sync-status.json ("xdpMode") through the proxy.
 */
#ifndef BERTH_AGENT_ROUTING_H
#define BERTH_AGENT_ROUTING_H

#include <stdbool.h>
#include <stdint.h>

#include <berth/datapath.h>

/* the same on every node: frames from the tunnel carry this source MAC */
#define BERTH_TUNNEL_MAC "02:be:27:00:00:01"
/* rtnetlink protocol of berth's host routes, so only ours are touched */
#define BERTH_RTPROT 0xbe

struct berth_routing_opts {
	const char *kubeconfig; /* Nodes are watched here; NULL: no watch */
	const char *node_name;
	const char *node_ip; /* NULL: the netns' first IPv4 */
	const char *device; /* underlay; NULL: the one holding node_ip */
	const char *root; /* ROOT/routing.json */
	enum berth_nodeport_accel accel;
	bool masquerade;
	uint16_t nodeport_min, nodeport_max; /* 0: the defaults */
	uint32_t vni; /* VXLAN network id; 0: BERTH_VXLAN_VNI_DEFAULT */
	struct berth_dp *dp;
};

struct berth_routing;

/*
 * Devices, sysctls, node map, attach, then the Node watch. A datapath
 * without the overlay/host programs is logged and not fatal; a missing
 * underlay or a failed tunnel set-up is.
 */
int berth_routing_start(const struct berth_routing_opts *opts,
			struct berth_routing **out);
/* Stop the watch; devices, routes and maps stay. NULL is fine. */
void berth_routing_stop(struct berth_routing *r);

/* Pod MTU (underlay - BERTH_TUNNEL_OVERHEAD); the node IP; the XDP mode. */
uint32_t berth_routing_pod_mtu(const struct berth_routing *r);
const char *berth_routing_node_ip(const struct berth_routing *r);
const char *berth_routing_xdp_mode(const struct berth_routing *r);

/* --uninstall: remove BERTH_TUNNEL_DEV (its routes go with it). */
int berth_routing_uninstall(void);

/* "30000-32767" -> min, max; -EINVAL if malformed or empty. */
int berth_parse_port_range(const char *s, uint16_t *min, uint16_t *max);

#endif
