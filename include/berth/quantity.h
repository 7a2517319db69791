/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Kubernetes resource quantities ("100m", "1.5", "128Mi", "1e3", "2G"),
 * parsed exactly (decimal, no floating point), as the API server, the
 * scheduler, the agent and berthctl all need them.
 */
#ifndef BERTH_QUANTITY_H
#define BERTH_QUANTITY_H

#include <stdint.h>

/*
 * s in thousandths of its unit ("100m" -> 100, "1Ki" -> 1024000), rounded
 * up as Kubernetes rounds a quantity to milli precision. 0, -EINVAL
 * (malformed: sign, digits, optional fraction, optional e/E exponent, one
 * suffix of n u m k M G T P E Ki Mi Gi Ti Pi Ei) or -ERANGE (outside
 * int64).
 */
int berth_quantity_milli(const char *s, int64_t *out);

#endif
