/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Informer life cycle, for the manager; controllers use ctl.h. */
#ifndef BERTH_CONTROLLERS_INFORMER_H
#define BERTH_CONTROLLERS_INFORMER_H

#include "ctl.h"

struct berth_store;

struct berth_informer *berth_informer_new(struct berth_store *store,
					  const struct berth_resource *r);
const struct berth_resource *berth_informer_resource(struct berth_informer *inf);
/* List, then watch on a thread of its own. */
int berth_informer_start(struct berth_informer *inf);
/* Has the first list completed within timeout_ms? */
bool berth_informer_wait_synced(struct berth_informer *inf, int timeout_ms);
/* Stop the watch and thread, free the cache. */
void berth_informer_free(struct berth_informer *inf);

#endif
