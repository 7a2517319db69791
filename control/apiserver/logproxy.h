/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* pods/log: proxied to the kubelet (berth-agent) of the pod's node. */
#ifndef BERTH_APISERVER_LOGPROXY_H
#define BERTH_APISERVER_LOGPROXY_H

#include "http.h"

struct json_object;

/*
 * Answer GET pods/NAME/log for @pod running on @node (the Node object):
 * http://<InternalIP>:<daemonEndpoints.kubeletEndpoint.Port>/containerLogs/
 * NS/NAME/CONTAINER with the request's follow, previous, tailLines,
 * timestamps, sinceSeconds and limitBytes; streamed when following.
 */
void berth_logproxy(const struct berth_http_req *req,
		    struct berth_http_resp *resp, struct json_object *pod,
		    struct json_object *node);

#endif
