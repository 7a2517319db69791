// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* healthCheckNodePort servers for externalTrafficPolicy Local: healthcheck.h */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>
#include <microhttpd.h>

#include <berth/log.h>

#include "healthcheck.h"

#define HC_MAX_PORTS 4096 /* more Local Services than this is misuse */

struct hc_port {
	struct berth_hc *hc;
	struct MHD_Daemon *d;
	struct berth_hc_service svc; /* under hc->mu */
};

struct berth_hc {
	pthread_mutex_t mu;
	struct in_addr bind;
	struct hc_port **ports;
	size_t n;
};

int berth_hc_reply(const struct berth_hc_service *s, char **body)
{
	json_object *o = json_object_new_object(),
		    *svc = json_object_new_object();

	json_object_object_add(svc, "namespace", json_object_new_string(s->ns));
	json_object_object_add(svc, "name", json_object_new_string(s->name));
	json_object_object_add(o, "service", svc);
	json_object_object_add(o, "localEndpoints",
			       json_object_new_int64(s->local));
	*body = strdup(
		json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return s->local ? 200 : 503;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn,
			      const char *url, const char *method,
			      const char *version, const char *upload,
			      size_t *upload_len, void **state)
{
	struct hc_port *p = cls;
	struct MHD_Response *resp;
	struct berth_hc_service s;
	enum MHD_Result ret;
	char *body = NULL;
	int code;

	(void)url;
	(void)version;
	(void)upload;
	(void)upload_len;
	(void)state;
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		resp = MHD_create_response_from_buffer(0, "",
						       MHD_RESPMEM_PERSISTENT);
		ret = MHD_queue_response(conn, 405, resp);
		MHD_destroy_response(resp);
		return ret;
	}
	pthread_mutex_lock(&p->hc->mu);
	s = p->svc;
	pthread_mutex_unlock(&p->hc->mu);
	code = berth_hc_reply(&s, &body);
	if (!body)
		return MHD_NO;
	resp = MHD_create_response_from_buffer(strlen(body), body,
					       MHD_RESPMEM_MUST_FREE);
	MHD_add_response_header(resp, "Content-Type", "application/json");
	MHD_add_response_header(resp, "X-Content-Type-Options", "nosniff");
	ret = MHD_queue_response(conn, code, resp);
	MHD_destroy_response(resp);
	return ret;
}

int berth_hc_new(struct berth_hc **out, const char *bind_ip)
{
	struct berth_hc *hc = calloc(1, sizeof(*hc));

	if (!hc)
		return -ENOMEM;
	hc->bind.s_addr = htonl(INADDR_ANY);
	if (bind_ip && inet_pton(AF_INET, bind_ip, &hc->bind) != 1) {
		free(hc);
		return -EINVAL;
	}
	pthread_mutex_init(&hc->mu, NULL);
	*out = hc;
	return 0;
}

static struct hc_port *port_open(struct berth_hc *hc,
				 const struct berth_hc_service *s)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_port = htons(s->port),
				  .sin_addr = hc->bind };
	struct hc_port *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	p->hc = hc;
	p->svc = *s;
	p->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL,
				s->port, NULL, NULL, handle, p,
				MHD_OPTION_SOCK_ADDR, &sa,
				MHD_OPTION_CONNECTION_TIMEOUT, 10U,
				MHD_OPTION_END);
	if (!p->d) {
		free(p);
		return NULL;
	}
	return p;
}

static void port_close(struct hc_port *p)
{
	MHD_stop_daemon(p->d);
	free(p);
}

static const struct berth_hc_service *find(const struct berth_hc_service *svcs,
					   size_t n, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (svcs[i].port == port)
			return &svcs[i];
	return NULL;
}

int berth_hc_update(struct berth_hc *hc, const struct berth_hc_service *svcs,
		    size_t n)
{
	struct hc_port **keep = calloc(n + hc->n + 1, sizeof(*keep)), *p;
	const struct berth_hc_service *s;
	size_t nkeep = 0;
	int ret = 0;

	if (!keep)
		return -ENOMEM;
	/* close what is gone; the daemons' threads take hc->mu, so not
	 * under it */
	for (size_t i = 0; i < hc->n; i++) {
		p = hc->ports[i];
		s = find(svcs, n, p->svc.port);
		if (!s || strcmp(s->ns, p->svc.ns) ||
		    strcmp(s->name, p->svc.name)) {
			pr_info("healthCheckNodePort %u (%s/%s): closed",
				p->svc.port, p->svc.ns, p->svc.name);
			port_close(p);
			continue;
		}
		pthread_mutex_lock(&hc->mu);
		p->svc.local = s->local;
		pthread_mutex_unlock(&hc->mu);
		keep[nkeep++] = p;
	}
	for (size_t i = 0; i < n && nkeep < HC_MAX_PORTS; i++) {
		size_t j;

		if (!svcs[i].port || find(svcs, i, svcs[i].port))
			continue; /* none, or two Services on one port */
		for (j = 0; j < nkeep && keep[j]->svc.port != svcs[i].port; j++)
			;
		if (j < nkeep)
			continue;
		p = port_open(hc, &svcs[i]);
		if (!p) {
			pr_warn("healthCheckNodePort %u (%s/%s): cannot listen: %s",
				svcs[i].port, svcs[i].ns, svcs[i].name,
				strerror(errno ? errno : EADDRINUSE));
			ret = ret ? ret : -(errno ? errno : EADDRINUSE);
			continue;
		}
		pr_info("healthCheckNodePort %u (%s/%s): serving, %u local endpoints",
			svcs[i].port, svcs[i].ns, svcs[i].name, svcs[i].local);
		keep[nkeep++] = p;
	}
	free(hc->ports);
	hc->ports = keep;
	hc->n = nkeep;
	return ret;
}

size_t berth_hc_open_ports(struct berth_hc *hc)
{
	return hc->n;
}

void berth_hc_free(struct berth_hc *hc)
{
	if (!hc)
		return;
	for (size_t i = 0; i < hc->n; i++)
		port_close(hc->ports[i]);
	free(hc->ports);
	pthread_mutex_destroy(&hc->mu);
	free(hc);
}
