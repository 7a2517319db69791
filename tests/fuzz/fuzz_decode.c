// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * libFuzzer target: a create's request body through the server's own
 * decode and validation path (berth_rest_check_create: JSON or protobuf,
 * kind and field checks, names, defaulting, admission). The first byte
 * picks the resource (low 7 bits) and protobuf (high bit); the rest is the
 * body.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../control/apiserver/http.h"
#include "../../control/apiserver/registry.h"
#include "../../control/apiserver/rest.h"

#define SEL_PROTO 0x80

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct berth_http_resp resp = { 0 };
	const struct berth_resource *r;
	char *body;

	if (size < 1 || size - 1 > BERTH_HTTP_MAX_BODY)
		return 0;
	r = &berth_resources[(data[0] & ~SEL_PROTO) % berth_nresources];
	/* the server hands handlers a NUL-terminated copy of the body */
	body = malloc(size);
	if (!body)
		return 0;
	memcpy(body, data + 1, size - 1);
	body[size - 1] = 0;
	berth_rest_check_create(r, r->namespaced ? "default" : NULL, body,
				size - 1, data[0] & SEL_PROTO, &resp);
	free(resp.body);
	free(resp.warning);
	free(body);
	return 0;
}
