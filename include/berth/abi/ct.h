/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Service conntrack: the ct map. */
#ifndef BERTH_ABI_CT_H
#define BERTH_ABI_CT_H

#include "types.h"

/* Lifetimes in seconds, the same as the kernel's conntrack defaults. */
#define BERTH_CT_TCP_LIFETIME 21600 /* established */
#define BERTH_CT_SYN_LIFETIME 60 /* handshake not seen finished */
#define BERTH_CT_CLOSE_LIFETIME 10 /* FIN or RST seen */
#define BERTH_CT_UDP_LIFETIME 60
/* An entry's lifetime is rewritten at most this often (s) to spare writes. */
#define BERTH_CT_REFRESH 5

/* berth_ct_key.dir */
enum {
	/* client -> frontend (vip:port); value names the backend */
	BERTH_CT_SERVICE = 1,
	/* client -> backend after DNAT; replies find their rev_nat id here */
	BERTH_CT_EGRESS = 2,
	/*
	 * a flow NetworkPolicy judged (bpf/lib/policy.h), keyed by the tuple
	 * of its first packet after DNAT: later packets and replies pass
	 * without a policy lookup. Only for endpoints policy selects.
	 */
	BERTH_CT_POLICY = 5,
	/*
	 * a connection from outside the cluster straight to a local pod's
	 * address (routed through the node), keyed by its replies' tuple
	 * (pod -> client): to_netdev leaves them unmasqueraded. Written by
	 * host.bpf.c, only when masquerade is on.
	 */
	BERTH_CT_INBOUND = 6,
};

/* berth_ct_val.flags */
enum {
	BERTH_CT_F_CLOSING = 1 << 0, /* FIN or RST seen */
	BERTH_CT_F_SEEN_REPLY = 1 << 1,
	/* BERTH_CT_POLICY: the sides of the flow this node judged */
	BERTH_CT_F_POL_INGRESS = 1 << 2, /* delivery to the destination pod */
	BERTH_CT_F_POL_EGRESS = 1 << 3, /* departure from the source pod */
};

/* ct (LRU): 5-tuple as sent by the client + dir -> translation. Written by from_pod. */
struct berth_ct_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 dir;
	__u16 pad;
};
BERTH_ABI_SIZE(struct berth_ct_key, 16);

struct berth_ct_val {
	__u32 backend_id;
	__u32 rev_nat_id;
	__u32 lifetime; /* expiry, seconds of bpf_ktime_get_ns() */
	__u16 flags; /* BERTH_CT_F_* */
	__u16 pad;
};
BERTH_ABI_SIZE(struct berth_ct_val, 16);

#endif
