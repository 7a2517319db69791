/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * certificates.k8s.io/v1 CertificateSigningRequest: the requester recorded
 * at create (spec.username, groups, uid), auto-approval of a node's client
 * certificate request (signer kubernetes.io/kube-apiserver-client-kubelet,
 * CN system:node:NAME, O system:nodes, client auth, asked by a bootstrap
 * token or by that node itself), and signing with the server's CA once
 * approved, for that signer and kubernetes.io/kube-apiserver-client.
 */
#ifndef BERTH_APISERVER_CSR_H
#define BERTH_APISERVER_CSR_H

#include <stdbool.h>
#include <stddef.h>

#define BERTH_SIGNER_KUBELET_CLIENT \
	"kubernetes.io/kube-apiserver-client-kubelet"
#define BERTH_SIGNER_CLIENT "kubernetes.io/kube-apiserver-client"
#define BERTH_CSR_MAX_SECONDS (365 * 86400) /* 1 year */
#define BERTH_CSR_MIN_SECONDS 600 /* as Kubernetes' expirationSeconds */

struct berth_api;
struct berth_call;
struct berth_verrs;
struct json_object;
struct berth_csr_signer;

/* The CA that signs: PEM files (the first certificate of ca_crt). */
int berth_csr_signer_load(const char *ca_crt, const char *ca_key,
			  struct berth_csr_signer **out);
void berth_csr_signer_free(struct berth_csr_signer *s);

/*
 * A CSR being created (obj): record the requester, check spec.request
 * and signerName (errors into ve), auto-approve and sign a node's own
 * client certificate request.
 */
void berth_csr_create(struct berth_call *c, struct json_object *obj,
		      struct berth_verrs *ve);
/*
 * An update of status or approval (fin: the object to store): approval
 * keeps the certificate as it was; an approved CSR without a certificate
 * is signed now (or gets a Failed condition saying why not).
 */
void berth_csr_update(struct berth_call *c, struct json_object *fin,
		      struct json_object *old, struct berth_verrs *ve);

/*
 * An approval update that adds Approved or Denied: may its user decide for
 * the CSR's signer (verb approve on certificates.k8s.io signers, named
 * signerName or its domain with a star, as Kubernetes' CertificateApproval rules)?
 * NULL, or a 403 Status to answer.
 */
struct json_object *berth_csr_approval_check(struct berth_call *c,
					     struct json_object *fin,
					     struct json_object *old);

/* "Pending", or the true conditions joined by commas, then "Issued". */
void berth_csr_condition(struct json_object *obj, char *buf, size_t size);

#endif
