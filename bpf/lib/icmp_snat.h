/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ICMP through source NAT: a pod's echo request leaves masqueraded with its
 * identifier as the port (nat OUT/IN entries as for UDP, sport = id,
 * dport = 0), the reply gets the pod back; an ICMP error about a SNATed
 * TCP/UDP flow (masquerade or NodePort) gets its quote translated so the
 * client's socket hears of it.
 */
#ifndef BERTH_BPF_ICMP_SNAT_H
#define BERTH_BPF_ICMP_SNAT_H

#include "icmp.h"
#include "maps.h"
#include "parse.h"
#include "route.h"
#include "snat.h"

#define ICMP_ID_OFF 4

/* The first 8 bytes of an ICMP message, as on the wire. */
struct icmp_echo_hdr {
	__u8 type;
	__u8 code;
	__u16 csum;
	__be16 id;
	__be16 seq;
};

static __always_inline int icmp_echo_load(struct __sk_buff *skb,
					  const struct pkt4 *p,
					  struct icmp_echo_hdr *h)
{
	if (p->proto != IPPROTO_ICMP || p->frag)
		return -1;
	return bpf_skb_load_bytes(skb, p->l4_off, h, sizeof(*h)) ? -1 : 0;
}

/* The echo identifier (network order) becomes id, the ICMP checksum follows. */
static __always_inline int icmp_echo_set_id(struct __sk_buff *skb,
					    const struct pkt4 *p, __be16 old,
					    __be16 id)
{
	return icmp_store16(skb, p->l4_off + ICMP_CSUM_OFF,
			    p->l4_off + ICMP_ID_OFF, old, id);
}

/*
 * A pod's echo request leaving the cluster: SNAT to node_ip, the identifier
 * as the port. Other ICMP passes as it is. A tc verdict.
 */
static __always_inline int icmp_masquerade(struct __sk_buff *skb,
					   struct pkt4 *p,
					   const struct berth_node_cfg *cfg,
					   __u8 dir)
{
	struct icmp_echo_hdr h;
	struct pkt4 q = *p;
	__be16 id;
	int ret;

	if (icmp_echo_load(skb, p, &h) || h.type != ICMP_ECHO)
		return TC_ACT_OK;
	q.sport = h.id;
	q.dport = 0;
	ret = snat_port(&q, cfg->node_ip, 0, cfg, &id);
	if (ret)
		return drop(skb, -ret, dir);
	if (icmp_echo_set_id(skb, p, h.id, id) ||
	    icmp_outer_addr(skb, p, false, cfg->node_ip))
		return drop(skb, BERTH_DROP_CSUM, dir);
	return TC_ACT_OK;
}

/* p, its destination final now, to a pod of this node or out by the FIB. */
static __always_inline int snat_deliver(struct __sk_buff *skb, struct pkt4 *p,
					const struct berth_node_cfg *cfg,
					__u8 dir)
{
	struct berth_endpoint_info *ep = endpoint_lookup(p->daddr);

	if (ep)
		return deliver_local(skb, p, ep, false, dir);
	return fib_out(skb, p->saddr, p->daddr, cfg, dir);
}

/* An echo reply to a masqueraded request; TC_ACT_UNSPEC if it is none. */
static __always_inline int icmp_echo_reverse(struct __sk_buff *skb,
					     struct pkt4 *p,
					     const struct icmp_echo_hdr *h,
					     const struct berth_node_cfg *cfg,
					     __u8 dir)
{
	struct berth_nat_val *v;
	struct pkt4 q = *p;

	q.sport = 0;
	q.dport = h->id;
	v = snat_reply_lookup(&q);
	if (!v)
		return TC_ACT_UNSPEC;
	if (icmp_echo_set_id(skb, p, h->id, v->port) ||
	    icmp_outer_addr(skb, p, true, v->addr))
		return drop(skb, BERTH_DROP_CSUM, dir);
	return snat_deliver(skb, p, cfg, dir);
}

/*
 * An ICMP error about a flow SNATed here: the quote (node_ip:port -> peer)
 * gets the client's source back, and for NodePort the frontend as its
 * destination; the error goes to the client. TC_ACT_UNSPEC if it is none.
 */
static __always_inline int icmp_error_reverse(struct __sk_buff *skb,
					      struct pkt4 *p,
					      const struct berth_node_cfg *cfg,
					      __u8 dir)
{
	struct berth_rev_nat *rn = NULL;
	struct berth_ct_key key;
	struct berth_nat_val *v;
	struct icmp_quote q;
	__be32 peer;

	if (icmp_quote_load(skb, p, &q) || q.ip.saddr != cfg->node_ip)
		return TC_ACT_UNSPEC;
	/* the quote is the packet as it left: its reply's IN entry */
	snat_key(&key, q.ip.daddr, q.ip.saddr, q.ports[1], q.ports[0],
		 q.ip.protocol, BERTH_NAT_IN);
	v = bpf_map_lookup_elem(&nat, &key);
	if (!v || v->lifetime < ct_now())
		return TC_ACT_UNSPEC;
	if (v->rev_nat_id) {
		rn = bpf_map_lookup_elem(&rev_nat, &v->rev_nat_id);
		if (!rn)
			return drop(skb, BERTH_DROP_NO_BACKEND, dir);
	}
	peer = q.ip.daddr;
	if (icmp_quote_rewrite(skb, &q, false, v->addr, v->port))
		return drop(skb, BERTH_DROP_CSUM, dir);
	if (rn) {
		if (icmp_quote_rewrite(skb, &q, true, rn->vip, rn->port))
			return drop(skb, BERTH_DROP_CSUM, dir);
		/* from the backend itself: from the frontend, as the client knows it */
		if (p->saddr == peer && icmp_outer_addr(skb, p, false, rn->vip))
			return drop(skb, BERTH_DROP_CSUM, dir);
	}
	if (icmp_outer_addr(skb, p, true, v->addr))
		return drop(skb, BERTH_DROP_CSUM, dir);
	return snat_deliver(skb, p, cfg, dir);
}

/* ICMP to node_ip about or answering a SNATed flow; TC_ACT_UNSPEC if none. */
static __always_inline int icmp_snat_reverse(struct __sk_buff *skb,
					     struct pkt4 *p,
					     const struct berth_node_cfg *cfg,
					     __u8 dir)
{
	struct icmp_echo_hdr h;

	if (icmp_echo_load(skb, p, &h))
		return TC_ACT_UNSPEC;
	if (h.type == ICMP_ECHOREPLY && !h.code)
		return icmp_echo_reverse(skb, p, &h, cfg, dir);
	return icmp_error_reverse(skb, p, cfg, dir);
}

#endif
