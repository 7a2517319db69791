/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A packet to a frontend: the backend of its flow, chosen once and kept in
 * conntrack. Shared by every program that balances (from_pod for ClusterIP,
 * host and xdp_nodeport for NodePort), so they all see the same flows.
 */
#ifndef BERTH_BPF_SVC_H
#define BERTH_BPF_SVC_H

#include "ct.h"
#include "lb.h"
#include "maps.h"
#include "metrics.h"
#include "nat.h"
#include "parse.h"
#include "reject.h"

/* svc_backend()'s result when the frontend has no endpoints (reject). */
#define SVC_NO_ENDPOINTS 1

/* The backend of an existing flow, or NULL if the flow must be (re)balanced. */
static __always_inline struct berth_backend *
svc_flow_backend(const struct pkt4 *p, struct berth_ct_val **ctv, __u32 now)
{
	struct berth_backend *be;
	struct berth_ct_key key;
	struct berth_ct_val *v;

	ct_key_service(&key, p);
	v = bpf_map_lookup_elem(&ct, &key);
	if (!v || !ct_usable(v, p, now))
		return NULL;
	/* a terminating backend keeps its flows; a deleted one does not */
	be = bpf_map_lookup_elem(&backends, &v->backend_id);
	if (!be)
		return NULL;
	*ctv = v;
	return be;
}

/*
 * The backend for p (TCP/UDP, not a fragment) to frontend svc: that of its
 * flow, or a new choice recorded in conntrack. Returns 0 with *out set,
 * SVC_NO_ENDPOINTS, or minus the drop reason.
 */
static __always_inline int svc_backend(const struct pkt4 *p,
				       const struct berth_svc_val *svc,
				       struct berth_backend **out)
{
	struct berth_ct_val *ctv = NULL;
	struct berth_backend *be;
	__u32 now = ct_now(), backend_id;

	be = svc_flow_backend(p, &ctv, now);
	if (be) {
		if (ct_refresh(ctv, p, now))
			ct_refresh_egress(p, be, ctv);
		*out = be;
		return 0;
	}
	if (!svc->count)
		return SVC_NO_ENDPOINTS;
	be = lb_select(p, svc, &backend_id);
	if (!be)
		return -BERTH_DROP_NO_BACKEND;
	if (ct_create(p, now, backend_id, svc->rev_nat_id, be->ip, be->port))
		return -BERTH_DROP_CT_FULL;
	*out = be;
	return 0;
}

/* svc_dnat()'s result when p was translated and is to be routed on. */
#define SVC_ROUTE (-1)

/*
 * tc: DNAT p to a backend of frontend svc, p updated to the new
 * destination. SVC_ROUTE, or a final verdict: the reject reply sent back
 * (no endpoints) or a drop counted under dir.
 */
static __always_inline int svc_dnat(struct __sk_buff *skb, struct pkt4 *p,
				    const struct berth_svc_val *svc, __u8 dir)
{
	struct berth_backend *be;
	int ret;

	/* later fragments carry no ports and cannot follow the first one */
	if (p->frag)
		return drop(skb, BERTH_DROP_FRAG, dir);
	ret = svc_backend(p, svc, &be);
	if (ret == SVC_NO_ENDPOINTS) {
		drop_count(skb, BERTH_DROP_NO_SERVICE, dir);
		ret = reject(skb, p);
		return ret < 0 ? drop(skb, BERTH_DROP_REJECT, dir) : ret;
	}
	if (ret < 0)
		return drop(skb, -ret, dir);
	if (nat_rewrite(skb, p, NAT_DST, be->ip, be->port))
		return drop(skb, BERTH_DROP_CSUM, dir);
	p->daddr = be->ip;
	p->dport = be->port;
	return SVC_ROUTE;
}

#endif
