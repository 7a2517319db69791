// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The image store: content-addressed blobs, unpacked layers, the refs index
 * and containers' root filesystems (overlayfs, or a copy where overlay fails).
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <berth/log.h>

#include "image_priv.h"

#define INDEX_FILE "index.json"


void berth_images_blob_path(const struct berth_images *imgs, const char *digest, char *out)
{
	snprintf(out, PATH_MAX, "%s/blobs/sha256/%s", imgs->root, digest + 7);
}

void berth_images_layer_path(const struct berth_images *imgs, const char *diff_id, char *out)
{
	snprintf(out, PATH_MAX, "%s/layers/%s", imgs->root, diff_id + 7);
}

int berth_images_tmpfile(struct berth_images *imgs, char *path_out)
{
	int fd;

	snprintf(path_out, PATH_MAX, "%s/tmp/blob-XXXXXX", imgs->root);
	fd = mkstemp(path_out);
	if (fd < 0)
		return -errno;
	return fd;
}

int berth_images_blob_commit(struct berth_images *imgs, const char *tmp, const char *digest)
{
	char path[PATH_MAX];

	berth_images_blob_path(imgs, digest, path);
	chmod(tmp, 0644);
	if (rename(tmp, path)) {
		int ret = -errno;

		unlink(tmp);
		return ret;
	}
	return 0;
}

int berth_images_blob_put(struct berth_images *imgs, const void *data, size_t len,
			  const char *want_digest, char *digest_out)
{
	char digest[BERTH_IMAGE_ID_LEN], tmp[PATH_MAX];
	int fd, ret = 0;

	berth_sha256_digest(data, len, digest);
	if (want_digest && strcmp(want_digest, digest))
		return -EBADMSG;
	if (digest_out)
		strcpy(digest_out, digest);
	fd = berth_images_tmpfile(imgs, tmp);
	if (fd < 0)
		return fd;
	if (write(fd, data, len) != (ssize_t)len)
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	if (ret) {
		unlink(tmp);
		return ret;
	}
	return berth_images_blob_commit(imgs, tmp, digest);
}

void berth_images_busy(struct berth_images *imgs, int delta)
{
	pthread_mutex_lock(&imgs->lock);
	imgs->busy += delta;
	pthread_mutex_unlock(&imgs->lock);
}

/* --- the index --- */

static struct json_object *obj_get(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v)) {
		v = json_object_new_object();
		json_object_object_add(o, key, v);
	}
	return v;
}

static int index_save(struct berth_images *imgs)
{
	char path[PATH_MAX], tmp[PATH_MAX];
	const char *s;
	int fd, ret = 0;
	size_t len;

	snprintf(path, sizeof(path), "%s/" INDEX_FILE, imgs->root);
	snprintf(tmp, sizeof(tmp), "%s/" INDEX_FILE ".tmp", imgs->root);
	s = json_object_to_json_string_ext(imgs->index, JSON_C_TO_STRING_PRETTY |
								JSON_C_TO_STRING_NOSLASHESCAPE);
	len = strlen(s);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	if (write(fd, s, len) != (ssize_t)len || fsync(fd))
		ret = -EIO;
	if (close(fd) && !ret)
		ret = -errno;
	if (!ret && rename(tmp, path))
		ret = -errno;
	if (ret) {
		unlink(tmp);
		pr_err("image: save %s: %s", path, strerror(-ret));
	}
	return ret;
}

struct berth_images *berth_images_open(const char *root)
{
	static const char *const dirs[] = { "blobs/sha256", "layers", "tmp" };
	struct berth_images *imgs;
	char path[PATH_MAX];
	size_t i;
	int ret;

	imgs = calloc(1, sizeof(*imgs));
	if (!imgs) {
		errno = ENOMEM;
		return NULL;
	}
	if (snprintf(imgs->root, sizeof(imgs->root), "%s", root) >= (int)sizeof(imgs->root)) {
		ret = -ENAMETOOLONG;
		goto fail;
	}
	for (i = 0; i < sizeof(dirs) / sizeof(dirs[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", root, dirs[i]);
		ret = berth_mkdir_p(path, 0700);
		if (ret) {
			pr_err("image: create %s: %s", path, strerror(-ret));
			goto fail;
		}
	}
	/* left-overs of pulls that died */
	snprintf(path, sizeof(path), "%s/tmp", root);
	berth_rm_rf(path);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/" INDEX_FILE, root);
	imgs->index = json_object_from_file(path);
	if (!imgs->index) {
		if (access(path, F_OK) == 0) {
			pr_err("image: %s is not valid JSON", path);
			ret = -EINVAL;
			goto fail;
		}
		imgs->index = json_object_new_object();
	}
	obj_get(imgs->index, "refs");
	obj_get(imgs->index, "images");
	pthread_mutex_init(&imgs->lock, NULL);
	return imgs;
fail:
	json_object_put(imgs->index);
	free(imgs);
	errno = -ret;
	return NULL;
}

void berth_images_close(struct berth_images *imgs)
{
	if (!imgs)
		return;
	json_object_put(imgs->index);
	pthread_mutex_destroy(&imgs->lock);
	free(imgs);
}

static int read_config(struct berth_images *imgs, const char *id, struct berth_image_config **out)
{
	char path[PATH_MAX], *body;
	size_t len;
	int ret;

	if (!berth_digest_valid(id))
		return -EINVAL;
	berth_images_blob_path(imgs, id, path);
	ret = berth_read_file(path, &body, &len);
	if (ret)
		return ret;
	ret = berth_image_config_parse(body, len, out);
	free(body);
	return ret;
}

int berth_images_add(struct berth_images *imgs, const char *config_digest,
		     const char *manifest_digest, const char *const *layer_digests,
		     const uint64_t *layer_sizes, size_t n_layers, const char *const *refs,
		     char *err, size_t errlen)
{
	struct berth_image_config *cfg = NULL;
	struct json_object *img, *layers, *diffs;
	char blob[PATH_MAX], dir[PATH_MAX];
	uint64_t total = 0;
	size_t i, n_diff = 0;
	int ret;

	ret = read_config(imgs, config_digest, &cfg);
	if (ret) {
		berth_image_seterr(err, errlen, "read image config %s: %s", config_digest,
			 ret == -EINVAL ? "not a valid image config" : strerror(-ret));
		return ret;
	}
	while (cfg->diff_ids && cfg->diff_ids[n_diff])
		n_diff++;
	if (n_diff != n_layers) {
		berth_image_seterr(err, errlen, "image config has %zu diff ids for %zu layers", n_diff,
			 n_layers);
		ret = -EINVAL;
		goto out;
	}
	for (i = 0; i < n_layers; i++) {
		struct stat st;

		if (!berth_digest_valid(cfg->diff_ids[i])) {
			berth_image_seterr(err, errlen, "image config has a bad diff id \"%s\"",
				 cfg->diff_ids[i]);
			ret = -EINVAL;
			goto out;
		}
		berth_images_layer_path(imgs, cfg->diff_ids[i], dir);
		if (!stat(dir, &st))
			continue;
		berth_images_blob_path(imgs, layer_digests[i], blob);
		ret = berth_layer_unpack(blob, dir, err, errlen);
		if (ret)
			goto out;
		pr_debug("image: unpacked layer %s", cfg->diff_ids[i]);
	}
	img = json_object_new_object();
	layers = json_object_new_array();
	diffs = json_object_new_array();
	for (i = 0; i < n_layers; i++) {
		json_object_array_add(layers, json_object_new_string(layer_digests[i]));
		json_object_array_add(diffs, json_object_new_string(cfg->diff_ids[i]));
		total += layer_sizes ? layer_sizes[i] : 0;
	}
	json_object_object_add(img, "layers", layers);
	json_object_object_add(img, "diff_ids", diffs);
	if (manifest_digest)
		json_object_object_add(img, "manifest", json_object_new_string(manifest_digest));
	json_object_object_add(img, "size", json_object_new_int64(total));
	pthread_mutex_lock(&imgs->lock);
	json_object_object_add(obj_get(imgs->index, "images"), config_digest, img);
	for (i = 0; refs && refs[i]; i++)
		json_object_object_add(obj_get(imgs->index, "refs"), refs[i],
				       json_object_new_string(config_digest));
	ret = index_save(imgs);
	pthread_mutex_unlock(&imgs->lock);
	if (ret)
		berth_image_seterr(err, errlen, "save image index: %s", strerror(-ret));
out:
	berth_image_config_free(cfg);
	return ret;
}

/* Normalized form of a ref (or an id, kept as it is). */
static int normalize(const char *ref, char *out, size_t len)
{
	struct berth_image_ref r;

	if (berth_digest_valid(ref)) {
		snprintf(out, len, "%s", ref);
		return 0;
	}
	if (berth_image_ref_parse(ref, &r))
		return -EINVAL;
	return berth_image_ref_format(&r, out, len);
}

/* Under the lock: the image record of ref, its id into id_out. */
static struct json_object *lookup(struct berth_images *imgs, const char *ref, char *id_out)
{
	struct json_object *v, *img;
	char norm[1024];
	const char *id = norm;

	if (normalize(ref, norm, sizeof(norm)))
		return NULL;
	if (!berth_digest_valid(norm)) {
		if (!json_object_object_get_ex(obj_get(imgs->index, "refs"), norm, &v))
			return NULL;
		id = json_object_get_string(v);
	}
	if (!json_object_object_get_ex(obj_get(imgs->index, "images"), id, &img))
		return NULL;
	if (id_out)
		snprintf(id_out, BERTH_IMAGE_ID_LEN, "%.71s", id);
	return img;
}

static bool layers_present(struct berth_images *imgs, struct json_object *img)
{
	struct json_object *diffs;
	char dir[PATH_MAX];
	size_t i;

	if (!json_object_object_get_ex(img, "diff_ids", &diffs))
		return false;
	for (i = 0; i < json_object_array_length(diffs); i++) {
		const char *d = json_object_get_string(json_object_array_get_idx(diffs, i));

		if (!berth_digest_valid(d))
			return false;
		berth_images_layer_path(imgs, d, dir);
		if (access(dir, F_OK))
			return false;
	}
	return true;
}

int berth_image_resolve(struct berth_images *imgs, const char *ref, char *id_out)
{
	struct json_object *img;
	int ret = -ENOENT;

	pthread_mutex_lock(&imgs->lock);
	img = lookup(imgs, ref, id_out);
	if (img && layers_present(imgs, img))
		ret = 0;
	pthread_mutex_unlock(&imgs->lock);
	return ret;
}

bool berth_image_present(struct berth_images *imgs, const char *ref)
{
	return berth_image_resolve(imgs, ref, NULL) == 0;
}

int berth_image_config_get(struct berth_images *imgs, const char *id_or_ref,
			   struct berth_image_config **out)
{
	char id[BERTH_IMAGE_ID_LEN];
	int ret;

	pthread_mutex_lock(&imgs->lock);
	ret = lookup(imgs, id_or_ref, id) ? 0 : -ENOENT;
	pthread_mutex_unlock(&imgs->lock);
	if (ret)
		return ret;
	return read_config(imgs, id, out);
}

struct pull_log {
	const char *ref;
	struct timespec last;
};

/* A pull without a progress callback of its own logs at most once a second. */
static void log_progress(void *arg, const char *what, uint64_t done,
			 uint64_t total)
{
	struct pull_log *pl = arg;
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (done != total &&
	    (now.tv_sec - pl->last.tv_sec) * 1000000000L + now.tv_nsec -
			    pl->last.tv_nsec < 1000000000L)
		return;
	pl->last = now;
	if (total)
		pr_info("image: pulling %s: %.19s %llu/%llu bytes (%llu%%)",
			pl->ref, what, (unsigned long long)done,
			(unsigned long long)total,
			(unsigned long long)(done * 100 / total));
	else
		pr_info("image: pulling %s: %.19s %llu bytes", pl->ref, what,
			(unsigned long long)done);
}

int berth_image_pull(struct berth_images *imgs, const char *ref,
		     const struct berth_pull_opts *opts, char *id_out, char *err,
		     size_t errlen)
{
	struct berth_pull_opts logged = { 0 };
	struct pull_log pl = { .ref = ref };
	struct berth_image_ref r;
	char why[1024] = "";
	int ret;

	if (berth_image_ref_parse(ref, &r)) {
		berth_image_seterr(err, errlen, "failed to pull image \"%s\": invalid reference format",
			 ref);
		return -EINVAL;
	}
	berth_images_busy(imgs, 1);
	if (opts)
		logged = *opts;
	if (!logged.progress) {
		logged.progress = log_progress;
		logged.progress_arg = &pl;
	}
	ret = berth_registry_pull(imgs, &r, ref, &logged, id_out, why,
				  sizeof(why));
	berth_images_busy(imgs, -1);
	if (ret)
		berth_image_seterr(err, errlen, "failed to pull image \"%s\": %s", ref,
			 why[0] ? why : strerror(-ret));
	return ret;
}

int berth_image_ensure(struct berth_images *imgs, const char *ref,
		       enum berth_pull_policy policy, const struct berth_pull_opts *opts,
		       char *id_out, char *err, size_t errlen)
{
	bool present = berth_image_resolve(imgs, ref, id_out) == 0;

	if (policy == BERTH_PULL_NEVER && !present) {
		berth_image_seterr(err, errlen,
			 "container image \"%s\" is not present with pull policy of Never", ref);
		return -ENOENT;
	}
	if (policy != BERTH_PULL_ALWAYS && present)
		return 0;
	return berth_image_pull(imgs, ref, opts, id_out, err, errlen);
}

int berth_images_list(struct berth_images *imgs, struct berth_image_info **out, size_t *n)
{
	struct json_object *images, *refs, *v;
	struct berth_image_info *list;
	size_t i = 0, cnt;

	pthread_mutex_lock(&imgs->lock);
	images = obj_get(imgs->index, "images");
	refs = obj_get(imgs->index, "refs");
	cnt = json_object_object_length(images);
	list = calloc(cnt ? cnt : 1, sizeof(*list));
	if (!list) {
		pthread_mutex_unlock(&imgs->lock);
		return -ENOMEM;
	}
	json_object_object_foreach(images, id, img)
	{
		size_t nr = 0;

		snprintf(list[i].id, sizeof(list[i].id), "%s", id);
		if (json_object_object_get_ex(img, "size", &v))
			list[i].size = json_object_get_int64(v);
		list[i].refs = calloc(json_object_object_length(refs) + 1, sizeof(char *));
		json_object_object_foreach(refs, r, rid)
		{
			if (list[i].refs && !strcmp(json_object_get_string(rid), id))
				list[i].refs[nr++] = strdup(r);
		}
		i++;
	}
	pthread_mutex_unlock(&imgs->lock);
	*out = list;
	*n = cnt;
	return 0;
}

void berth_image_list_free(struct berth_image_info *list, size_t n)
{
	size_t i;
	char **p;

	for (i = 0; list && i < n; i++) {
		for (p = list[i].refs; p && *p; p++)
			free(*p);
		free(list[i].refs);
	}
	free(list);
}

int berth_image_untag(struct berth_images *imgs, const char *ref)
{
	char norm[1024];
	int ret;

	if (normalize(ref, norm, sizeof(norm)))
		return -EINVAL;
	pthread_mutex_lock(&imgs->lock);
	if (!json_object_object_get_ex(obj_get(imgs->index, "refs"), norm, NULL)) {
		ret = -ENOENT;
	} else {
		json_object_object_del(obj_get(imgs->index, "refs"), norm);
		ret = index_save(imgs);
	}
	pthread_mutex_unlock(&imgs->lock);
	return ret;
}

/* --- garbage collection --- */

static bool in_list(struct json_object *set, const char *key)
{
	return json_object_object_get_ex(set, key, NULL);
}

static void add_str(struct json_object *set, struct json_object *img, const char *key)
{
	struct json_object *arr, *v;
	size_t i;

	if (json_object_object_get_ex(img, key, &arr)) {
		if (json_object_is_type(arr, json_type_string)) {
			json_object_object_add(set, json_object_get_string(arr), NULL);
			return;
		}
		for (i = 0; i < json_object_array_length(arr); i++) {
			v = json_object_array_get_idx(arr, i);
			json_object_object_add(set, json_object_get_string(v), NULL);
		}
	}
}

static void sweep(struct berth_images *imgs, const char *sub, struct json_object *keep,
		  size_t *removed)
{
	char dir[PATH_MAX], key[BERTH_IMAGE_ID_LEN + 8], path[PATH_MAX + 80];
	struct dirent *d;
	DIR *dh;

	snprintf(dir, sizeof(dir), "%s/%s", imgs->root, sub);
	dh = opendir(dir);
	if (!dh)
		return;
	while ((d = readdir(dh))) {
		if (strlen(d->d_name) != 64)
			continue;
		snprintf(key, sizeof(key), "sha256:%.64s", d->d_name);
		if (in_list(keep, key))
			continue;
		if (snprintf(path, sizeof(path), "%s/%s", dir, d->d_name) >= (int)sizeof(path))
			continue;
		if (!berth_rm_rf(path))
			(*removed)++;
	}
	closedir(dh);
}

int berth_images_gc(struct berth_images *imgs, const char *const *in_use, size_t n_in_use)
{
	struct json_object *keep_img = json_object_new_object();
	struct json_object *keep_blob = json_object_new_object();
	struct json_object *keep_layer = json_object_new_object();
	struct json_object *images, *refs, *drop = json_object_new_array();
	size_t i, removed = 0;
	int ret;

	pthread_mutex_lock(&imgs->lock);
	images = obj_get(imgs->index, "images");
	refs = obj_get(imgs->index, "refs");
	json_object_object_foreach(refs, r, rid)
	{
		(void)r;
		json_object_object_add(keep_img, json_object_get_string(rid), NULL);
	}
	for (i = 0; i < n_in_use; i++)
		json_object_object_add(keep_img, in_use[i], NULL);
	json_object_object_foreach(images, id, img)
	{
		if (!in_list(keep_img, id)) {
			json_object_array_add(drop, json_object_new_string(id));
			continue;
		}
		json_object_object_add(keep_blob, id, NULL);
		add_str(keep_blob, img, "layers");
		add_str(keep_blob, img, "manifest");
		add_str(keep_layer, img, "diff_ids");
	}
	for (i = 0; i < json_object_array_length(drop); i++)
		json_object_object_del(images, json_object_get_string(json_object_array_get_idx(drop, i)));
	ret = json_object_array_length(drop) ? index_save(imgs) : 0;
	if (imgs->busy) {
		pr_info("image: gc: pulls under way, leaving blobs and layers for the next gc");
	} else {
		sweep(imgs, "blobs/sha256", keep_blob, &removed);
		sweep(imgs, "layers", keep_layer, &removed);
	}
	pthread_mutex_unlock(&imgs->lock);
	pr_info("image: gc dropped %zu images, %zu blobs/layers", json_object_array_length(drop),
		removed);
	json_object_put(keep_img);
	json_object_put(keep_blob);
	json_object_put(keep_layer);
	json_object_put(drop);
	return ret;
}

/* --- root filesystems --- */

static int layer_dirs(struct berth_images *imgs, const char *image_id, char ***out, size_t *n)
{
	struct json_object *img, *diffs;
	char **dirs;
	size_t i, cnt;

	pthread_mutex_lock(&imgs->lock);
	img = lookup(imgs, image_id, NULL);
	if (!img || !json_object_object_get_ex(img, "diff_ids", &diffs)) {
		pthread_mutex_unlock(&imgs->lock);
		return -ENOENT;
	}
	cnt = json_object_array_length(diffs);
	dirs = calloc(cnt + 1, sizeof(*dirs));
	for (i = 0; dirs && i < cnt; i++) {
		dirs[i] = malloc(PATH_MAX);
		if (dirs[i])
			berth_images_layer_path(
				imgs, json_object_get_string(json_object_array_get_idx(diffs, i)),
				dirs[i]);
	}
	pthread_mutex_unlock(&imgs->lock);
	if (!dirs)
		return -ENOMEM;
	*out = dirs;
	*n = cnt;
	return 0;
}

/* overlay's mount(2) data: lowerdir top layer first; -E2BIG past a page */
static int overlay_opts(char **dirs, size_t n, const char *upper, const char *work,
			char *opts, size_t cap)
{
	char *p = opts;
	size_t i;
	int len;

	p += snprintf(p, cap, "lowerdir=");
	for (i = n; i-- > 0;) { /* overlay wants the top layer first */
		len = snprintf(p, cap - (p - opts), "%s%s", dirs[i], i ? ":" : "");
		if (len >= (int)(cap - (p - opts)))
			return -E2BIG;
		p += len;
	}
	len = snprintf(p, cap - (p - opts), ",upperdir=%s,workdir=%s", upper, work);
	return len >= (int)(cap - (p - opts)) ? -E2BIG : 0;
}

static int mount_overlay(const char *opts, const char *target)
{
	return mount("overlay", target, "overlay", 0, opts) ? -errno : 0;
}

/* Is path a mount point (another filesystem than parent's)? */
static bool mounted(const char *path, const char *parent)
{
	struct stat a, b;

	return !stat(path, &a) && !stat(parent, &b) && a.st_dev != b.st_dev;
}

/* BERTH_IMAGE_ROOTFS=copy: the copy fallback even where overlay works (tests) */
static bool force_copy(void)
{
	const char *v = getenv("BERTH_IMAGE_ROOTFS");

	return v && !strcmp(v, "copy");
}

static int rootfs_make(struct berth_images *imgs, const char *image_id,
		       const char *container_dir, char *rootfs_out, char *defer,
		       size_t defer_len)
{
	char upper[PATH_MAX], work[PATH_MAX], rootfs[PATH_MAX], opts[BERTH_OVERLAY_OPTS_MAX];
	char **dirs = NULL;
	size_t n = 0, i;
	int ret;

	if (defer)
		*defer = 0;
	else
		defer_len = 0;
	ret = layer_dirs(imgs, image_id, &dirs, &n);
	if (ret)
		return ret;
	snprintf(rootfs, sizeof(rootfs), "%s/rootfs", container_dir);
	snprintf(upper, sizeof(upper), "%s/upper", container_dir);
	snprintf(work, sizeof(work), "%s/work", container_dir);
	ret = berth_mkdir_p(rootfs, 0755);
	if (!ret && mounted(rootfs, container_dir)) {
		pr_debug("image: rootfs %s is mounted already", rootfs);
		goto out; /* e.g. asked again after an agent restart */
	}
	if (!ret)
		ret = berth_mkdir_p(upper, 0755);
	if (!ret)
		ret = berth_mkdir_p(work, 0700);
	if (ret)
		goto out;
	if (n == 0) { /* overlay needs a lower dir; an empty image is just empty */
		ret = 0;
	} else if (!(ret = force_copy() ? -ENOTSUP :
					  overlay_opts(dirs, n, upper, work, opts, sizeof(opts))) &&
		   defer_len > strlen(opts) &&
		   __atomic_load_n(&imgs->overlay_ok, __ATOMIC_RELAXED)) {
		strcpy(defer, opts);
		pr_debug("image: rootfs %s: overlayfs over %zu layers of %s, mounted by the shim",
			 rootfs, n, image_id);
	} else if (!ret && !(ret = mount_overlay(opts, rootfs))) {
		__atomic_store_n(&imgs->overlay_ok, true, __ATOMIC_RELAXED);
		pr_info("image: rootfs %s: overlayfs over %zu layers of %s", rootfs, n,
			image_id);
		/* overlay works here: the shim mounts it in the container's own
		 * mount namespace from now on, this one included */
		if (defer_len > strlen(opts) && !umount2(rootfs, 0))
			strcpy(defer, opts);
	} else {
		pr_info("image: rootfs %s: %s%s, copying %zu layers of %s", rootfs,
			force_copy() ? "BERTH_IMAGE_ROOTFS=copy" : "overlay mount failed: ",
			force_copy() ? "" : strerror(-ret), n, image_id);
		rmdir(upper);
		rmdir(work);
		for (i = 0, ret = 0; i < n && !ret; i++)
			ret = berth_layer_apply(dirs[i], rootfs);
		if (ret)
			pr_err("image: copy layers of %s to %s: %s", image_id, rootfs,
			       strerror(-ret));
	}
out:
	for (i = 0; i < n; i++)
		free(dirs[i]);
	free(dirs);
	if (!ret && rootfs_out)
		strcpy(rootfs_out, rootfs);
	return ret;
}

int berth_image_rootfs(struct berth_images *imgs, const char *image_id,
		       const char *container_dir, char *rootfs_out)
{
	return rootfs_make(imgs, image_id, container_dir, rootfs_out, NULL, 0);
}

int berth_image_rootfs_deferred(struct berth_images *imgs, const char *image_id,
				const char *container_dir, char *rootfs_out,
				char *overlay_out, size_t overlay_len)
{
	return rootfs_make(imgs, image_id, container_dir, rootfs_out, overlay_out,
			   overlay_len);
}

int berth_image_rootfs_release(struct berth_images *imgs, const char *container_dir)
{
	char path[PATH_MAX];
	int ret;

	(void)imgs;
	snprintf(path, sizeof(path), "%s/rootfs", container_dir);
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT) {
		ret = -errno;
		pr_err("image: unmount %s: %s", path, strerror(errno));
		return ret;
	}
	ret = berth_rm_rf(path);
	snprintf(path, sizeof(path), "%s/upper", container_dir);
	ret = berth_rm_rf(path) ?: ret;
	snprintf(path, sizeof(path), "%s/work", container_dir);
	ret = berth_rm_rf(path) ?: ret;
	return ret;
}
