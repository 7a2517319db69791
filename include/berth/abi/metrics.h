/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Drop reasons and the per-CPU metrics map. */
#ifndef BERTH_ABI_METRICS_H
#define BERTH_ABI_METRICS_H

#include "types.h"

/* Why a packet was dropped. Userspace names them with berth_reason_str(). */
enum berth_reason {
	BERTH_REASON_FORWARD = 0, /* not a drop: translated and passed on */
	BERTH_DROP_INVALID = 1, /* truncated or malformed headers */
	BERTH_DROP_NO_SERVICE = 2, /* service without endpoints: rejected */
	BERTH_DROP_NO_BACKEND = 3, /* a slot names a backend the map lacks */
	BERTH_DROP_CT_FULL = 4, /* conntrack entry could not be created */
	BERTH_DROP_CSUM = 5, /* a checksum or header rewrite failed */
	BERTH_DROP_FRAG =
		6, /* IP fragment to a frontend: no ports to balance on */
	BERTH_DROP_REJECT = 7, /* the reject reply could not be built */
	BERTH_DROP_NO_ROUTE = 8, /* no tunnel, device or FIB entry to send by */
	BERTH_DROP_NAT_NO_PORT = 9, /* SNAT found no free source port */
	BERTH_DROP_TTL = 10, /* TTL expired while routed */
	BERTH_DROP_POLICY = 11, /* denied by NetworkPolicy (abi/policy.h) */
	BERTH_REASON_MAX,
};

/* berth_metrics_key.dir */
enum {
	BERTH_DIR_EGRESS = 1, /* from a pod (from_pod) */
	BERTH_DIR_INGRESS = 2, /* to a pod (to_pod) */
	BERTH_DIR_NETDEV = 3, /* on the node's underlay device (host, xdp) */
	BERTH_DIR_OVERLAY = 4, /* on the tunnel device (overlay) */
	/* in XDP on the underlay (xdp_nodeport); BERTH_REASON_FORWARD: sent */
	BERTH_DIR_XDP = 5,
};

/* metrics (per-CPU hash): {reason, dir} -> counters. Written by every program. */
struct berth_metrics_key {
	__u8 reason;
	__u8 dir;
	__u16 pad;
};
BERTH_ABI_SIZE(struct berth_metrics_key, 4);

struct berth_metrics_val {
	__u64 packets;
	__u64 bytes;
};
BERTH_ABI_SIZE(struct berth_metrics_val, 16);

#endif
