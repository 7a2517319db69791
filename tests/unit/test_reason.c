// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Names of the datapath's enums (reason.c): every drop reason, direction
 * and trace point the programs can write has one, so a new value cannot
 * reach berthctl monitor or /metrics as "unknown".
 */
#include <criterion/criterion.h>

#include <berth/abi/events.h>
#include <berth/abi/metrics.h>
#include <berth/reason.h>

Test(reason, every_value_named)
{
	for (unsigned int r = 0; r < BERTH_REASON_MAX; r++)
		cr_assert_str_neq(berth_reason_str(r), "unknown", "reason %u",
				  r);
	for (unsigned int d = BERTH_DIR_EGRESS; d <= BERTH_DIR_XDP; d++)
		cr_assert_str_neq(berth_dir_str(d), "unknown", "dir %u", d);
	for (unsigned int t = 1; t < BERTH_TRACE_MAX; t++)
		cr_assert_str_neq(berth_trace_str(t), "unknown", "trace %u", t);
}

Test(reason, names_and_out_of_range)
{
	cr_assert_str_eq(berth_reason_str(BERTH_DROP_NO_SERVICE),
			 "service has no endpoints (rejected)");
	cr_assert_str_eq(berth_dir_str(BERTH_DIR_OVERLAY), "overlay");
	cr_assert_str_eq(berth_trace_str(BERTH_TRACE_TO_STACK), "to-stack");
	cr_assert_str_eq(berth_reason_str(BERTH_REASON_MAX), "unknown");
	cr_assert_str_eq(berth_dir_str(0), "unknown");
	cr_assert_str_eq(berth_dir_str(200), "unknown");
	cr_assert_str_eq(berth_trace_str(0), "unknown");
	cr_assert_str_eq(berth_trace_str(BERTH_TRACE_MAX), "unknown");
}
