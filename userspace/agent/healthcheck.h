/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * healthCheckNodePort: for each Service with externalTrafficPolicy Local
 * and spec.healthCheckNodePort, an HTTP server on that port of the node IP
 * that tells load balancers whether this node has endpoints of it, as
 * kube-proxy answers: GET (any path) -> 200 when localEndpoints > 0, else
 * 503, with the body
 *   {"service":{"namespace":NS,"name":NAME},"localEndpoints":N}
 * One libmicrohttpd daemon per port, opened and closed as Services come and
 * go (berth_hc_update).
 */
#ifndef BERTH_AGENT_HEALTHCHECK_H
#define BERTH_AGENT_HEALTHCHECK_H

#include <stddef.h>
#include <stdint.h>

struct berth_hc_service {
	char ns[64];
	char name[254];
	uint16_t port; /* healthCheckNodePort */
	uint32_t local; /* ready endpoints on this node */
};

struct berth_hc;

/* Servers will listen on bind_ip (IPv4 text; NULL: every address). */
int berth_hc_new(struct berth_hc **out, const char *bind_ip);
/*
 * Serve exactly @svcs from now on: open ports that are new, close ports
 * that are gone, update counts in place. A port that cannot be opened is
 * logged and tried again on the next update; returns its -errno.
 */
int berth_hc_update(struct berth_hc *hc, const struct berth_hc_service *svcs,
		    size_t n);
/* Close every port. NULL is fine. */
void berth_hc_free(struct berth_hc *hc);
/* The ports open now (tests). */
size_t berth_hc_open_ports(struct berth_hc *hc);

/* The answer for one Service: HTTP status, *body malloc'ed JSON. */
int berth_hc_reply(const struct berth_hc_service *s, char **body);

#endif
