/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kubelet side of berth-agent: the API client, the Node and its Lease,
 * the pods bound to this node (pod manager), static pods and the HTTP
 * endpoint for logs. main.c starts it when --server is given.
 */
#ifndef BERTH_AGENT_KUBELET_H
#define BERTH_AGENT_KUBELET_H

#include <stddef.h>

struct berth_kubelet_opts {
	const char *kubeconfig; /* --server: a kubeconfig path or a URL */
	const char *node_name;
	const char *node_ip; /* NULL: the netns' first IPv4 */
	const char *root; /* agent root; runtime in ROOT/runtime, images in ROOT/images */
	const char *static_pods; /* dir of manifests, or NULL */
	const char *cni_bin_dir; /* NULL: /opt/cni/bin */
	const char *cni_conf_dir; /* NULL: /etc/cni/net.d */
	const char *pod_log_dir; /* NULL: /var/log/pods */
	const char *cni_socket; /* the agent's endpoint socket (for CNI_ARGS-less setups) */
	int kubelet_port; /* 0: 10250 */
};

struct berth_kubelet;

/* Starts the node heartbeat, the logs endpoint and the pod manager. */
int berth_kubelet_start(const struct berth_kubelet_opts *opts,
			struct berth_kubelet **out);
/* Waits up to timeout_ms for the node's podCIDR; 0 or -ETIMEDOUT. */
int berth_kubelet_pod_cidr(struct berth_kubelet *kl, char *buf, size_t len,
			   int timeout_ms);
/* Stops the threads; containers keep running (a new agent adopts them). */
void berth_kubelet_stop(struct berth_kubelet *kl);

#endif
