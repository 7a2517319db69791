// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Probes and hooks: parsing, one attempt, and thresholds over time. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>

#include "probe.h"

uint64_t berth_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int get_uint(json_object *o, const char *key, unsigned int def,
		    unsigned int min, unsigned int *out, char *err,
		    size_t errlen)
{
	json_object *v;
	int64_t n;

	*out = def;
	if (!json_object_object_get_ex(o, key, &v) || !v)
		return 0;
	if (!json_object_is_type(v, json_type_int)) {
		snprintf(err, errlen, "%s: not an integer", key);
		return -EINVAL;
	}
	n = json_object_get_int64(v);
	if (n < min || n > 86400 * 365) {
		snprintf(err, errlen, "%s: %lld out of range", key, (long long)n);
		return -EINVAL;
	}
	*out = n ? n : def;
	return 0;
}

/* port: a number, or a name from the container's ports */
static int resolve_port(json_object *port, json_object *container, int *out,
			char *err, size_t errlen)
{
	json_object *ports, *v;
	const char *name;

	if (json_object_is_type(port, json_type_int)) {
		*out = json_object_get_int(port);
		goto check;
	}
	if (!json_object_is_type(port, json_type_string)) {
		snprintf(err, errlen, "port is required");
		return -EINVAL;
	}
	name = json_object_get_string(port);
	if (name[0] >= '0' && name[0] <= '9') {
		*out = atoi(name);
		goto check;
	}
	if (json_object_object_get_ex(container, "ports", &ports)) {
		size_t n = json_object_array_length(ports);

		for (size_t i = 0; i < n; i++) {
			json_object *p = json_object_array_get_idx(ports, i);

			if (json_object_object_get_ex(p, "name", &v) &&
			    !strcmp(json_object_get_string(v), name) &&
			    json_object_object_get_ex(p, "containerPort", &v)) {
				*out = json_object_get_int(v);
				goto check;
			}
		}
	}
	snprintf(err, errlen, "port \"%s\": no such named port", name);
	return -EINVAL;
check:
	if (*out < 1 || *out > 65535) {
		snprintf(err, errlen, "port %d out of range", *out);
		return -EINVAL;
	}
	return 0;
}

static const char *str_of(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static int parse_handler(json_object *probe, json_object *container,
			 struct berth_probe *out, char *err, size_t errlen)
{
	json_object *h, *v;

	if (json_object_object_get_ex(probe, "exec", &h) && h) {
		size_t n;

		out->kind = BERTH_PROBE_EXEC;
		if (!json_object_object_get_ex(h, "command", &v) ||
		    !json_object_is_type(v, json_type_array) ||
		    !(n = json_object_array_length(v))) {
			snprintf(err, errlen, "exec.command is required");
			return -EINVAL;
		}
		if (n > BERTH_PROBE_MAX_ARGS) {
			snprintf(err, errlen, "exec.command: more than %d arguments",
				 BERTH_PROBE_MAX_ARGS);
			return -EINVAL;
		}
		for (size_t i = 0; i < n; i++)
			out->argv[i] = strdup(
				json_object_get_string(json_object_array_get_idx(v, i)) ?: "");
		return 0;
	}
	if (json_object_object_get_ex(probe, "httpGet", &h) && h) {
		const char *s;

		out->kind = BERTH_PROBE_HTTP;
		if (!json_object_object_get_ex(h, "port", &v)) {
			snprintf(err, errlen, "httpGet.port is required");
			return -EINVAL;
		}
		if (resolve_port(v, container, &out->port, err, errlen))
			return -EINVAL;
		s = str_of(h, "path");
		snprintf(out->path, sizeof(out->path), "%s%s",
			 s && s[0] == '/' ? "" : "/", s ? s : "");
		s = str_of(h, "host");
		snprintf(out->host, sizeof(out->host), "%s", s ? s : "");
		s = str_of(h, "scheme");
		if (s && strcmp(s, "HTTP") && strcmp(s, "HTTPS")) {
			snprintf(err, errlen, "httpGet.scheme: %s is not HTTP or HTTPS", s);
			return -EINVAL;
		}
		out->https = s && !strcmp(s, "HTTPS");
		if (json_object_object_get_ex(h, "httpHeaders", &v) &&
		    json_object_is_type(v, json_type_array)) {
			size_t n = json_object_array_length(v), k = 0;

			for (size_t i = 0; i < n && k < BERTH_PROBE_MAX_HEADERS; i++) {
				json_object *hh = json_object_array_get_idx(v, i);
				const char *name = str_of(hh, "name");
				const char *val = str_of(hh, "value");

				if (name && asprintf(&out->headers[k], "%s: %s",
						     name, val ? val : "") > 0)
					k++;
			}
		}
		return 0;
	}
	if (json_object_object_get_ex(probe, "tcpSocket", &h) && h) {
		const char *s;

		out->kind = BERTH_PROBE_TCP;
		if (!json_object_object_get_ex(h, "port", &v)) {
			snprintf(err, errlen, "tcpSocket.port is required");
			return -EINVAL;
		}
		if (resolve_port(v, container, &out->port, err, errlen))
			return -EINVAL;
		s = str_of(h, "host");
		snprintf(out->host, sizeof(out->host), "%s", s ? s : "");
		return 0;
	}
	if (json_object_object_get_ex(probe, "grpc", &h) && h) {
		snprintf(err, errlen, "grpc probes are not supported");
		return -ENOTSUP;
	}
	snprintf(err, errlen, "one of exec, httpGet or tcpSocket is required");
	return -EINVAL;
}

int berth_probe_parse(json_object *probe, json_object *container,
		      struct berth_probe *out, char *err, size_t errlen)
{
	int ret;

	memset(out, 0, sizeof(*out));
	out->termination_grace_s = -1;
	if (!probe) {
		out->kind = BERTH_PROBE_NONE;
		return 0;
	}
	ret = parse_handler(probe, container, out, err, errlen);
	if (!ret)
		ret = get_uint(probe, "initialDelaySeconds", 0, 0,
			       &out->initial_delay_s, err, errlen);
	if (!ret)
		ret = get_uint(probe, "periodSeconds", 10, 1, &out->period_s,
			       err, errlen);
	if (!ret)
		ret = get_uint(probe, "timeoutSeconds", 1, 1, &out->timeout_s,
			       err, errlen);
	if (!ret)
		ret = get_uint(probe, "successThreshold", 1, 1,
			       &out->success_threshold, err, errlen);
	if (!ret)
		ret = get_uint(probe, "failureThreshold", 3, 1,
			       &out->failure_threshold, err, errlen);
	if (!ret) {
		json_object *v;

		if (json_object_object_get_ex(probe,
					      "terminationGracePeriodSeconds",
					      &v) && v)
			out->termination_grace_s = json_object_get_int64(v);
	}
	if (ret)
		berth_probe_free(out);
	return ret;
}

void berth_probe_free(struct berth_probe *p)
{
	for (int i = 0; p->argv[i]; i++) {
		free(p->argv[i]);
		p->argv[i] = NULL;
	}
	for (int i = 0; p->headers[i]; i++) {
		free(p->headers[i]);
		p->headers[i] = NULL;
	}
	p->kind = BERTH_PROBE_NONE;
}

static size_t discard(char *p, size_t sz, size_t nm, void *arg)
{
	(void)p, (void)arg;
	return sz * nm;
}

static int run_http(const struct berth_probe *p, const char *host, char *msg,
		    size_t msglen)
{
	struct curl_slist *hdrs = NULL;
	char url[1600];
	long code = 0;
	CURLcode rc;
	CURL *c = curl_easy_init();
	bool v6 = strchr(host, ':') != NULL;

	if (!c) {
		snprintf(msg, msglen, "out of memory");
		return 0;
	}
	snprintf(url, sizeof(url), "%s://%s%s%s:%d%s",
		 p->https ? "https" : "http", v6 ? "[" : "", host, v6 ? "]" : "",
		 p->port, p->path);
	hdrs = curl_slist_append(hdrs, "User-Agent: kube-probe/1.30");
	hdrs = curl_slist_append(hdrs, "Accept: */*");
	for (int i = 0; p->headers[i]; i++)
		hdrs = curl_slist_append(hdrs, p->headers[i]);
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hdrs);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, (long)p->timeout_s * 1000);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_NOPROXY, "*");
	rc = curl_easy_perform(c);
	if (rc == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	curl_slist_free_all(hdrs);
	if (rc != CURLE_OK) {
		snprintf(msg, msglen, "Get \"%s\": %s", url,
			 curl_easy_strerror(rc));
		return 0;
	}
	if (code >= 200 && code < 400)
		return 1;
	snprintf(msg, msglen, "HTTP probe failed with statuscode: %ld", code);
	return 0;
}

static int run_tcp(const struct berth_probe *p, const char *host, char *msg,
		   size_t msglen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	char port[16];
	int fd = -1, ok = 0, soerr = 0, r;
	socklen_t sl = sizeof(soerr);
	struct pollfd pfd;

	snprintf(port, sizeof(port), "%d", p->port);
	r = getaddrinfo(host, port, &hints, &ai);
	if (r) {
		snprintf(msg, msglen, "dial tcp %s:%d: %s", host, p->port,
			 gai_strerror(r));
		return 0;
	}
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		snprintf(msg, msglen, "socket: %s", strerror(errno));
		goto out;
	}
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) && errno != EINPROGRESS) {
		soerr = errno;
		goto done;
	}
	pfd = (struct pollfd){ .fd = fd, .events = POLLOUT };
	r = poll(&pfd, 1, p->timeout_s * 1000);
	if (r == 0) {
		soerr = ETIMEDOUT;
		goto done;
	}
	getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
done:
	if (soerr)
		snprintf(msg, msglen, "dial tcp %s:%d: %s", host, p->port,
			 strerror(soerr));
	else
		ok = 1;
out:
	if (fd >= 0)
		close(fd);
	freeaddrinfo(ai);
	return ok;
}

static int run_exec(const struct berth_probe *p, berth_probe_exec_fn exec,
		    void *arg, char *msg, size_t msglen)
{
	char out[512] = "";
	int code = -1, ret;

	if (!exec) {
		snprintf(msg, msglen, "exec probes need a running container");
		return 0;
	}
	ret = exec(arg, (const char *const *)p->argv, p->timeout_s * 1000,
		   &code, out, sizeof(out));
	if (ret == -ETIMEDOUT) {
		snprintf(msg, msglen, "command timed out after %us",
			 p->timeout_s);
		return 0;
	}
	if (ret) {
		snprintf(msg, msglen, "exec %s: %s", p->argv[0],
			 strerror(-ret));
		return 0;
	}
	if (code == 0)
		return 1;
	out[strcspn(out, "\n")] = 0;
	snprintf(msg, msglen, "command %s exited with %d%s%s", p->argv[0],
		 code, out[0] ? ": " : "", out);
	return 0;
}

int berth_probe_run(const struct berth_probe *p, const char *pod_ip,
		    berth_probe_exec_fn exec, void *exec_arg, char *msg,
		    size_t msglen)
{
	const char *host = p->host[0] ? p->host : pod_ip;

	msg[0] = 0;
	switch (p->kind) {
	case BERTH_PROBE_NONE:
		return 1;
	case BERTH_PROBE_EXEC:
		return run_exec(p, exec, exec_arg, msg, msglen);
	case BERTH_PROBE_HTTP:
	case BERTH_PROBE_TCP:
		if (!host || !*host) {
			snprintf(msg, msglen, "the pod has no IP yet");
			return 0;
		}
		return p->kind == BERTH_PROBE_HTTP ?
			       run_http(p, host, msg, msglen) :
			       run_tcp(p, host, msg, msglen);
	}
	return 0;
}

void berth_prober_init(struct berth_prober *pr, const struct berth_probe *p,
		       uint64_t started_ms, bool initial)
{
	memset(pr, 0, sizeof(*pr));
	pr->p = p;
	pr->result = initial;
	pr->next_ms = started_ms + (uint64_t)p->initial_delay_s * 1000;
}

bool berth_prober_due(const struct berth_prober *pr, uint64_t now_ms)
{
	return pr->p->kind != BERTH_PROBE_NONE && now_ms >= pr->next_ms;
}

bool berth_prober_record(struct berth_prober *pr, bool ok, uint64_t now_ms)
{
	bool before = pr->result, known = pr->known;

	pr->next_ms = now_ms + (uint64_t)pr->p->period_s * 1000;
	if (ok) {
		pr->failures = 0;
		if (++pr->successes >= pr->p->success_threshold) {
			pr->result = true;
			pr->known = true;
		}
	} else {
		pr->successes = 0;
		if (++pr->failures >= pr->p->failure_threshold) {
			pr->result = false;
			pr->known = true;
		}
	}
	return pr->result != before || (pr->known && !known);
}
