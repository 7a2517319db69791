/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * berth-server's /metrics (Prometheus text) and its health endpoints
 * /healthz, /livez, /readyz (with ?verbose, ?exclude=CHECK and
 * /readyz/CHECK, as kube-apiserver answers them).
 */
#ifndef BERTH_APISERVER_METRICS_H
#define BERTH_APISERVER_METRICS_H

#include <stdbool.h>

#include "http.h"

struct berth_api;

/* What routing learnt about a request, for its metrics labels. */
struct berth_req_info {
	const char *group, *version; /* static strings of the registry */
	const char *resource; /* NULL: not a resource request */
	const char *subresource; /* client input: bounded by metrics.c */
	bool named; /* a name in the path: GET, not LIST */
};

/*
 * Count a finished request (apiserver_request_total and the duration since
 * start, from berth_prom_now()); a streamed reply (watch, log follow) is
 * counted in the long-running gauges until its stream ends.
 */
void berth_apimetrics_request(const struct berth_http_req *req,
			      struct berth_http_resp *resp,
			      const struct berth_req_info *ri, double start);
/* GET /metrics */
void berth_apimetrics_serve(struct berth_http_resp *resp);
/* GET /healthz|/livez|/readyz[/CHECK]: segs as routed, n 1 or 2. */
void berth_apihealth_serve(struct berth_api *api,
			   const struct berth_http_req *req,
			   struct berth_http_resp *resp, char **segs, int n);

#endif
