/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath's notifications (the events ring buffer, abi/events.h),
 * read by one thread, the sole consumer: each record becomes a JSON line
 * for the clients of <root>/monitor.sock (berthctl monitor) that want its
 * type, and policy drops become Kubernetes Events on the pod (aggregated
 * with a count, like the kubelet's, at most one API write per pair and
 * interval).
 *
 * A client may send one line first: {"types": ["drop", "trace"]} (either
 * or both). Without it a client gets drops (and traces when trace_always).
 * The datapath writes trace records (events_cfg) while trace_always or
 * some connected client asked for "trace", and stops when the last one
 * leaves.
 *
 * A line: {"time": RFC 3339 with microseconds, "node": name, "type":
 * "drop"|"trace", "reason": berth_reason_str() or the trace point
 * ("to-endpoint", "to-stack", "to-overlay", "to-netdev", "to-pod"),
 * "reason_code": n, "proto": "TCP"|"UDP"|"ICMP"|"SCTP"|number as text,
 * "src": ip, "sport": n, "dst": ip, "dport": n, "src_pod": "ns/name" or "",
 * "dst_pod": "ns/name" or "", "ifindex": n, "dir": "ingress"|"egress"|
 * "netdev"|"overlay"|"xdp", "len": bytes}. Records lost to a full ring
 * buffer: {"time", "node", "type": "lost", "lost_type": "drop"|"trace",
 * "count": n since the last such line}, to every client.
 */
#ifndef BERTH_AGENT_MONITOR_H
#define BERTH_AGENT_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berth_monitor_opts {
	int events_fd; /* the events ring buffer */
	const char *root; /* <root>/monitor.sock */
	const char *kubeconfig; /* Kubernetes Events; NULL: none */
	const char *node_name;
	/* names a pod by address (network order); NULL: no names */
	bool (*pod_name)(void *ctx, uint32_t ip, char *name, size_t len,
			 char *uid, size_t uidlen);
	void *pod_ctx;
	unsigned int event_interval_ms; /* 0: 5000 */
	int events_cfg_fd; /* the events_cfg map (trace on/off); < 0: none */
	int events_lost_fd; /* the events_lost map; < 0: none */
	bool trace_always; /* --trace-events: trace with no client too */
};

struct berth_monitor;

int berth_monitor_start(const struct berth_monitor_opts *opts,
			struct berth_monitor **out);
void berth_monitor_stop(struct berth_monitor *m);

#endif
