// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ServiceAccount JWTs (control/apiserver/satoken.c): a signed token
 * verifies and gives its claims back; a tampered payload, another key, an
 * expired or not-yet-valid token, a wrong issuer or audience, alg "none"
 * and malformed input are each refused with their own error.
 */
#define _GNU_SOURCE /* asprintf */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <gnutls/gnutls.h>
#include <gnutls/x509.h>
#include <json-c/json.h>

#include <berth/base64.h>

#include "../../control/apiserver/satoken.h"

#define ISS "https://kubernetes.default.svc.cluster.local"
#define NOW 1800000000L

static char dir[] = "/tmp/berth-satoken-XXXXXX";
static bool dir_made; /* not strchr(dir, 'X'): mkdtemp's letters include X */

static struct berth_sa_key *new_key(const char *name)
{
	struct berth_sa_key *k = NULL;
	char path[128];
	int ret;

	if (!dir_made) {
		cr_assert_not_null(mkdtemp(dir), "mkdtemp %s", dir);
		dir_made = true;
	}
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	ret = berth_sa_key_load(path, true, &k);
	cr_assert_eq(ret, 0, "generate %s: %d", path, ret);
	return k;
}

static struct json_object *claims(long iat, long exp, const char *aud)
{
	struct json_object *c = json_object_new_object(), *a;

	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string(aud));
	json_object_object_add(c, "aud", a);
	json_object_object_add(c, "exp", json_object_new_int64(exp));
	json_object_object_add(c, "iat", json_object_new_int64(iat));
	json_object_object_add(c, "nbf", json_object_new_int64(iat));
	json_object_object_add(c, "iss", json_object_new_string(ISS));
	json_object_object_add(
		c, "sub",
		json_object_new_string("system:serviceaccount:default:app"));
	return c;
}

static char *sign(struct berth_sa_key *k, long iat, long exp, const char *aud)
{
	struct json_object *c = claims(iat, exp, aud);
	char *tok = NULL;

	cr_assert_eq(berth_sa_token_sign(k, c, &tok), 0, "sign");
	json_object_put(c);
	return tok;
}

/* part i (0 header, 1 payload) of tok replaced by base64url(json) */
static char *replace_part(const char *tok, int i, const char *json)
{
	const char *d1 = strchr(tok, '.'), *d2 = strchr(d1 + 1, '.');
	char *b = berth_base64(json, strlen(json), true), *out;

	if (i == 0)
		cr_assert(asprintf(&out, "%s%s", b, d1) > 0);
	else
		cr_assert(asprintf(&out, "%.*s.%s%s", (int)(d1 - tok), tok, b,
				   d2) > 0);
	free(b);
	return out;
}

static void cleanup(void)
{
	char cmd[160];

	if (dir_made) {
		snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
		cr_expect_eq(system(cmd), 0);
	}
}

TestSuite(satoken, .fini = cleanup);

Test(satoken, good_token_verifies_and_returns_claims)
{
	struct berth_sa_key *k = new_key("a.key");
	char *tok = sign(k, NOW, NOW + 600, "api");
	struct json_object *c = NULL, *hdr;
	const char *d1 = strchr(tok, '.');
	char *h64 = strndup(tok, (size_t)(d1 - tok)), *hs;
	int ret;

	ret = berth_sa_token_verify(k, tok, ISS, "api", NOW + 10, &c);
	cr_assert_eq(ret, 0, "verify: %d", ret);
	cr_assert_str_eq(
		json_object_get_string(json_object_object_get(c, "sub")),
		"system:serviceaccount:default:app");
	/* the header names the algorithm and this key's id */
	hs = berth_base64_decode(h64, true, NULL);
	hdr = json_tokener_parse(hs);
	cr_assert_str_eq(
		json_object_get_string(json_object_object_get(hdr, "alg")),
		"RS256");
	cr_assert_str_eq(
		json_object_get_string(json_object_object_get(hdr, "kid")),
		berth_sa_key_id(k));
	/* no audience asked: any audience does */
	cr_assert_eq(berth_sa_token_verify(k, tok, ISS, NULL, NOW, NULL), 0);
	json_object_put(hdr);
	json_object_put(c);
	free(hs);
	free(h64);
	free(tok);
	berth_sa_key_free(k);
}

Test(satoken, key_file_is_0600_and_reloads_with_the_same_id)
{
	struct berth_sa_key *k = new_key("b.key"), *k2 = NULL;
	char path[128], *tok;
	struct stat st;

	snprintf(path, sizeof(path), "%s/b.key", dir);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	cr_assert_eq(berth_sa_key_load(path, false, &k2), 0);
	cr_assert_str_eq(berth_sa_key_id(k), berth_sa_key_id(k2));
	cr_assert_eq(strlen(berth_sa_key_id(k)), 43, "base64url SHA-256");
	/* what one signs the reloaded one verifies */
	tok = sign(k, NOW, NOW + 600, "api");
	cr_assert_eq(berth_sa_token_verify(k2, tok, ISS, "api", NOW, NULL), 0);
	free(tok);
	berth_sa_key_free(k2);
	berth_sa_key_free(k);
	snprintf(path, sizeof(path), "%s/missing.key", dir);
	cr_assert_eq(berth_sa_key_load(path, false, &k2), -ENOENT);
}

Test(satoken, tampered_payload_is_refused)
{
	struct berth_sa_key *k = new_key("c.key");
	char *tok = sign(k, NOW, NOW + 600, "api"), *bad;

	/* a longer life and another subject, the original signature */
	bad = replace_part(
		tok, 1,
		"{\"aud\":[\"api\"],\"exp\":2000000000,\"iat\":1800000000,"
		"\"iss\":\"" ISS
		"\",\"sub\":\"system:serviceaccount:kube-system:admin\"}");
	cr_assert_eq(berth_sa_token_verify(k, bad, ISS, "api", NOW, NULL),
		     -EBADMSG);
	/* one flipped signature byte */
	free(bad);
	bad = strdup(tok);
	bad[strlen(bad) - 5] = bad[strlen(bad) - 5] == 'A' ? 'B' : 'A';
	cr_assert_eq(berth_sa_token_verify(k, bad, ISS, "api", NOW, NULL),
		     -EBADMSG);
	free(bad);
	free(tok);
	berth_sa_key_free(k);
}

Test(satoken, other_key_is_refused)
{
	struct berth_sa_key *k = new_key("d.key"), *other = new_key("e.key");
	char *tok = sign(other, NOW, NOW + 600, "api"), *bad, hdr[128];

	cr_assert_str_neq(berth_sa_key_id(k), berth_sa_key_id(other));
	cr_assert_eq(berth_sa_token_verify(k, tok, ISS, "api", NOW, NULL),
		     -EBADMSG, "signed by another key (kid differs)");
	/* the forger puts our kid in the header: the signature still fails */
	snprintf(hdr, sizeof(hdr), "{\"alg\":\"RS256\",\"kid\":\"%s\"}",
		 berth_sa_key_id(k));
	bad = replace_part(tok, 0, hdr);
	cr_assert_eq(berth_sa_token_verify(k, bad, ISS, "api", NOW, NULL),
		     -EBADMSG, "signed by another key (kid forged)");
	free(bad);
	free(tok);
	berth_sa_key_free(other);
	berth_sa_key_free(k);
}

Test(satoken, expired_and_not_yet_valid_are_refused)
{
	struct berth_sa_key *k = new_key("f.key");
	char *tok = sign(k, NOW, NOW + 600, "api");

	cr_assert_eq(berth_sa_token_verify(k, tok, ISS, "api", NOW + 599, NULL),
		     0);
	cr_assert_eq(berth_sa_token_verify(k, tok, ISS, "api", NOW + 600, NULL),
		     -EKEYEXPIRED, "at exp");
	cr_assert_eq(berth_sa_token_verify(k, tok, ISS, "api", NOW + 9999,
					   NULL),
		     -EKEYEXPIRED, "long after exp");
	/* nbf: a minute of clock skew, not more */
	cr_assert_eq(berth_sa_token_verify(k, tok, ISS, "api", NOW - 60, NULL),
		     0);
	cr_assert_eq(berth_sa_token_verify(k, tok, ISS, "api", NOW - 120, NULL),
		     -EKEYEXPIRED, "before nbf");
	free(tok);
	berth_sa_key_free(k);
}

Test(satoken, wrong_audience_or_issuer_is_refused)
{
	struct berth_sa_key *k = new_key("g.key");
	char *tok = sign(k, NOW, NOW + 600, "vault");

	cr_assert_eq(berth_sa_token_verify(k, tok, ISS, "vault", NOW, NULL), 0);
	cr_assert_eq(berth_sa_token_verify(k, tok, ISS, "api", NOW, NULL),
		     -EACCES, "audience");
	cr_assert_eq(berth_sa_token_verify(k, tok, "https://evil.example",
					   "vault", NOW, NULL),
		     -EACCES, "issuer");
	free(tok);
	berth_sa_key_free(k);
}

Test(satoken, malformed_and_alg_none_are_refused)
{
	struct berth_sa_key *k = new_key("h.key");
	char *tok = sign(k, NOW, NOW + 600, "api"), *bad;
	const char *junk[] = { "",
			       "abc",
			       "a.b",
			       "a.b.c.d",
			       "..",
			       "!!.??.**",
			       "eyJhbGciOiJSUzI1NiJ9.bm90IGpzb24.AAAA" };

	for (size_t i = 0; i < sizeof(junk) / sizeof(junk[0]); i++)
		cr_assert_eq(berth_sa_token_verify(k, junk[i], ISS, NULL, NOW,
						   NULL),
			     -EINVAL, "junk %zu", i);
	cr_assert_eq(berth_sa_token_verify(k, NULL, ISS, NULL, NOW, NULL),
		     -EINVAL);
	bad = replace_part(tok, 0, "{\"alg\":\"none\"}");
	cr_assert_eq(berth_sa_token_verify(k, bad, ISS, NULL, NOW, NULL),
		     -EINVAL, "alg none");
	free(bad);
	bad = replace_part(tok, 0, "{\"alg\":\"HS256\"}");
	cr_assert_eq(berth_sa_token_verify(k, bad, ISS, NULL, NOW, NULL),
		     -EINVAL, "alg HS256");
	free(bad);
	free(tok);
	berth_sa_key_free(k);
}

Test(satoken, jwk_carries_the_public_key)
{
	struct berth_sa_key *k = new_key("i.key");
	struct json_object *j = berth_sa_key_jwk(k);
	const char *n = json_object_get_string(json_object_object_get(j, "n"));
	size_t len = 0;
	char *raw = berth_base64_decode(n, true, &len);

	cr_assert_str_eq(
		json_object_get_string(json_object_object_get(j, "kty")),
		"RSA");
	cr_assert_str_eq(json_object_get_string(json_object_object_get(j, "e")),
			 "AQAB");
	cr_assert_str_eq(
		json_object_get_string(json_object_object_get(j, "kid")),
		berth_sa_key_id(k));
	cr_assert_eq(len, BERTH_SA_KEY_BITS / 8, "modulus without a 0 byte");
	cr_assert((unsigned char)raw[0] & 0x80, "top bit of the modulus");
	free(raw);
	json_object_put(j);
	berth_sa_key_free(k);
}

Test(satoken, non_rsa_or_garbage_keys_are_refused)
{
	gnutls_x509_privkey_t x;
	gnutls_datum_t pem = { 0 };
	struct berth_sa_key *k = NULL;

	cr_assert_eq(berth_sa_key_from_pem("junk", 4, &k), -EINVAL);
	cr_assert_eq(gnutls_x509_privkey_init(&x), 0);
	cr_assert_eq(gnutls_x509_privkey_generate(
			     x, GNUTLS_PK_ECDSA,
			     GNUTLS_CURVE_TO_BITS(GNUTLS_ECC_CURVE_SECP256R1),
			     0),
		     0);
	cr_assert_eq(gnutls_x509_privkey_export2(x, GNUTLS_X509_FMT_PEM, &pem),
		     0);
	cr_assert_eq(berth_sa_key_from_pem((const char *)pem.data, pem.size,
					   &k),
		     -EINVAL, "an EC key");
	cr_assert_null(k);
	gnutls_free(pem.data);
	gnutls_x509_privkey_deinit(x);
}
