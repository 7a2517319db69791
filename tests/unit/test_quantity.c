// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* berth_quantity_milli: Kubernetes quantities, exactly. */
#include <errno.h>

#include <criterion/criterion.h>

#include <berth/quantity.h>

static int64_t q(const char *s)
{
	int64_t v = -424242;

	cr_assert_eq(berth_quantity_milli(s, &v), 0, "%s parses", s);
	return v;
}

Test(quantity, units_and_suffixes)
{
	cr_expect_eq(q("100m"), 100);
	cr_expect_eq(q("1"), 1000);
	cr_expect_eq(q("1.5"), 1500);
	cr_expect_eq(q("0.1"), 100, "exact: no 0.1 * 1000 = 100.0000001 -> 101");
	cr_expect_eq(q("250m"), 250);
	cr_expect_eq(q("1Ki"), 1024000);
	cr_expect_eq(q("128Mi"), 128LL * 1024 * 1024 * 1000);
	cr_expect_eq(q("1.5Gi"), 1536LL * 1024 * 1024 * 1000);
	cr_expect_eq(q("2G"), 2000000000000LL);
	cr_expect_eq(q("1k"), 1000000);
	cr_expect_eq(q("1e3"), 1000000);
	cr_expect_eq(q("1E3"), 1000000);
	cr_expect_eq(q("5e-1"), 500);
	cr_expect_eq(q("+2"), 2000);
	cr_expect_eq(q(".5"), 500);
	cr_expect_eq(q("0"), 0);
	cr_expect_eq(q("100u"), 1, "rounded up to a milli");
	cr_expect_eq(q("1n"), 1);
	cr_expect_eq(q("1500n"), 1);
	cr_expect_eq(q("1000001n"), 2);
	cr_expect_eq(q("-1.5m"), -1, "toward zero for a negative, as ceil");
	cr_expect_eq(q("-2"), -2000);
}

Test(quantity, malformed_and_range)
{
	static const char *const bad[] = { "",	  "m",	 "abc", "1x",  "1KI",
					   "1 Mi", "0x10", "inf", "nan", "1e",
					   "1.2.3", "--1", "1Mi ", NULL };
	int64_t v;

	for (int i = 0; bad[i]; i++)
		cr_expect_eq(berth_quantity_milli(bad[i], &v), -EINVAL, "%s",
			     bad[i]);
	cr_expect_eq(berth_quantity_milli(NULL, &v), -EINVAL);
	cr_expect_eq(berth_quantity_milli("9Ei", &v), -ERANGE);
	cr_expect_eq(berth_quantity_milli("1e100", &v), -ERANGE);
	cr_expect_eq(berth_quantity_milli("99999999999999999999999999999999",
					  &v),
		     -ERANGE);
	cr_expect_eq(q("9223372036854775807m"), INT64_MAX);
	cr_expect_eq(berth_quantity_milli("9223372036854775808m", &v),
		     -ERANGE);
}
