// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Names of the datapath's enums, for berthctl, metrics and the monitor. */
#include <berth/abi/events.h>
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

static const char *const dirs[] = {
	[BERTH_DIR_EGRESS] = "egress", [BERTH_DIR_INGRESS] = "ingress",
	[BERTH_DIR_NETDEV] = "netdev", [BERTH_DIR_OVERLAY] = "overlay",
	[BERTH_DIR_XDP] = "xdp",
};

const char *berth_dir_str(unsigned int dir)
{
	if (dir < sizeof(dirs) / sizeof(dirs[0]) && dirs[dir])
		return dirs[dir];
	return "unknown";
}

static const char *const points[BERTH_TRACE_MAX] = {
	[BERTH_TRACE_TO_ENDPOINT] = "to-endpoint",
	[BERTH_TRACE_TO_STACK] = "to-stack",
	[BERTH_TRACE_TO_OVERLAY] = "to-overlay",
	[BERTH_TRACE_TO_NETDEV] = "to-netdev",
	[BERTH_TRACE_TO_POD] = "to-pod",
};

const char *berth_trace_str(unsigned int point)
{
	if (point < BERTH_TRACE_MAX && points[point])
		return points[point];
	return "unknown";
}
