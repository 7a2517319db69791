/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Names of the datapath's drop reasons, directions and trace points. */
#ifndef BERTH_REASON_H
#define BERTH_REASON_H

/* enum berth_reason; "unknown" for another number */
const char *berth_reason_str(unsigned int reason);
/* BERTH_DIR_* (abi/metrics.h): "egress", "ingress", "netdev", ... */
const char *berth_dir_str(unsigned int dir);
/* enum berth_trace_point (abi/events.h): "to-endpoint", "to-stack", ... */
const char *berth_trace_str(unsigned int point);

#endif
