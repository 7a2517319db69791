// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * tc on the node's underlay device. Ingress: NodePort (a frontend
 * node_ip:nodePort in the services map) balanced to a backend anywhere, and
 * replies to flows SNATed here (ICMP echo replies and errors too). Egress:
 * pod traffic leaving the cluster is masqueraded to the node's address
 * (TCP, UDP, and ICMP echo by its identifier).
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/ct.h"
#include "lib/icmp_snat.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/metrics.h"
#include "lib/nat.h"
#include "lib/nodeport.h"
#include "lib/parse.h"
#include "lib/route.h"
#include "lib/snat.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/*
 * Someone outside connecting straight to a local pod's address: remember
 * the flow so that to_netdev lets its replies keep the pod's address (the
 * client talks to the pod, not to the node). Needed only when to_netdev
 * masquerades; the entry is written when new and refreshed seldom.
 */
static __always_inline void inbound_note(const struct pkt4 *p,
					 const struct berth_node_cfg *cfg)
{
	struct berth_ct_val val = {}, *v;
	struct berth_ct_key k;
	__u32 now;

	if (!(cfg->flags & BERTH_NODE_F_MASQUERADE) || !pkt_has_ports(p) ||
	    !endpoint_lookup(p->daddr))
		return;
	/* keyed as the replies will leave: pod -> client */
	snat_key(&k, p->daddr, p->saddr, p->dport, p->sport, p->proto,
		 BERTH_CT_INBOUND);
	now = ct_now();
	v = bpf_map_lookup_elem(&ct, &k);
	if (v && ct_usable(v, p, now)) {
		ct_refresh(v, p, now);
		return;
	}
	val.lifetime = now + ct_timeout(p);
	if (p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		val.flags = BERTH_CT_F_CLOSING;
	/* LRU: a failed write only costs this flow its replies' address */
	bpf_map_update_elem(&ct, &k, &val, BPF_ANY);
}

/* Is p a pod's reply to a connection inbound_note() saw come in? */
static __always_inline bool inbound_reply(const struct pkt4 *p)
{
	struct berth_ct_val *v;
	struct berth_ct_key k;
	__u32 now = ct_now();

	snat_key(&k, p->saddr, p->daddr, p->sport, p->dport, p->proto,
		 BERTH_CT_INBOUND);
	v = bpf_map_lookup_elem(&ct, &k);
	if (!v || !ct_usable(v, p, now))
		return false;
	ct_refresh(v, p, now);
	return true;
}

SEC("tc")
int from_netdev(struct __sk_buff *skb)
{
	struct berth_node_cfg *cfg;
	struct berth_svc_val *svc;
	struct pkt4 p;
	int ret;

	ret = parse_or_verdict(skb, &p, BERTH_DIR_NETDEV);
	if (ret != TC_ACT_UNSPEC)
		return ret;
	cfg = node_cfg();
	if (!cfg || !cfg->node_ip)
		return TC_ACT_OK;
	if (p.daddr != cfg->node_ip) {
		inbound_note(&p, cfg);
		return TC_ACT_OK;
	}
	/* replies first: a kept client port may fall in the NodePort range */
	ret = snat_reverse_any(skb, &p, cfg, BERTH_DIR_NETDEV);
	if (ret >= 0)
		return ret;
	if (p.proto != IPPROTO_TCP && p.proto != IPPROTO_UDP)
		return TC_ACT_OK;
	if (p.later_frag || !nodeport_port(cfg, p.dport))
		return TC_ACT_OK;
	svc = lb_lookup_service(&p);
	if (!svc)
		return TC_ACT_OK;
	return nodeport(skb, &p, svc, cfg);
}

/* A pod of this node sending outside the cluster: SNAT to node_ip. */
static __always_inline bool masquerade_wanted(const struct pkt4 *p,
					      const struct berth_node_cfg *cfg)
{
	struct berth_ipcache_val *src;
	__u8 want = BERTH_IPCACHE_F_LOCAL | BERTH_IPCACHE_F_POD;

	if (!(cfg->flags & BERTH_NODE_F_MASQUERADE) || !cfg->node_ip ||
	    p->saddr == cfg->node_ip)
		return false;
	if (!pkt_has_ports(p) && (p->proto != IPPROTO_ICMP || p->frag))
		return false;
	src = ipcache_lookup(p->saddr);
	if (!src || (src->flags & want) != want)
		return false;
	return !ipcache_in_cluster(ipcache_lookup(p->daddr));
}

SEC("tc")
int to_netdev(struct __sk_buff *skb)
{
	struct berth_node_cfg *cfg;
	struct pkt4 p;
	__be16 port;
	int ret;

	cfg = node_cfg();
	if (!cfg || !(cfg->flags & BERTH_NODE_F_MASQUERADE))
		return TC_ACT_OK;
	ret = parse_or_verdict(skb, &p, BERTH_DIR_NETDEV);
	if (ret != TC_ACT_UNSPEC)
		return ret;
	if (!masquerade_wanted(&p, cfg))
		return TC_ACT_OK;
	if (p.proto == IPPROTO_ICMP)
		return icmp_masquerade(skb, &p, cfg, BERTH_DIR_NETDEV);
	if (inbound_reply(&p))
		return TC_ACT_OK;
	ret = snat_port(&p, cfg->node_ip, 0, cfg, &port);
	if (ret)
		return drop(skb, -ret, BERTH_DIR_NETDEV);
	if (nat_rewrite(skb, &p, NAT_SRC, cfg->node_ip, port))
		return drop(skb, BERTH_DROP_CSUM, BERTH_DIR_NETDEV);
	return TC_ACT_OK;
}
