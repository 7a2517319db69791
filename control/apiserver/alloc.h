/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Service address allocation: ClusterIPs from the service CIDR (the first
 * address is the kubernetes Service's) and NodePorts from 30000-32767.
 * The allocated set is what the stored Services hold, so there is no
 * separate bitmap to keep consistent with them.
 */
#ifndef BERTH_APISERVER_ALLOC_H
#define BERTH_APISERVER_ALLOC_H

#include <json-c/json.h>

#include "admit.h"

struct berth_api;

#define BERTH_NODEPORT_MIN 30000
#define BERTH_NODEPORT_MAX 32767

/*
 * Fill in spec.clusterIP(s) and nodePorts of svc, keeping those of old
 * (the stored version, NULL on create); conflicts and out-of-range
 * requests become field errors in v. The caller holds api->alloc_lock
 * until the write that stores svc is done. -errno if the store fails.
 */
int berth_alloc_service(struct berth_api *api, struct json_object *svc,
			struct json_object *old, struct berth_verrs *v);

#endif
