/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Admission plugins, run by rest.c in kube-apiserver's order: mutating
 * admission (ServiceAccount, LimitRanger defaults), then the kind's
 * defaulting and validation (admit.c), then validating admission
 * (LimitRanger bounds, PodSecurity, ResourceQuota). NamespaceLifecycle
 * guards creates (rest.c check_namespace) and deletes (below).
 */
#ifndef BERTH_APISERVER_ADMISSION_H
#define BERTH_APISERVER_ADMISSION_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

struct berth_api;
struct berth_resource;

/* Who asks; NULL: the server itself or a loopback admin (no limits). */
struct berth_admit_user {
	const char *name;
	const char *const *groups;
	size_t ngroups;
};

enum berth_admit_op {
	BERTH_ADMIT_CREATE,
	BERTH_ADMIT_UPDATE,
	BERTH_ADMIT_DELETE,
};

struct berth_admission_req {
	struct berth_api *api;
	const struct berth_resource *res;
	const char *ns; /* "" or NULL for cluster-scoped kinds */
	const char *name;
	const char *sub; /* subresource or NULL */
	enum berth_admit_op op;
	struct json_object *obj; /* the new object (create, update) */
	struct json_object *old; /* the stored one (update, delete) */
	const struct berth_admit_user *user;
	bool dry; /* dryRun: check, charge no quota */
};

/*
 * Each returns NULL to admit, or a Status object (403/422, the caller's
 * reference) naming the plugin that refused. Warnings (PodSecurity) are
 * written to warn (may be NULL), one per line.
 */
struct json_object *
berth_admission_mutate(const struct berth_admission_req *rq);
struct json_object *
berth_admission_validate(const struct berth_admission_req *rq, char *warn,
			 size_t wsize);
struct json_object *
berth_admission_delete(const struct berth_admission_req *rq);

/* A 403 Forbidden Status: `KIND "name" is forbidden: MESSAGE`. */
struct json_object *
berth_admission_forbidden(const struct berth_admission_req *rq, const char *fmt,
			  ...) __attribute__((format(printf, 2, 3)));

/* ---- the plugins (one file each) ---- */

/* serviceaccount admission: mutate a pod on create. */
struct json_object *berth_sa_admit(const struct berth_admission_req *rq);
/* limitrange.c: defaults (mutate) and bounds (validate) of a new pod. */
struct json_object *
berth_limitrange_default(const struct berth_admission_req *rq);
struct json_object *
berth_limitrange_validate(const struct berth_admission_req *rq);
/*
 * podsecurity.c: a new pod (refused) or a workload's template (warned
 * about) against its namespace's pod-security labels.
 */
struct json_object *
berth_podsecurity_admit(const struct berth_admission_req *rq, char *warn,
			size_t wsize);
/*
 * Namespace labels: their values checked; a new enforce level warns about
 * the namespace's pods it would refuse.
 */
struct json_object *
berth_podsecurity_namespace(const struct berth_admission_req *rq, char *warn,
			    size_t wsize);
/* quota.c: charge a create against the namespace's ResourceQuotas. */
struct json_object *berth_quota_admit(const struct berth_admission_req *rq);

/*
 * Store helpers shared by the plugins: the objects of resource (group "",
 * plural) in ns as a new json array (empty on error), or one object (NULL
 * if absent); the namespace object.
 */
struct json_object *berth_admission_list(struct berth_api *api,
					 const char *plural, const char *ns);
struct json_object *berth_admission_get(struct berth_api *api,
					const char *plural, const char *ns,
					const char *name);

/* o.k if it is an array, else NULL. */
static inline struct json_object *berth_admission_array(struct json_object *o,
							const char *k)
{
	struct json_object *v;

	return json_object_object_get_ex(o, k, &v) &&
			       json_object_is_type(v, json_type_array) ?
		       v :
		       NULL;
}
/* fn for each container of a pod spec: init containers, then containers. */
void berth_admission_each_container(struct json_object *spec,
				    void (*fn)(struct json_object *c,
					       void *ctx),
				    void *ctx);

#endif
