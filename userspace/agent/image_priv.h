/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Internals shared by the image store's modules (image*.c, layer.c, registry.c). */
#ifndef BERTH_AGENT_IMAGE_PRIV_H
#define BERTH_AGENT_IMAGE_PRIV_H

#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <berth/fsutil.h>

#include "image.h"

struct berth_images {
	char root[PATH_MAX - 256]; /* room for the store's own suffixes */
	pthread_mutex_t lock; /* the index file and its in-memory copy */
	struct json_object *index; /* {"refs":{ref:id}, "images":{id:{...}}} */
	unsigned int busy; /* pulls and loads under way (their blobs are not indexed yet) */
	/* an overlay over the layers mounted here once: later ones can be
	 * left to the container's shim (berth_image_rootfs_deferred) */
	bool overlay_ok;
};

/* sha256 (FIPS 180-4), streaming */
struct berth_sha256 {
	uint32_t h[8];
	uint64_t len;
	uint8_t buf[64];
	size_t nbuf;
};
void berth_sha256_init(struct berth_sha256 *s);
void berth_sha256_update(struct berth_sha256 *s, const void *data, size_t len);
/* "sha256:<hex>" into out (BERTH_IMAGE_ID_LEN) */
void berth_sha256_final_digest(struct berth_sha256 *s, char *out);
void berth_sha256_digest(const void *data, size_t len, char *out);
/* digest of a file's content; -errno */
int berth_sha256_file(const char *path, char *out);
/* "sha256:<64 lowercase hex>"? */
bool berth_digest_valid(const char *digest);

/* the store's paths */
void berth_images_blob_path(const struct berth_images *imgs, const char *digest, char *out);
void berth_images_layer_path(const struct berth_images *imgs, const char *diff_id, char *out);
/* Moves tmp (whose content has digest) into blobs/; idempotent. */
int berth_images_blob_commit(struct berth_images *imgs, const char *tmp, const char *digest);
/* Writes data as a blob, after checking it has the digest (if given). */
int berth_images_blob_put(struct berth_images *imgs, const void *data, size_t len,
			  const char *want_digest, char *digest_out);
int berth_images_tmpfile(struct berth_images *imgs, char *path_out);

/* A pull or load starts (+1) or ends (-1): gc leaves blobs alone meanwhile. */
void berth_images_busy(struct berth_images *imgs, int delta);

/* Records an image whose config and layer blobs are in blobs/: unpacks the
 * layers (skipping those already unpacked) and tags it with ref (may be NULL). */
int berth_images_add(struct berth_images *imgs, const char *config_digest,
		     const char *manifest_digest, const char *const *layer_digests,
		     const uint64_t *layer_sizes, size_t n_layers, const char *const *refs,
		     char *err, size_t errlen);

/* Unpacks a layer tar (any compression libarchive reads) into dir (which must
 * not exist), whiteouts turned into overlayfs ones: .wh.NAME -> char device
 * 0:0 NAME, .wh..wh..opq -> xattr trusted.overlay.opaque=y on the dir.
 * Refuses entries escaping dir. err gets a message. */
int berth_layer_unpack(const char *tar_path, const char *dir, char *err, size_t errlen);
/* Applies an unpacked layer on top of dst (the copy fallback for rootfs):
 * whiteouts remove, opaque dirs are emptied first, files are copied. */
int berth_layer_apply(const char *layer_dir, const char *dst);
/* rm -rf that never follows symlinks; ENOENT is success. */
int berth_rm_rf(const char *path);

/* Pulls into the store (registry.c). */
int berth_registry_pull(struct berth_images *imgs, const struct berth_image_ref *ref,
			const char *ref_str, const struct berth_pull_opts *opts, char *id_out,
			char *err, size_t errlen);

/* Manifest parsing shared by registry pulls and OCI layouts. */
enum berth_manifest_kind {
	BERTH_MANIFEST_UNKNOWN,
	BERTH_MANIFEST_IMAGE, /* OCI manifest or Docker v2 schema 2 */
	BERTH_MANIFEST_INDEX, /* OCI index or Docker manifest list */
};
struct berth_manifest {
	enum berth_manifest_kind kind;
	char config[BERTH_IMAGE_ID_LEN];
	size_t n; /* layers, or index entries */
	struct berth_descriptor {
		char digest[BERTH_IMAGE_ID_LEN];
		char media_type[128];
		uint64_t size;
		char os[32];
		char arch[32];
		char variant[32];
		char ref_name[256]; /* org.opencontainers.image.ref.name */
	} *d;
};
/* Parses a manifest or index (media type from the body, or content_type if
 * the body has none). -EINVAL with err set on bad or unsupported input. */
int berth_manifest_parse(const char *body, size_t len, const char *content_type,
			 struct berth_manifest *m, char *err, size_t errlen);
void berth_manifest_free(struct berth_manifest *m);
/* Index entry for os/arch (NULL: linux/amd64); -ENOENT if none. */
int berth_manifest_pick(const struct berth_manifest *m, const char *os, const char *arch);

/* Parses an image config blob (image_manifest.c). */
int berth_image_config_parse(const char *body, size_t len, struct berth_image_config **out);

/* snprintf into an error buffer (NULL or 0 length: nothing) */
void berth_image_seterr(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Reads a whole file (NUL-terminated); -errno. */

#endif
