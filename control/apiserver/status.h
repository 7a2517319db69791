/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* metav1.Status objects: how every API error is reported. */
#ifndef BERTH_APISERVER_STATUS_H
#define BERTH_APISERVER_STATUS_H

#include <json-c/json.h>

/* A Failure Status with code, reason (e.g. "NotFound") and message. */
struct json_object *berth_status_new(int code, const char *reason,
				     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Sets details {name, group, kind}; any may be NULL. Returns st. */
struct json_object *berth_status_details(struct json_object *st,
					 const char *name, const char *group,
					 const char *kind);
/* Appends a cause {reason, message, field} to details.causes. */
void berth_status_cause(struct json_object *st, const char *reason,
			const char *field, const char *message);
/* Reason phrase of an HTTP code as Kubernetes names it ("Conflict"...). */
const char *berth_status_reason(int code);
/* The success Status returned by deletes of some kinds. */
struct json_object *berth_status_success(void);

#endif
