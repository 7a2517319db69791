// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc egress of a pod's host-side veth: packets on their way into the pod.
 * What the host stack routes here (the node itself, forwarded traffic) meets
 * the pod's ingress policy; then replies of balanced flows (and ICMP errors
 * about them) get the frontend's address back, so the client sees the
 * Service answer.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/revnat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int to_pod(struct __sk_buff *skb)
{
	struct pkt4 p;
	int ret;

	ret = parse_or_verdict(skb, &p, BERTH_DIR_INGRESS);
	if (ret != TC_ACT_UNSPEC)
		return ret;
	ret = policy_ingress(skb, &p,
			     bpf_map_lookup_elem(&endpoints, &p.daddr));
	if (ret != TC_ACT_UNSPEC)
		return ret;
	if (rev_nat_any(skb, &p) < 0)
		return drop(skb, BERTH_DROP_CSUM, BERTH_DIR_INGRESS);
	events_trace(skb, BERTH_TRACE_TO_POD, BERTH_DIR_INGRESS);
	return TC_ACT_OK;
}
