/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * OpenAPI v3 (/openapi/v3 and one document per group/version) and v2
 * (/openapi/v2): the served kinds with hand-written schemas of their main
 * fields, the x-kubernetes-* extensions kubectl reads (group-version-kind,
 * patch merge keys) and the query parameters it probes for.
 */
#ifndef BERTH_APISERVER_OPENAPI_H
#define BERTH_APISERVER_OPENAPI_H

#include "http.h"

/* segs: the path after /openapi. -ENOENT if not a served document. */
int berth_openapi_serve(const struct berth_http_req *req,
			struct berth_http_resp *resp, char **segs, int n);

#endif
