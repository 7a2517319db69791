// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The proxy's conversion: Service + EndpointSlice JSON to a service set. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <criterion/criterion.h>

#include "../../userspace/agent/proxy.h"

#define MAXOBJ 8

struct fixture {
	json_object *svcs[MAXOBJ], *slices[MAXOBJ];
	size_t nsvcs, nslices;
	struct berth_service_set set;
};

static struct fixture fx;

static void setup(void)
{
	memset(&fx, 0, sizeof(fx));
}

static void teardown(void)
{
	for (size_t i = 0; i < fx.nsvcs; i++)
		json_object_put(fx.svcs[i]);
	for (size_t i = 0; i < fx.nslices; i++)
		json_object_put(fx.slices[i]);
	berth_service_set_free(&fx.set);
}

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);

	cr_assert_not_null(o, "bad JSON in test: %s", s);
	return o;
}

static void svc(const char *s)
{
	fx.svcs[fx.nsvcs++] = J(s);
}

static void slice(const char *s)
{
	fx.slices[fx.nslices++] = J(s);
}

static void convert_at(const char *node, const char *node_ip)
{
	struct in_addr a = { 0 };
	int err;

	if (node_ip)
		cr_assert_eq(inet_pton(AF_INET, node_ip, &a), 1);
	err = berth_proxy_convert(fx.svcs, fx.nsvcs, fx.slices, fx.nslices,
				  node, a.s_addr, &fx.set);
	cr_assert_eq(err, 0, "convert: %d", err);
}

static void convert(const char *node)
{
	convert_at(node, NULL);
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad IP in test: %s", s);
	return a.s_addr;
}

/* the service for port @port, which must exist */
static const struct berth_service *find(uint16_t port)
{
	for (size_t i = 0; i < fx.set.n; i++)
		if (fx.set.svcs[i].ports[0].port == port)
			return &fx.set.svcs[i];
	cr_assert_fail("no service entry for port %u", port);
	return NULL;
}

static const struct berth_endpoint *ep(const struct berth_service *s,
				       const char *addr)
{
	for (size_t i = 0; i < s->nendpoints; i++)
		if (s->endpoints[i].ip == ip(addr))
			return &s->endpoints[i];
	return NULL;
}

#define WEB_SVC                                                              \
	"{\"metadata\":{\"namespace\":\"default\",\"name\":\"web\"},"        \
	"\"spec\":{\"clusterIP\":\"10.96.0.10\",\"ports\":["                  \
	"{\"name\":\"http\",\"port\":80,\"targetPort\":\"web\",\"protocol\":\"TCP\"}," \
	"{\"name\":\"dns\",\"port\":53,\"targetPort\":5353,\"protocol\":\"UDP\"}]}}"

TestSuite(proxy, .init = setup, .fini = teardown);

Test(proxy, port_names_match_slice_ports)
{
	const struct berth_service *http, *dns;

	svc(WEB_SVC);
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-a\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
	      "\"addressType\":\"IPv4\","
	      "\"ports\":[{\"name\":\"dns\",\"port\":5300,\"protocol\":\"UDP\"},"
	      "{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],"
	      "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}},"
	      "{\"addresses\":[\"10.0.0.2\"]}]}");
	convert("n1");
	cr_assert_eq(fx.set.n, 2, "one entry per port, got %zu", fx.set.n);
	http = find(80);
	dns = find(53);
	cr_assert_eq(http->cluster_ip, ip("10.96.0.10"));
	cr_assert_str_eq(http->name, "web");
	cr_assert_str_eq(http->namespace, "default");
	cr_assert_eq(http->ports[0].proto, IPPROTO_TCP);
	cr_assert_eq(dns->ports[0].proto, IPPROTO_UDP);
	cr_assert_eq(http->nendpoints, 2);
	cr_assert_eq(dns->nendpoints, 2);
	cr_assert_eq(ep(http, "10.0.0.1")->port, 8080, "slice port is the backend port");
	cr_assert_eq(ep(dns, "10.0.0.2")->port, 5300);
	cr_assert_not(ep(http, "10.0.0.2")->terminating, "unset ready counts as ready");
	cr_assert_eq(http->algo, BERTH_LB_RANDOM);
	cr_assert_not(http->affinity);
}

Test(proxy, slice_without_the_port_gives_no_endpoints)
{
	svc(WEB_SVC);
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-a\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
	      "\"addressType\":\"IPv4\","
	      "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],"
	      "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"]}]}");
	/* same name in another namespace: not ours */
	slice("{\"metadata\":{\"namespace\":\"other\",\"name\":\"web-b\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
	      "\"addressType\":\"IPv4\","
	      "\"ports\":[{\"name\":\"dns\",\"port\":53,\"protocol\":\"UDP\"}],"
	      "\"endpoints\":[{\"addresses\":[\"10.0.9.9\"]}]}");
	convert("n1");
	cr_assert_eq(find(80)->nendpoints, 1);
	cr_assert_eq(find(53)->nendpoints, 0, "no slice has port dns here");
	cr_assert_eq(find(53)->ports[0].target_port, 5353);
}

Test(proxy, conditions)
{
	const struct berth_service *s;

	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"a\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.11\",\"ports\":[{\"port\":80}]}}");
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"a-1\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"a\"}},"
	      "\"addressType\":\"IPv4\",\"ports\":[{\"port\":8080}],"
	      "\"endpoints\":["
	      "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true,\"serving\":true,\"terminating\":false}},"
	      "{\"addresses\":[\"10.0.0.2\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}},"
	      "{\"addresses\":[\"10.0.0.3\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":true}},"
	      "{\"addresses\":[\"10.0.0.4\"],\"conditions\":{\"ready\":false,\"serving\":false,\"terminating\":false}},"
	      "{\"addresses\":[\"10.0.0.5\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":false}}]}");
	convert("n1");
	s = find(80);
	cr_assert_eq(s->nendpoints, 2, "got %zu endpoints", s->nendpoints);
	cr_assert_not(ep(s, "10.0.0.1")->terminating, "ready is a backend");
	cr_assert(ep(s, "10.0.0.2")->terminating, "serving+terminating is kept as terminating");
	cr_assert_null(ep(s, "10.0.0.3"), "not serving: left out");
	cr_assert_null(ep(s, "10.0.0.4"), "not ready: left out");
	cr_assert_null(ep(s, "10.0.0.5"), "serving but not terminating, not ready: left out");
}

Test(proxy, affinity_default_and_explicit)
{
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"a\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.11\",\"sessionAffinity\":\"ClientIP\","
	    "\"ports\":[{\"port\":80}]}}");
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"b\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.12\",\"sessionAffinity\":\"ClientIP\","
	    "\"sessionAffinityConfig\":{\"clientIP\":{\"timeoutSeconds\":60}},"
	    "\"ports\":[{\"port\":81}]}}");
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"c\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.13\",\"sessionAffinity\":\"None\","
	    "\"ports\":[{\"port\":82}]}}");
	convert(NULL);
	cr_assert(find(80)->affinity);
	cr_assert_eq(find(80)->affinity_timeout, 10800);
	cr_assert(find(81)->affinity);
	cr_assert_eq(find(81)->affinity_timeout, 60);
	cr_assert_not(find(82)->affinity);
}

Test(proxy, headless_externalname_sctp_skipped)
{
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"h\"},"
	    "\"spec\":{\"clusterIP\":\"None\",\"ports\":[{\"port\":80}]}}");
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"x\"},"
	    "\"spec\":{\"type\":\"ExternalName\",\"externalName\":\"example.com\","
	    "\"ports\":[{\"port\":80}]}}");
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"s\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.20\",\"ports\":["
	    "{\"name\":\"a\",\"port\":9000,\"protocol\":\"SCTP\"},"
	    "{\"name\":\"b\",\"port\":9001,\"protocol\":\"TCP\"}]}}");
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"noip\"},"
	    "\"spec\":{\"ports\":[{\"port\":80}]}}");
	convert("n1");
	cr_assert_eq(fx.set.n, 1, "only s's TCP port, got %zu", fx.set.n);
	cr_assert_eq(fx.set.svcs[0].ports[0].port, 9001);
}

Test(proxy, maglev_annotation)
{
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"m\","
	    "\"annotations\":{\"service.berth.dev/lb-algorithm\":\"maglev\"}},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.30\",\"ports\":[{\"port\":80}]}}");
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"r\","
	    "\"annotations\":{\"service.berth.dev/lb-algorithm\":\"random\"}},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.31\",\"ports\":[{\"port\":81}]}}");
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"z\","
	    "\"annotations\":{\"service.berth.dev/lb-algorithm\":\"bogus\"}},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.32\",\"ports\":[{\"port\":82}]}}");
	convert("n1");
	cr_assert_eq(find(80)->algo, BERTH_LB_MAGLEV);
	cr_assert_eq(find(81)->algo, BERTH_LB_RANDOM);
	cr_assert_eq(find(82)->algo, BERTH_LB_RANDOM);
}

Test(proxy, multiple_slices_merge_and_dedupe)
{
	const struct berth_service *s;

	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"a\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.11\",\"ports\":[{\"name\":\"http\",\"port\":80}]}}");
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"a-1\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"a\"}},"
	      "\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":8080}],"
	      "\"endpoints\":[{\"addresses\":[\"10.0.0.3\"]},"
	      "{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":false,\"serving\":true,\"terminating\":true}}]}");
	/* another slice: the same address ready (moved), a second port
	 * number (named targetPort resolving differently), an IPv6 slice */
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"a-2\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"a\"}},"
	      "\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":8080}],"
	      "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"conditions\":{\"ready\":true}}]}");
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"a-3\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"a\"}},"
	      "\"addressType\":\"IPv4\",\"ports\":[{\"name\":\"http\",\"port\":9090}],"
	      "\"endpoints\":[{\"addresses\":[\"10.0.0.2\"]}]}");
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"a-4\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"a\"}},"
	      "\"addressType\":\"IPv6\",\"ports\":[{\"name\":\"http\",\"port\":8080}],"
	      "\"endpoints\":[{\"addresses\":[\"fd00::1\"]}]}");
	convert("n1");
	s = find(80);
	cr_assert_eq(s->nendpoints, 3, "got %zu", s->nendpoints);
	cr_assert_not(ep(s, "10.0.0.1")->terminating, "ready in one slice wins");
	cr_assert_eq(ep(s, "10.0.0.2")->port, 9090);
	cr_assert_eq(ep(s, "10.0.0.3")->port, 8080);
	/* sorted, so the same state always gives the same order */
	cr_assert_eq(s->endpoints[0].ip, ip("10.0.0.1"));
	cr_assert_eq(s->endpoints[2].ip, ip("10.0.0.3"));
}

Test(proxy, internal_traffic_policy_local)
{
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"l\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.40\",\"internalTrafficPolicy\":\"Local\","
	    "\"ports\":[{\"port\":80}]}}");
	svc("{\"metadata\":{\"namespace\":\"default\",\"name\":\"c\"},"
	    "\"spec\":{\"clusterIP\":\"10.96.0.41\",\"internalTrafficPolicy\":\"Cluster\","
	    "\"ports\":[{\"port\":81}]}}");
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"l-1\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"l\"}},"
	      "\"addressType\":\"IPv4\",\"ports\":[{\"port\":8080}],"
	      "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"nodeName\":\"n1\"},"
	      "{\"addresses\":[\"10.0.0.2\"],\"nodeName\":\"n2\"},"
	      "{\"addresses\":[\"10.0.0.3\"]}]}");
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"c-1\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"c\"}},"
	      "\"addressType\":\"IPv4\",\"ports\":[{\"port\":8080}],"
	      "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"],\"nodeName\":\"n1\"},"
	      "{\"addresses\":[\"10.0.0.2\"],\"nodeName\":\"n2\"}]}");
	convert("n1");
	cr_assert_eq(find(80)->nendpoints, 1);
	cr_assert_not_null(ep(find(80), "10.0.0.1"));
	cr_assert_eq(find(81)->nendpoints, 2, "Cluster keeps every node's");
}

Test(proxy, frontends_carry_slice_ports)
{
	struct berth_frontend *fe = NULL;
	size_t n = 0;

	svc(WEB_SVC);
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"web-a\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"web\"}},"
	      "\"addressType\":\"IPv4\","
	      "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"}],"
	      "\"endpoints\":[{\"addresses\":[\"10.0.0.1\"]}]}");
	convert("n1");
	cr_assert_eq(berth_services_to_frontends(&fx.set, &fe, &n), 0);
	cr_assert_eq(n, 2);
	for (size_t i = 0; i < n; i++) {
		if (fe[i].port != htons(80))
			continue;
		cr_assert_eq(fe[i].nbackends, 1);
		cr_assert_eq(fe[i].backends[0].port, htons(8080));
	}
	berth_frontends_free(fe, n);
}

/* ---- NodePort ---- */

#define NODE_IP "192.168.7.1"

/* the entry for vip:port, NULL if none */
static const struct berth_service *find_at(const char *vip, uint16_t port)
{
	for (size_t i = 0; i < fx.set.n; i++)
		if (fx.set.svcs[i].cluster_ip == ip(vip) &&
		    fx.set.svcs[i].ports[0].port == port)
			return &fx.set.svcs[i];
	return NULL;
}

static void np_svc(const char *type, const char *etp)
{
	char buf[1024];

	snprintf(
		buf, sizeof(buf),
		"{\"metadata\":{\"namespace\":\"default\",\"name\":\"np\"},"
		"\"spec\":{\"type\":\"%s\",%s%s%s\"clusterIP\":\"10.96.0.20\","
		"\"healthCheckNodePort\":31999,\"ports\":["
		"{\"name\":\"http\",\"port\":80,\"nodePort\":30080,\"protocol\":\"TCP\"},"
		"{\"name\":\"dns\",\"port\":53,\"nodePort\":30053,\"protocol\":\"UDP\"},"
		"{\"name\":\"none\",\"port\":81,\"protocol\":\"TCP\"}]}}",
		type, etp ? "\"externalTrafficPolicy\":\"" : "", etp ? etp : "",
		etp ? "\"," : "");
	svc(buf);
	/* two endpoints on n1 (one not ready), one on n2 */
	slice("{\"metadata\":{\"namespace\":\"default\",\"name\":\"np-a\","
	      "\"labels\":{\"kubernetes.io/service-name\":\"np\"}},"
	      "\"addressType\":\"IPv4\","
	      "\"ports\":[{\"name\":\"http\",\"port\":8080,\"protocol\":\"TCP\"},"
	      "{\"name\":\"dns\",\"port\":5353,\"protocol\":\"UDP\"},"
	      "{\"name\":\"none\",\"port\":8081,\"protocol\":\"TCP\"}],"
	      "\"endpoints\":["
	      "{\"addresses\":[\"10.1.0.5\"],\"nodeName\":\"n1\",\"conditions\":{\"ready\":true}},"
	      "{\"addresses\":[\"10.1.0.6\"],\"nodeName\":\"n1\",\"conditions\":{\"ready\":false}},"
	      "{\"addresses\":[\"10.1.1.5\"],\"nodeName\":\"n2\",\"conditions\":{\"ready\":true}}]}");
}

Test(proxy, nodeport_cluster_policy)
{
	const struct berth_service *s;

	np_svc("NodePort", NULL);
	convert_at("n1", NODE_IP);
	cr_assert_eq(fx.set.n, 5, "3 ClusterIP + 2 NodePort frontends, got %zu",
		     fx.set.n);
	s = find_at(NODE_IP, 30080);
	cr_assert_not_null(s, "NodePort 30080 on the node IP");
	cr_expect_eq(s->ports[0].proto, IPPROTO_TCP);
	cr_expect_eq(s->nendpoints, 2, "every ready endpoint, any node");
	cr_expect_not_null(ep(s, "10.1.1.5"));
	cr_expect_eq(ep(s, "10.1.0.5")->port, 8080);
	s = find_at(NODE_IP, 30053);
	cr_assert_not_null(s, "NodePort 30053 (UDP)");
	cr_expect_eq(s->ports[0].proto, IPPROTO_UDP);
	cr_expect_eq(ep(s, "10.1.0.5")->port, 5353);
	cr_expect_not_null(find_at("10.96.0.20", 81),
			   "a port without nodePort keeps its ClusterIP");
	cr_expect_eq(find_at("10.96.0.20", 80)->nendpoints, 2);
}

Test(proxy, nodeport_local_policy)
{
	const struct berth_service *s;

	np_svc("LoadBalancer", "Local");
	convert_at("n1", NODE_IP);
	s = find_at(NODE_IP, 30080);
	cr_assert_not_null(s);
	cr_expect_eq(s->nendpoints, 1, "only this node's ready endpoint");
	cr_expect_not_null(ep(s, "10.1.0.5"));
	cr_expect_eq(find_at("10.96.0.20", 80)->nendpoints, 2,
		     "externalTrafficPolicy leaves the ClusterIP alone");
	berth_service_set_free(&fx.set);
	memset(&fx.set, 0, sizeof(fx.set));
	convert_at("n3", NODE_IP);
	s = find_at(NODE_IP, 30080);
	cr_assert_not_null(s, "the frontend stays without local endpoints");
	cr_expect_eq(s->nendpoints, 0);
}

Test(proxy, clusterip_type_has_no_nodeport)
{
	np_svc("ClusterIP", NULL);
	convert_at("n1", NODE_IP);
	cr_expect_eq(fx.set.n, 3);
	cr_expect_null(find_at(NODE_IP, 30080));
}

Test(proxy, nodeport_needs_node_ip)
{
	np_svc("NodePort", NULL);
	convert_at("n1", NULL);
	cr_expect_eq(fx.set.n, 3, "no node IP: ClusterIP frontends only");
}

Test(proxy, health_check_ports)
{
	struct berth_hc_service *hs;
	size_t n;

	np_svc("LoadBalancer", "Local");
	np_svc("NodePort", NULL); /* same name, Cluster: no server */
	cr_assert_eq(
		berth_proxy_health(fx.svcs, 1, fx.slices, 1, "n1", &hs, &n), 0);
	cr_assert_eq(n, 1);
	cr_expect_eq(hs[0].port, 31999);
	cr_expect_str_eq(hs[0].ns, "default");
	cr_expect_str_eq(hs[0].name, "np");
	cr_expect_eq(hs[0].local, 1, "ready endpoints on n1: one");
	free(hs);
	cr_assert_eq(
		berth_proxy_health(fx.svcs, 1, fx.slices, 1, "n3", &hs, &n), 0);
	cr_expect_eq(hs[0].local, 0);
	free(hs);
	cr_assert_eq(berth_proxy_health(fx.svcs + 1, 1, fx.slices, 1, "n1", &hs,
					&n),
		     0);
	cr_expect_eq(n, 0, "externalTrafficPolicy Cluster: no health check");
	free(hs);
}
