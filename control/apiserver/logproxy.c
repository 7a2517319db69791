// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * pods/log through the node's kubelet: a thread runs the libcurl transfer
 * and writes the body into a socketpair the response streams from, so
 * `kubectl logs -f` sees lines as they come.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <curl/curl.h>
#include <json-c/json.h>

#include "api.h"
#include "jsonutil.h"
#include "logproxy.h"

#define CONNECT_TIMEOUT_S 5
#define HEADERS_TIMEOUT_S 30
#define MAX_ERR_BODY 4096

struct proxy {
	CURL *c;
	int fds[2]; /* [0] the response reads, [1] the transfer writes */
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	long status; /* known once the first body bytes (or the end) came */
	bool finished;
	volatile bool abort;
	CURLcode rc;
	char err[MAX_ERR_BODY];
	size_t errlen;
	int refs; /* the thread and the response */
	int client_fd; /* the client's connection, -1 if unknown */
};

static void proxy_put(struct proxy *p)
{
	bool last;

	pthread_mutex_lock(&p->lock);
	last = --p->refs == 0;
	pthread_mutex_unlock(&p->lock);
	if (!last)
		return;
	if (p->fds[0] >= 0)
		close(p->fds[0]);
	curl_easy_cleanup(p->c);
	pthread_mutex_destroy(&p->lock);
	pthread_cond_destroy(&p->cond);
	free(p);
}

static size_t on_data(char *buf, size_t sz, size_t nm, void *arg)
{
	struct proxy *p = arg;
	size_t n = sz * nm, off = 0;

	pthread_mutex_lock(&p->lock);
	if (!p->status) {
		curl_easy_getinfo(p->c, CURLINFO_RESPONSE_CODE, &p->status);
		pthread_cond_broadcast(&p->cond);
	}
	pthread_mutex_unlock(&p->lock);
	if (p->status != 200) {
		size_t room = sizeof(p->err) - 1 - p->errlen;

		memcpy(p->err + p->errlen, buf, n < room ? n : room);
		p->errlen += n < room ? n : room;
		p->err[p->errlen] = 0;
		return n;
	}
	while (off < n && !p->abort) {
		ssize_t w = send(p->fds[1], buf + off, n - off, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return 0; /* the client went away */
		off += w;
	}
	return p->abort ? 0 : n;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c,
		       curl_off_t d)
{
	struct proxy *p = arg;

	(void)a, (void)b, (void)c, (void)d;
	return p->abort;
}

static void *transfer(void *arg)
{
	struct proxy *p = arg;
	CURLcode rc = curl_easy_perform(p->c);

	pthread_mutex_lock(&p->lock);
	p->rc = rc;
	if (!p->status)
		curl_easy_getinfo(p->c, CURLINFO_RESPONSE_CODE, &p->status);
	p->finished = true;
	pthread_cond_broadcast(&p->cond);
	pthread_mutex_unlock(&p->lock);
	close(p->fds[1]);
	proxy_put(p);
	return NULL;
}

/*
 * The next bytes from the kubelet. Waits on the client's connection too: a
 * client that hangs up on `logs -f` of a quiet container ends the stream
 * now, not when the container next writes (a GET has nothing more to send,
 * so readable there means closed).
 */
static ssize_t stream_read(void *ctx, char *buf, size_t max)
{
	struct proxy *p = ctx;
	struct pollfd pf[2] = {
		{ .fd = p->fds[0], .events = POLLIN },
		{ .fd = p->client_fd, .events = POLLRDHUP },
	};
	ssize_t r;

	for (;;) {
		if (poll(pf, p->client_fd >= 0 ? 2 : 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -2;
		}
		if (pf[0].revents)
			break;
		if (pf[1].revents & (POLLRDHUP | POLLHUP | POLLERR))
			return -2;
	}
	do
		r = read(p->fds[0], buf, max);
	while (r < 0 && errno == EINTR);
	return r > 0 ? r : (r == 0 ? -1 : -2);
}

static void stream_free(void *ctx)
{
	struct proxy *p = ctx;

	p->abort = true;
	shutdown(p->fds[0], SHUT_RDWR);
	proxy_put(p);
}

/* "?k=v&..." of the arguments the kubelet understands */
static void add_arg(const struct berth_http_req *req, const char *key,
		    char *q, size_t len)
{
	const char *v = berth_http_query(req, key);
	size_t o = strlen(q);
	char *esc;

	if (!v)
		return;
	esc = curl_easy_escape(NULL, v, 0);
	if (esc)
		snprintf(q + o, len - o, "%c%s=%s", o ? '&' : '?', key, esc);
	curl_free(esc);
}

static const char *node_ip(struct json_object *node)
{
	struct json_object *addrs = berth_json_path(node, "status.addresses");
	size_t n = json_object_is_type(addrs, json_type_array) ?
			   json_object_array_length(addrs) :
			   0;

	for (size_t i = 0; i < n; i++) {
		struct json_object *a = json_object_array_get_idx(addrs, i);
		const char *t = berth_json_path_str(a, "type");

		if (t && !strcmp(t, "InternalIP"))
			return berth_json_path_str(a, "address");
	}
	return NULL;
}

/* the container asked for, or the pod's only one */
static const char *container_of(const struct berth_http_req *req,
				struct berth_http_resp *resp,
				struct json_object *pod)
{
	const char *c = berth_http_query(req, "container");
	struct json_object *cs = berth_json_path(pod, "spec.containers");
	size_t n = json_object_is_type(cs, json_type_array) ?
			   json_object_array_length(cs) :
			   0;
	char names[1024] = "";

	if (c && *c)
		return c;
	if (n == 1)
		return berth_json_path_str(json_object_array_get_idx(cs, 0),
					   "name");
	for (size_t i = 0; i < n; i++) {
		size_t o = strlen(names);

		snprintf(names + o, sizeof(names) - o, "%s%s", i ? " " : "",
			 berth_json_path_str(json_object_array_get_idx(cs, i),
					     "name") ?: "");
	}
	berth_resp_error(resp, 400, "BadRequest",
			 "a container name must be specified for pod %s, choose one of: [%s]",
			 berth_json_path_str(pod, "metadata.name") ?: "", names);
	return NULL;
}

void berth_logproxy(const struct berth_http_req *req,
		    struct berth_http_resp *resp, struct json_object *pod,
		    struct json_object *node)
{
	struct json_object *port = berth_json_path(
		node, "status.daemonEndpoints.kubeletEndpoint.Port");
	const char *ip = node_ip(node), *ctr, *ns, *name;
	char url[2048], q[1024] = "";
	struct timespec until;
	struct proxy *p;
	bool follow;

	ctr = container_of(req, resp, pod);
	if (!ctr)
		return;
	ns = berth_json_path_str(pod, "metadata.namespace") ?: "default";
	name = berth_json_path_str(pod, "metadata.name") ?: "";
	if (!ip || !json_object_get_int(port)) {
		berth_resp_error(resp, 503, "ServiceUnavailable",
				 "node %s has no InternalIP or kubelet port for logs",
				 berth_json_path_str(node, "metadata.name") ?: "");
		return;
	}
	add_arg(req, "follow", q, sizeof(q));
	add_arg(req, "previous", q, sizeof(q));
	add_arg(req, "tailLines", q, sizeof(q));
	add_arg(req, "timestamps", q, sizeof(q));
	add_arg(req, "sinceSeconds", q, sizeof(q));
	add_arg(req, "limitBytes", q, sizeof(q));
	snprintf(url, sizeof(url), "http://%s:%d/containerLogs/%s/%s/%s%s", ip,
		 json_object_get_int(port), ns, name, ctr, q);
	follow = berth_http_query(req, "follow") &&
		 !strcmp(berth_http_query(req, "follow"), "true");

	p = calloc(1, sizeof(*p));
	if (!p || socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p->fds)) {
		free(p);
		berth_resp_error(resp, 500, "InternalError", "log proxy: %s",
				 strerror(errno));
		return;
	}
	p->c = curl_easy_init();
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->cond, NULL);
	p->refs = 2;
	p->client_fd = berth_http_fd(req);
	curl_easy_setopt(p->c, CURLOPT_URL, url);
	curl_easy_setopt(p->c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(p->c, CURLOPT_NOPROXY, "*");
	curl_easy_setopt(p->c, CURLOPT_CONNECTTIMEOUT, (long)CONNECT_TIMEOUT_S);
	if (!follow)
		curl_easy_setopt(p->c, CURLOPT_TIMEOUT, 300L);
	curl_easy_setopt(p->c, CURLOPT_WRITEFUNCTION, on_data);
	curl_easy_setopt(p->c, CURLOPT_WRITEDATA, p);
	curl_easy_setopt(p->c, CURLOPT_NOPROGRESS, 0L);
	curl_easy_setopt(p->c, CURLOPT_XFERINFOFUNCTION, on_progress);
	curl_easy_setopt(p->c, CURLOPT_XFERINFODATA, p);
	if (pthread_create(&p->thread, NULL, transfer, p)) {
		close(p->fds[1]);
		p->refs = 1;
		proxy_put(p);
		berth_resp_error(resp, 500, "InternalError", "log proxy: thread");
		return;
	}
	pthread_detach(p->thread);

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += HEADERS_TIMEOUT_S;
	pthread_mutex_lock(&p->lock);
	while (!p->status && !p->finished)
		if (pthread_cond_timedwait(&p->cond, &p->lock, &until))
			break;
	/* an error answer is small: wait for all of it */
	while (p->status && p->status != 200 && !p->finished)
		if (pthread_cond_timedwait(&p->cond, &p->lock, &until))
			break;
	pthread_mutex_unlock(&p->lock);

	if (p->status == 200) {
		resp->code = 200;
		resp->content_type = "text/plain";
		resp->stream = stream_read;
		resp->stream_ctx = p;
		resp->stream_free = stream_free;
		return;
	}
	if (!p->status)
		berth_resp_error(resp, 503, "ServiceUnavailable",
				 "get logs of pod %s from the kubelet at %s: %s",
				 name, url,
				 p->finished ? curl_easy_strerror(p->rc) :
					       "no answer");
	else
		berth_resp_error(resp, p->status == 404 ? 404 : (int)p->status,
				 p->status == 404 ? "NotFound" : NULL, "%.*s",
				 (int)strcspn(p->err, "\n"), p->err);
	stream_free(p);
}
