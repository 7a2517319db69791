/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Maglev lookup tables (Eisenbud et al., NSDI 2016). */
#ifndef BERTH_MAGLEV_H
#define BERTH_MAGLEV_H

#include <stddef.h>
#include <stdint.h>

struct berth_maglev_backend {
	uint32_t id; /* value written into the table */
	uint32_t ip; /* network order; with port and proto, the permutation seed */
	uint16_t port; /* network order */
	uint8_t proto;
};

/*
 * Fill table[0..m) with backend ids. m must be prime and larger than n.
 * The table depends only on the backends' addresses (not their ids or order),
 * so every node computes the same table. Returns 0 or -EINVAL/-ENOMEM.
 */
int berth_maglev_fill(const struct berth_maglev_backend *b, size_t n,
		      uint32_t *table, size_t m);

#endif
