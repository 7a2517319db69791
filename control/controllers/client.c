// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The controllers' API client: requests go through berth_api_handle like
 * HTTP ones, so what a controller writes is defaulted, validated, admitted
 * and watched exactly as a kubectl write would be.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <berth/htab.h>
#include <berth/log.h>

#include "../apiserver/api.h"
#include "../apiserver/jsonutil.h"
#include "../apiserver/registry.h"
#include "../apiserver/rest.h"
#include "ctl.h"

static const char *local_arg(const char *const *args, const char *key)
{
	for (; args && args[0] && args[1]; args += 2)
		if (!strcmp(args[0], key))
			return args[1];
	return NULL;
}

/*
 * A streamed answer (a large LIST) read whole into resp->body. Watches
 * never end: controllers use informers instead, so those are refused.
 */
static void drain(struct berth_http_resp *resp, const char *watch)
{
	size_t cap = 64 * 1024, len = 0;
	char *buf = NULL, *nb;
	ssize_t n = 0;

	if (watch && (!strcmp(watch, "true") || !strcmp(watch, "1"))) {
		n = -2;
		goto out;
	}
	buf = malloc(cap);
	while (buf) {
		if (cap - len < 16 * 1024) {
			nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = resp->stream(resp->stream_ctx, buf + len, cap - len - 1);
		if (n < 0)
			break;
		len += (size_t)n;
	}
out:
	if (resp->stream_free)
		resp->stream_free(resp->stream_ctx);
	resp->stream = NULL;
	free(resp->body);
	resp->body = NULL;
	resp->len = 0;
	if (n == -1 && buf) {
		buf[len] = 0;
		resp->body = buf;
		resp->len = len;
	} else {
		free(buf);
		resp->code = watch ? 400 : 500;
	}
}

int berth_client_request(struct berth_api *api, const char *method,
			 const char *path, const char *const *args,
			 const char *content_type, struct json_object *body,
			 struct json_object **out)
{
	const char *headers[] = { "Content-Type",
				  content_type ?: "application/json", "Accept",
				  "application/json", NULL };
	struct berth_http_req req = { .method = method, .path = path,
				      .args = args, .headers = headers };
	struct berth_http_resp resp = { 0 };
	size_t len = 0;
	const char *js;

	if (body) {
		js = berth_json_str(body, &len);
		req.body = js;
		req.body_len = len;
	} else {
		req.body = "";
	}
	berth_api_handle(api, &req, &resp);
	if (resp.stream)
		drain(&resp, local_arg(args, "watch"));
	if (out)
		*out = resp.body && resp.content_type &&
				       strstr(resp.content_type, "json") ?
			       berth_json_parse(resp.body, resp.len, NULL) :
			       NULL;
	if (resp.code >= 400 && resp.code != 404 && resp.code != 409)
		pr_debug("%s %s: %d %.*s", method, path, resp.code,
			 (int)(resp.len > 300 ? 300 : resp.len),
			 resp.body ?: "");
	free(resp.body);
	free(resp.warning);
	return resp.code;
}

int berth_client_path(const struct berth_resource *r, const char *ns,
		      const char *name, const char *sub, char *buf,
		      size_t size)
{
	int n;

	if (*r->group)
		n = snprintf(buf, size, "/apis/%s/%s", r->group, r->version);
	else
		n = snprintf(buf, size, "/api/%s", r->version);
	if (r->namespaced && ns)
		n += snprintf(buf + n, size > (size_t)n ? size - n : 0,
			      "/namespaces/%s", ns);
	n += snprintf(buf + n, size > (size_t)n ? size - n : 0, "/%s",
		      r->name);
	if (name)
		n += snprintf(buf + n, size > (size_t)n ? size - n : 0, "/%s",
			      name);
	if (name && sub)
		n += snprintf(buf + n, size > (size_t)n ? size - n : 0, "/%s",
			      sub);
	return (size_t)n < size ? 0 : -ENAMETOOLONG;
}

const struct berth_resource *berth_res(const char *group, const char *name)
{
	size_t i;

	for (i = 0; i < berth_nresources; i++)
		if (!strcmp(berth_resources[i].group, group) &&
		    !strcmp(berth_resources[i].name, name))
			return &berth_resources[i];
	pr_err("no resource %s.%s", name, group);
	abort();
}

static int call(struct berth_api *api, const char *method,
		const struct berth_resource *r, const char *ns,
		const char *name, const char *sub, const char *const *args,
		const char *ctype, struct json_object *body,
		struct json_object **out)
{
	char path[512];

	if (out)
		*out = NULL;
	if (berth_client_path(r, ns, name, sub, path, sizeof(path)))
		return 414;
	return berth_client_request(api, method, path, args, ctype, body, out);
}

int berth_client_get(struct berth_api *api, const struct berth_resource *r,
		     const char *ns, const char *name,
		     struct json_object **out)
{
	return call(api, "GET", r, ns, name, NULL, NULL, NULL, NULL, out);
}

int berth_client_create(struct berth_api *api, const struct berth_resource *r,
			const char *ns, struct json_object *obj,
			struct json_object **out)
{
	char av[96];

	berth_resource_api_version(r, av, sizeof(av));
	berth_json_set_str(obj, "kind", r->kind);
	berth_json_set_str(obj, "apiVersion", av);
	return call(api, "POST", r, ns, NULL, NULL, NULL, NULL, obj, out);
}

int berth_client_update(struct berth_api *api, const struct berth_resource *r,
			const char *ns, const char *name, const char *sub,
			struct json_object *obj, struct json_object **out)
{
	return call(api, "PUT", r, ns, name, sub, NULL, NULL, obj, out);
}

int berth_client_merge_patch(struct berth_api *api,
			     const struct berth_resource *r, const char *ns,
			     const char *name, const char *sub,
			     struct json_object *patch,
			     struct json_object **out)
{
	return call(api, "PATCH", r, ns, name, sub, NULL,
		    "application/merge-patch+json", patch, out);
}

int berth_client_delete(struct berth_api *api, const struct berth_resource *r,
			const char *ns, const char *name,
			const char *propagation, const char *uid)
{
	struct json_object *opts = json_object_new_object();
	int code;

	berth_json_set_str(opts, "kind", "DeleteOptions");
	berth_json_set_str(opts, "apiVersion", "v1");
	if (propagation)
		berth_json_set_str(opts, "propagationPolicy", propagation);
	if (uid)
		berth_json_set_str(berth_json_obj(opts, "preconditions"), "uid",
				   uid);
	code = call(api, "DELETE", r, ns, name, NULL, NULL, NULL, opts, NULL);
	json_object_put(opts);
	return code;
}

/* ---- events ---- */

static void set_ref(struct json_object *ev, struct json_object *obj)
{
	struct json_object *ref = berth_json_obj(ev, "involvedObject");
	static const char *const keys[] = { "kind", "apiVersion", NULL };
	static const char *const mkeys[] = { "name", "namespace", "uid",
					     "resourceVersion", NULL };
	const char *v;
	int i;

	for (i = 0; keys[i]; i++)
		if ((v = berth_json_get_str(obj, keys[i])))
			berth_json_set_str(ref, keys[i], v);
	for (i = 0; mkeys[i]; i++)
		if ((v = berth_json_get_str(berth_json_path(obj, "metadata"),
					    mkeys[i])))
			berth_json_set_str(ref, mkeys[i], v);
}

void berth_event_emit(struct berth_api *api, const char *component,
		      struct json_object *obj, const char *type,
		      const char *reason, const char *fmt, ...)
{
	const struct berth_resource *r = berth_res("", "events");
	const char *name = berth_json_path_str(obj, "metadata.name") ?: "x";
	const char *ns = berth_json_path_str(obj, "metadata.namespace");
	const char *uid = berth_json_path_str(obj, "metadata.uid") ?: "";
	struct json_object *ev = NULL, *cur = NULL;
	char msg[1024], evname[320], ts[32];
	uint64_t h;
	va_list ap;
	int code;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!ns || !*ns)
		ns = "default";
	/* one Event per object, reason and message, like the series */
	h = berth_hash_bytes(uid, strlen(uid), 0);
	h = berth_hash_bytes(reason, strlen(reason), h);
	h = berth_hash_bytes(msg, strlen(msg), h);
	snprintf(evname, sizeof(evname), "%.240s.%016llx", name,
		 (unsigned long long)h);
	berth_now_rfc3339(ts, sizeof(ts));
	code = berth_client_get(api, r, ns, evname, &cur);
	if (code == 200 && cur) {
		struct json_object *patch = json_object_new_object();

		berth_json_set_int(patch, "count",
				   berth_json_get_int(cur, "count", 1) + 1);
		berth_json_set_str(patch, "lastTimestamp", ts);
		berth_client_merge_patch(api, r, ns, evname, NULL, patch, NULL);
		json_object_put(patch);
		goto out;
	}
	ev = json_object_new_object();
	berth_json_set_str(berth_json_obj(ev, "metadata"), "name", evname);
	berth_json_set_str(berth_json_obj(ev, "metadata"), "namespace", ns);
	set_ref(ev, obj);
	berth_json_set_str(ev, "type", type);
	berth_json_set_str(ev, "reason", reason);
	berth_json_set_str(ev, "message", msg);
	berth_json_set_str(berth_json_obj(ev, "source"), "component",
			   component);
	berth_json_set_str(ev, "firstTimestamp", ts);
	berth_json_set_str(ev, "lastTimestamp", ts);
	berth_json_set_int(ev, "count", 1);
	berth_json_set_str(ev, "reportingComponent", component);
	code = berth_client_create(api, r, ns, ev, NULL);
	if (code != 201 && code != 409)
		pr_debug("event %s/%s %s: %d", ns, name, reason, code);
out:
	json_object_put(ev);
	json_object_put(cur);
}
