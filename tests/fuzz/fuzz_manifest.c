// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: the image store's parsers of what a registry or an
 * OCI layout hands it: manifests, indexes (manifest lists) and image
 * configs, and the sha256 digests blobs are checked against. The first
 * byte picks the parser (low bit: manifest or config) and, for a
 * manifest, the Content-Type a registry would send (the other bits); the
 * rest is the blob.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/agent/image_priv.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const content_types[] = {
	NULL,
	"",
	"application/vnd.oci.image.index.v1+json",
	"application/vnd.oci.image.manifest.v1+json",
	"application/vnd.docker.distribution.manifest.list.v2+json",
	"application/vnd.docker.distribution.manifest.v2+json",
	"application/vnd.docker.distribution.manifest.v1+prettyjws",
	"application/json",
};

/* The blob's digest, in one go and streamed in uneven pieces, agree. */
static void check_digest(const uint8_t *data, size_t size)
{
	char one[BERTH_IMAGE_ID_LEN], streamed[BERTH_IMAGE_ID_LEN];
	struct berth_sha256 s;
	size_t off = 0, step = 1;

	berth_sha256_digest(data, size, one);
	berth_sha256_init(&s);
	while (off < size) {
		size_t n = size - off < step ? size - off : step;

		berth_sha256_update(&s, data + off, n);
		off += n;
		step = step * 3 % 131 + 1;
	}
	berth_sha256_final_digest(&s, streamed);
	if (!berth_digest_valid(one) || strcmp(one, streamed))
		abort();
}

static void manifest(const char *body, size_t len, const char *ctype)
{
	struct berth_manifest m;
	char err[256] = "";
	size_t i;

	if (berth_manifest_parse(body, len, ctype, &m, err, sizeof(err))) {
		if (m.d || m.n || !err[0])
			abort(); /* nothing kept, and a reason given */
		return;
	}
	if (m.kind == BERTH_MANIFEST_IMAGE && !berth_digest_valid(m.config))
		abort();
	for (i = 0; i < m.n; i++)
		if (!berth_digest_valid(m.d[i].digest))
			abort();
	berth_manifest_pick(&m, NULL, NULL);
	berth_manifest_free(&m);
}

static void image_config(const char *body, size_t len)
{
	struct berth_image_config *cfg = NULL;
	size_t i;

	if (berth_image_config_parse(body, len, &cfg))
		return;
	for (i = 0; cfg->diff_ids && cfg->diff_ids[i]; i++)
		berth_digest_valid(cfg->diff_ids[i]);
	berth_image_config_free(cfg);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t nct = sizeof(content_types) / sizeof(content_types[0]);
	const char *body = (const char *)data + 1;

	if (size < 1 || size > (4 << 20))
		return 0;
	check_digest(data + 1, size - 1);
	if (data[0] & 1)
		image_config(body, size - 1);
	else
		manifest(body, size - 1, content_types[(data[0] >> 1) % nct]);
	return 0;
}
