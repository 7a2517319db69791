/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Server-side apply (PATCH application/apply-patch+yaml) and field
 * ownership. The applied configuration is merged into the live object
 * (maps by key, list maps by their merge key, other lists whole); each
 * manager's fields are recorded in metadata.managedFields (FieldsV1).
 * An apply that changes a field another manager owns is a conflict unless
 * forced (then the applier takes the field); fields the applier stops
 * applying are removed unless another manager still owns them. Other
 * writes record what they changed as an Update by their manager.
 */
#ifndef BERTH_APISERVER_APPLY_H
#define BERTH_APISERVER_APPLY_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

struct berth_apply_opts {
	const char *manager; /* fieldManager */
	bool force; /* force=true: conflicts move ownership to manager */
};

/*
 * The object after opts->manager applies cfg to live (NULL: creating it):
 * a new reference, or NULL with a Status (409 with one FieldManagerConflict
 * cause per field, or 422) in *status.
 */
struct json_object *berth_apply(struct json_object *live,
				struct json_object *cfg,
				const struct berth_apply_opts *opts,
				struct json_object **status);

/*
 * Record in new's managedFields that manager (operation Update, on
 * subresource if not NULL) wrote what differs between old (NULL: a create)
 * and new; other managers lose those fields. new's own managedFields are
 * kept if it has them, else old's are carried over.
 */
void berth_managed_update(struct json_object *old, struct json_object *new,
			  const char *manager, const char *subresource);

#endif
