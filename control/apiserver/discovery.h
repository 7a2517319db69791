/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Discovery documents: /api, /apis (legacy and aggregated v2), /version. */
#ifndef BERTH_APISERVER_DISCOVERY_H
#define BERTH_APISERVER_DISCOVERY_H

#include "http.h"

#define BERTH_K8S_MAJOR "1"
#define BERTH_K8S_MINOR "32"
#define BERTH_K8S_VERSION "v1.32.0-berth"

void berth_discovery_version(struct berth_http_resp *resp);
/* /api; server_addr is the address clients reach. */
void berth_discovery_core(const struct berth_http_req *req,
			  struct berth_http_resp *resp,
			  const char *server_addr);
/* /apis */
void berth_discovery_groups(const struct berth_http_req *req,
			    struct berth_http_resp *resp);
/* /apis/<group>: -ENOENT if not served. */
int berth_discovery_group(struct berth_http_resp *resp, const char *group);
/* /api/v1 and /apis/<group>/<version>: -ENOENT if not served. */
int berth_discovery_resources(struct berth_http_resp *resp, const char *group,
			      const char *version);

#endif
