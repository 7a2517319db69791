/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * RBAC: the stored Roles, ClusterRoles and their bindings compiled into one
 * in-memory snapshot, rebuilt when an rbac.authorization.k8s.io object
 * changes (store watch, and at once after a write through this server),
 * and evaluated per request with default deny.
 */
#ifndef BERTH_APISERVER_RBAC_H
#define BERTH_APISERVER_RBAC_H

#include <stdbool.h>
#include <stddef.h>

struct berth_api;
struct berth_store;
struct json_object;
struct berth_user;

/* What a request asks to do, as Kubernetes' RequestInfo. */
struct berth_authz_attrs {
	const char *verb; /* get list watch create update patch delete ... */
	bool resource; /* false: a non-resource path */
	const char *group; /* "" for core */
	const char *version;
	const char *res; /* plural */
	const char *sub; /* subresource or NULL */
	const char *ns; /* NULL: cluster scope (or all namespaces) */
	const char *name; /* NULL: the collection */
	const char *path; /* the URL path */
};

#define BERTH_RBAC_PREFIX "/registry/rbac.authorization.k8s.io/"

struct berth_rbac;

int berth_rbac_new(struct berth_store *store, struct berth_rbac **out);
void berth_rbac_free(struct berth_rbac *r);
/* Recompile before the next decision (a write to an RBAC object). */
void berth_rbac_invalidate(struct berth_rbac *r);

/*
 * Does any binding of u grant a? why (may be NULL) gets the binding and
 * role that allowed it, for SubjectAccessReview's status.reason.
 */
bool berth_rbac_allows(struct berth_rbac *r, const struct berth_user *u,
		       const struct berth_authz_attrs *a, char *why,
		       size_t size);
/*
 * A SubjectRulesReview's status: the rules of every binding of u that
 * applies in ns (ns NULL: the ClusterRoleBindings only).
 */
struct json_object *berth_rbac_rules(struct berth_rbac *r,
				     const struct berth_user *u,
				     const char *ns);
/* Snapshots compiled so far: tells tests and benchmarks the cache works. */
unsigned long berth_rbac_compiles(const struct berth_rbac *r);

/*
 * Create the bootstrap ClusterRoles and ClusterRoleBindings that are
 * missing (cluster-admin, admin, edit, view, system:basic-user,
 * system:discovery, system:public-info-viewer, system:node).
 */
int berth_rbac_bootstrap(struct berth_api *api);

#endif
