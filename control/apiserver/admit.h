/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Admission of an object on create and update: defaulting (what the
 * built-in kinds' defaulters set) and validation, with field errors
 * reported as a 422 Status with causes.
 */
#ifndef BERTH_APISERVER_ADMIT_H
#define BERTH_APISERVER_ADMIT_H

#include <stdbool.h>
#include <stddef.h>

#include <json-c/json.h>

#include "registry.h"

#define BERTH_VERRS_MAX 16

enum berth_verr_type {
	BERTH_VERR_INVALID,
	BERTH_VERR_REQUIRED,
	BERTH_VERR_DUPLICATE,
	BERTH_VERR_FORBIDDEN,
	BERTH_VERR_NOT_SUPPORTED,
};

struct berth_verrs {
	int n;
	struct {
		enum berth_verr_type type;
		char field[200];
		char msg[400]; /* "Invalid value: \"x\": detail" */
	} e[BERTH_VERRS_MAX];
};

/* Add a field error; value may be NULL. */
void berth_verr(struct berth_verrs *v, enum berth_verr_type type,
		const char *field, const char *value, const char *detail);
/* The 422 Status: Kind "name" is invalid: field: message. */
struct json_object *berth_verrs_status(const struct berth_verrs *v,
				       const struct berth_resource *r,
				       const char *name);

void berth_validate_name(const struct berth_resource *r, const char *name,
			 struct berth_verrs *v);
/*
 * Default obj in place and validate it; old is the stored object on
 * update (NULL on create). Field errors go to v.
 */
void berth_admit(const struct berth_resource *r, struct json_object *obj,
		 struct json_object *old, struct berth_verrs *v);
/*
 * Unknown top-level and metadata fields (fieldValidation): writes
 * "unknown field \"x\"" messages, ", "-separated, to buf; returns their
 * count. With drop, removes them (Warn and Ignore store without them).
 */
int berth_unknown_fields(const struct berth_resource *r,
			 struct json_object *obj, bool drop, char *buf,
			 size_t size);

#endif
