/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* CNI result and error JSON. */
#ifndef BERTH_CNI_RESULT_H
#define BERTH_CNI_RESULT_H

#include <json-c/json.h>
#include <stdint.h>

#include "config.h"

struct berth_cni_ifaces {
	const char *host, *host_mac;	   /* host side */
	const char *ifname, *mac, *netns; /* pod side */
	uint32_t ip;			   /* host byte order, a /32 */
};

/*
 * The ADD/CHECK result of version v: interfaces (host, then pod with its
 * sandbox), ips (ip/32 on the pod interface, gateway BERTH_CNI_GW),
 * routes (default via the gateway), empty dns. 0.3.x adds "version":"4".
 */
json_object *berth_cni_result(const char *v, const struct berth_cni_ifaces *i);
/*
 * berth-cni later in a chain: prevResult with ours appended (interfaces,
 * ips with their interface index shifted, routes; dns kept). New reference.
 */
json_object *berth_cni_result_merge(json_object *prev, json_object *ours);
/* {"cniVersion","code","msg"[,"details"]} */
json_object *berth_cni_error(const char *v, const struct berth_cni_err *err);
/* {"cniVersion","supportedVersions"} */
json_object *berth_cni_version_reply(const char *v);

#endif
