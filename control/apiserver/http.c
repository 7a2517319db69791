// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* libmicrohttpd glue: body collection, limits, buffered and streamed replies. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <microhttpd.h>

#include <berth/log.h>

#include "http.h"

struct berth_http {
	struct MHD_Daemon *daemon;
	berth_http_handler handler;
	void *ctx;
	uint16_t port;
	int listen_fd; /* after quiesce, ours to close */
};

struct req_ctx {
	char *body;
	size_t len, cap;
	bool too_large;
};

/* A request without a connection (berth_rest_check_create) has neither. */
/* name, value, ..., NULL list lookup; headers compare without case. */
static const char *local_lookup(const char *const *kv, const char *key,
				bool nocase)
{
	for (; kv && kv[0] && kv[1]; kv += 2)
		if (nocase ? !strcasecmp(kv[0], key) : !strcmp(kv[0], key))
			return kv[1];
	return NULL;
}

const char *berth_http_query(const struct berth_http_req *req, const char *key)
{
	if (!req->conn)
		return local_lookup(req->args, key, false);
	return MHD_lookup_connection_value(req->conn, MHD_GET_ARGUMENT_KIND,
					   key);
}

bool berth_http_has_query(const struct berth_http_req *req, const char *key)
{
	const char *v;
	size_t vlen;

	if (!req->conn)
		return local_lookup(req->args, key, false) != NULL;
	/* "?verbose" has no value: the plain lookup answers NULL for it */
	return MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND,
					     key, strlen(key), &v,
					     &vlen) == MHD_YES;
}

const char *berth_http_header(const struct berth_http_req *req, const char *key)
{
	if (!req->conn)
		return local_lookup(req->headers, key, true);
	return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, key);
}

int berth_http_fd(const struct berth_http_req *req)
{
	const union MHD_ConnectionInfo *ci;

	if (!req->conn)
		return -1;
	ci = MHD_get_connection_info(req->conn,
				     MHD_CONNECTION_INFO_CONNECTION_FD);
	return ci ? ci->connect_fd : -1;
}

static int append_body(struct req_ctx *rc, const char *data, size_t n)
{
	size_t cap;
	char *p;

	if (rc->too_large || rc->len + n > BERTH_HTTP_MAX_BODY) {
		rc->too_large = true;
		free(rc->body);
		rc->body = NULL;
		rc->len = rc->cap = 0;
		return 0;
	}
	if (rc->len + n + 1 > rc->cap) {
		cap = rc->cap ? rc->cap : 4096;
		while (cap < rc->len + n + 1)
			cap *= 2;
		p = realloc(rc->body, cap);
		if (!p)
			return -ENOMEM;
		rc->body = p;
		rc->cap = cap;
	}
	memcpy(rc->body + rc->len, data, n);
	rc->len += n;
	rc->body[rc->len] = 0;
	return 0;
}

static ssize_t stream_reader(void *cls, uint64_t pos, char *buf, size_t max)
{
	struct berth_http_resp *r = cls;
	ssize_t n;

	(void)pos;
	n = r->stream(r->stream_ctx, buf, max);
	/* below -1: an error after the head went out; close, no last chunk */
	if (n < -1)
		return MHD_CONTENT_READER_END_WITH_ERROR;
	if (n < 0)
		return MHD_CONTENT_READER_END_OF_STREAM;
	return n;
}

static void stream_done(void *cls)
{
	struct berth_http_resp *r = cls;

	if (r->stream_free)
		r->stream_free(r->stream_ctx);
	free(r);
}

static enum MHD_Result send_resp(struct MHD_Connection *conn,
				 struct berth_http_resp *r)
{
	struct MHD_Response *mr;
	struct berth_http_resp *heap;
	enum MHD_Result ret;
	char *warning = r->warning;
	const char *ctype = r->content_type ? r->content_type :
					      "application/json";
	int code = r->code ? r->code : 500;

	if (r->stream) {
		heap = malloc(sizeof(*heap));
		if (!heap) {
			if (r->stream_free)
				r->stream_free(r->stream_ctx);
			free(r->body);
			free(warning);
			return MHD_NO;
		}
		*heap = *r;
		free(heap->body);
		heap->body = NULL;
		mr = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN,
						       16 * 1024, stream_reader,
						       heap, stream_done);
		if (!mr)
			stream_done(heap);
	} else {
		mr = MHD_create_response_from_buffer(
			r->len, r->body ? r->body : (void *)"",
			r->body ? MHD_RESPMEM_MUST_FREE :
				  MHD_RESPMEM_PERSISTENT);
		if (!mr)
			free(r->body);
	}
	r->body = NULL;
	r->warning = NULL;
	if (!mr) {
		free(warning);
		return MHD_NO;
	}
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CONTENT_TYPE, ctype);
	MHD_add_response_header(mr, MHD_HTTP_HEADER_CACHE_CONTROL,
				"no-cache, private");
	if (warning)
		MHD_add_response_header(mr, "Warning", warning);
	free(warning);
	ret = MHD_queue_response(conn, code, mr);
	MHD_destroy_response(mr);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn,
				  const char *url, const char *method,
				  const char *version, const char *upload,
				  size_t *upload_size, void **con_cls)
{
	struct berth_http *h = cls;
	struct req_ctx *rc = *con_cls;
	struct berth_http_resp resp = { 0 };
	struct berth_http_req req = { 0 };
	const char *cl;

	(void)version;
	if (!rc) {
		rc = calloc(1, sizeof(*rc));
		if (!rc)
			return MHD_NO;
		*con_cls = rc;
		cl = MHD_lookup_connection_value(
			conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		/*
		 * Too large: the body is still read (and dropped), so the
		 * client that sends it all gets the 413, not a reset.
		 */
		if (cl && strtoull(cl, NULL, 10) > BERTH_HTTP_MAX_BODY)
			rc->too_large = true;
		return MHD_YES;
	} else if (*upload_size) {
		if (append_body(rc, upload, *upload_size))
			return MHD_NO;
		*upload_size = 0;
		return MHD_YES;
	}
	req.method = method;
	req.path = url;
	req.conn = conn;
	req.body = rc->body ? rc->body : "";
	req.body_len = rc->len;
	req.too_large = rc->too_large;
	h->handler(h->ctx, &req, &resp);
	return send_resp(conn, &resp);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
			 enum MHD_RequestTerminationCode toe)
{
	struct req_ctx *rc = *con_cls;

	(void)cls;
	(void)conn;
	(void)toe;
	if (rc) {
		free(rc->body);
		free(rc);
	}
	*con_cls = NULL;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char msg[512];

	(void)cls;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = 0;
	pr_debug("http: %s", msg);
}

static int parse_addr(const char *addr, struct sockaddr_in *sa)
{
	char host[64];
	const char *colon = strrchr(addr, ':');
	char *end;
	unsigned long port;

	if (!colon || (size_t)(colon - addr) >= sizeof(host))
		return -EINVAL;
	memcpy(host, addr, colon - addr);
	host[colon - addr] = 0;
	errno = 0;
	port = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || port > 65535)
		return -EINVAL;
	memset(sa, 0, sizeof(*sa));
	sa->sin_family = AF_INET;
	sa->sin_port = htons(port);
	if (inet_pton(AF_INET, host, &sa->sin_addr) != 1)
		return -EINVAL;
	return 0;
}

int berth_http_start(struct berth_http **out, const char *addr,
		     berth_http_handler handler, void *ctx)
{
	const union MHD_DaemonInfo *di;
	struct sockaddr_in sa, bound;
	socklen_t blen = sizeof(bound);
	struct berth_http *h;
	int err;

	err = parse_addr(addr, &sa);
	if (err)
		return err;
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->handler = handler;
	h->ctx = ctx;
	h->listen_fd = -1;
	h->daemon = MHD_start_daemon(
		MHD_USE_THREAD_PER_CONNECTION | MHD_USE_POLL_INTERNAL_THREAD |
			MHD_USE_ERROR_LOG | MHD_USE_ITC,
		0, NULL, NULL, on_request, h, MHD_OPTION_SOCK_ADDR, &sa,
		MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
		MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
		MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)300,
		MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(128 * 1024),
		MHD_OPTION_LISTENING_ADDRESS_REUSE, 1, MHD_OPTION_END);
	if (!h->daemon) {
		free(h);
		return -EADDRINUSE;
	}
	di = MHD_get_daemon_info(h->daemon, MHD_DAEMON_INFO_LISTEN_FD);
	if (di && !getsockname(di->listen_fd, (struct sockaddr *)&bound, &blen))
		h->port = ntohs(bound.sin_port);
	*out = h;
	return 0;
}

uint16_t berth_http_port(const struct berth_http *h)
{
	return h->port;
}

void berth_http_quiesce(struct berth_http *h)
{
	MHD_socket fd = MHD_quiesce_daemon(h->daemon);

	if (fd != MHD_INVALID_SOCKET)
		h->listen_fd = fd;
}

void berth_http_stop(struct berth_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->daemon);
	if (h->listen_fd >= 0)
		close(h->listen_fd);
	free(h);
}
