/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Leader election for the controllers (Lease kube-system/berth-controllers). */
#ifndef BERTH_CONTROLLERS_LEADER_H
#define BERTH_CONTROLLERS_LEADER_H

#include "ctl.h"

struct berth_leader;

/*
 * Contend for the lease as identity; changed(ctx, leading) is called on
 * the elector's thread when this process starts or stops leading.
 */
int berth_leader_start(struct berth_leader **out, struct berth_api *api,
		       const char *identity,
		       void (*changed)(void *ctx, bool leading), void *ctx);
/* Stop; a leader releases the lease so another takes over at once. */
void berth_leader_stop(struct berth_leader *l);

#endif
