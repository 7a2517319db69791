/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ServiceAccount tokens: JWTs (RS256) signed with the server's RSA key, as
 * kube-apiserver issues them, their verification, and the key's public half
 * as a JWK for /openid/v1/jwks. GnuTLS does the RSA.
 */
#ifndef BERTH_APISERVER_SATOKEN_H
#define BERTH_APISERVER_SATOKEN_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct json_object;
struct berth_sa_key;

#define BERTH_SA_KEY_BITS 2048
#define BERTH_SA_KID_MAX 64 /* base64url of a SHA-256: 43 chars */

/*
 * The PEM RSA private key at path (PKCS#1 or PKCS#8). With generate, a
 * missing file is created first: a new RSA key, mode 0600, written whole
 * then renamed. -ENOENT (no file, !generate), -EINVAL (not an RSA key).
 */
int berth_sa_key_load(const char *path, bool generate,
		      struct berth_sa_key **out);
/* The same from PEM text in memory. */
int berth_sa_key_from_pem(const char *pem, size_t len,
			  struct berth_sa_key **out);
void berth_sa_key_free(struct berth_sa_key *k);
/* The key id in every token's header: base64url(SHA-256(DER SPKI)). */
const char *berth_sa_key_id(const struct berth_sa_key *k);
/* The public key as a JWK {kty, alg, use, kid, n, e}: a new object. */
struct json_object *berth_sa_key_jwk(const struct berth_sa_key *k);

/*
 * Sign claims (a JSON object, not consumed) into a compact JWT,
 * header {"alg":"RS256","kid":KID}. *out is malloc'd.
 */
int berth_sa_token_sign(const struct berth_sa_key *k,
			struct json_object *claims, char **out);

/*
 * Check a token as an authenticator must: three base64url parts, header
 * alg RS256 (and kid, when present, this key's), the signature with k,
 * exp > now and nbf <= now (60 s of clock skew allowed for nbf), iss ==
 * issuer, and audience in aud (a string or an array) unless audience is
 * NULL. On success *claims (may be NULL) gets the payload (caller puts).
 *   -EINVAL      not a well-formed RS256 JWT, or a claim of the wrong type
 *   -EBADMSG     the signature does not verify with k (forged or tampered)
 *   -EKEYEXPIRED past exp, or before nbf
 *   -EACCES      wrong issuer or audience
 */
int berth_sa_token_verify(const struct berth_sa_key *k, const char *token,
			  const char *issuer, const char *audience, time_t now,
			  struct json_object **claims);

#endif
