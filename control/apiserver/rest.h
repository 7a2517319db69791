/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Generic REST over the store for every registered resource. */
#ifndef BERTH_APISERVER_REST_H
#define BERTH_APISERVER_REST_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "api.h"
#include "registry.h"

/* One API request, once its URL is resolved to a resource. */
struct berth_call {
	struct berth_api *api;
	const struct berth_http_req *req;
	struct berth_http_resp *resp;
	const struct berth_resource *res;
	const char *ns; /* request namespace, NULL: all / cluster-scoped */
	const char *name; /* NULL: the collection */
	const char *sub; /* subresource, or NULL */
	const struct berth_user *user; /* who asks; NULL: the server itself */
};

struct berth_user;

void berth_rest_handle(struct berth_call *c);

/* A stored value as an API object, metadata.resourceVersion = rev. */
struct json_object *berth_obj_from_store(const char *value, size_t len,
					 int64_t rev);
void berth_obj_set_rv(struct json_object *obj, int64_t rev);
/* "pods" or "deployments.apps", as Status messages name a resource. */
void berth_qualified_name(const struct berth_resource *r, char *buf,
			  size_t size);
/* A random (version 4) UUID: metadata.uid, a token's jti. */
void berth_new_uid(char *buf, size_t size);
/* Time now as RFC 3339 in UTC. */
void berth_now_rfc3339(char *buf, size_t size);

struct berth_selector;
/* Parse labelSelector and fieldSelector; on error answer 400, return -1. */
int berth_rest_selectors(struct berth_call *c, struct berth_selector **ls,
			 struct berth_selector **fs);
/* Does obj pass both selectors? */
bool berth_rest_match(struct berth_selector *ls, struct berth_selector *fs,
		      struct json_object *obj);
/* Answer with the Status for a store error (-ENOENT, -EEXIST...). */
void berth_rest_store_error(struct berth_call *c, int err, const char *name);
/*
 * Create obj as a POST would (defaulting, validation, allocation), without
 * an HTTP request: for objects the server makes itself. Returns the HTTP
 * code (201, 409...).
 */
int berth_rest_create(struct berth_api *api, const struct berth_resource *r,
		      const char *ns, struct json_object *obj);
/*
 * What a POST of body goes through before the store: decode (protobuf if
 * proto, else JSON), kind and field checks, metadata and name validation,
 * defaulting and admission; no namespace lookup or allocation. Answers in
 * resp (201 with the object as it would be stored) and returns its code.
 * For the fuzzer (tests/fuzz/fuzz_decode.c).
 */
int berth_rest_check_create(const struct berth_resource *r, const char *ns,
			    const char *body, size_t len, bool proto,
			    struct berth_http_resp *resp);
#endif
