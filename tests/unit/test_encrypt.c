// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Encryption at rest (control/apiserver/encrypt.c): the stored form of a
 * Secret, reading it back, the store key as authenticated data, tampering,
 * rotation (an older key reads and marks the value stale), identity, and
 * the configurations refused.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../control/apiserver/encrypt.h"
#include "../../control/store/store.h"

/* 32 and 16 bytes, base64 */
#define K1 "MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY="
#define K2 "ZmVkY2JhOTg3NjU0MzIxMGZlZGNiYTk4NzY1NDMyMTA="
#define K16 "MDEyMzQ1Njc4OWFiY2RlZg=="
#define SKEY "/registry/core/secrets/default/s1"
#define VALUE "{\"kind\":\"Secret\",\"data\":{\"p\":\"aHVudGVyMg==\"}}"

static struct berth_encryption *load(const char *providers)
{
	char cfg[2048], err[256] = "";
	struct berth_encryption *e = NULL;
	int r;

	snprintf(cfg, sizeof(cfg),
		 "apiVersion: apiserver.config.k8s.io/v1\n"
		 "kind: EncryptionConfiguration\n"
		 "resources:\n"
		 "  - resources: [secrets]\n"
		 "    providers:\n%s",
		 providers);
	r = berth_encryption_parse(cfg, strlen(cfg), &e, err, sizeof(err));
	cr_assert_eq(r, 0, "parse: %d %s", r, err);
	return e;
}

static int refuse(const char *cfg)
{
	struct berth_encryption *e = NULL;
	char err[256] = "";
	int r = berth_encryption_parse(cfg, strlen(cfg), &e, err, sizeof(err));

	cr_assert_null(e);
	cr_assert(*err, "a refusal says why");
	return r;
}

#define AESGCM(keys) "      - aesgcm:\n          keys:\n" keys
#define KEY(n, s) "            - name: " n "\n              secret: " s "\n"
#define IDENTITY "      - identity: {}\n"

static char *seal(struct berth_encryption *e, const char *key, size_t *n)
{
	const struct berth_store_transformer *t =
		berth_encryption_transformer(e);
	char *out = NULL;

	cr_assert_eq(t->to(t->ctx, key, VALUE, strlen(VALUE), &out, n), 0);
	return out;
}

static int open_(struct berth_encryption *e, const char *key, const char *in,
		 size_t n, char **out, bool *stale)
{
	const struct berth_store_transformer *t =
		berth_encryption_transformer(e);
	size_t len;

	*stale = false;
	return t->from(t->ctx, key, in, n, out, &len, stale);
}

Test(encrypt, aesgcm_round_trip)
{
	struct berth_encryption *e = load(AESGCM(KEY("key1", K1)));
	size_t n;
	char *c = seal(e, SKEY, &n), *p = NULL;
	bool stale;

	cr_assert_eq(strncmp(c, "k8s:enc:aesgcm:v1:key1:", 23), 0);
	cr_assert_eq(n, 23 + 12 + strlen(VALUE) + 16,
		     "prefix, nonce, data, tag");
	cr_assert_null(memmem(c, n, "aHVudGVyMg", 10), "no plaintext stored");
	cr_assert_eq(open_(e, SKEY, c, n, &p, &stale), 0);
	cr_assert_str_eq(p, VALUE);
	cr_assert(!stale, "the write key's value is not stale");
	free(p);
	free(c);
	berth_encryption_free(e);
}

Test(encrypt, nonce_differs)
{
	struct berth_encryption *e = load(AESGCM(KEY("key1", K1)));
	size_t n1, n2;
	char *a = seal(e, SKEY, &n1), *b = seal(e, SKEY, &n2);

	cr_assert(memcmp(a, b, n1), "two writes of one value differ");
	free(a);
	free(b);
	berth_encryption_free(e);
}

Test(encrypt, other_resources_untouched)
{
	struct berth_encryption *e = load(AESGCM(KEY("key1", K1)));
	const struct berth_store_transformer *t =
		berth_encryption_transformer(e);
	char *out = NULL;
	size_t n;
	bool stale;

	cr_assert_eq(t->to(t->ctx, "/registry/core/configmaps/default/c", VALUE,
			   strlen(VALUE), &out, &n),
		     1);
	cr_assert_eq(open_(e, "/registry/core/configmaps/default/c", VALUE,
			   strlen(VALUE), &out, &stale),
		     1);
	berth_encryption_free(e);
}

Test(encrypt, tamper_and_moved_value_fail)
{
	struct berth_encryption *e = load(AESGCM(KEY("key1", K1)));
	size_t n;
	char *c = seal(e, SKEY, &n), *p = NULL;
	bool stale;

	cr_assert_eq(open_(e, "/registry/core/secrets/default/s2", c, n, &p,
			   &stale),
		     -EIO, "the key is authenticated data");
	c[n - 20] ^= 1;
	cr_assert_eq(open_(e, SKEY, c, n, &p, &stale), -EIO, "tampered");
	cr_assert_eq(open_(e, SKEY, c, 30, &p, &stale), -EIO, "truncated");
	free(c);
	berth_encryption_free(e);
}

Test(encrypt, rotation)
{
	struct berth_encryption *old = load(AESGCM(KEY("key1", K1)));
	struct berth_encryption *e =
		load(AESGCM(KEY("key2", K2) KEY("key1", K1)));
	struct berth_encryption *gone = load(AESGCM(KEY("key2", K2)));
	size_t n, n2;
	char *c = seal(old, SKEY, &n), *c2, *p = NULL;
	bool stale;

	cr_assert_eq(open_(e, SKEY, c, n, &p, &stale), 0);
	cr_assert_str_eq(p, VALUE);
	cr_assert(stale, "a value under a second key is stale");
	free(p);
	c2 = seal(e, SKEY, &n2);
	cr_assert_eq(strncmp(c2, "k8s:enc:aesgcm:v1:key2:", 23), 0,
		     "writes use the first key");
	cr_assert_eq(open_(gone, SKEY, c, n, &p, &stale), -EIO,
		     "a key no longer listed cannot read");
	cr_assert_eq(open_(gone, SKEY, c2, n2, &p, &stale), 0);
	free(p);
	free(c);
	free(c2);
	berth_encryption_free(old);
	berth_encryption_free(e);
	berth_encryption_free(gone);
}

Test(encrypt, identity)
{
	struct berth_encryption *with = load(AESGCM(KEY("k", K16)) IDENTITY);
	struct berth_encryption *without = load(AESGCM(KEY("k", K16)));
	struct berth_encryption *plain = load(IDENTITY AESGCM(KEY("k", K16)));
	const struct berth_store_transformer *t;
	char *p = NULL;
	size_t n;
	bool stale;

	cr_assert_eq(open_(with, SKEY, VALUE, strlen(VALUE), &p, &stale), 1,
		     "identity reads a plain value as it is");
	cr_assert(stale, "and asks for it to be rewritten encrypted");
	cr_assert_eq(open_(without, SKEY, VALUE, strlen(VALUE), &p, &stale),
		     -EIO, "without identity a plain value is refused");
	t = berth_encryption_transformer(plain);
	cr_assert_eq(t->to(t->ctx, SKEY, VALUE, strlen(VALUE), &p, &n), 1,
		     "identity first writes plain");
	berth_encryption_free(with);
	berth_encryption_free(without);
	berth_encryption_free(plain);
}

Test(encrypt, bad_configurations)
{
	const char *head = "apiVersion: apiserver.config.k8s.io/v1\n"
			   "kind: EncryptionConfiguration\n"
			   "resources:\n"
			   "  - resources: [secrets]\n"
			   "    providers:\n";
	char cfg[1024];

	cr_assert_eq(refuse("kind: Pod\napiVersion: v1\n"), -EINVAL);
	snprintf(cfg, sizeof(cfg), "%s%s", head, AESGCM(KEY("k", "c2hvcnQ=")));
	cr_assert_eq(refuse(cfg), -EINVAL, "a 5-byte key");
	snprintf(cfg, sizeof(cfg), "%s%s", head, AESGCM(KEY("k", "!!!")));
	cr_assert_eq(refuse(cfg), -EINVAL, "not base64");
	snprintf(cfg, sizeof(cfg), "%s%s", head, AESGCM(KEY("a:b", K1)));
	cr_assert_eq(refuse(cfg), -EINVAL, "a colon in a key name");
	snprintf(cfg, sizeof(cfg), "%s%s", head, "      - kms: {name: x}\n");
	cr_assert_eq(refuse(cfg), -EINVAL, "an unsupported provider");
	snprintf(cfg, sizeof(cfg), "%s%s", head,
		 "      - aesgcm: {keys: []}\n");
	cr_assert_eq(refuse(cfg), -EINVAL, "aesgcm without keys");
}
