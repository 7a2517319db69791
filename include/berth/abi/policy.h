/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NetworkPolicy: identities and the policy map.
 *
 * A peer is known by its identity, found in the ipcache (LPM) by its
 * address: a pod /32 carries its label identity (namespace + pod labels,
 * the same number on every node), an ipBlock prefix a CIDR identity (this
 * node's numbering), a node address BERTH_ID_HOST or BERTH_ID_REMOTE_NODE.
 *
 * policy (hash): {local endpoint, peer identity, direction, proto, port}
 * -> verdict, plus policy_ranges (LPM trie) for endPort ranges only. Only
 * allows are stored: a direction of an endpoint that no NetworkPolicy
 * selects is not enforced at all (endpoint flags below); once selected,
 * what no entry allows is dropped.
 *
 * Every {endpoint, identity, dir} that has allows has a head entry (proto
 * 0, port 0) whose flags say what it allows without a port (any proto,
 * any port of a proto) and where else to look (exact ports of a proto in
 * this map, ranges of a proto in policy_ranges). A lookup is therefore a
 * fixed number of hash probes, whatever the number of policies on the
 * node or of entries of this endpoint: a peer with no allows costs one
 * probe, a port allow two; only an endPort range walks a trie, and only
 * for the {endpoint, peer} pairs that have ranges.
 *
 * Lookup (BPF), for a packet of a NEW flow (replies and later packets of a
 * flow conntrack has already passed are not looked up):
 *   ep = endpoints[local pod IP]; if !(ep->flags & ENFORCED(dir)): pass.
 *   peer = the other address; id = ipcache LPM(peer) ? ->identity
 *	    : BERTH_ID_WORLD.
 *   if id == BERTH_ID_HOST: pass (Kubernetes: traffic between a pod and its
 *	    own node is always allowed).
 *   for id, then BERTH_ID_ANY (rules without peers):
 *	h = policy[{ep ip, id, dir, 0, 0}]; none: next.
 *	h->flags ALLOW or ANY_PORT(proto): allow.
 *	PORTS(proto) and policy[{ep ip, id, dir, proto, dport}]: allow.
 *	RANGES(proto) and policy_ranges LPM {96, ep ip, id, dir, proto,
 *	    dport}: allow.
 *   else drop (BERTH_DROP_POLICY).
 * dport is the destination port of the packet in both directions: for
 * ingress the local pod's port, for egress the peer's (after Service DNAT,
 * so a ClusterIP connection is judged by its real backend). ICMP and
 * other protocols match only ALLOW (any proto) heads.
 *
 * Port ranges (endPort) are stored as the few prefixes that cover them
 * (at most 30 for any 16-bit range), not one entry per port.
 *
 * Update order (the agent), so no packet is judged by a mix neither the
 * old nor the new policy gives:
 *   1. policy entries of the new result that are missing (allows), exact
 *      and range entries before the heads that point to them; a head
 *      both hold with different flags gets the union of both;
 *   2. endpoint flags that turn enforcement on;
 *   3. ipcache entries added or changed (identities the new allows name);
 *   4. ipcache entries removed;
 *   5. endpoint flags that turn enforcement off;
 *   6. heads to their new flags, then the policy entries of the old
 *      result that are gone.
 * Between steps the allowed set is the union of old and new, and every
 * identity number keeps one meaning for as long as it exists (a CIDR
 * identity is derived from its prefix and the prefixes carved out of it,
 * so an except added later gets fresh numbers instead of changing what an
 * old number covers): each packet gets the verdict of the old or the new
 * policy, never one that neither gives. One hash for all endpoints
 * (rather than an inner map per endpoint swapped in whole) keeps a change
 * as small as the entries it touches, and the lookup is O(1) either way.
 *
 * A full map (the agent's --policy-map-entries): step 1 fails, and the
 * agent stops there (keeping the old policy enforced, with whatever of
 * the new allows fit), reports it, and tries again until it fits.
 */
#ifndef BERTH_ABI_POLICY_H
#define BERTH_ABI_POLICY_H

#include "types.h"

/* Identity numbering, besides the reserved ones of route.h (< 256). */
enum {
	BERTH_ID_ANY = 0, /* in a policy key: any peer */
	/* label identities: [BERTH_ID_LABEL_MIN, BERTH_ID_LABEL_MAX], the
	 * same on every node, small enough for a VXLAN VNI (24 bits) */
	BERTH_ID_LABEL_MIN = 256,
	BERTH_ID_LABEL_MAX = (1 << 24) - 1,
	/* CIDR identities (ipBlock prefixes): this node's own numbering,
	 * never sent to another node */
	BERTH_ID_CIDR_MIN = 1 << 24,
};

/* berth_endpoint_info.flags (route.h): directions policy applies to */
enum {
	BERTH_EP_F_INGRESS_ENFORCED =
		1 << 0, /* some policy selects it for ingress */
	BERTH_EP_F_EGRESS_ENFORCED =
		1 << 1, /* some policy selects it for egress */
};

/*
 * berth_ipcache_val.flags (route.h), next to its BERTH_IPCACHE_F_*: an
 * entry of the policy sync (pod /32s, ipBlock prefixes), not of the node
 * sync; each sync removes only its own entries, and on a key both want the
 * node sync's (routing) wins.
 */
#define BERTH_IPCACHE_F_IDENTITY (1 << 3)

/* berth_policy_key.dir */
enum {
	BERTH_POLICY_INGRESS = 1, /* peer -> local pod */
	BERTH_POLICY_EGRESS = 2, /* local pod -> peer */
};

/* prefix lengths of berth_policy_key (bits after the prefixlen word) */
#define BERTH_POLICY_PREFIX_ANY_PROTO 72 /* ep, identity, dir */
#define BERTH_POLICY_PREFIX_ANY_PORT 80 /* + proto */
#define BERTH_POLICY_PREFIX_FULL 96 /* + port */

/*
 * policy_ranges (LPM trie), and the compiler's form of every allow:
 * {endpoint, identity, dir, proto, port/prefix}. Only prefixes between
 * ANY_PORT and FULL (endPort ranges) go into the map.
 */
struct berth_policy_key {
	__u32 prefixlen; /* LPM: bits of what follows that count */
	__be32 ep_ip; /* the local pod the entry belongs to */
	__be32 identity; /* peer; BERTH_ID_ANY: any. Big-endian for the trie */
	__u8 dir; /* BERTH_POLICY_* */
	__u8 proto; /* IPPROTO_TCP/UDP/SCTP */
	__be16 port; /* destination port, network order */
};
BERTH_ABI_SIZE(struct berth_policy_key, 16);

/*
 * policy (hash): {endpoint, identity, dir, 0, 0} (the head) or {endpoint,
 * identity, dir, proto, port} (a port allow) -> struct berth_policy_val.
 * Written by the agent's policy sync; read by from_pod (egress) and on
 * delivery to a local pod (ingress).
 */
struct berth_policy_hkey {
	__be32 ep_ip; /* the local pod the entry belongs to */
	__u32 identity; /* peer; BERTH_ID_ANY: any */
	__u8 dir; /* BERTH_POLICY_* */
	__u8 proto; /* 0: the head; IPPROTO_TCP/UDP/SCTP */
	__be16 port; /* destination port, network order; 0 in a head */
};
BERTH_ABI_SIZE(struct berth_policy_hkey, 12);

/* the protocols a head has bits for, by index: TCP, UDP, SCTP */
#define BERTH_POLICY_NPROTO 3
#define BERTH_POLICY_PROTOS { 6, 17, 132 }

/* A head's bit index of IP protocol proto, or -1 (only "any proto"). */
static inline int berth_policy_proto_idx(__u8 proto)
{
	switch (proto) {
	case 6: /* IPPROTO_TCP */
		return 0;
	case 17: /* IPPROTO_UDP */
		return 1;
	case 132: /* IPPROTO_SCTP */
		return 2;
	}
	return -1;
}

/* berth_policy_val.flags */
enum {
	/* a port entry, a range entry: allows; a head: allows any proto */
	BERTH_POLICY_F_ALLOW = 1 << 0,
};
/* head flags, by protocol index (0 TCP, 1 UDP, 2 SCTP) */
#define BERTH_POLICY_F_ANY_PORT(i) (1u << (8 + (i))) /* any port allowed */
#define BERTH_POLICY_F_PORTS(i) (1u << (12 + (i))) /* port entries here */
#define BERTH_POLICY_F_RANGES(i) (1u << (16 + (i))) /* in policy_ranges */

struct berth_policy_val {
	__u32 flags; /* BERTH_POLICY_F_* */
	__u32 pad;
};
BERTH_ABI_SIZE(struct berth_policy_val, 8);

/* default sizes; the agent's --policy-map-entries sets policy's */
#define BERTH_POLICY_MAX_ENTRIES 65536
#define BERTH_POLICY_RANGES_MAX_ENTRIES 16384

#endif
