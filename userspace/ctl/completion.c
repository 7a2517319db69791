// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl completion bash: the script (completion.bash) completes
 * commands, flags, kinds (a static list) and names (`berthctl get KIND -o
 * name` as you type).
 */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define TABLES_MARK "@BPF_TABLES@"

/* completion.bash as a C string, made by the Makefile */
static const char script[] =
#include "ctl/completion.inc"
	;

int cmd_completion(int argc, char **argv)
{
	const char *mark;

	if (argc != 2 || strcmp(argv[1], "bash")) {
		fprintf(stderr, "usage: berthctl completion bash\n");
		return CTL_USAGE;
	}
	/* the bpf tables: the list kept next to cmd_bpf's dispatch (bpf.c) */
	mark = strstr(script, TABLES_MARK);
	fwrite(script, 1, mark - script, stdout);
	for (int i = 0; ctl_bpf_tables[i]; i++)
		printf("%s%s", i ? " " : "", ctl_bpf_tables[i]);
	fputs(mark + strlen(TABLES_MARK), stdout);
	return CTL_OK;
}
