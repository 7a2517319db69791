/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Helpers for the image store's tests: tars, OCI layouts and docker-save dirs made on the spot. */
#ifndef BERTH_TEST_IMAGE_UTIL_H
#define BERTH_TEST_IMAGE_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct tentry {
	const char *name;
	char type; /* 'f' file, 'd' dir, 's' symlink, 'h' hardlink */
	const char *data; /* file content, or link target */
	mode_t mode; /* 0: 0644 files, 0755 dirs */
};

/* Writes a tar (uncompressed, or gzip if gz) of the entries to path. */
void timg_write_tar(const char *path, const struct tentry *e, size_t n, bool gz);
/* mkdtemp under /tmp; the caller removes it with berth_rm_rf. */
char *timg_tmpdir(void);
/* Stores file content in layout/blobs/sha256, digest into out; returns its size. */
size_t timg_blob(const char *layout, const void *data, size_t len, char *digest_out);
size_t timg_blob_file(const char *layout, const char *path, char *digest_out);
/* An OCI layout at dir of one image with the given layer tars (uncompressed;
 * diff id = digest), Cmd ["sh"], tagged ref_name; id_out gets the config digest. */
void timg_oci_layout(const char *dir, const char *const *tars, size_t n, const char *ref_name,
		     char *id_out);
void timg_write(const char *path, const char *s);
/* dir/rel in memory kept until timg_paths_free() */
const char *timg_path(const char *dir, const char *rel);
void timg_paths_free(void);
/* frees ptr with the paths */
void *timg_keep(void *ptr);

#endif
