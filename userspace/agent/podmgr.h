/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The pod manager: watches the pods bound to this node (and the static pod
 * manifests), runs one worker thread per pod through its lifecycle
 * (sandbox, CNI, images, init containers, containers, hooks, probes,
 * restarts with back-off, termination) and reports pod status.
 */
#ifndef BERTH_AGENT_PODMGR_H
#define BERTH_AGENT_PODMGR_H

#include <stdbool.h>
#include <stddef.h>

struct berth_kube;
struct berth_runtime;
struct berth_images;
struct berth_node;

struct berth_podmgr_opts {
	struct berth_kube *kube;
	struct berth_runtime *rt;
	struct berth_images *imgs;
	struct berth_node *node; /* host IP and podCIDR */
	const char *node_name;
	const char *cni_bin_dir;
	const char *cni_conf_dir;
	const char *static_pods; /* or NULL */
};

struct berth_podmgr;

int berth_podmgr_start(const struct berth_podmgr_opts *opts,
		       struct berth_podmgr **out);
/* Stops watching and the workers; containers keep running. */
void berth_podmgr_stop(struct berth_podmgr *pm);
/* cb once per pod with the phase last reported ("Pending" before any). */
void berth_podmgr_phases(struct berth_podmgr *pm,
			 void (*cb)(const char *phase, void *arg), void *arg);

/* Where a container's log is, for the logs endpoint. */
struct berth_log_target {
	char uid[64];
	unsigned int attempt; /* of the current (or, previous: last) run */
	char container_id[192];
};
/* 0, -ENOENT (no such pod/container), -ESRCH (previous asked, none) */
int berth_podmgr_log_target(struct berth_podmgr *pm, const char *ns,
			    const char *pod, const char *container,
			    bool previous, struct berth_log_target *out);

#endif
