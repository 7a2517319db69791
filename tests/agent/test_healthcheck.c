// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* healthCheckNodePort: the answer, and real servers on loopback opened,
 * updated and closed. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "../../userspace/agent/healthcheck.h"

static struct berth_hc_service svc(uint16_t port, uint32_t local)
{
	struct berth_hc_service s = { .port = port, .local = local };

	snprintf(s.ns, sizeof(s.ns), "shop");
	snprintf(s.name, sizeof(s.name), "front");
	return s;
}

Test(healthcheck, reply_body_and_status)
{
	struct berth_hc_service s = svc(31000, 2);
	json_object *o, *v, *sv;
	char *body;

	cr_expect_eq(berth_hc_reply(&s, &body), 200);
	o = json_tokener_parse(body);
	cr_assert_not_null(o, "JSON body: %s", body);
	cr_assert(json_object_object_get_ex(o, "service", &sv));
	cr_expect_str_eq(
		json_object_get_string(json_object_object_get(sv, "namespace")),
		"shop");
	cr_expect_str_eq(
		json_object_get_string(json_object_object_get(sv, "name")),
		"front");
	cr_assert(json_object_object_get_ex(o, "localEndpoints", &v));
	cr_expect_eq(json_object_get_int(v), 2);
	json_object_put(o);
	free(body);
	s.local = 0;
	cr_expect_eq(berth_hc_reply(&s, &body), 503, "no local endpoints: 503");
	cr_expect(strstr(body, "\"localEndpoints\":0"), "%s", body);
	free(body);
}

static uint16_t free_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_geq(fd, 0);
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	return ntohs(sa.sin_port);
}

static size_t collect(char *p, size_t size, size_t n, void *arg)
{
	char *buf = arg;
	size_t have = strlen(buf), len = size * n;

	if (have + len < 1024) {
		memcpy(buf + have, p, len);
		buf[have + len] = '\0';
	}
	return len;
}

/* GET http://127.0.0.1:port/ -> status (-1: no connection), body */
static long get(uint16_t port, char *body)
{
	CURL *c = curl_easy_init();
	char url[64];
	long code = -1;

	body[0] = '\0';
	snprintf(url, sizeof(url), "http://127.0.0.1:%u/", port);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 5L);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, collect);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, body);
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code;
}

Test(healthcheck, servers_open_update_close)
{
	struct berth_hc_service s[2] = { svc(free_port(), 1), svc(0, 0) };
	struct berth_hc *hc;
	char body[1024];

	s[1] = svc(free_port(), 0);
	snprintf(s[1].name, sizeof(s[1].name), "back");
	cr_assert_eq(berth_hc_new(&hc, "127.0.0.1"), 0);
	cr_assert_eq(berth_hc_update(hc, s, 2), 0);
	cr_expect_eq(berth_hc_open_ports(hc), 2);
	cr_expect_eq(get(s[0].port, body), 200);
	cr_expect(strstr(body, "\"name\":\"front\""), "%s", body);
	cr_expect_eq(get(s[1].port, body), 503);
	cr_expect(strstr(body, "\"name\":\"back\""), "%s", body);

	/* endpoints move: counts change in place */
	s[0].local = 0;
	s[1].local = 3;
	cr_assert_eq(berth_hc_update(hc, s, 2), 0);
	cr_expect_eq(get(s[0].port, body), 503);
	cr_expect_eq(get(s[1].port, body), 200);
	cr_expect(strstr(body, "\"localEndpoints\":3"), "%s", body);

	/* front's Service is gone: its port closes */
	cr_assert_eq(berth_hc_update(hc, &s[1], 1), 0);
	cr_expect_eq(berth_hc_open_ports(hc), 1);
	cr_expect_eq(get(s[0].port, body), -1, "closed port refuses");
	cr_expect_eq(get(s[1].port, body), 200);
	berth_hc_free(hc);
	cr_expect_eq(get(s[1].port, body), -1);
}

Test(healthcheck, bad_bind_address)
{
	struct berth_hc *hc;

	cr_expect_lt(berth_hc_new(&hc, "not-an-ip"), 0);
}
