// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Maglev tables: balance, minimal disruption, independence of order and ids. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <berth/abi/lb.h>
#include <berth/maglev.h>

#define M BERTH_MAGLEV_M

static void make_backends(struct berth_maglev_backend *b, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		b[i].id = (uint32_t)i + 1;
		b[i].ip = htonl(0x0a000000 | (uint32_t)(i + 1)); /* 10.0.x.y */
		b[i].port = htons(8080);
		b[i].proto = IPPROTO_TCP;
	}
}

/* xorshift: a fixed, reproducible shuffle. */
static uint32_t rnd(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void shuffle(struct berth_maglev_backend *b, size_t n, uint32_t seed)
{
	struct berth_maglev_backend t;
	size_t i, j;

	for (i = n - 1; i > 0; i--) {
		j = rnd(&seed) % (i + 1);
		t = b[i];
		b[i] = b[j];
		b[j] = t;
	}
}

static void check_balance(size_t n)
{
	struct berth_maglev_backend b[100];
	uint32_t *t = malloc(M * sizeof(*t));
	size_t counts[101] = { 0 }, i;
	double want = (double)M / n, d;

	cr_assert_not_null(t);
	make_backends(b, n);
	cr_assert_eq(berth_maglev_fill(b, n, t, M), 0);
	for (i = 0; i < M; i++) {
		cr_assert(t[i] >= 1 && t[i] <= n, "entry %zu holds id %u", i,
			  t[i]);
		counts[t[i]]++;
	}
	for (i = 1; i <= n; i++) {
		d = counts[i] > want ? counts[i] - want : want - counts[i];
		cr_assert(d <= want * 0.01,
			  "n=%zu: backend %zu has %zu entries, want %.1f +-1%%",
			  n, i, counts[i], want);
	}
	free(t);
}

Test(maglev, balanced_3)
{
	check_balance(3);
}

Test(maglev, balanced_10)
{
	check_balance(10);
}

Test(maglev, balanced_100)
{
	check_balance(100);
}

/*
 * Removing backend k must leave the other backends where they were: of the
 * entries that did not belong to k, at most 1/n + 2% may change owner.
 */
static void check_disruption(size_t n)
{
	struct berth_maglev_backend b[100], rest[100];
	uint32_t *full = malloc(M * sizeof(*full));
	uint32_t *less = malloc(M * sizeof(*less));
	size_t k, i, others, moved;
	double frac;

	cr_assert(full && less);
	make_backends(b, n);
	cr_assert_eq(berth_maglev_fill(b, n, full, M), 0);
	for (k = 0; k<n; k += n> 10 ? 7 : 1) {
		memcpy(rest, b, k * sizeof(*b));
		memcpy(rest + k, b + k + 1, (n - k - 1) * sizeof(*b));
		cr_assert_eq(berth_maglev_fill(rest, n - 1, less, M), 0);
		others = moved = 0;
		for (i = 0; i < M; i++) {
			cr_assert_neq(less[i], b[k].id);
			if (full[i] == b[k].id)
				continue;
			others++;
			moved += less[i] != full[i];
		}
		frac = (double)moved / others;
		cr_assert(frac <= 1.0 / n + 0.02,
			  "n=%zu without %zu: %zu of %zu other entries moved "
			  "(%.4f > %.4f)",
			  n, k, moved, others, frac, 1.0 / n + 0.02);
	}
	free(full);
	free(less);
}

Test(maglev, disruption_3)
{
	check_disruption(3);
}

Test(maglev, disruption_10)
{
	check_disruption(10);
}

Test(maglev, disruption_100)
{
	check_disruption(100);
}

Test(maglev, independent_of_order)
{
	struct berth_maglev_backend b[50];
	uint32_t *t1 = malloc(M * sizeof(*t1)), *t2 = malloc(M * sizeof(*t2));
	uint32_t seed;

	cr_assert(t1 && t2);
	make_backends(b, 50);
	cr_assert_eq(berth_maglev_fill(b, 50, t1, M), 0);
	for (seed = 1; seed < 6; seed++) {
		shuffle(b, 50, seed * 2654435761u);
		cr_assert_eq(berth_maglev_fill(b, 50, t2, M), 0);
		cr_assert(!memcmp(t1, t2, M * sizeof(*t1)),
			  "shuffle %u changed the table", seed);
	}
	free(t1);
	free(t2);
}

/* Ids are only labels: renumbering relabels the same table. */
Test(maglev, independent_of_ids)
{
	struct berth_maglev_backend b[20];
	uint32_t *t1 = malloc(M * sizeof(*t1)), *t2 = malloc(M * sizeof(*t2));
	size_t i;

	cr_assert(t1 && t2);
	make_backends(b, 20);
	cr_assert_eq(berth_maglev_fill(b, 20, t1, M), 0);
	for (i = 0; i < 20; i++)
		b[i].id = 1000 + (uint32_t)(19 - i) * 3;
	cr_assert_eq(berth_maglev_fill(b, 20, t2, M), 0);
	for (i = 0; i < M; i++)
		cr_assert_eq(t2[i], 1000 + (20 - t1[i]) * 3, "entry %zu", i);
	free(t1);
	free(t2);
}

/* The hash is part of the format: every node and version must agree. */
Test(maglev, stable_across_versions)
{
	struct berth_maglev_backend b[3];
	static const uint32_t want[13] = {
		1, 2, 2, 2, 3, 1, 1, 3, 3, 1, 3, 1, 2
	};
	uint32_t t[13];
	size_t i;

	make_backends(b, 3);
	cr_assert_eq(berth_maglev_fill(b, 3, t, 13), 0);
	for (i = 0; i < 13; i++)
		cr_assert_eq(t[i], want[i], "entry %zu: %u, want %u", i, t[i],
			     want[i]);
}

Test(maglev, empty_fills_zero)
{
	uint32_t t[13];

	memset(t, 0xff, sizeof(t));
	cr_assert_eq(berth_maglev_fill(NULL, 0, t, 13), 0);
	for (size_t i = 0; i < 13; i++)
		cr_assert_eq(t[i], 0);
}

Test(maglev, rejects_bad_sizes)
{
	struct berth_maglev_backend b[10];
	uint32_t t[16];

	make_backends(b, 10);
	cr_assert_eq(berth_maglev_fill(b, 3, t, 16), -EINVAL, "16 not prime");
	cr_assert_eq(berth_maglev_fill(b, 3, t, 15), -EINVAL, "15 not prime");
	cr_assert_eq(berth_maglev_fill(b, 3, t, 1), -EINVAL, "1 not prime");
	cr_assert_eq(berth_maglev_fill(b, 0, t, 0), -EINVAL, "0 not prime");
	cr_assert_eq(berth_maglev_fill(b, 7, t, 7), -EINVAL, "m == n");
	cr_assert_eq(berth_maglev_fill(b, 10, t, 7), -EINVAL, "m < n");
	cr_assert_eq(berth_maglev_fill(b, 3, t, 7), 0);
}
