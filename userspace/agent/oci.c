// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The OCI runtime config (config.json) of a container, from its Pod spec and
 * image config, with Kubernetes' rules for command/args, env and $(VAR).
 */
#define _GNU_SOURCE
/* paths are bounded by PATH_MAX where made; a cut one fails to open */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/base64.h>

#include "runtime_int.h"

#define DEFAULT_PATH "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
#define CPU_PERIOD 100000 /* us; the kubelet's CFS period */
#define MIN_SHARES 2 /* best effort pods, as the kubelet gives them */
#define MIN_QUOTA 1000 /* us; the kernel's lower bound */

int rt_err(char *err, size_t errlen, int ret, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return ret;
}

struct json_object *rt_obj(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v) || !v)
		return NULL;
	return v;
}

const char *rt_str(struct json_object *o, const char *key)
{
	struct json_object *v = rt_obj(o, key);

	return v && json_object_is_type(v, json_type_string) ? json_object_get_string(v) : NULL;
}

struct json_object *rt_arr(struct json_object *o, const char *key)
{
	struct json_object *v = rt_obj(o, key);

	return v && json_object_is_type(v, json_type_array) ? v : NULL;
}

struct json_object *rt_path(struct json_object *o, const char *path)
{
	char key[128];
	const char *dot;

	while (o && *path) {
		dot = strchr(path, '.');
		size_t n = dot ? (size_t)(dot - path) : strlen(path);

		if (n >= sizeof(key))
			return NULL;
		memcpy(key, path, n);
		key[n] = 0;
		o = rt_obj(o, key);
		path += n + (dot ? 1 : 0);
	}
	return o;
}

const char *rt_path_str(struct json_object *o, const char *path)
{
	o = rt_path(o, path);
	return o && json_object_is_type(o, json_type_string) ? json_object_get_string(o) : NULL;
}

struct sbuf {
	char *s;
	size_t n, cap;
};

static void sb_add(struct sbuf *b, const char *s, size_t n)
{
	if (b->n + n + 1 > b->cap) {
		size_t cap = (b->n + n + 1) * 2;
		char *t = realloc(b->s, cap);

		if (!t)
			abort();
		b->s = t;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

char *berth_expand(const char *in, const char *(*lookup)(void *arg, const char *name, size_t n),
		   void *arg)
{
	struct sbuf b = { 0 };
	const char *p = in, *close, *v;

	sb_add(&b, "", 0);
	while (*p) {
		if (p[0] != '$' || !p[1]) {
			sb_add(&b, p, 1);
			p++;
			continue;
		}
		if (p[1] == '$') { /* "$$" is an escaped "$" */
			sb_add(&b, "$", 1);
			p += 2;
			continue;
		}
		if (p[1] != '(' || !(close = strchr(p + 2, ')'))) {
			sb_add(&b, p, 2);
			p += 2;
			continue;
		}
		v = lookup(arg, p + 2, close - (p + 2));
		if (v)
			sb_add(&b, v, strlen(v));
		else
			sb_add(&b, p, close + 1 - p);
		p = close + 1;
	}
	return b.s;
}

/* "metadata.labels['key']" → value of key in metadata.labels */
static char *map_field(struct json_object *pod, const char *path, const char *prefix, int *ret)
{
	size_t pl = strlen(prefix), n;
	const char *key = path + pl, *v;
	char k[320];

	n = strlen(key);
	if (n < 4 || key[0] != '[' || key[1] != '\'' || key[n - 2] != '\'' || key[n - 1] != ']' ||
	    n - 4 >= sizeof(k)) {
		*ret = -EINVAL;
		return NULL;
	}
	memcpy(k, key + 2, n - 4);
	k[n - 4] = 0;
	char mp[64];
	snprintf(mp, sizeof(mp), "%.*s", (int)(pl), prefix);
	v = rt_str(rt_path(pod, mp), k);
	return strdup(v ? v : "");
}

/* labels/annotations as the downward API's file format: key="value" lines */
static char *map_all(struct json_object *map)
{
	struct sbuf b = { 0 };

	sb_add(&b, "", 0);
	if (!map || !json_object_is_type(map, json_type_object))
		return b.s;
	json_object_object_foreach(map, k, v)
	{
		const char *s = json_object_get_string(v);
		struct json_object *js = json_object_new_string(s);
		char *q = strdup(json_object_to_json_string_ext(js, JSON_C_TO_STRING_NOSLASHESCAPE));

		json_object_put(js);
		/* the line's value is Go-quoted; JSON quoting is the same for text */
		sb_add(&b, k, strlen(k));
		sb_add(&b, "=", 1);
		sb_add(&b, q, strlen(q));
		sb_add(&b, "\n", 1);
		free(q);
	}
	return b.s;
}

char *berth_pod_field(struct json_object *pod, const char *path, const char *pod_ip,
		      const char *host_ip, const char *node_name, int *ret)
{
	const char *v = NULL;

	*ret = 0;
	if (!strcmp(path, "metadata.name") || !strcmp(path, "metadata.namespace") ||
	    !strcmp(path, "metadata.uid") || !strcmp(path, "spec.serviceAccountName"))
		v = rt_path_str(pod, path);
	else if (!strcmp(path, "spec.nodeName"))
		v = node_name ? node_name : rt_path_str(pod, path);
	else if (!strcmp(path, "status.podIP") || !strcmp(path, "status.podIPs"))
		v = pod_ip ? pod_ip : rt_path_str(pod, "status.podIP");
	else if (!strcmp(path, "status.hostIP") || !strcmp(path, "status.hostIPs"))
		v = host_ip ? host_ip : rt_path_str(pod, "status.hostIP");
	else if (!strncmp(path, "metadata.labels[", 16))
		return map_field(pod, path, "metadata.labels", ret);
	else if (!strncmp(path, "metadata.annotations[", 21))
		return map_field(pod, path, "metadata.annotations", ret);
	else if (!strcmp(path, "metadata.labels") || !strcmp(path, "metadata.annotations"))
		return map_all(rt_path(pod, path));
	else {
		*ret = -EINVAL;
		return NULL;
	}
	return strdup(v ? v : "");
}

/* ---- env ---- */

struct env {
	char **kv; /* "K=V" */
	size_t n, cap;
	size_t user_start; /* entries from here are the container's (for $(VAR)) */
};

static void env_set(struct env *e, const char *k, size_t kl, const char *v)
{
	char *s;

	if (asprintf(&s, "%.*s=%s", (int)kl, k, v) < 0)
		abort();
	for (size_t i = 0; i < e->n; i++) {
		if (!strncmp(e->kv[i], k, kl) && e->kv[i][kl] == '=' && i < e->user_start) {
			/* the container redefines an image variable: it becomes its own */
			free(e->kv[i]);
			memmove(e->kv + i, e->kv + i + 1, (e->n - i) * sizeof(*e->kv));
			e->n--;
			e->user_start--;
			break;
		}
		if (!strncmp(e->kv[i], k, kl) && e->kv[i][kl] == '=') {
			free(e->kv[i]);
			e->kv[i] = s;
			return;
		}
	}
	if (e->n + 1 >= e->cap) {
		e->cap = e->cap ? e->cap * 2 : 16;
		e->kv = realloc(e->kv, e->cap * sizeof(*e->kv));
		if (!e->kv)
			abort();
	}
	e->kv[e->n++] = s;
	e->kv[e->n] = NULL;
}

static void env_free(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->kv[i]);
	free(e->kv);
}

/* $(VAR) sees only the container's own variables (not the image's) */
struct lookup_ctx {
	struct env *e;
	size_t upto;
};

static const char *env_lookup(void *arg, const char *name, size_t n)
{
	struct lookup_ctx *c = arg;

	for (size_t i = c->upto; i-- > c->e->user_start;)
		if (!strncmp(c->e->kv[i], name, n) && c->e->kv[i][n] == '=')
			return c->e->kv[i] + n + 1;
	return NULL;
}

/* ConfigMap or Secret key; *value malloc'd. optional and missing: 1 */
static int object_key(const struct berth_objects *objs, const char *kind, const char *ns,
		      struct json_object *ref, const char *key, char **value, char *err,
		      size_t errlen)
{
	const char *name = rt_str(ref, "name");
	struct json_object *optv = rt_obj(ref, "optional"), *o, *v;
	bool optional = optv && json_object_get_boolean(optv);
	bool secret = !strcmp(kind, "Secret");
	const char *lk = secret ? "secret" : "configmap";
	int ret = 0;

	if (!name)
		return rt_err(err, errlen, -EINVAL, "%sKeyRef without a name",
			      secret ? "secret" : "configMap");
	o = objs && objs->get ? objs->get(objs->arg, kind, ns, name) : NULL;
	if (!o) {
		if (optional)
			return 1;
		return rt_err(err, errlen, -ENOENT, "%s \"%s\" not found", lk, name);
	}
	if (!key) { /* whole object: caller uses it */
		*value = (char *)o;
		return 0;
	}
	if ((v = rt_obj(rt_obj(o, "data"), key))) {
		const char *s = json_object_get_string(v);

		*value = secret ? berth_base64_decode(s, false, NULL) : strdup(s);
		if (!*value)
			ret = rt_err(err, errlen, -EINVAL, "secret \"%s\": key %s is not base64",
				     name, key);
	} else if (!secret && (v = rt_obj(rt_obj(o, "binaryData"), key))) {
		*value = berth_base64_decode(json_object_get_string(v), false, NULL);
		if (!*value)
			ret = rt_err(err, errlen, -EINVAL, "configmap \"%s\": key %s is not base64",
				     name, key);
	} else if (optional) {
		ret = 1;
	} else {
		ret = rt_err(err, errlen, -ENOENT, "couldn't find key %s in %s %s/%s", key,
			     secret ? "Secret" : "ConfigMap", ns, name);
	}
	json_object_put(o);
	return ret;
}

static int resource_field(struct json_object *ctr, struct json_object *ref, char **value,
			  char *err, size_t errlen)
{
	const char *res = rt_str(ref, "resource"), *div = rt_str(ref, "divisor");
	int64_t q = 0, d = 1000, r;
	const char *dot;
	char kind[16];

	if (!res || !(dot = strchr(res, '.')) || dot - res >= (long)sizeof(kind))
		return rt_err(err, errlen, -EINVAL, "resourceFieldRef: bad resource");
	snprintf(kind, sizeof(kind), "%.*s", (int)(dot - res), res);
	const char *qs = rt_str(rt_obj(rt_obj(ctr, "resources"), kind), dot + 1);
	if (qs && berth_quantity_milli(qs, &q))
		return rt_err(err, errlen, -EINVAL, "resourceFieldRef: bad quantity %s", qs);
	if (div && (berth_quantity_milli(div, &d) || d <= 0))
		return rt_err(err, errlen, -EINVAL, "resourceFieldRef: bad divisor %s", div);
	if (!qs) /* no limit: the node's allocatable; unknown here, so 0 */
		q = 0;
	r = (q + d - 1) / d;
	if (!strcmp(dot + 1, "cpu") && r < 1 && qs)
		r = 1;
	if (asprintf(value, "%lld", (long long)r) < 0)
		return -ENOMEM;
	return 0;
}

static int build_env(const struct berth_container_spec *spec, struct env *e, char *err,
		     size_t errlen)
{
	struct json_object *ctr = spec->container, *list;
	const char *ns = rt_path_str(spec->pod, "metadata.namespace");
	bool have_path = false;
	int ret;

	if (!ns)
		ns = "default";
	for (char **p = spec->image ? spec->image->env : NULL; p && *p; p++) {
		const char *eq = strchr(*p, '=');

		if (!eq)
			continue;
		env_set(e, *p, eq - *p, eq + 1);
		have_path |= !strncmp(*p, "PATH=", 5);
	}
	if (!have_path)
		env_set(e, "PATH", 4, DEFAULT_PATH + 5);
	const char *host = rt_path_str(spec->pod, "spec.hostname");
	if (!host)
		host = rt_path_str(spec->pod, "metadata.name");
	if (host)
		env_set(e, "HOSTNAME", 8, host);
	e->user_start = e->n;
	for (const char *const *p = spec->extra_env; p && *p; p++) {
		const char *eq = strchr(*p, '=');

		if (eq)
			env_set(e, *p, eq - *p, eq + 1);
	}
	/* envFrom first, env after (env wins) */
	list = rt_arr(ctr, "envFrom");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *src = json_object_array_get_idx(list, i), *ref, *o, *data;
		const char *prefix = rt_str(src, "prefix");
		bool secret = false;

		if (!(ref = rt_obj(src, "configMapRef")))
			secret = !!(ref = rt_obj(src, "secretRef"));
		if (!ref)
			continue;
		char *ov = NULL;
		ret = object_key(spec->objs, secret ? "Secret" : "ConfigMap", ns, ref, NULL, &ov,
				 err, errlen);
		if (ret < 0)
			return ret;
		if (ret > 0)
			continue;
		o = (struct json_object *)ov;
		data = rt_obj(o, "data");
		if (data && json_object_is_type(data, json_type_object)) {
			json_object_object_foreach(data, k, v)
			{
				char name[512];
				char *val = secret ? berth_base64_decode(json_object_get_string(v),
									 false, NULL)
						   : strdup(json_object_get_string(v));

				snprintf(name, sizeof(name), "%s%s", prefix ? prefix : "", k);
				if (val)
					env_set(e, name, strlen(name), val);
				free(val);
			}
		}
		json_object_put(o);
	}
	list = rt_arr(ctr, "env");
	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *ev = json_object_array_get_idx(list, i), *from, *ref;
		const char *name = rt_str(ev, "name"), *value = rt_str(ev, "value");
		char *val = NULL;

		if (!name || !*name)
			return rt_err(err, errlen, -EINVAL, "env[%zu]: no name", i);
		if ((from = rt_obj(ev, "valueFrom"))) {
			if ((ref = rt_obj(from, "fieldRef"))) {
				const char *fp = rt_str(ref, "fieldPath");

				val = fp ? berth_pod_field(spec->pod, fp, spec->pod_ip,
							   spec->host_ip, spec->node_name, &ret)
					 : NULL;
				if (!val)
					return rt_err(err, errlen, -EINVAL,
						      "env %s: unsupported fieldPath %s", name,
						      fp ? fp : "(none)");
			} else if ((ref = rt_obj(from, "configMapKeyRef")) ||
				   (ref = rt_obj(from, "secretKeyRef"))) {
				const char *key = rt_str(ref, "key");
				bool secret = !!rt_obj(from, "secretKeyRef");

				if (!key)
					return rt_err(err, errlen, -EINVAL, "env %s: no key", name);
				ret = object_key(spec->objs, secret ? "Secret" : "ConfigMap", ns,
						 ref, key, &val, err, errlen);
				if (ret < 0)
					return ret;
				if (ret > 0)
					continue; /* optional and absent: no variable */
			} else if ((ref = rt_obj(from, "resourceFieldRef"))) {
				ret = resource_field(ctr, ref, &val, err, errlen);
				if (ret < 0)
					return ret;
			} else {
				return rt_err(err, errlen, -EINVAL, "env %s: unsupported valueFrom",
					      name);
			}
			env_set(e, name, strlen(name), val);
			free(val);
			continue;
		}
		struct lookup_ctx lc = { e, e->n };
		val = berth_expand(value ? value : "", env_lookup, &lc);
		env_set(e, name, strlen(name), val);
		free(val);
	}
	return 0;
}

/* ---- process ---- */

static int add_strings(struct json_object *arr, struct json_object *list, char *const *img,
		       struct env *e)
{
	struct lookup_ctx lc = { e, e->n };

	if (list) {
		for (size_t i = 0; i < json_object_array_length(list); i++) {
			const char *s = json_object_get_string(json_object_array_get_idx(list, i));
			char *x = berth_expand(s ? s : "", env_lookup, &lc);

			json_object_array_add(arr, json_object_new_string(x));
			free(x);
		}
		return 0;
	}
	for (; img && *img; img++)
		json_object_array_add(arr, json_object_new_string(*img));
	return 0;
}

static int build_args(const struct berth_container_spec *spec, struct env *e,
		      struct json_object *args, char *err, size_t errlen)
{
	struct json_object *cmd = rt_arr(spec->container, "command");
	struct json_object *arg = rt_arr(spec->container, "args");
	const struct berth_image_config *img = spec->image;

	if (cmd && !json_object_array_length(cmd))
		cmd = NULL;
	if (arg && !json_object_array_length(arg))
		arg = NULL;
	/* command replaces Entrypoint; args replace Cmd; command alone drops Cmd */
	add_strings(args, cmd, img ? img->entrypoint : NULL, e);
	if (cmd && !arg)
		;
	else
		add_strings(args, arg, img ? img->cmd : NULL, e);
	if (!json_object_array_length(args))
		return rt_err(err, errlen, -EINVAL, "no command specified");
	return 0;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (!isdigit((unsigned char)*s))
			return false;
	return true;
}

/* uid or gid of name from rootfs/etc/passwd or /etc/group; -ENOENT */
static long lookup_id(const char *rootfs, const char *file, const char *name, long *gid)
{
	char path[PATH_MAX], line[1024];
	FILE *f;
	long id = -ENOENT;

	if (!rootfs)
		return -ENOENT;
	snprintf(path, sizeof(path), "%s/etc/%s", rootfs, file);
	if (!(f = fopen(path, "re")))
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		char *save, *n = strtok_r(line, ":", &save), *x, *u, *g;

		x = strtok_r(NULL, ":", &save);
		u = strtok_r(NULL, ":", &save);
		g = strtok_r(NULL, ":", &save);
		(void)x;
		if (n && u && !strcmp(n, name)) {
			id = strtol(u, NULL, 10);
			if (gid && g)
				*gid = strtol(g, NULL, 10);
			break;
		}
	}
	fclose(f);
	return id;
}

static struct json_object *sc_get(const struct berth_container_spec *spec, const char *key)
{
	struct json_object *v = rt_obj(rt_obj(spec->container, "securityContext"), key);

	return v ? v : rt_obj(rt_path(spec->pod, "spec.securityContext"), key);
}

/* the image's "user[:group]" into u and *group (NULL: none); false: none set */
static bool image_user_split(const struct berth_image_config *img, char *u, size_t len,
			     char **group)
{
	const char *iu = img && img->user ? img->user : "";

	snprintf(u, len, "%s", iu);
	if ((*group = strchr(u, ':')))
		*(*group)++ = 0;
	return *iu;
}

bool berth_oci_user_needs_rootfs(const struct berth_image_config *img)
{
	char u[256], *group;

	return image_user_split(img, u, sizeof(u), &group) &&
	       (!all_digits(u) || (group && *group && !all_digits(group)));
}

static int build_user(const struct berth_container_spec *spec, const char *rootfs,
		      struct json_object *user, char *err, size_t errlen)
{
	struct json_object *ru = sc_get(spec, "runAsUser"), *rg = sc_get(spec, "runAsGroup");
	struct json_object *nonroot = sc_get(spec, "runAsNonRoot");
	struct json_object *sup = rt_arr(rt_path(spec->pod, "spec.securityContext"),
					 "supplementalGroups");
	struct json_object *fsg = rt_obj(rt_path(spec->pod, "spec.securityContext"), "fsGroup");
	long uid = 0, gid = 0;
	char u[256], *colon;

	if (image_user_split(spec->image, u, sizeof(u), &colon)) {
		if (all_digits(u)) {
			uid = strtol(u, NULL, 10);
		} else {
			uid = lookup_id(rootfs, "passwd", u, &gid);
			if (uid < 0 && !ru)
				return rt_err(err, errlen, -EINVAL,
					      "image user \"%s\" not found in /etc/passwd", u);
		}
		if (colon && all_digits(colon))
			gid = strtol(colon, NULL, 10);
		else if (colon && *colon && (gid = lookup_id(rootfs, "group", colon, NULL)) < 0 &&
			 !rg)
			return rt_err(err, errlen, -EINVAL,
				      "image group \"%s\" not found in /etc/group", colon);
	}
	if (ru)
		uid = json_object_get_int64(ru);
	if (rg)
		gid = json_object_get_int64(rg);
	if (uid < 0 || gid < 0)
		uid = gid = 0;
	if (nonroot && json_object_get_boolean(nonroot) && uid == 0)
		return rt_err(err, errlen, -EPERM,
			      "container has runAsNonRoot and image will run as root");
	json_object_object_add(user, "uid", json_object_new_int64(uid));
	json_object_object_add(user, "gid", json_object_new_int64(gid));
	struct json_object *add = json_object_new_array();
	for (size_t i = 0; sup && i < json_object_array_length(sup); i++)
		json_object_array_add(add, json_object_new_int64(json_object_get_int64(
						   json_object_array_get_idx(sup, i))));
	if (fsg)
		json_object_array_add(add, json_object_new_int64(json_object_get_int64(fsg)));
	if (json_object_array_length(add))
		json_object_object_add(user, "additionalGids", add);
	else
		json_object_put(add);
	return 0;
}

static const char *const default_caps[] = {
	"CHOWN",  "DAC_OVERRIDE", "FSETID",	      "FOWNER",	    "MKNOD",
	"NET_RAW", "SETGID",	   "SETUID",	      "SETFCAP",    "SETPCAP",
	"NET_BIND_SERVICE", "SYS_CHROOT", "KILL",     "AUDIT_WRITE", NULL,
};

static const char *const all_caps[] = {
	"CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID",
	"SETUID", "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST",
	"NET_ADMIN", "NET_RAW", "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO",
	"SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT", "SYS_ADMIN", "SYS_BOOT", "SYS_NICE",
	"SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD", "LEASE", "AUDIT_WRITE",
	"AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG", "WAKE_ALARM",
	"BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE", NULL,
};

/* "NET_ADMIN" or "CAP_NET_ADMIN" → "CAP_NET_ADMIN" in buf */
static const char *cap_name(const char *s, char *buf, size_t len)
{
	size_t i;

	if (!strncasecmp(s, "CAP_", 4))
		s += 4;
	snprintf(buf, len, "CAP_%s", s);
	for (i = 0; buf[i]; i++)
		buf[i] = toupper((unsigned char)buf[i]);
	return buf;
}

static bool in_list(struct json_object *list, const char *cap)
{
	char buf[64];

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(list, i));

		if (s && (!strcasecmp(s, "ALL") || !strcmp(cap_name(s, buf, sizeof(buf)), cap)))
			return true;
	}
	return false;
}

static struct json_object *build_caps(const struct berth_container_spec *spec, bool privileged)
{
	struct json_object *caps = rt_obj(rt_obj(spec->container, "securityContext"),
					  "capabilities");
	struct json_object *add = rt_arr(caps, "add"), *drop = rt_arr(caps, "drop");
	struct json_object *set = json_object_new_array(), *out = json_object_new_object();
	char buf[64];

	for (const char *const *c = all_caps; *c; c++) {
		bool def = false;

		for (const char *const *d = default_caps; *d; d++)
			def |= !strcmp(*d, *c);
		snprintf(buf, sizeof(buf), "CAP_%s", *c);
		if (privileged || ((def || in_list(add, buf)) && !in_list(drop, buf)))
			json_object_array_add(set, json_object_new_string(buf));
	}
	/* added names we do not know (newer kernels) are passed on as given */
	for (size_t i = 0; add && i < json_object_array_length(add); i++) {
		const char *s = json_object_get_string(json_object_array_get_idx(add, i));
		bool known = !s || !strcasecmp(s, "ALL");

		cap_name(s ? s : "", buf, sizeof(buf));
		for (const char *const *c = all_caps; !known && *c; c++)
			known = !strcmp(buf + 4, *c);
		if (!known && !in_list(drop, buf))
			json_object_array_add(set, json_object_new_string(buf));
	}
	json_object_object_add(out, "bounding", json_object_get(set));
	json_object_object_add(out, "effective", json_object_get(set));
	json_object_object_add(out, "permitted", set);
	return out;
}

static int build_resources(const struct berth_container_spec *spec, struct json_object *linux_,
			   char *err, size_t errlen)
{
	struct json_object *res = rt_obj(spec->container, "resources");
	struct json_object *req = rt_obj(res, "requests"), *lim = rt_obj(res, "limits");
	struct json_object *r = json_object_new_object(), *cpu = json_object_new_object();
	struct json_object *devs = json_object_new_array(), *d = json_object_new_object();
	const char *cr = rt_str(req, "cpu"), *cl = rt_str(lim, "cpu"), *ml = rt_str(lim, "memory");
	int64_t v;
	uint64_t shares = MIN_SHARES;

	json_object_object_add(d, "allow", json_object_new_boolean(false));
	json_object_object_add(d, "access", json_object_new_string("rwm"));
	json_object_array_add(devs, d);
	json_object_object_add(r, "devices", devs);
	json_object_object_add(linux_, "resources", r);
	json_object_object_add(r, "cpu", cpu);
	if (!cr)
		cr = cl; /* a limit alone is also the request */
	if (cr) {
		if (berth_quantity_milli(cr, &v) || v < 0)
			return rt_err(err, errlen, -EINVAL, "resources: bad cpu request %s", cr);
		shares = v * 1024 / 1000;
		if (shares < MIN_SHARES)
			shares = MIN_SHARES;
	}
	json_object_object_add(cpu, "shares", json_object_new_int64(shares));
	if (cl) {
		if (berth_quantity_milli(cl, &v) || v < 0)
			return rt_err(err, errlen, -EINVAL, "resources: bad cpu limit %s", cl);
		v = v * CPU_PERIOD / 1000; /* millicores → us per period */
		if (v < MIN_QUOTA)
			v = MIN_QUOTA;
		json_object_object_add(cpu, "quota", json_object_new_int64(v));
		json_object_object_add(cpu, "period", json_object_new_int64(CPU_PERIOD));
	}
	if (ml) {
		struct json_object *mem = json_object_new_object();

		if (berth_quantity_milli(ml, &v) || v <= 0)
			return rt_err(err, errlen, -EINVAL, "resources: bad memory limit %s", ml);
		json_object_object_add(mem, "limit", json_object_new_int64((v + 999) / 1000));
		json_object_object_add(r, "memory", mem);
	}
	return 0;
}

static void add_mount(struct json_object *mounts, const char *dst, const char *type,
		      const char *src, const char *opts)
{
	struct json_object *m = json_object_new_object(), *o = json_object_new_array();
	char *dup = strdup(opts), *save, *t;

	json_object_object_add(m, "destination", json_object_new_string(dst));
	json_object_object_add(m, "type", json_object_new_string(type));
	json_object_object_add(m, "source", json_object_new_string(src));
	for (t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save))
		json_object_array_add(o, json_object_new_string(t));
	free(dup);
	json_object_object_add(m, "options", o);
	json_object_array_add(mounts, m);
}

static bool mounted_at(const struct berth_container_spec *spec, const char *dst)
{
	for (size_t i = 0; i < spec->nmounts; i++)
		if (!strcmp(spec->mounts[i].destination, dst))
			return true;
	return false;
}

static void build_mounts(struct berth_runtime *rt, const struct berth_container_spec *spec,
			 const char *bundle, struct json_object *mounts, bool host_net)
{
	const char *uid = rt_path_str(spec->pod, "metadata.uid");
	const char *tmp = rt_str(spec->container, "terminationMessagePath");
	char pod[PATH_MAX], path[PATH_MAX];

	add_mount(mounts, "/proc", "proc", "proc", "nosuid,noexec,nodev");
	add_mount(mounts, "/dev", "tmpfs", "tmpfs", "nosuid,strictatime,mode=755,size=65536k");
	add_mount(mounts, "/dev/pts", "devpts", "devpts",
		  "nosuid,noexec,newinstance,ptmxmode=0666,mode=0620,gid=5");
	add_mount(mounts, "/dev/shm", "tmpfs", "shm", "nosuid,noexec,nodev,mode=1777,size=65536k");
	add_mount(mounts, "/dev/mqueue", "mqueue", "mqueue", "nosuid,noexec,nodev");
	if (host_net)
		add_mount(mounts, "/sys", "bind", "/sys", "rbind,nosuid,noexec,nodev,ro");
	else
		add_mount(mounts, "/sys", "sysfs", "sysfs", "nosuid,noexec,nodev,ro");
	add_mount(mounts, "/sys/fs/cgroup", "cgroup", "cgroup", "nosuid,noexec,nodev,relatime,ro");
	if (rt && uid && !rt_pod_dir(rt, uid, pod, sizeof(pod))) {
		static const char *const files[][2] = {
			{ "/etc/hosts", "hosts" },
			{ "/etc/hostname", "hostname" },
			{ "/etc/resolv.conf", "resolv.conf" },
		};

		for (size_t i = 0; i < 3; i++) {
			if (mounted_at(spec, files[i][0]))
				continue;
			snprintf(path, sizeof(path), "%s/%s", pod, files[i][1]);
			add_mount(mounts, files[i][0], "bind", path, "rbind,rprivate");
		}
	}
	if (bundle) {
		snprintf(path, sizeof(path), "%s/termination-log", bundle);
		add_mount(mounts, tmp && *tmp ? tmp : "/dev/termination-log", "bind", path,
			  "rbind,rprivate");
	}
	for (size_t i = 0; i < spec->nmounts; i++)
		add_mount(mounts, spec->mounts[i].destination, "bind", spec->mounts[i].source,
			  spec->mounts[i].readonly ? "rbind,rprivate,ro" : "rbind,rprivate");
}

static void add_ns(struct json_object *nss, const char *type, const char *path)
{
	struct json_object *ns = json_object_new_object();

	json_object_object_add(ns, "type", json_object_new_string(type));
	if (path)
		json_object_object_add(ns, "path", json_object_new_string(path));
	json_object_array_add(nss, ns);
}

static struct json_object *strv(const char *const *v)
{
	struct json_object *a = json_object_new_array();

	for (; *v; v++)
		json_object_array_add(a, json_object_new_string(*v));
	return a;
}

static bool pod_bool(struct json_object *pod, const char *path)
{
	struct json_object *v = rt_path(pod, path);

	return v && json_object_get_boolean(v);
}

int berth_oci_config(struct berth_runtime *rt, const struct berth_container_spec *spec,
		     struct json_object **out, char *err, size_t errlen)
{
	static const char *const masked[] = {
		"/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
		"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
		"/sys/firmware", NULL,
	};
	static const char *const ro_paths[] = {
		"/proc/asound", "/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
		"/proc/sysrq-trigger", NULL,
	};
	const char *uid = rt_path_str(spec->pod, "metadata.uid");
	const char *name = rt_str(spec->container, "name");
	const char *host = rt_path_str(spec->pod, "spec.hostname");
	struct json_object *c, *proc, *root, *lx, *nss, *a, *user, *ann;
	char bundle[PATH_MAX], rootfs[PATH_MAX], id[BERTH_CONTAINER_ID_MAX], cg[PATH_MAX];
	struct env e = { 0 };
	bool host_net = pod_bool(spec->pod, "spec.hostNetwork");
	bool privileged = false;
	int ret;

	if (!uid || !name || !*uid || !*name)
		return rt_err(err, errlen, -EINVAL, "pod without metadata.uid or container without name");
	if (!host)
		host = rt_path_str(spec->pod, "metadata.name");
	ret = berth_container_id(uid, name, spec->attempt, id, sizeof(id));
	if (ret)
		return rt_err(err, errlen, ret, "container id of %s: too long", name);
	if (rt && berth_container_dir(rt, uid, name, spec->attempt, bundle, sizeof(bundle)))
		return rt_err(err, errlen, -ENAMETOOLONG, "bundle path too long");
	if (spec->rootfs)
		snprintf(rootfs, sizeof(rootfs), "%s", spec->rootfs);
	else if (rt)
		snprintf(rootfs, sizeof(rootfs), "%s/rootfs", bundle);
	else
		return rt_err(err, errlen, -EINVAL, "no rootfs");
	privileged = !!json_object_get_boolean(
		rt_obj(rt_obj(spec->container, "securityContext"), "privileged"));

	c = json_object_new_object();
	json_object_object_add(c, "ociVersion", json_object_new_string("1.0.2"));
	proc = json_object_new_object();
	json_object_object_add(c, "process", proc);
	json_object_object_add(proc, "terminal", json_object_new_boolean(false));
	ret = build_env(spec, &e, err, errlen);
	if (ret)
		goto fail;
	a = json_object_new_array();
	json_object_object_add(proc, "args", a);
	ret = build_args(spec, &e, a, err, errlen);
	if (ret)
		goto fail;
	json_object_object_add(proc, "env", strv((const char *const *)e.kv));
	const char *cwd = rt_str(spec->container, "workingDir");
	if (!cwd || !*cwd)
		cwd = spec->image && spec->image->working_dir && *spec->image->working_dir
			      ? spec->image->working_dir
			      : "/";
	if (*cwd != '/') {
		ret = rt_err(err, errlen, -EINVAL, "workingDir %s is not absolute", cwd);
		goto fail;
	}
	json_object_object_add(proc, "cwd", json_object_new_string(cwd));
	user = json_object_new_object();
	json_object_object_add(proc, "user", user);
	ret = build_user(spec, rootfs, user, err, errlen);
	if (ret)
		goto fail;
	json_object_object_add(proc, "capabilities", build_caps(spec, privileged));
	struct json_object *ape = rt_obj(rt_obj(spec->container, "securityContext"),
					 "allowPrivilegeEscalation");
	json_object_object_add(proc, "noNewPrivileges",
			       json_object_new_boolean(ape && !json_object_get_boolean(ape)));

	root = json_object_new_object();
	json_object_object_add(root, "path", json_object_new_string(rootfs));
	json_object_object_add(
		root, "readonly",
		json_object_new_boolean(json_object_get_boolean(rt_obj(
			rt_obj(spec->container, "securityContext"), "readOnlyRootFilesystem"))));
	json_object_object_add(c, "root", root);

	a = json_object_new_array();
	json_object_object_add(c, "mounts", a);
	build_mounts(rt, spec, rt ? bundle : NULL, a, host_net);

	lx = json_object_new_object();
	json_object_object_add(c, "linux", lx);
	nss = json_object_new_array();
	json_object_object_add(lx, "namespaces", nss);
	if (!pod_bool(spec->pod, "spec.hostPID"))
		add_ns(nss, "pid", NULL);
	add_ns(nss, "mount", NULL);
	char path[PATH_MAX], pod[PATH_MAX];
	bool own_uts = true;
	if (rt && !rt_pod_dir(rt, uid, pod, sizeof(pod))) {
		if (!host_net) {
			snprintf(path, sizeof(path), "%s/netns/%s", rt->root, uid);
			add_ns(nss, "network", path);
		}
		if (!pod_bool(spec->pod, "spec.hostIPC")) {
			snprintf(path, sizeof(path), "%s/ns/ipc", pod);
			add_ns(nss, "ipc", path);
		}
		snprintf(path, sizeof(path), "%s/ns/uts", pod);
		add_ns(nss, "uts", path);
		own_uts = false;
	} else {
		if (!host_net)
			add_ns(nss, "network", NULL);
		add_ns(nss, "ipc", NULL);
		add_ns(nss, "uts", NULL);
	}
	if (own_uts && host)
		json_object_object_add(c, "hostname", json_object_new_string(host));
	if (rt) {
		ret = rt_cgroups_path(rt, uid, id, cg, sizeof(cg));
		if (ret)
			goto fail;
	} else {
		snprintf(cg, sizeof(cg), "/berth/pod%s/%s", uid, id);
	}
	json_object_object_add(lx, "cgroupsPath", json_object_new_string(cg));
	ret = build_resources(spec, lx, err, errlen);
	if (ret)
		goto fail;
	if (!privileged) {
		json_object_object_add(lx, "maskedPaths", strv(masked));
		json_object_object_add(lx, "readonlyPaths", strv(ro_paths));
	}
	ann = json_object_new_object();
	json_object_object_add(c, "annotations", ann);
	json_object_object_add(ann, "io.kubernetes.pod.uid", json_object_new_string(uid));
	const char *pn = rt_path_str(spec->pod, "metadata.name");
	const char *pns = rt_path_str(spec->pod, "metadata.namespace");
	json_object_object_add(ann, "io.kubernetes.pod.name", json_object_new_string(pn ? pn : ""));
	json_object_object_add(ann, "io.kubernetes.pod.namespace",
			       json_object_new_string(pns ? pns : "default"));
	json_object_object_add(ann, "io.kubernetes.container.name", json_object_new_string(name));
	char at[16];
	snprintf(at, sizeof(at), "%u", spec->attempt);
	json_object_object_add(ann, "io.kubernetes.container.restartCount",
			       json_object_new_string(at));
	env_free(&e);
	*out = c;
	return 0;
fail:
	env_free(&e);
	json_object_put(c);
	return ret;
}
