// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Maglev lookup table population. Every node must compute the same table
 * from the same backends, so the hash below (and berth_hash64 under it) is
 * part of the format: changing it moves flows the day nodes run different
 * versions. test_maglev pins a table to catch that.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <berth/htab.h>
#include <berth/maglev.h>

/* Two unrelated seeds: offset and skip must be independent. */
#define MAGLEV_SEED_OFFSET 0x2d358dccaa6c78a5ULL
#define MAGLEV_SEED_SKIP 0x8bb84b93962eacc9ULL

/* The address in host order, so the result is the same on every CPU. */
static uint64_t addr_word(const struct berth_maglev_backend *b)
{
	return (uint64_t)ntohl(b->ip) << 24 | (uint64_t)ntohs(b->port) << 8 |
	       b->proto;
}

static uint64_t addr_hash(const struct berth_maglev_backend *b, uint64_t seed)
{
	return berth_hash64(berth_hash64(addr_word(b) ^ seed) + seed);
}

static bool is_prime(size_t m)
{
	size_t d;

	if (m < 2)
		return false;
	for (d = 2; d * d <= m; d++) {
		if (m % d == 0)
			return false;
	}
	return true;
}

static int cmp_backend(const void *a, const void *b)
{
	const struct berth_maglev_backend *x = a, *y = b;
	uint64_t ax = addr_word(x), ay = addr_word(y);

	if (ax != ay)
		return ax < ay ? -1 : 1;
	/* Same address twice: ids decide, so the order still does not. */
	return x->id < y->id ? -1 : x->id > y->id;
}

int berth_maglev_fill(const struct berth_maglev_backend *b, size_t n,
		      uint32_t *table, size_t m)
{
	struct berth_maglev_backend *sorted = NULL;
	size_t *pos = NULL, *skip = NULL, filled = 0, i;
	bool *taken = NULL;
	int err = -ENOMEM;

	if (!table || !is_prime(m) || m <= n || m > UINT32_MAX || (n && !b))
		return -EINVAL;
	if (!n) {
		memset(table, 0, m * sizeof(*table));
		return 0;
	}
	sorted = malloc(n * sizeof(*sorted));
	pos = malloc(n * sizeof(*pos));
	skip = malloc(n * sizeof(*skip));
	taken = calloc(m, sizeof(*taken));
	if (!sorted || !pos || !skip || !taken)
		goto out;
	memcpy(sorted, b, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), cmp_backend);

	/*
	 * Backend i's preference list is offset, offset + skip, ... mod m: a
	 * permutation because m is prime. Backends take turns claiming their
	 * next free preferred entry, so each ends with m/n entries rounded.
	 */
	for (i = 0; i < n; i++) {
		pos[i] = addr_hash(&sorted[i], MAGLEV_SEED_OFFSET) % m;
		skip[i] = addr_hash(&sorted[i], MAGLEV_SEED_SKIP) % (m - 1) + 1;
	}
	for (;;) {
		for (i = 0; i < n; i++) {
			while (taken[pos[i]]) {
				pos[i] += skip[i];
				if (pos[i] >= m)
					pos[i] -= m;
			}
			taken[pos[i]] = true;
			table[pos[i]] = sorted[i].id;
			if (++filled == m) {
				err = 0;
				goto out;
			}
		}
	}
out:
	free(taken);
	free(skip);
	free(pos);
	free(sorted);
	return err;
}
