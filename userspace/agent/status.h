/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* ROOT/sync-status.json: the outcome of the agent's last sync, for tools and tests. */
#ifndef BERTH_AGENT_STATUS_H
#define BERTH_AGENT_STATUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct berth_status {
	uint64_t seq; /* one per sync attempt */
	bool ok;
	char error[512];
	size_t services;
	size_t frontends;
	uint64_t writes;
	uint64_t duration_us;
	/* first triggering event to maps written (API-server proxy); 0:
	 * not measured, left out of the file */
	uint64_t latency_us;
	/* NodePort XDP mode ("native", "generic", "none"); NULL: left out */
	const char *xdp_mode;
};

int berth_status_init(const char *root);
/* Replaces the file atomically (write + rename). */
int berth_status_write(const char *root, const struct berth_status *st);

#endif
