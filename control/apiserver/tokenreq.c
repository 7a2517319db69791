// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * TokenRequest: a ServiceAccount token signed by the server, bound to an
 * audience, a lifetime and optionally a Pod or Secret, with the claims
 * kube-apiserver puts in one; errors as kube-apiserver answers them.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include "../store/store.h"
#include "jsonutil.h"
#include "proto.h"
#include "registry.h"
#include "satoken.h"
#include "status.h"
#include "tokenreq.h"

#define KEY_MAX 1024
#define MAX_EXPIRATION_S (1LL << 32) /* validation's upper bound */

/* An object of resource rname from the store; 0, -ENOENT or -errno. */
static int get_obj(struct berth_api *api, const char *rname, const char *ns,
		   const char *name, struct json_object **out)
{
	const struct berth_resource *r = berth_resource_find("", "v1", rname);
	struct berth_kv kv = { 0 };
	char key[KEY_MAX];
	int err;

	*out = NULL;
	if (!r || !name || !*name)
		return -ENOENT;
	err = berth_resource_key(r, ns, name, key, sizeof(key));
	if (!err)
		err = berth_store_get(api->store, key, &kv);
	if (err)
		return err;
	*out = berth_json_parse(kv.value, kv.value_len, NULL);
	berth_kv_free(&kv);
	return *out ? 0 : -EIO;
}

static void obj_error(struct berth_call *c, int err, const char *rname,
		      const char *name)
{
	struct json_object *st;

	if (err != -ENOENT) {
		berth_resp_error(c->resp, 500, NULL, "storage error: %s",
				 strerror(-err));
		return;
	}
	st = berth_status_new(404, "NotFound", "%s \"%s\" not found", rname,
			      name);
	berth_resp_status(c->resp, berth_status_details(st, name, "", rname));
}

static void invalid(struct berth_call *c, const char *field, long long v,
		    const char *why)
{
	struct json_object *st;
	char msg[256];

	snprintf(msg, sizeof(msg), "Invalid value: %lld: %s", v, why);
	st = berth_status_new(
		422, "Invalid",
		"TokenRequest.authentication.k8s.io \"\" is invalid: %s: %s",
		field, msg);
	berth_status_details(st, "", "authentication.k8s.io", "TokenRequest");
	berth_status_cause(st, "FieldValueInvalid", field, msg);
	berth_resp_status(c->resp, st);
}

static struct json_object *name_uid(struct json_object *obj)
{
	struct json_object *o = json_object_new_object();

	berth_json_set_str(o, "name",
			   berth_json_path_str(obj, "metadata.name") ?: "");
	berth_json_set_str(o, "uid",
			   berth_json_path_str(obj, "metadata.uid") ?: "");
	return o;
}

/* The request's spec, checked for types; an answered 400 returns -1. */
static int decode_spec(struct berth_call *c, struct json_object *body,
		       struct json_object **spec)
{
	const char *kind = berth_json_get_str(body, "kind");
	struct json_object *s, *v;

	if (kind && strcmp(kind, "TokenRequest")) {
		berth_resp_error(c->resp, 400, NULL,
				 "expected a TokenRequest, got %s", kind);
		return -1;
	}
	if (!json_object_object_get_ex(body, "spec", &s) || !s)
		s = berth_json_obj(body, "spec");
	if (!json_object_is_type(s, json_type_object))
		goto bad;
	if (json_object_object_get_ex(s, "audiences", &v) && v) {
		if (!json_object_is_type(v, json_type_array))
			goto bad;
		for (size_t i = 0; i < json_object_array_length(v); i++)
			if (!json_object_is_type(json_object_array_get_idx(v,
									   i),
						 json_type_string))
				goto bad;
	}
	if (json_object_object_get_ex(s, "expirationSeconds", &v) && v &&
	    !json_object_is_type(v, json_type_int))
		goto bad;
	if (json_object_object_get_ex(s, "boundObjectRef", &v) && v &&
	    !json_object_is_type(v, json_type_object))
		goto bad;
	*spec = s;
	return 0;
bad:
	berth_resp_error(
		c->resp, 400, NULL,
		"error decoding request body: malformed TokenRequest spec");
	return -1;
}

/*
 * The bound object's claims into kio ("pod"/"secret", and the pod's
 * "node"); an answered error returns -1.
 */
static int bind_object(struct berth_call *c, struct json_object *ref,
		       struct json_object *kio)
{
	const char *kind = berth_json_get_str(ref, "kind");
	const char *av = berth_json_get_str(ref, "apiVersion");
	const char *name = berth_json_get_str(ref, "name");
	const char *uid = berth_json_get_str(ref, "uid");
	const char *rname, *have_uid, *sa, *node;
	struct json_object *obj = NULL, *n = NULL, *st;
	bool pod;
	int err;

	pod = kind && !strcmp(kind, "Pod");
	if ((av && strcmp(av, "v1")) || !kind ||
	    (!pod && strcmp(kind, "Secret"))) {
		berth_resp_error(
			c->resp, 400, "BadRequest",
			"cannot bind token to object of type %s, Kind=%s",
			av ? av : "", kind ? kind : "");
		return -1;
	}
	rname = pod ? "pods" : "secrets";
	err = get_obj(c->api, rname, c->ns, name, &obj);
	if (err) {
		obj_error(c, err, rname, name ? name : "");
		return -1;
	}
	if (pod) {
		sa = berth_json_path_str(obj, "spec.serviceAccountName");
		if (strcmp(sa && *sa ? sa : "default", c->name)) {
			berth_resp_error(
				c->resp, 400, "BadRequest",
				"cannot bind token for serviceaccount \"%s\" to pod running with different serviceaccount name.",
				c->name);
			goto fail;
		}
	}
	have_uid = berth_json_path_str(obj, "metadata.uid") ?: "";
	if (uid && *uid && strcmp(uid, have_uid)) {
		st = berth_status_new(
			409, "Conflict",
			"Operation cannot be fulfilled on %s \"%s\": the UID in the bound object reference (%s) does not match the UID in record. The object might have been deleted and then recreated",
			kind, name, uid);
		berth_resp_status(c->resp,
				  berth_status_details(st, name, "", kind));
		goto fail;
	}
	json_object_object_add(kio, pod ? "pod" : "secret", name_uid(obj));
	node = pod ? berth_json_path_str(obj, "spec.nodeName") : NULL;
	/* a pod's token names its node, so the node's loss can void it */
	if (node && *node) {
		if (get_obj(c->api, "nodes", NULL, node, &n)) {
			n = json_object_new_object();
			berth_json_set_str(berth_json_obj(n, "metadata"),
					   "name", node);
		}
		json_object_object_add(kio, "node", name_uid(n));
		json_object_put(n);
	}
	json_object_put(obj);
	return 0;
fail:
	json_object_put(obj);
	return -1;
}

static struct json_object *claims_new(struct berth_call *c,
				      struct json_object *sa,
				      struct json_object *auds,
				      struct json_object *kio, time_t now,
				      int64_t exp_s)
{
	struct json_object *cl = json_object_new_object();
	char sub[600], jti[40];

	snprintf(sub, sizeof(sub), "system:serviceaccount:%s:%s", c->ns,
		 c->name);
	berth_new_uid(jti, sizeof(jti));
	json_object_object_add(cl, "aud", json_object_get(auds));
	berth_json_set_int(cl, "exp", (int64_t)now + exp_s);
	berth_json_set_int(cl, "iat", (int64_t)now);
	berth_json_set_str(cl, "iss", c->api->sa_issuer);
	berth_json_set_str(cl, "jti", jti);
	berth_json_set_str(kio, "namespace", c->ns);
	json_object_object_add(kio, "serviceaccount", name_uid(sa));
	json_object_object_add(cl, "kubernetes.io", json_object_get(kio));
	berth_json_set_int(cl, "nbf", (int64_t)now);
	berth_json_set_str(cl, "sub", sub);
	return cl;
}

/* expirationSeconds: defaulted, validated (-1: answered 422), capped. */
static int expiration(struct berth_call *c, struct json_object *spec,
		      int64_t *out)
{
	struct json_object *v;
	int64_t e = BERTH_SA_DEFAULT_EXPIRATION_S;

	if (json_object_object_get_ex(spec, "expirationSeconds", &v) && v)
		e = json_object_get_int64(v);
	if (e < BERTH_SA_MIN_EXPIRATION_S) {
		invalid(c, "spec.expirationSeconds", (long long)e,
			"may not specify a duration less than 10 minutes");
		return -1;
	}
	if (e > MAX_EXPIRATION_S) {
		invalid(c, "spec.expirationSeconds", (long long)e,
			"may not specify a duration larger than 2^32 seconds");
		return -1;
	}
	if (c->api->sa_max_expiration_s > 0 && e > c->api->sa_max_expiration_s)
		e = c->api->sa_max_expiration_s;
	*out = e;
	return 0;
}

static void respond(struct berth_call *c, struct json_object *body,
		    struct json_object *spec, const char *token, time_t exp)
{
	struct json_object *out = json_object_new_object(), *m, *st;
	char ts[32];
	struct tm tm;

	berth_json_set_str(out, "kind", "TokenRequest");
	berth_json_set_str(out, "apiVersion", "authentication.k8s.io/v1");
	if (!json_object_object_get_ex(body, "metadata", &m) ||
	    !json_object_is_type(m, json_type_object))
		m = NULL;
	m = m ? berth_json_copy(m) : json_object_new_object();
	berth_json_set_str(m, "name", c->name);
	berth_json_set_str(m, "namespace", c->ns);
	json_object_object_add(out, "metadata", m);
	json_object_object_add(out, "spec", json_object_get(spec));
	st = berth_json_obj(out, "status");
	berth_json_set_str(st, "token", token);
	gmtime_r(&exp, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	berth_json_set_str(st, "expirationTimestamp", ts);
	berth_resp_json(c->resp, 201, out);
}

static struct json_object *parse_body(struct berth_call *c)
{
	struct json_object *body;
	const char *err = NULL, *ctype;

	if (c->req->too_large) {
		berth_resp_error(c->resp, 413, NULL,
				 "Request entity too large: limit is %d",
				 BERTH_HTTP_MAX_BODY);
		return NULL;
	}
	ctype = berth_http_header(c->req, "Content-Type");
	if (ctype &&
	    !strncmp(ctype, BERTH_PROTO_MEDIA, strlen(BERTH_PROTO_MEDIA))) {
		char msg[160];

		body = berth_proto_decode(c->req->body, c->req->body_len, msg,
					  sizeof(msg));
		if (!body)
			berth_resp_error(c->resp, 415, NULL, "%s", msg);
		return body;
	}
	body = berth_json_parse(c->req->body, c->req->body_len, &err);
	if (!body || !json_object_is_type(body, json_type_object)) {
		berth_resp_error(c->resp, 400, NULL,
				 "error decoding request body: %s",
				 !c->req->body_len ? "empty body" :
				 body		   ? "not a JSON object" :
						     err);
		json_object_put(body);
		return NULL;
	}
	return body;
}

void berth_tokenreq_create(struct berth_call *c)
{
	struct json_object *body, *spec, *sa = NULL, *auds, *ref;
	struct json_object *kio = json_object_new_object(), *cl = NULL;
	char *token = NULL;
	time_t now = time(NULL);
	int64_t exp_s;
	int err;

	if (!c->api->sa_key) {
		berth_resp_error(
			c->resp, 503, NULL,
			"no service account signing key is configured");
		json_object_put(kio);
		return;
	}
	body = parse_body(c);
	if (!body || decode_spec(c, body, &spec) || expiration(c, spec, &exp_s))
		goto out;
	err = get_obj(c->api, "serviceaccounts", c->ns, c->name, &sa);
	if (err) {
		berth_rest_store_error(c, err, c->name);
		goto out;
	}
	if (json_object_object_get_ex(spec, "boundObjectRef", &ref) && ref &&
	    bind_object(c, ref, kio))
		goto out;
	if (!json_object_object_get_ex(spec, "audiences", &auds) || !auds ||
	    !json_object_array_length(auds)) {
		auds = json_object_new_array();
		json_object_array_add(
			auds, json_object_new_string(c->api->sa_issuer));
		json_object_object_add(spec, "audiences", auds);
	}
	berth_json_set_int(spec, "expirationSeconds", exp_s);
	cl = claims_new(c, sa, auds, kio, now, exp_s);
	err = berth_sa_token_sign(c->api->sa_key, cl, &token);
	if (err) {
		berth_resp_error(c->resp, 500, NULL, "failed to sign token: %s",
				 strerror(-err));
		goto out;
	}
	respond(c, body, spec, token, now + (time_t)exp_s);
out:
	free(token);
	json_object_put(cl);
	json_object_put(kio);
	json_object_put(sa);
	json_object_put(body);
}

void berth_oidc_jwks(struct berth_api *api, struct berth_http_resp *resp)
{
	struct json_object *set, *keys, *jwk;

	if (!api->sa_key || !(jwk = berth_sa_key_jwk(api->sa_key))) {
		berth_resp_error(
			resp, 404, "NotFound",
			"the server could not find the requested resource");
		return;
	}
	set = json_object_new_object();
	keys = json_object_new_array();
	json_object_array_add(keys, jwk);
	json_object_object_add(set, "keys", keys);
	berth_resp_json(resp, 200, set);
	resp->content_type = "application/jwk-set+json";
}

static struct json_object *one_str(const char *s)
{
	struct json_object *a = json_object_new_array();

	json_object_array_add(a, json_object_new_string(s));
	return a;
}

void berth_oidc_config(struct berth_api *api, struct berth_http_resp *resp)
{
	struct json_object *o;
	char uri[512];

	if (!api->sa_key) {
		berth_resp_error(
			resp, 404, "NotFound",
			"the server could not find the requested resource");
		return;
	}
	o = json_object_new_object();
	snprintf(uri, sizeof(uri), "http://%s/openid/v1/jwks",
		 api->server_addr);
	berth_json_set_str(o, "issuer", api->sa_issuer);
	berth_json_set_str(o, "jwks_uri", uri);
	json_object_object_add(o, "response_types_supported",
			       one_str("id_token"));
	json_object_object_add(o, "subject_types_supported", one_str("public"));
	json_object_object_add(o, "id_token_signing_alg_values_supported",
			       one_str("RS256"));
	berth_resp_json(resp, 200, o);
}
