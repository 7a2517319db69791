/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Nodes -> this node's ipcache and host routes, as a diff (no kernel here:
 * the map and the routes come in as interfaces, so tests run on memory).
 *
 * Every Node with spec.podCIDR (IPv4) and an InternalIP gives:
 * - ipcache[podCIDR] = {tunnel_ip: its IP (0 for this node),
 *   flags: POD (| LOCAL for this node)};
 * - ipcache[IP/32] = {identity: HOST for this node, else REMOTE_NODE,
 *   flags: NODE (| LOCAL for this node)};
 * - for another node, a host route podCIDR dev BERTH_TUNNEL_DEV src
 *   <this node's IP> mtu <tunnel MTU>, so host-namespace traffic to its pods
 *   goes through the tunnel (the overlay program sets the tunnel key).
 * Entries and routes nothing asks for are removed; what is right is not
 * written again.
 */
#ifndef BERTH_AGENT_NODESYNC_H
#define BERTH_AGENT_NODESYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <berth/mapops.h>

struct berth_node_route {
	char name[254];
	bool self;
	uint32_t ip; /* InternalIP, network order */
	uint32_t net; /* podCIDR network, network order */
	uint8_t prefix;
};

/* A host route to a pod CIDR through the tunnel device. */
struct berth_hostroute {
	uint32_t dst; /* network order */
	uint8_t prefix;
	uint32_t src; /* preferred source, network order */
	uint32_t mtu; /* 0: none */
};

/*
 * The host routes berth owns (those on the tunnel device with berth's
 * protocol): list them, add or replace one, delete one. 0 or -errno.
 */
struct berth_route_ops {
	int (*list)(void *ctx, struct berth_hostroute **out, size_t *n);
	int (*replace)(void *ctx, const struct berth_hostroute *r);
	int (*del)(void *ctx, const struct berth_hostroute *r);
	void *ctx;
};

struct berth_nodesync_stats {
	size_t nodes; /* Nodes with a podCIDR and an InternalIP */
	size_t ipcache_written, ipcache_deleted;
	size_t routes_added, routes_deleted;
};

/* "10.1.2.0/24" -> network (network order, host bits cleared), prefix;
 * false if it is not an IPv4 CIDR. */
bool berth_parse_cidr4(const char *s, uint32_t *net, uint8_t *prefix);

/*
 * Node objects (json-c, as served) to routes; nodes without a usable
 * podCIDR or InternalIP are left out (debug log). @self names this node.
 * Sorted by name, unused bytes zeroed (sets compare with memcmp). -ENOMEM
 * is the only error.
 */
int berth_nodes_parse(json_object *const *nodes, size_t n, const char *self,
		      struct berth_node_route **out, size_t *nout);

/*
 * Make ipcache and the host routes match @nodes. @ipcache with no update
 * op (the map is not in this datapath build) is skipped with one log line;
 * @routes NULL: no routes. @tunnel_mtu goes on each route. Keeps going
 * after an error and returns the first one.
 */
int berth_nodesync(struct berth_map *ipcache,
		   const struct berth_route_ops *routes,
		   const struct berth_node_route *nodes, size_t n,
		   uint32_t tunnel_mtu, struct berth_nodesync_stats *st);

#endif
