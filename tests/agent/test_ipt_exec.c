// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* berth_ipt_exec: how the iptables dataplane runs its tools. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../userspace/agent/ipt_sync.h"

Test(ipt_exec, stdin_to_stdout)
{
	const char *argv[] = { "cat", NULL };
	char err[64], *out = NULL;

	cr_assert_eq(berth_ipt_exec(argv, "*nat\nCOMMIT\n", &out, err,
				    sizeof(err)),
		     0);
	cr_assert_str_eq(out, "*nat\nCOMMIT\n");
	free(out);
}

Test(ipt_exec, large_input_does_not_deadlock)
{
	/* more than a pipe holds, echoed back while still being written */
	size_t n = 1 << 20;
	char *in = malloc(n + 1), *out = NULL, err[64];
	const char *argv[] = { "cat", NULL };

	cr_assert_not_null(in);
	memset(in, 'x', n);
	in[n] = '\0';
	cr_assert_eq(berth_ipt_exec(argv, in, &out, err, sizeof(err)), 0);
	cr_assert_eq(strlen(out), n);
	free(in);
	free(out);
}

Test(ipt_exec, exit_status_and_first_stderr_line)
{
	const char *argv[] = {
		"sh", "-c", "echo 'line 3 failed' >&2; echo more >&2; exit 4",
		NULL
	};
	char err[64];

	cr_assert_eq(berth_ipt_exec(argv, NULL, NULL, err, sizeof(err)), 4);
	cr_assert_str_eq(err, "line 3 failed");
}

Test(ipt_exec, missing_tool)
{
	const char *argv[] = { "berth-no-such-tool", NULL };
	char err[128];

	cr_assert_eq(berth_ipt_exec(argv, NULL, NULL, err, sizeof(err)),
		     -ENOENT);
}
