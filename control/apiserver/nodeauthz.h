/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The Node authorizer and NodeRestriction: a node (user system:node:NAME
 * in group system:nodes) reads only the Secrets, ConfigMaps, PVCs and
 * ServiceAccounts of pods bound to it and writes only its own Node, Lease,
 * pod statuses and mirror pods. The pod graph is an in-memory index of
 * pods by node fed by a store watch, so a decision never reads the store.
 */
#ifndef BERTH_APISERVER_NODEAUTHZ_H
#define BERTH_APISERVER_NODEAUTHZ_H

#include <stdbool.h>
#include <stddef.h>

#include "http.h"

struct berth_store;
struct berth_user;
struct berth_authz_attrs;
struct berth_nodeauthz;

#define BERTH_NODE_USER_PREFIX "system:node:"
#define BERTH_GROUP_NODES "system:nodes"
#define BERTH_NODE_RESTRICTION_PREFIX "node-restriction.kubernetes.io/"

enum berth_node_decision {
	BERTH_NODE_NO_OPINION, /* not a node, or a request RBAC decides */
	BERTH_NODE_ALLOW,
	BERTH_NODE_DENY,
};

int berth_nodeauthz_new(struct berth_store *store,
			struct berth_nodeauthz **out);
void berth_nodeauthz_free(struct berth_nodeauthz *n);

/* The node name of u, or NULL when u is not a node identity. */
const char *berth_node_of_user(const struct berth_user *u);

/* The Node authorizer's answer for u doing a; why says the rule. */
enum berth_node_decision
berth_nodeauthz_decide(struct berth_nodeauthz *n, const struct berth_user *u,
		       const struct berth_authz_attrs *a, char *why,
		       size_t size);

/*
 * NodeRestriction on the request body of an authorized write by a node:
 * a Node or Lease it creates is its own, its Node labels stay out of
 * node-restriction.kubernetes.io/ (store: for the labels a PUT replaces),
 * a pod it creates is a mirror pod bound to it, a token it asks for is
 * bound to a pod bound to it. false with msg set:
 * answer 403.
 */
bool berth_node_restrict(struct berth_nodeauthz *n, struct berth_store *store,
			 const struct berth_user *u,
			 const struct berth_authz_attrs *a,
			 const struct berth_http_req *req, char *msg,
			 size_t size);

/* Pods indexed so far (tests). */
size_t berth_nodeauthz_pods(struct berth_nodeauthz *n);

#endif
