// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Loading images from an OCI image layout (a directory or a tar of one) or a `docker save` tarball. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <json-c/json.h>

#include <berth/log.h>

#include "image_priv.h"

#define MAX_REFS 16

/* Copies src into the store as a blob, checking its digest if want is given. */
static int import_file(struct berth_images *imgs, const char *src, const char *want,
		       char *digest_out, uint64_t *size, char *err, size_t errlen)
{
	char tmp[PATH_MAX], digest[BERTH_IMAGE_ID_LEN], buf[65536];
	struct berth_sha256 s;
	uint64_t total = 0;
	int in, out, ret = 0;
	ssize_t n;

	in = open(src, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (in < 0) {
		ret = -errno;
		berth_image_seterr(err, errlen, "open %s: %s", src, strerror(errno));
		return ret;
	}
	out = berth_images_tmpfile(imgs, tmp);
	if (out < 0) {
		close(in);
		berth_image_seterr(err, errlen, "create a temporary file: %s", strerror(-out));
		return out;
	}
	berth_sha256_init(&s);
	while ((n = read(in, buf, sizeof(buf))) > 0) {
		berth_sha256_update(&s, buf, n);
		total += n;
		if (write(out, buf, n) != n) {
			n = -1;
			break;
		}
	}
	if (n < 0)
		ret = -errno;
	close(in);
	if (close(out) && !ret)
		ret = -errno;
	if (ret) {
		berth_image_seterr(err, errlen, "copy %s: %s", src, strerror(-ret));
		unlink(tmp);
		return ret;
	}
	berth_sha256_final_digest(&s, digest);
	if (want && strcmp(want, digest)) {
		berth_image_seterr(err, errlen, "blob %s has digest %s, expected %s: refusing it", src,
			 digest, want);
		unlink(tmp);
		return -EBADMSG;
	}
	ret = berth_images_blob_commit(imgs, tmp, digest);
	if (ret) {
		berth_image_seterr(err, errlen, "store blob %s: %s", digest, strerror(-ret));
		return ret;
	}
	if (digest_out)
		strcpy(digest_out, digest);
	if (size)
		*size = total;
	return 0;
}

static int layout_blob(const char *dir, const char *digest, char *out)
{
	if (!berth_digest_valid(digest))
		return -EINVAL;
	snprintf(out, PATH_MAX, "%s/blobs/sha256/%s", dir, digest + 7);
	return 0;
}

static int read_manifest(const char *dir, const char *digest, struct berth_manifest *m,
			 char *err, size_t errlen)
{
	char path[PATH_MAX], got[BERTH_IMAGE_ID_LEN], why[256], *body;
	size_t len;
	int ret;

	layout_blob(dir, digest, path);
	ret = berth_read_file(path, &body, &len);
	if (ret) {
		berth_image_seterr(err, errlen, "read manifest %s: %s", digest, strerror(-ret));
		return ret;
	}
	berth_sha256_digest(body, len, got);
	if (strcmp(got, digest)) {
		berth_image_seterr(err, errlen, "manifest %s has digest %s: refusing it", digest, got);
		free(body);
		return -EBADMSG;
	}
	ret = berth_manifest_parse(body, len, NULL, m, why, sizeof(why));
	free(body);
	if (ret)
		berth_image_seterr(err, errlen, "manifest %s: %s", digest, why);
	return ret;
}

static void add_ref(const char **refs, size_t *n, char store[][512], const char *ref)
{
	struct berth_image_ref r;

	if (!ref || *n >= MAX_REFS - 1 || berth_image_ref_parse(ref, &r) ||
	    berth_image_ref_format(&r, store[*n], 512))
		return;
	refs[*n] = store[*n];
	(*n)++;
	refs[*n] = NULL;
}

/* Stores the image of one manifest (in the layout at dir). */
static int load_manifest(struct berth_images *imgs, const char *dir, const char *digest,
			 const char *const *refs, char *id_out, char *err, size_t errlen)
{
	struct berth_manifest m;
	char path[PATH_MAX], man_digest[BERTH_IMAGE_ID_LEN];
	const char **layers = NULL;
	char (*ldig)[BERTH_IMAGE_ID_LEN] = NULL;
	uint64_t *sizes = NULL;
	size_t i;
	int ret;

	ret = read_manifest(dir, digest, &m, err, errlen);
	if (ret)
		return ret;
	if (m.kind != BERTH_MANIFEST_IMAGE) {
		berth_image_seterr(err, errlen, "%s is not an image manifest", digest);
		ret = -EINVAL;
		goto out;
	}
	layout_blob(dir, digest, path);
	ret = import_file(imgs, path, digest, man_digest, NULL, err, errlen);
	if (ret)
		goto out;
	layout_blob(dir, m.config, path);
	ret = import_file(imgs, path, m.config, NULL, NULL, err, errlen);
	if (ret)
		goto out;
	layers = calloc(m.n + 1, sizeof(*layers));
	ldig = calloc(m.n + 1, sizeof(*ldig));
	sizes = calloc(m.n + 1, sizeof(*sizes));
	if (!layers || !ldig || !sizes) {
		ret = -ENOMEM;
		goto out;
	}
	for (i = 0; i < m.n; i++) {
		layout_blob(dir, m.d[i].digest, path);
		ret = import_file(imgs, path, m.d[i].digest, ldig[i], &sizes[i], err, errlen);
		if (ret)
			goto out;
		layers[i] = ldig[i];
	}
	ret = berth_images_add(imgs, m.config, man_digest, layers, sizes, m.n, refs, err, errlen);
	if (!ret && id_out)
		strcpy(id_out, m.config);
out:
	free(layers);
	free(ldig);
	free(sizes);
	berth_manifest_free(&m);
	return ret;
}

static int load_oci_layout(struct berth_images *imgs, const char *dir, const char *ref,
			   char *id_out, char *err, size_t errlen)
{
	char path[PATH_MAX], why[256], *body, store[MAX_REFS][512];
	struct berth_manifest idx, sub;
	const char *refs[MAX_REFS];
	size_t len, i, nloaded = 0;
	int ret, pick;

	snprintf(path, sizeof(path), "%s/index.json", dir);
	ret = berth_read_file(path, &body, &len);
	if (ret) {
		berth_image_seterr(err, errlen, "read %s: %s", path, strerror(-ret));
		return ret;
	}
	ret = berth_manifest_parse(body, len, "application/vnd.oci.image.index.v1+json", &idx,
				   why, sizeof(why));
	free(body);
	if (ret || idx.kind != BERTH_MANIFEST_INDEX) {
		berth_image_seterr(err, errlen, "%s: %s", path, ret ? why : "not an image index");
		return ret ?: -EINVAL;
	}
	for (i = 0; i < idx.n && !ret; i++) {
		struct berth_descriptor *d = &idx.d[i];
		const char *digest = d->digest;
		size_t nrefs = 0;

		refs[0] = NULL;
		if (ref && nloaded == 0)
			add_ref(refs, &nrefs, store, ref);
		/* a full reference; a bare tag ("latest") names no repository */
		if (strchr(d->ref_name, ':') || strchr(d->ref_name, '/'))
			add_ref(refs, &nrefs, store, d->ref_name);
		if (strstr(d->media_type, "index") || strstr(d->media_type, "manifest.list")) {
			ret = read_manifest(dir, d->digest, &sub, err, errlen);
			if (ret)
				break;
			pick = berth_manifest_pick(&sub, NULL, NULL);
			if (pick < 0) {
				berth_image_seterr(err, errlen, "index %s has no linux/amd64 image", d->digest);
				berth_manifest_free(&sub);
				ret = -ENOENT;
				break;
			}
			digest = sub.d[pick].digest;
			ret = load_manifest(imgs, dir, digest, refs, nloaded ? NULL : id_out, err,
					    errlen);
			berth_manifest_free(&sub);
		} else {
			ret = load_manifest(imgs, dir, digest, refs, nloaded ? NULL : id_out, err,
					    errlen);
		}
		nloaded++;
	}
	if (!ret && !nloaded) {
		berth_image_seterr(err, errlen, "%s lists no images", path);
		ret = -ENOENT;
	}
	berth_manifest_free(&idx);
	return ret;
}

static const char *jstr_idx(struct json_object *arr, size_t i)
{
	struct json_object *v = json_object_array_get_idx(arr, i);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

/* A file name from manifest.json, kept inside dir. */
static int inside(const char *dir, const char *name, char *out)
{
	if (!name || !*name || name[0] == '/' || strstr(name, "..") ||
	    snprintf(out, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX)
		return -EINVAL;
	return 0;
}

static int load_docker_save(struct berth_images *imgs, const char *dir, const char *ref,
			    char *id_out, char *err, size_t errlen)
{
	struct json_object *top, *img, *tags, *layers;
	char path[PATH_MAX], cfg[BERTH_IMAGE_ID_LEN], store[MAX_REFS][512];
	const char *refs[MAX_REFS];
	size_t i, j;
	int ret = 0;

	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	top = json_object_from_file(path);
	if (!top || !json_object_is_type(top, json_type_array) ||
	    !json_object_array_length(top)) {
		berth_image_seterr(err, errlen, "manifest.json is not a non-empty JSON array");
		json_object_put(top);
		return -EINVAL;
	}
	for (i = 0; i < json_object_array_length(top) && !ret; i++) {
		const char **ldig = NULL;
		char (*lstore)[BERTH_IMAGE_ID_LEN] = NULL;
		uint64_t *sizes = NULL;
		struct json_object *c;
		size_t nrefs = 0, nl;

		img = json_object_array_get_idx(top, i);
		refs[0] = NULL;
		if (ref && i == 0)
			add_ref(refs, &nrefs, store, ref);
		if (json_object_object_get_ex(img, "RepoTags", &tags) &&
		    json_object_is_type(tags, json_type_array))
			for (j = 0; j < json_object_array_length(tags); j++)
				add_ref(refs, &nrefs, store, jstr_idx(tags, j));
		if (!json_object_object_get_ex(img, "Config", &c) ||
		    inside(dir, json_object_get_string(c), path) ||
		    !json_object_object_get_ex(img, "Layers", &layers) ||
		    !json_object_is_type(layers, json_type_array)) {
			berth_image_seterr(err, errlen, "manifest.json entry %zu lacks Config or Layers", i);
			ret = -EINVAL;
			break;
		}
		ret = import_file(imgs, path, NULL, cfg, NULL, err, errlen);
		if (ret)
			break;
		nl = json_object_array_length(layers);
		ldig = calloc(nl + 1, sizeof(*ldig));
		lstore = calloc(nl + 1, sizeof(*lstore));
		sizes = calloc(nl + 1, sizeof(*sizes));
		if (!ldig || !lstore || !sizes)
			ret = -ENOMEM;
		for (j = 0; !ret && j < nl; j++) {
			if (inside(dir, jstr_idx(layers, j), path)) {
				berth_image_seterr(err, errlen, "manifest.json: bad layer path");
				ret = -EINVAL;
				break;
			}
			ret = import_file(imgs, path, NULL, lstore[j], &sizes[j], err, errlen);
			ldig[j] = lstore[j];
		}
		if (!ret)
			ret = berth_images_add(imgs, cfg, NULL, ldig, sizes, nl, refs, err, errlen);
		if (!ret && i == 0 && id_out)
			strcpy(id_out, cfg);
		free(ldig);
		free(lstore);
		free(sizes);
	}
	json_object_put(top);
	return ret;
}

static int load_dir(struct berth_images *imgs, const char *dir, const char *ref, char *id_out,
		    char *err, size_t errlen)
{
	char path[PATH_MAX];

	/* newer `docker save` writes both; manifest.json carries the tags */
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	if (!access(path, F_OK))
		return load_docker_save(imgs, dir, ref, id_out, err, errlen);
	snprintf(path, sizeof(path), "%s/index.json", dir);
	if (!access(path, F_OK))
		return load_oci_layout(imgs, dir, ref, id_out, err, errlen);
	berth_image_seterr(err, errlen, "neither an OCI image layout (index.json) nor a docker save archive (manifest.json)");
	return -EINVAL;
}

int berth_image_load(struct berth_images *imgs, const char *path, const char *ref,
		     char *id_out, char *err, size_t errlen)
{
	char tmp[PATH_MAX], why[1024] = "";
	struct stat st;
	int ret;

	if (stat(path, &st)) {
		ret = -errno;
		berth_image_seterr(err, errlen, "failed to load image from %s: %s", path, strerror(errno));
		return ret;
	}
	berth_images_busy(imgs, 1);
	if (S_ISDIR(st.st_mode)) {
		ret = load_dir(imgs, path, ref, id_out, why, sizeof(why));
	} else {
		static unsigned int seq;

		snprintf(tmp, sizeof(tmp), "%s/tmp/load-%d-%u", imgs->root, getpid(),
			 __atomic_fetch_add(&seq, 1, __ATOMIC_RELAXED));
		ret = berth_layer_unpack(path, tmp, why, sizeof(why));
		if (!ret)
			ret = load_dir(imgs, tmp, ref, id_out, why, sizeof(why));
		berth_rm_rf(tmp);
	}
	berth_images_busy(imgs, -1);
	if (ret)
		berth_image_seterr(err, errlen, "failed to load image from %s: %s", path,
			 why[0] ? why : strerror(-ret));
	else
		pr_info("image: loaded %s from %s", id_out ? id_out : "image", path);
	return ret;
}
