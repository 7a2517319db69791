/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Datapath notifications: the events ring buffer. Programs write a record
 * when they drop a packet for policy (more kinds may follow); the agent is
 * the sole consumer (monitor.h), naming the pods and passing the records on
 * as Kubernetes Events and JSON lines on <root>/monitor.sock.
 */
#ifndef BERTH_ABI_EVENTS_H
#define BERTH_ABI_EVENTS_H

#include "types.h"

/* berth_event.type */
enum {
	BERTH_EVENT_DROP = 1, /* reason: enum berth_reason */
	BERTH_EVENT_TRACE = 2,
};

/* Ring buffer size (bytes, a power of two): 8,192 records of 32 bytes. */
#define BERTH_EVENTS_SIZE (256 * 1024)

/*
 * events (ring buffer) records. Written by the programs that drop for
 * policy (from_pod, to_pod, overlay, host); read by the agent.
 */
struct berth_event {
	__u64 ts_ns; /* bpf_ktime_get_ns() */
	__u8 type; /* BERTH_EVENT_* */
	__u8 reason; /* enum berth_reason (metrics.h) */
	__u8 dir; /* BERTH_DIR_* (metrics.h): INGRESS to, EGRESS from a pod */
	__u8 proto; /* IPPROTO_* */
	__u32 ifindex; /* the device the program ran on */
	__be32 saddr;
	__be32 daddr;
	__be16 sport; /* 0 without ports */
	__be16 dport;
	__u32 pad;
};
BERTH_ABI_SIZE(struct berth_event, 32);

#endif
