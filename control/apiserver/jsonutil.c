// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* json-c helpers: bounded parsing and dotted-path access. */
#include <string.h>

#include "jsonutil.h"

struct json_object *berth_json_parse(const char *buf, size_t len,
				     const char **err)
{
	struct json_tokener *tok;
	struct json_object *obj;
	size_t end;

	if (err)
		*err = "invalid JSON";
	if (len > INT32_MAX)
		return NULL;
	tok = json_tokener_new_ex(BERTH_JSON_MAX_DEPTH);
	if (!tok)
		return NULL;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
	obj = json_tokener_parse_ex(tok, buf, (int)len);
	if (!obj) {
		enum json_tokener_error e = json_tokener_get_error(tok);

		if (err && e == json_tokener_continue)
			*err = "unexpected end of JSON input";
		else if (err)
			*err = json_tokener_error_desc(e);
		json_tokener_free(tok);
		return NULL;
	}
	end = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	for (; end < len; end++) {
		if (!strchr(" \t\r\n", buf[end])) {
			if (err)
				*err = "invalid character after top-level value";
			json_object_put(obj);
			return NULL;
		}
	}
	return obj;
}

const char *berth_json_str(struct json_object *obj, size_t *len)
{
	return json_object_to_json_string_length(
		obj, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE,
		len);
}

struct json_object *berth_json_path(struct json_object *obj, const char *path)
{
	char part[256];
	const char *p = path, *dot;
	size_t n;

	while (obj && *p) {
		if (!json_object_is_type(obj, json_type_object))
			return NULL;
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		if (n >= sizeof(part))
			return NULL;
		memcpy(part, p, n);
		part[n] = 0;
		if (!json_object_object_get_ex(obj, part, &obj))
			return NULL;
		p += n + (dot ? 1 : 0);
	}
	return obj;
}

const char *berth_json_path_str(struct json_object *obj, const char *path)
{
	obj = berth_json_path(obj, path);
	if (!obj || !json_object_is_type(obj, json_type_string))
		return NULL;
	return json_object_get_string(obj);
}

const char *berth_json_get_str(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

struct json_object *berth_json_obj(struct json_object *obj, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(obj, key, &v) &&
	    json_object_is_type(v, json_type_object))
		return v;
	v = json_object_new_object();
	json_object_object_add(obj, key, v);
	return v;
}

void berth_json_set_str(struct json_object *obj, const char *key,
			const char *val)
{
	json_object_object_add(obj, key, json_object_new_string(val));
}

void berth_json_set_int(struct json_object *obj, const char *key, int64_t v)
{
	json_object_object_add(obj, key, json_object_new_int64(v));
}

struct json_object *berth_json_copy(struct json_object *obj)
{
	struct json_object *dst = NULL;

	if (!obj)
		return NULL;
	if (json_object_deep_copy(obj, &dst, NULL))
		return NULL;
	return dst;
}

bool berth_json_equal(struct json_object *a, struct json_object *b)
{
	return json_object_equal(a, b);
}

int64_t berth_json_get_int(struct json_object *obj, const char *key,
			   int64_t def)
{
	struct json_object *v;

	if (!obj || !json_object_is_type(obj, json_type_object) ||
	    !json_object_object_get_ex(obj, key, &v) ||
	    !json_object_is_type(v, json_type_int))
		return def;
	return json_object_get_int64(v);
}
