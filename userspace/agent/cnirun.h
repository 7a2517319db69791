/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Runs the node's CNI network (the first .conflist or .conf in the conf dir)
 * for a pod as a container runtime does: each plugin exec'd from the bin
 * dir with CNI_* in its environment and the config on stdin. */
#ifndef BERTH_AGENT_CNIRUN_H
#define BERTH_AGENT_CNIRUN_H

#include <stddef.h>

struct berth_cni_pod {
	const char *container_id; /* the pod's sandbox id (its uid) */
	const char *netns; /* CNI_NETNS */
	const char *ifname; /* NULL: eth0 */
	const char *name, *ns, *uid; /* for CNI_ARGS K8S_POD_* */
};

/* ADD: the pod's IPv4 address (no prefix) into ip; err says what failed. */
int berth_cni_add(const char *bin_dir, const char *conf_dir,
		  const struct berth_cni_pod *pod, char *ip, size_t iplen,
		  char *err, size_t errlen);
/* DEL: plugins in reverse order; a vanished netns is fine. */
int berth_cni_del(const char *bin_dir, const char *conf_dir,
		  const struct berth_cni_pod *pod, char *err, size_t errlen);

#endif
