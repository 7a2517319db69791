// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* berth-cni's pure parts: config parsing, IPAM allocator, result JSON. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../../cni/config.h"
#include "../../cni/ipam.h"
#include "../../cni/result.h"

static char dir[64];

static void mkdir_tmp(void)
{
	snprintf(dir, sizeof(dir), "/tmp/berth-ipam-XXXXXX");
	cr_assert_not_null(mkdtemp(dir), "mkdtemp");
}

static void rm_tmp(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	if (system(cmd))
		cr_log_warn("rm %s failed", dir);
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	inet_pton(AF_INET, s, &a);
	return ntohl(a.s_addr);
}

Test(cni_config, parses_fields_and_defaults)
{
	struct berth_cni_conf c;
	struct berth_cni_err e;

	cr_assert_eq(berth_cni_conf_parse(
			     "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"berth-cni\","
			     "\"mtu\":1400,\"ipam\":{\"podCIDR\":\"10.1.2.0/24\"}}",
			     &c, &e),
		     0, "valid config: %s", e.msg);
	cr_expect_str_eq(c.cni_version, "1.0.0");
	cr_expect_eq(c.mtu, 1400);
	cr_expect(c.mtu_set, "an explicit mtu wins over the agent's");
	cr_expect_str_eq(c.pod_cidr, "10.1.2.0/24");
	cr_expect_str_eq(c.agent_socket, BERTH_CNI_DEFAULT_SOCKET);
	cr_expect_str_eq(c.data_dir, "/var/lib/berth/ipam/n",
			 "dataDir defaults next to the socket");
	berth_cni_conf_free(&c);
}

Test(cni_config, mtu_default_leaves_it_to_the_agent)
{
	struct berth_cni_conf c;
	struct berth_cni_err e;

	cr_assert_eq(
		berth_cni_conf_parse(
			"{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"type\":\"berth-cni\"}",
			&c, &e),
		0, "valid config: %s", e.msg);
	cr_expect_eq(c.mtu, BERTH_CNI_DEFAULT_MTU);
	cr_expect_not(c.mtu_set,
		      "no mtu in the config: the agent's status decides");
	berth_cni_conf_free(&c);
}

Test(cni_config, error_codes)
{
	static const struct {
		const char *text;
		int code;
	} cases[] = {
		{ "{", CNI_ERR_DECODE },
		{ "[1]", CNI_ERR_DECODE },
		{ "{\"name\":\"n\"}", CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"0.2.0\",\"name\":\"n\"}",
		  CNI_ERR_INCOMPATIBLE_VERSION },
		{ "{\"cniVersion\":\"1.0.0\"}", CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"a/b\"}",
		  CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"mtu\":10}",
		  CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":5}",
		  CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"ipam\":{\"podCIDR\":\"10.0.0.0/31\"}}",
		  CNI_ERR_INVALID_CONFIG },
		{ "{\"cniVersion\":\"1.0.0\",\"name\":\"n\",\"agentSocket\":7}",
		  CNI_ERR_INVALID_CONFIG },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct berth_cni_conf c;
		struct berth_cni_err e = { 0 };

		cr_expect_eq(berth_cni_conf_parse(cases[i].text, &c, &e),
			     -EINVAL, "%s accepted", cases[i].text);
		cr_expect_eq(e.code, cases[i].code, "%s: code %d, want %d (%s)",
			     cases[i].text, e.code, cases[i].code, e.msg);
		cr_expect(e.msg[0], "%s: no message", cases[i].text);
	}
}

Test(cni_config, versions_and_args)
{
	char buf[32];

	cr_expect(berth_cni_version_supported("1.1.0"));
	cr_expect(!berth_cni_version_supported("1.2.0"));
	cr_expect_lt(berth_cni_version_cmp("0.3.1", "0.4.0"), 0);
	cr_expect_gt(berth_cni_version_cmp("1.0.0", "0.4.0"), 0);
	cr_expect_eq(berth_cni_args_get("IgnoreUnknown=1;K8S_POD_NAME=web-0;K8S_POD_NAMESPACE=ns",
					"K8S_POD_NAME", buf, sizeof(buf)),
		     0);
	cr_expect_str_eq(buf, "web-0");
	cr_expect_eq(berth_cni_args_get("A=1", "K8S_POD_NAME", buf,
					sizeof(buf)),
		     -ENOENT);
}

Test(cni_config, host_ifname_is_short_and_stable)
{
	char a[16], b[16], c[16];

	berth_cni_host_ifname("abc", "eth0", a);
	berth_cni_host_ifname("abc", "eth0", b);
	berth_cni_host_ifname("abc", "eth1", c);
	cr_expect_str_eq(a, b);
	cr_expect_str_neq(a, c);
	cr_expect_eq(strlen(a), 15, "IFNAMSIZ - 1: %s", a);
	cr_expect_eq(strncmp(a, "lxc", 3), 0);
}

Test(cni_ipam, allocates_skipping_reserved_and_reuses_per_container,
     .init = mkdir_tmp, .fini = rm_tmp)
{
	uint32_t a, b, again;

	cr_assert_eq(berth_cni_ipam_alloc(dir, "10.9.0.0/24", "c1", "eth0", &a),
		     0);
	cr_expect_eq(a, ip4("10.9.0.2"), "network and gateway are reserved");
	cr_assert_eq(berth_cni_ipam_alloc(dir, "10.9.0.0/24", "c2", "eth0", &b),
		     0);
	cr_expect_eq(b, ip4("10.9.0.3"));
	cr_assert_eq(berth_cni_ipam_alloc(dir, "10.9.0.0/24", "c1", "eth0",
					  &again),
		     0);
	cr_expect_eq(again, a, "a retried ADD keeps its address");
	cr_expect_eq(berth_cni_ipam_find(dir, "c2", "eth0", &again), 0);
	cr_expect_eq(again, b);
	cr_expect_eq(berth_cni_ipam_release(dir, "c1", "eth0"), 0);
	cr_expect_eq(berth_cni_ipam_release(dir, "c1", "eth0"), 0,
		     "release twice");
	cr_expect_eq(berth_cni_ipam_find(dir, "c1", "eth0", &again), -ENOENT);
	cr_assert_eq(berth_cni_ipam_alloc(dir, "10.9.0.0/24", "c3", "eth0", &a),
		     0);
	cr_expect_eq(a, ip4("10.9.0.4"), "round-robin: a freed address waits");
}

Test(cni_ipam, exhaustion_and_free_count, .init = mkdir_tmp, .fini = rm_tmp)
{
	uint32_t a;
	size_t n;
	char id[8];

	/* a /29: .0 network, .1 gateway, .7 broadcast -> 5 usable */
	cr_assert_eq(berth_cni_ipam_free_count(dir, "10.8.0.0/29", &n), 0);
	cr_expect_eq(n, 5);
	for (int i = 0; i < 5; i++) {
		snprintf(id, sizeof(id), "c%d", i);
		cr_assert_eq(berth_cni_ipam_alloc(dir, "10.8.0.0/29", id,
						  "eth0", &a),
			     0, "alloc %d", i);
		cr_expect(a >= ip4("10.8.0.2") && a <= ip4("10.8.0.6"));
	}
	cr_expect_eq(berth_cni_ipam_alloc(dir, "10.8.0.0/29", "x", "eth0", &a),
		     -ENOSPC);
	cr_assert_eq(berth_cni_ipam_free_count(dir, "10.8.0.0/29", &n), 0);
	cr_expect_eq(n, 0);
}

Test(cni_ipam, stale_record_is_never_reused, .init = mkdir_tmp, .fini = rm_tmp)
{
	char path[128];
	uint32_t a;
	FILE *f;

	/* what a plugin killed after allocating leaves behind */
	snprintf(path, sizeof(path), "%s/allocations.json", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("{\"last\":\"10.7.0.1\",\"allocations\":[{\"ip\":\"10.7.0.2\","
	      "\"containerID\":\"dead\",\"ifname\":\"eth0\"}]}",
	      f);
	fclose(f);
	cr_assert_eq(berth_cni_ipam_alloc(dir, "10.7.0.0/24", "new", "eth0", &a),
		     0);
	cr_expect_eq(a, ip4("10.7.0.3"));
}

Test(cni_ipam, corrupt_state_is_refused, .init = mkdir_tmp, .fini = rm_tmp)
{
	char path[128];
	uint32_t a;
	FILE *f;

	snprintf(path, sizeof(path), "%s/allocations.json", dir);
	f = fopen(path, "w");
	cr_assert_not_null(f);
	fputs("{\"allocations\":[", f);
	fclose(f);
	cr_expect_eq(berth_cni_ipam_alloc(dir, "10.7.0.0/24", "c", "eth0", &a),
		     -EBADMSG, "guessing could hand out an address twice");
}

static void gc_count(const char *id, const char *ifname, void *arg)
{
	cr_expect(strcmp(id, "keep") || strcmp(ifname, "eth0"),
		  "keep/eth0 is valid, released anyway");
	(*(int *)arg)++;
}

Test(cni_ipam, gc_keeps_valid_attachments, .init = mkdir_tmp, .fini = rm_tmp)
{
	struct berth_cni_attachment valid[] = { { "keep", "eth0" } };
	uint32_t a;
	size_t released;
	int seen = 0;

	berth_cni_ipam_alloc(dir, "10.6.0.0/24", "keep", "eth0", &a);
	berth_cni_ipam_alloc(dir, "10.6.0.0/24", "keep", "eth1", &a);
	berth_cni_ipam_alloc(dir, "10.6.0.0/24", "gone", "eth0", &a);
	cr_assert_eq(berth_cni_ipam_gc(dir, valid, 1, gc_count, &seen,
				       &released),
		     0);
	cr_expect_eq(released, 2, "keep/eth1 and gone/eth0");
	cr_expect_eq(seen, 2);
	cr_expect_eq(berth_cni_ipam_find(dir, "keep", "eth0", &a), 0);
	cr_expect_eq(berth_cni_ipam_find(dir, "gone", "eth0", &a), -ENOENT);
}

Test(cni_ipam, concurrent_processes_get_distinct_addresses,
     .init = mkdir_tmp, .fini = rm_tmp)
{
	enum { N = 16 };
	uint32_t seen[N];
	pid_t pids[N];

	for (int i = 0; i < N; i++) {
		pids[i] = fork();
		cr_assert_geq(pids[i], 0, "fork");
		if (!pids[i]) {
			char id[8];
			uint32_t a;

			snprintf(id, sizeof(id), "p%d", i);
			_exit(berth_cni_ipam_alloc(dir, "10.5.0.0/24", id,
						   "eth0", &a) ?
				      1 :
				      0);
		}
	}
	for (int i = 0; i < N; i++) {
		int st;

		waitpid(pids[i], &st, 0);
		cr_expect(WIFEXITED(st) && !WEXITSTATUS(st), "child %d", i);
	}
	for (int i = 0; i < N; i++) {
		char id[8];

		snprintf(id, sizeof(id), "p%d", i);
		cr_assert_eq(berth_cni_ipam_find(dir, id, "eth0", &seen[i]), 0,
			     "%s recorded", id);
		for (int j = 0; j < i; j++)
			cr_expect_neq(seen[i], seen[j], "p%d and p%d share", i,
				      j);
	}
}

Test(cni_result, shape_per_version)
{
	struct berth_cni_ifaces i = { .host = "lxc0",
				      .host_mac = "aa:aa:aa:aa:aa:aa",
				      .ifname = "eth0",
				      .mac = "bb:bb:bb:bb:bb:bb",
				      .netns = "/run/netns/x",
				      .ip = ip4("10.1.0.5") };
	json_object *r = berth_cni_result("1.0.0", &i), *ips, *ip, *v;
	const char *s;

	cr_assert(json_object_object_get_ex(r, "ips", &ips));
	ip = json_object_array_get_idx(ips, 0);
	cr_assert(json_object_object_get_ex(ip, "address", &v));
	cr_expect_str_eq(json_object_get_string(v), "10.1.0.5/32");
	cr_expect(!json_object_object_get_ex(ip, "version", &v),
		  "1.0.0 has no ips[].version");
	cr_assert(json_object_object_get_ex(ip, "interface", &v));
	cr_expect_eq(json_object_get_int(v), 1, "the pod interface");
	s = json_object_to_json_string(r);
	cr_expect(strstr(s, "\"sandbox\"") && strstr(s, "169.254.1.1"), "%s",
		  s);
	json_object_put(r);

	r = berth_cni_result("0.3.1", &i);
	json_object_object_get_ex(r, "ips", &ips);
	cr_expect(json_object_object_get_ex(json_object_array_get_idx(ips, 0),
					    "version", &v),
		  "0.3.x needs ips[].version");
	json_object_put(r);
}

Test(cni_result, error_and_version)
{
	struct berth_cni_err e = { .code = 11, .msg = "agent down" };
	json_object *r = berth_cni_error(NULL, &e), *v;

	cr_assert(json_object_object_get_ex(r, "code", &v));
	cr_expect_eq(json_object_get_int(v), 11);
	cr_assert(json_object_object_get_ex(r, "cniVersion", &v));
	cr_expect_str_eq(json_object_get_string(v), "1.1.0");
	cr_expect(!json_object_object_get_ex(r, "details", &v));
	json_object_put(r);
	r = berth_cni_version_reply("0.4.0");
	json_object_object_get_ex(r, "cniVersion", &v);
	cr_expect_str_eq(json_object_get_string(v), "0.4.0");
	json_object_object_get_ex(r, "supportedVersions", &v);
	cr_expect_eq(json_object_array_length(v), 5);
	json_object_put(r);
}

Test(cni_result, merge_into_prev_result)
{
	struct berth_cni_ifaces i = { .host = "lxc0", .host_mac = "aa",
				      .ifname = "eth1", .mac = "bb",
				      .netns = "/run/netns/x",
				      .ip = ip4("10.1.0.5") };
	json_object *prev = json_tokener_parse(
		"{\"cniVersion\":\"1.0.0\",\"interfaces\":[{\"name\":\"eth0\"}],"
		"\"ips\":[{\"address\":\"192.168.0.2/24\",\"interface\":0}]}");
	json_object *ours = berth_cni_result("1.0.0", &i);
	json_object *m = berth_cni_result_merge(prev, ours), *a, *v;

	cr_assert(json_object_object_get_ex(m, "interfaces", &a));
	cr_expect_eq(json_object_array_length(a), 3);
	cr_assert(json_object_object_get_ex(m, "ips", &a));
	cr_expect_eq(json_object_array_length(a), 2);
	json_object_object_get_ex(json_object_array_get_idx(a, 1), "interface",
				  &v);
	cr_expect_eq(json_object_get_int(v), 2, "ours points at eth1 (1+1)");
	json_object_put(m);
	json_object_put(ours);
	json_object_put(prev);
}
