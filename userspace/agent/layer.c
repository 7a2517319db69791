// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Image layers on disk: unpacking a layer tar into its own directory with the
 * whiteouts in overlayfs' form, and applying unpacked layers one over another
 * for the copy fallback of a container's rootfs.
 */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <berth/log.h>

#include "image_priv.h"

#define WH_PREFIX ".wh."
#define WH_OPAQUE ".wh..wh..opq"
#define OVL_OPAQUE_XATTR "trusted.overlay.opaque"

void berth_image_seterr(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}


static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	if (remove(path) && errno != ENOENT)
		return -errno;
	return 0;
}

int berth_rm_rf(const char *path)
{
	struct stat st;
	int ret;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlink(path) && errno != ENOENT ? -errno : 0;
	ret = nftw(path, rm_one, 32, FTW_DEPTH | FTW_PHYS | FTW_MOUNT);
	if (ret > 0)
		ret = -EIO;
	return ret;
}

/*
 * Cleans an entry name into a relative path: no leading "/" or "./", no "."
 * components; -EPERM on "..". Empty result means the layer's root.
 */
static int clean_name(const char *name, char *out, size_t len)
{
	const char *p = name;
	size_t o = 0;

	while (*p) {
		const char *e;
		size_t n;

		while (*p == '/')
			p++;
		e = strchrnul(p, '/');
		n = e - p;
		if (n == 0)
			break;
		if (n == 2 && !strncmp(p, "..", 2))
			return -EPERM;
		if (!(n == 1 && *p == '.')) {
			if (o + n + 2 > len)
				return -ENAMETOOLONG;
			if (o)
				out[o++] = '/';
			memcpy(out + o, p, n);
			o += n;
		}
		p = e;
	}
	out[o] = '\0';
	return 0;
}

/* Does any directory component of rel (not the last one) under root exist as
 * something other than a directory? Writing through it could leave root. */
static bool parent_unsafe(const char *root, const char *rel)
{
	char buf[PATH_MAX];
	size_t rl = strlen(root);
	const char *p;
	struct stat st;

	for (p = strchr(rel, '/'); p; p = strchr(p + 1, '/')) {
		if (snprintf(buf, sizeof(buf), "%s/%.*s", root, (int)(p - rel), rel) >=
		    (int)sizeof(buf))
			return true;
		if (lstat(buf, &st))
			return errno != ENOENT;
		if (!S_ISDIR(st.st_mode))
			return true;
	}
	(void)rl;
	return false;
}

static int ensure_parent(const char *root, const char *rel)
{
	char buf[PATH_MAX];
	const char *slash = strrchr(rel, '/');

	if (!slash)
		return 0;
	if (parent_unsafe(root, rel))
		return -EPERM;
	snprintf(buf, sizeof(buf), "%s/%.*s", root, (int)(slash - rel), rel);
	return berth_mkdir_p(buf, 0755);
}

static int whiteout(const char *root, const char *rel, char *err, size_t errlen)
{
	char dir[PATH_MAX], path[PATH_MAX];
	const char *base = strrchr(rel, '/');
	int dlen = base ? (int)(base - rel) : 0;
	int ret;

	base = base ? base + 1 : rel;
	ret = ensure_parent(root, rel);
	if (ret) {
		berth_image_seterr(err, errlen, "whiteout %s: parent is not a directory", rel);
		return ret;
	}
	if (snprintf(dir, sizeof(dir), "%s%s%.*s", root, dlen ? "/" : "", dlen, rel) >=
	    (int)sizeof(dir))
		return -ENAMETOOLONG;
	if (!strcmp(base, WH_OPAQUE)) {
		if (lsetxattr(dir, OVL_OPAQUE_XATTR, "y", 1, 0)) {
			ret = -errno;
			berth_image_seterr(err, errlen, "mark %s opaque: %s", dir, strerror(errno));
			return ret;
		}
		return 0;
	}
	base += strlen(WH_PREFIX);
	if (!*base || !strcmp(base, ".") || !strcmp(base, "..")) {
		berth_image_seterr(err, errlen, "bad whiteout %s", rel);
		return -EPERM;
	}
	if (snprintf(path, sizeof(path), "%s/%s", dir, base) >= (int)sizeof(path))
		return -ENAMETOOLONG;
	berth_rm_rf(path);
	if (mknod(path, S_IFCHR | 0, makedev(0, 0))) {
		ret = -errno;
		berth_image_seterr(err, errlen, "whiteout %s: mknod: %s", path, strerror(errno));
		return ret;
	}
	return 0;
}

static int copy_data(struct archive *in, struct archive *out)
{
	const void *buf;
	size_t size;
	la_int64_t off;
	int r;

	for (;;) {
		r = archive_read_data_block(in, &buf, &size, &off);
		if (r == ARCHIVE_EOF)
			return ARCHIVE_OK;
		if (r < ARCHIVE_WARN)
			return r;
		r = archive_write_data_block(out, buf, size, off);
		if (r < ARCHIVE_WARN)
			return r;
	}
}

static int unpack_entries(struct archive *in, struct archive *out, const char *root,
			  char *err, size_t errlen)
{
	struct archive_entry *e;
	char rel[PATH_MAX], path[PATH_MAX + 2], link[PATH_MAX], lpath[PATH_MAX + 2];
	int r, ret;

	while ((r = archive_read_next_header(in, &e)) == ARCHIVE_OK || r == ARCHIVE_WARN) {
		const char *base, *hl;
		char name[256];

		/* a copy: the entry's own string goes away when we rename it */
		snprintf(name, sizeof(name), "%s", archive_entry_pathname(e) ?: "");
		if (!archive_entry_pathname(e) ||
		    clean_name(archive_entry_pathname(e), rel, sizeof(rel) - strlen(root) - 2)) {
			berth_image_seterr(err, errlen, "layer entry \"%s\" escapes the layer", name);
			return -EPERM;
		}
		if (!rel[0])
			continue; /* the layer's root itself */
		base = strrchr(rel, '/');
		base = base ? base + 1 : rel;
		if (!strncmp(base, WH_PREFIX, strlen(WH_PREFIX))) {
			ret = whiteout(root, rel, err, errlen);
			if (ret)
				return ret;
			continue;
		}
		if (ensure_parent(root, rel)) {
			berth_image_seterr(err, errlen, "layer entry \"%s\" goes through a non-directory", name);
			return -EPERM;
		}
		if (snprintf(path, sizeof(path), "%s/%s", root, rel) >= (int)sizeof(path)) {
			berth_image_seterr(err, errlen, "layer entry \"%s\": name too long", name);
			return -ENAMETOOLONG;
		}
		archive_entry_set_pathname(e, path);
		hl = archive_entry_hardlink(e);
		if (hl) {
			if (clean_name(hl, link, sizeof(link) - strlen(root) - 2) || !link[0] ||
			    parent_unsafe(root, link)) {
				berth_image_seterr(err, errlen, "layer hardlink \"%s\" -> \"%s\" escapes the layer",
				       name, hl);
				return -EPERM;
			}
			if (snprintf(lpath, sizeof(lpath), "%s/%s", root, link) >= (int)sizeof(lpath))
				return -ENAMETOOLONG;
			archive_entry_set_hardlink(e, lpath);
		}
		r = archive_write_header(out, e);
		if (r < ARCHIVE_WARN) {
			berth_image_seterr(err, errlen, "unpack %s: %s", rel, archive_error_string(out));
			return -EIO;
		}
		if (archive_entry_size(e) > 0 && !hl) {
			r = copy_data(in, out);
			if (r < ARCHIVE_WARN) {
				berth_image_seterr(err, errlen, "unpack %s: %s", rel,
				       archive_error_string(out) ? archive_error_string(out) :
								   archive_error_string(in));
				return -EIO;
			}
		}
		r = archive_write_finish_entry(out);
		if (r < ARCHIVE_WARN) {
			berth_image_seterr(err, errlen, "unpack %s: %s", rel, archive_error_string(out));
			return -EIO;
		}
	}
	if (r != ARCHIVE_EOF) {
		berth_image_seterr(err, errlen, "read layer: %s", archive_error_string(in));
		return -EIO;
	}
	return 0;
}

static unsigned int unpack_seq; /* tmp dirs of concurrent unpacks differ */

int berth_layer_unpack(const char *tar_path, const char *dir, char *err, size_t errlen)
{
	char tmp[PATH_MAX], parent[PATH_MAX], real[PATH_MAX];
	struct archive *in = NULL, *out = NULL;
	const char *slash;
	int ret;

	/* unpack next to dir, then rename: a crash never leaves half a layer */
	slash = strrchr(dir, '/');
	if (!slash || snprintf(parent, sizeof(parent), "%.*s", (int)(slash - dir), dir) >=
			      (int)sizeof(parent))
		return -EINVAL;
	ret = berth_mkdir_p(parent, 0700);
	if (ret || !realpath(parent, real)) {
		ret = ret ?: -errno;
		berth_image_seterr(err, errlen, "create %s: %s", parent, strerror(-ret));
		return ret;
	}
	if (snprintf(tmp, sizeof(tmp), "%s/.unpack-%d-%u-%s", real, getpid(),
		     __atomic_fetch_add(&unpack_seq, 1, __ATOMIC_RELAXED), slash + 1) >=
	    (int)sizeof(tmp))
		return -ENAMETOOLONG;
	berth_rm_rf(tmp);
	if (mkdir(tmp, 0755)) {
		ret = -errno;
		berth_image_seterr(err, errlen, "create %s: %s", tmp, strerror(errno));
		return ret;
	}
	in = archive_read_new();
	out = archive_write_disk_new();
	if (!in || !out) {
		ret = -ENOMEM;
		goto out;
	}
	archive_read_support_filter_all(in);
	archive_read_support_format_tar(in);
	archive_read_support_format_gnutar(in);
	/* numeric owners (no name lookups: the names are the image's, not ours) */
	archive_write_disk_set_options(out, ARCHIVE_EXTRACT_PERM | ARCHIVE_EXTRACT_OWNER |
						    ARCHIVE_EXTRACT_TIME | ARCHIVE_EXTRACT_XATTR |
						    ARCHIVE_EXTRACT_UNLINK |
						    ARCHIVE_EXTRACT_SECURE_SYMLINKS |
						    ARCHIVE_EXTRACT_SECURE_NODOTDOT);
	if (archive_read_open_filename(in, tar_path, 65536) != ARCHIVE_OK) {
		berth_image_seterr(err, errlen, "open layer %s: %s", tar_path, archive_error_string(in));
		ret = -EIO;
		goto out;
	}
	ret = unpack_entries(in, out, tmp, err, errlen);
	if (archive_write_close(out) != ARCHIVE_OK && !ret) {
		berth_image_seterr(err, errlen, "finish layer: %s", archive_error_string(out));
		ret = -EIO;
	}
	if (!ret && rename(tmp, dir)) {
		ret = -errno;
		if (ret == -EEXIST || ret == -ENOTEMPTY)
			ret = 0; /* someone else unpacked it meanwhile */
		else
			berth_image_seterr(err, errlen, "rename %s: %s", dir, strerror(errno));
	}
out:
	if (in)
		archive_read_free(in);
	if (out)
		archive_write_free(out);
	berth_rm_rf(tmp);
	return ret;
}

/* --- applying layers for the copy fallback --- */

struct link_seen {
	dev_t dev;
	ino_t ino;
	char *path;
};

struct apply_ctx {
	struct link_seen *seen;
	size_t n, cap;
};

static int copy_file(const char *src, const char *dst, const struct stat *st)
{
	int in, out, ret = 0;
	char buf[65536];
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0)
		return -errno;
	out = open(dst, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, st->st_mode & 07777);
	if (out < 0) {
		ret = -errno;
		close(in);
		return ret;
	}
	for (;;) {
		n = copy_file_range(in, NULL, out, NULL, 1 << 30, 0);
		if (n > 0)
			continue;
		if (n == 0)
			break;
		/* not supported here: plain copy */
		while ((n = read(in, buf, sizeof(buf))) > 0)
			if (write(out, buf, n) != n) {
				n = -1;
				break;
			}
		break;
	}
	if (n < 0)
		ret = -errno;
	close(in);
	if (close(out) && !ret)
		ret = -errno;
	return ret;
}

static void copy_meta(const char *dst, const struct stat *st)
{
	struct timespec ts[2] = { st->st_atim, st->st_mtim };

	if (lchown(dst, st->st_uid, st->st_gid))
		pr_debug("image: chown %s: %s", dst, strerror(errno));
	if (!S_ISLNK(st->st_mode) && chmod(dst, st->st_mode & 07777))
		pr_debug("image: chmod %s: %s", dst, strerror(errno));
	utimensat(AT_FDCWD, dst, ts, AT_SYMLINK_NOFOLLOW);
}

static int empty_dir(const char *path)
{
	char sub[PATH_MAX];
	struct dirent *d;
	DIR *dir;
	int ret = 0;

	dir = opendir(path);
	if (!dir)
		return -errno;
	while ((d = readdir(dir))) {
		if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
			continue;
		if (snprintf(sub, sizeof(sub), "%s/%s", path, d->d_name) >= (int)sizeof(sub))
			ret = -ENAMETOOLONG;
		else
			ret = berth_rm_rf(sub);
		if (ret)
			break;
	}
	closedir(dir);
	return ret;
}

static int apply_entry(struct apply_ctx *c, const char *src, const char *dst,
		       const struct stat *st);

static int apply_dir(struct apply_ctx *c, const char *src, const char *dst)
{
	char s[PATH_MAX], d[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *dir;
	int ret = 0;

	dir = opendir(src);
	if (!dir)
		return -errno;
	while ((de = readdir(dir))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (snprintf(s, sizeof(s), "%s/%s", src, de->d_name) >= (int)sizeof(s) ||
		    snprintf(d, sizeof(d), "%s/%s", dst, de->d_name) >= (int)sizeof(d)) {
			ret = -ENAMETOOLONG;
			break;
		}
		if (lstat(s, &st)) {
			ret = -errno;
			break;
		}
		ret = apply_entry(c, s, d, &st);
		if (ret) {
			pr_warn("image: apply %s to %s: %s", s, d, strerror(-ret));
			break;
		}
	}
	closedir(dir);
	return ret;
}

static int apply_entry(struct apply_ctx *c, const char *src, const char *dst,
		       const struct stat *st)
{
	struct stat dst_st;
	bool exists = !lstat(dst, &dst_st);
	char target[PATH_MAX], opq[4];
	ssize_t n;
	size_t i;
	int ret;

	if (S_ISCHR(st->st_mode) && st->st_rdev == makedev(0, 0))
		return berth_rm_rf(dst); /* whiteout */
	if (S_ISDIR(st->st_mode)) {
		if (exists && !S_ISDIR(dst_st.st_mode)) {
			ret = berth_rm_rf(dst);
			if (ret)
				return ret;
			exists = false;
		}
		if (!exists && mkdir(dst, 0700))
			return -errno;
		n = lgetxattr(src, OVL_OPAQUE_XATTR, opq, sizeof(opq));
		if (exists && n == 1 && opq[0] == 'y') {
			ret = empty_dir(dst);
			if (ret)
				return ret;
		}
		ret = apply_dir(c, src, dst);
		if (ret)
			return ret;
		copy_meta(dst, st);
		return 0;
	}
	if (exists) {
		ret = berth_rm_rf(dst);
		if (ret)
			return ret;
	}
	if (S_ISREG(st->st_mode) && st->st_nlink > 1) {
		/* keep the layer's own hard links as links within the rootfs */
		for (i = 0; i < c->n; i++)
			if (c->seen[i].dev == st->st_dev && c->seen[i].ino == st->st_ino)
				return link(c->seen[i].path, dst) ? -errno : 0;
		if (c->n == c->cap) {
			size_t cap = c->cap ? 2 * c->cap : 64;
			struct link_seen *s = realloc(c->seen, cap * sizeof(*s));

			if (!s)
				return -ENOMEM;
			c->seen = s;
			c->cap = cap;
		}
		c->seen[c->n] = (struct link_seen){ st->st_dev, st->st_ino, strdup(dst) };
		if (!c->seen[c->n].path)
			return -ENOMEM;
		c->n++;
	}
	if (S_ISREG(st->st_mode)) {
		/* a copy, not a link into the store: the container may write it */
		ret = copy_file(src, dst, st);
	} else if (S_ISLNK(st->st_mode)) {
		n = readlink(src, target, sizeof(target) - 1);
		if (n < 0)
			return -errno;
		target[n] = '\0';
		ret = symlink(target, dst) ? -errno : 0;
	} else {
		ret = mknod(dst, st->st_mode, st->st_rdev) ? -errno : 0;
	}
	if (!ret)
		copy_meta(dst, st);
	return ret;
}

int berth_layer_apply(const char *layer_dir, const char *dst)
{
	struct apply_ctx c = { 0 };
	size_t i;
	int ret;

	ret = apply_dir(&c, layer_dir, dst);
	for (i = 0; i < c.n; i++)
		free(c.seen[i].path);
	free(c.seen);
	return ret;
}
