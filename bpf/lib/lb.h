/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Service lookup and backend choice: random, Maglev, ClientIP affinity. */
#ifndef BERTH_BPF_LB_H
#define BERTH_BPF_LB_H

#include "hash.h"
#include "maps.h"
#include "parse.h"

static __always_inline struct berth_svc_val *
lb_lookup_service(const struct pkt4 *p)
{
	struct berth_svc_key key = {
		.vip = p->daddr,
		.dport = p->dport,
		.proto = p->proto,
	};

	return bpf_map_lookup_elem(&services, &key);
}

static __always_inline __u32 lb_pick_maglev(const struct pkt4 *p,
					    const struct berth_svc_val *svc)
{
	struct berth_maglev_table *table;
	__u32 zero = 0, idx;
	void *inner;

	inner = bpf_map_lookup_elem(&maglev, &svc->rev_nat_id);
	if (!inner)
		return 0;
	table = bpf_map_lookup_elem(inner, &zero);
	if (!table)
		return 0;
	idx = hash_flow(p->saddr, p->daddr, p->sport, p->dport, p->proto) %
	      BERTH_MAGLEV_M;
	/* clang turns % into div/mul/sub, which the verifier cannot bound */
	asm volatile("" : "+r"(idx));
	if (idx >= BERTH_MAGLEV_M)
		return 0;
	return table->backend_ids[idx];
}

static __always_inline __u32 lb_pick_random(const struct pkt4 *p,
					    const struct berth_svc_val *svc)
{
	struct berth_svc_key key = {
		.vip = p->daddr,
		.dport = p->dport,
		.proto = p->proto,
		.slot = bpf_get_prandom_u32() % svc->count + 1,
	};
	struct berth_svc_val *slot = bpf_map_lookup_elem(&services, &key);

	return slot ? slot->backend_id : 0;
}

/* The backend a client is stuck to, if the stickiness has not timed out. */
static __always_inline __u32 lb_affinity_get(const struct pkt4 *p,
					     const struct berth_svc_val *svc,
					     __u64 now_ns)
{
	struct berth_affinity_key key = {
		.client = p->saddr,
		.rev_nat_id = svc->rev_nat_id,
	};
	struct berth_affinity_val *a = bpf_map_lookup_elem(&affinity, &key);

	if (!a || now_ns - a->last_used > svc->affinity_timeout * NSEC_PER_SEC)
		return 0;
	return a->backend_id;
}

static __always_inline void lb_affinity_set(const struct pkt4 *p,
					    const struct berth_svc_val *svc,
					    __u32 backend_id, __u64 now_ns)
{
	struct berth_affinity_key key = {
		.client = p->saddr,
		.rev_nat_id = svc->rev_nat_id,
	};
	struct berth_affinity_val val = {
		.last_used = now_ns,
		.backend_id = backend_id,
	};

	bpf_map_update_elem(&affinity, &key, &val, BPF_ANY);
}

/*
 * Choose a backend for a new flow. Terminating backends are never chosen:
 * they are not in the slots nor in Maglev tables, and an affinity entry that
 * names one is ignored.
 */
static __always_inline struct berth_backend *
lb_select(const struct pkt4 *p, const struct berth_svc_val *svc, __u32 *id)
{
	__u64 now_ns = bpf_ktime_get_ns();
	struct berth_backend *be;
	__u32 backend_id = 0;

	if (svc->flags & BERTH_SVC_F_AFFINITY) {
		backend_id = lb_affinity_get(p, svc, now_ns);
		if (backend_id) {
			be = bpf_map_lookup_elem(&backends, &backend_id);
			if (!be || (be->flags & BERTH_BACKEND_F_TERMINATING))
				backend_id = 0;
		}
	}
	if (!backend_id) {
		if (svc->flags & BERTH_SVC_F_MAGLEV)
			backend_id = lb_pick_maglev(p, svc);
		else
			backend_id = lb_pick_random(p, svc);
	}
	if (!backend_id)
		return NULL;
	be = bpf_map_lookup_elem(&backends, &backend_id);
	if (!be)
		return NULL;
	if (svc->flags & BERTH_SVC_F_AFFINITY)
		lb_affinity_set(p, svc, backend_id, now_ns);
	*id = backend_id;
	return be;
}

#endif
