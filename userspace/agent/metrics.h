/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * berth-agent's metrics and health: one registry per process that the
 * agent's modules count into, served by the kubelet's HTTP listener
 * (logserve.c) as /metrics, /healthz, /livez and /readyz.
 *
 * Scrape-time metrics read the node's pinned maps (the fill of every map
 * in /sys/fs/bpf/berth/<node>/, drops and forwards from the metrics map)
 * and the pod manager (pods by phase).
 */
#ifndef BERTH_AGENT_METRICS_H
#define BERTH_AGENT_METRICS_H

#include <stdbool.h>
#include <stddef.h>

struct berth_podmgr;

/* The node whose pinned maps /metrics reads. */
void berth_agent_metrics_set_node(const char *node);
/* Pods by phase come from pm (NULL: none). */
void berth_agent_metrics_set_podmgr(struct berth_podmgr *pm);

/*
 * A proxy sync ended: ok or not, seconds from the first Service or
 * EndpointSlice change it covers to the maps written, and its map writes.
 */
void berth_agent_metrics_sync(bool ok, double latency_s, unsigned long writes);
/* A probe attempt: type "Liveness", "Readiness" or "Startup". */
void berth_agent_metrics_probe(const char *probe_type, bool ok);
/* The policy sync found the policy maps full (true) or fitting again. */
void berth_agent_metrics_policy_full(bool full);
/* The maps enforce a newer NetworkPolicy set since t (Unix seconds). */
void berth_agent_metrics_policy_applied(double t);
/* A container started again after it ran before. */
void berth_agent_metrics_restart(void);

/*
 * A readiness check of /readyz, by name: set (or declared, ok false) by
 * the module that knows. /readyz passes when every declared one is ok.
 */
void berth_agent_health_set(const char *check, bool ok, const char *why);

/*
 * Serve url if it is one of ours: the HTTP code, with *body (malloc'd,
 * *len bytes) and *ctype (static) set; 0 if url is not ours.
 */
int berth_agent_http(const char *url, bool verbose, char **body, size_t *len,
		     const char **ctype);

#endif
