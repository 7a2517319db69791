// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Discovery, from the registry table. kubectl 1.32 asks /api and /apis for
 * the aggregated form (apidiscovery.k8s.io/v2 APIGroupDiscoveryList) first
 * and falls back to the per-group documents, so both are served.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "api.h"
#include "discovery.h"
#include "jsonutil.h"
#include "registry.h"

#define AGG_CTYPE \
	"application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"

static const char *const all_verbs[] = { "create", "delete", "deletecollection",
					 "get",	   "list",   "patch",
					 "update", "watch",  NULL };
static const char *const sub_verbs[] = { "get", "patch", "update", NULL };
static const char *const create_verb[] = { "create", NULL };
static const char *const get_verb[] = { "get", NULL };

struct sub_desc {
	unsigned int flag;
	const char *name;
	const char *group, *version, *kind; /* NULL kind: the parent's */
	const char *const *verbs;
};

static const struct sub_desc subs[] = {
	{ BERTH_SUB_STATUS, "status", NULL, NULL, NULL, sub_verbs },
	{ BERTH_SUB_SCALE, "scale", "autoscaling", "v1", "Scale", sub_verbs },
	{ BERTH_SUB_BINDING, "binding", "", "v1", "Binding", create_verb },
	{ BERTH_SUB_LOG, "log", "", "v1", "Pod", get_verb },
	{ BERTH_SUB_TOKEN, "token", "authentication.k8s.io", "v1", "TokenRequest",
	  create_verb },
};

static struct json_object *str_array(const char *const *v)
{
	struct json_object *a = json_object_new_array();

	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

/* "a,b" -> ["a","b"] */
static struct json_object *csv_array(const char *csv)
{
	struct json_object *a = json_object_new_array();
	const char *p = csv, *c;

	while (p && *p) {
		c = strchr(p, ',');
		json_object_array_add(
			a, json_object_new_string_len(p, c ? (int)(c - p) :
							     (int)strlen(p)));
		p = c ? c + 1 : NULL;
	}
	return a;
}

static bool wants_aggregated(const struct berth_http_req *req)
{
	const char *accept = berth_http_header(req, "Accept");

	return accept && strstr(accept, "as=APIGroupDiscoveryList") &&
	       strstr(accept, "v=v2;") != NULL;
}

static struct json_object *gv_obj(const char *group, const char *version)
{
	struct json_object *o = json_object_new_object();
	char gv[128];

	snprintf(gv, sizeof(gv), "%s%s%s", group, *group ? "/" : "", version);
	berth_json_set_str(o, "groupVersion", gv);
	berth_json_set_str(o, "version", version);
	return o;
}

static struct json_object *response_kind(const char *g, const char *v,
					 const char *k)
{
	struct json_object *o = json_object_new_object();

	berth_json_set_str(o, "group", g);
	berth_json_set_str(o, "version", v);
	berth_json_set_str(o, "kind", k);
	return o;
}

/* One resource of an aggregated discovery document. */
static struct json_object *agg_resource(const struct berth_resource *r)
{
	struct json_object *o = json_object_new_object(), *sa;
	size_t i;

	berth_json_set_str(o, "resource", r->name);
	json_object_object_add(o, "responseKind",
			       response_kind(r->group, r->version, r->kind));
	berth_json_set_str(o, "scope",
			   r->namespaced ? "Namespaced" : "Cluster");
	berth_json_set_str(o, "singularResource", r->singular);
	json_object_object_add(o, "verbs", str_array(all_verbs));
	if (r->short_names)
		json_object_object_add(o, "shortNames",
				       csv_array(r->short_names));
	if (r->categories)
		json_object_object_add(o, "categories",
				       csv_array(r->categories));
	if (!r->subresources)
		return o;
	sa = json_object_new_array();
	for (i = 0; i < sizeof(subs) / sizeof(subs[0]); i++) {
		struct json_object *s;

		if (!(r->subresources & subs[i].flag))
			continue;
		s = json_object_new_object();
		berth_json_set_str(s, "subresource", subs[i].name);
		json_object_object_add(
			s, "responseKind",
			subs[i].kind ?
				response_kind(subs[i].group, subs[i].version,
					      subs[i].kind) :
				response_kind(r->group, r->version, r->kind));
		json_object_object_add(s, "verbs", str_array(subs[i].verbs));
		json_object_array_add(sa, s);
	}
	json_object_object_add(o, "subresources", sa);
	return o;
}

static struct json_object *agg_group(const char *group, bool core)
{
	struct json_object *g = json_object_new_object(), *md, *vers, *ver,
			   *res;
	size_t i, j;

	md = json_object_new_object();
	if (!core)
		berth_json_set_str(md, "name", group);
	json_object_object_add(g, "metadata", md);
	vers = json_object_new_array();
	for (i = 0; i < berth_ngroup_versions; i++) {
		if (strcmp(berth_group_versions[i].group, group))
			continue;
		ver = json_object_new_object();
		berth_json_set_str(ver, "version",
				   berth_group_versions[i].version);
		res = json_object_new_array();
		for (j = 0; j < berth_nresources; j++) {
			const struct berth_resource *r = &berth_resources[j];

			if (!strcmp(r->group, group) &&
			    !strcmp(r->version,
				    berth_group_versions[i].version))
				json_object_array_add(res, agg_resource(r));
		}
		json_object_object_add(ver, "resources", res);
		berth_json_set_str(ver, "freshness", "Current");
		json_object_array_add(vers, ver);
	}
	json_object_object_add(g, "versions", vers);
	return g;
}

static void send_aggregated(struct berth_http_resp *resp, bool core)
{
	struct json_object *l = json_object_new_object(), *items;
	size_t i;

	berth_json_set_str(l, "kind", "APIGroupDiscoveryList");
	berth_json_set_str(l, "apiVersion", "apidiscovery.k8s.io/v2");
	json_object_object_add(l, "metadata", json_object_new_object());
	items = json_object_new_array();
	if (core) {
		json_object_array_add(items, agg_group("", true));
	} else {
		for (i = 0; i < berth_ngroup_versions; i++) {
			const char *g = berth_group_versions[i].group;

			/* one item per group, versions inside */
			if (!*g ||
			    (i > 0 &&
			     !strcmp(berth_group_versions[i - 1].group, g)))
				continue;
			json_object_array_add(items, agg_group(g, false));
		}
	}
	json_object_object_add(l, "items", items);
	berth_resp_json(resp, 200, l);
	resp->content_type = AGG_CTYPE;
}

void berth_discovery_version(struct berth_http_resp *resp)
{
	struct json_object *v = json_object_new_object();

	berth_json_set_str(v, "major", BERTH_K8S_MAJOR);
	berth_json_set_str(v, "minor", BERTH_K8S_MINOR);
	berth_json_set_str(v, "gitVersion", BERTH_K8S_VERSION);
	berth_json_set_str(v, "gitCommit", "berth");
	berth_json_set_str(v, "gitTreeState", "clean");
	berth_json_set_str(v, "buildDate", "1970-01-01T00:00:00Z");
	berth_json_set_str(v, "goVersion", "none (C)");
	berth_json_set_str(v, "compiler", "gcc");
	berth_json_set_str(v, "platform", "linux/amd64");
	berth_resp_json(resp, 200, v);
}

void berth_discovery_core(const struct berth_http_req *req,
			  struct berth_http_resp *resp, const char *server_addr)
{
	struct json_object *o, *a, *c;

	if (wants_aggregated(req)) {
		send_aggregated(resp, true);
		return;
	}
	o = json_object_new_object();
	berth_json_set_str(o, "kind", "APIVersions");
	a = json_object_new_array();
	json_object_array_add(a, json_object_new_string("v1"));
	json_object_object_add(o, "versions", a);
	a = json_object_new_array();
	c = json_object_new_object();
	berth_json_set_str(c, "clientCIDR", "0.0.0.0/0");
	berth_json_set_str(c, "serverAddress", server_addr);
	json_object_array_add(a, c);
	json_object_object_add(o, "serverAddressByClientCIDRs", a);
	berth_resp_json(resp, 200, o);
}

static struct json_object *group_obj(const char *group)
{
	struct json_object *g = json_object_new_object(), *vers;
	size_t i;
	bool first = true;

	berth_json_set_str(g, "name", group);
	vers = json_object_new_array();
	for (i = 0; i < berth_ngroup_versions; i++) {
		if (strcmp(berth_group_versions[i].group, group))
			continue;
		json_object_array_add(
			vers, gv_obj(group, berth_group_versions[i].version));
		if (first)
			json_object_object_add(
				g, "preferredVersion",
				gv_obj(group, berth_group_versions[i].version));
		first = false;
	}
	json_object_object_add(g, "versions", vers);
	return g;
}

void berth_discovery_groups(const struct berth_http_req *req,
			    struct berth_http_resp *resp)
{
	struct json_object *o, *groups;
	size_t i;

	if (wants_aggregated(req)) {
		send_aggregated(resp, false);
		return;
	}
	o = json_object_new_object();
	berth_json_set_str(o, "kind", "APIGroupList");
	berth_json_set_str(o, "apiVersion", "v1");
	groups = json_object_new_array();
	for (i = 0; i < berth_ngroup_versions; i++) {
		const char *g = berth_group_versions[i].group;

		if (!*g ||
		    (i > 0 && !strcmp(berth_group_versions[i - 1].group, g)))
			continue;
		json_object_array_add(groups, group_obj(g));
	}
	json_object_object_add(o, "groups", groups);
	berth_resp_json(resp, 200, o);
}

int berth_discovery_group(struct berth_http_resp *resp, const char *group)
{
	struct json_object *g;
	size_t i;

	for (i = 0; i < berth_ngroup_versions; i++)
		if (*group && !strcmp(berth_group_versions[i].group, group))
			break;
	if (i == berth_ngroup_versions)
		return -ENOENT;
	g = group_obj(group);
	berth_json_set_str(g, "kind", "APIGroup");
	berth_json_set_str(g, "apiVersion", "v1");
	berth_resp_json(resp, 200, g);
	return 0;
}

static struct json_object *legacy_resource(const struct berth_resource *r)
{
	struct json_object *o = json_object_new_object();

	berth_json_set_str(o, "name", r->name);
	berth_json_set_str(o, "singularName", r->singular);
	json_object_object_add(o, "namespaced",
			       json_object_new_boolean(r->namespaced));
	berth_json_set_str(o, "kind", r->kind);
	json_object_object_add(o, "verbs", str_array(all_verbs));
	if (r->short_names)
		json_object_object_add(o, "shortNames",
				       csv_array(r->short_names));
	if (r->categories)
		json_object_object_add(o, "categories",
				       csv_array(r->categories));
	return o;
}

static struct json_object *legacy_sub(const struct berth_resource *r,
				      const struct sub_desc *s)
{
	struct json_object *o = json_object_new_object();
	char name[128];

	snprintf(name, sizeof(name), "%s/%s", r->name, s->name);
	berth_json_set_str(o, "name", name);
	berth_json_set_str(o, "singularName", "");
	json_object_object_add(o, "namespaced",
			       json_object_new_boolean(r->namespaced));
	if (s->kind && strcmp(s->group, r->group)) {
		berth_json_set_str(o, "group", s->group);
		berth_json_set_str(o, "version", s->version);
	}
	berth_json_set_str(o, "kind", s->kind ? s->kind : r->kind);
	json_object_object_add(o, "verbs", str_array(s->verbs));
	return o;
}

int berth_discovery_resources(struct berth_http_resp *resp, const char *group,
			      const char *version)
{
	struct json_object *o, *res;
	size_t i, j;
	char gv[128];
	bool found = false;

	for (i = 0; i < berth_ngroup_versions; i++)
		if (!strcmp(berth_group_versions[i].group, group) &&
		    !strcmp(berth_group_versions[i].version, version))
			found = true;
	if (!found)
		return -ENOENT;
	o = json_object_new_object();
	berth_json_set_str(o, "kind", "APIResourceList");
	berth_json_set_str(o, "apiVersion", "v1");
	snprintf(gv, sizeof(gv), "%s%s%s", group, *group ? "/" : "", version);
	berth_json_set_str(o, "groupVersion", gv);
	res = json_object_new_array();
	for (i = 0; i < berth_nresources; i++) {
		const struct berth_resource *r = &berth_resources[i];

		if (strcmp(r->group, group) || strcmp(r->version, version))
			continue;
		json_object_array_add(res, legacy_resource(r));
		for (j = 0; j < sizeof(subs) / sizeof(subs[0]); j++)
			if (r->subresources & subs[j].flag)
				json_object_array_add(res,
						      legacy_sub(r, &subs[j]));
	}
	json_object_object_add(o, "resources", res);
	berth_resp_json(resp, 200, o);
	return 0;
}
