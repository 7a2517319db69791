// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Levelled logging: "LEVEL time message" lines on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <time.h>

#include <berth/log.h>

enum berth_log_level berth_log_level = BERTH_LOG_INFO;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void berth_log(enum berth_log_level level, const char *fmt, ...)
{
	struct timespec ts;
	va_list ap;

	if (level > berth_log_level)
		return;
	clock_gettime(CLOCK_REALTIME, &ts);
	fprintf(stderr, "%ld.%03ld %-5s ", (long)ts.tv_sec,
		ts.tv_nsec / 1000000, level_names[level]);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}
