// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Helpers the ReplicaSet and Deployment controllers share. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../apiserver/jsonutil.h"
#include "ctl.h"
#include "rollout.h"

#define BARRIER_WAIT_MS 2000 /* an informer further behind is broken */

void berth_rollout_barrier(struct berth_api *api,
			   const struct berth_resource *r, const char *ns,
			   struct berth_informer *inf)
{
	static const char *const args[] = { "limit", "1", NULL };
	struct json_object *out = NULL;
	char path[512];

	if (berth_client_path(r, ns, NULL, NULL, path, sizeof(path)))
		return;
	if (berth_client_request(api, "GET", path, args, NULL, NULL, &out) ==
	    200)
		berth_informer_wait_rev(
			inf,
			strtoll(berth_json_path_str(
					out, "metadata.resourceVersion") ?:
					"0",
				NULL, 10),
			BARRIER_WAIT_MS);
	json_object_put(out);
}

bool berth_rollout_owned_by(struct json_object *obj, const char *uid)
{
	const char *u = berth_json_get_str(berth_owner_controller(obj), "uid");

	return u && uid && !strcmp(u, uid);
}

/* Merge patch of metadata.ownerReferences = refs, guarded by obj's rv. */
static int patch_refs(struct berth_api *api, const struct berth_resource *r,
		      struct json_object *obj, struct json_object *refs)
{
	struct json_object *patch = json_object_new_object(), *md;
	int code;

	md = berth_json_obj(patch, "metadata");
	json_object_object_add(md, "ownerReferences", refs);
	berth_json_set_str(md, "resourceVersion",
			   berth_json_path_str(obj, "metadata.resourceVersion"));
	berth_json_set_str(md, "uid", berth_json_path_str(obj, "metadata.uid"));
	code = berth_client_merge_patch(
		api, r, berth_json_path_str(obj, "metadata.namespace"),
		berth_json_path_str(obj, "metadata.name"), NULL, patch, NULL);
	json_object_put(patch);
	return code;
}

int berth_rollout_adopt(struct berth_api *api, const struct berth_resource *r,
			struct json_object *owner, struct json_object *obj)
{
	struct json_object *old = berth_json_path(obj,
						  "metadata.ownerReferences");
	struct json_object *refs = json_object_new_array();
	size_t i, n = json_object_is_type(old, json_type_array) ? json_object_array_length(old) : 0;

	for (i = 0; i < n; i++)
		json_object_array_add(
			refs, berth_json_copy(json_object_array_get_idx(old, i)));
	json_object_array_add(refs, berth_owner_ref(owner, true));
	return patch_refs(api, r, obj, refs);
}

int berth_rollout_release(struct berth_api *api,
			  const struct berth_resource *r,
			  struct json_object *owner, struct json_object *obj)
{
	struct json_object *old = berth_json_path(obj,
						  "metadata.ownerReferences");
	struct json_object *refs = json_object_new_array();
	const char *uid = berth_json_path_str(owner, "metadata.uid");
	size_t i, n = json_object_is_type(old, json_type_array) ? json_object_array_length(old) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *ref = json_object_array_get_idx(old, i);
		const char *u = berth_json_get_str(ref, "uid");

		if (!u || !uid || strcmp(u, uid))
			json_object_array_add(refs, berth_json_copy(ref));
	}
	return patch_refs(api, r, obj, refs);
}

double berth_pod_ready_for(struct json_object *pod)
{
	struct json_object *c;

	if (!berth_pod_ready(pod))
		return -1;
	c = berth_get_condition(berth_json_path(pod, "status"), "Ready");
	return berth_since(berth_json_get_str(c, "lastTransitionTime"));
}

bool berth_rollout_del_condition(struct json_object *status, const char *type)
{
	struct json_object *conds = berth_json_path(status, "conditions");
	size_t i, n;

	if (!json_object_is_type(conds, json_type_array))
		return false;
	n = json_object_array_length(conds);
	for (i = 0; i < n; i++) {
		const char *t = berth_json_get_str(
			json_object_array_get_idx(conds, i), "type");

		if (t && !strcmp(t, type)) {
			json_object_array_del_idx(conds, i, 1);
			return true;
		}
	}
	return false;
}
