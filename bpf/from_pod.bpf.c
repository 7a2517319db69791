// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc ingress of a pod's host-side veth: packets the pod sends. Balances
 * connections to a Service frontend onto a backend (DNAT + conntrack) and
 * rejects those to a Service without endpoints.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/ct.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/nat.h"
#include "lib/parse.h"
#include "lib/reject.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* The backend of an existing flow, or NULL if the flow must be (re)balanced. */
static __always_inline struct berth_backend *
flow_backend(const struct pkt4 *p, struct berth_ct_val **ctv, __u32 now)
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

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	struct berth_ct_val *ctv = NULL;
	struct berth_backend *be;
	struct berth_svc_val *svc;
	__u32 now, backend_id;
	struct pkt4 p;
	int ret;

	ret = parse_ipv4(skb, &p);
	if (ret == PARSE_SKIP)
		return TC_ACT_OK;
	if (ret < 0)
		return drop(skb, BERTH_DROP_INVALID, BERTH_DIR_EGRESS);
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
		return TC_ACT_OK;

	svc = lb_lookup_service(&p);
	if (!svc) {
		if (p.proto == IPPROTO_TCP &&
		    (p.tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) ==
			    TCP_FLAG_SYN)
			ct_retire_egress(&p);
		return TC_ACT_OK;
	}
	/* later fragments carry no ports and cannot follow the first one */
	if (p.frag)
		return drop(skb, BERTH_DROP_FRAG, BERTH_DIR_EGRESS);

	now = ct_now();
	be = flow_backend(&p, &ctv, now);
	if (be) {
		if (ct_refresh(ctv, &p, now))
			ct_refresh_egress(&p, be, ctv);
	} else {
		if (!svc->count) {
			metrics_count(skb, BERTH_DROP_NO_SERVICE,
				      BERTH_DIR_EGRESS);
			ret = reject(skb, &p);
			if (ret < 0)
				return drop(skb, BERTH_DROP_REJECT,
					    BERTH_DIR_EGRESS);
			return ret;
		}
		be = lb_select(&p, svc, &backend_id);
		if (!be)
			return drop(skb, BERTH_DROP_NO_BACKEND,
				    BERTH_DIR_EGRESS);
		if (ct_create(&p, now, backend_id, svc->rev_nat_id, be->ip,
			      be->port))
			return drop(skb, BERTH_DROP_CT_FULL, BERTH_DIR_EGRESS);
	}
	if (nat_rewrite(skb, &p, NAT_DST, be->ip, be->port))
		return drop(skb, BERTH_DROP_CSUM, BERTH_DIR_EGRESS);
	return TC_ACT_OK;
}
