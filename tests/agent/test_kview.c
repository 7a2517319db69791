// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berth_json_pick: the fields a view keeps of each object (kview.keep).
 */
#include <criterion/criterion.h>

#include <json-c/json.h>

#include "../../userspace/agent/kview.h"

static const char POD[] =
	"{\"apiVersion\":\"v1\",\"kind\":\"Pod\","
	"\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\",\"uid\":\"u1\","
	"\"labels\":{\"app\":\"web\"},\"annotations\":{\"big\":\"x\"}},"
	"\"spec\":{\"nodeName\":\"n1\",\"containers\":["
	"{\"name\":\"c1\",\"image\":\"i\",\"env\":[{\"name\":\"E\"}],"
	"\"ports\":[{\"name\":\"http\",\"containerPort\":80}]},"
	"{\"name\":\"c2\",\"image\":\"j\"},"
	"{\"name\":\"c3\",\"ports\":[{\"containerPort\":53,\"protocol\":\"UDP\"}]}]},"
	"\"status\":{\"phase\":\"Running\",\"podIP\":\"10.0.0.5\","
	"\"conditions\":[{\"type\":\"Ready\"}]}}";

static const char *const KEEP[] = {
	"metadata.name",	   "metadata.namespace",
	"metadata.labels",	   "spec.nodeName",
	"spec.containers[].ports", "status.podIP",
	"status.missing",	   "nosuch.deep.path",
	"metadata.name.notanobject", NULL,
};

Test(kview, pick_keeps_only_the_paths)
{
	json_object *pod = json_tokener_parse(POD), *got, *want;

	cr_assert_not_null(pod);
	got = berth_json_pick(pod, KEEP);
	cr_assert_not_null(got);
	want = json_tokener_parse(
		"{\"metadata\":{\"name\":\"a\",\"namespace\":\"ns\","
		"\"labels\":{\"app\":\"web\"}},"
		"\"spec\":{\"nodeName\":\"n1\",\"containers\":["
		"{\"ports\":[{\"name\":\"http\",\"containerPort\":80}]},{},"
		"{\"ports\":[{\"containerPort\":53,\"protocol\":\"UDP\"}]}]},"
		"\"status\":{\"podIP\":\"10.0.0.5\"}}");
	cr_assert_not_null(want);
	cr_expect(json_object_equal(got, want), "picked:\n%s",
		  json_object_to_json_string_ext(got, JSON_C_TO_STRING_PRETTY));
	/* a deep copy: changing the source leaves the pick alone */
	json_object_object_add(berth_jget(berth_jget(pod, "metadata"), "labels"),
			       "app", json_object_new_string("other"));
	cr_expect_str_eq(berth_jstr(berth_jget(berth_jget(got, "metadata"),
					       "labels"),
				    "app"),
			 "web");
	json_object_put(got);
	json_object_put(want);
	json_object_put(pod);
}

Test(kview, pick_of_wrong_types_is_empty)
{
	json_object *o = json_tokener_parse(
		"{\"spec\":\"str\",\"metadata\":[1,2],\"status\":null}");
	static const char *const keep[] = { "spec.containers[].ports",
					    "metadata.name", "status.podIP",
					    NULL };
	json_object *got = berth_json_pick(o, keep);

	cr_assert_not_null(got);
	cr_expect_eq(json_object_object_length(got), 0, "got %s",
		     json_object_to_json_string(got));
	json_object_put(got);
	json_object_put(o);
}
