// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berth_dp_probe_prog (berthctl probe, vmtest's verifier table): every
 * program of the datapath and the socket LB is known by name and taken by
 * this kernel's verifier; an unknown name is an error, not a crash.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <berth/abi/pins.h>
#include <berth/datapath.h>

static const char *const wanted[] = {
	"from_pod",	 "to_pod",	  "overlay_in",	       "overlay_out",
	"from_netdev",	 "to_netdev",	  "xdp_nodeport",      "sock_connect4",
	"sock_sendmsg4", "sock_recvmsg4", "sock_getpeername4",
};

static bool known(const char *name)
{
	for (size_t i = 0; i < berth_dp_probe_count(); i++)
		if (!strcmp(berth_dp_probe_name(i), name))
			return true;
	return false;
}

Test(probe, lists_every_program)
{
	for (size_t i = 0; i < sizeof(wanted) / sizeof(wanted[0]); i++)
		cr_expect(known(wanted[i]), "%s not probed", wanted[i]);
	cr_assert_null(berth_dp_probe_name(berth_dp_probe_count()),
		       "a name past the end");
}

Test(probe, every_program_verifies)
{
	static char log[16384];
	char pin_dir[256];
	uint32_t insns;
	const char *name;
	int err;

	cr_assert_eq(berth_bpffs_ensure(), 0, "bpffs");
	for (size_t i = 0; i < berth_dp_probe_count(); i++) {
		name = berth_dp_probe_name(i);
		snprintf(pin_dir, sizeof(pin_dir), "%s/test-probe-%d-%s",
			 BERTH_BPFFS_ROOT, getpid(), name);
		err = berth_dp_probe_prog(pin_dir, name, &insns, log,
					  sizeof(log));
		cr_expect_eq(err, 0, "%s rejected: %s\n%s", name,
			     strerror(-err), log);
		cr_expect_gt(insns, 0, "%s: no instruction count", name);
		cr_expect_neq(access(pin_dir, F_OK), 0, "%s: %s left behind",
			      name, pin_dir);
	}
	snprintf(pin_dir, sizeof(pin_dir), "%s/test-probe-%d-none",
		 BERTH_BPFFS_ROOT, getpid());
	err = berth_dp_probe_prog(pin_dir, "no_such_prog", &insns, log,
				  sizeof(log));
	cr_assert_eq(err, -ENOENT, "unknown program: %d, want -ENOENT", err);
}
