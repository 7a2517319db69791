// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Volume writers: configMap/secret/downwardAPI files and their atomic update. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../userspace/agent/runtime_int.h"

static const char *cm_value = "v1";

static struct json_object *get(void *arg, const char *kind, const char *ns, const char *name)
{
	char buf[512];

	(void)arg;
	(void)ns;
	if (!strcmp(kind, "ConfigMap") && !strcmp(name, "cm")) {
		snprintf(buf, sizeof(buf), "{\"data\":{\"a\":\"%s\",\"b\":\"bee\"}}", cm_value);
		return json_tokener_parse(buf);
	}
	if (!strcmp(kind, "Secret") && !strcmp(name, "s"))
		return json_tokener_parse("{\"data\":{\"pw\":\"aHVudGVyMg==\"}}");
	return NULL;
}

Test(volumes, files_and_atomic_update)
{
	char dir[] = "/tmp/berth-vol.XXXXXX", p[512], err[256] = "", *s;
	struct berth_runtime_opts opts = { .root = dir };
	struct berth_objects objs = { get, NULL, NULL };
	struct berth_runtime *rt;
	struct json_object *pod;
	struct berth_mount *m;
	size_t n;

	cr_assert(mkdtemp(dir));
	cr_assert_eq(berth_runtime_open(&opts, &rt), 0);
	pod = json_tokener_parse(
		"{\"metadata\":{\"name\":\"p\",\"namespace\":\"d\",\"uid\":\"u9\",\"labels\":{\"k\":\"v\"}},"
		"\"spec\":{\"volumes\":[{\"name\":\"c\",\"configMap\":{\"name\":\"cm\",\"items\":"
		"[{\"key\":\"a\",\"path\":\"sub/a.txt\"}]}},{\"name\":\"s\",\"secret\":{\"secretName\":\"s\","
		"\"defaultMode\":256}},{\"name\":\"d\",\"downwardAPI\":{\"items\":[{\"path\":\"labels\","
		"\"fieldRef\":{\"fieldPath\":\"metadata.labels\"}}]}},{\"name\":\"e\",\"emptyDir\":{}}]}}");
	cr_assert_eq(berth_volumes_setup(rt, pod, &objs, err, sizeof(err)), 0, "%s", err);
	snprintf(p, sizeof(p), "%s/pods/u9/volumes/configmap/c/sub/a.txt", dir);
	s = rt_read_file(p, NULL);
	cr_assert_str_eq(s, "v1");
	free(s);
	snprintf(p, sizeof(p), "%s/pods/u9/volumes/configmap/c/b", dir);
	cr_assert_neq(access(p, F_OK), 0, "items select keys");
	snprintf(p, sizeof(p), "%s/pods/u9/volumes/secret/s/pw", dir);
	s = rt_read_file(p, NULL);
	cr_assert_str_eq(s, "hunter2");
	free(s);
	snprintf(p, sizeof(p), "%s/pods/u9/volumes/downward-api/d/labels", dir);
	s = rt_read_file(p, NULL);
	cr_assert_str_eq(s, "k=\"v\"\n");
	free(s);
	/* update: new content through the same path */
	cm_value = "v2";
	cr_assert_eq(berth_volumes_setup(rt, pod, &objs, err, sizeof(err)), 0, "%s", err);
	snprintf(p, sizeof(p), "%s/pods/u9/volumes/configmap/c/sub/a.txt", dir);
	s = rt_read_file(p, NULL);
	cr_assert_str_eq(s, "v2");
	free(s);
	struct json_object *ctr = json_tokener_parse(
		"{\"name\":\"x\",\"volumeMounts\":[{\"name\":\"e\",\"mountPath\":\"/e\"},"
		"{\"name\":\"c\",\"mountPath\":\"/c\"}]}");
	cr_assert_eq(berth_volumes_mounts(rt, pod, ctr, &m, &n, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(n, 2);
	cr_assert_not(m[0].readonly);
	cr_assert(m[1].readonly, "configMap mounts are read-only");
	berth_mounts_free(m, n);
	json_object_put(ctr);
	/* a missing configMap is a clear error */
	json_object_put(pod);
	pod = json_tokener_parse("{\"metadata\":{\"uid\":\"u8\"},\"spec\":{\"volumes\":[{\"name\":\"c\","
				 "\"configMap\":{\"name\":\"nope\"}}]}}");
	cr_assert_eq(berth_volumes_setup(rt, pod, &objs, err, sizeof(err)), -ENOENT);
	cr_assert_str_eq(err, "configmap \"nope\" not found");
	json_object_put(pod);
	berth_volumes_teardown(rt, "u9");
	berth_runtime_close(rt);
	rt_remove_tree(dir);
}
