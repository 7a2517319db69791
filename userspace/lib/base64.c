// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* RFC 4648 base64, both alphabets, strict on decode. */
#include <stdlib.h>
#include <string.h>

#include <berth/base64.h>

static const char std_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char url_alpha[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

char *berth_base64(const void *data, size_t n, bool url)
{
	const char *a = url ? url_alpha : std_alpha;
	const unsigned char *s = data;
	char *out = malloc(4 * (n / 3 + 1) + 1);
	size_t i, o = 0;

	if (!out)
		return NULL;
	for (i = 0; i < n; i += 3) {
		unsigned int x = s[i] << 16;

		if (i + 1 < n)
			x |= s[i + 1] << 8;
		if (i + 2 < n)
			x |= s[i + 2];
		out[o++] = a[x >> 18];
		out[o++] = a[(x >> 12) & 63];
		if (i + 1 < n)
			out[o++] = a[(x >> 6) & 63];
		else if (!url)
			out[o++] = '=';
		if (i + 2 < n)
			out[o++] = a[x & 63];
		else if (!url)
			out[o++] = '=';
	}
	out[o] = 0;
	return out;
}

/* Value of each byte in an alphabet, -1 where it is not a digit. */
static void digit_table(const char *alpha, signed char table[256])
{
	memset(table, -1, 256);
	for (int i = 0; i < 64; i++)
		table[(unsigned char)alpha[i]] = i;
}

char *berth_base64_decode(const char *s, bool url, size_t *n)
{
	signed char table[256];
	size_t len = strlen(s), i, o = 0, pad = 0;
	unsigned int acc = 0, bits = 0;
	char *out;

	if (!url && len % 4)
		return NULL;
	while (!url && pad < 2 && pad < len && s[len - 1 - pad] == '=')
		pad++;
	out = malloc(len + 1);
	if (!out)
		return NULL;
	digit_table(url ? url_alpha : std_alpha, table);
	for (i = 0; i < len - pad; i++) {
		int v = table[(unsigned char)s[i]];

		if (v < 0) {
			free(out);
			return NULL;
		}
		acc = acc << 6 | (unsigned int)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out[o++] = (char)((acc >> bits) & 0xff);
		}
	}
	out[o] = 0;
	if (n)
		*n = o;
	return out;
}
