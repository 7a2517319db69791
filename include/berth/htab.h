/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A small open-addressing hash table from a 64-bit key to a 32-bit value
 * (typically an index into an array of records), and the hash functions the
 * libraries' in-memory tables share.
 */
#ifndef BERTH_HTAB_H
#define BERTH_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct berth_htab_slot {
	uint64_t key;
	uint32_t val;
	uint32_t used;
};

/* All zero is an empty table; the first put allocates. */
struct berth_htab {
	struct berth_htab_slot *slots;
	size_t mask; /* capacity - 1; capacity is a power of two */
	size_t count;
};

/* Reserve room for at least n keys. 0 or -ENOMEM. */
int berth_htab_reserve(struct berth_htab *h, size_t n);
void berth_htab_free(struct berth_htab *h);
void berth_htab_clear(struct berth_htab *h);

/* The value stored under key (writable in place), or NULL. */
uint32_t *berth_htab_find(const struct berth_htab *h, uint64_t key);
/* Insert or overwrite. 0 or -ENOMEM. */
int berth_htab_put(struct berth_htab *h, uint64_t key, uint32_t val);
/* 0 or -ENOENT. */
int berth_htab_del(struct berth_htab *h, uint64_t key);

/*
 * splitmix64's finalizer: a cheap bijective 64-bit mix. Maglev tables are
 * built with it, so they match across nodes only while it stays as it is.
 */
static inline uint64_t berth_hash64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Hash of a byte string, for keys that do not fit in 64 bits. */
uint64_t berth_hash_bytes(const void *data, size_t len, uint64_t seed);

#endif
