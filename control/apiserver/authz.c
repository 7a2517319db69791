// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Authentication, impersonation and authorization of each request; reviews. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <json-c/json.h>

#include <berth/log.h>

#include "api.h"
#include "authz.h"
#include "jsonutil.h"
#include "nodeauthz.h"
#include "proto.h"
#include "rest.h"
#include "status.h"

#define AUTHN_GROUP "authentication.k8s.io"
#define AUTHZ_GROUP "authorization.k8s.io"
#define RBAC_GROUP "rbac.authorization.k8s.io"

static bool is_watch(const struct berth_http_req *req)
{
	const char *w = berth_http_query(req, "watch");

	return w && (!strcmp(w, "true") || !strcmp(w, "1"));
}

static const char *resource_verb(const struct berth_http_req *req, bool named)
{
	const char *m = req->method;

	if (!strcmp(m, "GET") || !strcmp(m, "HEAD"))
		return is_watch(req) ? "watch" : named ? "get" : "list";
	if (!strcmp(m, "POST"))
		return "create";
	if (!strcmp(m, "PUT"))
		return "update";
	if (!strcmp(m, "PATCH"))
		return "patch";
	if (!strcmp(m, "DELETE"))
		return named ? "delete" : "deletecollection";
	return "";
}

static const char *path_verb(const char *m)
{
	static const char *const map[][2] = {
		{ "GET", "get" },	  { "HEAD", "get" },
		{ "POST", "post" },	  { "PUT", "put" },
		{ "PATCH", "patch" },	  { "DELETE", "delete" },
		{ "OPTIONS", "options" },
	};
	size_t i;

	for (i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(m, map[i][0]))
			return map[i][1];
	return "";
}

/* segs after the group/version: [namespaces/NS/]RES[/NAME[/SUB]] */
static void resource_attrs(const struct berth_http_req *req,
			   struct berth_authz_attrs *a, char **segs, int n)
{
	if (n >= 2 && !strcmp(segs[0], "namespaces")) {
		a->ns = segs[1];
		/* namespaces/NS and its status/finalize: the namespace itself */
		if (n >= 3 && strcmp(segs[2], "status") &&
		    strcmp(segs[2], "finalize")) {
			segs += 2;
			n -= 2;
		}
	}
	a->resource = true;
	a->res = segs[0];
	a->name = n > 1 ? segs[1] : NULL;
	a->sub = n > 2 ? segs[2] : NULL;
	a->verb = resource_verb(req, a->name != NULL);
}

void berth_authz_attrs_parse(const struct berth_http_req *req,
			     struct berth_authz_req *ar)
{
	struct berth_authz_attrs *a = &ar->attrs;
	char *segs[BERTH_AUTHZ_MAX_SEGS], *p, *save = NULL;
	int n = 0;

	memset(a, 0, sizeof(*a));
	a->path = req->path;
	a->verb = path_verb(req->method);
	if (strlen(req->path) >= sizeof(ar->buf))
		return;
	strcpy(ar->buf, req->path);
	for (p = strtok_r(ar->buf, "/", &save); p && n < BERTH_AUTHZ_MAX_SEGS;
	     p = strtok_r(NULL, "/", &save))
		segs[n++] = p;
	if (n >= 3 && !strcmp(segs[0], "api")) {
		a->group = "";
		a->version = segs[1];
		resource_attrs(req, a, segs + 2, n - 2);
	} else if (n >= 4 && !strcmp(segs[0], "apis")) {
		a->group = segs[1];
		a->version = segs[2];
		resource_attrs(req, a, segs + 3, n - 3);
	}
}

bool berth_authz_allows(struct berth_api *api, const struct berth_user *u,
			const struct berth_authz_attrs *a, char *why,
			size_t size)
{
	enum berth_node_decision d;

	if (berth_user_in_group(u, BERTH_GROUP_MASTERS)) {
		if (why)
			snprintf(why, size, "system:masters");
		return true;
	}
	if (why && size)
		*why = 0;
	if (api->authz_always_allow)
		return true;
	d = berth_nodeauthz_decide(api->nodeauthz, u, a, why, size);
	if (d != BERTH_NODE_NO_OPINION)
		return d == BERTH_NODE_ALLOW;
	return api->rbac && berth_rbac_allows(api->rbac, u, a, why, size);
}

/* Kubernetes' wording: "User "x" cannot list resource "pods" in ..." */
static void forbidden_msg(const struct berth_user *u,
			  const struct berth_authz_attrs *a, char *buf,
			  size_t size)
{
	char res[512];

	if (!a->resource) {
		snprintf(buf, size, "User \"%s\" cannot %s path \"%s\"",
			 u->name, a->verb, a->path);
		return;
	}
	snprintf(res, sizeof(res), "%s%s%s", a->res, a->sub ? "/" : "",
		 a->sub ? a->sub : "");
	if (a->ns)
		snprintf(
			buf, size,
			"User \"%s\" cannot %s resource \"%s\" in API group \"%s\" in the namespace \"%s\"",
			u->name, a->verb, res, a->group, a->ns);
	else
		snprintf(
			buf, size,
			"User \"%s\" cannot %s resource \"%s\" in API group \"%s\" at the cluster scope",
			u->name, a->verb, res, a->group);
}

static void forbidden(struct berth_http_resp *resp, const struct berth_user *u,
		      const struct berth_authz_attrs *a)
{
	struct json_object *st;
	char msg[1024], qual[256];

	forbidden_msg(u, a, msg, sizeof(msg));
	if (!a->resource) {
		st = berth_status_new(403, "Forbidden", "forbidden: %s", msg);
		berth_resp_status(resp, st);
		return;
	}
	snprintf(qual, sizeof(qual), "%s%s%s", a->res, *a->group ? "." : "",
		 a->group);
	if (a->name)
		st = berth_status_new(403, "Forbidden",
				      "%s \"%s\" is forbidden: %s", qual,
				      a->name, msg);
	else
		st = berth_status_new(403, "Forbidden", "%s is forbidden: %s",
				      qual, msg);
	berth_status_details(st, a->name, a->group, a->res);
	berth_resp_status(resp, st);
}

static int add_header_group(void *arg, const char *v)
{
	struct berth_user *u = arg;

	return berth_user_add_group(u, v);
}

/* May who impersonate resource res (group g) named name in ns? */
static bool may_impersonate(struct berth_api *api, const struct berth_user *who,
			    const char *g, const char *res, const char *ns,
			    const char *name, struct berth_http_resp *resp)
{
	const struct berth_authz_attrs a = { .verb = "impersonate",
					     .resource = true,
					     .group = g,
					     .res = res,
					     .ns = ns,
					     .name = name };

	if (berth_authz_allows(api, who, &a, NULL, 0))
		return true;
	forbidden(resp, who, &a);
	return false;
}

/*
 * "system:serviceaccount:NS:NAME" -> ns (NS), *name (NAME); false for any
 * other user name.
 */
static bool sa_name(const char *user, char *ns, size_t size, const char **name)
{
	const char *p = user + strlen(BERTH_SA_USER_PREFIX);
	const char *colon;

	if (strncmp(user, BERTH_SA_USER_PREFIX, strlen(BERTH_SA_USER_PREFIX)))
		return false;
	colon = strchr(p, ':');
	if (!colon || (size_t)(colon - p) >= size)
		return false;
	snprintf(ns, size, "%.*s", (int)(colon - p), p);
	*name = colon + 1;
	return true;
}

/* Each asked-for group, then the user (or its ServiceAccount). */
static bool check_impersonation(struct berth_api *api,
				const struct berth_user *who,
				const struct berth_user *as, const char *uid,
				struct berth_http_resp *resp)
{
	char ns[BERTH_GROUP_NAME_MAX];
	const char *sa;
	size_t i;

	for (i = 0; i < as->ngroups; i++)
		if (!may_impersonate(api, who, "", "groups", NULL,
				     as->groups[i], resp))
			return false;
	if (uid &&
	    !may_impersonate(api, who, AUTHN_GROUP, "uids", NULL, uid, resp))
		return false;
	if (sa_name(as->name, ns, sizeof(ns), &sa))
		return may_impersonate(api, who, "", "serviceaccounts", ns, sa,
				       resp);
	return may_impersonate(api, who, "", "users", NULL, as->name, resp);
}

/*
 * Impersonate-User (with -Group and -Uid): the request goes on as that
 * user once the requester may impersonate each part. false: answered.
 */
static bool impersonate(struct berth_api *api, const struct berth_http_req *req,
			struct berth_http_resp *resp, struct berth_user *u)
{
	const char *name = berth_http_header(req, "Impersonate-User");
	const char *uid = berth_http_header(req, "Impersonate-Uid");
	struct berth_user as = { 0 };
	char g[BERTH_GROUP_NAME_MAX + 32], ns[BERTH_GROUP_NAME_MAX];
	const char *sa;

	if (berth_http_header_each(req, "Impersonate-Group", add_header_group,
				   &as)) {
		berth_resp_error(resp, 400, "BadRequest",
				 "too many Impersonate-Group headers");
		return false;
	}
	if (!name) {
		if (!as.ngroups && !uid)
			return true;
		berth_resp_error(resp, 403, "Forbidden",
				 "requested %s without impersonating a user",
				 as.ngroups ? "groups" : "uid");
		return false;
	}
	snprintf(as.name, sizeof(as.name), "%s", name);
	snprintf(as.uid, sizeof(as.uid), "%s", uid ? uid : "");
	if (!check_impersonation(api, u, &as, uid, resp))
		return false;
	if (sa_name(name, ns, sizeof(ns), &sa)) {
		snprintf(g, sizeof(g), "system:serviceaccounts:%s", ns);
		berth_user_add_group(&as, "system:serviceaccounts");
		berth_user_add_group(&as, g);
	}
	berth_user_add_group(&as, strcmp(name, BERTH_USER_ANONYMOUS) ?
					  BERTH_GROUP_AUTHENTICATED :
					  BERTH_GROUP_UNAUTHENTICATED);
	pr_debug("%s impersonates %s", u->name, as.name);
	*u = as;
	return true;
}

static struct json_object *user_info(const struct berth_user *u)
{
	struct json_object *ui = json_object_new_object();

	berth_json_set_str(ui, "username", u->name);
	if (*u->uid)
		berth_json_set_str(ui, "uid", u->uid);
	json_object_object_add(ui, "groups", berth_user_groups_json(u));
	if (*u->pod_name) {
		struct json_object *extra = berth_json_obj(ui, "extra");
		struct json_object *a = json_object_new_array();

		json_object_array_add(a, json_object_new_string(u->pod_name));
		json_object_object_add(
			extra, "authentication.kubernetes.io/pod-name", a);
		a = json_object_new_array();
		json_object_array_add(a, json_object_new_string(u->pod_uid));
		json_object_object_add(
			extra, "authentication.kubernetes.io/pod-uid", a);
	}
	return ui;
}

/* The body as a JSON object of apiVersion group/v1 and kind; else 400. */
static struct json_object *review_body(const struct berth_http_req *req,
				       struct berth_http_resp *resp,
				       const char *group, const char *kind)
{
	const char *ct = berth_http_header(req, "Content-Type");
	struct json_object *o;
	char av[128], err[256];

	if (ct && !strncmp(ct, BERTH_PROTO_MEDIA, strlen(BERTH_PROTO_MEDIA)))
		o = berth_proto_decode(req->body, req->body_len, err,
				       sizeof(err));
	else
		o = berth_json_parse(req->body, req->body_len, NULL);

	snprintf(av, sizeof(av), "%s/v1", group);
	if (!o || !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		berth_resp_error(resp, 400, "BadRequest",
				 "the body of a %s must be a JSON object",
				 kind);
		return NULL;
	}
	berth_json_set_str(o, "apiVersion", av);
	berth_json_set_str(o, "kind", kind);
	return o;
}

static void self_subject_review(const struct berth_http_req *req,
				struct berth_http_resp *resp,
				const struct berth_user *u)
{
	struct json_object *o =
		review_body(req, resp, AUTHN_GROUP, "SelfSubjectReview");
	char now[64];

	if (!o)
		return;
	berth_now_rfc3339(now, sizeof(now));
	berth_json_set_str(berth_json_obj(o, "metadata"), "creationTimestamp",
			   now);
	json_object_object_add(berth_json_obj(o, "status"), "userInfo",
			       user_info(u));
	berth_resp_json(resp, 201, o);
}

/* spec.resourceAttributes or spec.nonResourceAttributes into a. */
static void spec_attrs(struct json_object *spec, struct berth_authz_attrs *a)
{
	struct json_object *ra = berth_json_path(spec, "resourceAttributes");
	struct json_object *na = berth_json_path(spec, "nonResourceAttributes");
	const char *ns;

	memset(a, 0, sizeof(*a));
	if (ra) {
		a->resource = true;
		a->verb = berth_json_get_str(ra, "verb") ?: "";
		a->group = berth_json_get_str(ra, "group") ?: "";
		a->res = berth_json_get_str(ra, "resource") ?: "";
		a->sub = berth_json_get_str(ra, "subresource");
		if (a->sub && !*a->sub)
			a->sub = NULL;
		ns = berth_json_get_str(ra, "namespace");
		a->ns = ns && *ns ? ns : NULL;
		a->name = berth_json_get_str(ra, "name");
		if (a->name && !*a->name)
			a->name = NULL;
		return;
	}
	a->verb = na ? berth_json_get_str(na, "verb") ?: "" : "";
	a->path = na ? berth_json_get_str(na, "path") ?: "" : "";
}

/* The subject of a SubjectAccessReview: spec.user, spec.groups, spec.uid. */
static void spec_user(struct json_object *spec, struct berth_user *u)
{
	struct json_object *g = berth_json_path(spec, "groups");
	size_t i, n;

	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s",
		 berth_json_get_str(spec, "user") ?: "");
	snprintf(u->uid, sizeof(u->uid), "%s",
		 berth_json_get_str(spec, "uid") ?: "");
	n = json_object_is_type(g, json_type_array) ?
		    json_object_array_length(g) :
		    0;
	for (i = 0; i < n; i++)
		berth_user_add_group(u,
				     json_object_get_string(
					     json_object_array_get_idx(g, i)));
}

static void access_review(struct berth_api *api,
			  const struct berth_http_req *req,
			  struct berth_http_resp *resp,
			  const struct berth_user *self, const char *kind)
{
	struct json_object *o = review_body(req, resp, AUTHZ_GROUP, kind);
	struct json_object *spec, *st;
	struct berth_authz_attrs a;
	struct berth_user *subject, other;
	char why[512];
	bool ok;

	if (!o)
		return;
	spec = berth_json_obj(o, "spec");
	subject = (struct berth_user *)self;
	if (strcmp(kind, "SelfSubjectAccessReview")) {
		spec_user(spec, &other);
		subject = &other;
	}
	if (!berth_json_path(spec, "resourceAttributes") &&
	    !berth_json_path(spec, "nonResourceAttributes")) {
		json_object_put(o);
		berth_resp_error(
			resp, 422, "Invalid",
			"%s.authorization.k8s.io is invalid: spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified",
			kind);
		return;
	}
	spec_attrs(spec, &a);
	ok = berth_authz_allows(api, subject, &a, why, sizeof(why));
	st = berth_json_obj(o, "status");
	json_object_object_add(st, "allowed", json_object_new_boolean(ok));
	if (*why)
		berth_json_set_str(st, "reason", why);
	berth_resp_json(resp, 201, o);
}

/* kubectl auth can-i --list: the rules RBAC gives the requester in ns. */
static void rules_review(struct berth_api *api,
			 const struct berth_http_req *req,
			 struct berth_http_resp *resp,
			 const struct berth_user *self)
{
	struct json_object *o =
		review_body(req, resp, AUTHZ_GROUP, "SelfSubjectRulesReview");
	const char *ns;
	struct json_object *st;

	if (!o)
		return;
	ns = berth_json_path_str(o, "spec.namespace");
	if (api->rbac) {
		st = berth_rbac_rules(api->rbac, self, ns && *ns ? ns : NULL);
	} else {
		st = json_object_new_object();
		json_object_object_add(st, "incomplete",
				       json_object_new_boolean(true));
		berth_json_set_str(
			st, "evaluationError",
			"RBAC is off (--authorization-mode AlwaysAllow)");
	}
	json_object_object_add(o, "status", st);
	berth_resp_json(resp, 201, o);
}

/* The review kinds: answered from the chain, nothing stored. */
static bool review(struct berth_api *api, const struct berth_http_req *req,
		   struct berth_http_resp *resp,
		   const struct berth_authz_req *ar)
{
	const struct berth_authz_attrs *a = &ar->attrs;

	if (!a->resource || a->name || a->ns || strcmp(a->verb, "create"))
		return false;
	if (!strcmp(a->group, AUTHN_GROUP) && !strcmp(a->version, "v1") &&
	    !strcmp(a->res, "selfsubjectreviews"))
		self_subject_review(req, resp, &ar->user);
	else if (!strcmp(a->group, AUTHZ_GROUP) && !strcmp(a->version, "v1") &&
		 !strcmp(a->res, "selfsubjectaccessreviews"))
		access_review(api, req, resp, &ar->user,
			      "SelfSubjectAccessReview");
	else if (!strcmp(a->group, AUTHZ_GROUP) && !strcmp(a->version, "v1") &&
		 !strcmp(a->res, "selfsubjectrulesreviews"))
		rules_review(api, req, resp, &ar->user);
	else if (!strcmp(a->group, AUTHZ_GROUP) && !strcmp(a->version, "v1") &&
		 !strcmp(a->res, "subjectaccessreviews"))
		access_review(api, req, resp, &ar->user, "SubjectAccessReview");
	else
		return false;
	return true;
}

/* NodeRestriction: a node's authorized write, judged on its body. */
static bool node_restriction(struct berth_api *api,
			     const struct berth_http_req *req,
			     struct berth_http_resp *resp,
			     const struct berth_authz_req *ar)
{
	char msg[512];

	if (berth_node_restrict(api->nodeauthz, api->store, &ar->user,
				&ar->attrs, req, msg, sizeof(msg)))
		return true;
	berth_resp_status(resp, berth_status_new(403, "Forbidden", "%s", msg));
	return false;
}

bool berth_authz_gate(struct berth_api *api, const struct berth_http_req *req,
		      struct berth_http_resp *resp, struct berth_authz_req *ar)
{
	berth_authz_attrs_parse(req, ar);
	if (!api->authn)
		return false;
	if (berth_authn_request(api, req, &ar->user)) {
		berth_resp_status(resp, berth_status_new(401, "Unauthorized",
							 "Unauthorized"));
		return true;
	}
	if (!impersonate(api, req, resp, &ar->user))
		return true;
	if (!berth_authz_allows(api, &ar->user, &ar->attrs, NULL, 0)) {
		pr_debug("forbidden: %s %s %s", ar->user.name, ar->attrs.verb,
			 req->path);
		forbidden(resp, &ar->user, &ar->attrs);
		return true;
	}
	if (api->nodeauthz && !node_restriction(api, req, resp, ar))
		return true;
	return review(api, req, resp, ar);
}

void berth_authz_after(struct berth_api *api, const struct berth_authz_req *ar,
		       const struct berth_http_resp *resp)
{
	const struct berth_authz_attrs *a = &ar->attrs;

	if (!api->rbac || !a->resource || strcmp(a->group, RBAC_GROUP))
		return;
	if (resp->code >= 200 && resp->code < 300 && strcmp(a->verb, "get") &&
	    strcmp(a->verb, "list") && strcmp(a->verb, "watch"))
		berth_rbac_invalidate(api->rbac);
}
