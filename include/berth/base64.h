/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Base64: Secret data and etcd keys (standard alphabet), continue tokens (URL-safe). */
#ifndef BERTH_BASE64_H
#define BERTH_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* n bytes of data as base64 (url: URL alphabet, no padding); malloc'd. */
char *berth_base64(const void *data, size_t n, bool url);
/* Decode s; NULL if malformed. *n (if not NULL) gets the length; NUL-ended. */
char *berth_base64_decode(const char *s, bool url, size_t *n);

#endif
