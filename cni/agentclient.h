/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* berth-cni's side of the agent's endpoint socket (userspace/agent/endpoint.h). */
#ifndef BERTH_CNI_AGENTCLIENT_H
#define BERTH_CNI_AGENTCLIENT_H

#include <json-c/json.h>
#include <stddef.h>

#define BERTH_CNI_AGENT_TIMEOUT_S 20

/*
 * Send req to the agent at path, *reply its answer. -ECONNREFUSED/-ENOENT
 * (not reachable), -ETIMEDOUT, -EPROTO (reply not JSON); err says which.
 * A reply of {"ok":false,"error":..} is returned as 0 with *reply set.
 */
int berth_cni_agent_call(const char *path, json_object *req,
			 json_object **reply, char *err, size_t errlen);

/* Call and check: 0 if the agent answered ok, else -errno / -EREMOTEIO
 * with err holding the cause. */
int berth_cni_agent_ok(const char *path, json_object *req, json_object **reply,
		       char *err, size_t errlen);

#endif
