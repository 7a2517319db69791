// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The server's CA and certificates, made with GnuTLS's x509 API. */
#define _GNU_SOURCE /* asprintf */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>

#include <berth/fsutil.h>
#include <berth/log.h>

#include "tls.h"

#define PEM_MAX (1024 * 1024)
#define BACKDATE_S 300 /* a client whose clock is behind still accepts */
#define DAY_S 86400

struct cert_req {
	const char *cn;
	const char *const *orgs; /* NULL-ended or NULL */
	bool ca, server, client;
	const struct berth_tls_opts *sans; /* server only */
	int days;
};

static int datum_dup(const gnutls_datum_t *d, char **out)
{
	*out = malloc(d->size + 1);
	if (!*out)
		return -ENOMEM;
	memcpy(*out, d->data, d->size);
	(*out)[d->size] = 0;
	return 0;
}

static int crt_pem(gnutls_x509_crt_t crt, char **out)
{
	gnutls_datum_t d = { 0 };
	int ret;

	if (gnutls_x509_crt_export2(crt, GNUTLS_X509_FMT_PEM, &d) < 0)
		return -EINVAL;
	ret = datum_dup(&d, out);
	gnutls_free(d.data);
	return ret;
}

static int key_pem(gnutls_x509_privkey_t key, char **out)
{
	gnutls_datum_t d = { 0 };
	int ret;

	if (gnutls_x509_privkey_export2_pkcs8(key, GNUTLS_X509_FMT_PEM, NULL,
					      GNUTLS_PKCS_PLAIN, &d) < 0)
		return -EINVAL;
	ret = datum_dup(&d, out);
	gnutls_free(d.data);
	return ret;
}

static int crt_from_pem(const char *pem, gnutls_x509_crt_t *out)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned int)strlen(pem) };

	if (gnutls_x509_crt_init(out) < 0)
		return -ENOMEM;
	if (gnutls_x509_crt_import(*out, &d, GNUTLS_X509_FMT_PEM) < 0) {
		gnutls_x509_crt_deinit(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static int key_from_pem(const char *pem, gnutls_x509_privkey_t *out)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned int)strlen(pem) };

	if (gnutls_x509_privkey_init(out) < 0)
		return -ENOMEM;
	if (gnutls_x509_privkey_import2(*out, &d, GNUTLS_X509_FMT_PEM, NULL,
					GNUTLS_PKCS_PLAIN) < 0) {
		gnutls_x509_privkey_deinit(*out);
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

static int new_key(gnutls_x509_privkey_t *out)
{
	if (gnutls_x509_privkey_init(out) < 0)
		return -ENOMEM;
	if (gnutls_x509_privkey_generate(
		    *out, GNUTLS_PK_ECDSA,
		    GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1), 0) < 0) {
		gnutls_x509_privkey_deinit(*out);
		return -EIO;
	}
	return 0;
}

static int set_sans(gnutls_x509_crt_t crt, const struct berth_tls_opts *o)
{
	struct in_addr a;
	size_t i;

	for (i = 0; i < o->nips; i++) {
		if (inet_pton(AF_INET, o->ips[i], &a) != 1)
			return -EINVAL;
		if (gnutls_x509_crt_set_subject_alt_name(
			    crt, GNUTLS_SAN_IPADDRESS, &a, 4,
			    GNUTLS_FSAN_APPEND) < 0)
			return -EINVAL;
	}
	for (i = 0; i < o->ndns; i++)
		if (gnutls_x509_crt_set_subject_alt_name(
			    crt, GNUTLS_SAN_DNSNAME, o->dns[i],
			    strlen(o->dns[i]), GNUTLS_FSAN_APPEND) < 0)
			return -EINVAL;
	return 0;
}

static int set_subject(gnutls_x509_crt_t crt, const struct cert_req *r)
{
	const char *const *o;

	if (gnutls_x509_crt_set_dn_by_oid(crt, GNUTLS_OID_X520_COMMON_NAME, 0,
					  r->cn, strlen(r->cn)) < 0)
		return -EINVAL;
	for (o = r->orgs; o && *o; o++)
		if (gnutls_x509_crt_set_dn_by_oid(
			    crt, GNUTLS_OID_X520_ORGANIZATION_NAME, 0, *o,
			    strlen(*o)) < 0)
			return -EINVAL;
	return 0;
}

static int set_usage(gnutls_x509_crt_t crt, const struct cert_req *r)
{
	unsigned int usage = GNUTLS_KEY_DIGITAL_SIGNATURE;

	if (r->ca)
		usage |= GNUTLS_KEY_KEY_CERT_SIGN | GNUTLS_KEY_CRL_SIGN;
	if (gnutls_x509_crt_set_basic_constraints(crt, r->ca, -1) < 0 ||
	    gnutls_x509_crt_set_key_usage(crt, usage) < 0)
		return -EINVAL;
	if (r->server && gnutls_x509_crt_set_key_purpose_oid(
				 crt, GNUTLS_KP_TLS_WWW_SERVER, 0) < 0)
		return -EINVAL;
	if (r->client && gnutls_x509_crt_set_key_purpose_oid(
				 crt, GNUTLS_KP_TLS_WWW_CLIENT, 0) < 0)
		return -EINVAL;
	return 0;
}

int berth_tls_set_key_ids(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer)
{
	unsigned char id[64];
	size_t n = sizeof(id);

	if (gnutls_x509_crt_get_key_id(crt, 0, id, &n) < 0 ||
	    gnutls_x509_crt_set_subject_key_id(crt, id, n) < 0)
		return -EINVAL;
	if (!issuer)
		issuer = crt;
	n = sizeof(id);
	if (gnutls_x509_crt_get_subject_key_id(issuer, id, &n, NULL) < 0 ||
	    gnutls_x509_crt_set_authority_key_id(crt, id, n) < 0)
		return -EINVAL;
	return 0;
}

/* A certificate for key, signed by issuer/ikey (NULL: self-signed). */
static int make_cert(const struct cert_req *r, gnutls_x509_privkey_t key,
		     gnutls_x509_crt_t issuer, gnutls_x509_privkey_t ikey,
		     gnutls_x509_crt_t *out)
{
	unsigned char serial[16];
	time_t now = time(NULL);
	gnutls_x509_crt_t crt;
	int ret = -EINVAL;

	if (gnutls_x509_crt_init(&crt) < 0)
		return -ENOMEM;
	if (gnutls_rnd(GNUTLS_RND_NONCE, serial, sizeof(serial)) < 0)
		goto out;
	serial[0] &= 0x7f; /* a positive INTEGER */
	if (gnutls_x509_crt_set_version(crt, 3) < 0 ||
	    gnutls_x509_crt_set_serial(crt, serial, sizeof(serial)) < 0 ||
	    gnutls_x509_crt_set_activation_time(crt, now - BACKDATE_S) < 0 ||
	    gnutls_x509_crt_set_expiration_time(
		    crt, now + (time_t)r->days * DAY_S) < 0 ||
	    gnutls_x509_crt_set_key(crt, key) < 0)
		goto out;
	if (set_subject(crt, r) || set_usage(crt, r) ||
	    (r->sans && set_sans(crt, r->sans)))
		goto out;
	if (berth_tls_set_key_ids(crt, issuer))
		goto out;
	if (gnutls_x509_crt_sign2(crt, issuer ? issuer : crt, ikey ? ikey : key,
				  GNUTLS_DIG_SHA256, 0) < 0)
		goto out;
	*out = crt;
	return 0;
out:
	gnutls_x509_crt_deinit(crt);
	return ret;
}

/* Make a key and its certificate, write both as PEM under path.{crt,key}. */
static int make_pair(const char *base, const struct cert_req *r,
		     gnutls_x509_crt_t ca, gnutls_x509_privkey_t cakey,
		     char **cert, char **key)
{
	gnutls_x509_privkey_t k = NULL;
	gnutls_x509_crt_t crt = NULL;
	char path[4096];
	int ret;

	*cert = *key = NULL;
	ret = new_key(&k);
	if (ret)
		return ret;
	ret = make_cert(r, k, ca, cakey, &crt);
	if (!ret)
		ret = crt_pem(crt, cert);
	if (!ret)
		ret = key_pem(k, key);
	snprintf(path, sizeof(path), "%s.key", base);
	if (!ret)
		ret = berth_write_file_atomic(path, *key, strlen(*key), 0600);
	snprintf(path, sizeof(path), "%s.crt", base);
	if (!ret)
		ret = berth_write_file_atomic(path, *cert, strlen(*cert), 0644);
	if (ret) {
		free(*cert);
		free(*key);
		*cert = *key = NULL;
	}
	if (crt)
		gnutls_x509_crt_deinit(crt);
	gnutls_x509_privkey_deinit(k);
	return ret;
}

/* base.crt and base.key as PEM; -ENOENT when either is missing. */
static int load_pair(const char *base, char **cert, char **key)
{
	char path[4096];
	int ret;

	*cert = *key = NULL;
	snprintf(path, sizeof(path), "%s.crt", base);
	ret = berth_read_file_max(path, PEM_MAX, cert, NULL);
	if (ret)
		return ret;
	snprintf(path, sizeof(path), "%s.key", base);
	ret = berth_read_file_max(path, PEM_MAX, key, NULL);
	if (ret) {
		free(*cert);
		*cert = NULL;
	}
	return ret;
}

/*
 * Is the stored leaf still good: signed by ca, far from expiry and, for
 * the serving certificate, naming every address asked for?
 */
static bool leaf_ok(const char *pem, gnutls_x509_crt_t ca,
		    const struct berth_tls_opts *sans)
{
	gnutls_x509_crt_t crt;
	struct in_addr a;
	bool ok;
	size_t i;

	if (crt_from_pem(pem, &crt))
		return false;
	ok = gnutls_x509_crt_check_issuer(crt, ca) &&
	     gnutls_x509_crt_get_expiration_time(crt) >
		     time(NULL) + BERTH_TLS_RENEW_DAYS * DAY_S;
	for (i = 0; ok && sans && i < sans->nips; i++)
		ok = inet_pton(AF_INET, sans->ips[i], &a) == 1 &&
		     gnutls_x509_crt_check_ip(crt, (unsigned char *)&a, 4, 0);
	for (i = 0; ok && sans && i < sans->ndns; i++)
		ok = gnutls_x509_crt_check_hostname(crt, sans->dns[i]);
	gnutls_x509_crt_deinit(crt);
	return ok;
}

struct ca {
	char *cert, *key;
	gnutls_x509_crt_t crt;
	gnutls_x509_privkey_t pk;
};

static void ca_free(struct ca *ca)
{
	free(ca->cert);
	free(ca->key);
	if (ca->crt)
		gnutls_x509_crt_deinit(ca->crt);
	if (ca->pk)
		gnutls_x509_privkey_deinit(ca->pk);
}

static int ca_open(const char *dir, struct ca *ca)
{
	static const char *const orgs[] = { "berth", NULL };
	const struct cert_req r = { .cn = "berth-ca",
				    .orgs = orgs,
				    .ca = true,
				    .days = BERTH_TLS_CA_DAYS };
	char base[4096];
	int ret;

	memset(ca, 0, sizeof(*ca));
	snprintf(base, sizeof(base), "%s/ca", dir);
	ret = load_pair(base, &ca->cert, &ca->key);
	if (ret == -ENOENT) {
		pr_info("tls: creating the cluster CA %s.crt", base);
		ret = make_pair(base, &r, NULL, NULL, &ca->cert, &ca->key);
	}
	if (!ret)
		ret = crt_from_pem(ca->cert, &ca->crt);
	if (!ret)
		ret = key_from_pem(ca->key, &ca->pk);
	if (ret) {
		pr_err("tls: CA %s.{crt,key}: %s", base, strerror(-ret));
		ca_free(ca);
	}
	return ret;
}

/* Load base.{crt,key} if still good, else make them anew from r. */
static int leaf_open(const char *base, const struct cert_req *r, struct ca *ca,
		     char **cert, char **key)
{
	int ret = load_pair(base, cert, key);

	if (!ret && leaf_ok(*cert, ca->crt, r->sans))
		return 0;
	free(*cert);
	free(*key);
	pr_info("tls: issuing %s.crt (CN=%s)", base, r->cn);
	ret = make_pair(base, r, ca->crt, ca->pk, cert, key);
	if (ret)
		pr_err("tls: %s.{crt,key}: %s", base, strerror(-ret));
	return ret;
}

static char *concat(const char *a, const char *b)
{
	char *s;

	if (asprintf(&s, "%s%s%s", a,
		     *a && a[strlen(a) - 1] != '\n' ? "\n" : "", b) < 0)
		return NULL;
	return s;
}

static int read_given(const char *path, const char *what, char **out)
{
	int ret = berth_read_file_max(path, PEM_MAX, out, NULL);

	if (ret)
		pr_err("tls: %s %s: %s", what, path, strerror(-ret));
	return ret;
}

/* The operator's serving certificate, or ours for the addresses of o. */
static int serving_pair(const char *dir, const struct berth_tls_opts *o,
			struct ca *ca, struct berth_tls *t)
{
	const struct cert_req r = { .cn = "berth-apiserver",
				    .server = true,
				    .sans = o,
				    .days = BERTH_TLS_LEAF_DAYS };
	char base[4096];
	int ret;

	if (o->cert_file) {
		ret = read_given(o->cert_file, "--tls-cert-file", &t->cert);
		if (!ret)
			ret = read_given(o->key_file, "--tls-private-key-file",
					 &t->key);
		return ret;
	}
	snprintf(base, sizeof(base), "%s/apiserver", dir);
	return leaf_open(base, &r, ca, &t->cert, &t->key);
}

int berth_tls_setup(const char *dir, const struct berth_tls_opts *o,
		    struct berth_tls *t)
{
	static const char *const masters[] = { "system:masters", NULL };
	const struct cert_req admin = { .cn = BERTH_TLS_ADMIN_USER,
					.orgs = masters,
					.client = true,
					.days = BERTH_TLS_LEAF_DAYS };
	char base[4096], *extra = NULL;
	struct ca ca;
	int ret;

	memset(t, 0, sizeof(*t));
	if (!!o->cert_file != !!o->key_file) {
		pr_err("tls: --tls-cert-file and --tls-private-key-file go together");
		return -EINVAL;
	}
	ret = ca_open(dir, &ca);
	if (ret)
		return ret;
	ret = serving_pair(dir, o, &ca, t);
	snprintf(base, sizeof(base), "%s/admin", dir);
	if (!ret)
		ret = leaf_open(base, &admin, &ca, &t->admin_cert,
				&t->admin_key);
	if (!ret && o->client_ca_file)
		ret = read_given(o->client_ca_file, "--client-ca-file", &extra);
	if (ret)
		goto out;
	/* our CA always, so the admin certificate works with any --client-ca */
	t->trust = extra ? concat(ca.cert, extra) : strdup(ca.cert);
	/*
	 * What the kubeconfig trusts the server by: our CA, or with the
	 * operator's serving certificate that chain itself (a trust anchor
	 * for kubectl even without its root) and the client CA, which is
	 * often the same CA (kubeadm)
	 */
	if (!o->cert_file)
		t->server_ca = strdup(ca.cert);
	else
		t->server_ca = extra ? concat(t->cert, extra) : strdup(t->cert);
	if (!t->trust || !t->server_ca)
		ret = -ENOMEM;
out:
	free(extra);
	ca_free(&ca);
	if (ret)
		berth_tls_free(t);
	return ret;
}

void berth_tls_free(struct berth_tls *t)
{
	free(t->cert);
	free(t->key);
	free(t->trust);
	free(t->server_ca);
	free(t->admin_cert);
	free(t->admin_key);
	memset(t, 0, sizeof(*t));
}
