// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The Service file parser: YAML and JSON give the same services, defaults
 * apply, and every kind of mistake is reported at its file:line and field.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <berth/service.h>

static const char yaml_src[] = "# two services, every field used once\n"
			       "services:\n"
			       "  - name: web\n"
			       "    namespace: shop\n"
			       "    clusterIP: 10.96.0.10\n"
			       "    sessionAffinity: ClientIP\n"
			       "    sessionAffinityTimeoutSeconds: 600\n"
			       "    loadBalancing: maglev\n"
			       "    ports:\n"
			       "      - name: http\n"
			       "        port: 80\n"
			       "        targetPort: 8080\n"
			       "        protocol: TCP\n"
			       "      - name: dns\n"
			       "        port: 53\n"
			       "        protocol: UDP\n"
			       "    endpoints:\n"
			       "      - ip: 10.244.1.2\n"
			       "      - ip: 10.244.2.3\n"
			       "        terminating: true\n"
			       "      - {ip: 10.244.3.4, terminating: false}\n"
			       "  - name: db\n"
			       "    clusterIP: 10.96.0.11\n"
			       "    ports:\n"
			       "      - port: 5432\n";

static const char json_src[] =
	"{\n"
	"  \"services\": [\n"
	"    {\n"
	"      \"name\": \"web\",\n"
	"      \"namespace\": \"shop\",\n"
	"      \"clusterIP\": \"10.96.0.10\",\n"
	"      \"sessionAffinity\": \"ClientIP\",\n"
	"      \"sessionAffinityTimeoutSeconds\": 600,\n"
	"      \"loadBalancing\": \"maglev\",\n"
	"      \"ports\": [\n"
	"        {\"name\": \"http\", \"port\": 80, \"targetPort\": 8080,\n"
	"         \"protocol\": \"TCP\"},\n"
	"        {\"name\": \"dns\", \"port\": 53, \"protocol\": \"UDP\"}\n"
	"      ],\n"
	"      \"endpoints\": [\n"
	"        {\"ip\": \"10.244.1.2\"},\n"
	"        {\"ip\": \"10.244.2.3\", \"terminating\": true},\n"
	"        {\"ip\": \"10.244.3.4\", \"terminating\": false}\n"
	"      ]\n"
	"    },\n"
	"    {\"name\": \"db\", \"clusterIP\": \"10.96.0.11\",\n"
	"     \"ports\": [{\"port\": 5432}], \"endpoints\": null}\n"
	"  ]\n"
	"}\n";

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad test address %s", s);
	return a.s_addr;
}

static void parse_ok(const char *src, struct berth_service_set *set)
{
	char err[256] = "";
	int ret;

	ret = berth_svcfile_parse("t.yaml", src, strlen(src), set, err,
				  sizeof(err));
	cr_assert_eq(ret, 0, "parse failed (%d): %s", ret, err);
}

/*
 * Parse must fail with -EINVAL, leave *out alone and say exactly want
 * (a prefix, when want ends in "...": the rest is libyaml's wording).
 */
static void expect_error(const char *src, const char *want)
{
	struct berth_service_set set = { .svcs = (void *)&set, .n = 77 };
	size_t n = strlen(want);
	char err[512] = "";
	int ret;

	ret = berth_svcfile_parse("t.yaml", src, strlen(src), &set, err,
				  sizeof(err));
	cr_assert_eq(ret, -EINVAL, "ret %d for:\n%s", ret, src);
	cr_assert(set.svcs == (void *)&set && set.n == 77,
		  "*out was written on error");
	if (n > 3 && !strcmp(want + n - 3, "..."))
		n -= 3;
	else
		n++;
	cr_assert(!strncmp(err, want, n), "for:\n%s\ngot:  %s\nwant: %s", src,
		  err, want);
}

static void check_port(const struct berth_svc_port *p, const char *name,
		       uint16_t port, uint16_t target, uint8_t proto)
{
	cr_assert_str_eq(p->name, name);
	cr_assert_eq(p->port, port, "%s", name);
	cr_assert_eq(p->target_port, target, "%s", name);
	cr_assert_eq(p->proto, proto, "%s", name);
}

static void check_endpoint(const struct berth_endpoint *ep, const char *ip,
			   bool terminating)
{
	cr_assert_eq(ep->ip, ip4(ip), "%s", ip);
	cr_assert_eq(ep->terminating, terminating, "%s", ip);
}

static void check_fixture(const struct berth_service_set *set)
{
	const struct berth_service *web, *db;

	cr_assert_eq(set->n, 2);
	web = &set->svcs[0];
	cr_assert_str_eq(web->name, "web");
	cr_assert_str_eq(web->namespace, "shop");
	cr_assert_eq(web->cluster_ip, ip4("10.96.0.10"));
	cr_assert(web->affinity);
	cr_assert_eq(web->affinity_timeout, 600);
	cr_assert_eq(web->algo, BERTH_LB_MAGLEV);
	cr_assert_eq(web->nports, 2);
	check_port(&web->ports[0], "http", 80, 8080, IPPROTO_TCP);
	check_port(&web->ports[1], "dns", 53, 53, IPPROTO_UDP);
	cr_assert_eq(web->nendpoints, 3);
	check_endpoint(&web->endpoints[0], "10.244.1.2", false);
	check_endpoint(&web->endpoints[1], "10.244.2.3", true);
	check_endpoint(&web->endpoints[2], "10.244.3.4", false);

	/* every default */
	db = &set->svcs[1];
	cr_assert_str_eq(db->name, "db");
	cr_assert_str_eq(db->namespace, "default");
	cr_assert_eq(db->cluster_ip, ip4("10.96.0.11"));
	cr_assert(!db->affinity);
	cr_assert_eq(db->affinity_timeout, 0);
	cr_assert_eq(db->algo, BERTH_LB_RANDOM);
	cr_assert_eq(db->nports, 1);
	check_port(&db->ports[0], "", 5432, 5432, IPPROTO_TCP);
	cr_assert_eq(db->nendpoints, 0);
	cr_assert_null(db->endpoints);
}

Test(svcfile, yaml)
{
	struct berth_service_set set = { 0 };

	parse_ok(yaml_src, &set);
	check_fixture(&set);
	berth_service_set_free(&set);
	cr_assert_null(set.svcs);
	cr_assert_eq(set.n, 0);
}

Test(svcfile, json)
{
	struct berth_service_set set = { 0 };

	parse_ok(json_src, &set);
	check_fixture(&set);
	berth_service_set_free(&set);
}

Test(svcfile, affinity_default_timeout)
{
	struct berth_service_set set = { 0 };

	parse_ok("services:\n"
		 "- name: a\n"
		 "  clusterIP: 10.0.0.1\n"
		 "  sessionAffinity: ClientIP\n"
		 "  ports: [{port: 1}]\n"
		 "- name: b\n"
		 "  clusterIP: 10.0.0.2\n"
		 "  sessionAffinity: None\n"
		 "  loadBalancing: random\n"
		 "  ports: [{port: 65535, targetPort: 1}]\n"
		 "  endpoints: []\n",
		 &set);
	cr_assert_eq(set.n, 2);
	cr_assert(set.svcs[0].affinity);
	cr_assert_eq(set.svcs[0].affinity_timeout, 10800);
	cr_assert(!set.svcs[1].affinity);
	cr_assert_eq(set.svcs[1].algo, BERTH_LB_RANDOM);
	cr_assert_eq(set.svcs[1].ports[0].port, 65535);
	cr_assert_eq(set.svcs[1].ports[0].target_port, 1);
	cr_assert_eq(set.svcs[1].nendpoints, 0);
	berth_service_set_free(&set);
}

Test(svcfile, no_services)
{
	static const char *const empty[] = {
		"",
		"\n# only a comment\n",
		"---\n",
		"services: []\n",
		"services:\n",
		"services: null\n",
		"{}\n",
		"{\"services\": []}\n",
	};
	struct berth_service_set set;
	size_t i;

	for (i = 0; i < sizeof(empty) / sizeof(*empty); i++) {
		set.svcs = (void *)&set;
		set.n = 5;
		parse_ok(empty[i], &set);
		cr_assert_eq(set.n, 0, "%s", empty[i]);
		cr_assert_null(set.svcs, "%s", empty[i]);
	}
	cr_assert_eq(berth_svcfile_parse("t.yaml", NULL, 0, &set, NULL, 0), 0);
	berth_service_set_free(&set);
	berth_service_set_free(NULL);
}

Test(svcfile, same_port_other_protocol_or_ip)
{
	struct berth_service_set set = { 0 };

	/* 53/TCP and 53/UDP are two frontends, like kube-dns */
	parse_ok("services:\n"
		 "- name: dns\n"
		 "  clusterIP: 10.96.0.10\n"
		 "  ports:\n"
		 "  - {name: dns, port: 53, protocol: UDP}\n"
		 "  - {name: dns-tcp, port: 53, protocol: TCP}\n"
		 "- name: dns\n"
		 "  namespace: other\n"
		 "  clusterIP: 10.96.0.11\n"
		 "  ports: [{port: 53, protocol: UDP}]\n",
		 &set);
	cr_assert_eq(set.n, 2);
	berth_service_set_free(&set);
}

Test(svcfile, aliases)
{
	struct berth_service_set set = { 0 };

	/* a shared port list is fine; each service gets its own copy */
	parse_ok(
		"services:\n"
		"- name: a\n"
		"  clusterIP: 10.0.0.1\n"
		"  ports: &p [{name: http, port: 80}, {name: https, port: 443}]\n"
		"- name: b\n"
		"  clusterIP: 10.0.0.2\n"
		"  ports: *p\n",
		&set);
	cr_assert_eq(set.n, 2);
	cr_assert_eq(set.svcs[1].nports, 2);
	cr_assert_eq(set.svcs[1].ports[1].port, 443);
	cr_assert_neq(set.svcs[0].ports, set.svcs[1].ports);
	berth_service_set_free(&set);
}

Test(svcfile, alias_expansion_bounded)
{
	struct berth_service_set set = { 0 };
	size_t cap = 1 << 20, o = 0, i;
	char *src = malloc(cap), err[256];
	int ret;

	cr_assert_not_null(src);
	o += snprintf(src + o, cap - o, "services:\n");
	for (i = 0; i < 600; i++) {
		o += snprintf(src + o, cap - o,
			      "- name: s%zu\n  clusterIP: 10.1.%zu.%zu\n"
			      "  ports: [{port: 80}]\n  endpoints: ",
			      i, i / 250, i % 250 + 1);
		if (i) {
			o += snprintf(src + o, cap - o, "*e\n");
			continue;
		}
		o += snprintf(src + o, cap - o, "&e\n");
		for (size_t j = 0; j < 2000; j++)
			o += snprintf(src + o, cap - o,
				      "  - ip: 10.2.%zu.%zu\n", j / 250,
				      j % 250 + 1);
	}
	cr_assert_lt(o, cap);
	/* 600 services x 2000 endpoints from an 80 KiB file: refused */
	ret = berth_svcfile_parse("t.yaml", src, o, &set, err, sizeof(err));
	cr_assert_eq(ret, -EINVAL);
	cr_assert(strstr(err, ": aliases expand the document too far"), "%s",
		  err);
	cr_assert_eq(set.n, 0);
	free(src);
}

Test(svcfile, yaml_syntax)
{
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    ports: [80\n"
		"    clusterIP: 10.96.0.10\n",
		"t.yaml:4: yaml: did not find expected ',' or ']' (while parsing a flow sequence at line 3)");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"   clusterIP: 10.96.0.10\n",
		"t.yaml:3: yaml: did not find expected '-' indicator (while parsing a block collection at line 2)");
	expect_error(
		"services: [\n  {\"name\": \"web\" \"clusterIP\": \"1.2.3.4\"}\n]\n",
		"t.yaml:2: yaml: did not find expected ',' or '}' (while parsing a flow mapping at line 2)");
	expect_error(
		"services:\n\t- name: web\n",
		"t.yaml:2: yaml: found character that cannot start any token (while scanning for the next token at line 2)");
	expect_error(
		"services:\n  - name: \"web\n",
		"t.yaml:3: yaml: found unexpected end of stream (while scanning a quoted scalar at line 2)");
	/* bad encoding: libyaml gives a byte offset, we count lines */
	expect_error("services:\n  - name: \xff\n",
		     "t.yaml:2: yaml: invalid leading UTF-8 octet (byte 20)");
	expect_error("services: *nothing\n",
		     "t.yaml:1: yaml: found undefined alias");
}

Test(svcfile, one_document)
{
	expect_error("services: []\n---\nservices: []\n",
		     "t.yaml:3: yaml: only one document is allowed");
}

Test(svcfile, wrong_node_type)
{
	expect_error("- web\n",
		     "t.yaml:1: (root): expected a mapping, got a sequence");
	expect_error("services: web\n",
		     "t.yaml:1: services: expected a sequence, got \"web\"");
	expect_error("services:\n  - web\n",
		     "t.yaml:2: services[0]: expected a mapping, got \"web\"");
	expect_error("services:\n  - ~\n",
		     "t.yaml:2: services[0]: expected a mapping, got null");
	expect_error(
		"services:\n"
		"  - name: [web]\n",
		"t.yaml:2: services[0].name: expected a string, got a sequence");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports: {port: 80}\n",
		"t.yaml:4: services[0].ports: expected a sequence, got a mapping");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports:\n"
		"      - port:\n"
		"          number: 80\n",
		"t.yaml:6: services[0].ports[0].port: expected an integer, got a mapping");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports: [{port: 80}]\n"
		"    endpoints: [10.244.1.2]\n",
		"t.yaml:5: services[0].endpoints[0]: expected a mapping, got \"10.244.1.2\"");
	expect_error(
		"services:\n"
		"  - ? [a, b]\n"
		"    : c\n",
		"t.yaml:2: services[0]: expected a scalar key, got a sequence");
}

Test(svcfile, unknown_key)
{
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIp: 10.96.0.10\n",
		"t.yaml:3: services[0]: unknown key \"clusterIp\" (did you mean \"clusterIP\"?)");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    namespce: shop\n",
		"t.yaml:3: services[0]: unknown key \"namespce\" (did you mean \"namespace\"?)");
	expect_error(
		"service:\n  - name: web\n",
		"t.yaml:1: (root): unknown key \"service\" (did you mean \"services\"?)");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports:\n"
		"      - port: 80\n"
		"        nodePort: 30080\n",
		"t.yaml:6: services[0].ports[0]: unknown key \"nodePort\"");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports: [{port: 80}]\n"
		"    endpoints:\n"
		"      - ip: 10.244.1.2\n"
		"        zone: a\n",
		"t.yaml:7: services[0].endpoints[0]: unknown key \"zone\"");
}

Test(svcfile, duplicate_key)
{
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    name: api\n",
		"t.yaml:4: services[0].name: duplicate key (first at line 2)");
}

Test(svcfile, missing_field)
{
	expect_error("services:\n"
		     "  - clusterIP: 10.96.0.10\n"
		     "    ports: [{port: 80}]\n",
		     "t.yaml:2: services[0].name: is required");
	expect_error("services:\n"
		     "  - name: web\n"
		     "    ports: [{port: 80}]\n",
		     "t.yaml:2: services[0].clusterIP: is required");
	expect_error("services:\n"
		     "  - name: web\n"
		     "    clusterIP:\n"
		     "    ports: [{port: 80}]\n",
		     "t.yaml:3: services[0].clusterIP: is required, got null");
	expect_error("services:\n"
		     "  - name: web\n"
		     "    clusterIP: 10.96.0.10\n",
		     "t.yaml:2: services[0].ports: is required");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports: []\n",
		"t.yaml:4: services[0].ports: a service needs at least one port");
	expect_error("services:\n"
		     "  - name: web\n"
		     "    clusterIP: 10.96.0.10\n"
		     "    ports:\n"
		     "      - targetPort: 8080\n",
		     "t.yaml:5: services[0].ports[0].port: is required");
	expect_error("services:\n"
		     "  - name: web\n"
		     "    clusterIP: 10.96.0.10\n"
		     "    ports: [{port: 80}]\n"
		     "    endpoints:\n"
		     "      - terminating: true\n",
		     "t.yaml:6: services[0].endpoints[0].ip: is required");
	/* in JSON the object starts at its brace */
	expect_error("{\"services\": [\n"
		     "  {\n"
		     "    \"name\": \"web\",\n"
		     "    \"ports\": [{\"port\": 80}]\n"
		     "  }\n"
		     "]}\n",
		     "t.yaml:2: services[0].clusterIP: is required");
}

/* A service with one bad port field; %s is the "port: ..." line. */
#define PORT_SVC(line)                \
	"services:\n"                 \
	"  - name: web\n"             \
	"    clusterIP: 10.96.0.10\n" \
	"    ports:\n"                \
	"      - name: http\n"        \
	"        " line "\n"

Test(svcfile, bad_integer)
{
	expect_error(
		PORT_SVC("port: 70000"),
		"t.yaml:6: services[0].ports[0].port: 70000 is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: 0"),
		"t.yaml:6: services[0].ports[0].port: 0 is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: -1"),
		"t.yaml:6: services[0].ports[0].port: \"-1\" is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: +80"),
		"t.yaml:6: services[0].ports[0].port: \"+80\" is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: 0x50"),
		"t.yaml:6: services[0].ports[0].port: \"0x50\" is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: 80.0"),
		"t.yaml:6: services[0].ports[0].port: \"80.0\" is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: 8 0"),
		"t.yaml:6: services[0].ports[0].port: \"8 0\" is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: http"),
		"t.yaml:6: services[0].ports[0].port: \"http\" is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: 99999999999999999999"),
		"t.yaml:6: services[0].ports[0].port: 99999999999999999999 is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: 184467440737095516160080"),
		"t.yaml:6: services[0].ports[0].port: \"184467440737095516160080\" is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: 080"),
		"t.yaml:6: services[0].ports[0].port: 080 has a leading zero");
	expect_error(
		PORT_SVC("port: \"80\""),
		"t.yaml:6: services[0].ports[0].port: expected an integer, got the string \"80\"");
	expect_error(
		PORT_SVC("port: 80\n        targetPort: 65536"),
		"t.yaml:7: services[0].ports[0].targetPort: 65536 is not a port number (1..65535)");
	expect_error(
		PORT_SVC("port: 80\n        targetPort: http"),
		"t.yaml:7: services[0].ports[0].targetPort: \"http\" is not a port number (1..65535)");
}

/* A service whose field at line 4 is the one under test. */
#define SVC_WITH(line)                \
	"services:\n"                 \
	"  - name: web\n"             \
	"    clusterIP: 10.96.0.10\n" \
	"    " line "\n"              \
	"    ports: [{port: 80}]\n"

Test(svcfile, affinity_timeout)
{
	expect_error(
		SVC_WITH("sessionAffinityTimeoutSeconds: 600"),
		"t.yaml:4: services[0].sessionAffinityTimeoutSeconds: only allowed with sessionAffinity: ClientIP");
	expect_error(
		SVC_WITH("sessionAffinity: ClientIP\n"
			 "    sessionAffinityTimeoutSeconds: 0"),
		"t.yaml:5: services[0].sessionAffinityTimeoutSeconds: 0 is not a number of seconds (1..86400)");
	expect_error(
		SVC_WITH("sessionAffinity: ClientIP\n"
			 "    sessionAffinityTimeoutSeconds: 86401"),
		"t.yaml:5: services[0].sessionAffinityTimeoutSeconds: 86401 is not a number of seconds (1..86400)");
}

Test(svcfile, bad_ip)
{
	expect_error(
		"services:\n  - name: web\n    clusterIP: 10.96.0\n",
		"t.yaml:3: services[0].clusterIP: \"10.96.0\" is not an IPv4 address");
	expect_error(
		"services:\n  - name: web\n    clusterIP: 10.96.0.256\n",
		"t.yaml:3: services[0].clusterIP: \"10.96.0.256\" is not an IPv4 address");
	expect_error(
		"services:\n  - name: web\n    clusterIP: \" 10.96.0.1\"\n",
		"t.yaml:3: services[0].clusterIP: \" 10.96.0.1\" is not an IPv4 address");
	expect_error(
		"services:\n  - name: web\n    clusterIP: 10.96.0.01\n",
		"t.yaml:3: services[0].clusterIP: \"10.96.0.01\" is not an IPv4 address");
	expect_error(
		"services:\n  - name: web\n    clusterIP: fd00::1\n",
		"t.yaml:3: services[0].clusterIP: \"fd00::1\" is not an IPv4 address");
	expect_error(
		"services:\n  - name: web\n    clusterIP: 0.0.0.0\n",
		"t.yaml:3: services[0].clusterIP: 0.0.0.0 is the unspecified address");
	expect_error(
		"services:\n  - name: web\n    clusterIP: 255.255.255.255\n",
		"t.yaml:3: services[0].clusterIP: 255.255.255.255 is the broadcast address");
	expect_error(
		"services:\n  - name: web\n    clusterIP: None\n",
		"t.yaml:3: services[0].clusterIP: headless services (None) have no address to program; leave them out");
	expect_error(
		"services:\n  - name: web\n    clusterIP: \"10.96.0.1\\0x\"\n",
		"t.yaml:3: services[0].clusterIP: contains a NUL character");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports: [{port: 80}]\n"
		"    endpoints:\n"
		"      - ip: 10.244.1.2\n"
		"      - ip: 10.244.1\n",
		"t.yaml:7: services[0].endpoints[1].ip: \"10.244.1\" is not an IPv4 address");
}

Test(svcfile, bad_enum)
{
	expect_error(
		SVC_WITH("sessionAffinity: clientip"),
		"t.yaml:4: services[0].sessionAffinity: \"clientip\" is not one of None, ClientIP (did you mean ClientIP?)");
	expect_error(
		SVC_WITH("loadBalancing: ring"),
		"t.yaml:4: services[0].loadBalancing: \"ring\" is not one of random, maglev");
	expect_error(
		PORT_SVC("port: 80\n        protocol: SCTP"),
		"t.yaml:7: services[0].ports[0].protocol: \"SCTP\" is not one of TCP, UDP");
	expect_error(
		PORT_SVC("port: 80\n        protocol: tcp"),
		"t.yaml:7: services[0].ports[0].protocol: \"tcp\" is not one of TCP, UDP (did you mean TCP?)");
}

Test(svcfile, bad_bool)
{
	static const char head[] = "services:\n"
				   "  - name: web\n"
				   "    clusterIP: 10.96.0.10\n"
				   "    ports: [{port: 80}]\n"
				   "    endpoints:\n"
				   "      - ip: 10.244.1.2\n";
	char src[512];

	snprintf(src, sizeof(src), "%s        terminating: yes\n", head);
	expect_error(
		src,
		"t.yaml:7: services[0].endpoints[0].terminating: expected true or false, got \"yes\"");
	snprintf(src, sizeof(src), "%s        terminating: \"true\"\n", head);
	expect_error(
		src,
		"t.yaml:7: services[0].endpoints[0].terminating: expected true or false, got the string \"true\"");
	snprintf(src, sizeof(src), "%s        terminating: 1\n", head);
	expect_error(
		src,
		"t.yaml:7: services[0].endpoints[0].terminating: expected true or false, got \"1\"");
}

Test(svcfile, bad_name)
{
	static const char *const bad[] = { "Web",  "-web",     "web-",
					   "we_b", "web.shop", "wéb" };
	char src[256];
	size_t i;

	for (i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		char want[256];

		snprintf(
			src, sizeof(src),
			"services:\n  - name: \"%s\"\n    clusterIP: 10.0.0.1\n",
			bad[i]);
		snprintf(
			want, sizeof(want),
			"t.yaml:2: services[0].name: \"%s\" is not a DNS-1123 label (lowercase letters, digits and '-', starting and ending with a letter or digit)",
			bad[i]);
		expect_error(src, want);
	}
	expect_error("services:\n  - name: \"\"\n",
		     "t.yaml:2: services[0].name: must not be empty");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    namespace: a123456789012345678901234567890123456789012345678901234567890123\n",
		"t.yaml:3: services[0].namespace: \"a1234567890123456789012345678901234567...\" is longer than 63 characters");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports: [{name: HTTP, port: 80}]\n",
		"t.yaml:4: services[0].ports[0].name: \"HTTP\" is not a DNS-1123 label...");
}

Test(svcfile, longest_names)
{
	struct berth_service_set set = { 0 };
	char src[512], name[64];

	memset(name, 'a', 63);
	name[63] = '\0';
	snprintf(
		src, sizeof(src),
		"services:\n- name: %s\n  namespace: %s\n  clusterIP: 10.0.0.1\n"
		"  ports: [{port: 1, name: %s}]\n",
		name, name, name);
	parse_ok(src, &set);
	cr_assert_str_eq(set.svcs[0].name, name);
	cr_assert_str_eq(set.svcs[0].namespace, name);
	cr_assert_str_eq(set.svcs[0].ports[0].name, name);
	berth_service_set_free(&set);
}

Test(svcfile, port_names)
{
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports:\n"
		"      - name: http\n"
		"        port: 80\n"
		"      - port: 443\n",
		"t.yaml:7: services[0].ports[1].name: is required when a service has more than one port");
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports:\n"
		"      - name: http\n"
		"        port: 80\n"
		"      - name: http\n"
		"        port: 443\n",
		"t.yaml:7: services[0].ports[1].name: duplicate port name \"http\" (also ports[0])");
}

Test(svcfile, duplicate_port)
{
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports:\n"
		"      - {name: a, port: 80}\n"
		"      - {name: b, port: 81}\n"
		"      - {name: c, port: 80, protocol: TCP, targetPort: 9}\n",
		"t.yaml:7: services[0].ports[2].port: duplicate port 80/TCP (also ports[0])");
}

Test(svcfile, duplicate_endpoint)
{
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports: [{port: 80}]\n"
		"    endpoints:\n"
		"      - ip: 10.244.1.3\n"
		"      - ip: 10.244.1.2\n"
		"      - ip: 10.244.1.4\n"
		"      - ip: 10.244.1.3\n"
		"      - ip: 10.244.1.2\n",
		"t.yaml:9: services[0].endpoints[3].ip: duplicate endpoint 10.244.1.3 (also endpoints[0])");
}

Test(svcfile, duplicate_service)
{
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports: [{port: 80}]\n"
		"  - name: web\n"
		"    namespace: other\n"
		"    clusterIP: 10.96.0.11\n"
		"    ports: [{port: 80}]\n"
		"  - name: web\n"
		"    namespace: default\n"
		"    clusterIP: 10.96.0.12\n"
		"    ports: [{port: 80}]\n",
		"t.yaml:9: services[2].name: duplicate service default/web (also services[0])");
}

Test(svcfile, duplicate_frontend)
{
	expect_error(
		"services:\n"
		"  - name: web\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports: [{name: a, port: 80}, {name: b, port: 443}]\n"
		"  - name: api\n"
		"    clusterIP: 10.96.0.10\n"
		"    ports:\n"
		"      - name: x\n"
		"        port: 8080\n"
		"      - name: y\n"
		"        port: 443\n",
		"t.yaml:11: services[1].ports[1].port: frontend 10.96.0.10:443/TCP is already used by services[0] (default/web)");
}

Test(svcfile, small_error_buffer)
{
	struct berth_service_set set = { 0 };
	char err[8];

	cr_assert_eq(berth_svcfile_parse("t.yaml", "- x\n", 4, &set, err,
					 sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "t.yaml:");
	cr_assert_eq(berth_svcfile_parse("t.yaml", "- x\n", 4, &set, NULL, 0),
		     -EINVAL);
}

static void write_file(const char *path, const char *s)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f);
	cr_assert_eq(fwrite(s, 1, strlen(s), f), strlen(s));
	cr_assert_eq(fclose(f), 0);
}

Test(svcfile, load)
{
	char dir[] = "/tmp/berth-svcfile-XXXXXX", path[64], err[256], want[128];
	struct berth_service_set set = { 0 };
	int fd;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/svc.json", dir);
	write_file(path, json_src);
	cr_assert_eq(berth_svcfile_load(path, &set, err, sizeof(err)), 0, "%s",
		     err);
	check_fixture(&set);
	berth_service_set_free(&set);

	/* the file name leads the message */
	write_file(path, "services:\n  - name: Web\n");
	cr_assert_eq(berth_svcfile_load(path, &set, err, sizeof(err)), -EINVAL);
	snprintf(want, sizeof(want), "%s:2: services[0].name: ", path);
	cr_assert(!strncmp(err, want, strlen(want)), "%s", err);

	/* sparse: the size is refused before anything is read */
	fd = open(path, O_WRONLY | O_TRUNC);
	cr_assert_geq(fd, 0);
	cr_assert_eq(ftruncate(fd, (64 << 20) + 1), 0);
	close(fd);
	cr_assert_eq(berth_svcfile_load(path, &set, err, sizeof(err)), -EFBIG);
	snprintf(want, sizeof(want), "%s: larger than 64 MiB", path);
	cr_assert_str_eq(err, want);
	unlink(path);

	cr_assert_eq(berth_svcfile_load(path, &set, err, sizeof(err)), -ENOENT);
	snprintf(want, sizeof(want),
		 "%s: cannot read: No such file or directory", path);
	cr_assert_str_eq(err, want);
	cr_assert_eq(berth_svcfile_load(dir, &set, err, sizeof(err)), -EISDIR);
	rmdir(dir);
	cr_assert_null(set.svcs);
}
