// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Authenticators: client certificates, the token file, ServiceAccount JWTs. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-c/json.h>

#include <berth/log.h>

#include "api.h"
#include "authn.h"
#include "bootstraptoken.h"
#include "jsonutil.h"
#include "registry.h"
#include "satoken.h"
#include "../store/store.h"

#define TOKEN_LINE_MAX 4096
#define BEARER "Bearer "

struct static_token {
	char *token;
	struct berth_user user;
};

struct berth_authn {
	struct static_token *tokens;
	size_t ntokens;
	bool anonymous;
};

int berth_user_add_group(struct berth_user *u, const char *g)
{
	if (!*g || berth_user_in_group(u, g))
		return 0;
	if (u->ngroups == BERTH_USER_MAX_GROUPS)
		return -ENOSPC;
	snprintf(u->groups[u->ngroups++], BERTH_GROUP_NAME_MAX, "%s", g);
	return 0;
}

bool berth_user_in_group(const struct berth_user *u, const char *g)
{
	size_t i;

	for (i = 0; i < u->ngroups; i++)
		if (!strcmp(u->groups[i], g))
			return true;
	return false;
}

struct json_object *berth_user_groups_json(const struct berth_user *u)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < u->ngroups; i++)
		json_object_array_add(a, json_object_new_string(u->groups[i]));
	return a;
}

static void user_set(struct berth_user *u, const char *name, const char *uid)
{
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), "%s", name);
	snprintf(u->uid, sizeof(u->uid), "%s", uid ? uid : "");
}

/* One CSV field, "quoted" (with "" for a quote) or bare; *p moves past it. */
static int csv_field(char **p, char *out, size_t size)
{
	char *s = *p;
	size_t n = 0;
	bool q = *s == '"';

	if (q)
		s++;
	for (; *s; s++) {
		if (q && *s == '"' && s[1] == '"')
			s++;
		else if (q && *s == '"') {
			q = false;
			continue;
		} else if (!q && (*s == ',' || *s == '\n' || *s == '\r'))
			break;
		if (n + 1 >= size)
			return -EINVAL;
		out[n++] = *s;
	}
	out[n] = 0;
	if (q)
		return -EINVAL;
	*p = *s == ',' ? s + 1 : s;
	return 0;
}

static int token_line(char *line, struct static_token *t)
{
	char tok[1024], name[256], uid[128], groups[2048], *p = line, *g, *save;

	groups[0] = 0;
	if (csv_field(&p, tok, sizeof(tok)) ||
	    csv_field(&p, name, sizeof(name)) ||
	    csv_field(&p, uid, sizeof(uid)) ||
	    (*p && *p != '\n' && csv_field(&p, groups, sizeof(groups))))
		return -EINVAL;
	if (!*tok || !*name)
		return -EINVAL;
	user_set(&t->user, name, uid);
	for (g = strtok_r(groups, ",", &save); g;
	     g = strtok_r(NULL, ",", &save))
		if (berth_user_add_group(&t->user, g))
			return -EINVAL;
	t->token = strdup(tok);
	return t->token ? 0 : -ENOMEM;
}

static int load_tokens(const char *path, struct berth_authn *a)
{
	char line[TOKEN_LINE_MAX];
	struct static_token *t;
	FILE *f = fopen(path, "r");
	int n = 0, ret = 0;

	if (!f) {
		pr_err("--token-auth-file %s: %s", path, strerror(errno));
		return -errno;
	}
	while (fgets(line, sizeof(line), f)) {
		n++;
		if (line[0] == '#' || line[strspn(line, " \t\r\n")] == 0)
			continue;
		t = realloc(a->tokens, (a->ntokens + 1) * sizeof(*t));
		if (!t) {
			ret = -ENOMEM;
			break;
		}
		a->tokens = t;
		ret = token_line(line, &t[a->ntokens]);
		if (ret) {
			pr_err("--token-auth-file %s:%d: want token,user,uid,\"group1,group2\"",
			       path, n);
			break;
		}
		a->ntokens++;
	}
	fclose(f);
	return ret;
}

int berth_authn_new(const char *token_file, bool anonymous,
		    struct berth_authn **out)
{
	struct berth_authn *a = calloc(1, sizeof(*a));
	int ret;

	if (!a)
		return -ENOMEM;
	a->anonymous = anonymous;
	if (token_file) {
		ret = load_tokens(token_file, a);
		if (ret) {
			berth_authn_free(a);
			return ret;
		}
	}
	*out = a;
	return 0;
}

void berth_authn_free(struct berth_authn *a)
{
	size_t i;

	if (!a)
		return;
	for (i = 0; i < a->ntokens; i++)
		free(a->tokens[i].token);
	free(a->tokens);
	free(a);
}

/* CN and every O of a verified client certificate. */
static int cert_user(const void *der, size_t len, struct berth_user *u)
{
	gnutls_datum_t d = { (unsigned char *)der, (unsigned int)len };
	gnutls_x509_crt_t crt;
	char buf[BERTH_GROUP_NAME_MAX];
	size_t n;
	unsigned int i;
	int ret = -EACCES;

	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(crt, &d, GNUTLS_X509_FMT_DER) < 0)
		goto out;
	n = sizeof(buf);
	if (gnutls_x509_crt_get_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
					  0, buf, &n) < 0 ||
	    !*buf)
		goto out;
	user_set(u, buf, NULL);
	for (i = 0;; i++) {
		n = sizeof(buf);
		if (gnutls_x509_crt_get_dn_by_oid(
			    crt, GNUTLS_OID_X520_ORGANIZATION_NAME, i, 0, buf,
			    &n) < 0)
			break;
		if (berth_user_add_group(u, buf))
			goto out;
	}
	ret = 0;
out:
	gnutls_x509_crt_deinit(crt);
	return ret;
}

/* Does the object ns/name of resource rname exist with this uid? */
static bool object_live(struct berth_api *api, const char *rname,
			const char *ns, const char *name, const char *uid)
{
	const struct berth_resource *r = berth_resource_find("", "v1", rname);
	struct berth_kv kv = { 0 };
	struct json_object *obj;
	const char *have;
	char key[1024];
	bool ok;

	if (!r || !name || !uid ||
	    berth_resource_key(r, ns, name, key, sizeof(key)) ||
	    berth_store_get(api->store, key, &kv))
		return false;
	obj = json_tokener_parse(kv.value);
	have = obj ? berth_json_path_str(obj, "metadata.uid") : NULL;
	ok = have && !strcmp(have, uid);
	json_object_put(obj);
	berth_kv_free(&kv);
	return ok;
}

/*
 * A token of ours: signature, time and issuer/audience by satoken.c; the
 * ServiceAccount and the pod or secret it is bound to must still exist
 * with the same uid, so deleting the pod revokes the token.
 */
/* The bound pod or secret (claims kio.pod / kio.secret), if any, lives. */
static bool bound_live(struct berth_api *api, struct json_object *kio,
		       const char *ns)
{
	const char *pod = berth_json_path_str(kio, "pod.name");
	const char *sec = berth_json_path_str(kio, "secret.name");

	if (pod && !object_live(api, "pods", ns, pod,
				berth_json_path_str(kio, "pod.uid")))
		return false;
	if (sec && !object_live(api, "secrets", ns, sec,
				berth_json_path_str(kio, "secret.uid")))
		return false;
	return true;
}

/*
 * A token of ours: signature, time and issuer/audience by satoken.c; the
 * ServiceAccount and the pod or secret it is bound to must still exist
 * with the same uid, so deleting the pod revokes the token.
 */
static int sa_user(struct berth_api *api, const char *token,
		   struct berth_user *u)
{
	struct json_object *c = NULL, *kio = NULL;
	const char *ns, *sa, *sa_uid, *pod;
	char name[BERTH_USER_NAME_MAX], g[BERTH_GROUP_NAME_MAX];
	int ret;

	if (!api->sa_key)
		return -EACCES;
	ret = berth_sa_token_verify(api->sa_key, token, api->sa_issuer,
				    api->sa_issuer, time(NULL), &c);
	if (ret) {
		pr_debug("service account token: %s", strerror(-ret));
		return -EACCES;
	}
	ret = -EACCES;
	/* "kubernetes.io" has a dot: no path lookup from the top */
	json_object_object_get_ex(c, "kubernetes.io", &kio);
	ns = kio ? berth_json_path_str(kio, "namespace") : NULL;
	sa = kio ? berth_json_path_str(kio, "serviceaccount.name") : NULL;
	sa_uid = kio ? berth_json_path_str(kio, "serviceaccount.uid") : NULL;
	if (!ns || !sa ||
	    !object_live(api, "serviceaccounts", ns, sa, sa_uid) ||
	    !bound_live(api, kio, ns)) {
		pr_debug("service account token: its account or pod is gone");
		goto out;
	}
	snprintf(name, sizeof(name), BERTH_SA_USER_PREFIX "%s:%s", ns, sa);
	user_set(u, name, sa_uid);
	pod = berth_json_path_str(kio, "pod.name");
	if (pod) {
		snprintf(u->pod_name, sizeof(u->pod_name), "%s", pod);
		snprintf(u->pod_uid, sizeof(u->pod_uid), "%s",
			 berth_json_path_str(kio, "pod.uid") ?: "");
	}
	snprintf(g, sizeof(g), "system:serviceaccounts:%s", ns);
	berth_user_add_group(u, "system:serviceaccounts");
	berth_user_add_group(u, g);
	ret = 0;
out:
	json_object_put(c);
	return ret;
}

/* Compares every byte of equal-length strings: no timing hint of a prefix. */
static bool token_equal(const char *a, const char *b)
{
	size_t n = strlen(a), i;
	unsigned char d = 0;

	if (n != strlen(b))
		return false;
	for (i = 0; i < n; i++)
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return !d;
}

static int token_user(struct berth_api *api, const char *token,
		      struct berth_user *u)
{
	const struct berth_authn *a = api->authn;
	size_t i;

	for (i = 0; i < a->ntokens; i++)
		if (token_equal(a->tokens[i].token, token)) {
			*u = a->tokens[i].user;
			return 0;
		}
	if (berth_bootstrap_token_form(token))
		return berth_bootstrap_token_user(api, token, u);
	return sa_user(api, token, u);
}

static int credentials(struct berth_api *api, const struct berth_http_req *req,
		       struct berth_user *u)
{
	const char *auth = berth_http_header(req, "Authorization");
	const void *der;
	size_t len;
	int ret;

	ret = berth_http_peer_cert(req, &der, &len);
	if (ret == -EACCES)
		return -EACCES;
	if (!ret)
		return cert_user(der, len, u);
	if (auth && !strncasecmp(auth, BEARER, strlen(BEARER))) {
		auth += strlen(BEARER);
		auth += strspn(auth, " ");
		return *auth ? token_user(api, auth, u) : -EACCES;
	}
	if (auth)
		return -EACCES;
	return -ENOENT;
}

int berth_authn_request(struct berth_api *api, const struct berth_http_req *req,
			struct berth_user *u)
{
	int ret;

	/*
	 * No connection: the in-process controllers and scheduler
	 * (controllers/client.c), privileged like kube-apiserver's loopback
	 * client.
	 */
	if (!req->conn) {
		user_set(u, "system:apiserver", NULL);
		berth_user_add_group(u, BERTH_GROUP_MASTERS);
		berth_user_add_group(u, BERTH_GROUP_AUTHENTICATED);
		return 0;
	}
	if (req->trusted) {
		user_set(u, "system:admin", NULL);
		berth_user_add_group(u, BERTH_GROUP_MASTERS);
		berth_user_add_group(u, BERTH_GROUP_AUTHENTICATED);
		return 0;
	}
	ret = credentials(api, req, u);
	if (ret == -ENOENT && api->authn->anonymous) {
		user_set(u, BERTH_USER_ANONYMOUS, NULL);
		berth_user_add_group(u, BERTH_GROUP_UNAUTHENTICATED);
		return 0;
	}
	if (ret)
		return -EACCES;
	return berth_user_add_group(u, BERTH_GROUP_AUTHENTICATED) ? -EACCES : 0;
}
