/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * IPAM from the node's podCIDR. State: <dir>/allocations.json, replaced
 * atomically (write, fsync, rename) under flock(<dir>/lock), so concurrent
 * plugins serialize and a crash leaves either the old or the new file. An
 * address is recorded before it is used, so a crash mid-ADD leaves a stale
 * record (freed by DEL or GC), never an address handed out twice.
 * The network address, the first address (gateway, kept for the node) and
 * the broadcast address are never allocated.
 */
#ifndef BERTH_CNI_IPAM_H
#define BERTH_CNI_IPAM_H

#include <stddef.h>
#include <stdint.h>

/* a (containerID, ifname) pair, as in cni.dev/valid-attachments */
struct berth_cni_attachment {
	const char *container_id;
	const char *ifname;
};

/*
 * Allocate an address of cidr to (id, ifname), or return the one it holds.
 * *ip in host byte order. -ENOSPC when the range is exhausted.
 */
int berth_cni_ipam_alloc(const char *dir, const char *cidr, const char *id,
			 const char *ifname, uint32_t *ip);
/* Release what (id, ifname) holds; nothing held is not an error. */
int berth_cni_ipam_release(const char *dir, const char *id,
			   const char *ifname);
/* The address (id, ifname) holds: 0 or -ENOENT. */
int berth_cni_ipam_find(const char *dir, const char *id, const char *ifname,
			uint32_t *ip);
/*
 * Release every allocation not in valid[0..n); the released ones are
 * reported through cb (may be NULL) after the state is written.
 */
int berth_cni_ipam_gc(const char *dir, const struct berth_cni_attachment *valid,
		      size_t n,
		      void (*cb)(const char *id, const char *ifname, void *arg),
		      void *arg, size_t *released);
/* Addresses of cidr still free. */
int berth_cni_ipam_free_count(const char *dir, const char *cidr, size_t *free);

#endif
