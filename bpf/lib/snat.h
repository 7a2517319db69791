/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Source NAT to the node's address, for NodePort flows to a backend on
 * another node and for pod traffic leaving the cluster (masquerade). A flow
 * has two nat entries: OUT keyed by its tuple before SNAT (the source to
 * write), IN keyed by the reply's tuple (the client to write back). The
 * port allocator and the entries are shared by tc and XDP, so a flow one of
 * them started is continued by the other.
 */
#ifndef BERTH_BPF_SNAT_H
#define BERTH_BPF_SNAT_H

#include "ct.h"
#include "maps.h"
#include "parse.h"

/* Ports tried for a new flow before giving up (bounded: verifier, latency). */
#define SNAT_PROBES 32

static __always_inline void snat_key(struct berth_ct_key *k, __be32 saddr,
				     __be32 daddr, __be16 sport, __be16 dport,
				     __u8 proto, __u8 dir)
{
	k->saddr = saddr;
	k->daddr = daddr;
	k->sport = sport;
	k->dport = dport;
	k->proto = proto;
	k->dir = dir;
	k->pad = 0;
}

/*
 * Claim IN entry k (its dport is the candidate port) for the flow whose
 * client is val->addr:val->port: free, expired, or already the flow's own
 * (its OUT entry was evicted). Returns 0 when claimed.
 */
static __always_inline int snat_claim(struct berth_ct_key *k,
				      struct berth_nat_val *val, __u32 now)
{
	struct berth_nat_val *old;

	if (!bpf_map_update_elem(&nat, k, val, BPF_NOEXIST))
		return 0;
	old = bpf_map_lookup_elem(&nat, k);
	if (!old)
		return -1;
	if (old->lifetime >= now &&
	    (old->addr != val->addr || old->port != val->port))
		return -1;
	return bpf_map_update_elem(&nat, k, val, BPF_ANY) ? -1 : 0;
}

/*
 * The source port q (tuple before SNAT) leaves with from nat_ip: its flow's,
 * or a new one (the client's own when free, else probed in the node's SNAT
 * range) with both entries written. Returns 0, or -BERTH_DROP_NAT_NO_PORT.
 */
static __always_inline int snat_port(const struct pkt4 *q, __be32 nat_ip,
				     __u32 rev_nat_id,
				     const struct berth_node_cfg *cfg,
				     __be16 *port)
{
	__u32 now = ct_now(), min = cfg->snat_port_min,
	      max = cfg->snat_port_max, range, start, i;
	struct berth_nat_val in_val = {
		.addr = q->saddr,
		.port = q->sport,
		.lifetime = now + ct_timeout(q),
		.rev_nat_id = rev_nat_id,
	}, out_val;
	struct berth_ct_key out_key, in_key;
	struct berth_nat_val *v;

	snat_key(&out_key, q->saddr, q->daddr, q->sport, q->dport, q->proto,
		 BERTH_NAT_OUT);
	v = bpf_map_lookup_elem(&nat, &out_key);
	if (v && lifetime_usable(v->lifetime, v->flags, q, now)) {
		lifetime_refresh(&v->lifetime, &v->flags, q, now);
		*port = v->port;
		return 0;
	}
	if (q->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		in_val.flags = BERTH_CT_F_CLOSING;
	if (!min || max < min) {
		min = BERTH_SNAT_PORT_MIN;
		max = BERTH_SNAT_PORT_MAX;
	}
	range = max - min + 1;
	snat_key(&in_key, q->daddr, nat_ip, q->dport, q->sport, q->proto,
		 BERTH_NAT_IN);
	/* the client's port first: most flows keep their tuple */
	if (snat_claim(&in_key, &in_val, now)) {
		start = bpf_get_prandom_u32() % range;
		for (i = 0; i < SNAT_PROBES; i++) {
			in_key.dport = bpf_htons(min + (start + i) % range);
			if (!snat_claim(&in_key, &in_val, now))
				break;
		}
		if (i == SNAT_PROBES)
			return -BERTH_DROP_NAT_NO_PORT;
	}
	out_val = in_val;
	out_val.addr = nat_ip;
	out_val.port = in_key.dport;
	if (bpf_map_update_elem(&nat, &out_key, &out_val, BPF_ANY)) {
		bpf_map_delete_elem(&nat, &in_key);
		return -BERTH_DROP_NAT_NO_PORT;
	}
	*port = in_key.dport;
	return 0;
}

/* The IN entry p (a reply to a SNATed flow) arrives on, refreshed; or NULL. */
static __always_inline struct berth_nat_val *
snat_reply_lookup(const struct pkt4 *p)
{
	struct berth_ct_key key;
	struct berth_nat_val *v;
	__u32 now = ct_now();

	snat_key(&key, p->saddr, p->daddr, p->sport, p->dport, p->proto,
		 BERTH_NAT_IN);
	v = bpf_map_lookup_elem(&nat, &key);
	if (!v || !lifetime_usable(v->lifetime, v->flags, p, now))
		return NULL;
	lifetime_refresh(&v->lifetime, &v->flags, p, now);
	return v;
}

#endif
