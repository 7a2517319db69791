// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc egress of a pod's host-side veth: packets on their way into the pod.
 * Replies of balanced flows (and ICMP errors about them) get the frontend's
 * address back, so the client sees the Service answer.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/icmp.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/nat.h"
#include "lib/parse.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline int rev_nat_reply(struct __sk_buff *skb,
					 const struct pkt4 *p)
{
	/* the reply's tuple, turned around, is the client's after DNAT */
	struct berth_ct_key key = {
		.saddr = p->daddr,
		.daddr = p->saddr,
		.sport = p->dport,
		.dport = p->sport,
		.proto = p->proto,
		.dir = BERTH_CT_EGRESS,
	};
	struct berth_rev_nat *rn;
	struct berth_ct_val *v;

	v = bpf_map_lookup_elem(&ct, &key);
	if (!v)
		return 0;
	if (!(v->flags & BERTH_CT_F_SEEN_REPLY))
		v->flags |= BERTH_CT_F_SEEN_REPLY;
	rn = bpf_map_lookup_elem(&rev_nat, &v->rev_nat_id);
	if (!rn)
		return 0;
	return nat_rewrite(skb, p, NAT_SRC, rn->vip, rn->port);
}

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	struct pkt4 p;
	int ret;

	ret = parse_ipv4(skb, &p);
	if (ret == PARSE_SKIP)
		return TC_ACT_OK;
	if (ret < 0)
		return drop(skb, BERTH_DROP_INVALID, BERTH_DIR_INGRESS);
	if (p.proto == IPPROTO_ICMP)
		ret = icmp_rev_nat(skb, &p);
	else if ((p.proto == IPPROTO_TCP || p.proto == IPPROTO_UDP) &&
		 !p.later_frag)
		ret = rev_nat_reply(skb, &p);
	if (ret < 0)
		return drop(skb, BERTH_DROP_CSUM, BERTH_DIR_INGRESS);
	return TC_ACT_OK;
}
