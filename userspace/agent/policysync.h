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

#include <stdbool.h>
#include <stddef.h>

#include <berth/mapops.h>

#include "identity.h"
#include "nodesync.h"
#include "policy.h"

/* An entry of the policy hash (abi/policy.h): a head or a port allow. */
struct berth_policy_hentry {
	struct berth_policy_hkey key;
	struct berth_policy_val val;
};

/*
 * What the policy sync last wrote to policy and policy_ranges, so that a
 * change is diffed in memory instead of re-reading every entry through
 * the syscall (the bulk of a pass at 1,000 pods); and the ipcache entries
 * it wrote, whose values need no reading back while they stay wanted
 * (their keys are still walked: another writer may have removed one). Trusted only after a
 * sync that fully succeeded; zero it to start (then the maps are read).
 */
struct berth_policy_shadow {
	bool valid;
	struct berth_policy_hentry *h; /* sorted by key */
	size_t nh;
	struct berth_policy_key *rk; /* sorted by key */
	size_t nr;
	/* the ipcache entries it wanted (and wrote, unless routing's) */
	struct berth_ipcache_entry *ipc; /* sorted by key */
	size_t nipc;
	/* each policy's compiled result (policy.h), for the next pass */
	struct berth_policy_cache cache;
};
void berth_policy_shadow_free(struct berth_policy_shadow *s);

struct berth_policy_maps {
	struct berth_map *policy; /* abi/policy.h; NULL: none in this datapath */
	struct berth_map *endpoints; /* route.h; only existing entries change */
	struct berth_map *ipcache; /* route.h; only F_IDENTITY entries are ours */
	struct berth_map *policy_ranges; /* abi/policy.h; NULL: ranges left out */
	struct berth_policy_shadow *shadow; /* NULL: read the maps every sync */
};

struct berth_policysync_stats {
	size_t policy_added, policy_deleted;
	size_t eps_written;
	size_t ipcache_written, ipcache_deleted;
	/* the policy maps had no room (-E2BIG/-ENOSPC): old policy kept */
	bool full;
};

/*
 * r's allows in the maps' layout (abi/policy.h): heads and port entries
 * for the hash (sorted, one per key) and range prefixes for the trie
 * (sorted). Both malloc'ed. 0 or -ENOMEM.
 */
int berth_policy_layout(const struct berth_policy_result *r,
			struct berth_policy_hentry **h, size_t *nh,
			struct berth_policy_key **rk, size_t *nr);

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
 * berth_policy_ipcache_want). Returns the first error. When the policy
 * entries cannot all be written (a full map: st->full), endpoint flags
 * and old entries stay as they were, so the policy enforced before stays
 * enforced (with what of the new allows fit); the ipcache is still
 * synced. Otherwise keeps going after an error.
 */
int berth_policy_sync(const struct berth_policy_maps *m,
		      const struct berth_policy_result *r,
		      const struct berth_idtable *ids,
		      const struct berth_ipcache_entry *ipc, size_t nipc,
		      struct berth_policysync_stats *st);

#endif
