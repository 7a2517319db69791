/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Map sync: makes the services, backends, rev_nat and maglev maps hold a
 * desired set of frontends, writing only what differs from what they hold.
 * Update order (DESIGN.md): backends, then rev_nat, the maglev table and
 * slots 1..n, slot 0 last; removals in reverse. A packet always sees a
 * consistent frontend.
 */
#ifndef BERTH_LBMAP_H
#define BERTH_LBMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <berth/mapops.h>
#include <berth/service.h>

/* One {vip, port, proto} with its backends, the unit the maps are written in. */
struct berth_fe_backend {
	uint32_t ip; /* network order */
	uint16_t port; /* network order */
	bool terminating;
};

struct berth_frontend {
	uint32_t vip; /* network order */
	uint16_t port; /* network order */
	uint8_t proto;
	uint8_t flags; /* BERTH_SVC_F_* */
	uint32_t affinity_timeout; /* seconds */
	struct berth_fe_backend *backends;
	size_t nbackends;
};

struct berth_lbmap_maps {
	struct berth_map *services;
	struct berth_map *backends;
	struct berth_map *rev_nat;
	/*
	 * affinity (optional): entries naming a backend that left a frontend
	 * are deleted, so a client is never pinned to a backend out of service.
	 */
	struct berth_map *affinity;
	/*
	 * maglev: an outer hash-of-maps fd in the agent; NULL in tests, where
	 * maglev tables are kept by the maglev_* hooks below.
	 */
	struct berth_map *maglev;
	/* Write one frontend's table (m ids) / drop it. NULL: use maglev map. */
	int (*maglev_set)(void *ctx, uint32_t rev_nat_id,
			  const uint32_t *table);
	int (*maglev_del)(void *ctx, uint32_t rev_nat_id);
	void *maglev_ctx;
	uint32_t maglev_m; /* table size; BERTH_MAGLEV_M in the agent */
	/*
	 * Optional: called after a sync that went through for each backend it
	 * took out of its last frontend (ip, port in network order), e.g. to
	 * destroy sockets the socket LB connected to it.
	 */
	void (*backend_gone)(void *ctx, uint32_t ip, uint16_t port,
			     uint8_t proto);
	void *backend_gone_ctx;
};

struct berth_sync_stats {
	uint64_t writes; /* map updates + deletes */
	size_t frontends_changed;
	size_t frontends_removed;
	size_t backends_added;
	size_t backends_orphaned; /* no frontend uses them: now terminating */
};

struct berth_lbmap;

/* Read what the maps hold (e.g. after an agent restart). */
int berth_lbmap_open(struct berth_lbmap **out,
		     const struct berth_lbmap_maps *maps);
void berth_lbmap_free(struct berth_lbmap *lb);

/*
 * Make the maps hold exactly these frontends. On -E2BIG (a map would
 * overflow) nothing has been written and err names the map.
 */
int berth_lbmap_sync(struct berth_lbmap *lb, const struct berth_frontend *fe,
		     size_t n, struct berth_sync_stats *st, char *err,
		     size_t errlen);

/*
 * Free orphaned backends (removed from every frontend) that no conntrack
 * entry references any more; in_use(ctx, id) says whether one does.
 */
int berth_lbmap_gc(struct berth_lbmap *lb,
		   bool (*in_use)(void *ctx, uint32_t id), void *ctx,
		   size_t *freed);

/* Flatten services into frontends (one per service port). Caller frees. */
int berth_services_to_frontends(const struct berth_service_set *set,
				struct berth_frontend **out, size_t *n);
void berth_frontends_free(struct berth_frontend *fe, size_t n);

#endif
