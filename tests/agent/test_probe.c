// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Probes: parsing, httpGet/tcpSocket against a local server, exec through a
 * callback, and the thresholds over time. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <criterion/criterion.h>

#include "../../userspace/agent/probe.h"

static json_object *J(const char *s)
{
	json_object *o = json_tokener_parse(s);

	cr_assert_not_null(o, "bad JSON in test: %s", s);
	return o;
}

Test(probe, parse_defaults_and_named_port)
{
	json_object *c = J("{\"name\":\"c\",\"ports\":[{\"name\":\"web\",\"containerPort\":8080}]}");
	json_object *pr = J("{\"httpGet\":{\"path\":\"healthz\",\"port\":\"web\","
			    "\"httpHeaders\":[{\"name\":\"X-A\",\"value\":\"b\"}]},"
			    "\"periodSeconds\":2}");
	struct berth_probe p;
	char err[256] = "";

	cr_assert_eq(berth_probe_parse(pr, c, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(p.kind, BERTH_PROBE_HTTP);
	cr_assert_eq(p.port, 8080);
	cr_assert_str_eq(p.path, "/healthz");
	cr_assert_str_eq(p.headers[0], "X-A: b");
	cr_assert_eq(p.period_s, 2);
	cr_assert_eq(p.timeout_s, 1);
	cr_assert_eq(p.failure_threshold, 3);
	cr_assert_eq(p.success_threshold, 1);
	berth_probe_free(&p);
	json_object_put(pr);

	pr = J("{\"tcpSocket\":{\"port\":\"nope\"}}");
	cr_assert_eq(berth_probe_parse(pr, c, &p, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "no such named port"), "%s", err);
	json_object_put(pr);
	pr = J("{\"exec\":{\"command\":[]}}");
	cr_assert_eq(berth_probe_parse(pr, c, &p, err, sizeof(err)), -EINVAL);
	json_object_put(pr);
	pr = J("{\"exec\":{\"command\":[\"true\"]},\"periodSeconds\":\"x\"}");
	cr_assert_eq(berth_probe_parse(pr, c, &p, err, sizeof(err)), -EINVAL);
	cr_assert(strstr(err, "periodSeconds"), "%s", err);
	json_object_put(pr);
	cr_assert_eq(berth_probe_parse(NULL, c, &p, err, sizeof(err)), 0);
	cr_assert_eq(p.kind, BERTH_PROBE_NONE);
	json_object_put(c);
}

/* answers each connection with the next canned status line */
struct srv {
	int fd;
	int n;
	const char *const *answers;
	char last_req[2048];
};

static void *serve(void *arg)
{
	struct srv *s = arg;

	for (int i = 0; i < s->n; i++) {
		int c = accept(s->fd, NULL, NULL);
		ssize_t r = read(c, s->last_req, sizeof(s->last_req) - 1);

		s->last_req[r > 0 ? r : 0] = 0;
		if (write(c, s->answers[i], strlen(s->answers[i])) < 0)
			perror("write");
		close(c);
	}
	return NULL;
}

static int listen_local(int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	cr_assert_eq(bind(fd, (struct sockaddr *)&a, len), 0);
	cr_assert_eq(listen(fd, 8), 0);
	getsockname(fd, (struct sockaddr *)&a, &len);
	*port = ntohs(a.sin_port);
	return fd;
}

Test(probe, http_and_tcp)
{
	static const char *const answers[] = {
		"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
		"HTTP/1.1 500 Oops\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
		"HTTP/1.1 302 Found\r\nLocation: /x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	};
	struct srv s = { .n = 3, .answers = answers };
	struct berth_probe p = { .kind = BERTH_PROBE_HTTP, .timeout_s = 2,
				 .period_s = 10, .path = "/healthz" };
	char msg[256];
	pthread_t t;

	s.fd = listen_local(&p.port);
	p.headers[0] = "X-Probe: yes";
	pthread_create(&t, NULL, serve, &s);
	cr_assert_eq(berth_probe_run(&p, "127.0.0.1", NULL, NULL, msg, sizeof(msg)), 1,
		     "200 succeeds: %s", msg);
	cr_assert(strstr(s.last_req, "GET /healthz HTTP/1.1"), "%s", s.last_req);
	cr_assert(strstr(s.last_req, "User-Agent: kube-probe/"), "%s", s.last_req);
	cr_assert(strstr(s.last_req, "X-Probe: yes"), "%s", s.last_req);
	cr_assert_eq(berth_probe_run(&p, "127.0.0.1", NULL, NULL, msg, sizeof(msg)), 0);
	cr_assert_str_eq(msg, "HTTP probe failed with statuscode: 500");
	cr_assert_eq(berth_probe_run(&p, "127.0.0.1", NULL, NULL, msg, sizeof(msg)), 1,
		     "3xx succeeds");
	pthread_join(t, NULL);

	p.kind = BERTH_PROBE_TCP;
	cr_assert_eq(berth_probe_run(&p, "127.0.0.1", NULL, NULL, msg, sizeof(msg)), 1,
		     "tcp to a listener: %s", msg);
	close(s.fd);
	cr_assert_eq(berth_probe_run(&p, "127.0.0.1", NULL, NULL, msg, sizeof(msg)), 0);
	cr_assert(strstr(msg, "refused"), "%s", msg);
	p.kind = BERTH_PROBE_HTTP;
	p.headers[0] = NULL;
	cr_assert_eq(berth_probe_run(&p, "127.0.0.1", NULL, NULL, msg, sizeof(msg)), 0);
	cr_assert_eq(berth_probe_run(&p, "", NULL, NULL, msg, sizeof(msg)), 0);
	cr_assert_str_eq(msg, "the pod has no IP yet");
}

static int fake_exec(void *arg, const char *const *argv, unsigned int timeout_ms,
		     int *exit_code, char *out, size_t outlen)
{
	int *calls = arg;

	(*calls)++;
	cr_assert_eq(timeout_ms, 3000);
	if (!strcmp(argv[0], "slow"))
		return -ETIMEDOUT;
	*exit_code = !strcmp(argv[0], "true") ? 0 : 2;
	snprintf(out, outlen, "said %s\n", argv[1] ? argv[1] : "");
	return 0;
}

Test(probe, exec_callback)
{
	json_object *pr = J("{\"exec\":{\"command\":[\"false\",\"x\"]},\"timeoutSeconds\":3}");
	struct berth_probe p;
	char err[128], msg[256];
	int calls = 0;

	cr_assert_eq(berth_probe_parse(pr, NULL, &p, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(berth_probe_run(&p, "", fake_exec, &calls, msg, sizeof(msg)), 0);
	cr_assert_str_eq(msg, "command false exited with 2: said x");
	free(p.argv[0]);
	p.argv[0] = strdup("true");
	cr_assert_eq(berth_probe_run(&p, "", fake_exec, &calls, msg, sizeof(msg)), 1);
	free(p.argv[0]);
	p.argv[0] = strdup("slow");
	cr_assert_eq(berth_probe_run(&p, "", fake_exec, &calls, msg, sizeof(msg)), 0);
	cr_assert(strstr(msg, "timed out"), "%s", msg);
	cr_assert_eq(calls, 3);
	cr_assert_eq(berth_probe_run(&p, "", NULL, NULL, msg, sizeof(msg)), 0);
	berth_probe_free(&p);
	json_object_put(pr);
}

Test(probe, thresholds)
{
	struct berth_probe p = { .kind = BERTH_PROBE_TCP, .initial_delay_s = 5,
				 .period_s = 2, .success_threshold = 2,
				 .failure_threshold = 3 };
	struct berth_prober pr;

	berth_prober_init(&pr, &p, 1000, false);
	cr_assert(!berth_prober_due(&pr, 5999), "initial delay");
	cr_assert(berth_prober_due(&pr, 6000));
	cr_assert(!berth_prober_record(&pr, true, 6000), "one success of two");
	cr_assert(!berth_prober_due(&pr, 7999), "period");
	cr_assert(berth_prober_record(&pr, true, 8000), "two: ready");
	cr_assert(pr.result);
	cr_assert(!berth_prober_record(&pr, false, 10000));
	cr_assert(!berth_prober_record(&pr, false, 12000));
	cr_assert(!berth_prober_record(&pr, true, 14000), "a success resets failures");
	cr_assert(!berth_prober_record(&pr, false, 16000));
	cr_assert(!berth_prober_record(&pr, false, 18000));
	cr_assert(berth_prober_record(&pr, false, 20000), "three in a row fail");
	cr_assert(!pr.result);
}
