// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The kubelet's token renewal rule (userspace/agent/satokens.c): renew once
 * 80% of the lifetime has passed, or when older than the 24 h ceiling.
 */
#include <criterion/criterion.h>

#include "../../userspace/agent/satokens.h"

#define T0 1800000000L

Test(satokens, renewed_after_80_percent_of_the_lifetime)
{
	/* 600 s token: due from 480 s on */
	cr_assert_not(berth_token_needs_refresh(T0, T0 + 600, T0,
						BERTH_TOKEN_MAX_AGE_S));
	cr_assert_not(berth_token_needs_refresh(T0, T0 + 600, T0 + 479,
						BERTH_TOKEN_MAX_AGE_S));
	cr_assert(berth_token_needs_refresh(T0, T0 + 600, T0 + 480,
					    BERTH_TOKEN_MAX_AGE_S));
	cr_assert(berth_token_needs_refresh(T0, T0 + 600, T0 + 700,
					    BERTH_TOKEN_MAX_AGE_S),
		  "expired");
	/* 1 h token: due from 48 min on */
	cr_assert_not(berth_token_needs_refresh(T0, T0 + 3600, T0 + 2879,
						BERTH_TOKEN_MAX_AGE_S));
	cr_assert(berth_token_needs_refresh(T0, T0 + 3600, T0 + 2880,
					    BERTH_TOKEN_MAX_AGE_S));
}

Test(satokens, renewed_when_older_than_the_ceiling)
{
	long week = 7 * 24 * 3600;

	/* a week-long token is renewed after 24 h, long before 80% */
	cr_assert_not(berth_token_needs_refresh(T0, T0 + week, T0 + 24 * 3600,
						BERTH_TOKEN_MAX_AGE_S));
	cr_assert(berth_token_needs_refresh(T0, T0 + week, T0 + 24 * 3600 + 1,
					    BERTH_TOKEN_MAX_AGE_S));
	/* a shortened ceiling (BERTH_TOKEN_MAX_AGE_S=6 in the node test) */
	cr_assert_not(berth_token_needs_refresh(T0, T0 + 600, T0 + 6, 6));
	cr_assert(berth_token_needs_refresh(T0, T0 + 600, T0 + 7, 6));
}
