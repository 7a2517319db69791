/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * berth-server's HTTP front: libmicrohttpd with a thread per connection, so
 * a handler (and a watch stream) may block. Bodies are collected whole, up
 * to BERTH_HTTP_MAX_BODY; larger ones are answered 413 by the handler.
 */
#ifndef BERTH_APISERVER_HTTP_H
#define BERTH_APISERVER_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define BERTH_HTTP_MAX_BODY (3 * 1024 * 1024) /* as kube-apiserver */

struct MHD_Connection;

struct berth_http_req {
	const char *method;
	const char *path;
	struct MHD_Connection *conn;
	const char *body; /* NUL-terminated, body_len bytes */
	size_t body_len;
	bool too_large; /* body over BERTH_HTTP_MAX_BODY, dropped */
	/*
	 * A request made inside the server (conn NULL): query arguments and
	 * headers as name, value, ..., NULL lists.
	 */
	const char *const *args;
	const char *const *headers;
};

/*
 * A streamed body: fill buf (at most max bytes) and return the count; may
 * block; return -1 at the end of the stream, below -1 to abort after an
 * error (the connection closes without the final chunk).
 */
typedef ssize_t (*berth_stream_fn)(void *ctx, char *buf, size_t max);

struct berth_http_resp {
	int code;
	const char *content_type; /* static string */
	char *body; /* malloc'd, owned by the response */
	size_t len;
	char *warning; /* malloc'd Warning header value, or NULL */
	berth_stream_fn stream; /* set: body is streamed (chunked) */
	void *stream_ctx;
	void (*stream_free)(void *ctx);
};

typedef void (*berth_http_handler)(void *ctx, const struct berth_http_req *req,
				   struct berth_http_resp *resp);

const char *berth_http_query(const struct berth_http_req *req, const char *key);
/* Is key in the query, with or without a value ("?verbose")? */
bool berth_http_has_query(const struct berth_http_req *req, const char *key);
const char *berth_http_header(const struct berth_http_req *req,
			      const char *key);
/* The connection's socket, to notice a client that went away; -1 if unknown. */
int berth_http_fd(const struct berth_http_req *req);

struct berth_http;

/* addr "IP:PORT" (IPv4); port 0 picks one, see berth_http_port. */
int berth_http_start(struct berth_http **out, const char *addr,
		     berth_http_handler handler, void *ctx);
uint16_t berth_http_port(const struct berth_http *h);
/* Stop accepting connections; those open go on. */
void berth_http_quiesce(struct berth_http *h);
/* Close every connection, wait for their threads, free. */
void berth_http_stop(struct berth_http *h);

#endif
