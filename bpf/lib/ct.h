/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Service conntrack. A balanced flow has two entries: SERVICE, keyed by the
 * tuple the client sent (to the frontend), naming the backend; and EGRESS,
 * keyed by the tuple after DNAT, so replies and ICMP errors find the frontend.
 */
#ifndef BERTH_BPF_CT_H
#define BERTH_BPF_CT_H

#include "maps.h"
#include "parse.h"

static __always_inline __u32 ct_now(void)
{
	return bpf_ktime_get_ns() / NSEC_PER_SEC;
}

static __always_inline __u32 ct_timeout(const struct pkt4 *p)
{
	if (p->proto != IPPROTO_TCP)
		return BERTH_CT_UDP_LIFETIME;
	if (p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		return BERTH_CT_CLOSE_LIFETIME;
	if ((p->tcp_flags & (TCP_FLAG_SYN | TCP_FLAG_ACK)) == TCP_FLAG_SYN)
		return BERTH_CT_SYN_LIFETIME;
	return BERTH_CT_TCP_LIFETIME;
}

static __always_inline void ct_key_service(struct berth_ct_key *k,
					   const struct pkt4 *p)
{
	k->saddr = p->saddr;
	k->daddr = p->daddr;
	k->sport = p->sport;
	k->dport = p->dport;
	k->proto = p->proto;
	k->dir = BERTH_CT_SERVICE;
	k->pad = 0;
}

/*
 * A live entry (ct or nat: both keep a lifetime and BERTH_CT_F_* flags):
 * not expired, and not a closed TCP flow being reopened by a SYN.
 */
static __always_inline bool lifetime_usable(__u32 lifetime, __u16 flags,
					    const struct pkt4 *p, __u32 now)
{
	if (lifetime < now)
		return false;
	if ((flags & BERTH_CT_F_CLOSING) && pkt_is_syn(p))
		return false;
	return true;
}

static __always_inline bool ct_usable(const struct berth_ct_val *v,
				      const struct pkt4 *p, __u32 now)
{
	return lifetime_usable(v->lifetime, v->flags, p, now);
}

/*
 * Extend a live entry. The write is skipped unless the lifetime moved by
 * more than BERTH_CT_REFRESH or the flow started closing: most packets of a
 * flow then cost no write to shared memory. Returns whether it wrote.
 */
static __always_inline bool lifetime_refresh(__u32 *lifetime, __u16 *flags,
					     const struct pkt4 *p, __u32 now)
{
	__u32 next = now + ct_timeout(p);
	bool closing = p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST);

	if (closing && !(*flags & BERTH_CT_F_CLOSING)) {
		*flags |= BERTH_CT_F_CLOSING;
		*lifetime = next;
		return true;
	}
	if (*flags & BERTH_CT_F_CLOSING)
		return false;
	if (next > *lifetime + BERTH_CT_REFRESH ||
	    next + BERTH_CT_REFRESH < *lifetime) {
		*lifetime = next;
		return true;
	}
	return false;
}

static __always_inline bool ct_refresh(struct berth_ct_val *v,
				       const struct pkt4 *p, __u32 now)
{
	return lifetime_refresh(&v->lifetime, &v->flags, p, now);
}

/* Record a new flow: both entries, or neither. */
static __always_inline int ct_create(const struct pkt4 *p, __u32 now,
				     __u32 backend_id, __u32 rev_nat_id,
				     __be32 be_ip, __be16 be_port)
{
	struct berth_ct_key key;
	struct berth_ct_val val = {
		.backend_id = backend_id,
		.rev_nat_id = rev_nat_id,
		.lifetime = now + ct_timeout(p),
	};

	if (p->tcp_flags & (TCP_FLAG_FIN | TCP_FLAG_RST))
		val.flags = BERTH_CT_F_CLOSING;
	ct_key_service(&key, p);
	if (bpf_map_update_elem(&ct, &key, &val, BPF_ANY))
		return -1;
	key.daddr = be_ip;
	key.dport = be_port;
	key.dir = BERTH_CT_EGRESS;
	if (bpf_map_update_elem(&ct, &key, &val, BPF_ANY)) {
		ct_key_service(&key, p);
		bpf_map_delete_elem(&ct, &key);
		return -1;
	}
	return 0;
}

/*
 * Keep the EGRESS twin as long-lived as the SERVICE entry, re-creating it if
 * LRU pressure took it. Called when the SERVICE entry changed, not per packet.
 */
static __always_inline void ct_refresh_egress(const struct pkt4 *p,
					      const struct berth_backend *be,
					      const struct berth_ct_val *svc)
{
	struct berth_ct_key key = {
		.saddr = p->saddr,
		.daddr = be->ip,
		.sport = p->sport,
		.dport = be->port,
		.proto = p->proto,
		.dir = BERTH_CT_EGRESS,
	};
	struct berth_ct_val *v = bpf_map_lookup_elem(&ct, &key);

	if (v) {
		if (v->lifetime != svc->lifetime || v->flags != svc->flags) {
			v->lifetime = svc->lifetime;
			v->flags = svc->flags;
		}
		return;
	}
	bpf_map_update_elem(&ct, &key, svc, BPF_ANY);
}

/*
 * A direct connection (not to a frontend) that reuses the tuple of an
 * earlier balanced flow: client:P -> backend after client:P -> vip. The
 * EGRESS entry left from that flow would reverse-NAT this connection's
 * replies, so a fresh SYN retires it.
 */
static __always_inline void ct_retire_egress(const struct pkt4 *p)
{
	struct berth_ct_key key = {
		.saddr = p->saddr,
		.daddr = p->daddr,
		.sport = p->sport,
		.dport = p->dport,
		.proto = p->proto,
		.dir = BERTH_CT_EGRESS,
	};

	if (bpf_map_lookup_elem(&ct, &key))
		bpf_map_delete_elem(&ct, &key);
}

#endif
