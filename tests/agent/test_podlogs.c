// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The CRI log writer and reader: F and P records, rotation, tail. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../userspace/agent/runtime_int.h"

struct cap {
	char buf[65536];
	size_t n;
};

static int cap_out(void *arg, const char *b, size_t n)
{
	struct cap *c = arg;

	memcpy(c->buf + c->n, b, n);
	c->n += n;
	c->buf[c->n] = 0;
	return 0;
}

Test(podlogs, lines_partial_tail)
{
	char dir[] = "/tmp/berth-logs.XXXXXX", path[256], *s;
	struct berth_log_writer *w;
	struct cap c = { 0 };
	struct berth_log_read_opts o = { .tail = -1 };
	static char big[BERTH_LOG_MAX_LINE + 10];

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a/0.log", dir);
	cr_assert_eq(berth_log_writer_open(path, 0, 0, &w), 0);
	berth_log_writer_write(w, BERTH_LOG_STDOUT, "one\ntw", 6);
	berth_log_writer_write(w, BERTH_LOG_STDERR, "err\n", 4);
	berth_log_writer_write(w, BERTH_LOG_STDOUT, "o\n", 2);
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 2] = '\n';
	berth_log_writer_write(w, BERTH_LOG_STDOUT, big, sizeof(big) - 1);
	berth_log_writer_write(w, BERTH_LOG_STDOUT, "last", 4);
	berth_log_writer_close(w);
	s = rt_read_file(path, NULL);
	cr_assert(strstr(s, " stdout F one\n") && strstr(s, " stderr F err\n") &&
		  strstr(s, " stdout F two\n") && strstr(s, " stdout P xxx") &&
		  strstr(s, " stdout F last\n"), "%.200s", s);
	free(s);
	cr_assert_eq(berth_log_read(path, &o, cap_out, &c), 0);
	cr_assert_eq(c.n, 4 + 4 + 4 + (sizeof(big) - 2) + 1 + 5, "joined P records: %zu", c.n);
	c.n = 0;
	o.tail = 1;
	cr_assert_eq(berth_log_read(path, &o, cap_out, &c), 0);
	cr_assert_str_eq(c.buf, "last\n");
	c.n = 0;
	o.timestamps = true;
	berth_log_read(path, &o, cap_out, &c);
	cr_assert(c.n > 30 && c.buf[4] == '-' && strstr(c.buf, "Z last\n"), "%s", c.buf);
	rt_remove_tree(dir);
}

Test(podlogs, rotation)
{
	char dir[] = "/tmp/berth-logs.XXXXXX", path[256], p2[300];
	struct berth_log_writer *w;
	struct cap c = { 0 };
	struct berth_log_read_opts o = { .tail = 1000 };
	char line[64];

	cr_assert(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/0.log", dir);
	cr_assert_eq(berth_log_writer_open(path, 1000, 2, &w), 0);
	for (int i = 0; i < 100; i++) {
		snprintf(line, sizeof(line), "line %d\n", i);
		berth_log_writer_write(w, BERTH_LOG_STDOUT, line, strlen(line));
	}
	berth_log_writer_close(w);
	snprintf(p2, sizeof(p2), "%s.2", path);
	cr_assert_eq(access(p2, F_OK), 0, "rotated twice");
	snprintf(p2, sizeof(p2), "%s.3", path);
	cr_assert_neq(access(p2, F_OK), 0, "keeps only 2");
	cr_assert_eq(berth_log_read(path, &o, cap_out, &c), 0);
	cr_assert(strstr(c.buf, "line 99\n"), "%s", c.buf);
	cr_assert_null(strstr(c.buf, "line 0\n"), "old lines rotated away");
	rt_remove_tree(dir);
}
