// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * u64 -> u32 hash table with linear probing. Deletion shifts the following
 * entries back instead of leaving tombstones, so a table that sees many
 * deletes (the map sync's mirror) never degrades.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <berth/htab.h>

#define HTAB_MIN_CAP 16

static size_t home(const struct berth_htab *h, uint64_t key)
{
	return (size_t)berth_hash64(key) & h->mask;
}

static int resize(struct berth_htab *h, size_t cap)
{
	struct berth_htab_slot *old = h->slots, *s;
	size_t old_cap = old ? h->mask + 1 : 0, i, j;

	s = calloc(cap, sizeof(*s));
	if (!s)
		return -ENOMEM;
	h->slots = s;
	h->mask = cap - 1;
	for (i = 0; i < old_cap; i++) {
		if (!old[i].used)
			continue;
		for (j = home(h, old[i].key); s[j].used; j = (j + 1) & h->mask)
			;
		s[j] = old[i];
	}
	free(old);
	return 0;
}

int berth_htab_reserve(struct berth_htab *h, size_t n)
{
	size_t cap = h->slots ? h->mask + 1 : 0, want = HTAB_MIN_CAP;

	/* Keep the load at or under 1/2: probes stay short. */
	while (want < 2 * n)
		want <<= 1;
	if (want <= cap)
		return 0;
	return resize(h, want);
}

void berth_htab_free(struct berth_htab *h)
{
	free(h->slots);
	memset(h, 0, sizeof(*h));
}

void berth_htab_clear(struct berth_htab *h)
{
	if (h->slots)
		memset(h->slots, 0, (h->mask + 1) * sizeof(*h->slots));
	h->count = 0;
}

static struct berth_htab_slot *lookup(const struct berth_htab *h, uint64_t key)
{
	size_t i;

	if (!h->slots)
		return NULL;
	for (i = home(h, key); h->slots[i].used; i = (i + 1) & h->mask) {
		if (h->slots[i].key == key)
			return &h->slots[i];
	}
	return NULL;
}

uint32_t *berth_htab_find(const struct berth_htab *h, uint64_t key)
{
	struct berth_htab_slot *s = lookup(h, key);

	return s ? &s->val : NULL;
}

int berth_htab_put(struct berth_htab *h, uint64_t key, uint32_t val)
{
	struct berth_htab_slot *s = lookup(h, key);
	size_t i;
	int err;

	if (s) {
		s->val = val;
		return 0;
	}
	err = berth_htab_reserve(h, h->count + 1);
	if (err)
		return err;
	for (i = home(h, key); h->slots[i].used; i = (i + 1) & h->mask)
		;
	h->slots[i].key = key;
	h->slots[i].val = val;
	h->slots[i].used = 1;
	h->count++;
	return 0;
}

int berth_htab_del(struct berth_htab *h, uint64_t key)
{
	struct berth_htab_slot *s = lookup(h, key);
	size_t hole, i, k;

	if (!s)
		return -ENOENT;
	hole = (size_t)(s - h->slots);
	/*
	 * Pull back every later entry of the run that may live in the hole:
	 * one whose home is not cyclically within (hole, i].
	 */
	for (i = (hole + 1) & h->mask; h->slots[i].used;
	     i = (i + 1) & h->mask) {
		k = home(h, h->slots[i].key);
		if (((i - k) & h->mask) >= ((i - hole) & h->mask)) {
			h->slots[hole] = h->slots[i];
			hole = i;
		}
	}
	h->slots[hole].used = 0;
	h->count--;
	return 0;
}

uint64_t berth_hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = seed ^ (len * 0x9e3779b97f4a7c15ULL), w;

	while (len >= 8) {
		memcpy(&w, p, 8);
		h = berth_hash64(h ^ w);
		p += 8;
		len -= 8;
	}
	if (len) {
		w = 0;
		memcpy(&w, p, len);
		h = berth_hash64(h ^ w ^ ((uint64_t)len << 56));
	}
	return berth_hash64(h);
}
