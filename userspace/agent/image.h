/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's image store: pull from OCI/Docker registries, load OCI layouts
 * and `docker save` tarballs, unpack layers and give containers a rootfs.
 *
 * Layout under ROOT (the agent's root/images):
 *   blobs/sha256/<hex>      content-addressed blobs (manifests, configs, layers)
 *   layers/<hex>/           an unpacked layer, keyed by its diff id
 *   index.json              refs -> image id (config digest), written atomically
 *
 * Functions that take an err buffer fill it with a message fit for a pod's
 * ErrImagePull reason, e.g.
 *   failed to pull image "127.0.0.1:5000/x:1": manifest unknown: manifest unknown
 * Thread-safe: one store may be used by several pulls at once.
 */
#ifndef BERTH_AGENT_IMAGE_H
#define BERTH_AGENT_IMAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BERTH_IMAGE_ID_LEN 72 /* "sha256:" + 64 hex + NUL, rounded */

struct berth_images;

/* A parsed image reference, normalized like Docker does:
 * "busybox" -> registry "docker.io", repository "library/busybox", tag "latest". */
struct berth_image_ref {
	char registry[256]; /* host[:port]; "docker.io" for Docker Hub */
	char repository[256];
	char tag[128]; /* empty if only a digest was given */
	char digest[BERTH_IMAGE_ID_LEN]; /* "sha256:<hex>" or empty */
};

/* The parts of an image config a container needs; arrays are NULL-terminated
 * (NULL when the config has none). */
struct berth_image_config {
	char **entrypoint;
	char **cmd;
	char **env; /* "KEY=value" */
	char *working_dir;
	char *user;
	char **exposed_ports; /* "80/tcp" */
	char *os;
	char *architecture;
	char **diff_ids; /* layer diff ids, bottom first */
};

struct berth_image_info {
	char id[BERTH_IMAGE_ID_LEN]; /* config digest */
	char **refs; /* NULL-terminated normalized refs pointing at it */
	uint64_t size; /* sum of compressed layer sizes */
};

/* Called during pulls: what is being fetched (a digest), bytes done / total
 * (total 0 when unknown). */
typedef void (*berth_image_progress_fn)(void *arg, const char *what, uint64_t done,
					uint64_t total);

struct berth_pull_opts {
	const char *username; /* registry credentials, or NULL for anonymous */
	const char *password;
	/* NULL-terminated list of "host[:port]" reached over plain HTTP (in
	 * addition to 127.0.0.1 / localhost / ::1, always plain HTTP). */
	const char *const *insecure_registries;
	berth_image_progress_fn progress;
	void *progress_arg;
	const char *os; /* platform picked from manifest lists; NULL: linux */
	const char *architecture; /* NULL: amd64 */
	long timeout_s; /* per HTTP request; 0: 300 */
};

enum berth_pull_policy {
	BERTH_PULL_ALWAYS,
	BERTH_PULL_IF_NOT_PRESENT,
	BERTH_PULL_NEVER,
};

/* Parse and normalize a reference; -EINVAL on malformed input. */
int berth_image_ref_parse(const char *ref, struct berth_image_ref *out);
/* "registry/repository[:tag][@digest]" into buf; -ENOSPC if too small. */
int berth_image_ref_format(const struct berth_image_ref *r, char *buf, size_t len);
/* Kubernetes' default: Always for ":latest" or no tag, else IfNotPresent. */
enum berth_pull_policy berth_pull_policy_default(const char *ref);
/* "Always" / "IfNotPresent" / "Never" (NULL or unknown: the default for ref). */
enum berth_pull_policy berth_pull_policy_parse(const char *s, const char *ref);

/* Opens (creating) the store under root. NULL with errno set on failure. */
struct berth_images *berth_images_open(const char *root);
void berth_images_close(struct berth_images *imgs);

/* Pull ref from its registry, unpack its layers, tag it. id_out (may be NULL)
 * gets the image id. */
int berth_image_pull(struct berth_images *imgs, const char *ref,
		     const struct berth_pull_opts *opts, char *id_out, char *err,
		     size_t errlen);

/* Load an OCI image layout directory or a `docker save` tarball (also an OCI
 * layout packed as a tar). Every image in it is stored and its tags recorded;
 * if ref is given, the (first) image is also tagged ref. */
int berth_image_load(struct berth_images *imgs, const char *path, const char *ref,
		     char *id_out, char *err, size_t errlen);

/* imagePullPolicy in one call: present locally? pull? fail? */
int berth_image_ensure(struct berth_images *imgs, const char *ref,
		       enum berth_pull_policy policy, const struct berth_pull_opts *opts,
		       char *id_out, char *err, size_t errlen);

/* Is ref (a reference, or an image id "sha256:...") present locally, with its
 * layers unpacked? id_out (may be NULL) gets its id. 0 or -ENOENT. */
int berth_image_resolve(struct berth_images *imgs, const char *ref, char *id_out);
bool berth_image_present(struct berth_images *imgs, const char *ref);

/* The config of a stored image (id or ref). Free with berth_image_config_free. */
int berth_image_config_get(struct berth_images *imgs, const char *id_or_ref,
			   struct berth_image_config **out);
void berth_image_config_free(struct berth_image_config *cfg);

/* All images; free with berth_image_list_free. */
int berth_images_list(struct berth_images *imgs, struct berth_image_info **out, size_t *n);
void berth_image_list_free(struct berth_image_info *list, size_t n);

/* Untag ref (the image's blobs stay until berth_images_gc). */
int berth_image_untag(struct berth_images *imgs, const char *ref);

/* Remove images no ref points to and that are not in in_use (image ids), and
 * the blobs and layers nothing references. */
int berth_images_gc(struct berth_images *imgs, const char *const *in_use, size_t n_in_use);

/* A root filesystem for a container at container_dir/rootfs (written to
 * rootfs_out, PATH_MAX): overlayfs over the image's layers with
 * container_dir/upper and container_dir/work, or, where overlay cannot be
 * mounted, a copy of the layers (hardlinked where possible). Logs which. */
int berth_image_rootfs(struct berth_images *imgs, const char *image_id,
		       const char *container_dir, char *rootfs_out);
/*
 * The same, but where overlay works (an overlay was mounted on this node
 * before) nothing is mounted here: the mount(2) data of the overlay goes to
 * overlay_out (overlay_len >= BERTH_OVERLAY_OPTS_MAX) for the container's
 * shim to mount in its own mount namespace, so the node's mount table (read
 * in full by every runc start) does not grow by a rootfs per container.
 * *overlay_out is "" where the rootfs was mounted or copied here.
 */
#define BERTH_OVERLAY_OPTS_MAX 4096 /* mount(2) data is at most a page */
int berth_image_rootfs_deferred(struct berth_images *imgs, const char *image_id,
				const char *container_dir, char *rootfs_out,
				char *overlay_out, size_t overlay_len);
/* Unmount (or remove the copy of) container_dir's rootfs, upper and work. */
int berth_image_rootfs_release(struct berth_images *imgs, const char *container_dir);

/* `berth-agent image pull|load|list|inspect|rootfs|gc ...` */
int berth_image_cli(int argc, char **argv);

#endif
