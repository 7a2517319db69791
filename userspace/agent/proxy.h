/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kube-proxy side of berth-agent: watches Services and EndpointSlices
 * on the API server and keeps the BPF service maps equal to them.
 *
 * Conversion rules (berth_proxy_convert):
 * - Services with a ClusterIP (IPv4; not "None", not type ExternalName).
 * - Each port: TCP or UDP (SCTP is skipped with a log). Endpoints come from
 *   the EndpointSlices labelled kubernetes.io/service-name=<svc> in the
 *   Service's namespace (addressType IPv4); a slice port matches a Service
 *   port by name (and protocol); the slice's port number is the backend port.
 * - Endpoint conditions: ready (unset counts as ready) -> backend; not ready
 *   but serving and terminating -> terminating backend (existing flows keep
 *   it, new ones never pick it); anything else is left out.
 * - spec.sessionAffinity ClientIP, timeout from
 *   spec.sessionAffinityConfig.clientIP.timeoutSeconds (default 10800).
 * - spec.internalTrafficPolicy Local: only endpoints whose nodeName is this
 *   node.
 * - Type NodePort or LoadBalancer, with a node IP: each port with a
 *   nodePort gets a second frontend {node IP, nodePort, proto}: all ready
 *   endpoints (externalTrafficPolicy Cluster) or only this node's (Local).
 *   Type ClusterIP has none.
 * - externalTrafficPolicy Local with spec.healthCheckNodePort: the proxy
 *   serves that port on the node IP (healthcheck.h, berth_proxy_health).
 * - Annotation service.berth.dev/lb-algorithm: "maglev" or "random"
 *   (default random, as kube-proxy); any other value is random with a log.
 *
 * Each Service port becomes one struct berth_service with one port (so
 * ports may have different endpoints, as slices allow); its endpoints carry
 * their own port (struct berth_endpoint.port).
 *
 * Syncing: events are coalesced (BERTH_PROXY_DEBOUNCE_MS after the last
 * event, at most BERTH_PROXY_DEBOUNCE_MAX_MS after the first) into one
 * berth_lbmap_sync, which writes only what differs. Nothing is synced before
 * both watches have completed their first list, and a relist keeps the last
 * complete view until it ends. ROOT/sync-status.json is written after each
 * sync, with latency_us from the first event to maps written.
 */
#ifndef BERTH_AGENT_PROXY_H
#define BERTH_AGENT_PROXY_H

#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include <berth/lbmap.h>

#include "healthcheck.h"
#include <berth/service.h>

#define BERTH_PROXY_ANNOT_LB "service.berth.dev/lb-algorithm"
#define BERTH_PROXY_AFFINITY_DEFAULT 10800 /* s; Kubernetes' default */
#define BERTH_PROXY_DEBOUNCE_MS 20 /* quiet time before a sync */
#define BERTH_PROXY_DEBOUNCE_MAX_MS 100 /* a steady stream still syncs */

struct berth_kube;
struct berth_proxy;

struct berth_proxy_opts {
	/* the API client (shared, not freed) or, if NULL, a kubeconfig/URL
	 * the proxy opens a client of its own for */
	struct berth_kube *kube;
	const char *kubeconfig;
	const char *node_name; /* for internalTrafficPolicy Local */
	const char *root; /* ROOT/sync-status.json; NULL: not written */
	/* the agent's map writer; the proxy is its only user while it runs,
	 * except for callers that hold berth_proxy_lock() */
	struct berth_lbmap *lb;
	/* this node's IP: NodePort frontends and healthCheckNodePort servers;
	 * NULL: neither */
	const char *node_ip;
	/* NodePort XDP mode for ROOT/sync-status.json; NULL: left out */
	const char *xdp_mode;
	/* iptables dataplane (ipt_sync.h): used instead of lb, which may
	 * then be NULL; its periodic full syncs run on the sync thread */
	struct berth_ipt_sync *ipt;
};

/* Starts the watches and the sync thread. */
int berth_proxy_start(const struct berth_proxy_opts *opts,
		      struct berth_proxy **out);
/* Stops the threads; the maps stay as they are. NULL is fine. */
void berth_proxy_stop(struct berth_proxy *p);

/* Exclusive use of opts->lb (e.g. for berth_lbmap_gc). NULL p: no-op. */
void berth_proxy_lock(struct berth_proxy *p);
void berth_proxy_unlock(struct berth_proxy *p);

/* A full sync now (iptables dataplane: every chain rewritten, missing
 * jumps put back); a no-op for BPF. */
void berth_proxy_resync(struct berth_proxy *p);

/* Completed syncs so far (tests). */
uint64_t berth_proxy_syncs(struct berth_proxy *p);

/*
 * The conversion, without threads or maps: Service and EndpointSlice
 * objects (json-c, as the API serves them) to a service set. @node may be
 * NULL (then Local policy keeps no endpoints); @node_ip (network order) 0:
 * no NodePort frontends. Objects that are not usable are skipped with a
 * debug log; -ENOMEM is the only error.
 */
int berth_proxy_convert(json_object *const *svcs, size_t nsvcs,
			json_object *const *slices, size_t nslices,
			const char *node, uint32_t node_ip,
			struct berth_service_set *out);

/*
 * The healthCheckNodePort servers the Services ask for: one per Service
 * with externalTrafficPolicy Local and a healthCheckNodePort, with its
 * ready endpoints on @node (distinct addresses). *out is malloc'ed.
 */
int berth_proxy_health(json_object *const *svcs, size_t nsvcs,
		       json_object *const *slices, size_t nslices,
		       const char *node, struct berth_hc_service **out,
		       size_t *nout);

#endif
