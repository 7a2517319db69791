/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Count a packet under {reason, direction} in the metrics map; a drop also
 * goes to the events ring buffer (events.h).
 */
#ifndef BERTH_BPF_METRICS_H
#define BERTH_BPF_METRICS_H

#include "events.h"
#include "maps.h"
#include "parse.h"

static __always_inline void metrics_add(__u8 reason, __u8 dir, __u32 len)
{
	struct berth_metrics_key key = { .reason = reason, .dir = dir };
	struct berth_metrics_val *val, init = { .packets = 1, .bytes = len };

	val = bpf_map_lookup_elem(&metrics, &key);
	if (val) {
		val->packets++;
		val->bytes += len;
		return;
	}
	bpf_map_update_elem(&metrics, &key, &init, BPF_NOEXIST);
}

static __always_inline void metrics_count(struct __sk_buff *skb, __u8 reason,
					  __u8 dir)
{
	metrics_add(reason, dir, skb->len);
}

/*
 * Count a drop and report it. Policy drops are reported by policy.h with
 * the tuple it judged (reason is a constant at most call sites: the test
 * costs nothing there).
 */
static __always_inline void drop_count(struct __sk_buff *skb, __u8 reason,
				       __u8 dir)
{
	metrics_count(skb, reason, dir);
	if (reason != BERTH_DROP_POLICY)
		events_drop(skb, reason, dir);
}

/* Count and report a drop, and return the verdict that drops. */
static __always_inline int drop(struct __sk_buff *skb, __u8 reason, __u8 dir)
{
	drop_count(skb, reason, dir);
	return TC_ACT_SHOT;
}

/*
 * tc: parse the packet into p. TC_ACT_UNSPEC to go on, or the verdict:
 * pass what is not IPv4, drop (counted under dir) what is malformed.
 */
static __always_inline int parse_or_verdict(struct __sk_buff *skb,
					    struct pkt4 *p, __u8 dir)
{
	int ret = parse_ipv4(skb, p);

	if (ret == PARSE_SKIP)
		return TC_ACT_OK;
	if (ret < 0)
		return drop(skb, BERTH_DROP_INVALID, dir);
	return TC_ACT_UNSPEC;
}

#endif
