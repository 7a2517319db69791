/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * berth-server's certificates: a CA, the serving certificate and the admin
 * client certificate made at first start under the data dir (GnuTLS x509,
 * ECDSA P-256), or the operator's own files; and the PEM texts the HTTPS
 * listener and DIR/kubeconfig need.
 */
#ifndef BERTH_APISERVER_TLS_H
#define BERTH_APISERVER_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include <gnutls/x509.h>

#define BERTH_TLS_CA_DAYS 3650
#define BERTH_TLS_LEAF_DAYS 365
#define BERTH_TLS_RENEW_DAYS 30 /* a serving cert closer to expiry is remade */
#define BERTH_TLS_ADMIN_USER "berth-admin"
#define BERTH_TLS_MAX_SANS 16

struct berth_tls_opts {
	const char *cert_file; /* --tls-cert-file, NULL: DIR/apiserver.crt */
	const char *key_file; /* --tls-private-key-file */
	const char *client_ca_file; /* --client-ca-file, added to DIR/ca.crt */
	const char *ips[BERTH_TLS_MAX_SANS]; /* SANs of a generated cert */
	size_t nips;
	const char *dns[BERTH_TLS_MAX_SANS];
	size_t ndns;
};

/* All PEM text, malloc'd. */
struct berth_tls {
	char *cert; /* serving certificate (chain) */
	char *key; /* its private key */
	char *trust; /* CAs a client certificate must chain to */
	char *server_ca; /* what a client trusts the server by (kubeconfig) */
	char *admin_cert; /* CN=berth-admin, O=system:masters */
	char *admin_key;
};

/*
 * Load or create everything under dir: ca.{crt,key} (made once),
 * apiserver.{crt,key} (remade when its SANs miss an address of o or it is
 * near expiry; not used when o->cert_file is set) and admin.{crt,key}.
 * -errno; a message is logged saying which file failed.
 */
int berth_tls_setup(const char *dir, const struct berth_tls_opts *o,
		    struct berth_tls *out);
void berth_tls_free(struct berth_tls *t);

/*
 * Key ids link a leaf to its CA (subject key id from crt's key, authority
 * key id = issuer's subject key id; issuer NULL: self-signed). -EINVAL.
 */
int berth_tls_set_key_ids(gnutls_x509_crt_t crt, gnutls_x509_crt_t issuer);

#endif
