/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Drop and trace records in the events ring buffer (abi/events.h). One
 * global function writes them all, so a call site costs a call, not a copy
 * of the record building; it reads the packet as it is at that moment
 * (after any rewrite: the addresses it leaves with or is dropped with).
 */
#ifndef BERTH_BPF_EVENTS_H
#define BERTH_BPF_EVENTS_H

#include <bpf/bpf_endian.h>

#include "consts.h"
#include "maps.h"

/* the record's tuple from the IPv4 header and ports, if there are any */
static __always_inline void events_tuple(struct __sk_buff *skb,
					 struct berth_event *ev)
{
	struct {
		__u8 ver_ihl;
		__u8 tos;
		__be16 tot_len;
		__be16 id;
		__be16 frag_off;
		__u8 ttl;
		__u8 proto;
		__be16 check;
		__be32 saddr;
		__be32 daddr;
	} ip;
	__be16 ports[2];
	__u32 l4;

	if (skb->protocol != bpf_htons(ETH_P_IP) ||
	    bpf_skb_load_bytes(skb, ETH_HLEN, &ip, sizeof(ip)))
		return;
	ev->proto = ip.proto;
	ev->saddr = ip.saddr;
	ev->daddr = ip.daddr;
	if (ip.frag_off & bpf_htons(IP_OFFSET))
		return; /* a later fragment: no L4 header */
	if (ip.proto != IPPROTO_TCP && ip.proto != IPPROTO_UDP &&
	    ip.proto != IPPROTO_SCTP)
		return;
	l4 = ETH_HLEN + (ip.ver_ihl & 0xf) * 4;
	if (!bpf_skb_load_bytes(skb, l4, ports, sizeof(ports))) {
		ev->sport = ports[0];
		ev->dport = ports[1];
	}
}

/* A record of type (BERTH_EVENT_*) found the ring buffer full. */
static __always_inline void events_lost_inc(__u32 type)
{
	__u64 *lost = bpf_map_lookup_elem(&events_lost, &type);

	if (lost)
		*lost += 1;
}

/*
 * Write ev to the ring buffer. A full one loses the record (counted in
 * events_lost under its type), never the packet's verdict.
 */
static __always_inline void events_output(struct berth_event *ev)
{
	if (bpf_ringbuf_output(&events, ev, sizeof(*ev), 0))
		events_lost_inc(ev->type);
}

/*
 * Write one record about skb: meta is type | reason << 8 | dir << 16.
 * Built in the ring buffer itself (no copy from the stack); a full one
 * loses it as events_output() does. A global function: verified once,
 * called from many sites; scalar arguments besides the context.
 */
__attribute__((noinline)) int events_notify(struct __sk_buff *skb, __u32 meta)
{
	struct berth_event *ev;

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (!ev) {
		events_lost_inc(meta & 0xff);
		return 0;
	}
	ev->ts_ns = bpf_ktime_get_ns();
	ev->type = meta & 0xff;
	ev->reason = (meta >> 8) & 0xff;
	ev->dir = (meta >> 16) & 0xff;
	ev->proto = 0;
	ev->ifindex = skb->ifindex;
	ev->saddr = 0;
	ev->daddr = 0;
	ev->sport = 0;
	ev->dport = 0;
	ev->len = skb->len;
	events_tuple(skb, ev);
	bpf_ringbuf_submit(ev, 0);
	return 0;
}

/* A drop record: reason (enum berth_reason), dir (BERTH_DIR_*). */
static __always_inline void events_drop(struct __sk_buff *skb, __u8 reason,
					__u8 dir)
{
	events_notify(skb,
		      BERTH_EVENT_DROP | (__u32)reason << 8 | (__u32)dir << 16);
}

/*
 * A trace record when tracing is on: one array lookup (inlined by the
 * verifier) and a test when it is off.
 */
static __always_inline void events_trace(struct __sk_buff *skb, __u8 point,
					 __u8 dir)
{
	__u32 zero = 0;
	struct berth_events_cfg *cfg = bpf_map_lookup_elem(&events_cfg, &zero);

	if (cfg && (cfg->flags & BERTH_EVENTS_F_TRACE))
		events_notify(skb, BERTH_EVENT_TRACE | (__u32)point << 8 |
					   (__u32)dir << 16);
}

#endif
