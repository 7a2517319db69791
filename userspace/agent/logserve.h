/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kubelet's HTTP endpoint (plain HTTP for now): container logs for the
 * server's pods/log proxy,
 *   GET /containerLogs/NS/POD/CONTAINER?follow=&previous=&tailLines=
 *       &timestamps=&sinceSeconds=&limitBytes=
 * and GET /healthz.
 */
#ifndef BERTH_AGENT_LOGSERVE_H
#define BERTH_AGENT_LOGSERVE_H

struct berth_podmgr;
struct berth_runtime;
struct berth_logserve;

/* addr: IPv4 to bind ("0.0.0.0" or NULL: any) */
int berth_logserve_start(const char *addr, int port, struct berth_podmgr *pm,
			 struct berth_runtime *rt, struct berth_logserve **out);
void berth_logserve_stop(struct berth_logserve *ls);

#endif
