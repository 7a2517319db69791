/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Namespace deletion: DELETE marks the namespace Terminating; a worker
 * removes what is in it a moment later and then the namespace itself,
 * as the namespace controller does (until the controllers take it over).
 */
#ifndef BERTH_APISERVER_NSDELETE_H
#define BERTH_APISERVER_NSDELETE_H

struct berth_api;

#define BERTH_NS_PURGE_DELAY_MS 500 /* lets "delete -f" delete the rest first */

int berth_nsdelete_start(struct berth_api *api);
/* Purge namespace name (if its uid is still uid) soon. */
void berth_nsdelete_enqueue(struct berth_api *api, const char *name,
			    const char *uid);
/* Terminating namespaces left by an earlier run. */
void berth_nsdelete_resume(struct berth_api *api);
void berth_nsdelete_stop(struct berth_api *api);

#endif
