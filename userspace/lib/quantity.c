// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Kubernetes resource quantities, exactly: see quantity.h. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <berth/quantity.h>

/* value = mantissa * 10^exp10 * 2^exp2; every suffix is one of those */
static const struct {
	const char *sfx;
	int exp10, exp2;
} suffixes[] = {
	{ "", 0, 0 },	 { "n", -9, 0 },  { "u", -6, 0 },  { "m", -3, 0 },
	{ "k", 3, 0 },	 { "M", 6, 0 },	  { "G", 9, 0 },   { "T", 12, 0 },
	{ "P", 15, 0 },	 { "E", 18, 0 },  { "Ki", 0, 10 }, { "Mi", 0, 20 },
	{ "Gi", 0, 30 }, { "Ti", 0, 40 }, { "Pi", 0, 50 }, { "Ei", 0, 60 },
};

#define LIMIT ((__int128)1 << 100) /* far above int64, far below overflow */

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* digits (and a fraction) into *m, the fraction's length into *frac */
static const char *mantissa(const char *p, __int128 *m, int *frac, bool *any)
{
	bool dot = false;

	for (; is_digit(*p) || (*p == '.' && !dot); p++) {
		if (*p == '.') {
			dot = true;
			continue;
		}
		*any = true;
		if (*m >= LIMIT)
			continue; /* far past the range: -ERANGE below */
		*m = *m * 10 + (*p - '0');
		if (dot)
			(*frac)++;
	}
	return p;
}

int berth_quantity_milli(const char *s, int64_t *out)
{
	__int128 m = 0, num, den = 1;
	int frac = 0, exp10, e = 0, esign = 1;
	bool neg = false, any = false;
	const char *p = s;
	size_t i;

	if (!s)
		return -EINVAL;
	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	p = mantissa(p, &m, &frac, &any);
	if (!any)
		return -EINVAL;
	if ((*p == 'e' || *p == 'E') && (is_digit(p[1]) ||
					 ((p[1] == '+' || p[1] == '-') &&
					  is_digit(p[2])))) {
		p++;
		if (*p == '+' || *p == '-')
			esign = *p++ == '-' ? -1 : 1;
		for (; is_digit(*p); p++)
			if (e < 1000)
				e = e * 10 + (*p - '0');
	}
	for (i = 0; i < sizeof(suffixes) / sizeof(suffixes[0]); i++)
		if (!strcmp(p, suffixes[i].sfx))
			break;
	if (i == sizeof(suffixes) / sizeof(suffixes[0]))
		return -EINVAL;
	/* milli: one more factor of 10^3 */
	exp10 = esign * e + suffixes[i].exp10 - frac + 3;
	num = m;
	for (int k = 0; k < suffixes[i].exp2 && num < LIMIT; k++)
		num *= 2;
	for (; exp10 > 0 && num && num < LIMIT; exp10--)
		num *= 10;
	if (num >= LIMIT || (exp10 > 0 && num))
		return -ERANGE;
	for (; exp10 < 0 && den < LIMIT; exp10++)
		den *= 10;
	if (exp10 < 0) { /* smaller than any milli: ceil gives 1 or 0 */
		num = num && !neg ? 1 : 0;
		den = 1;
	}
	/* rounded up, as a Quantity's MilliValue: away from zero for a
	 * positive value, toward it for a negative one */
	num = neg ? num / den : (num + den - 1) / den;
	if (num > INT64_MAX)
		return -ERANGE;
	*out = neg ? -(int64_t)num : (int64_t)num;
	return 0;
}
