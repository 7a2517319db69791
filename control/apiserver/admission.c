// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The admission chain: which plugin runs for which request, the Status a
 * refusal answers with, and the store reads the plugins share.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "../store/store.h"
#include "admission.h"
#include "api.h"
#include "jsonutil.h"
#include "registry.h"
#include "rest.h"
#include "status.h"

#define KEY_MAX 512

static bool is_kind(const struct berth_admission_req *rq, const char *kind)
{
	return rq->res && !strcmp(rq->res->kind, kind);
}

struct json_object *
berth_admission_forbidden(const struct berth_admission_req *rq, const char *fmt,
			  ...)
{
	char msg[2048], q[128];
	struct json_object *st;
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	berth_qualified_name(rq->res, q, sizeof(q));
	st = berth_status_new(403, "Forbidden", "%s \"%s\" is forbidden: %s", q,
			      rq->name ?: "", msg);
	return berth_status_details(st, rq->name, rq->res->group,
				    rq->res->name);
}

struct json_object *berth_admission_mutate(const struct berth_admission_req *rq)
{
	struct json_object *st;

	if (rq->op != BERTH_ADMIT_CREATE || rq->sub || !is_kind(rq, "Pod"))
		return NULL;
	st = berth_sa_admit(rq);
	if (!st)
		st = berth_limitrange_default(rq);
	return st;
}

struct json_object *
berth_admission_validate(const struct berth_admission_req *rq, char *warn,
			 size_t wsize)
{
	struct json_object *st = NULL;

	if (warn && wsize)
		warn[0] = 0;
	if (rq->sub)
		return NULL;
	if (is_kind(rq, "Namespace"))
		return berth_podsecurity_namespace(rq, warn, wsize);
	if (rq->op != BERTH_ADMIT_CREATE) {
		/* pods are immutable where it matters; templates change */
		return is_kind(rq, "Pod") ?
			       NULL :
			       berth_podsecurity_admit(rq, warn, wsize);
	}
	if (is_kind(rq, "Pod"))
		st = berth_limitrange_validate(rq);
	if (!st)
		st = berth_podsecurity_admit(rq, warn, wsize);
	if (!st && rq->res->namespaced)
		st = berth_quota_admit(rq);
	return st;
}

/* NamespaceLifecycle: the namespaces the system lives in stay. */
struct json_object *berth_admission_delete(const struct berth_admission_req *rq)
{
	static const char *const immortal[] = { "default", "kube-system",
						"kube-public" };
	size_t i;

	if (!is_kind(rq, "Namespace") || !rq->name)
		return NULL;
	for (i = 0; i < sizeof(immortal) / sizeof(immortal[0]); i++)
		if (!strcmp(rq->name, immortal[i]))
			return berth_admission_forbidden(
				rq, "this namespace may not be deleted");
	return NULL;
}

struct json_object *berth_admission_list(struct berth_api *api,
					 const char *plural, const char *ns)
{
	const struct berth_resource *r = berth_resource_find("", "v1", plural);
	struct json_object *a = json_object_new_array();
	struct berth_kv_list l = { 0 };
	char key[KEY_MAX];
	size_t i;

	if (!r || berth_resource_key(r, ns, NULL, key, sizeof(key)) ||
	    berth_store_list(api->store, key, NULL, 0, 0, &l, NULL, NULL))
		return a;
	for (i = 0; i < l.n; i++) {
		struct json_object *o = berth_obj_from_store(
			l.items[i].value, l.items[i].value_len,
			l.items[i].mod_revision);

		if (o)
			json_object_array_add(a, o);
	}
	berth_kv_list_free(&l);
	return a;
}

struct json_object *berth_admission_get(struct berth_api *api,
					const char *plural, const char *ns,
					const char *name)
{
	const struct berth_resource *r = berth_resource_find("", "v1", plural);
	struct berth_kv kv = { 0 };
	struct json_object *o;
	char key[KEY_MAX];

	if (!r || berth_resource_key(r, ns, name, key, sizeof(key)) ||
	    berth_store_get(api->store, key, &kv))
		return NULL;
	o = berth_obj_from_store(kv.value, kv.value_len, kv.mod_revision);
	berth_kv_free(&kv);
	return o;
}

void berth_admission_each_container(struct json_object *spec,
				    void (*fn)(struct json_object *c,
					       void *ctx),
				    void *ctx)
{
	static const char *const lists[] = { "initContainers", "containers" };
	size_t i, j;

	for (i = 0; i < 2; i++) {
		struct json_object *cs = berth_admission_array(spec, lists[i]);

		for (j = 0; cs && j < json_object_array_length(cs); j++)
			if (json_object_is_type(json_object_array_get_idx(cs,
									  j),
						json_type_object))
				fn(json_object_array_get_idx(cs, j), ctx);
	}
}
