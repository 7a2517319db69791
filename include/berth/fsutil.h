/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Small file-system helpers the agent, the CNI plugin and libberth share. */
#ifndef BERTH_FSUTIL_H
#define BERTH_FSUTIL_H

#include <stddef.h>
#include <sys/types.h>

/* mkdir -p: every missing component with mode. 0 or -errno. */
int berth_mkdir_p(const char *path, mode_t mode);

/*
 * The whole of path (a file or a pipe) in a malloc'd buffer, NUL-terminated
 * (*len excludes the NUL; len may be NULL). More than max bytes: -EFBIG
 * (max 0: no limit). 0 or -errno.
 */
int berth_read_file_max(const char *path, size_t max, char **out,
			size_t *len);
static inline int berth_read_file(const char *path, char **out, size_t *len)
{
	return berth_read_file_max(path, 0, out, len);
}

/*
 * Write len bytes to path.tmp (mode), fsync, rename over path: a reader
 * (or a crash) never sees half a file. 0 or -errno.
 */
int berth_write_file_atomic(const char *path, const void *data, size_t len,
			    mode_t mode);

#endif
