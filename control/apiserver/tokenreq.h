/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The serviceaccounts/token subresource (TokenRequest, authentication.k8s.io/v1)
 * and the OIDC discovery documents that publish the signing key.
 */
#ifndef BERTH_APISERVER_TOKENREQ_H
#define BERTH_APISERVER_TOKENREQ_H

#include "api.h"
#include "rest.h"

#define BERTH_SA_DEFAULT_ISSUER "https://kubernetes.default.svc.cluster.local"
#define BERTH_SA_DEFAULT_EXPIRATION_S 3600 /* TokenRequest's default */
#define BERTH_SA_MIN_EXPIRATION_S 600 /* below: 422, as Kubernetes */
#define BERTH_SA_DEFAULT_MAX_EXPIRATION_S (48 * 3600)

/* POST .../serviceaccounts/NAME/token: 201 with the TokenRequest. */
void berth_tokenreq_create(struct berth_call *c);
/* GET /openid/v1/jwks */
void berth_oidc_jwks(struct berth_api *api, struct berth_http_resp *resp);
/* GET /.well-known/openid-configuration */
void berth_oidc_config(struct berth_api *api, struct berth_http_resp *resp);

#endif
