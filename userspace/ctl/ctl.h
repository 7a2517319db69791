/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* berthctl's commands. */
#ifndef BERTH_CTL_H
#define BERTH_CTL_H

#include <stdbool.h>

int cmd_probe(bool json);
/* berthctl bpf policy POD (policy.c): what a pod of node may do */
int cmd_policy(const char *node, const char *pod, bool json);

#endif
