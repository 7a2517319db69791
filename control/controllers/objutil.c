// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Object helpers the controllers share: owners, conditions, pod state, time. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/rest.h"
#include "ctl.h"

static void enqueue_obj(void *ctx, struct json_object *obj)
{
	char key[512];

	berth_obj_key(obj, key, sizeof(key));
	berth_queue_add(ctx, key);
}

static void enqueue_update(void *ctx, struct json_object *old,
			   struct json_object *obj)
{
	(void)old;
	enqueue_obj(ctx, obj);
}

void berth_enqueue_handler(struct berth_informer_handler *h,
			   struct berth_queue *q)
{
	*h = (struct berth_informer_handler){ .add = enqueue_obj,
					      .update = enqueue_update,
					      .del = enqueue_obj,
					      .ctx = q };
}

struct json_object *berth_owner_controller(struct json_object *obj)
{
	struct json_object *refs = berth_json_path(obj,
						   "metadata.ownerReferences");
	size_t i, n;

	if (!json_object_is_type(refs, json_type_array))
		return NULL;
	n = json_object_array_length(refs);
	for (i = 0; i < n; i++) {
		struct json_object *r = json_object_array_get_idx(refs, i), *c;

		if (json_object_object_get_ex(r, "controller", &c) &&
		    json_object_get_boolean(c))
			return r;
	}
	return NULL;
}

struct json_object *berth_owner_ref(struct json_object *owner, bool controller)
{
	struct json_object *r = json_object_new_object();

	berth_json_set_str(r, "apiVersion",
			   berth_json_get_str(owner, "apiVersion") ?: "v1");
	berth_json_set_str(r, "kind", berth_json_get_str(owner, "kind") ?: "");
	berth_json_set_str(r, "name",
			   berth_json_path_str(owner, "metadata.name") ?: "");
	berth_json_set_str(r, "uid",
			   berth_json_path_str(owner, "metadata.uid") ?: "");
	if (controller) {
		json_object_object_add(r, "controller",
				       json_object_new_boolean(1));
		json_object_object_add(r, "blockOwnerDeletion",
				       json_object_new_boolean(1));
	}
	return r;
}

bool berth_owner_key(struct json_object *obj, const char *kind, char *buf,
		     size_t size)
{
	struct json_object *r = berth_owner_controller(obj);
	const char *k = berth_json_get_str(r, "kind");
	const char *ns = berth_json_path_str(obj, "metadata.namespace");

	if (!r || !k || strcmp(k, kind))
		return false;
	if (ns && *ns)
		snprintf(buf, size, "%s/%s", ns,
			 berth_json_get_str(r, "name") ?: "");
	else
		snprintf(buf, size, "%s", berth_json_get_str(r, "name") ?: "");
	return true;
}

void berth_index_owner_uid(struct json_object *obj, berth_index_emit emit,
			   void *ectx)
{
	struct json_object *refs = berth_json_path(obj,
						   "metadata.ownerReferences");
	size_t i, n;

	if (!json_object_is_type(refs, json_type_array))
		return;
	n = json_object_array_length(refs);
	for (i = 0; i < n; i++) {
		const char *uid = berth_json_get_str(
			json_object_array_get_idx(refs, i), "uid");

		if (uid)
			emit(ectx, uid);
	}
}

bool berth_obj_deleting(struct json_object *obj)
{
	return berth_json_path(obj, "metadata.deletionTimestamp") != NULL;
}

struct json_object *berth_get_condition(struct json_object *status,
					const char *type)
{
	struct json_object *conds = berth_json_path(status, "conditions");
	size_t i, n;

	if (!json_object_is_type(conds, json_type_array))
		return NULL;
	n = json_object_array_length(conds);
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *t = berth_json_get_str(c, "type");

		if (t && !strcmp(t, type))
			return c;
	}
	return NULL;
}

bool berth_set_condition(struct json_object *status, const char *type,
			 const char *cstatus, const char *reason,
			 const char *message)
{
	struct json_object *conds, *c = berth_get_condition(status, type);
	const char *s, *r, *msg;
	char ts[32];

	berth_now_rfc3339(ts, sizeof(ts));
	if (c) {
		s = berth_json_get_str(c, "status");
		r = berth_json_get_str(c, "reason");
		msg = berth_json_get_str(c, "message");
		if (s && !strcmp(s, cstatus) &&
		    !strcmp(r ?: "", reason ?: "") &&
		    !strcmp(msg ?: "", message ?: ""))
			return false;
		if (!s || strcmp(s, cstatus))
			berth_json_set_str(c, "lastTransitionTime", ts);
	} else {
		if (!json_object_object_get_ex(status, "conditions", &conds) ||
		    !json_object_is_type(conds, json_type_array)) {
			conds = json_object_new_array();
			json_object_object_add(status, "conditions", conds);
		}
		c = json_object_new_object();
		json_object_array_add(conds, c);
		berth_json_set_str(c, "type", type);
		berth_json_set_str(c, "lastTransitionTime", ts);
	}
	berth_json_set_str(c, "status", cstatus);
	if (reason)
		berth_json_set_str(c, "reason", reason);
	else
		json_object_object_del(c, "reason");
	if (message)
		berth_json_set_str(c, "message", message);
	else
		json_object_object_del(c, "message");
	return true;
}

bool berth_pod_ready(struct json_object *pod)
{
	struct json_object *c =
		berth_get_condition(berth_json_path(pod, "status"), "Ready");
	const char *s = berth_json_get_str(c, "status");

	return s && !strcmp(s, "True");
}

bool berth_pod_finished(struct json_object *pod)
{
	const char *p = berth_json_path_str(pod, "status.phase");

	return p && (!strcmp(p, "Succeeded") || !strcmp(p, "Failed"));
}

double berth_since(const char *rfc3339)
{
	struct tm tm = { 0 };
	const char *end;

	if (!rfc3339)
		return 0;
	end = strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end)
		return 0;
	return difftime(time(NULL), timegm(&tm));
}
