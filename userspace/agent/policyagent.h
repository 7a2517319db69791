/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's NetworkPolicy loop: list+watch Pods, Namespaces,
 * NetworkPolicies and Nodes (kview), and after each burst of changes
 * recompute identities and the compiled policy and sync them into the
 * maps (policysync.h). One thread; a failed sync is retried.
 */
#ifndef BERTH_AGENT_POLICYAGENT_H
#define BERTH_AGENT_POLICYAGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "policysync.h"

struct berth_policyagent_opts {
	const char *kubeconfig;
	const char *node_name;
	/* <root>/policy.json: identities, endpoints, entries (berthctl); NULL: none */
	const char *root;
	struct berth_policy_maps maps; /* NULL members: not written */
};

struct berth_policyagent;

/* What a NetworkPolicy loop (BPF here, iptables in ipt_netpol.c) watches */
enum {
	BERTH_PV_PODS,
	BERTH_PV_NAMESPACES,
	BERTH_PV_POLICIES,
	BERTH_PV_NODES,
	BERTH_PV_MAX
};
/* their collections, by the enum above */
extern const char *const berth_policy_collections[BERTH_PV_MAX];

/* Start watching and syncing; 0 or -errno (logged). */
int berth_policyagent_start(const struct berth_policyagent_opts *opts,
			    struct berth_policyagent **out);
void berth_policyagent_stop(struct berth_policyagent *pa);

/*
 * The pod with address ip (network order) as of the last sync: "ns/name"
 * into name, its uid into uid (may be NULL). Any thread; false if none.
 */
bool berth_policyagent_pod(struct berth_policyagent *pa, uint32_t ip,
			   char *name, size_t len, char *uid, size_t uidlen);

/*
 * A pod of this node got address ip (dotted) from CNI: judge it in the
 * next pass (its API object has no podIP yet) and wait up to timeout_ms
 * for that pass to write the maps. Any thread. 0, or -ETIMEDOUT (the pod
 * is judged when the API catches up), -ENOMEM.
 */
int berth_policyagent_local_pod(struct berth_policyagent *pa, const char *ns,
				const char *name, const char *ip,
				long timeout_ms);

/* The objects the API holds, each collection as an array of json-c. */
struct berth_policy_objects {
	json_object *const *pods, *const *namespaces, *const *policies,
							      *const *nodes;
	size_t npods, nnamespaces, npolicies, nnodes;
};

/*
 * One pass: objects -> identities -> compiled policy -> maps, and the
 * names of identities and pods into state_path (JSON, NULL: none): what
 * the thread runs on the views; for tests. 0 or the first -errno.
 *
 * state_path holds {"identities": [{"id", "namespace", "labels"} or
 * {"id", "cidr"}], "pods": [{"ip", "namespace", "name", "node",
 * "identity"}]}.
 */
int berth_policyagent_sync(const struct berth_policy_objects *o,
			   const char *self,
			   const struct berth_policy_maps *maps,
			   const char *state_path,
			   struct berth_policysync_stats *st);

#endif
