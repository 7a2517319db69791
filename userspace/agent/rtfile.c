// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The runtime's small file helpers, on their own so the lean shim binary
 * (userspace/shim) links them without the rest of the runtime.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <berth/fsutil.h>

#include "runtime_int.h"

/* ---- small file helpers ---- */

int rt_write_file(const char *path, const void *data, size_t n, mode_t mode)
{
	char tmp[PATH_MAX];
	int fd, ret = 0;

	if (snprintf(tmp, sizeof(tmp), "%s.tmp%d", path, getpid()) >= (int)sizeof(tmp))
		return -ENAMETOOLONG;
	/* rename gives readers all or nothing; no fsync: these files
	 * (bundles, records) mean nothing after a crash of the host, when
	 * every container is gone too */
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	if (fchmod(fd, mode) || (n && write(fd, data, n) != (ssize_t)n))
		ret = -errno ? -errno : -EIO;
	close(fd);
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}

char *rt_read_file(const char *path, size_t *np)
{
	char *buf;

	return berth_read_file(path, &buf, np) ? NULL : buf;
}
