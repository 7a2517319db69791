// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* config.json from pod specs: command/args rules, env and $(VAR), fieldRef,
 * user, readonly rootfs, capabilities, resources, mounts. */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "../../userspace/agent/runtime_int.h"

static struct json_object *cfg_of(const char *pod_json, const char *ctr_json,
				  const struct berth_image_config *img, char *err)
{
	struct json_object *pod = json_tokener_parse(pod_json), *ctr = json_tokener_parse(ctr_json);
	struct berth_container_spec spec = { .pod = pod, .container = ctr, .image = img,
					     .rootfs = "/r", .pod_ip = "10.0.0.5" };
	struct json_object *c = NULL;
	int ret;

	cr_assert(pod && ctr, "test JSON parses");
	ret = berth_oci_config(NULL, &spec, &c, err, 256);
	json_object_put(pod);
	json_object_put(ctr);
	return ret ? NULL : c;
}

static const char *POD = "{\"metadata\":{\"name\":\"web\",\"namespace\":\"ns1\",\"uid\":\"u1\","
			 "\"labels\":{\"app\":\"x\"}},\"spec\":{\"nodeName\":\"n1\"}}";

static char *args_str(struct json_object *c)
{
	struct json_object *a = rt_path(c, "process.args");
	static char buf[512];

	buf[0] = 0;
	for (size_t i = 0; i < json_object_array_length(a); i++) {
		strcat(buf, i ? "|" : "");
		strcat(buf, json_object_get_string(json_object_array_get_idx(a, i)));
	}
	return buf;
}

static char *ep[] = { "/ep", NULL }, *cmd[] = { "c1", "c2", NULL };
static struct berth_image_config IMG = { .entrypoint = ep, .cmd = cmd };

Test(oci, command_args_rules)
{
	char err[256];
	struct json_object *c;

	c = cfg_of(POD, "{\"name\":\"a\"}", &IMG, err);
	cr_assert_str_eq(args_str(c), "/ep|c1|c2", "image entrypoint + cmd");
	json_object_put(c);
	c = cfg_of(POD, "{\"name\":\"a\",\"args\":[\"x\"]}", &IMG, err);
	cr_assert_str_eq(args_str(c), "/ep|x", "args replace Cmd");
	json_object_put(c);
	c = cfg_of(POD, "{\"name\":\"a\",\"command\":[\"/bin/sh\"]}", &IMG, err);
	cr_assert_str_eq(args_str(c), "/bin/sh", "command alone drops Cmd");
	json_object_put(c);
	c = cfg_of(POD, "{\"name\":\"a\",\"command\":[\"/bin/sh\"],\"args\":[\"-c\",\"x\"]}", &IMG,
		   err);
	cr_assert_str_eq(args_str(c), "/bin/sh|-c|x", "command + args");
	json_object_put(c);
	cr_assert_null(cfg_of(POD, "{\"name\":\"a\"}", NULL, err), "no command at all");
	cr_assert_str_eq(err, "no command specified");
}

Test(oci, env_expansion_and_fieldref)
{
	char err[256], *ienv[] = { "PATH=/x", "A=img", NULL };
	struct berth_image_config img = { .entrypoint = ep, .env = ienv };
	struct json_object *c = cfg_of(
		POD,
		"{\"name\":\"a\",\"command\":[\"echo\",\"$(B)\",\"$$(B)\",\"$(NOPE)\"],\"env\":["
		"{\"name\":\"B\",\"value\":\"b-$(A)\"},{\"name\":\"A\",\"value\":\"ctr\"},"
		"{\"name\":\"C\",\"value\":\"$(A)-$(B)\"},"
		"{\"name\":\"N\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.namespace\"}}},"
		"{\"name\":\"L\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"metadata.labels['app']\"}}},"
		"{\"name\":\"IP\",\"valueFrom\":{\"fieldRef\":{\"fieldPath\":\"status.podIP\"}}}]}",
		&img, err);
	cr_assert(c, "config: %s", err);
	/* $(A) in B's value: A is not yet defined by the container (image env is not used) */
	cr_assert_str_eq(args_str(c), "echo|b-$(A)|$(B)|$(NOPE)");
	const char *env = json_object_to_json_string(rt_path(c, "process.env"));
	cr_assert(strstr(env, "\"PATH=\\/x\"") || strstr(env, "\"PATH=/x\""), "%s", env);
	cr_assert(strstr(env, "\"A=ctr\""), "container env overrides image: %s", env);
	cr_assert(strstr(env, "\"C=ctr-b-$(A)\""), "%s", env);
	cr_assert(strstr(env, "\"N=ns1\"") && strstr(env, "\"L=x\"") && strstr(env, "\"IP=10.0.0.5\""),
		  "%s", env);
	json_object_put(c);
}

Test(oci, user_readonly_caps_resources)
{
	char err[256];
	char user[] = "1000:2000";
	struct berth_image_config img = { .entrypoint = ep, .user = user };
	struct json_object *c = cfg_of(POD, "{\"name\":\"a\"}", &img, err);

	cr_assert_eq(json_object_get_int(rt_path(c, "process.user.uid")), 1000);
	cr_assert_eq(json_object_get_int(rt_path(c, "process.user.gid")), 2000);
	cr_assert_not(json_object_get_boolean(rt_path(c, "root.readonly")));
	json_object_put(c);
	c = cfg_of(POD,
		   "{\"name\":\"a\",\"securityContext\":{\"runAsUser\":7,\"readOnlyRootFilesystem\":true,"
		   "\"capabilities\":{\"add\":[\"NET_ADMIN\"],\"drop\":[\"KILL\"]}},"
		   "\"resources\":{\"requests\":{\"cpu\":\"250m\"},\"limits\":{\"cpu\":\"500m\","
		   "\"memory\":\"64Mi\"}}}",
		   &img, err);
	cr_assert(c, "%s", err);
	cr_assert_eq(json_object_get_int(rt_path(c, "process.user.uid")), 7);
	cr_assert(json_object_get_boolean(rt_path(c, "root.readonly")));
	const char *caps = json_object_to_json_string(rt_path(c, "process.capabilities.bounding"));
	cr_assert(strstr(caps, "CAP_NET_ADMIN") && !strstr(caps, "CAP_KILL") &&
			  strstr(caps, "CAP_CHOWN") && !strstr(caps, "CAP_SYS_ADMIN"),
		  "%s", caps);
	cr_assert_eq(json_object_get_int64(rt_path(c, "linux.resources.cpu.shares")), 256);
	cr_assert_eq(json_object_get_int64(rt_path(c, "linux.resources.cpu.quota")), 50000);
	cr_assert_eq(json_object_get_int64(rt_path(c, "linux.resources.memory.limit")), 64 << 20);
	cr_assert_str_eq(rt_path_str(c, "linux.cgroupsPath"), "/berth/podu1/u1_a_0");
	json_object_put(c);
	cr_assert_null(cfg_of(POD, "{\"name\":\"a\",\"securityContext\":{\"runAsNonRoot\":true}}",
			      &IMG, err));
}

/* which image users need the rootfs' /etc (and so a rootfs the agent mounts) */
Test(oci, user_needs_rootfs)
{
	static const struct {
		const char *user;
		bool needs;
	} cases[] = {
		{ NULL, false },	 { "", false },	       { "1000", false },
		{ "1000:2000", false },	 { "1000:", false },   { "nginx", true },
		{ "nginx:2000", true },	 { "1000:staff", true }, { "www-data:staff", true },
	};

	cr_assert_not(berth_oci_user_needs_rootfs(NULL));
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct berth_image_config img = { .user = (char *)cases[i].user };

		cr_assert_eq(berth_oci_user_needs_rootfs(&img), cases[i].needs, "user %s",
			     cases[i].user ? cases[i].user : "(none)");
	}
}

Test(oci, mounts)
{
	char err[256];
	struct json_object *pod = json_tokener_parse(POD), *ctr = json_tokener_parse(
		"{\"name\":\"a\",\"command\":[\"x\"]}");
	struct berth_mount m = { "/host/v", "/data", true };
	struct berth_container_spec spec = { .pod = pod, .container = ctr, .rootfs = "/r",
					     .mounts = &m, .nmounts = 1 };
	struct json_object *c = NULL;

	cr_assert_eq(berth_oci_config(NULL, &spec, &c, err, sizeof(err)), 0, "%s", err);
	const char *s = json_object_to_json_string(rt_obj(c, "mounts"));
	cr_assert(strstr(s, "\"\\/proc\"") || strstr(s, "\"/proc\""), "%s", s);
	cr_assert(strstr(s, "rbind") && strstr(s, "\"ro\""), "volume ro bind: %s", s);
	json_object_put(c);
	json_object_put(pod);
	json_object_put(ctr);
}

Test(oci, quantity)
{
	int64_t v;

	cr_assert_eq(berth_quantity_milli("100m", &v), 0);
	cr_assert_eq(v, 100);
	cr_assert_eq(berth_quantity_milli("1.5", &v), 0);
	cr_assert_eq(v, 1500);
	cr_assert_eq(berth_quantity_milli("1Ki", &v), 0);
	cr_assert_eq(v, 1024000);
	cr_assert_neq(berth_quantity_milli("12x", &v), 0);
}
