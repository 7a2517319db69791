/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NetworkPolicy compiler: NetworkPolicies, Pods and Namespaces (json-c, as
 * the API serves them) -> for each pod of this node and each direction,
 * whether policy applies and which {peer identity, proto, port range} it
 * allows, as policy map entries (abi/policy.h); plus the CIDR identities of
 * the ipBlocks for the ipcache. No kernel here: a sync writes the diff of
 * two results.
 *
 * Semantics (networking.k8s.io/v1):
 * - a policy selects the pods of its namespace its podSelector matches
 *   ({} all); policyTypes absent: Ingress, plus Egress if it has egress
 *   rules. A selected direction denies what no rule of any selecting
 *   policy allows (the union of policies).
 * - a rule allows its peers (from/to; absent or empty: any peer) on its
 *   ports (absent or empty: every port of every protocol). A peer is
 *   podSelector (pods of the policy's namespace), namespaceSelector (every
 *   pod of the matching namespaces), both (the matching pods of the
 *   matching namespaces), or ipBlock cidr minus except.
 * - ports: protocol TCP (default), UDP or SCTP; port a number, a name or
 *   absent (all); endPort makes a number a range. A name is resolved on
 *   the pod that receives: the selected pod for ingress, each peer pod for
 *   egress (a peer without that name, or an ipBlock peer, gets nothing).
 * - selectors: matchLabels and matchExpressions In, NotIn, Exists,
 *   DoesNotExist.
 * - ipBlock selects addresses by their ipcache identity, so it selects
 *   what is outside the cluster: pods and nodes have identities of their
 *   own (as in Cilium; Kubernetes documents ipBlock for cluster-external
 *   addresses). Every prefix of every ipBlock (cidr and except) is an
 *   ipcache entry with a CIDR identity derived from the prefix and the
 *   prefixes directly inside it; an ipBlock allows the identities of the
 *   prefixes inside its cidr and outside each except.
 * - traffic between a pod and its own node is always allowed (the BPF
 *   side passes BERTH_ID_HOST before any lookup).
 */
#ifndef BERTH_AGENT_POLICY_H
#define BERTH_AGENT_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <berth/abi/policy.h>
#include <berth/mapops.h>

#include "identity.h"

struct berth_policy_entry {
	struct berth_policy_key key;
	struct berth_policy_val val;
};

/* A local pod's enforcement: BERTH_EP_F_*_ENFORCED. */
struct berth_policy_ep {
	uint32_t ip; /* network order */
	uint32_t flags;
};

/* An ipBlock prefix and its CIDR identity. */
struct berth_policy_cidr {
	uint32_t net; /* network order */
	uint8_t prefix;
	uint32_t id;
};

struct berth_policy_result {
	struct berth_policy_entry *entries; /* sorted by key, no duplicates */
	size_t n;
	struct berth_policy_ep *eps; /* local pods, sorted by ip */
	size_t neps;
	struct berth_policy_cidr *cidrs; /* sorted by (net, prefix) */
	size_t ncidrs;
	size_t errors; /* rules or peers left out as invalid (logged) */
};

struct berth_policy_cached;

/*
 * What each policy compiled to, kept from pass to pass, so that a pass
 * where a few policies changed compiles only those. A policy is known by
 * its uid and resourceVersion (else its whole JSON). Its result depends
 * on the rest too (pods, identities, namespaces, CIDR identities, the
 * node): a signature of that is checked every pass, and any change
 * empties the cache. Zero it to start; one compile at a time.
 */
struct berth_policy_cache {
	uint64_t world; /* the signature of everything but the policies */
	struct berth_policy_cached *v; /* sorted by key */
	size_t n;
	size_t hits, misses; /* of the last compile */
};
void berth_policy_cache_free(struct berth_policy_cache *c);

struct berth_policy_input {
	json_object *const *policies;
	size_t npolicies;
	json_object *const *namespaces;
	size_t nnamespaces;
	const struct berth_idtable *ids; /* every pod of the cluster */
	const char *self; /* this node's name: whose pods get entries */
	struct berth_policy_cache *cache; /* NULL: compile every policy */
};

/* Compile; 0 or -ENOMEM. Invalid parts are skipped and counted. */
int berth_policy_compile(const struct berth_policy_input *in,
			 struct berth_policy_result *out);
void berth_policy_result_free(struct berth_policy_result *r);

/*
 * Would the result let this through? The lookup the BPF side does
 * (abi/policy.h), on the entries in memory: for tests and berthctl.
 * peer_id is the peer's identity (BERTH_ID_WORLD if the ipcache has none).
 */
bool berth_policy_allows(const struct berth_policy_result *r, uint32_t ep_ip,
			 uint8_t dir, uint32_t peer_id, uint8_t proto,
			 uint16_t port);

/* The ipcache identity of an address outside the cluster (CIDR or world). */
uint32_t berth_policy_cidr_identity(const struct berth_policy_result *r,
				    uint32_t ip);

/* A diff: entries to add (new or changed) and keys to remove. */
struct berth_policy_diff {
	struct berth_policy_entry *add;
	size_t nadd;
	struct berth_policy_key *del;
	size_t ndel;
	struct berth_policy_ep *ep_on; /* flags gaining bits (written first) */
	size_t neps_on;
	struct berth_policy_ep *ep_off; /* flags losing bits (written last) */
	size_t neps_off;
};

/* old may be NULL (empty). 0 or -ENOMEM. */
int berth_policy_diff(const struct berth_policy_result *old,
		      const struct berth_policy_result *new,
		      struct berth_policy_diff *d);
void berth_policy_diff_free(struct berth_policy_diff *d);

/* Split [lo, hi] into port prefixes: fills keys' port and prefixlen
 * (from base, the key up to proto). Returns how many (<= 32). */
size_t berth_policy_range(const struct berth_policy_key *base, uint16_t lo,
			  uint16_t hi, struct berth_policy_key *out);

#endif
