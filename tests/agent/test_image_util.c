// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Helpers for the image store's tests (see test_image_util.h). */
#define _GNU_SOURCE
#include <archive.h>
#include <archive_entry.h>
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../userspace/agent/image_priv.h"
#include "test_image_util.h"

void timg_write_tar(const char *path, const struct tentry *e, size_t n, bool gz)
{
	struct archive *a = archive_write_new();
	struct archive_entry *ae;
	size_t i;

	cr_assert(a);
	archive_write_set_format_pax_restricted(a);
	if (gz)
		archive_write_add_filter_gzip(a);
	cr_assert_eq(archive_write_open_filename(a, path), ARCHIVE_OK, "open %s", path);
	for (i = 0; i < n; i++) {
		ae = archive_entry_new();
		archive_entry_set_pathname(ae, e[i].name);
		archive_entry_set_mtime(ae, 1000, 0);
		switch (e[i].type) {
		case 'd':
			archive_entry_set_filetype(ae, AE_IFDIR);
			archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0755);
			break;
		case 's':
			archive_entry_set_filetype(ae, AE_IFLNK);
			archive_entry_set_symlink(ae, e[i].data);
			archive_entry_set_perm(ae, 0777);
			break;
		case 'h':
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_hardlink(ae, e[i].data);
			archive_entry_set_perm(ae, 0644);
			break;
		default:
			archive_entry_set_filetype(ae, AE_IFREG);
			archive_entry_set_perm(ae, e[i].mode ? e[i].mode : 0644);
			archive_entry_set_size(ae, e[i].data ? strlen(e[i].data) : 0);
		}
		cr_assert_geq(archive_write_header(a, ae), ARCHIVE_WARN, "%s",
			      archive_error_string(a));
		if (e[i].type == 'f' && e[i].data)
			archive_write_data(a, e[i].data, strlen(e[i].data));
		archive_entry_free(ae);
	}
	archive_write_close(a);
	archive_write_free(a);
}

char *timg_tmpdir(void)
{
	char *d = strdup("/tmp/berth-image-test-XXXXXX");

	cr_assert(d && mkdtemp(d), "mkdtemp");
	return d;
}

void timg_write(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	cr_assert(f, "open %s", path);
	fputs(s, f);
	fclose(f);
}

size_t timg_blob(const char *layout, const void *data, size_t len, char *digest_out)
{
	char path[PATH_MAX];
	FILE *f;

	berth_sha256_digest(data, len, digest_out);
	snprintf(path, sizeof(path), "%s/blobs/sha256", layout);
	berth_mkdir_p(path, 0755);
	snprintf(path, sizeof(path), "%s/blobs/sha256/%s", layout, digest_out + 7);
	f = fopen(path, "w");
	cr_assert(f, "open %s", path);
	fwrite(data, 1, len, f);
	fclose(f);
	return len;
}

size_t timg_blob_file(const char *layout, const char *path, char *digest_out)
{
	char *body;
	size_t len;

	cr_assert_eq(berth_read_file(path, &body, &len), 0, "read %s", path);
	timg_blob(layout, body, len, digest_out);
	free(body);
	return len;
}

void timg_oci_layout(const char *dir, const char *const *tars, size_t n, const char *ref_name,
		     char *id_out)
{
	char digests[8][BERTH_IMAGE_ID_LEN], cfg[BERTH_IMAGE_ID_LEN], man[BERTH_IMAGE_ID_LEN];
	char buf[8192], path[PATH_MAX];
	size_t sizes[8], i, off, cfg_size, man_size;

	cr_assert_leq(n, 8);
	for (i = 0; i < n; i++)
		sizes[i] = timg_blob_file(dir, tars[i], digests[i]);
	off = snprintf(buf, sizeof(buf),
		       "{\"architecture\":\"amd64\",\"os\":\"linux\",\"config\":{\"Cmd\":[\"sh\"],"
		       "\"Env\":[\"PATH=/bin\"],\"WorkingDir\":\"/w\",\"User\":\"1000:1000\","
		       "\"Entrypoint\":[\"/bin/ep\",\"-x\"],\"ExposedPorts\":{\"80/tcp\":{}}},"
		       "\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[");
	for (i = 0; i < n; i++)
		off += snprintf(buf + off, sizeof(buf) - off, "%s\"%s\"", i ? "," : "", digests[i]);
	snprintf(buf + off, sizeof(buf) - off, "]}}");
	cfg_size = timg_blob(dir, buf, strlen(buf), cfg);
	off = snprintf(buf, sizeof(buf),
		       "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\","
		       "\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\","
		       "\"digest\":\"%s\",\"size\":%zu},\"layers\":[",
		       cfg, cfg_size);
	for (i = 0; i < n; i++)
		off += snprintf(buf + off, sizeof(buf) - off,
				"%s{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\","
				"\"digest\":\"%s\",\"size\":%zu}",
				i ? "," : "", digests[i], sizes[i]);
	snprintf(buf + off, sizeof(buf) - off, "]}");
	man_size = timg_blob(dir, buf, strlen(buf), man);
	snprintf(buf, sizeof(buf),
		 "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":"
		 "\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"%s\",\"size\":%zu,"
		 "\"annotations\":{\"org.opencontainers.image.ref.name\":\"%s\"}}]}",
		 man, man_size, ref_name);
	snprintf(path, sizeof(path), "%s/index.json", dir);
	timg_write(path, buf);
	snprintf(path, sizeof(path), "%s/oci-layout", dir);
	timg_write(path, "{\"imageLayoutVersion\":\"1.0.0\"}");
	if (id_out)
		strcpy(id_out, cfg);
}

static char **paths;
static size_t n_paths;

void *timg_keep(void *ptr)
{
	char **np = realloc(paths, (n_paths + 1) * sizeof(*paths));

	cr_assert(np);
	paths = np;
	paths[n_paths++] = ptr;
	return ptr;
}

const char *timg_path(const char *dir, const char *rel)
{
	char *s;

	cr_assert(asprintf(&s, "%s/%s", dir, rel) > 0);
	return timg_keep(s);
}

void timg_paths_free(void)
{
	while (n_paths)
		free(paths[--n_paths]);
	free(paths);
	paths = NULL;
}
