// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Encryption at rest of the resources an EncryptionConfiguration names.
 * Stored form as kube-apiserver writes it: "k8s:enc:aesgcm:v1:NAME:" then a
 * 12-byte nonce, then the ciphertext with its 16-byte tag; the store key is
 * the authenticated data, so a value copied under another key fails to open.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include <berth/base64.h>
#include <berth/log.h>

#include "../store/store.h"
#include "admission.h"
#include "encrypt.h"
#include "jsonutil.h"
#include "yaml.h"

#define AESGCM_PREFIX BERTH_ENC_PREFIX "aesgcm:v1:"
#define NONCE_LEN 12 /* GCM's standard nonce */
#define TAG_LEN 16
#define KEYS_MAX 16
#define PROVIDERS_MAX 8
#define RESOURCES_MAX 32
#define ENTRIES_MAX 16
#define NAME_MAX_LEN 64

struct enc_key {
	char name[NAME_MAX_LEN];
	gnutls_aead_cipher_hd_t hd;
	pthread_mutex_t lock; /* a handle is not for two threads at once */
};

struct enc_provider {
	bool aesgcm; /* else identity */
	size_t nkeys;
	struct enc_key keys[KEYS_MAX];
};

struct enc_entry {
	size_t nprefixes;
	char prefixes[RESOURCES_MAX][128]; /* store key prefixes covered */
	size_t nproviders;
	struct enc_provider providers[PROVIDERS_MAX];
};

struct berth_encryption {
	size_t nentries;
	struct enc_entry entries[ENTRIES_MAX];
	struct berth_store_transformer xf;
};

static struct enc_entry *entry_for(struct berth_encryption *e, const char *key)
{
	size_t i, j;

	for (i = 0; i < e->nentries; i++)
		for (j = 0; j < e->entries[i].nprefixes; j++)
			if (!strncmp(key, e->entries[i].prefixes[j],
				     strlen(e->entries[i].prefixes[j])))
				return &e->entries[i];
	return NULL;
}

static int enc_to(void *ctx, const char *key, const void *in, size_t len,
		  char **out, size_t *outlen)
{
	struct enc_entry *en = entry_for(ctx, key);
	struct enc_key *k;
	size_t hlen, clen;
	char *buf;
	int r;

	if (!en || !en->providers[0].aesgcm)
		return 1; /* identity writes the value as it is */
	k = &en->providers[0].keys[0];
	hlen = strlen(AESGCM_PREFIX) + strlen(k->name) + 1;
	clen = len + TAG_LEN;
	buf = malloc(hlen + NONCE_LEN + clen + 1);
	if (!buf)
		return -ENOMEM;
	snprintf(buf, hlen + 1, "%s%s:", AESGCM_PREFIX, k->name);
	if (gnutls_rnd(GNUTLS_RND_NONCE, buf + hlen, NONCE_LEN)) {
		free(buf);
		return -EIO;
	}
	pthread_mutex_lock(&k->lock);
	r = gnutls_aead_cipher_encrypt(k->hd, buf + hlen, NONCE_LEN, key,
				       strlen(key), TAG_LEN, in, len,
				       buf + hlen + NONCE_LEN, &clen);
	pthread_mutex_unlock(&k->lock);
	if (r < 0) {
		pr_warn("encrypt %s: %s", key, gnutls_strerror(r));
		free(buf);
		return -EIO;
	}
	buf[hlen + NONCE_LEN + clen] = 0;
	*out = buf;
	*outlen = hlen + NONCE_LEN + clen;
	return 0;
}

static struct enc_key *find_key(struct enc_entry *en, const char *name,
				size_t nlen, bool *primary)
{
	size_t i, j;

	for (i = 0; i < en->nproviders; i++) {
		struct enc_provider *p = &en->providers[i];

		for (j = 0; p->aesgcm && j < p->nkeys; j++) {
			if (strlen(p->keys[j].name) != nlen ||
			    memcmp(p->keys[j].name, name, nlen))
				continue;
			*primary = i == 0 && j == 0;
			return &p->keys[j];
		}
	}
	return NULL;
}

static bool has_identity(const struct enc_entry *en)
{
	size_t i;

	for (i = 0; i < en->nproviders; i++)
		if (!en->providers[i].aesgcm)
			return true;
	return false;
}

static int aesgcm_open(struct enc_entry *en, const char *key, const char *in,
		       size_t len, char **out, size_t *outlen, bool *stale)
{
	size_t pl = strlen(AESGCM_PREFIX), nlen, plen;
	const char *name = in + pl, *colon, *end = in + len;
	struct enc_key *k;
	bool primary = false;
	char *buf;
	int r;

	colon = memchr(name, ':', len - pl);
	if (!colon)
		return -EIO;
	nlen = colon - name;
	k = find_key(en, name, nlen, &primary);
	if (!k) {
		pr_warn("decrypt %s: key \"%.*s\" is not configured", key,
			(int)(nlen < NAME_MAX_LEN ? nlen : NAME_MAX_LEN), name);
		return -EIO;
	}
	in = colon + 1; /* nonce, then ciphertext and tag */
	len = end - in;
	if (len < NONCE_LEN + TAG_LEN)
		return -EIO;
	plen = len - NONCE_LEN;
	buf = malloc(plen + 1);
	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&k->lock);
	r = gnutls_aead_cipher_decrypt(k->hd, in, NONCE_LEN, key, strlen(key),
				       TAG_LEN, in + NONCE_LEN, len - NONCE_LEN,
				       buf, &plen);
	pthread_mutex_unlock(&k->lock);
	if (r < 0) {
		pr_warn("decrypt %s: %s", key, gnutls_strerror(r));
		free(buf);
		return -EIO;
	}
	buf[plen] = 0;
	*out = buf;
	*outlen = plen;
	*stale = !primary;
	return 0;
}

static int enc_from(void *ctx, const char *key, const void *in, size_t len,
		    char **out, size_t *outlen, bool *stale)
{
	struct enc_entry *en = entry_for(ctx, key);
	size_t pl = strlen(AESGCM_PREFIX);

	if (!en)
		return 1;
	if (len > pl && !memcmp(in, AESGCM_PREFIX, pl))
		return aesgcm_open(en, key, in, len, out, outlen, stale);
	if (len >= strlen(BERTH_ENC_PREFIX) &&
	    !memcmp(in, BERTH_ENC_PREFIX, strlen(BERTH_ENC_PREFIX))) {
		pr_warn("decrypt %s: no configured provider for its prefix",
			key);
		return -EIO;
	}
	if (!has_identity(en)) {
		pr_warn("decrypt %s: stored unencrypted and identity is not a provider",
			key);
		return -EIO;
	}
	*stale = en->providers[0].aesgcm;
	return 1;
}

/* ---- configuration ---- */

static int fail(char *err, size_t errlen, const char *fmt, const char *arg)
{
	snprintf(err, errlen, fmt, arg ? arg : "");
	return -EINVAL;
}

/* "secrets" -> "/registry/core/secrets/", "foos.example.com" likewise. */
static int add_resource(struct enc_entry *en, const char *res, char *err,
			size_t errlen)
{
	const char *dot;
	char *p;

	if (en->nprefixes == RESOURCES_MAX)
		return fail(err, errlen, "too many resources", NULL);
	if (!res || !*res || strchr(res, '/') || strchr(res, '*'))
		return fail(
			err, errlen,
			"resources: \"%s\" is not a resource name (wildcards are not supported)",
			res);
	p = en->prefixes[en->nprefixes++];
	dot = strchr(res, '.');
	if (dot)
		snprintf(p, 128, "/registry/%s/%.*s/", dot + 1,
			 (int)(dot - res), res);
	else
		snprintf(p, 128, "/registry/core/%s/", res);
	return 0;
}

static gnutls_cipher_algorithm_t gcm_for(size_t n)
{
	return n == 16 ? GNUTLS_CIPHER_AES_128_GCM :
	       n == 24 ? GNUTLS_CIPHER_AES_192_GCM :
	       n == 32 ? GNUTLS_CIPHER_AES_256_GCM :
			 GNUTLS_CIPHER_UNKNOWN;
}

static int add_key(struct enc_provider *p, struct json_object *k, char *err,
		   size_t errlen)
{
	const char *name = berth_json_get_str(k, "name");
	const char *secret = berth_json_get_str(k, "secret");
	struct enc_key *ek;
	gnutls_datum_t d;
	char *raw;
	size_t n;
	int r;

	if (!name || !*name || strlen(name) >= NAME_MAX_LEN ||
	    strchr(name, ':'))
		return fail(err, errlen, "aesgcm: key name \"%s\" is invalid",
			    name);
	if (p->nkeys == KEYS_MAX)
		return fail(err, errlen, "aesgcm: too many keys", NULL);
	raw = secret ? berth_base64_decode(secret, false, &n) : NULL;
	if (!raw || gcm_for(n) == GNUTLS_CIPHER_UNKNOWN) {
		if (raw)
			gnutls_memset(raw, 0, n);
		free(raw);
		return fail(
			err, errlen,
			"aesgcm: key \"%s\" must be base64 of 16, 24 or 32 bytes",
			name);
	}
	ek = &p->keys[p->nkeys];
	d = (gnutls_datum_t){ .data = (unsigned char *)raw,
			      .size = (unsigned int)n };
	r = gnutls_aead_cipher_init(&ek->hd, gcm_for(n), &d);
	gnutls_memset(raw, 0, n);
	free(raw);
	if (r < 0)
		return fail(err, errlen, "aesgcm: %s", gnutls_strerror(r));
	snprintf(ek->name, sizeof(ek->name), "%s", name);
	pthread_mutex_init(&ek->lock, NULL);
	p->nkeys++;
	return 0;
}

static int add_provider(struct enc_entry *en, struct json_object *pj, char *err,
			size_t errlen)
{
	struct json_object *a, *keys;
	struct enc_provider *p;
	size_t i;
	int r;

	if (en->nproviders == PROVIDERS_MAX)
		return fail(err, errlen, "too many providers", NULL);
	p = &en->providers[en->nproviders];
	if (!json_object_is_type(pj, json_type_object))
		return fail(err, errlen, "a provider must be an object", NULL);
	if (json_object_object_get_ex(pj, "identity", NULL)) {
		en->nproviders++;
		return 0;
	}
	if (!json_object_object_get_ex(pj, "aesgcm", &a)) {
		json_object_object_foreach(pj, k, v)
		{
			(void)v;
			return fail(
				err, errlen,
				"provider %s is not supported (aesgcm, identity)",
				k);
		}
		return fail(err, errlen, "empty provider", NULL);
	}
	keys = berth_admission_array(a, "keys");
	if (!keys || !json_object_array_length(keys))
		return fail(err, errlen, "aesgcm: keys are required", NULL);
	p->aesgcm = true;
	en->nproviders++;
	for (i = 0; i < json_object_array_length(keys); i++) {
		r = add_key(p, json_object_array_get_idx(keys, i), err, errlen);
		if (r)
			return r;
	}
	return 0;
}

static int add_entry(struct berth_encryption *e, struct json_object *rj,
		     char *err, size_t errlen)
{
	struct json_object *res = berth_admission_array(rj, "resources");
	struct json_object *prov = berth_admission_array(rj, "providers");
	struct enc_entry *en;
	size_t i;
	int r;

	if (e->nentries == ENTRIES_MAX)
		return fail(err, errlen, "too many resources entries", NULL);
	if (!res || !prov || !json_object_array_length(prov))
		return fail(
			err, errlen,
			"each resources entry needs resources and providers",
			NULL);
	en = &e->entries[e->nentries++];
	for (i = 0; i < json_object_array_length(res); i++) {
		r = add_resource(en,
				 json_object_get_string(
					 json_object_array_get_idx(res, i)),
				 err, errlen);
		if (r)
			return r;
	}
	for (i = 0; i < json_object_array_length(prov); i++) {
		r = add_provider(en, json_object_array_get_idx(prov, i), err,
				 errlen);
		if (r)
			return r;
	}
	return 0;
}

int berth_encryption_parse(const char *text, size_t len,
			   struct berth_encryption **out, char *err,
			   size_t errlen)
{
	struct json_object *cfg, *res;
	struct berth_encryption *e;
	char yerr[200];
	size_t i;
	int r = 0;

	*out = NULL;
	cfg = berth_yaml_parse(text, len, yerr, sizeof(yerr));
	if (!cfg)
		return fail(err, errlen, "%s", yerr);
	if (strcmp(berth_json_get_str(cfg, "kind") ?: "",
		   "EncryptionConfiguration") ||
	    strncmp(berth_json_get_str(cfg, "apiVersion") ?: "",
		    "apiserver.config.k8s.io/", 24)) {
		json_object_put(cfg);
		return fail(
			err, errlen,
			"not an apiserver.config.k8s.io EncryptionConfiguration",
			NULL);
	}
	res = berth_admission_array(cfg, "resources");
	e = calloc(1, sizeof(*e));
	if (!e) {
		json_object_put(cfg);
		return -ENOMEM;
	}
	for (i = 0; !r && res && i < json_object_array_length(res); i++)
		r = add_entry(e, json_object_array_get_idx(res, i), err,
			      errlen);
	json_object_put(cfg);
	if (r) {
		berth_encryption_free(e);
		return r;
	}
	e->xf = (struct berth_store_transformer){ .to = enc_to,
						  .from = enc_from,
						  .ctx = e };
	*out = e;
	return 0;
}

int berth_encryption_load(const char *path, struct berth_encryption **out,
			  char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char buf[65536];
	size_t n;
	int r;

	*out = NULL;
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -errno;
	}
	n = fread(buf, 1, sizeof(buf) - 1, f);
	r = ferror(f) || !feof(f);
	fclose(f);
	if (r)
		return fail(err, errlen, "%s: unreadable or over 64 KiB", path);
	buf[n] = 0;
	r = berth_encryption_parse(buf, n, out, err, errlen);
	gnutls_memset(buf, 0, n);
	return r;
}

const struct berth_store_transformer *
berth_encryption_transformer(struct berth_encryption *e)
{
	return e ? &e->xf : NULL;
}

void berth_encryption_free(struct berth_encryption *e)
{
	size_t i, j, k;

	if (!e)
		return;
	for (i = 0; i < e->nentries; i++)
		for (j = 0; j < e->entries[i].nproviders; j++)
			for (k = 0; k < e->entries[i].providers[j].nkeys; k++) {
				struct enc_key *ek =
					&e->entries[i].providers[j].keys[k];

				gnutls_aead_cipher_deinit(ek->hd);
				pthread_mutex_destroy(&ek->lock);
			}
	free(e);
}
