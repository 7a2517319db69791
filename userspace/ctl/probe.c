// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl probe: what this kernel offers (feature probes) and whether the
 * verifier takes each datapath program, at what instruction count.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <berth/abi/pins.h>
#include <berth/datapath.h>
#include <berth/features.h>

#include "ctl.h"

/* More than the datapath has programs: a new one must not overflow res. */
#define NPROGS 32

struct prog_result {
	const char *name;
	int err;
	uint32_t insns;
	char log[16384];
};

/* The last n lines of s. */
static const char *tail_lines(const char *s, int n)
{
	const char *p = s + strlen(s);

	while (p > s && p[-1] == '\n')
		p--;
	while (p > s && n) {
		p--;
		if (*p == '\n' && --n == 0)
			return p + 1;
	}
	return s;
}

static void put_json_string(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = *s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c == '\n')
			fputs("\\n", stdout);
		else if (c < 0x20)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

int cmd_probe(bool json)
{
	static struct prog_result res[NPROGS];
	size_t i, n = berth_dp_probe_count();
	struct berth_features f;
	char pin_dir[256];

	if (n > NPROGS)
		n = NPROGS;
	berth_features_probe(&f);
	if (berth_bpffs_ensure())
		return 1;
	for (i = 0; i < n; i++) {
		res[i].name = berth_dp_probe_name(i);
		snprintf(pin_dir, sizeof(pin_dir), "%s/probe-%d-%s",
			 BERTH_BPFFS_ROOT, getpid(), res[i].name);
		res[i].err = berth_dp_probe_prog(pin_dir, res[i].name,
						 &res[i].insns, res[i].log,
						 sizeof(res[i].log));
	}
	rmdir(BERTH_BPFFS_ROOT); /* only if no node is pinned */

	if (!json) {
		printf("kernel %s\n", f.kernel);
		berth_features_text(&f, stdout);
		for (i = 0; i < n; i++) {
			if (!res[i].err) {
				printf("%-18s verified, %u instructions processed\n",
				       res[i].name, res[i].insns);
				continue;
			}
			printf("%-18s REJECTED (%s)\n%s\n", res[i].name,
			       strerror(-res[i].err),
			       tail_lines(res[i].log, 20));
		}
		return 0;
	}
	printf("{\"kernel\": ");
	put_json_string(f.kernel);
	printf(", \"features\": ");
	berth_features_json(&f, stdout);
	printf(", \"programs\": {");
	for (i = 0; i < n; i++) {
		printf("%s\"%s\": {\"loaded\": %s, \"verified_insns\": %u, \"error\": ",
		       i ? ", " : "", res[i].name,
		       res[i].err ? "false" : "true", res[i].insns);
		if (res[i].err) {
			put_json_string(strerror(-res[i].err));
			printf(", \"log_tail\": ");
			put_json_string(tail_lines(res[i].log, 20));
		} else {
			printf("null, \"log_tail\": null");
		}
		putchar('}');
	}
	printf("}}\n");
	return 0;
}
