/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A compiled policy (policy.h) into the maps: policy entries, the identity
 * and ENFORCED flags of each local endpoint, and the ipcache entries of
 * identities (pod /32s, ipBlock prefixes), in the update order of
 * abi/policy.h, as a diff against what the maps hold: an agent restart
 * writes nothing that is already right. Maps come in as berth_map
 * interfaces, so tests run on memory.
 */
#ifndef BERTH_AGENT_POLICYSYNC_H
#define BERTH_AGENT_POLICYSYNC_H

#include <stddef.h>

#include <berth/mapops.h>

#include "identity.h"
#include "nodesync.h"
#include "policy.h"

struct berth_policy_maps {
	struct berth_map *policy; /* abi/policy.h; NULL: none in this datapath */
	struct berth_map *endpoints; /* route.h; only existing entries change */
	struct berth_map *ipcache; /* route.h; only F_IDENTITY entries are ours */
};

struct berth_policysync_stats {
	size_t policy_added, policy_deleted;
	size_t eps_written;
	size_t ipcache_written, ipcache_deleted;
};

/*
 * The ipcache entries the policy sync owns: every pod's /32
 * (berth_identity_ipcache) and the ipBlock prefixes of r with their CIDR
 * identities, all flagged BERTH_IPCACHE_F_IDENTITY. Sorted by key,
 * malloc'ed. 0 or -ENOMEM.
 */
int berth_policy_ipcache_want(const struct berth_idtable *ids,
			      const struct berth_policy_result *r,
			      const struct berth_node_route *nodes,
			      size_t nnodes, const char *self,
			      struct berth_ipcache_entry **out, size_t *nout);

/*
 * Make the maps hold r, ids' endpoint identities and ipc (from
 * berth_policy_ipcache_want). Keeps going after an error and returns the
 * first one.
 */
int berth_policy_sync(const struct berth_policy_maps *m,
		      const struct berth_policy_result *r,
		      const struct berth_idtable *ids,
		      const struct berth_ipcache_entry *ipc, size_t nipc,
		      struct berth_policysync_stats *st);

#endif
