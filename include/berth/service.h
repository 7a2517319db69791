/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The Service model the dataplane programs, and the static Service file. */
#ifndef BERTH_SERVICE_H
#define BERTH_SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BERTH_NAME_MAX 64

enum berth_lb_algo {
	BERTH_LB_RANDOM = 0, /* default, like kube-proxy */
	BERTH_LB_MAGLEV = 1,
};

struct berth_svc_port {
	char name[BERTH_NAME_MAX];
	uint16_t port; /* host order */
	uint16_t target_port; /* host order; endpoints listen here */
	uint8_t proto; /* IPPROTO_TCP or IPPROTO_UDP */
};

struct berth_endpoint {
	uint32_t ip; /* network order */
	bool terminating;
	/* host order; 0: the port's target_port. Set by the API-server
	 * proxy, where an EndpointSlice names each endpoint's port. */
	uint16_t port;
};

struct berth_service {
	char namespace[BERTH_NAME_MAX];
	char name[BERTH_NAME_MAX];
	uint32_t cluster_ip; /* network order */
	bool affinity; /* sessionAffinity: ClientIP */
	uint32_t affinity_timeout; /* seconds */
	enum berth_lb_algo algo;
	/* only this node's endpoints (traffic policy Local): a NodePort
	 * frontend keeps the client's address (iptables dataplane) */
	bool local;
	struct berth_svc_port *ports;
	size_t nports;
	struct berth_endpoint *endpoints;
	size_t nendpoints;
};

struct berth_service_set {
	struct berth_service *svcs;
	size_t n;
};

/*
 * Parse a Service file (YAML or JSON). Bad content: -EINVAL and
 * "FILE:LINE: FIELD: what is wrong" in err; unreadable file: -errno; too
 * large: -EFBIG. On any error *out is untouched.
 */
int berth_svcfile_load(const char *path, struct berth_service_set *out,
		       char *err, size_t errlen);
int berth_svcfile_parse(const char *name, const char *buf, size_t len,
			struct berth_service_set *out, char *err,
			size_t errlen);
void berth_service_set_free(struct berth_service_set *set);

#endif
