/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's Node: registration, status (capacity, addresses, conditions)
 * every 10 s and the Lease in kube-node-lease renewed every 10 s, on a
 * thread of their own.
 */
#ifndef BERTH_AGENT_NODE_H
#define BERTH_AGENT_NODE_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

struct berth_kube;

#define BERTH_NODE_LEASE_S 40 /* leaseDurationSeconds */
#define BERTH_NODE_RENEW_S 10 /* lease renewal and status period */
#define BERTH_NODE_MAX_PODS 110

struct berth_node_opts {
	const char *name; /* required */
	const char *ip; /* InternalIP; NULL: the netns' first global IPv4 */
	const char *root; /* for ephemeral-storage and DiskPressure */
	int kubelet_port; /* daemonEndpoints.kubeletEndpoint.Port */
	unsigned int renew_s; /* 0: BERTH_NODE_RENEW_S */
	/* called (on the node thread) when spec.podCIDR is first seen */
	void (*pod_cidr_cb)(const char *cidr, void *arg);
	void *arg;
};

struct berth_node;

/* Registers the Node (creates it or takes the existing one over) and starts
 * the heartbeat thread. Fails only on bad options or no memory: an
 * unreachable server is retried by the thread. */
int berth_node_start(struct berth_kube *k, const struct berth_node_opts *opts,
		     struct berth_node **out);
void berth_node_stop(struct berth_node *n);
/* Waits up to timeout_ms for spec.podCIDR; 0, or -ETIMEDOUT. */
int berth_node_pod_cidr(struct berth_node *n, char *buf, size_t len,
			int timeout_ms);
/* The InternalIP in use ("" until known). */
const char *berth_node_ip(struct berth_node *n);
/* Ask for a status update now (e.g. a condition changed). */
void berth_node_kick(struct berth_node *n);

/* The Node object this machine would register (for tests). */
json_object *berth_node_object(const struct berth_node_opts *opts,
			       const char *ip);
/* "cpu" quantity of this machine or its cgroup's quota, e.g. "4" or "1500m" */
void berth_node_cpu(char *buf, size_t len);
/* First global IPv4 of the current netns into buf; -ENOENT if none. */
int berth_node_first_ip(char *buf, size_t len);

#endif
