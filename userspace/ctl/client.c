// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * What the workload commands share: the kubeconfig and API client,
 * discovery (KIND as typed to a resource), errors as kubectl prints them.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <berth/log.h>

#include "ctl.h"

#define MAX_RES 128

static struct ctl_res res[MAX_RES];
static int nres = -1; /* -1: not discovered yet */

static char *kubeconfig_path(const struct ctl *c)
{
	const char *env = getenv("KUBECONFIG"), *home = getenv("HOME");
	char *p;

	if (c->kubeconfig)
		return strdup(c->kubeconfig);
	if (env && *env) {
		/* a list: the first file of it (kubectl merges; one is enough) */
		p = strdup(env);
		if (p && strchr(p, ':') && strncmp(p, "http", 4))
			*strchr(p, ':') = 0;
		return p;
	}
	if (asprintf(&p, "%s/.kube/config", home ? home : "/root") < 0)
		return NULL;
	return p;
}

struct berth_kube *ctl_kube(struct ctl *c)
{
	/* connect on first use: usage errors come first, and need no server */
	if (!c->k && ctl_connect(c))
		exit(CTL_ERR);
	return c->k;
}

int ctl_connect(struct ctl *c)
{
	struct berth_kube_config cfg;
	char err[512] = "", *path = kubeconfig_path(c);
	int ret;

	if (!path)
		return ctl_err("out of memory");
	ret = berth_kube_config_load(path, c->context, &cfg, err, sizeof(err));
	free(path);
	if (ret) {
		ctl_err("kubeconfig: %s", err);
		return ret;
	}
	if (!c->ns_set)
		c->ns = strdup(cfg.namespace ? cfg.namespace : "default");
	ret = berth_kube_new(&c->k, &cfg);
	if (ret) {
		berth_kube_config_free(&cfg);
		ctl_err("API client: %s", strerror(-ret));
	}
	return ret;
}

int ctl_err(const char *fmt, ...)
{
	va_list ap;

	fputs("error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	return CTL_ERR;
}

json_object *ctl_get(json_object *o, const char *path)
{
	char key[128];

	while (o && *path) {
		const char *dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		if (!json_object_is_type(o, json_type_object) ||
		    !json_object_object_get_ex(o, key, &o))
			return NULL;
		path += n + (dot ? 1 : 0);
	}
	return o;
}

const char *ctl_str(json_object *o, const char *path)
{
	o = ctl_get(o, path);
	return o && json_object_is_type(o, json_type_string) ?
		       json_object_get_string(o) :
		       NULL;
}

long long ctl_int(json_object *o, const char *path, long long def)
{
	o = ctl_get(o, path);
	return o && json_object_is_type(o, json_type_int) ?
		       json_object_get_int64(o) :
		       def;
}

const char *ctl_ns(struct ctl *c)
{
	if (!c->ns)
		ctl_kube(c); /* the context's namespace */
	return c->ns;
}

int ctl_server_error(json_object *st, int status)
{
	char msg[1024];
	const char *reason = ctl_str(st, "reason");

	if (status < 0) {
		fprintf(stderr, "Unable to connect to the server: %s%s\n",
			strerror(-status),
			berth_log_level < BERTH_LOG_DEBUG ? " (-v says why)" :
							    "");
		return CTL_ERR;
	}
	berth_kube_status_message(st, status, msg, sizeof(msg));
	if (reason && *reason)
		fprintf(stderr, "Error from server (%s): %s\n", reason, msg);
	else
		fprintf(stderr, "Error from server: %s\n", msg);
	return CTL_ERR;
}

json_object *ctl_fetch(struct ctl *c, const char *path)
{
	json_object *o = NULL;
	int st = berth_kube_get(ctl_kube(c), path, &o);

	if (st == 200 && o)
		return o;
	ctl_server_error(o, st);
	json_object_put(o);
	return NULL;
}

/* ---- discovery ---- */

static void copy(char *dst, size_t len, const char *s)
{
	snprintf(dst, len, "%s", s ? s : "");
}

static void add_resources(json_object *list, const char *group,
			  const char *version)
{
	json_object *items = ctl_get(list, "resources");
	size_t n = items ? json_object_array_length(items) : 0;

	for (size_t i = 0; i < n && nres < MAX_RES; i++) {
		json_object *it = json_object_array_get_idx(items, i), *sh;
		struct ctl_res *r = &res[nres];
		const char *name = ctl_str(it, "name");

		if (!name || strchr(name, '/')) /* subresources */
			continue;
		memset(r, 0, sizeof(*r));
		copy(r->group, sizeof(r->group), group);
		copy(r->version, sizeof(r->version), version);
		copy(r->plural, sizeof(r->plural), name);
		copy(r->singular, sizeof(r->singular),
		     ctl_str(it, "singularName"));
		copy(r->kind, sizeof(r->kind), ctl_str(it, "kind"));
		if (!r->singular[0])
			for (size_t j = 0;
			     r->kind[j] && j < sizeof(r->singular) - 1; j++)
				r->singular[j] =
					tolower((unsigned char)r->kind[j]);
		r->namespaced =
			json_object_get_boolean(ctl_get(it, "namespaced"));
		sh = ctl_get(it, "shortNames");
		for (size_t j = 0;
		     sh && j < json_object_array_length(sh) && j < 4; j++)
			copy(r->shorts[j], sizeof(r->shorts[j]),
			     json_object_get_string(
				     json_object_array_get_idx(sh, j)));
		nres++;
	}
}

static int discover(struct ctl *c)
{
	json_object *core, *groups, *list;
	char path[256];
	size_t n;

	if (nres >= 0)
		return 0;
	core = ctl_fetch(c, "/api/v1");
	if (!core)
		return -EIO;
	nres = 0;
	add_resources(core, "", "v1");
	json_object_put(core);
	groups = ctl_fetch(c, "/apis");
	if (!groups)
		return -EIO;
	list = ctl_get(groups, "groups");
	n = list ? json_object_array_length(list) : 0;
	for (size_t i = 0; i < n; i++) {
		json_object *g = json_object_array_get_idx(list, i), *gv;
		const char *pv = ctl_str(g, "preferredVersion.groupVersion");

		if (!pv)
			continue;
		snprintf(path, sizeof(path), "/apis/%s", pv);
		gv = ctl_fetch(c, path);
		if (gv)
			add_resources(gv, ctl_str(g, "name"),
				      ctl_str(g, "preferredVersion.version"));
		json_object_put(gv);
	}
	json_object_put(groups);
	return 0;
}

static bool res_matches(const struct ctl_res *r, const char *name)
{
	if (!strcmp(r->plural, name) || !strcmp(r->singular, name) ||
	    !strcasecmp(r->kind, name))
		return true;
	for (int i = 0; i < 4; i++)
		if (r->shorts[i][0] && !strcmp(r->shorts[i], name))
			return true;
	return false;
}

int ctl_lookup(struct ctl *c, const char *typed, struct ctl_res *r)
{
	char name[128], *group;

	snprintf(name, sizeof(name), "%s", typed);
	for (char *p = name; *p; p++)
		*p = tolower((unsigned char)*p);
	group = strchr(name, '.');
	if (group)
		*group++ = 0;
	if (discover(c))
		return -EIO;
	for (int i = 0; i < nres; i++) {
		if (group && strcmp(res[i].group, group))
			continue;
		if (res_matches(&res[i], name)) {
			*r = res[i];
			return 0;
		}
	}
	return -ENOENT;
}

int ctl_resolve(struct ctl *c, const char *typed, struct ctl_res *r)
{
	int ret = ctl_lookup(c, typed, r);

	if (ret == -ENOENT)
		fprintf(stderr,
			"error: the server doesn't have a resource type \"%s\"\n",
			typed);
	return ret;
}

int ctl_resolve_kind(struct ctl *c, const char *api_version, const char *kind,
		     struct ctl_res *r)
{
	char group[64] = "", version[32];
	const char *slash = strchr(api_version, '/');

	if (slash)
		snprintf(group, sizeof(group), "%.*s",
			 (int)(slash - api_version), api_version);
	snprintf(version, sizeof(version), "%s",
		 slash ? slash + 1 : api_version);
	if (discover(c))
		return -EIO;
	for (int i = 0; i < nres; i++) {
		if (strcmp(res[i].group, group) || strcmp(res[i].kind, kind))
			continue;
		*r = res[i];
		/* the version the object names, the server serves it */
		snprintf(r->version, sizeof(r->version), "%s", version);
		return 0;
	}
	fprintf(stderr,
		"error: resource mapping not found for kind \"%s\" in version \"%s\"\n",
		kind, api_version);
	return -ENOENT;
}

/* "KIND/NAME" or "KIND NAME" from the positional arguments */
int ctl_kind_name(struct ctl *c, const char *what, struct ctl_res *r,
		  const char **name)
{
	char kind[128];
	const char *slash;

	if (c->argc < 1 || c->argc > 2) {
		fprintf(stderr, "error: %s needs KIND/NAME or KIND NAME\n",
			what);
		return CTL_USAGE;
	}
	slash = strchr(c->argv[0], '/');
	if ((slash && c->argc != 1) || (!slash && c->argc != 2)) {
		fprintf(stderr, "error: %s needs KIND/NAME or KIND NAME\n",
			what);
		return CTL_USAGE;
	}
	snprintf(kind, sizeof(kind), "%.*s",
		 slash ? (int)(slash - c->argv[0]) : (int)strlen(c->argv[0]),
		 c->argv[0]);
	*name = slash ? slash + 1 : c->argv[1];
	return ctl_resolve(c, kind, r) ? CTL_ERR : 0;
}

void ctl_path(char *buf, size_t len, const struct ctl_res *r, const char *ns,
	      const char *name, const char *suffix)
{
	int n;

	if (r->group[0])
		n = snprintf(buf, len, "/apis/%s/%s", r->group, r->version);
	else
		n = snprintf(buf, len, "/api/%s", r->version);
	if (r->namespaced && ns)
		n += snprintf(buf + n, len - n, "/namespaces/%s", ns);
	n += snprintf(buf + n, len - n, "/%s", r->plural);
	if (name)
		n += snprintf(buf + n, len - n, "/%s", name);
	if (suffix)
		snprintf(buf + n, len - n, "%s", suffix);
}

int ctl_add_selector(const struct ctl *c, char *path, size_t len)
{
	char esc[1024];
	size_t n = strlen(path);

	if (!c->selector)
		return 0;
	if (berth_kube_escape(c->selector, esc, sizeof(esc)) ||
	    (size_t)snprintf(path + n, len - n, "%clabelSelector=%s",
			     strchr(path, '?') ? '&' : '?', esc) >= len - n) {
		ctl_err("the label selector is too long");
		return -ENAMETOOLONG;
	}
	return 0;
}

void ctl_kind_group(char *buf, size_t len, const struct ctl_res *r)
{
	size_t i;

	for (i = 0; r->kind[i] && i < len - 1; i++)
		buf[i] = tolower((unsigned char)r->kind[i]);
	buf[i] = 0;
	if (r->group[0])
		snprintf(buf + i, len - i, ".%s", r->group);
}

/* ---- times ---- */

/* kubectl's HumanDuration */
static void human_duration(long s, char *buf, size_t len)
{
	long m = s / 60, h = s / 3600, d = h / 24, y = d / 365;

	if (s < -1)
		snprintf(buf, len, "<invalid>");
	else if (s < 0)
		snprintf(buf, len, "0s");
	else if (s < 120)
		snprintf(buf, len, "%lds", s);
	else if (m < 10 && s % 60)
		snprintf(buf, len, "%ldm%lds", m, s % 60);
	else if (m < 180)
		snprintf(buf, len, "%ldm", m);
	else if (h < 8 && m % 60)
		snprintf(buf, len, "%ldh%ldm", h, m % 60);
	else if (h < 48)
		snprintf(buf, len, "%ldh", h);
	else if (h < 24 * 8 && h % 24)
		snprintf(buf, len, "%ldd%ldh", d, h % 24);
	else if (h < 24 * 365 * 2)
		snprintf(buf, len, "%ldd", d);
	else if (y < 8 && d % 365)
		snprintf(buf, len, "%ldy%ldd", y, d % 365);
	else
		snprintf(buf, len, "%ldy", y);
}

void ctl_age(const char *ts, char *buf, size_t len)
{
	long t;

	if (berth_kube_parse_time(ts, &t)) {
		snprintf(buf, len, "<unknown>");
		return;
	}
	human_duration((long)time(NULL) - t, buf, len);
}

long ctl_parse_duration(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (end == s || v < 0)
		return -1;
	if (!*end || !strcmp(end, "s"))
		return v;
	if (!strcmp(end, "m"))
		return v * 60;
	if (!strcmp(end, "h"))
		return v * 3600;
	return -1;
}
