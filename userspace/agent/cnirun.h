/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Runs the node's CNI network (the first .conflist or .conf in the conf dir)
 * for a pod as a container runtime does: each plugin exec'd from the bin
 * dir with CNI_* in its environment and the config on stdin. */
#ifndef BERTH_AGENT_CNIRUN_H
#define BERTH_AGENT_CNIRUN_H

#include <stddef.h>

#include <json-c/json.h>

struct berth_cni_pod {
	const char *container_id; /* the pod's sandbox id (its uid) */
	const char *netns; /* CNI_NETNS */
	const char *ifname; /* NULL: eth0 */
	const char *name, *ns, *uid; /* for CNI_ARGS K8S_POD_* */
	/* capability arguments ({"portMappings": [...], "bandwidth": {...}}):
	 * each plugin whose config declares "capabilities": {KEY: true} gets
	 * runtimeConfig.KEY; NULL: none */
	json_object *runtime_config;
};

/*
 * The capability arguments of a pod, as the kubelet's runtime hands them
 * to CNI: portMappings from its containers' hostPorts, bandwidth from the
 * kubernetes.io/ingress-bandwidth and egress-bandwidth annotations. A new
 * object (possibly empty), or NULL when an annotation is not a quantity
 * (err says which).
 */
json_object *berth_cni_runtime_config(json_object *pod, char *err,
				      size_t errlen);

/* ADD: the pod's IPv4 address (no prefix) into ip; err says what failed. */
int berth_cni_add(const char *bin_dir, const char *conf_dir,
		  const struct berth_cni_pod *pod, char *ip, size_t iplen,
		  char *err, size_t errlen);
/* DEL: plugins in reverse order; a vanished netns is fine. */
int berth_cni_del(const char *bin_dir, const char *conf_dir,
		  const struct berth_cni_pod *pod, char *err, size_t errlen);

#endif
