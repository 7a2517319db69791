// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Names of the datapath's drop reasons, for berthctl and metrics. */
#include <berth/abi/metrics.h>
#include <berth/reason.h>

static const char *const names[BERTH_REASON_MAX] = {
	[BERTH_REASON_FORWARD] = "forwarded",
	[BERTH_DROP_INVALID] = "invalid packet",
	[BERTH_DROP_NO_SERVICE] = "service has no endpoints (rejected)",
	[BERTH_DROP_NO_BACKEND] = "backend missing from backends map",
	[BERTH_DROP_CT_FULL] = "conntrack entry not created",
	[BERTH_DROP_CSUM] = "header rewrite failed",
	[BERTH_DROP_FRAG] = "fragment to a service",
	[BERTH_DROP_REJECT] = "reject reply not built",
	[BERTH_DROP_NO_ROUTE] = "no route to destination",
	[BERTH_DROP_NAT_NO_PORT] = "no free SNAT port",
	[BERTH_DROP_TTL] = "TTL expired",
	[BERTH_DROP_POLICY] = "denied by network policy",
};

const char *berth_reason_str(unsigned int reason)
{
	if (reason < BERTH_REASON_MAX && names[reason])
		return names[reason];
	return "unknown";
}
