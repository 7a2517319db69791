/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The iptables dataplane's rule generator: a Service set (proxy.h's
 * berth_proxy_convert, or the Service file) to iptables-restore text for
 * the nat and filter tables, kube-proxy style. No I/O: ipt_sync.h applies.
 *
 * nat:
 *   BERTH-SERVICES      ClusterIP/port -> BERTH-SVC-<h>; last: local
 *                       destinations -> BERTH-NODEPORTS
 *   BERTH-NODEPORTS     nodePort -> BERTH-EXT-<h> (externalTrafficPolicy
 *                       Cluster) or BERTH-XLB-<h> (Local)
 *   BERTH-SVC/EXT/XLB-<h>  one frontend: affinity checks (recent), then one
 *                       rule per ready endpoint with statistic random
 *                       1/(n-i); EXT first marks for masquerade
 *   BERTH-SEP-<h>       one endpoint: hairpin mark, DNAT (recent --set)
 *   BERTH-MARK-MASQ     sets BERTH_IPT_MASQ_MARK
 *   BERTH-POSTROUTING   masquerades marked packets
 * filter:
 *   BERTH-SERVICES          REJECT ClusterIP/ports without endpoints
 *   BERTH-EXTERNAL-SERVICES REJECT nodePorts without endpoints
 *   BERTH-FORWARD           accept marked and established service traffic
 *
 * <h>: sha256 of "ns/name:port" + protocol ("tcp"/"udp"; a SEP adds
 * "ip:port") in base32, 16 characters, like kube-proxy: a restarted agent
 * renders the same names. The jumps from the built-in chains are not
 * rendered (restore --noflush cannot test for them): ipt_sync adds them.
 *
 * Incremental: a render writes the chains whose rules changed since the
 * last applied render, the dispatch chains always, and deletes (-X) chains
 * no longer rendered. A full render writes every chain and also deletes
 * the stale BERTH- chains the caller found in the kernel.
 */
#ifndef BERTH_AGENT_IPT_RENDER_H
#define BERTH_AGENT_IPT_RENDER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <berth/service.h>

#define BERTH_IPT_MASQ_MARK 0x4000 /* kube-proxy's masquerade bit */
#define BERTH_IPT_CHAIN_MAX 29 /* XT_EXTENSION_MAXNAMELEN, with the NUL */
#define BERTH_IPT_HASH_LEN 16

struct berth_ipt_config {
	/* network order: frontends with this address are NodePorts; 0: none */
	uint32_t node_ip;
};

struct berth_ipt_stats {
	size_t chains; /* chains rendered (nat and filter) */
	size_t written; /* of them, written in this text */
	size_t deleted; /* -X lines */
	size_t rules; /* -A lines */
};

struct berth_ipt_render;

int berth_ipt_render_new(struct berth_ipt_render **out);
void berth_ipt_render_free(struct berth_ipt_render *r);

/* A nat chain as the kernel holds it (iptables-save): its rule count. */
struct berth_ipt_kchain {
	char name[BERTH_IPT_CHAIN_MAX];
	unsigned int rules;
};

/*
 * The text for one iptables-restore --noflush (*text malloc'ed, both
 * tables). Full when asked or when nothing has been applied yet.
 * @existing (may be NULL): the BERTH- nat chains now in the kernel, sorted
 * by name; per-Service ones no longer rendered are deleted. -ENOMEM or
 * -EINVAL (a name that does not fit) on error.
 */
int berth_ipt_render(struct berth_ipt_render *r,
		     const struct berth_ipt_config *cfg,
		     const struct berth_service_set *set, bool full,
		     const struct berth_ipt_kchain *existing, size_t nexisting,
		     char **text, struct berth_ipt_stats *st);

/*
 * Compare what the last applied render wrote with the kernel's chains
 * (@kernel sorted by name): a chain that is gone or holds another number
 * of rules than written is rewritten by the next render. The cheap repair
 * of the periodic check; returns how many chains are to be rewritten.
 */
size_t berth_ipt_render_verify(struct berth_ipt_render *r,
			       const struct berth_ipt_kchain *kernel, size_t n);
/* The last rendered text was applied (ok) or not: the next render is then
 * full. */
void berth_ipt_render_done(struct berth_ipt_render *r, bool ok);

/* "BERTH-SVC-" + hash of key: out holds BERTH_IPT_CHAIN_MAX. */
void berth_ipt_chain_name(const char *prefix, const char *key, char *out);

#endif
