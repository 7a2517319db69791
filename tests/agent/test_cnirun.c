// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The CNI capability arguments the agent derives from a pod. */
#include <criterion/criterion.h>
#include <json-c/json.h>

#include "../../userspace/agent/cnirun.h"

static json_object *args_of(const char *pod_json, char *err, size_t len)
{
	json_object *pod = json_tokener_parse(pod_json), *rc;

	cr_assert_not_null(pod);
	rc = berth_cni_runtime_config(pod, err, len);
	json_object_put(pod);
	return rc;
}

Test(cnirun, host_ports_and_bandwidth)
{
	char err[256] = "";
	json_object *rc = args_of(
		"{\"metadata\":{\"annotations\":{"
		"\"kubernetes.io/ingress-bandwidth\":\"10M\","
		"\"kubernetes.io/egress-bandwidth\":\"1Mi\"}},"
		"\"spec\":{\"containers\":["
		"{\"name\":\"a\",\"ports\":[{\"containerPort\":80,\"hostPort\":8080},"
		"{\"containerPort\":81}]},"
		"{\"name\":\"b\",\"ports\":[{\"containerPort\":53,\"hostPort\":5353,"
		"\"protocol\":\"UDP\",\"hostIP\":\"10.0.0.1\"}]}]}}",
		err, sizeof(err));

	cr_assert_not_null(rc, "%s", err);
	cr_assert_str_eq(
		json_object_to_json_string_ext(rc, JSON_C_TO_STRING_PLAIN),
		"{\"portMappings\":[{\"hostPort\":8080,\"containerPort\":80,"
		"\"protocol\":\"tcp\"},{\"hostPort\":5353,\"containerPort\":53,"
		"\"protocol\":\"udp\",\"hostIP\":\"10.0.0.1\"}],"
		"\"bandwidth\":{\"ingressRate\":10000000,\"ingressBurst\":2147483647,"
		"\"egressRate\":1048576,\"egressBurst\":2147483647}}");
	json_object_put(rc);
}

Test(cnirun, nothing_to_say)
{
	char err[256] = "";
	json_object *rc = args_of(
		"{\"spec\":{\"containers\":[{\"name\":\"a\",\"ports\":"
		"[{\"containerPort\":80}]}]}}",
		err, sizeof(err));

	cr_assert_not_null(rc);
	cr_assert_eq(json_object_object_length(rc), 0);
	json_object_put(rc);
}

Test(cnirun, bad_bandwidth_is_an_error)
{
	char err[256] = "";
	json_object *rc = args_of(
		"{\"metadata\":{\"annotations\":{"
		"\"kubernetes.io/egress-bandwidth\":\"fast\"}},\"spec\":{}}",
		err, sizeof(err));

	cr_assert_null(rc);
	cr_assert(strstr(err, "egress-bandwidth"), "%s", err);
}
