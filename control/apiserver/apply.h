/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Server-side apply (PATCH application/apply-patch+yaml), simplified: the
 * applied configuration is merged into the live object (maps by key, list
 * maps by their merge key, other lists whole); fields this manager applied
 * before and no longer applies are removed; its field set is recorded in
 * metadata.managedFields (FieldsV1). Ownership conflicts between managers
 * are not detected: every apply acts as with force=true.
 */
#ifndef BERTH_APISERVER_APPLY_H
#define BERTH_APISERVER_APPLY_H

#include <stddef.h>

#include <json-c/json.h>

/*
 * The object after manager applies cfg to live (NULL: creating it). A new
 * reference, or NULL with a message in err.
 */
struct json_object *berth_apply(struct json_object *live,
				struct json_object *cfg, const char *manager,
				char *err, size_t errsize);

#endif
