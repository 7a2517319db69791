// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The kubelet's logs endpoint: the runtime's CRI log reader over HTTP. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <microhttpd.h>

#include <berth/log.h>

#include "logserve.h"
#include "metrics.h"
#include "podmgr.h"
#include "runtime.h"

#define LOG_THREAD_STACK (256 * 1024)

struct berth_logserve {
	struct MHD_Daemon *d;
	struct berth_podmgr *pm;
	struct berth_runtime *rt;
};

struct reader {
	struct berth_runtime *rt;
	char path[PATH_MAX];
	char id[BERTH_CONTAINER_ID_MAX];
	struct berth_log_read_opts o;
	int fd; /* write end of the pipe to the response */
};

static int to_pipe(void *arg, const char *buf, size_t n)
{
	struct reader *r = arg;

	while (n) {
		ssize_t w = write(r->fd, buf, n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -EPIPE; /* the client went away */
		buf += w;
		n -= w;
	}
	return 0;
}

static int alive(void *arg)
{
	struct reader *r = arg;
	struct berth_container_state st;

	if (berth_container_state(r->rt, r->id, &st))
		return 0;
	return st.status == BERTH_CONTAINER_RUNNING ||
	       st.status == BERTH_CONTAINER_CREATED;
}

static void *reader_main(void *arg)
{
	struct reader *r = arg;
	int ret;

	r->o.alive = alive;
	ret = berth_log_read(r->path, &r->o, to_pipe, r);
	if (ret && ret != -EPIPE)
		pr_debug("logs %s: %s", r->path, strerror(-ret));
	close(r->fd);
	free(r);
	return NULL;
}

static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static enum MHD_Result reply(struct MHD_Connection *conn, unsigned int code,
			     const char *fmt, ...)
{
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char buf[1024];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(buf))
		n = sizeof(buf) - 1;
	resp = MHD_create_response_from_buffer(n, buf, MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(resp, "Content-Type", "text/plain");
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

static bool truthy(const char *v)
{
	return v && (!strcmp(v, "true") || !strcmp(v, "1"));
}

static enum MHD_Result serve_logs(struct berth_logserve *ls,
				  struct MHD_Connection *conn, const char *rest)
{
	char ns[256], pod[256], ctr[256] = "";
	struct berth_log_target t;
	const char *v;
	struct reader *r;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	pthread_attr_t attr;
	pthread_t th;
	int fds[2], err;
	bool previous;

	if (sscanf(rest, "%255[^/]/%255[^/]/%255[^/]", ns, pod, ctr) < 2)
		return reply(conn, 400, "want /containerLogs/NS/POD/CONTAINER\n");
	previous = truthy(MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
						      "previous"));
	err = berth_podmgr_log_target(ls->pm, ns, pod, ctr, previous, &t);
	if (err == -ESRCH)
		return reply(conn, 400,
			     "previous terminated container \"%s\" in pod \"%s\" not found\n",
			     ctr, pod);
	if (err)
		return reply(conn, 404, "container \"%s\" in pod \"%s/%s\" not found\n",
			     ctr, ns, pod);
	r = calloc(1, sizeof(*r));
	if (!r)
		return reply(conn, 500, "out of memory\n");
	r->rt = ls->rt;
	snprintf(r->id, sizeof(r->id), "%s", t.container_id);
	r->o.tail = -1;
	if ((v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
					     "tailLines")))
		r->o.tail = atol(v);
	if ((v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
					     "limitBytes")))
		r->o.limit_bytes = atoll(v);
	if ((v = MHD_lookup_connection_value(conn, MHD_GET_ARGUMENT_KIND,
					     "sinceSeconds")))
		r->o.since_ns = ((int64_t)time(NULL) - atoll(v)) * 1000000000LL;
	r->o.follow = !previous &&
		      truthy(MHD_lookup_connection_value(
			      conn, MHD_GET_ARGUMENT_KIND, "follow"));
	r->o.timestamps = truthy(MHD_lookup_connection_value(
		conn, MHD_GET_ARGUMENT_KIND, "timestamps"));
	{
		/* the container's name from its id "<uid>_<name>_<attempt>" */
		const char *name = t.container_id + strlen(t.uid) + 1;
		const char *us = strrchr(name, '_');

		snprintf(ctr, sizeof(ctr), "%.*s", (int)(us ? us - name : (long)strlen(name)), name);
	}
	err = berth_log_path(ls->rt, ns, pod, t.uid, ctr, t.attempt, r->path,
			     sizeof(r->path));
	if (err || access(r->path, R_OK)) {
		free(r);
		return reply(conn, 404, "no log for container \"%s\" in pod \"%s/%s\" yet\n",
			     ctr, ns, pod);
	}
	if (pipe2(fds, O_CLOEXEC)) {
		free(r);
		return reply(conn, 500, "pipe: %s\n", strerror(errno));
	}
	r->fd = fds[1];
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, LOG_THREAD_STACK);
	pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
	if (pthread_create(&th, &attr, reader_main, r)) {
		pthread_attr_destroy(&attr);
		close(fds[0]);
		close(fds[1]);
		free(r);
		return reply(conn, 500, "thread: %s\n", strerror(errno));
	}
	pthread_attr_destroy(&attr);
	resp = MHD_create_response_from_pipe(fds[0]);
	MHD_add_response_header(resp, "Content-Type", "text/plain");
	ret = MHD_queue_response(conn, 200, resp);
	MHD_destroy_response(resp);
	return ret;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload_data,
			      size_t *upload_size, void **con_cls)
{
	struct berth_logserve *ls = cls;
	const char *ctype, *v;
	struct MHD_Response *resp;
	enum MHD_Result ret;
	char *body;
	size_t len;
	int code;

	(void)version, (void)upload_data, (void)upload_size;
	if (!*con_cls) { /* headers only so far */
		*con_cls = ls;
		return MHD_YES;
	}
	if (strcmp(method, "GET"))
		return reply(conn, 405, "method not allowed\n");
	/* /metrics, /healthz, /livez, /readyz[?verbose]: metrics.c */
	code = berth_agent_http(url,
				MHD_lookup_connection_value_n(
					conn, MHD_GET_ARGUMENT_KIND, "verbose",
					7, &v, &len) == MHD_YES,
				&body, &len, &ctype);
	if (code) {
		resp = MHD_create_response_from_buffer(len, body,
						       MHD_RESPMEM_MUST_FREE);
		if (!resp) {
			free(body);
			return MHD_NO;
		}
		MHD_add_response_header(resp, "Content-Type", ctype);
		ret = MHD_queue_response(conn, code, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	if (!strncmp(url, "/containerLogs/", 15))
		return serve_logs(ls, conn, url + 15);
	return reply(conn, 404, "not found\n");
}

int berth_logserve_start(const char *addr, int port, struct berth_podmgr *pm,
			 struct berth_runtime *rt, struct berth_logserve **out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(port) };
	struct berth_logserve *ls;

	if (addr && *addr && inet_pton(AF_INET, addr, &sa.sin_addr) != 1)
		return -EINVAL;
	ls = calloc(1, sizeof(*ls));
	if (!ls)
		return -ENOMEM;
	ls->pm = pm;
	ls->rt = rt;
	/* a client that goes away must not kill the agent */
	signal(SIGPIPE, SIG_IGN);
	ls->d = MHD_start_daemon(MHD_USE_THREAD_PER_CONNECTION |
					 MHD_USE_INTERNAL_POLLING_THREAD,
				 port, NULL, NULL, handle, ls,
				 MHD_OPTION_SOCK_ADDR, &sa,
				 MHD_OPTION_THREAD_STACK_SIZE,
				 (size_t)LOG_THREAD_STACK,
				 MHD_OPTION_CONNECTION_TIMEOUT, 0u,
				 MHD_OPTION_END);
	if (!ls->d) {
		int e = errno ? errno : EADDRINUSE;

		free(ls);
		return -e;
	}
	*out = ls;
	return 0;
}

void berth_logserve_stop(struct berth_logserve *ls)
{
	if (!ls)
		return;
	MHD_stop_daemon(ls->d);
	free(ls);
}
