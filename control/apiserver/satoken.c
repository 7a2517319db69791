// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* RS256 JWTs for ServiceAccount tokens: key handling, signing, verifying. */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/abstract.h>
#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-c/json.h>

#include <berth/base64.h>
#include <berth/fsutil.h>
#include <berth/log.h>

#include "jsonutil.h"
#include "satoken.h"

#define KEY_FILE_MAX (64 * 1024)
#define TOKEN_MAX (64 * 1024) /* far above any token we issue */
#define NBF_SKEW_S 60 /* clocks of issuer and verifier may differ this much */

struct berth_sa_key {
	gnutls_privkey_t priv;
	gnutls_pubkey_t pub;
	char kid[BERTH_SA_KID_MAX];
};

void berth_sa_key_free(struct berth_sa_key *k)
{
	if (!k)
		return;
	if (k->pub)
		gnutls_pubkey_deinit(k->pub);
	if (k->priv)
		gnutls_privkey_deinit(k->priv);
	free(k);
}

const char *berth_sa_key_id(const struct berth_sa_key *k)
{
	return k->kid;
}

/* kid as Kubernetes derives it: base64url(SHA-256(DER of the public key)). */
static int key_id(struct berth_sa_key *k)
{
	gnutls_datum_t der = { 0 };
	unsigned char sum[32];
	char *b;
	int ret;

	ret = gnutls_pubkey_export2(k->pub, GNUTLS_X509_FMT_DER, &der);
	if (ret < 0)
		return -EINVAL;
	ret = gnutls_hash_fast(GNUTLS_DIG_SHA256, der.data, der.size, sum);
	gnutls_free(der.data);
	if (ret < 0)
		return -EINVAL;
	b = berth_base64(sum, sizeof(sum), true);
	if (!b)
		return -ENOMEM;
	snprintf(k->kid, sizeof(k->kid), "%s", b);
	free(b);
	return 0;
}

/* Wrap an imported x509 private key (consumed) as signing + verifying key. */
static int key_from_x509(gnutls_x509_privkey_t x, struct berth_sa_key **out)
{
	struct berth_sa_key *k = calloc(1, sizeof(*k));
	int ret = -EINVAL;

	if (!k) {
		gnutls_x509_privkey_deinit(x);
		return -ENOMEM;
	}
	if (gnutls_x509_privkey_get_pk_algorithm(x) != GNUTLS_PK_RSA)
		goto err_x;
	if (gnutls_privkey_init(&k->priv) < 0)
		goto err_x;
	if (gnutls_privkey_import_x509(k->priv, x,
				       GNUTLS_PRIVKEY_IMPORT_AUTO_RELEASE) < 0)
		goto err_x;
	x = NULL; /* owned by k->priv now */
	if (gnutls_pubkey_init(&k->pub) < 0 ||
	    gnutls_pubkey_import_privkey(k->pub, k->priv, 0, 0) < 0)
		goto err;
	ret = key_id(k);
	if (ret)
		goto err;
	*out = k;
	return 0;
err_x:
	if (x)
		gnutls_x509_privkey_deinit(x);
err:
	berth_sa_key_free(k);
	return ret;
}

int berth_sa_key_from_pem(const char *pem, size_t len,
			  struct berth_sa_key **out)
{
	gnutls_datum_t d = { (unsigned char *)pem, (unsigned int)len };
	gnutls_x509_privkey_t x;

	if (gnutls_x509_privkey_init(&x) < 0)
		return -ENOMEM;
	if (gnutls_x509_privkey_import2(x, &d, GNUTLS_X509_FMT_PEM, NULL, 0) <
	    0) {
		gnutls_x509_privkey_deinit(x);
		return -EINVAL;
	}
	return key_from_x509(x, out);
}

/* A new RSA key as PEM at path, mode 0600, written whole then renamed. */
static int generate_key(const char *path)
{
	gnutls_x509_privkey_t x;
	gnutls_datum_t pem = { 0 };
	int ret = -EIO;

	if (gnutls_x509_privkey_init(&x) < 0)
		return -ENOMEM;
	if (gnutls_x509_privkey_generate(x, GNUTLS_PK_RSA, BERTH_SA_KEY_BITS,
					 0) >= 0 &&
	    gnutls_x509_privkey_export2(x, GNUTLS_X509_FMT_PEM, &pem) >= 0)
		ret = berth_write_file_atomic(path, pem.data, pem.size, 0600);
	gnutls_free(pem.data);
	gnutls_x509_privkey_deinit(x);
	return ret;
}

int berth_sa_key_load(const char *path, bool generate,
		      struct berth_sa_key **out)
{
	char *pem = NULL;
	size_t len = 0;
	int ret;

	ret = berth_read_file_max(path, KEY_FILE_MAX, &pem, &len);
	if (ret == -ENOENT && generate) {
		pr_info("service account key %s: generating an RSA-%d key",
			path, BERTH_SA_KEY_BITS);
		ret = generate_key(path);
		if (!ret)
			ret = berth_read_file_max(path, KEY_FILE_MAX, &pem,
						  &len);
	}
	if (ret)
		return ret;
	ret = berth_sa_key_from_pem(pem, len, out);
	free(pem);
	return ret;
}

static char *b64url(const void *p, size_t n)
{
	return berth_base64(p, n, true);
}

struct json_object *berth_sa_key_jwk(const struct berth_sa_key *k)
{
	gnutls_datum_t m = { 0 }, e = { 0 };
	struct json_object *j;
	char *ns, *es;

	if (gnutls_pubkey_export_rsa_raw2(k->pub, &m, &e,
					  GNUTLS_EXPORT_FLAG_NO_LZ) < 0)
		return NULL;
	ns = b64url(m.data, m.size);
	es = b64url(e.data, e.size);
	gnutls_free(m.data);
	gnutls_free(e.data);
	j = json_object_new_object();
	berth_json_set_str(j, "use", "sig");
	berth_json_set_str(j, "kty", "RSA");
	berth_json_set_str(j, "kid", k->kid);
	berth_json_set_str(j, "alg", "RS256");
	berth_json_set_str(j, "n", ns ? ns : "");
	berth_json_set_str(j, "e", es ? es : "");
	free(ns);
	free(es);
	return j;
}

int berth_sa_token_sign(const struct berth_sa_key *k,
			struct json_object *claims, char **out)
{
	struct json_object *hdr = json_object_new_object();
	const char *hs, *cs;
	char *h64, *c64, *s64 = NULL, *input = NULL;
	gnutls_datum_t data, sig = { 0 };
	size_t hl, cl;
	int ret = -ENOMEM;

	if (!k->priv)
		return -EINVAL;
	berth_json_set_str(hdr, "alg", "RS256");
	berth_json_set_str(hdr, "kid", k->kid);
	hs = berth_json_str(hdr, &hl);
	h64 = b64url(hs, hl);
	cs = berth_json_str(claims, &cl);
	c64 = b64url(cs, cl);
	if (!h64 || !c64 || asprintf(&input, "%s.%s", h64, c64) < 0) {
		input = NULL;
		goto out;
	}
	data.data = (unsigned char *)input;
	data.size = (unsigned int)strlen(input);
	if (gnutls_privkey_sign_data2(k->priv, GNUTLS_SIGN_RSA_SHA256, 0, &data,
				      &sig) < 0) {
		ret = -EIO;
		goto out;
	}
	s64 = b64url(sig.data, sig.size);
	if (!s64 || asprintf(out, "%s.%s", input, s64) < 0)
		goto out;
	ret = 0;
out:
	gnutls_free(sig.data);
	free(s64);
	free(input);
	free(c64);
	free(h64);
	json_object_put(hdr);
	return ret;
}

/* One base64url part (len chars at s) decoded; NULL if malformed. */
static char *part_decode(const char *s, size_t len, size_t *n)
{
	char *copy, *dec;

	if (!len || len % 4 == 1)
		return NULL;
	copy = strndup(s, len);
	if (!copy)
		return NULL;
	dec = berth_base64_decode(copy, true, n);
	free(copy);
	return dec;
}

static struct json_object *part_json(const char *s, size_t len)
{
	struct json_object *o;
	size_t n;
	char *dec = part_decode(s, len, &n);

	if (!dec)
		return NULL;
	o = berth_json_parse(dec, n, NULL);
	free(dec);
	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = NULL;
	}
	return o;
}

static int check_header(const struct berth_sa_key *k, struct json_object *h)
{
	const char *alg = berth_json_get_str(h, "alg");
	const char *kid = berth_json_get_str(h, "kid");
	struct json_object *v;

	/* "none" and HS256 with the public key as secret are the classics */
	if (!alg || strcmp(alg, "RS256"))
		return -EINVAL;
	if (json_object_object_get_ex(h, "kid", &v) && !kid)
		return -EINVAL;
	if (kid && strcmp(kid, k->kid))
		return -EBADMSG; /* signed by another key */
	return 0;
}

static int check_signature(const struct berth_sa_key *k, const char *token,
			   size_t signed_len, const char *s64, size_t s64_len)
{
	gnutls_datum_t data = { (unsigned char *)token,
				(unsigned int)signed_len };
	gnutls_datum_t sig;
	size_t n;
	char *raw = part_decode(s64, s64_len, &n);
	int ret;

	if (!raw)
		return -EINVAL;
	sig.data = (unsigned char *)raw;
	sig.size = (unsigned int)n;
	ret = gnutls_pubkey_verify_data2(k->pub, GNUTLS_SIGN_RSA_SHA256, 0,
					 &data, &sig);
	free(raw);
	return ret < 0 ? -EBADMSG : 0;
}

/* A NumericDate claim: -EINVAL if present and not a number. */
static int num_claim(struct json_object *c, const char *key, bool *has,
		     int64_t *v)
{
	struct json_object *o;

	*has = json_object_object_get_ex(c, key, &o);
	if (!*has)
		return 0;
	if (!json_object_is_type(o, json_type_int) &&
	    !json_object_is_type(o, json_type_double))
		return -EINVAL;
	*v = json_object_get_int64(o);
	return 0;
}

static bool audience_ok(struct json_object *c, const char *audience)
{
	struct json_object *aud;
	size_t i;

	if (!audience)
		return true;
	if (!json_object_object_get_ex(c, "aud", &aud))
		return false;
	if (json_object_is_type(aud, json_type_string))
		return !strcmp(json_object_get_string(aud), audience);
	if (!json_object_is_type(aud, json_type_array))
		return false;
	for (i = 0; i < json_object_array_length(aud); i++) {
		struct json_object *a = json_object_array_get_idx(aud, i);

		if (json_object_is_type(a, json_type_string) &&
		    !strcmp(json_object_get_string(a), audience))
			return true;
	}
	return false;
}

static int check_claims(struct json_object *c, const char *issuer,
			const char *audience, time_t now)
{
	const char *iss = berth_json_get_str(c, "iss");
	int64_t exp = 0, nbf = 0;
	bool has_exp, has_nbf;

	if (num_claim(c, "exp", &has_exp, &exp) ||
	    num_claim(c, "nbf", &has_nbf, &nbf))
		return -EINVAL;
	/* Kubernetes' tokens always expire; one that does not is not ours */
	if (!has_exp || (int64_t)now >= exp)
		return -EKEYEXPIRED;
	if (has_nbf && (int64_t)now + NBF_SKEW_S < nbf)
		return -EKEYEXPIRED;
	if (issuer && (!iss || strcmp(iss, issuer)))
		return -EACCES;
	if (!audience_ok(c, audience))
		return -EACCES;
	return 0;
}

int berth_sa_token_verify(const struct berth_sa_key *k, const char *token,
			  const char *issuer, const char *audience, time_t now,
			  struct json_object **claims)
{
	const char *d1, *d2;
	struct json_object *h = NULL, *c = NULL;
	size_t len;
	int ret = -EINVAL;

	if (!token || (len = strnlen(token, TOKEN_MAX + 1)) > TOKEN_MAX)
		return -EINVAL;
	d1 = strchr(token, '.');
	d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (!d2 || strchr(d2 + 1, '.'))
		return -EINVAL;
	h = part_json(token, (size_t)(d1 - token));
	c = part_json(d1 + 1, (size_t)(d2 - d1 - 1));
	if (!h || !c)
		goto out;
	ret = check_header(k, h);
	if (!ret)
		ret = check_signature(k, token, (size_t)(d2 - token), d2 + 1,
				      len - (size_t)(d2 + 1 - token));
	/* claims mean nothing until the signature holds */
	if (!ret)
		ret = check_claims(c, issuer, audience, now);
	if (!ret && claims) {
		*claims = c;
		c = NULL;
	}
out:
	json_object_put(h);
	json_object_put(c);
	return ret;
}
