// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Layer unpacking: whiteouts, opaque dirs, links, path escapes; the copy fallback's layer merge. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include "../../userspace/agent/image_priv.h"
#include "test_image_util.h"

static char *tmp;

static void setup(void)
{
	tmp = timg_tmpdir();
}

static void teardown(void)
{
	berth_rm_rf(tmp);
	free(tmp);
	timg_paths_free();
}

TestSuite(image_layer, .init = setup, .fini = teardown);

/* tmp/rel, valid until the test ends */
static const char *p(const char *rel)
{
	return timg_path(tmp, rel);
}

static char *slurp(const char *path)
{
	char *s = NULL;

	cr_assert_eq(berth_read_file(path, &s, NULL), 0, "read %s", path);
	return timg_keep(s);
}

static const struct tentry lower[] = {
	{ "./bin", 'd' },
	{ "./bin/busybox", 'f', "BB", 0755 },
	{ "./bin/sh", 'h', "bin/busybox" },
	{ "./bin/ls", 's', "busybox" },
	{ "./etc", 'd' },
	{ "./etc/passwd", 'f', "root:x:0:0\n" },
	{ "./etc/gone", 'f', "lower\n" },
	{ "./opt", 'd' },
	{ "./opt/o", 'd' },
	{ "./opt/o/old", 'f', "old\n" },
	{ "./secret", 'f', "s\n", 0600 },
};

static const struct tentry upper[] = {
	{ "etc/.wh.gone", 'f' },
	{ "opt/o/.wh..wh..opq", 'f' },
	{ "opt/o/new", 'f', "new\n" },
	{ "etc/passwd", 'f', "root:x:0:0\nnobody:x:65534\n" },
};

Test(image_layer, unpack_files_links_perms)
{
	char err[256] = "";
	struct stat a, b;
	char link[64];
	ssize_t n;

	timg_write_tar(p("l.tar.gz"), lower, sizeof(lower) / sizeof(lower[0]), true);
	cr_assert_eq(berth_layer_unpack(p("l.tar.gz"), p("layer"), err, sizeof(err)), 0,
		     "unpack a gzip layer: %s", err);
	cr_assert_str_eq(slurp(p("layer/etc/passwd")), "root:x:0:0\n");
	cr_assert_eq(stat(p("layer/bin/busybox"), &a), 0);
	cr_assert_eq(stat(p("layer/bin/sh"), &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "bin/sh is a hard link to bin/busybox");
	cr_assert_eq(a.st_mode & 07777, 0755, "mode kept: %o", a.st_mode & 07777);
	cr_assert_eq(stat(p("layer/secret"), &a), 0);
	cr_assert_eq(a.st_mode & 07777, 0600, "mode kept: %o", a.st_mode & 07777);
	n = readlink(p("layer/bin/ls"), link, sizeof(link) - 1);
	cr_assert_eq(n, 7, "bin/ls is a symlink");
	link[n] = '\0';
	cr_assert_str_eq(link, "busybox");
	/* no leftovers of the unpack next to it */
	cr_assert_eq(access(p("l.tar.gz"), F_OK), 0);
}

Test(image_layer, whiteouts_become_overlay_ones)
{
	char err[256] = "", v[4];
	struct stat st;

	timg_write_tar(p("u.tar"), upper, sizeof(upper) / sizeof(upper[0]), false);
	cr_assert_eq(berth_layer_unpack(p("u.tar"), p("layer"), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(lstat(p("layer/etc/gone"), &st), 0, "whiteout made");
	cr_assert(S_ISCHR(st.st_mode) && st.st_rdev == makedev(0, 0), "a 0:0 char device");
	cr_assert_neq(access(p("layer/etc/.wh.gone"), F_OK), 0, "no .wh. file left");
	cr_assert_eq(lgetxattr(p("layer/opt/o"), "trusted.overlay.opaque", v, sizeof(v)), 1,
		     "opaque xattr set");
	cr_assert_eq(v[0], 'y');
	cr_assert_neq(access(p("layer/opt/o/.wh..wh..opq"), F_OK), 0);
	cr_assert_str_eq(slurp(p("layer/opt/o/new")), "new\n");
}

static void expect_refused(const struct tentry *e, size_t n, const char *what)
{
	char err[256] = "";
	int ret;

	timg_write_tar(p("bad.tar"), e, n, false);
	ret = berth_layer_unpack(p("bad.tar"), p("layer"), err, sizeof(err));
	cr_assert_neq(ret, 0, "%s is refused", what);
	cr_assert_neq(err[0], '\0', "%s: an error message", what);
	cr_assert_neq(access(p("layer"), F_OK), 0, "%s: nothing left behind", what);
	cr_assert_neq(access(p("evil"), F_OK), 0, "%s: nothing written outside", what);
}

Test(image_layer, dotdot_refused)
{
	const struct tentry e[] = { { "a", 'd' }, { "a/../../evil", 'f', "x" } };

	expect_refused(e, 2, "a ../ entry");
}

Test(image_layer, hardlink_outside_refused)
{
	const struct tentry e[] = { { "x", 'h', "../evil" } };

	expect_refused(e, 1, "a hard link to ../");
}

Test(image_layer, write_through_symlink_refused)
{
	char target[PATH_MAX];

	snprintf(target, sizeof(target), "%s", tmp);
	{
		const struct tentry e[] = { { "esc", 's', target }, { "esc/evil", 'f', "x" } };

		expect_refused(e, 2, "a file written through an absolute symlink");
	}
	{
		const struct tentry e[] = { { "esc", 's', ".." }, { "esc/evil", 'f', "x" } };

		expect_refused(e, 2, "a file written through a ../ symlink");
	}
	{
		const struct tentry e[] = { { "esc", 's', ".." }, { "esc/.wh.evil", 'f' } };

		expect_refused(e, 2, "a whiteout through a symlink");
	}
	{
		/* a hard link through a symlinked dir would link a host file */
		const struct tentry e[] = { { "esc", 's', target }, { "x", 'h', "esc/l.tar" } };

		timg_write(p("l.tar"), "host file");
		expect_refused(e, 2, "a hard link through a symlink");
	}
}

Test(image_layer, absolute_names_stay_inside)
{
	const struct tentry e[] = { { "/abs", 'f', "in\n" }, { "/ok", 's', "/etc/passwd" } };
	char err[256] = "";

	timg_write_tar(p("a.tar"), e, 2, false);
	cr_assert_eq(berth_layer_unpack(p("a.tar"), p("layer"), err, sizeof(err)), 0, "%s", err);
	cr_assert_str_eq(slurp(p("layer/abs")), "in\n");
	/* absolute symlink targets are the container's business: kept as they are */
	{
		char t[64];
		ssize_t n = readlink(p("layer/ok"), t, sizeof(t) - 1);

		cr_assert_eq(n, 11);
	}
}

Test(image_layer, not_a_tar)
{
	char err[256] = "";

	timg_write(p("junk"), "this is not a tar archive, not at all, no");
	cr_assert_neq(berth_layer_unpack(p("junk"), p("layer"), err, sizeof(err)), 0);
	cr_assert_neq(err[0], '\0');
}

Test(image_layer, apply_merges_like_overlay)
{
	char err[256] = "";
	struct stat a, b;

	timg_write_tar(p("l.tar"), lower, sizeof(lower) / sizeof(lower[0]), false);
	timg_write_tar(p("u.tar"), upper, sizeof(upper) / sizeof(upper[0]), false);
	cr_assert_eq(berth_layer_unpack(p("l.tar"), p("l"), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(berth_layer_unpack(p("u.tar"), p("u"), err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(mkdir(p("root"), 0755), 0);
	cr_assert_eq(berth_layer_apply(p("l"), p("root")), 0);
	cr_assert_eq(berth_layer_apply(p("u"), p("root")), 0);
	cr_assert_neq(access(p("root/etc/gone"), F_OK), 0, "whiteout removed etc/gone");
	cr_assert_neq(access(p("root/opt/o/old"), F_OK), 0, "opaque dir hid opt/o/old");
	cr_assert_str_eq(slurp(p("root/opt/o/new")), "new\n");
	cr_assert_str_eq(slurp(p("root/etc/passwd")), "root:x:0:0\nnobody:x:65534\n");
	cr_assert_eq(stat(p("root/bin/busybox"), &a), 0);
	cr_assert_eq(stat(p("root/bin/sh"), &b), 0);
	cr_assert_eq(a.st_ino, b.st_ino, "the layer's hard link stays one in the rootfs");
	cr_assert_eq(stat(p("l/bin/busybox"), &b), 0);
	cr_assert_neq(a.st_ino, b.st_ino, "the rootfs has a copy, not the store's inode");
	cr_assert_eq(a.st_mode & 07777, 0755);
}

Test(image_layer, rm_rf_does_not_follow_symlinks)
{
	cr_assert_eq(mkdir(p("keep"), 0755), 0);
	timg_write(p("keep/f"), "x");
	cr_assert_eq(mkdir(p("d"), 0755), 0);
	cr_assert_eq(symlink(p("keep"), p("d/link")), 0);
	cr_assert_eq(berth_rm_rf(p("d")), 0);
	cr_assert_neq(access(p("d"), F_OK), 0);
	cr_assert_eq(access(p("keep/f"), F_OK), 0, "the symlink's target survives");
	cr_assert_eq(berth_rm_rf(p("nonexistent")), 0);
}
