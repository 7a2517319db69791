/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * watch=true: a streamed response of watch events (one JSON object per
 * line: ADDED, MODIFIED, DELETED, BOOKMARK, ERROR) fed by a store watch.
 */
#ifndef BERTH_APISERVER_WATCH_H
#define BERTH_APISERVER_WATCH_H

struct berth_call;

#define BERTH_WATCH_BOOKMARK_SECS 5 /* allowWatchBookmarks period */
#define BERTH_WATCH_QUEUE_MAX 100000 /* a slower client is cut off */

void berth_watch_serve(struct berth_call *c);

#endif
