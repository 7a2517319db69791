/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Levelled logging to stderr for the libraries and binaries. */
#ifndef BERTH_LOG_H
#define BERTH_LOG_H

enum berth_log_level {
	BERTH_LOG_ERROR,
	BERTH_LOG_WARN,
	BERTH_LOG_INFO,
	BERTH_LOG_DEBUG,
};

extern enum berth_log_level berth_log_level;

void berth_log(enum berth_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define pr_err(...) berth_log(BERTH_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) berth_log(BERTH_LOG_WARN, __VA_ARGS__)
#define pr_info(...) berth_log(BERTH_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) berth_log(BERTH_LOG_DEBUG, __VA_ARGS__)

#endif
