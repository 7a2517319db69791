// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc ingress of a pod's host-side veth: packets the pod sends. Balances
 * connections to a Service frontend onto a backend (DNAT + conntrack),
 * rejects those to a Service without endpoints, reverse-NATs replies of
 * flows balanced here (a pod balanced onto itself gets its packets from the
 * hairpin address), then routes: a pod of this node directly, a pod of
 * another node through the tunnel, anything else to the host stack.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/nat.h"
#include "lib/parse.h"
#include "lib/policy.h"
#include "lib/reject.h"
#include "lib/revnat.h"
#include "lib/route.h"
#include "lib/svc.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * By the final destination. With empty endpoints and ipcache maps (no
 * routing configured) every packet goes to the host stack, as before.
 * A reply whose source became a frontend (rev_nat) leaves by the FIB when
 * it is not for the cluster: from node_ip (NodePort), the host stack would
 * drop it as a martian, a packet from one of its own addresses.
 */
static __always_inline int route(struct __sk_buff *skb, struct pkt4 *p,
				 bool rev_nat)
{
	struct berth_endpoint_info *ep;
	struct berth_ipcache_val *ipc;
	struct berth_node_cfg *cfg;
	int ret;

	ep = endpoint_lookup(p->daddr);
	if (ep) {
		/*
		 * The pod's ingress policy, but not for replies of balanced
		 * flows (the connection it opened passed its egress) nor a
		 * pod reaching itself through a frontend (hairpin).
		 */
		if (!rev_nat && p->saddr != hairpin_ip()) {
			ret = policy_ingress(skb, p, ep);
			if (ret != TC_ACT_UNSPEC)
				return ret;
		}
		/* TCP/UDP replies were reverse-NATed already */
		return deliver_judged(skb, p, ep, p->proto == IPPROTO_ICMP,
				      BERTH_DIR_EGRESS);
	}
	ipc = ipcache_lookup(p->daddr);
	cfg = node_cfg();
	if (ipc && ipc->tunnel_ip) {
		if (!cfg)
			return drop(skb, BERTH_DROP_NO_ROUTE, BERTH_DIR_EGRESS);
		return tunnel_to(skb, ipc->tunnel_ip, cfg, BERTH_DIR_EGRESS);
	}
	if (rev_nat && !ipcache_in_cluster(ipc) && cfg &&
	    p->saddr == cfg->node_ip)
		return fib_out(skb, p->saddr, p->daddr, cfg, BERTH_DIR_EGRESS);
	events_trace(skb, BERTH_TRACE_TO_STACK, BERTH_DIR_EGRESS);
	return TC_ACT_OK;
}

/* The sender's egress policy, on the real destination (after DNAT). */
static __always_inline int egress_policy(struct __sk_buff *skb,
					 const struct pkt4 *p)
{
	return policy_egress(skb, p, endpoint_lookup(p->saddr));
}

SEC("tc")
int from_pod(struct __sk_buff *skb)
{
	struct berth_svc_val *svc;
	struct pkt4 p;
	int ret;

	ret = parse_or_verdict(skb, &p, BERTH_DIR_EGRESS);
	if (ret != TC_ACT_UNSPEC)
		return ret;
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP) {
		ret = egress_policy(skb, &p);
		if (ret != TC_ACT_UNSPEC)
			return ret;
		return route(skb, &p, false);
	}

	svc = lb_lookup_service(&p);
	if (svc) {
		ret = svc_dnat(skb, &p, svc, BERTH_DIR_EGRESS);
		if (ret != SVC_ROUTE)
			return ret;
		ret = egress_policy(skb, &p);
		if (ret != TC_ACT_UNSPEC)
			return ret;
		if (hairpin_snat(skb, &p))
			return drop(skb, BERTH_DROP_CSUM, BERTH_DIR_EGRESS);
		return route(skb, &p, false);
	}
	ret = egress_policy(skb, &p);
	if (ret != TC_ACT_UNSPEC)
		return ret;
	if (pkt_is_syn(&p)) {
		ct_retire_egress(&p);
	} else if (!p.later_frag) {
		/*
		 * A reply of a flow balanced on this node: its client may not
		 * be a pod here (NodePort), so translate before routing.
		 */
		ret = rev_nat_reply(skb, &p);
		if (ret < 0)
			return drop(skb, BERTH_DROP_CSUM, BERTH_DIR_EGRESS);
		if (ret > 0)
			return route(skb, &p, true);
	}
	return route(skb, &p, false);
}
