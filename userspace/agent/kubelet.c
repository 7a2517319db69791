// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Wires the kubelet's parts together: API client, Node, pods, logs. */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/kube.h>
#include <berth/log.h>

#include "image.h"
#include "kubelet.h"
#include "logserve.h"
#include "metrics.h"
#include "node.h"
#include "podmgr.h"
#include "runtime.h"

#define DEFAULT_KUBELET_PORT 10250

struct berth_kubelet {
	struct berth_kubelet_opts opts;
	struct berth_kube *k;
	struct berth_node *node;
	struct berth_runtime *rt;
	struct berth_images *imgs;
	struct berth_podmgr *pm;
	struct berth_logserve *ls;
};

int berth_kubelet_start(const struct berth_kubelet_opts *opts,
			struct berth_kubelet **out)
{
	struct berth_kubelet *kl = calloc(1, sizeof(*kl));
	struct berth_node_opts nopts = { 0 };
	int ret;

	if (!kl)
		return -ENOMEM;
	kl->opts = *opts;
	if (!kl->opts.kubelet_port)
		kl->opts.kubelet_port = DEFAULT_KUBELET_PORT;
	ret = berth_kube_open(&kl->k, opts->kubeconfig);
	if (ret)
		goto err;
	nopts.name = opts->node_name;
	nopts.ip = opts->node_ip;
	nopts.root = opts->root;
	nopts.kubelet_port = kl->opts.kubelet_port;
	ret = berth_node_start(kl->k, &nopts, &kl->node);
	if (ret) {
		pr_err("start node %s: %s", opts->node_name, strerror(-ret));
		goto err;
	}
	{
		struct berth_runtime_opts ro = { 0 };
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/runtime", opts->root);
		ro.root = path;
		ro.log_dir = opts->pod_log_dir;
		ret = berth_runtime_open(&ro, &kl->rt);
		if (ret) {
			pr_err("open the container runtime in %s: %s", path,
			       strerror(-ret));
			goto err;
		}
		snprintf(path, sizeof(path), "%s/images", opts->root);
		kl->imgs = berth_images_open(path);
		if (!kl->imgs) {
			ret = -errno;
			pr_err("open the image store in %s: %s", path,
			       strerror(errno));
			goto err;
		}
	}
	{
		struct berth_podmgr_opts po = {
			.kube = kl->k,
			.rt = kl->rt,
			.imgs = kl->imgs,
			.node = kl->node,
			.node_name = opts->node_name,
			.cni_bin_dir = opts->cni_bin_dir,
			.cni_conf_dir = opts->cni_conf_dir,
			.static_pods = opts->static_pods,
		};

		ret = berth_podmgr_start(&po, &kl->pm);
		if (ret) {
			pr_err("start the pod manager: %s", strerror(-ret));
			goto err;
		}
	}
	berth_agent_metrics_set_node(opts->node_name);
	berth_agent_metrics_set_podmgr(kl->pm);
	ret = berth_logserve_start(opts->node_ip, kl->opts.kubelet_port, kl->pm,
				   kl->rt, &kl->ls);
	if (ret) {
		pr_err("serve logs on %s:%d: %s",
		       opts->node_ip ? opts->node_ip : "0.0.0.0",
		       kl->opts.kubelet_port, strerror(-ret));
		goto err;
	}
	pr_info("kubelet: node %s, API server %s, logs on port %d",
		opts->node_name, berth_kube_server(kl->k), kl->opts.kubelet_port);
	*out = kl;
	return 0;
err:
	berth_kubelet_stop(kl);
	return ret;
}

int berth_kubelet_pod_cidr(struct berth_kubelet *kl, char *buf, size_t len,
			   int timeout_ms)
{
	return berth_node_pod_cidr(kl->node, buf, len, timeout_ms);
}

void berth_kubelet_stop(struct berth_kubelet *kl)
{
	if (!kl)
		return;
	berth_logserve_stop(kl->ls);
	berth_agent_metrics_set_podmgr(NULL);
	berth_podmgr_stop(kl->pm);
	berth_node_stop(kl->node);
	if (kl->imgs)
		berth_images_close(kl->imgs);
	if (kl->rt)
		berth_runtime_close(kl->rt);
	berth_kube_free(kl->k);
	free(kl);
}
