// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berth-shim: `berth-agent shim` as a binary of its own, linked with only
 * libc and json-c, so each container's shim starts and idles cheaply. The
 * runtime uses it when it sits next to berth-agent.
 */
#include "../agent/runtime.h"

int main(int argc, char **argv)
{
	return berth_shim_main(argc, argv);
}
