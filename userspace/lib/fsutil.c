// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* mkdir -p, whole-file reads and atomic writes. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <berth/fsutil.h>

int berth_mkdir_p(const char *path, mode_t mode)
{
	char buf[PATH_MAX], *p;

	if (snprintf(buf, sizeof(buf), "%s", path) >= (int)sizeof(buf))
		return -ENAMETOOLONG;
	for (p = buf + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(buf, mode) && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(buf, mode) && errno != EEXIST)
		return -errno;
	return 0;
}

int berth_read_file_max(const char *path, size_t max, char **out,
			size_t *lenp)
{
	size_t cap = 64 << 10, len = 0;
	char *buf = NULL, *nbuf;
	struct stat st;
	ssize_t r;
	int fd, ret = 0;

	if (!max)
		max = SIZE_MAX / 2;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		ret = -errno;
		goto out;
	}
	if (S_ISREG(st.st_mode)) {
		if ((uint64_t)st.st_size > max) {
			ret = -EFBIG;
			goto out;
		}
		/* room for the NUL, so EOF is seen without growing */
		cap = st.st_size + 1;
	}
	buf = malloc(cap);
	if (!buf) {
		ret = -ENOMEM;
		goto out;
	}
	/* pipes and files that grow while read: stop just past the limit */
	for (;;) {
		if (len + 1 >= cap) {
			if (cap > max) {
				ret = -EFBIG;
				goto out;
			}
			nbuf = realloc(buf, 2 * cap);
			if (!nbuf) {
				ret = -ENOMEM;
				goto out;
			}
			buf = nbuf;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			ret = -errno;
			goto out;
		}
		if (!r)
			break;
		len += r;
	}
	if (len > max) {
		ret = -EFBIG;
		goto out;
	}
	buf[len] = '\0';
	*out = buf;
	buf = NULL;
	if (lenp)
		*lenp = len;
out:
	free(buf);
	close(fd);
	return ret;
}

int berth_write_file_atomic(const char *path, const void *data, size_t len,
			    mode_t mode)
{
	char tmp[PATH_MAX];
	ssize_t w;
	int fd, ret;

	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= sizeof(tmp))
		return -ENAMETOOLONG;
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
	if (fd < 0)
		return -errno;
	w = write(fd, data, len);
	ret = w == (ssize_t)len && !fsync(fd) ? 0 : -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret)
		unlink(tmp);
	return ret;
}
