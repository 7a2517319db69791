/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The datapath's notifications (the events ring buffer, abi/events.h),
 * read by one thread, the sole consumer: each record becomes a JSON line
 * for every client of <root>/monitor.sock (berthctl monitor), and policy
 * drops become Kubernetes Events on the pod (aggregated with a count, like
 * the kubelet's, at most one API write per pair and interval).
 *
 * A line: {"time": RFC 3339 with microseconds, "type": "drop"|"trace",
 * "reason": berth_reason_str(), "reason_code": n, "proto": "TCP"|"UDP"|
 * "ICMP"|"SCTP"|number as text, "src": ip, "sport": n, "dst": ip,
 * "dport": n, "src_pod": "ns/name" or "", "dst_pod": "ns/name" or "",
 * "ifindex": n, "dir": "ingress"|"egress"}.
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
};

struct berth_monitor;

int berth_monitor_start(const struct berth_monitor_opts *opts,
			struct berth_monitor **out);
void berth_monitor_stop(struct berth_monitor *m);

#endif
