/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Fixed-width types for headers shared by BPF programs and userspace. */
#ifndef BERTH_ABI_TYPES_H
#define BERTH_ABI_TYPES_H

#ifndef __VMLINUX_H__
#include <linux/types.h>
#endif

#define BERTH_ABI_SIZE(type, size) \
	_Static_assert(sizeof(type) == (size), #type " must be " #size " bytes")

#endif
