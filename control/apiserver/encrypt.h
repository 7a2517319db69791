/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Encryption at rest: an EncryptionConfiguration (apiserver.config.k8s.io/v1)
 * read from --encryption-provider-config, applied to the store as a value
 * transformer. Providers aesgcm (AES-GCM, GnuTLS) and identity; the first
 * provider writes, every listed one reads.
 */
#ifndef BERTH_APISERVER_ENCRYPT_H
#define BERTH_APISERVER_ENCRYPT_H

#include <stddef.h>

struct berth_encryption;
struct berth_store_transformer;

#define BERTH_ENC_PREFIX "k8s:enc:" /* every transformed value starts so */

/* Parse the file at path; 0, or -errno with a message in err. */
int berth_encryption_load(const char *path, struct berth_encryption **out,
			  char *err, size_t errlen);
/* The same from the file's text. */
int berth_encryption_parse(const char *text, size_t len,
			   struct berth_encryption **out, char *err,
			   size_t errlen);
/* The transformer for berth_store_set_transformer; lives as long as e. */
const struct berth_store_transformer *
berth_encryption_transformer(struct berth_encryption *e);
void berth_encryption_free(struct berth_encryption *e);

#endif
