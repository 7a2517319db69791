/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Names of the datapath's drop reasons (enum berth_reason). */
#ifndef BERTH_REASON_H
#define BERTH_REASON_H

const char *berth_reason_str(unsigned int reason);

#endif
