/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NodePort and SNAT on tc: a connection to node_ip:nodePort balanced to a
 * backend (local: DNAT only, the client's address kept; remote: DNAT + SNAT
 * to the node, tunneled), and the replies to SNATed flows turned back.
 * Used by host.bpf.c (underlay) and overlay.bpf.c (replies from the tunnel).
 */
#ifndef BERTH_BPF_NODEPORT_H
#define BERTH_BPF_NODEPORT_H

#include "icmp_snat.h"
#include "maps.h"
#include "metrics.h"
#include "nat.h"
#include "parse.h"
#include "reject.h"
#include "route.h"
#include "snat.h"
#include "svc.h"

/*
 * p is a reply to a flow SNATed on this node (nat IN entry v): give it back
 * its client as destination (and for NodePort the frontend as source), then
 * deliver it to the pod or send it out of the underlay.
 */
static __always_inline int snat_reverse(struct __sk_buff *skb, struct pkt4 *p,
					const struct berth_nat_val *v,
					const struct berth_node_cfg *cfg,
					__u8 dir)
{
	struct berth_rev_nat *rn = NULL;
	__be32 client = v->addr;

	if (v->rev_nat_id) {
		rn = bpf_map_lookup_elem(&rev_nat, &v->rev_nat_id);
		if (!rn)
			return drop(skb, BERTH_DROP_NO_BACKEND, dir);
	}
	if (nat_rewrite(skb, p, NAT_DST, client, v->port))
		return drop(skb, BERTH_DROP_CSUM, dir);
	if (rn && nat_rewrite(skb, p, NAT_SRC, rn->vip, rn->port))
		return drop(skb, BERTH_DROP_CSUM, dir);
	p->daddr = client;
	p->dport = v->port;
	if (rn) {
		p->saddr = rn->vip;
		p->sport = rn->port;
	}
	return snat_deliver(skb, p, cfg, dir);
}

/*
 * A reply to a SNATed flow (or an ICMP error about one) is reversed;
 * TC_ACT_UNSPEC (-1) if p is none.
 */
static __always_inline int snat_reverse_any(struct __sk_buff *skb,
					    struct pkt4 *p,
					    const struct berth_node_cfg *cfg,
					    __u8 dir)
{
	struct berth_nat_val *v;

	if (p->daddr != cfg->node_ip)
		return -1;
	if (p->proto == IPPROTO_ICMP)
		return icmp_snat_reverse(skb, p, cfg, dir);
	if (!pkt_has_ports(p))
		return -1;
	v = snat_reply_lookup(p);
	if (!v)
		return -1;
	return snat_reverse(skb, p, v, cfg, dir);
}

/* After DNAT: to a backend on another node, SNATed to this node's address. */
static __always_inline int nodeport_remote(struct __sk_buff *skb,
					   struct pkt4 *p, __u32 rev_nat_id,
					   const struct berth_node_cfg *cfg)
{
	struct berth_ipcache_val *ipc;
	__be16 port;
	int ret;

	ret = snat_port(p, cfg->node_ip, rev_nat_id, cfg, &port);
	if (ret)
		return drop(skb, -ret, BERTH_DIR_NETDEV);
	if (nat_rewrite(skb, p, NAT_SRC, cfg->node_ip, port))
		return drop(skb, BERTH_DROP_CSUM, BERTH_DIR_NETDEV);
	p->saddr = cfg->node_ip;
	p->sport = port;
	ipc = ipcache_lookup(p->daddr);
	if (ipc && ipc->tunnel_ip)
		return tunnel_to(skb, ipc->tunnel_ip, cfg, BERTH_DIR_NETDEV);
	/* not a pod of the cluster (a host-network backend): by the FIB */
	return fib_out(skb, p->saddr, p->daddr, cfg, BERTH_DIR_NETDEV);
}

/* p to node_ip:nodePort, a frontend of svc. */
static __always_inline int nodeport(struct __sk_buff *skb, struct pkt4 *p,
				    const struct berth_svc_val *svc,
				    const struct berth_node_cfg *cfg)
{
	struct berth_endpoint_info *ep;
	int ret;

	ret = svc_dnat(skb, p, svc, BERTH_DIR_NETDEV);
	if (ret != SVC_ROUTE)
		return ret;
	ep = endpoint_lookup(p->daddr);
	if (ep)
		/* the client's address is kept; from_pod reverses the reply */
		return deliver_local(skb, p, ep, false, BERTH_DIR_NETDEV);
	return nodeport_remote(skb, p, svc->rev_nat_id, cfg);
}

#endif
