// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The API client: kubeconfig, YAML, time and a request to a canned server. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include <berth/kube.h>

static char *write_tmp(const char *text)
{
	char *path = strdup("/tmp/berth-test-kubeconfig-XXXXXX");
	int fd = mkstemp(path);

	cr_assert(fd >= 0);
	cr_assert(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
	close(fd);
	return path;
}

Test(kube, kubeconfig_current_context)
{
	char *p = write_tmp(
		"apiVersion: v1\nkind: Config\ncurrent-context: b\n"
		"clusters:\n- name: c1\n  cluster: {server: 'http://a:1/'}\n"
		"- name: c2\n  cluster:\n    server: https://b:2\n"
		"    certificate-authority: ca.pem\n"
		"    certificate-authority-data: aGVsbG8=\n"
		"users:\n- name: u\n  user: {token: abc, client-key: /k.pem}\n"
		"contexts:\n- name: a\n  context: {cluster: c1}\n"
		"- name: b\n  context: {cluster: c2, user: u, namespace: ns1}\n");
	struct berth_kube_config cfg;
	char err[256] = "";
	char *ca;
	FILE *f;
	char buf[16] = "";

	cr_assert_eq(berth_kube_config_load(p, NULL, &cfg, err, sizeof(err)), 0,
		     "load: %s", err);
	cr_assert_str_eq(cfg.server, "https://b:2");
	cr_assert_str_eq(cfg.token, "abc");
	cr_assert_str_eq(cfg.namespace, "ns1");
	cr_assert_str_eq(cfg.key_file, "/k.pem");
	cr_assert_not_null(cfg.ca_file, "CA data in a file this process reads");
	cr_assert(!strncmp(cfg.ca_file, "/proc/self/fd/", 14),
		  "the CA data is in no file on disk: %s", cfg.ca_file);
	f = fopen(cfg.ca_file, "r");
	cr_assert_not_null(f);
	cr_assert(fgets(buf, sizeof(buf), f));
	fclose(f);
	cr_assert_str_eq(buf, "hello");
	ca = strdup(cfg.ca_file);
	berth_kube_config_free(&cfg);
	cr_assert_neq(access(ca, F_OK), 0, "the CA data file is gone with the config");
	free(ca);

	cr_assert_eq(berth_kube_config_load(p, "a", &cfg, err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.server, "http://a:1", "trailing slash dropped");
	cr_assert_str_eq(cfg.namespace, "default");
	berth_kube_config_free(&cfg);

	cr_assert_eq(berth_kube_config_load(p, "zz", &cfg, err, sizeof(err)),
		     -ENOENT);
	cr_assert(strstr(err, "context 'zz' not found"), "err: %s", err);
	unlink(p);
	free(p);
}

Test(kube, kubeconfig_errors)
{
	struct berth_kube_config cfg;
	char err[256] = "";
	char *p = write_tmp("clusters: [\n");

	cr_assert_eq(berth_kube_config_load(p, NULL, &cfg, err, sizeof(err)),
		     -EINVAL);
	cr_assert(strstr(err, "line"), "a line number: %s", err);
	unlink(p);
	free(p);
	cr_assert_eq(berth_kube_config_load("/nonexistent/kc", NULL, &cfg, err,
					    sizeof(err)),
		     -ENOENT);
	cr_assert_eq(berth_kube_config_load("http://127.0.0.1:9", NULL, &cfg,
					    err, sizeof(err)),
		     0, "a bare URL");
	cr_assert_str_eq(cfg.server, "http://127.0.0.1:9");
	berth_kube_config_free(&cfg);
}

Test(kube, yaml_types)
{
	json_object *o, *v;
	char err[128];

	const char *y = "a: 1\nb: '1'\nc: true\nd: ~\ne: [x, 2.5]\nf: {g: h}\n";

	cr_assert_eq(berth_kube_yaml_parse(y, strlen(y), &o, err, sizeof(err)),
		     0, "%s", err);
	cr_assert(json_object_object_get_ex(o, "a", &v) &&
		  json_object_is_type(v, json_type_int));
	cr_assert(json_object_object_get_ex(o, "b", &v) &&
		  json_object_is_type(v, json_type_string), "quoted stays a string");
	cr_assert(json_object_object_get_ex(o, "c", &v) &&
		  json_object_get_boolean(v));
	cr_assert(json_object_object_get_ex(o, "d", &v) && !v);
	cr_assert_str_eq(json_object_to_json_string_ext(
				 json_object_object_get(o, "e"),
				 JSON_C_TO_STRING_PLAIN),
			 "[\"x\",2.5]");
	json_object_put(o);
	cr_assert_eq(berth_kube_yaml_parse("{\"x\": [1]}", 10, &o, err,
					   sizeof(err)),
		     0, "JSON is YAML");
	json_object_put(o);
}

Test(kube, time_and_escape)
{
	char buf[32], e[64];
	long t;

	berth_kube_time(buf, 86400 + 3661);
	cr_assert_str_eq(buf, "1970-01-02T01:01:01Z");
	cr_assert_eq(berth_kube_parse_time("1970-01-02T01:01:01Z", &t), 0);
	cr_assert_eq(t, 86400 + 3661);
	cr_assert_eq(berth_kube_parse_time("1970-01-02T02:01:01.123+01:00", &t), 0);
	cr_assert_eq(t, 86400 + 3661);
	cr_assert_eq(berth_kube_parse_time("yesterday", &t), -EINVAL);
	cr_assert_eq(berth_kube_escape("spec.nodeName=n 1", e, sizeof(e)), 0);
	cr_assert_str_eq(e, "spec.nodeName%3Dn%201");
	cr_assert_eq(berth_kube_escape("abcdef", e, 4), -ENAMETOOLONG);
}

/* One canned HTTP answer per connection; records the request. */
struct canned {
	int fd;
	const char *answer;
	char request[4096];
};

static void *serve_one(void *arg)
{
	struct canned *c = arg;
	int s = accept(c->fd, NULL, NULL);
	size_t n = 0;
	ssize_t r;

	while (n < sizeof(c->request) - 1 &&
	       (r = read(s, c->request + n, sizeof(c->request) - 1 - n)) > 0) {
		n += r;
		c->request[n] = 0;
		char *hdr_end = strstr(c->request, "\r\n\r\n");
		char *cl = strcasestr(c->request, "Content-Length: ");

		if (hdr_end && (!cl || strlen(hdr_end + 4) >=
					       (size_t)atoi(cl + 16)))
			break;
	}
	if (write(s, c->answer, strlen(c->answer)) < 0)
		perror("write");
	close(s);
	return NULL;
}

static int canned_start(struct canned *c, pthread_t *t)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);

	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(c->fd >= 0);
	cr_assert_eq(bind(c->fd, (struct sockaddr *)&a, len), 0);
	cr_assert_eq(listen(c->fd, 4), 0);
	getsockname(c->fd, (struct sockaddr *)&a, &len);
	pthread_create(t, NULL, serve_one, c);
	return ntohs(a.sin_port);
}

Test(kube, patch_request_and_status)
{
	struct canned c = {
		.answer = "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\n"
			  "Content-Length: 45\r\nConnection: close\r\n\r\n"
			  "{\"kind\":\"Status\",\"message\":\"pods \\\"x\\\" gone\"}",
	};
	struct berth_kube_config cfg = { 0 };
	struct berth_kube *k;
	json_object *body = json_object_new_object(), *out = NULL;
	char url[64], m[128];
	pthread_t t;
	int port = canned_start(&c, &t), st;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d", port);
	cfg.server = strdup(url);
	cfg.token = strdup("tok");
	cr_assert_eq(berth_kube_new(&k, &cfg), 0);
	json_object_object_add(body, "a", json_object_new_int(1));
	st = berth_kube_patch(k, "/api/v1/namespaces/d/pods/x/status",
			      BERTH_KUBE_PATCH_STRATEGIC, body, &out);
	pthread_join(t, NULL);
	close(c.fd);
	cr_assert_eq(st, 404);
	cr_assert_str_eq(berth_kube_status_message(out, st, m, sizeof(m)),
			 "pods \"x\" gone");
	cr_assert(strstr(c.request, "PATCH /api/v1/namespaces/d/pods/x/status HTTP/1.1"),
		  "%s", c.request);
	cr_assert(strstr(c.request, "Authorization: Bearer tok"));
	cr_assert(strstr(c.request,
			 "Content-Type: application/strategic-merge-patch+json"));
	cr_assert(strstr(c.request, "{\"a\":1}"));
	json_object_put(out);
	json_object_put(body);
	berth_kube_free(k);
}

Test(kube, refused)
{
	struct berth_kube *k;

	cr_assert_eq(berth_kube_open(&k, "http://127.0.0.1:1"), 0);
	cr_assert_eq(berth_kube_get(k, "/api", NULL), -ECONNREFUSED);
	berth_kube_free(k);
}

/* A listener on a loopback port served by serve(arg) in thread t, and a
 * client for it; *fd gets the listener. */
static struct berth_kube *serve_loopback(int *fd, void *(*serve)(void *),
					 void *arg, pthread_t *t)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	struct berth_kube *k;
	char url[64];

	*fd = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert(*fd >= 0);
	cr_assert_eq(bind(*fd, (struct sockaddr *)&a, len), 0);
	cr_assert_eq(listen(*fd, 8), 0);
	getsockname(*fd, (struct sockaddr *)&a, &len);
	pthread_create(t, NULL, serve, arg);
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", ntohs(a.sin_port));
	cr_assert_eq(berth_kube_open(&k, url), 0);
	return k;
}

/* A server answering successive connections from a script; records the
 * request lines. The last answer is held open until the test ends. */
struct script {
	int fd;
	int n;
	const char *const *answers;
	char lines[8][512];
	int served;
};

static void *serve_script(void *arg)
{
	struct script *s = arg;

	for (int i = 0; i < s->n; i++) {
		char req[4096] = "";
		int c = accept(s->fd, NULL, NULL);
		ssize_t r;

		if (c < 0)
			return NULL;
		r = read(c, req, sizeof(req) - 1);
		if (r > 0)
			snprintf(s->lines[i], sizeof(s->lines[i]), "%.*s",
				 (int)strcspn(req, "\r"), req);
		if (write(c, s->answers[i], strlen(s->answers[i])) < 0)
			perror("write");
		__atomic_store_n(&s->served, i + 1, __ATOMIC_SEQ_CST);
		if (i == s->n - 1)
			sleep(3); /* a watch that stays open */
		close(c);
	}
	return NULL;
}

#define HDR200 "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n"

struct events {
	char log[2048];
};

static void record(enum berth_kube_event ev, json_object *obj, void *arg)
{
	struct events *e = arg;
	static const char *const names[] = { "ADDED", "MODIFIED", "DELETED",
					     "BEGIN", "END" };
	json_object *md, *name;
	size_t o = strlen(e->log);

	snprintf(e->log + o, sizeof(e->log) - o, "%s%s ", names[ev],
		 obj && json_object_object_get_ex(obj, "metadata", &md) &&
				 json_object_object_get_ex(md, "name", &name) ?
			 json_object_get_string(name) :
			 "");
}

Test(kube, watch_resume_and_relist_on_410)
{
	static const char *const answers[] = {
		HDR200 "\r\n{\"metadata\":{\"resourceVersion\":\"5\"},\"items\":"
		       "[{\"metadata\":{\"name\":\"a\",\"resourceVersion\":\"4\"}}]}",
		HDR200 "\r\n{\"type\":\"ADDED\",\"object\":{\"metadata\":{\"name\":\"b\","
		       "\"resourceVersion\":\"7\"}}}\n{\"type\":\"BOOKMARK\",\"object\":"
		       "{\"metadata\":{\"resourceVersion\":\"9\"}}}\n",
		HDR200 "\r\n{\"type\":\"DELETED\",\"object\":{\"metadata\":{\"name\":\"a\","
		       "\"resourceVersion\":\"10\"}}}\n{\"type\":\"ERROR\",\"object\":"
		       "{\"kind\":\"Status\",\"code\":410,\"message\":\"too old\"}}\n",
		HDR200 "\r\n{\"metadata\":{\"resourceVersion\":\"20\"},\"items\":"
		       "[{\"metadata\":{\"name\":\"b\"}}]}",
		HDR200 "\r\n",
	};
	struct script s = { .n = 5, .answers = answers };
	struct berth_kube_watch *w;
	struct berth_kube *k;
	struct events e = { "" };
	pthread_t t;

	k = serve_loopback(&s.fd, serve_script, &s, &t);
	cr_assert_eq(berth_kube_watch_start(&w, k, "/api/v1/pods",
					    "fieldSelector=spec.nodeName%3Dn1",
					    record, &e),
		     0);
	for (int i = 0; i < 100 && __atomic_load_n(&s.served, __ATOMIC_SEQ_CST) < 5; i++)
		usleep(50 * 1000);
	usleep(100 * 1000);
	berth_kube_watch_stop(w);
	pthread_join(t, NULL);
	close(s.fd);
	cr_assert_str_eq(e.log, "BEGIN ADDEDa END ADDEDb DELETEDa BEGIN ADDEDb END ",
			 "events: %s", e.log);
	cr_assert_str_eq(s.lines[0], "GET /api/v1/pods?fieldSelector=spec.nodeName%3Dn1 HTTP/1.1");
	cr_assert(strstr(s.lines[1], "watch=1") &&
		  strstr(s.lines[1], "resourceVersion=5&"), "%s", s.lines[1]);
	cr_assert(strstr(s.lines[2], "resourceVersion=9&"),
		  "resumed from the bookmark: %s", s.lines[2]);
	cr_assert(!strstr(s.lines[3], "watch="), "relisted after 410: %s", s.lines[3]);
	cr_assert(strstr(s.lines[4], "resourceVersion=20&"), "%s", s.lines[4]);
	berth_kube_free(k);
}

/* A keep-alive server: answers every request on every connection it
 * accepts until told to stop, and counts the connections. */
struct keepalive {
	int fd;
	int accepted, served;
	volatile int stop;
};

static void *serve_keepalive(void *arg)
{
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
		"Content-Length: 2\r\n\r\n{}";
	struct keepalive *s = arg;
	struct pollfd p[8] = { { .fd = s->fd, .events = POLLIN } };
	int n = 1;

	for (int rounds = 0; !s->stop && rounds < 500; rounds++) { /* 10 s */
		if (poll(p, n, 20) <= 0)
			continue;
		if (p[0].revents && n < 8) {
			p[n].fd = accept(s->fd, NULL, NULL);
			p[n++].events = POLLIN;
			s->accepted++;
		}
		for (int i = 1; i < n; i++) {
			char req[4096];
			ssize_t r;

			if (!p[i].revents || p[i].fd < 0)
				continue;
			r = read(p[i].fd, req, sizeof(req));
			if (r <= 0) {
				close(p[i].fd);
				p[i].fd = -1;
			} else if (write(p[i].fd, ok, sizeof(ok) - 1) > 0) {
				s->served++;
			}
		}
	}
	for (int i = 1; i < n; i++)
		if (p[i].fd >= 0)
			close(p[i].fd);
	return NULL;
}

/* Requests one after the other go over one connection (no handshake,
 * no new server thread per request). */
Test(kube, requests_reuse_the_connection)
{
	struct keepalive s = { 0 };
	struct berth_kube *k;
	pthread_t t;

	k = serve_loopback(&s.fd, serve_keepalive, &s, &t);
	berth_kube_set_timeout(k, 5);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(berth_kube_get(k, "/api/v1/pods", NULL), 200,
			     "request %d", i);
	s.stop = 1;
	pthread_join(t, NULL);
	close(s.fd);
	berth_kube_free(k);
	cr_assert_eq(s.served, 5);
	cr_assert_eq(s.accepted, 1, "%d connections for 5 requests",
		     s.accepted);
}
