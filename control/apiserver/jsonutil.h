/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Small json-c helpers shared by the API server: safe parsing, paths, strings. */
#ifndef BERTH_APISERVER_JSONUTIL_H
#define BERTH_APISERVER_JSONUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#define BERTH_JSON_MAX_DEPTH 64 /* deeper bodies are rejected, not recursed */

/*
 * Parse exactly one JSON value from buf (trailing whitespace allowed).
 * NULL on error; *err (if not NULL) gets a static description.
 */
struct json_object *berth_json_parse(const char *buf, size_t len,
				     const char **err);
/* Compact serialisation; valid until obj changes or is freed. */
const char *berth_json_str(struct json_object *obj, size_t *len);

/* obj.a.b.c ("a.b.c"); NULL if any step is missing or not an object. */
struct json_object *berth_json_path(struct json_object *obj, const char *path);
/* String at path, or NULL. */
const char *berth_json_path_str(struct json_object *obj, const char *path);
/* String member of obj, or NULL. */
const char *berth_json_get_str(struct json_object *obj, const char *key);
/* Member key of obj as an object, created (replacing a non-object) if needed. */
struct json_object *berth_json_obj(struct json_object *obj, const char *key);
void berth_json_set_str(struct json_object *obj, const char *key,
			const char *val);
void berth_json_set_int(struct json_object *obj, const char *key, int64_t v);
/* Deep copy (NULL for NULL). */
struct json_object *berth_json_copy(struct json_object *obj);
/* Deep equality, NULL equal to NULL only. */
bool berth_json_equal(struct json_object *a, struct json_object *b);
/* Integer member, or def when absent or not a number. */
int64_t berth_json_get_int(struct json_object *obj, const char *key,
			   int64_t def);

#endif
