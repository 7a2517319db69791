/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Datapath notifications: the events ring buffer. Programs write a record
 * for every packet they drop (any reason) and, while tracing is on (the
 * events_cfg map), for every packet they forward; the agent is the sole
 * consumer (monitor.h), naming the pods and passing the records on as
 * Kubernetes Events and JSON lines on <root>/monitor.sock.
 */
#ifndef BERTH_ABI_EVENTS_H
#define BERTH_ABI_EVENTS_H

#include "types.h"

/* berth_event.type */
enum {
	BERTH_EVENT_DROP = 1, /* reason: enum berth_reason */
	BERTH_EVENT_TRACE = 2, /* reason: enum berth_trace_point */
};

/* Where a traced packet went: berth_event.reason of a BERTH_EVENT_TRACE. */
enum berth_trace_point {
	BERTH_TRACE_TO_ENDPOINT = 1, /* into a local pod (redirect_peer) */
	BERTH_TRACE_TO_STACK = 2, /* from a pod to the host stack */
	BERTH_TRACE_TO_OVERLAY = 3, /* redirected to the tunnel device */
	BERTH_TRACE_TO_NETDEV = 4, /* out of the underlay device (FIB) */
	BERTH_TRACE_TO_POD = 5, /* passed to a pod by its veth (to_pod) */
	BERTH_TRACE_MAX,
};

/* Ring buffer size (bytes, a power of two): 8,192 records of 32 bytes. */
#define BERTH_EVENTS_SIZE (256 * 1024)

/*
 * events (ring buffer) records. Written by every tc program (drops, and
 * traces while on); read by the agent.
 */
struct berth_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u8 type; /* BERTH_EVENT_* */
	__u8 reason; /* enum berth_reason (drop) or berth_trace_point */
	__u8 dir; /* BERTH_DIR_* (metrics.h): INGRESS to, EGRESS from a pod */
	__u8 proto; /* IPPROTO_*; 0 when not IPv4 */
	__u32 ifindex; /* the device the program ran on */
	__be32 saddr; /* 0.0.0.0 when not IPv4 */
	__be32 daddr;
	__be16 sport; /* 0 without ports (ICMP, later fragments) */
	__be16 dport;
	__u32 len; /* skb->len: the packet's bytes from the L2 header on */
};
BERTH_ABI_SIZE(struct berth_event, 32);

/* berth_events_cfg.flags */
#define BERTH_EVENTS_F_TRACE (1U << 0) /* write trace records */

/*
 * events_cfg (array, one entry, key 0): what the programs report beyond
 * drops. Written by the agent (on while a trace client is connected or
 * with --trace-events); read on every forwarded packet, so one word.
 */
struct berth_events_cfg {
	__u32 flags; /* BERTH_EVENTS_F_* */
};
BERTH_ABI_SIZE(struct berth_events_cfg, 4);

/*
 * events_lost (per-CPU array): key BERTH_EVENT_DROP or BERTH_EVENT_TRACE
 * -> records that found the ring buffer full (__u64). Written by the
 * programs, read (summed) by the agent.
 */
#define BERTH_EVENTS_LOST_KEYS 3

#endif
