/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * NetworkPolicy on a packet: the lookup order of abi/policy.h, plus the
 * conntrack entries (BERTH_CT_POLICY) that let later packets and replies of
 * a judged flow pass without a policy lookup. An endpoint no policy selects
 * (flags 0) costs one flags test: no conntrack, no lookup.
 */
#ifndef BERTH_BPF_POLICY_H
#define BERTH_BPF_POLICY_H

#include <bpf/bpf_endian.h>

#include "ct.h"
#include "events.h"
#include "maps.h"
#include "metrics.h"
#include "parse.h"

#define BERTH_EP_F_ENFORCED \
	(BERTH_EP_F_INGRESS_ENFORCED | BERTH_EP_F_EGRESS_ENFORCED)

/* The peer's identity: ipcache (LPM), or outside the cluster. */
static __always_inline __u32 policy_identity(__be32 ip)
{
	struct berth_ipcache_key key = { .prefixlen = 32, .ip = ip };
	struct berth_ipcache_val *v = bpf_map_lookup_elem(&ipcache, &key);

	return v ? v->identity : BERTH_ID_WORLD;
}

/*
 * Does an allow of local pod ep_ip for peers of identity id cover p in
 * dir? The head says which of its port, a range or nothing to look at:
 * at most two hash probes and, for endPort ranges only, a trie walk.
 */
static __always_inline bool policy_allows_id(__be32 ep_ip, __u8 dir, __u32 id,
					     const struct pkt4 *p)
{
	struct berth_policy_hkey key = {
		.ep_ip = ep_ip,
		.identity = id,
		.dir = dir,
	};
	struct berth_policy_key rkey;
	struct berth_policy_val *h;
	__u32 flags;
	int i;

	h = bpf_map_lookup_elem(&policy, &key);
	if (!h)
		return false;
	flags = h->flags;
	if (flags & BERTH_POLICY_F_ALLOW)
		return true;
	i = berth_policy_proto_idx(p->proto);
	if (i < 0)
		return false;
	if (flags & BERTH_POLICY_F_ANY_PORT(i))
		return true;
	if (flags & BERTH_POLICY_F_PORTS(i)) {
		key.proto = p->proto;
		key.port = p->dport;
		if (bpf_map_lookup_elem(&policy, &key))
			return true;
	}
	if (!(flags & BERTH_POLICY_F_RANGES(i)))
		return false;
	rkey = (struct berth_policy_key){
		.prefixlen = BERTH_POLICY_PREFIX_FULL,
		.ep_ip = ep_ip,
		.identity = bpf_htonl(id),
		.dir = dir,
		.proto = p->proto,
		.port = p->dport,
	};
	return bpf_map_lookup_elem(&policy_ranges, &rkey) != NULL;
}

/*
 * Does policy let local pod ep_ip exchange p with a peer of identity id in
 * dir? An allow for this peer, else one for any peer.
 */
static __always_inline bool policy_allows(__be32 ep_ip, __u8 dir, __u32 id,
					  const struct pkt4 *p)
{
	return policy_allows_id(ep_ip, dir, id, p) ||
	       policy_allows_id(ep_ip, dir, BERTH_ID_ANY, p);
}

static __always_inline void policy_ct_key(struct berth_ct_key *k,
					  const struct pkt4 *p, bool reverse)
{
	k->saddr = reverse ? p->daddr : p->saddr;
	k->daddr = reverse ? p->saddr : p->daddr;
	k->sport = reverse ? p->dport : p->sport;
	k->dport = reverse ? p->sport : p->dport;
	k->proto = p->proto;
	k->dir = BERTH_CT_POLICY;
	k->pad = 0;
}

/*
 * The flow's conntrack state for one side (ct_flag): true when p belongs
 * to a flow already judged there (a later packet) or is a reply of a flow
 * this node saw (on any side: a reply is judged by the flow it answers).
 * *fwd is the live entry of p's own direction, if any, to mark.
 */
static __always_inline bool policy_ct_known(const struct pkt4 *p, __u16 ct_flag,
					    struct berth_ct_val **fwd)
{
	struct berth_ct_key key;
	struct berth_ct_val *v;
	__u32 now = ct_now();

	*fwd = NULL;
	policy_ct_key(&key, p, false);
	v = bpf_map_lookup_elem(&ct, &key);
	if (v && ct_usable(v, p, now)) {
		if (!(v->flags & ct_flag)) {
			*fwd = v;
			return false;
		}
	} else {
		policy_ct_key(&key, p, true);
		v = bpf_map_lookup_elem(&ct, &key);
		if (!v || !ct_usable(v, p, now))
			return false;
	}
	ct_refresh(v, p, now);
	return true;
}

/* Remember that this node passed p's flow on side ct_flag. */
static __always_inline void policy_ct_mark(const struct pkt4 *p, __u16 ct_flag,
					   struct berth_ct_val *fwd)
{
	struct berth_ct_val val = {
		.lifetime = ct_now() + ct_timeout(p),
		.flags = ct_flag,
	};
	struct berth_ct_key key;

	if (fwd) {
		fwd->flags |= ct_flag;
		return;
	}
	if (p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		val.flags |= BERTH_CT_F_CLOSING;
	policy_ct_key(&key, p, false);
	/* LRU: a failure only means the next packet is judged again */
	bpf_map_update_elem(&ct, &key, &val, BPF_ANY);
}

/*
 * Tell the agent (events ring buffer) what was judged. A full buffer loses
 * the record (counted in events_lost), not the verdict: the drop is
 * counted in metrics either way.
 */
static __always_inline void
policy_drop_event(const struct pkt4 *p, bool ingress, struct __sk_buff *skb)
{
	struct berth_event ev = {
		.ts_ns = bpf_ktime_get_ns(),
		.type = BERTH_EVENT_DROP,
		.reason = BERTH_DROP_POLICY,
		.dir = ingress ? BERTH_DIR_INGRESS : BERTH_DIR_EGRESS,
		.proto = p->proto,
		.ifindex = skb->ifindex,
		.saddr = p->saddr,
		.daddr = p->daddr,
		.sport = p->sport,
		.dport = p->dport,
		.len = skb->len,
	};

	events_output(&ev);
}

/*
 * Judge a packet for a local pod with flags ep_flags (some direction
 * enforced) on one side: BERTH_POLICY_INGRESS (the pod is the destination)
 * or BERTH_POLICY_EGRESS (the source), addresses final (after DNAT, before
 * any reverse NAT). 1: pass, 0: drop.
 *
 * A global function: the verifier checks it once on its own, not once per
 * path of every caller, which keeps the programs that judge twice (from_pod)
 * near their size without policy. Hence scalar arguments only: ports is
 * sport | dport << 16 (SCTP, whose ports parse.h leaves alone: the offset
 * of its header, 0 for a later fragment), meta proto | tcp_flags << 8 |
 * dir << 16 | ep_flags << 24; skb (the context) for SCTP's ports and the
 * drop event's device.
 */
__attribute__((noinline)) int policy_verdict(struct __sk_buff *skb,
					     __be32 saddr, __be32 daddr,
					     __u32 ports, __u32 meta)
{
	struct pkt4 p = {
		.saddr = saddr,
		.daddr = daddr,
		.sport = ports & 0xffff,
		.dport = ports >> 16,
		.proto = meta & 0xff,
		.tcp_flags = (meta >> 8) & 0xff,
	};
	__u8 dir = (meta >> 16) & 0xff, ep_flags = meta >> 24;
	bool ingress = dir == BERTH_POLICY_INGRESS;
	__u32 enforced = ingress ? BERTH_EP_F_INGRESS_ENFORCED :
				   BERTH_EP_F_EGRESS_ENFORCED;
	__u16 ct_flag = ingress ? BERTH_CT_F_POL_INGRESS :
				  BERTH_CT_F_POL_EGRESS;
	struct berth_ct_val *fwd;
	__u32 id;

	if (p.proto == IPPROTO_SCTP) {
		__be16 sp[2] = { 0, 0 };

		/* a header too short to hold them: no ports, as parse.h */
		if (ports)
			bpf_skb_load_bytes(skb, ports, sp, sizeof(sp));
		p.sport = sp[0];
		p.dport = sp[1];
	}
	if (policy_ct_known(&p, ct_flag, &fwd))
		return 1;
	/*
	 * The other direction enforced only: still recorded, so that the
	 * replies pass that direction's check.
	 */
	if (ep_flags & enforced) {
		id = policy_identity(ingress ? saddr : daddr);
		/* a pod and its own node may always talk (Kubernetes) */
		if (id == BERTH_ID_HOST)
			return 1;
		if (!policy_allows(ingress ? daddr : saddr, dir, id, &p)) {
			policy_drop_event(&p, ingress, skb);
			return 0;
		}
	}
	policy_ct_mark(&p, ct_flag, fwd);
	return 1;
}

/* policy_verdict() for p and local pod ep (NULL or not selected: pass). */
static __always_inline bool policy_pass(struct __sk_buff *skb,
					const struct pkt4 *p,
					const struct berth_endpoint_info *ep,
					__u8 dir)
{
	__u32 meta, ports;

	if (!ep || !(ep->flags & BERTH_EP_F_ENFORCED))
		return true;
	meta = p->proto | (__u32)p->tcp_flags << 8 | (__u32)dir << 16 |
	       (ep->flags & BERTH_EP_F_ENFORCED) << 24;
	ports = p->proto != IPPROTO_SCTP ? p->sport | (__u32)p->dport << 16 :
		p->later_frag		 ? 0 :
					   p->l4_off;
	return policy_verdict(skb, p->saddr, p->daddr, ports, meta);
}

/*
 * tc: policy for a packet about to be delivered to local pod ep.
 * TC_ACT_UNSPEC to go on, or the drop (counted as an ingress drop).
 */
static __always_inline int policy_ingress(struct __sk_buff *skb,
					  const struct pkt4 *p,
					  const struct berth_endpoint_info *ep)
{
	if (policy_pass(skb, p, ep, BERTH_POLICY_INGRESS))
		return TC_ACT_UNSPEC;
	return drop(skb, BERTH_DROP_POLICY, BERTH_DIR_INGRESS);
}

/* The same for a packet local pod ep sends. */
static __always_inline int policy_egress(struct __sk_buff *skb,
					 const struct pkt4 *p,
					 const struct berth_endpoint_info *ep)
{
	if (policy_pass(skb, p, ep, BERTH_POLICY_EGRESS))
		return TC_ACT_UNSPEC;
	return drop(skb, BERTH_DROP_POLICY, BERTH_DIR_EGRESS);
}

#endif
