/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NetworkPolicy for the iptables dataplane: the compiled policy
 * (policy.h: per local pod and direction, allowed {peer identity, proto,
 * port prefix}) as ipsets and filter chains. No I/O in the renderer.
 *
 * - A peer identity is an ipset "berth-<id>": a label identity's pod IPs
 *   (hash:ip); a CIDR identity's prefix (hash:net) with "nomatch" entries
 *   for what the BPF ipcache's longest-prefix match would give another
 *   identity (more specific ipBlock prefixes, pod and node addresses);
 *   BERTH_ID_WORLD: everything but those; BERTH_ID_REMOTE_NODE: the other
 *   nodes' IPs.
 * - filter BERTH-POLICY (from FORWARD, first): established flows pass;
 *   then for each enforced pod -s IP -j BERTH-PE-<h> (egress) and -d IP
 *   -j BERTH-PI-<h> (ingress), <h> the hash of the pod IP. A pod chain
 *   RETURNs what an entry allows (ingress also everything from this
 *   node's IP: BERTH_ID_HOST, e.g. masqueraded NodePort traffic) and
 *   DROPs the rest, so a packet between two enforced pods meets both.
 *   Traffic between a pod and its own node never crosses FORWARD.
 */
#ifndef BERTH_AGENT_IPT_POLICY_H
#define BERTH_AGENT_IPT_POLICY_H

#include <stddef.h>
#include <stdint.h>

#include "identity.h"
#include "policy.h"

#define BERTH_IPT_SET_PREFIX "berth-"

struct berth_ipt_policy_in {
	const struct berth_policy_result *r;
	const struct berth_idtable *ids;
	const uint32_t *node_ips; /* every node's InternalIP, network order */
	size_t nnode_ips;
	uint32_t self_ip; /* this node's */
};

/*
 * -> `ipset restore` text (every referenced set rebuilt and swapped in)
 * and iptables-restore text for the filter table (BERTH-POLICY and every
 * pod chain written; @stale pod chains, from the kernel, deleted). Both
 * malloc'ed. 0 or -ENOMEM.
 */
int berth_ipt_policy_render(const struct berth_ipt_policy_in *in,
			    const char *const *stale, size_t nstale,
			    char **ipset_text, char **ipt_text);

/* Is this a set or chain name the policy renderer makes? */
int berth_ipt_policy_chain(const char *name);

#endif
