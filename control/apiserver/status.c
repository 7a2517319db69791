// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Builders for metav1.Status error objects. */
#include <stdarg.h>
#include <stdio.h>

#include "jsonutil.h"
#include "status.h"

const char *berth_status_reason(int code)
{
	switch (code) {
	case 400:
		return "BadRequest";
	case 401:
		return "Unauthorized";
	case 403:
		return "Forbidden";
	case 404:
		return "NotFound";
	case 405:
		return "MethodNotAllowed";
	case 406:
		return "NotAcceptable";
	case 409:
		return "Conflict";
	case 410:
		return "Expired";
	case 413:
		return "RequestEntityTooLarge";
	case 415:
		return "UnsupportedMediaType";
	case 422:
		return "Invalid";
	case 429:
		return "TooManyRequests";
	case 503:
		return "ServiceUnavailable";
	case 504:
		return "Timeout";
	default:
		return "InternalError";
	}
}

struct json_object *berth_status_new(int code, const char *reason,
				     const char *fmt, ...)
{
	struct json_object *st = json_object_new_object();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	berth_json_set_str(st, "kind", "Status");
	berth_json_set_str(st, "apiVersion", "v1");
	json_object_object_add(st, "metadata", json_object_new_object());
	berth_json_set_str(st, "status", "Failure");
	berth_json_set_str(st, "message", msg);
	berth_json_set_str(st, "reason",
			   reason ? reason : berth_status_reason(code));
	berth_json_set_int(st, "code", code);
	return st;
}

struct json_object *berth_status_details(struct json_object *st,
					 const char *name, const char *group,
					 const char *kind)
{
	struct json_object *d = berth_json_obj(st, "details");

	if (name)
		berth_json_set_str(d, "name", name);
	if (group && *group)
		berth_json_set_str(d, "group", group);
	if (kind)
		berth_json_set_str(d, "kind", kind);
	return st;
}

void berth_status_cause(struct json_object *st, const char *reason,
			const char *field, const char *message)
{
	struct json_object *d = berth_json_obj(st, "details");
	struct json_object *causes, *c = json_object_new_object();

	if (!json_object_object_get_ex(d, "causes", &causes) ||
	    !json_object_is_type(causes, json_type_array)) {
		causes = json_object_new_array();
		json_object_object_add(d, "causes", causes);
	}
	berth_json_set_str(c, "reason", reason);
	berth_json_set_str(c, "message", message);
	if (field)
		berth_json_set_str(c, "field", field);
	json_object_array_add(causes, c);
}

struct json_object *berth_status_success(void)
{
	struct json_object *st = json_object_new_object();

	berth_json_set_str(st, "kind", "Status");
	berth_json_set_str(st, "apiVersion", "v1");
	json_object_object_add(st, "metadata", json_object_new_object());
	berth_json_set_str(st, "status", "Success");
	return st;
}
