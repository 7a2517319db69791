// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* CertificateSigningRequests: requester, auto-approval and signing. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-c/json.h>

#include <berth/base64.h>
#include <berth/log.h>

#include "admit.h"
#include "api.h"
#include "authn.h"
#include "authz.h"
#include "bootstraptoken.h"
#include "csr.h"
#include "jsonutil.h"
#include "nodeauthz.h"
#include "rest.h"
#include "status.h"
#include "tls.h"

#define BACKDATE_S 60 /* clocks of clients a little behind */
#define SUBJECT_MAX 256
#define MAX_ORGS 8

struct berth_csr_signer {
	gnutls_x509_crt_t ca;
	gnutls_x509_privkey_t key;
};

/* The subject and usages a request asks for. */
struct csr_req {
	gnutls_x509_crq_t crq;
	char cn[SUBJECT_MAX];
	char orgs[MAX_ORGS][SUBJECT_MAX];
	size_t norgs;
	bool client_auth; /* usages has "client auth" */
	bool key_encipherment;
	bool other_usage; /* anything a client certificate does not need */
};

static char *read_file(const char *path)
{
	FILE *f = fopen(path, "re");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (!fseek(f, 0, SEEK_END) && (n = ftell(f)) > 0 && n < (1 << 20) &&
	    !fseek(f, 0, SEEK_SET)) {
		buf = calloc(1, n + 1);
		if (buf && fread(buf, 1, n, f) != (size_t)n) {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

int berth_csr_signer_load(const char *ca_crt, const char *ca_key,
			  struct berth_csr_signer **out)
{
	struct berth_csr_signer *s = calloc(1, sizeof(*s));
	char *crt = read_file(ca_crt), *key = read_file(ca_key);
	gnutls_datum_t dc, dk;
	int ret = -EINVAL;

	if (!s || !crt || !key) {
		ret = s ? -ENOENT : -ENOMEM;
		goto out;
	}
	dc = (gnutls_datum_t){ (unsigned char *)crt,
			       (unsigned int)strlen(crt) };
	dk = (gnutls_datum_t){ (unsigned char *)key,
			       (unsigned int)strlen(key) };
	if (gnutls_x509_crt_init(&s->ca) < 0 ||
	    gnutls_x509_privkey_init(&s->key) < 0 ||
	    gnutls_x509_crt_import(s->ca, &dc, GNUTLS_X509_FMT_PEM) < 0 ||
	    gnutls_x509_privkey_import2(s->key, &dk, GNUTLS_X509_FMT_PEM, NULL,
					GNUTLS_PKCS_PLAIN) < 0)
		goto out;
	*out = s;
	s = NULL;
	ret = 0;
out:
	if (ret)
		pr_err("csr signer: load %s and %s: %s", ca_crt, ca_key,
		       strerror(-ret));
	berth_csr_signer_free(s);
	free(crt);
	if (key)
		memset(key, 0, strlen(key));
	free(key);
	return ret;
}

void berth_csr_signer_free(struct berth_csr_signer *s)
{
	if (!s)
		return;
	if (s->ca)
		gnutls_x509_crt_deinit(s->ca);
	if (s->key)
		gnutls_x509_privkey_deinit(s->key);
	free(s);
}

static void req_free(struct csr_req *r)
{
	if (r->crq)
		gnutls_x509_crq_deinit(r->crq);
	r->crq = NULL;
}

static void req_usages(struct csr_req *r, struct json_object *usages)
{
	size_t i, n = json_object_is_type(usages, json_type_array) ?
			      json_object_array_length(usages) :
			      0;

	for (i = 0; i < n; i++) {
		const char *u = json_object_get_string(
			json_object_array_get_idx(usages, i));

		if (!u)
			r->other_usage = true;
		else if (!strcmp(u, "client auth"))
			r->client_auth = true;
		else if (!strcmp(u, "key encipherment"))
			r->key_encipherment = true;
		else if (strcmp(u, "digital signature"))
			r->other_usage = true;
	}
}

/* spec.request: base64 of a PEM CERTIFICATE REQUEST, self-signed. */
static const char *req_parse(struct json_object *spec, struct csr_req *r)
{
	const char *b64 = berth_json_get_str(spec, "request");
	gnutls_datum_t d;
	size_t n, sz;
	char *pem;
	int ok;

	memset(r, 0, sizeof(*r));
	if (!b64 || !*b64)
		return "required";
	pem = berth_base64_decode(b64, false, &n);
	if (!pem)
		return "not base64";
	d = (gnutls_datum_t){ (unsigned char *)pem, (unsigned int)n };
	ok = gnutls_x509_crq_init(&r->crq) >= 0 &&
	     gnutls_x509_crq_import(r->crq, &d, GNUTLS_X509_FMT_PEM) >= 0;
	free(pem);
	if (!ok)
		return "not a PEM CERTIFICATE REQUEST";
	if (gnutls_x509_crq_verify(r->crq, 0) < 0)
		return "its signature does not verify";
	sz = sizeof(r->cn);
	if (gnutls_x509_crq_get_dn_by_oid(r->crq, GNUTLS_OID_X520_COMMON_NAME,
					  0, 0, r->cn, &sz) < 0)
		r->cn[0] = 0;
	for (; r->norgs < MAX_ORGS; r->norgs++) {
		sz = SUBJECT_MAX;
		if (gnutls_x509_crq_get_dn_by_oid(
			    r->crq, GNUTLS_OID_X520_ORGANIZATION_NAME, r->norgs,
			    0, r->orgs[r->norgs], &sz) < 0)
			break;
	}
	req_usages(r, berth_json_path(spec, "usages"));
	return NULL;
}

/* What the kubelet signer insists on; NULL: fine. */
static const char *kubelet_violation(const struct csr_req *r)
{
	if (strncmp(r->cn, BERTH_NODE_USER_PREFIX,
		    strlen(BERTH_NODE_USER_PREFIX)) ||
	    !r->cn[strlen(BERTH_NODE_USER_PREFIX)])
		return "subject CN must be system:node:<name>";
	if (r->norgs != 1 || strcmp(r->orgs[0], BERTH_GROUP_NODES))
		return "subject O must be exactly system:nodes";
	if (!r->client_auth || r->other_usage)
		return "usages must be client auth (with digital signature, key encipherment)";
	return NULL;
}

static const char *signer_violation(const char *signer, const struct csr_req *r)
{
	if (!strcmp(signer, BERTH_SIGNER_KUBELET_CLIENT))
		return kubelet_violation(r);
	if (!r->client_auth || r->other_usage)
		return "usages must be client auth (with digital signature, key encipherment)";
	return NULL;
}

static long lifetime(struct json_object *spec)
{
	long s = berth_json_get_int(spec, "expirationSeconds", 0);

	if (s <= 0 || s > BERTH_CSR_MAX_SECONDS)
		return BERTH_CSR_MAX_SECONDS;
	return s < BERTH_CSR_MIN_SECONDS ? BERTH_CSR_MIN_SECONDS : s;
}

/* A client certificate for r's subject and key, PEM into *pem. */
static int sign(struct berth_csr_signer *s, const struct csr_req *r, long secs,
		char **pem)
{
	unsigned int usage = GNUTLS_KEY_DIGITAL_SIGNATURE;
	time_t now = time(NULL), end = now + secs,
	       ca_end = gnutls_x509_crt_get_expiration_time(s->ca);
	gnutls_datum_t d = { 0 };
	unsigned char serial[16];
	gnutls_x509_crt_t crt;
	int ret = -EINVAL;

	if (r->key_encipherment)
		usage |= GNUTLS_KEY_KEY_ENCIPHERMENT;
	if (ca_end > 0 && end > ca_end)
		end = ca_end; /* never outlive the CA */
	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
		goto out;
	serial[0] &= 0x7f; /* a positive INTEGER */
	if (gnutls_x509_crt_set_crq(crt, r->crq) < 0 ||
	    gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - BACKDATE_S) < 0 ||
	    gnutls_x509_crt_set_expiration_time(crt, end) < 0 ||
	    gnutls_x509_crt_set_basic_constraints(crt, 0, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, usage) < 0 ||
	    gnutls_x509_crt_set_key_purpose_oid(crt, GNUTLS_KP_TLS_WWW_CLIENT,
						0) < 0 ||
	    berth_tls_set_key_ids(crt, s->ca) ||
	    gnutls_x509_crt_sign2(crt, s->ca, s->key, GNUTLS_DIG_SHA256, 0) <
		    0 ||
	    gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0)
		goto out;
	*pem = strndup((const char *)d.data, d.size);
	ret = *pem ? 0 : -ENOMEM;
out:
	gnutls_free(d.data);
	gnutls_x509_crt_deinit(crt);
	return ret;
}

static void add_condition(struct json_object *obj, const char *type,
			  const char *reason, const char *msg)
{
	struct json_object *st = berth_json_obj(obj, "status"), *conds = NULL;
	struct json_object *c = json_object_new_object();
	char now[32];

	if (!json_object_object_get_ex(st, "conditions", &conds) ||
	    !json_object_is_type(conds, json_type_array)) {
		conds = json_object_new_array();
		json_object_object_add(st, "conditions", conds);
	}
	berth_now_rfc3339(now, sizeof(now));
	berth_json_set_str(c, "type", type);
	berth_json_set_str(c, "status", "True");
	berth_json_set_str(c, "reason", reason);
	berth_json_set_str(c, "message", msg);
	berth_json_set_str(c, "lastUpdateTime", now);
	berth_json_set_str(c, "lastTransitionTime", now);
	json_object_array_add(conds, c);
}

static bool has_condition(struct json_object *obj, const char *type)
{
	struct json_object *conds = berth_json_path(obj, "status.conditions");
	size_t i, n = json_object_is_type(conds, json_type_array) ?
			      json_object_array_length(conds) :
			      0;

	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *st = berth_json_get_str(c, "status");

		if (!strcmp(berth_json_get_str(c, "type") ?: "", type) &&
		    (!st || !strcmp(st, "True")))
			return true;
	}
	return false;
}

static bool ours(const char *signer)
{
	return signer && (!strcmp(signer, BERTH_SIGNER_KUBELET_CLIENT) ||
			  !strcmp(signer, BERTH_SIGNER_CLIENT));
}

/* Sign obj if it is approved, ours, and not yet issued or failed. */
static void issue(struct berth_api *api, struct json_object *obj)
{
	struct json_object *spec = berth_json_obj(obj, "spec");
	const char *signer = berth_json_get_str(spec, "signerName");
	const char *bad;
	struct csr_req r;
	char *pem = NULL, *b64;

	if (!ours(signer) || !has_condition(obj, "Approved") ||
	    has_condition(obj, "Denied") || has_condition(obj, "Failed") ||
	    berth_json_path_str(obj, "status.certificate") || !api->csr_signer)
		return;
	bad = req_parse(spec, &r);
	if (!bad)
		bad = signer_violation(signer, &r);
	if (!bad && sign(api->csr_signer, &r, lifetime(spec), &pem))
		bad = "signing failed";
	req_free(&r);
	if (bad) {
		add_condition(obj, "Failed", "SignerValidationFailure", bad);
		return;
	}
	b64 = berth_base64(pem, strlen(pem), false);
	free(pem);
	if (b64)
		berth_json_set_str(berth_json_obj(obj, "status"), "certificate",
				   b64);
	free(b64);
}

static void set_requester(struct berth_call *c, struct json_object *spec)
{
	const struct berth_user *u = c->user;

	if (!u)
		return; /* in-process: the object says who */
	berth_json_set_str(spec, "username", u->name);
	if (*u->uid)
		berth_json_set_str(spec, "uid", u->uid);
	else
		json_object_object_del(spec, "uid");
	json_object_object_add(spec, "groups", berth_user_groups_json(u));
}

/*
 * A node asking for its own client certificate: a bootstrap token for
 * any node name, or a node renewing the certificate it already has.
 */
static bool node_client_request(struct json_object *spec,
				const struct csr_req *r)
{
	const char *signer = berth_json_get_str(spec, "signerName");
	const char *user = berth_json_get_str(spec, "username");
	struct json_object *groups = berth_json_path(spec, "groups");
	size_t i, n = json_object_is_type(groups, json_type_array) ?
			      json_object_array_length(groups) :
			      0;
	bool bootstrapper = false, node = false;

	if (!signer || strcmp(signer, BERTH_SIGNER_KUBELET_CLIENT) ||
	    kubelet_violation(r))
		return false;
	for (i = 0; i < n; i++) {
		const char *g = json_object_get_string(
			json_object_array_get_idx(groups, i));

		bootstrapper |= g && !strcmp(g, BERTH_GROUP_BOOTSTRAPPERS);
		node |= g && !strcmp(g, BERTH_GROUP_NODES);
	}
	return bootstrapper || (node && user && !strcmp(user, r->cn));
}

void berth_csr_create(struct berth_call *c, struct json_object *obj,
		      struct berth_verrs *ve)
{
	struct json_object *spec = berth_json_obj(obj, "spec");
	const char *signer = berth_json_get_str(spec, "signerName");
	const char *bad;
	struct csr_req r;

	set_requester(c, spec);
	if (!signer || !*signer)
		berth_verr(ve, BERTH_VERR_REQUIRED, "spec.signerName", NULL,
			   "a signer name is required");
	bad = req_parse(spec, &r);
	if (bad) {
		berth_verr(ve, BERTH_VERR_INVALID, "spec.request", NULL, bad);
	} else if (node_client_request(spec, &r)) {
		add_condition(obj, "Approved", "AutoApproved",
			      "Auto approving a node client certificate");
		issue(c->api, obj);
	}
	req_free(&r);
}

static bool may_approve(struct berth_call *c, const char *name)
{
	struct berth_authz_attrs a = {
		.verb = "approve",
		.resource = true,
		.group = "certificates.k8s.io",
		.version = "v1",
		.res = "signers",
		.name = name,
		.path = "",
	};

	return berth_authz_allows(c->api, c->user, &a, NULL, 0);
}

struct json_object *berth_csr_approval_check(struct berth_call *c,
					     struct json_object *fin,
					     struct json_object *old)
{
	const char *signer = berth_json_path_str(old, "spec.signerName");
	char wild[512];
	const char *slash;

	if (!c->user || !c->api || strcmp(c->sub ?: "", "approval"))
		return NULL; /* the server itself */
	if ((!has_condition(fin, "Approved") ||
	     has_condition(old, "Approved")) &&
	    (!has_condition(fin, "Denied") || has_condition(old, "Denied")))
		return NULL; /* no new decision */
	signer = signer ?: "";
	slash = strchr(signer, '/');
	snprintf(wild, sizeof(wild), "%.*s/*",
		 slash ? (int)(slash - signer) : (int)strlen(signer), signer);
	if (may_approve(c, signer) || may_approve(c, wild))
		return NULL;
	return berth_status_new(
		403, "Forbidden",
		"certificatesigningrequests.certificates.k8s.io \"%s\" is forbidden: user not permitted to approve requests with signerName \"%s\"",
		berth_json_path_str(old, "metadata.name") ?: "", signer);
}

void berth_csr_update(struct berth_call *c, struct json_object *fin,
		      struct json_object *old, struct berth_verrs *ve)
{
	struct json_object *cert = berth_json_path(old, "status.certificate");
	struct json_object *st = berth_json_obj(fin, "status");

	(void)ve;
	if (!strcmp(c->sub, "approval")) {
		/* approval changes the conditions, never the certificate */
		if (cert)
			json_object_object_add(st, "certificate",
					       berth_json_copy(cert));
		else
			json_object_object_del(st, "certificate");
	}
	issue(c->api, fin);
}

void berth_csr_condition(struct json_object *obj, char *buf, size_t size)
{
	static const char *const types[] = { "Approved", "Denied", "Failed" };
	size_t i, n = 0;

	*buf = 0;
	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (has_condition(obj, types[i]))
			n += snprintf(buf + n, n < size ? size - n : 0, "%s%s",
				      n ? "," : "", types[i]);
	if (berth_json_path_str(obj, "status.certificate"))
		n += snprintf(buf + n, n < size ? size - n : 0, "%s%s",
			      n ? "," : "", "Issued");
	if (!n)
		snprintf(buf, size, "Pending");
}
