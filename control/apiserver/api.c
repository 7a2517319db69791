// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Request routing, response helpers and the objects every cluster starts with. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>
#include <berth/prom.h>

#include "../store/store.h"
#include "api.h"
#include "authz.h"
#include "discovery.h"
#include "jsonutil.h"
#include "metrics.h"
#include "openapi.h"
#include "registry.h"
#include "rest.h"
#include "status.h"
#include "tokenreq.h"

#define MAX_SEGS 12
#define MAX_PATH 2048

void berth_resp_json(struct berth_http_resp *resp, int code,
		     struct json_object *obj)
{
	const char *js;
	size_t len;

	js = berth_json_str(obj, &len);
	free(resp->body);
	resp->body = malloc(len + 1);
	if (resp->body) {
		memcpy(resp->body, js, len + 1);
		resp->len = len;
		resp->code = code;
	} else {
		resp->len = 0;
		resp->code = 500;
	}
	resp->content_type = "application/json";
	json_object_put(obj);
}

void berth_resp_text(struct berth_http_resp *resp, int code, const char *text)
{
	free(resp->body);
	resp->body = strdup(text);
	resp->len = resp->body ? strlen(text) : 0;
	resp->code = resp->body ? code : 500;
	resp->content_type = "text/plain; charset=utf-8";
}

void berth_resp_status(struct berth_http_resp *resp, struct json_object *st)
{
	int code = (int)berth_json_get_int(st, "code", 500);

	berth_resp_json(resp, code, st);
}

void berth_resp_error(struct berth_http_resp *resp, int code,
		      const char *reason, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	berth_resp_status(resp, berth_status_new(code, reason, "%s", msg));
}

bool berth_accept_table(const struct berth_http_req *req)
{
	const char *a = berth_http_header(req, "Accept");

	return a && strstr(a, "as=Table") && strstr(a, "g=meta.k8s.io");
}

int berth_parse_cidr(const char *cidr, uint32_t *net, unsigned int *bits)
{
	char ip[32], *end;
	const char *slash = strchr(cidr, '/');
	struct in_addr a;
	unsigned long b;

	if (!slash || (size_t)(slash - cidr) >= sizeof(ip))
		return -EINVAL;
	memcpy(ip, cidr, slash - cidr);
	ip[slash - cidr] = 0;
	b = strtoul(slash + 1, &end, 10);
	if (*end || end == slash + 1 || b > 30 || b < 8 ||
	    inet_pton(AF_INET, ip, &a) != 1)
		return -EINVAL;
	*bits = (unsigned int)b;
	*net = ntohl(a.s_addr) & ~((1u << (32 - b)) - 1);
	return 0;
}

int berth_api_init(struct berth_api *api, struct berth_store *store,
		   const char *service_cidr, const char *cluster_cidr)
{
	memset(api, 0, sizeof(*api));
	api->store = store;
	pthread_mutex_init(&api->alloc_lock, NULL);
	atomic_init(&api->stopping, false);
	if (berth_parse_cidr(service_cidr, &api->svc_net, &api->svc_bits))
		return -EINVAL;
	snprintf(api->cluster_cidr, sizeof(api->cluster_cidr), "%s",
		 cluster_cidr);
	snprintf(api->sa_issuer, sizeof(api->sa_issuer), "%s",
		 BERTH_SA_DEFAULT_ISSUER);
	api->sa_max_expiration_s = BERTH_SA_DEFAULT_MAX_EXPIRATION_S;
	return 0;
}

void berth_api_fini(struct berth_api *api)
{
	pthread_mutex_destroy(&api->alloc_lock);
}

static int ensure_namespace(struct berth_api *api, const char *name)
{
	const struct berth_resource *r =
		berth_resource_find("", "v1", "namespaces");
	struct json_object *ns = json_object_new_object();
	int code;

	berth_json_set_str(berth_json_obj(ns, "metadata"), "name", name);
	code = berth_rest_create(api, r, NULL, ns);
	json_object_put(ns);
	return code == 201 || code == 409 ? 0 : -EIO;
}

int berth_api_bootstrap(struct berth_api *api)
{
	static const char *const names[] = { "default", "kube-system",
					     "kube-public", "kube-node-lease" };
	const struct berth_resource *svc =
		berth_resource_find("", "v1", "services");
	struct json_object *s, *m, *spec, *ports, *p;
	const char *colon = strrchr(api->server_addr, ':');
	char ip[INET_ADDRSTRLEN];
	size_t i;
	int code;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (ensure_namespace(api, names[i]))
			return -EIO;
	s = json_object_new_object();
	m = berth_json_obj(s, "metadata");
	berth_json_set_str(m, "name", "kubernetes");
	berth_json_set_str(m, "namespace", "default");
	berth_json_set_str(berth_json_obj(m, "labels"), "component",
			   "apiserver");
	berth_json_set_str(berth_json_obj(m, "labels"), "provider",
			   "kubernetes");
	spec = berth_json_obj(s, "spec");
	inet_ntop(AF_INET, &(struct in_addr){ htonl(api->svc_net + 1) }, ip,
		  sizeof(ip));
	berth_json_set_str(spec, "clusterIP", ip);
	ports = json_object_new_array();
	p = json_object_new_object();
	berth_json_set_str(p, "name", "https");
	berth_json_set_int(p, "port", 443);
	berth_json_set_str(p, "protocol", "TCP");
	berth_json_set_int(p, "targetPort",
			   colon ? strtol(colon + 1, NULL, 10) : 6443);
	json_object_array_add(ports, p);
	json_object_object_add(spec, "ports", ports);
	code = berth_rest_create(api, svc, "default", s);
	json_object_put(s);
	return code == 201 || code == 409 ? 0 : -EIO;
}

/* Split path into segments (in buf); -1 if empty segments or too many. */
static int split(const char *path, char *buf, char **segs)
{
	int n = 0;
	char *p, *save = NULL;

	if (strlen(path) >= MAX_PATH)
		return -1;
	strcpy(buf, path);
	for (p = strtok_r(buf, "/", &save); p; p = strtok_r(NULL, "/", &save)) {
		if (n == MAX_SEGS)
			return -1;
		segs[n++] = p;
	}
	return n;
}

static void not_found(struct berth_http_resp *resp)
{
	berth_resp_error(resp, 404, "NotFound",
			 "the server could not find the requested resource");
}

/* /api/v1/... or /apis/<g>/<v>/...: segs after the group/version. */
static void resource_request(struct berth_api *api,
			     const struct berth_http_req *req,
			     struct berth_http_resp *resp,
			     struct berth_req_info *ri,
			     const struct berth_user *user, const char *group,
			     const char *version, char **segs, int n)
{
	struct berth_call c = {
		.api = api, .req = req, .resp = resp, .user = user
	};
	const char *rname;

	if (n >= 3 && !strcmp(segs[0], "namespaces") &&
	    strcmp(segs[2], "status") && strcmp(segs[2], "finalize")) {
		c.ns = segs[1];
		rname = segs[2];
		segs += 3;
		n -= 3;
	} else {
		rname = segs[0];
		segs += 1;
		n -= 1;
	}
	if (n > 2) {
		not_found(resp);
		return;
	}
	c.name = n > 0 ? segs[0] : NULL;
	c.sub = n > 1 ? segs[1] : NULL;
	c.res = berth_resource_find(group, version, rname);
	if (!c.res || (!c.res->namespaced && c.ns)) {
		not_found(resp);
		return;
	}
	*ri = (struct berth_req_info){ .group = c.res->group,
				       .version = c.res->version,
				       .resource = c.res->name,
				       .subresource = c.sub,
				       .named = c.name != NULL };
	berth_rest_handle(&c);
}

/*
 * GET /debug/store/snapshot: a consistent copy of the store for backups
 * (the SQLite file locked by the server cannot be copied from outside).
 */
static void store_snapshot(struct berth_api *api, struct berth_http_resp *resp)
{
	void *buf;
	size_t len;
	int err = berth_store_snapshot(api->store, &buf, &len);

	if (err == -EOPNOTSUPP) {
		berth_resp_error(resp, 501, "NotImplemented",
				 "the %s store has its own snapshot tool "
				 "(etcdctl snapshot save)",
				 berth_store_backend(api->store));
		return;
	}
	if (err) {
		berth_resp_error(resp, 500, NULL, "store snapshot: %s",
				 strerror(-err));
		return;
	}
	resp->code = 200;
	resp->content_type = "application/vnd.sqlite3";
	resp->body = buf;
	resp->len = len;
}

static bool is_health(const char *s)
{
	return !strcmp(s, "healthz") || !strcmp(s, "livez") ||
	       !strcmp(s, "readyz");
}

void berth_api_handle(void *ctx, const struct berth_http_req *req,
		      struct berth_http_resp *resp)
{
	struct berth_api *api = ctx;
	struct berth_req_info ri = { 0 };
	double start = berth_prom_now();
	char buf[MAX_PATH], *segs[MAX_SEGS];
	bool get = !strcmp(req->method, "GET") || !strcmp(req->method, "HEAD");
	struct berth_authz_req *ar = malloc(sizeof(*ar));
	const struct berth_user *who;
	int n = split(req->path, buf, segs);

	if (!ar) {
		berth_resp_error(resp, 500, NULL, "out of memory");
		return;
	}
	if (berth_authz_gate(api, req, resp, ar))
		goto out;
	who = api->authn ? &ar->user : NULL;
	if (n < 0) {
		not_found(resp);
		goto out;
	}
	if (req->too_large && strcmp(req->method, "GET")) {
		berth_resp_error(resp, 413, NULL,
				 "Request entity too large: limit is %d",
				 BERTH_HTTP_MAX_BODY);
		goto out;
	}
	if (n >= 1 && n <= 2 && is_health(segs[0]) && get) {
		berth_apihealth_serve(api, req, resp, segs, n);
	} else if (n == 1 && !strcmp(segs[0], "metrics") && get) {
		berth_apimetrics_serve(resp);
	} else if (n == 3 && !strcmp(segs[0], "debug") &&
		   !strcmp(segs[1], "store") && !strcmp(segs[2], "snapshot") &&
		   get) {
		store_snapshot(api, resp);
	} else if (n == 1 && !strcmp(segs[0], "version") && get) {
		berth_discovery_version(resp);
	} else if (n == 3 && !strcmp(segs[0], "openid") &&
		   !strcmp(segs[1], "v1") && !strcmp(segs[2], "jwks") && get) {
		berth_oidc_jwks(api, resp);
	} else if (n == 2 && !strcmp(segs[0], ".well-known") &&
		   !strcmp(segs[1], "openid-configuration") && get) {
		berth_oidc_config(api, resp);
	} else if (n >= 1 && !strcmp(segs[0], "openapi") && get) {
		if (berth_openapi_serve(req, resp, segs + 1, n - 1))
			not_found(resp);
	} else if (n >= 1 && !strcmp(segs[0], "api")) {
		if (n == 1 && get)
			berth_discovery_core(req, resp, api->server_addr);
		else if (n == 2 && get) {
			if (berth_discovery_resources(resp, "", segs[1]))
				not_found(resp);
		} else if (n > 2 && !strcmp(segs[1], "v1"))
			resource_request(api, req, resp, &ri, who, "", "v1",
					 segs + 2, n - 2);
		else
			not_found(resp);
	} else if (n >= 1 && !strcmp(segs[0], "apis")) {
		if (n == 1 && get)
			berth_discovery_groups(req, resp);
		else if (n == 2 && get) {
			if (berth_discovery_group(resp, segs[1]))
				not_found(resp);
		} else if (n == 3 && get) {
			if (berth_discovery_resources(resp, segs[1], segs[2]))
				not_found(resp);
		} else if (n > 3)
			resource_request(api, req, resp, &ri, who, segs[1],
					 segs[2], segs + 3, n - 3);
		else
			not_found(resp);
	} else {
		not_found(resp);
	}
	berth_authz_after(api, ar, resp);
out:
	berth_apimetrics_request(req, resp, &ri, start);
	free(ar);
	pr_debug("%s %s -> %d", req->method, req->path, resp->code);
}
