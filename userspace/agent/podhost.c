// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Host namespaces and privileged containers: podhost.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include <berth/kube.h>

#include "podhost.h"

static json_object *member(json_object *o, const char *k)
{
	json_object *v = NULL;

	if (o)
		json_object_object_get_ex(o, k, &v);
	return v;
}

static bool is_true(json_object *o, const char *k)
{
	json_object *v = member(o, k);

	return v && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static bool privileged_in(json_object *spec, const char *list, char *field,
			  size_t size)
{
	json_object *a = member(spec, list);
	size_t i, n;

	if (!json_object_is_type(a, json_type_array))
		return false;
	n = json_object_array_length(a);
	for (i = 0; i < n; i++) {
		json_object *c = json_object_array_get_idx(a, i);
		json_object *name = member(c, "name");

		if (is_true(member(c, "securityContext"), "privileged")) {
			snprintf(field, size,
				 "spec.%s[%s].securityContext.privileged", list,
				 name ? json_object_get_string(name) : "?");
			return true;
		}
	}
	return false;
}

const char *berth_pod_host_field(json_object *pod, char *field, size_t size)
{
	static const char *const hosts[] = { "hostNetwork", "hostPID",
					     "hostIPC" };
	static const char *const lists[] = { "initContainers", "containers",
					     "ephemeralContainers" };
	json_object *spec = member(pod, "spec");
	size_t i;

	field[0] = 0;
	for (i = 0; i < sizeof(hosts) / sizeof(hosts[0]); i++)
		if (is_true(spec, hosts[i])) {
			snprintf(field, size, "spec.%s", hosts[i]);
			return field;
		}
	for (i = 0; i < sizeof(lists) / sizeof(lists[0]); i++)
		if (privileged_in(spec, lists[i], field, size))
			break;
	return field;
}

static const char *ns_level(json_object *ns)
{
	json_object *v = member(member(member(ns, "metadata"), "labels"),
				BERTH_PSA_ENFORCE_LABEL);

	return v ? json_object_get_string(v) : NULL;
}

int berth_pod_host_check(struct berth_kube *k, json_object *pod, char *msg,
			 size_t size)
{
	json_object *meta = member(pod, "metadata"), *ns = NULL;
	const char *nsname = json_object_get_string(member(meta, "namespace"));
	char field[256], path[512];
	const char *level;
	int st, ret;

	if (!*berth_pod_host_field(pod, field, sizeof(field)))
		return 0;
	if (!nsname)
		nsname = "default";
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s", nsname);
	st = k ? berth_kube_get(k, path, &ns) : 0;
	if (st != 200) {
		snprintf(msg, size, "pod asks for %s: namespace %s: HTTP %d",
			 field, nsname, st);
		json_object_put(ns);
		return -EAGAIN;
	}
	level = ns_level(ns);
	ret = level && !strcmp(level, "privileged") ? 0 : -EPERM;
	if (ret)
		snprintf(msg, size,
			 "pod asks for %s, which namespace %s does not allow "
			 "(it needs the label " BERTH_PSA_ENFORCE_LABEL
			 "=privileged)",
			 field, nsname);
	json_object_put(ns);
	return ret;
}
