/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A map as four operations, so the map sync runs against real BPF maps in
 * the agent and against memory in unit tests. Calls return 0 or -errno
 * (-ENOENT when a key is missing or iteration is over, -E2BIG when full).
 */
#ifndef BERTH_MAPOPS_H
#define BERTH_MAPOPS_H

#include <stddef.h>
#include <stdint.h>

struct berth_map {
	const char *name; /* as pinned, for error messages */
	uint32_t key_size;
	uint32_t value_size;
	uint32_t max_entries;
	int (*lookup)(struct berth_map *m, const void *key, void *value);
	int (*update)(struct berth_map *m, const void *key, const void *value);
	int (*delete)(struct berth_map *m, const void *key);
	/* key NULL: first key */
	int (*next_key)(struct berth_map *m, const void *key, void *next);
	int fd; /* BPF maps; -1 for memory maps */
	void *priv;
	uint64_t writes; /* updates + deletes done, for tests and stats */
};

/* A map backed by a BPF map fd (not owned). */
void berth_map_init_fd(struct berth_map *m, const char *name, int fd);

/* A map in memory with the same semantics as BPF_MAP_TYPE_HASH. */
int berth_map_init_mem(struct berth_map *m, const char *name, uint32_t key_size,
		       uint32_t value_size, uint32_t max_entries);
void berth_map_free_mem(struct berth_map *m);

#endif
