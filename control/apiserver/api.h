/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Kubernetes API over the store: routing of a request to discovery,
 * OpenAPI, health or a resource's REST handler, and the shared state
 * those need (store, address allocators, shutdown flag).
 */
#ifndef BERTH_APISERVER_API_H
#define BERTH_APISERVER_API_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#include "http.h"

struct berth_store;
struct berth_sa_key;
struct berth_authn;
struct berth_rbac;
struct berth_nodeauthz;
struct berth_csr_signer;

struct berth_api {
	struct berth_store *store;
	uint32_t svc_net; /* service CIDR, host order */
	unsigned int svc_bits;
	char cluster_cidr[64];
	char server_addr[64]; /* host:port clients reach us at */
	pthread_mutex_t alloc_lock; /* ClusterIP / NodePort allocation */
	atomic_bool stopping; /* SIGTERM: end watches */
	/* ServiceAccount tokens (tokenreq.c); no key: the token subresource
	 * answers 503 */
	struct berth_sa_key *sa_key;
	char sa_issuer[256]; /* iss of every token, audience by default */
	int64_t sa_max_expiration_s; /* longer requests are shortened */
	/* PEM of the CA that signs the serving certificate, published to
	 * every namespace as ConfigMap kube-root-ca.crt; NULL: none */
	char *root_ca_pem;
	/* the request chain (authz.c); NULL: every request passes */
	struct berth_authn *authn;
	struct berth_rbac *rbac; /* NULL: RBAC off */
	/* the Node authorizer and NodeRestriction (nodeauthz.c); NULL: off */
	struct berth_nodeauthz *nodeauthz;
	/* signs approved CertificateSigningRequests (csr.c); NULL: none */
	struct berth_csr_signer *csr_signer;
	bool authz_always_allow; /* --authorization-mode AlwaysAllow */
};

/* "10.96.0.0/12" -> *net, *bits; -EINVAL if malformed. */
int berth_parse_cidr(const char *cidr, uint32_t *net, unsigned int *bits);

int berth_api_init(struct berth_api *api, struct berth_store *store,
		   const char *service_cidr, const char *cluster_cidr);
/* Stops the workers; call before closing the store. */
void berth_api_fini(struct berth_api *api);
/* Create default, kube-system, kube-public and the kubernetes Service. */
int berth_api_bootstrap(struct berth_api *api);
/* The berth_http_handler. */
void berth_api_handle(void *ctx, const struct berth_http_req *req,
		      struct berth_http_resp *resp);

/* Response helpers: serialise obj (reference taken) with code. */
void berth_resp_json(struct berth_http_resp *resp, int code,
		     struct json_object *obj);
void berth_resp_text(struct berth_http_resp *resp, int code, const char *text);
/* A Status error; reason NULL picks the code's usual one. */
void berth_resp_error(struct berth_http_resp *resp, int code,
		      const char *reason, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
/* st: a Status object (reference taken); its code is the HTTP code. */
void berth_resp_status(struct berth_http_resp *resp, struct json_object *st);

/* Does the Accept header ask for a meta.k8s.io Table? */
bool berth_accept_table(const struct berth_http_req *req);

#endif
