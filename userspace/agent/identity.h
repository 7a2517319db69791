/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Security identities of pods: one number per distinct {namespace, pod
 * labels}, derived from the labels themselves so every node computes the
 * same number without a central allocator, and pod IP -> identity entries
 * for the ipcache.
 *
 * Why {namespace, pod labels} and not the namespace's labels too: at any
 * moment a namespace's labels are a function of its name, so a
 * namespaceSelector can be evaluated on the namespace of an identity; a
 * relabelled namespace then recompiles policy instead of renumbering
 * every pod in it.
 *
 * Number: BERTH_ID_LABEL_MIN + FNV-1a(canonical labels) mod the label
 * range (24 bits, fits a VXLAN VNI). Two label sets hashing to the same
 * number are told apart deterministically: all distinct sets are sorted
 * by their canonical text and, in that order, each takes its hash or the
 * next free number after it. Every agent sees the same Pods through the
 * API, so every agent resolves a collision the same way; with n label sets
 * a collision happens with probability about n^2 / 2^25 (3% at 1,000).
 */
#ifndef BERTH_AGENT_IDENTITY_H
#define BERTH_AGENT_IDENTITY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <berth/abi/route.h>

#include "nodesync.h"

/* One distinct label set. */
struct berth_ident {
	uint32_t id;
	char *ns;
	json_object *labels; /* the pod labels (a reference) */
	char *key; /* canonical text: ns, then sorted k=v, NUL-separated */
	size_t key_len;
};

/* A pod as policy sees it. */
struct berth_ident_pod {
	char *ns, *name, *node;
	uint32_t ip; /* network order */
	uint32_t id; /* its berth_ident's */
	size_t ix; /* that berth_ident's index in ids[] */
	json_object *obj; /* the Pod (a reference): containerPorts */
	json_object *labels;
};

struct berth_idtable {
	struct berth_ident *ids; /* sorted by key */
	size_t n;
	struct berth_ident_pod *pods; /* pods with an IPv4 podIP, sorted by ip */
	size_t npods;
};

/*
 * Pods (json-c, as served) -> identities. Pods without an IPv4 podIP,
 * hostNetwork pods (their address is the node's) and finished pods
 * (Succeeded, Failed) have none. 0 or -ENOMEM.
 */
int berth_identities_build(json_object *const *pods, size_t n,
			   struct berth_idtable *out);
void berth_identities_free(struct berth_idtable *t);

/* The identity of a label set (labels NULL: none); 0 if none has it. */
uint32_t berth_identity_find(const struct berth_idtable *t, const char *ns,
			     json_object *labels);
/* The pod with this address, or NULL. */
const struct berth_ident_pod *berth_identity_pod(const struct berth_idtable *t,
						 uint32_t ip);

/*
 * A set of identity numbers (never 0), for telling colliding hashes apart
 * in O(1) each: berth_idset_add() is false when the number is taken.
 */
struct berth_idset {
	uint32_t *slots;
	size_t mask;
};
int berth_idset_init(struct berth_idset *s, size_t n);
bool berth_idset_add(struct berth_idset *s, uint32_t id);
void berth_idset_free(struct berth_idset *s);

/* The hash part alone (before collisions): for tests. */
uint32_t berth_identity_hash(const char *key, size_t len);

struct berth_ipcache_entry {
	struct berth_ipcache_key key;
	struct berth_ipcache_val val;
};

/*
 * ipcache /32 entries for every pod of t: {identity, tunnel_ip of the pod's
 * node (0 on this node or when the node is unknown: the node's pod CIDR
 * entry routes it), flags POD (| LOCAL)}. They refine nodesync's pod CIDR
 * entries. Sorted by key; *out is malloc'ed. 0 or -ENOMEM.
 */
int berth_identity_ipcache(const struct berth_idtable *t,
			   const struct berth_node_route *nodes, size_t nnodes,
			   const char *self, struct berth_ipcache_entry **out,
			   size_t *nout);

#endif
