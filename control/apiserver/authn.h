/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Who is asking: the authenticator chain in front of every API request,
 * in kube-apiserver's order: client certificate (CN user, O groups), static
 * token file, ServiceAccount JWT, then anonymous if enabled.
 */
#ifndef BERTH_APISERVER_AUTHN_H
#define BERTH_APISERVER_AUTHN_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

#define BERTH_USER_NAME_MAX 256
#define BERTH_USER_MAX_GROUPS 32
#define BERTH_GROUP_NAME_MAX 256

#define BERTH_GROUP_MASTERS "system:masters"
#define BERTH_GROUP_AUTHENTICATED "system:authenticated"
#define BERTH_GROUP_UNAUTHENTICATED "system:unauthenticated"
#define BERTH_USER_ANONYMOUS "system:anonymous"
#define BERTH_SA_USER_PREFIX "system:serviceaccount:"

struct berth_user {
	char name[BERTH_USER_NAME_MAX];
	char uid[128];
	char groups[BERTH_USER_MAX_GROUPS][BERTH_GROUP_NAME_MAX];
	size_t ngroups;
	/* a ServiceAccount token bound to a pod: user.extra as Kubernetes */
	char pod_name[256];
	char pod_uid[64];
};

struct berth_api;
struct berth_authn;

/*
 * token_file: --token-auth-file (NULL: none), CSV lines
 * token,user,uid,"group1,group2" ('#' comments). -EINVAL with the line
 * number logged.
 */
int berth_authn_new(const char *token_file, bool anonymous,
		    struct berth_authn **out);
void berth_authn_free(struct berth_authn *a);

/*
 * Authenticate req into *u. 0; -EACCES when credentials were given but
 * are not valid, or none were given and anonymous is off (both 401).
 * The trusted plain-HTTP listener yields a system:masters user, and so
 * does a request without a connection (the in-process controllers).
 */
int berth_authn_request(struct berth_api *api, const struct berth_http_req *req,
			struct berth_user *u);

/* Append a group unless present or full; -ENOSPC when full. */
int berth_user_add_group(struct berth_user *u, const char *g);
bool berth_user_in_group(const struct berth_user *u, const char *g);
/* The user's groups as a JSON array (a new object). */
struct json_object *berth_user_groups_json(const struct berth_user *u);

#endif
