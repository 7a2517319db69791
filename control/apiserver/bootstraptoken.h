/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Bootstrap tokens: "<id>.<secret>" checked against the Secret
 * kube-system/bootstrap-token-<id> of type bootstrap.kubernetes.io/token;
 * the user is system:bootstrap:<id> in group system:bootstrappers, which
 * may only create and read CertificateSigningRequests.
 */
#ifndef BERTH_APISERVER_BOOTSTRAPTOKEN_H
#define BERTH_APISERVER_BOOTSTRAPTOKEN_H

#include <stdbool.h>

#define BERTH_BOOTSTRAP_USER_PREFIX "system:bootstrap:"
#define BERTH_GROUP_BOOTSTRAPPERS "system:bootstrappers"
#define BERTH_BOOTSTRAP_SECRET_TYPE "bootstrap.kubernetes.io/token"

struct berth_api;
struct berth_user;

/* Does token have the bootstrap form [a-z0-9]{6}.[a-z0-9]{16}? */
bool berth_bootstrap_token_form(const char *token);

/*
 * 0 and *u set; -EACCES: no such token, wrong secret, not for
 * authentication, or expired.
 */
int berth_bootstrap_token_user(struct berth_api *api, const char *token,
			       struct berth_user *u);

#endif
