/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* PATCH bodies: JSON merge patch, JSON patch and strategic merge patch. */
#ifndef BERTH_APISERVER_PATCH_H
#define BERTH_APISERVER_PATCH_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * Each returns a new object (the patched copy of doc; doc is left alone),
 * or NULL with a message in err.
 */
/* RFC 7386. */
struct json_object *berth_merge_patch(struct json_object *doc,
				      struct json_object *patch, char *err,
				      size_t errsize);
/* RFC 6902: patch is an array of operations. */
struct json_object *berth_json_patch(struct json_object *doc,
				     struct json_object *patch, char *err,
				     size_t errsize);
/*
 * Kubernetes strategic merge patch with the merge keys of the core kinds
 * (containers, env, volumes by name; container ports by containerPort;
 * Service ports by port; volumeMounts by mountPath; conditions by type...)
 * and the directives $patch, $retainKeys, $setElementOrder/<list>,
 * $deleteFromPrimitiveList/<list>. Lists without a merge key are replaced.
 */
struct json_object *berth_strategic_patch(struct json_object *doc,
					  struct json_object *patch, char *err,
					  size_t errsize);

/*
 * How the list at path (dotted field names, no indexes, e.g.
 * "spec.template.spec.containers") merges: 1 by the field *key (a list
 * map), 2 as a set of primitives, 0 replaced whole (atomic).
 */
int berth_list_strategy(const char *path, const char **key);

#endif
