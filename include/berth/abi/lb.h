/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Service load-balancing maps: services, backends, rev_nat, affinity, maglev. */
#ifndef BERTH_ABI_LB_H
#define BERTH_ABI_LB_H

#include "types.h"

/* Maglev lookup table size: a prime, so every backend's permutation covers it. */
#define BERTH_MAGLEV_M 16381

#define BERTH_AFFINITY_TIMEOUT_DEFAULT \
	10800 /* s; Kubernetes' ClientIP default */

/* berth_svc_val.flags (slot 0) */
enum {
	BERTH_SVC_F_AFFINITY = 1 << 0, /* sessionAffinity: ClientIP */
	BERTH_SVC_F_MAGLEV = 1 << 1, /* consistent hashing via the maglev map */
};

/* berth_backend.flags */
enum {
	/* kept for flows that already use it, never chosen for a new one */
	BERTH_BACKEND_F_TERMINATING = 1 << 0,
};

/*
 * services: one frontend {vip, port, proto} spans slots 0..count.
 * Slot 0 holds the service (count, flags, affinity timeout, rev_nat id),
 * slot n (1..count) holds the id of the n-th active backend.
 * Written by the agent's map sync; read by from_pod.
 */
struct berth_svc_key {
	__be32 vip;
	__be16 dport;
	__u8 proto; /* IPPROTO_TCP, IPPROTO_UDP */
	__u8 scope; /* reserved, 0 */
	__u16 slot;
	__u16 pad;
};
BERTH_ABI_SIZE(struct berth_svc_key, 12);

struct berth_svc_val {
	__u32 backend_id; /* slot n */
	__u32 rev_nat_id; /* slot 0 */
	__u32 affinity_timeout; /* slot 0, seconds */
	__u16 count; /* slot 0: active backends */
	__u8 flags; /* slot 0: BERTH_SVC_F_* */
	__u8 pad;
};
BERTH_ABI_SIZE(struct berth_svc_val, 16);

/* backends: backend id (never 0) -> address. Written by the map sync. */
struct berth_backend {
	__be32 ip;
	__be16 port;
	__u8 proto;
	__u8 flags; /* BERTH_BACKEND_F_* */
};
BERTH_ABI_SIZE(struct berth_backend, 8);

/* rev_nat: rev_nat id -> the frontend replies must appear to come from. */
struct berth_rev_nat {
	__be32 vip;
	__be16 port;
	__u16 pad;
};
BERTH_ABI_SIZE(struct berth_rev_nat, 8);

/* affinity (LRU): {client, rev_nat id} -> backend last chosen. Written by from_pod. */
struct berth_affinity_key {
	__be32 client;
	__u32 rev_nat_id;
};
BERTH_ABI_SIZE(struct berth_affinity_key, 8);

struct berth_affinity_val {
	__u64 last_used; /* ns, bpf_ktime_get_ns() */
	__u32 backend_id;
	__u32 pad;
};
BERTH_ABI_SIZE(struct berth_affinity_val, 16);

/*
 * maglev (hash of arrays): rev_nat id -> inner array with a single element,
 * the lookup table of BERTH_MAGLEV_M backend ids. Written by the map sync.
 */
struct berth_maglev_table {
	__u32 backend_ids[BERTH_MAGLEV_M];
};
BERTH_ABI_SIZE(struct berth_maglev_table, 4 * BERTH_MAGLEV_M);

#endif
