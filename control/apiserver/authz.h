/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The gate every API request passes before routing: authenticate (401),
 * impersonate (Impersonate-User/-Group/-Uid, checked with the impersonate
 * verb), authorize (system:masters bypass, else RBAC; 403), and the
 * review endpoints that answer from the same chain: SelfSubjectReview,
 * SelfSubjectAccessReview, SubjectAccessReview.
 */
#ifndef BERTH_APISERVER_AUTHZ_H
#define BERTH_APISERVER_AUTHZ_H

#include <stdbool.h>

#include "authn.h"
#include "http.h"
#include "rbac.h"

#define BERTH_AUTHZ_MAX_SEGS 12
#define BERTH_AUTHZ_PATH_MAX 2048

/* Per request: who, what, and the storage the attributes point into. */
struct berth_authz_req {
	struct berth_user user;
	struct berth_authz_attrs attrs;
	char buf[BERTH_AUTHZ_PATH_MAX];
};

struct berth_api;

/*
 * true: answered in resp (401, 403, or a review); false: authorized, go
 * on routing. Without api->authn (a server built without the chain, the
 * fuzzer) every request passes.
 */
bool berth_authz_gate(struct berth_api *api, const struct berth_http_req *req,
		      struct berth_http_resp *resp, struct berth_authz_req *ar);
/* After the request: an RBAC write recompiles the rules at once. */
void berth_authz_after(struct berth_api *api, const struct berth_authz_req *ar,
		       const struct berth_http_resp *resp);

/* Fill a's resource/non-resource fields from method and path (in buf). */
void berth_authz_attrs_parse(const struct berth_http_req *req,
			     struct berth_authz_req *ar);
/* Is u allowed a? (masters bypass, then RBAC) */
bool berth_authz_allows(struct berth_api *api, const struct berth_user *u,
			const struct berth_authz_attrs *a, char *why,
			size_t size);

#endif
