// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The three PATCH flavours kubectl sends, on json-c trees. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "jsonutil.h"
#include "patch.h"

#define PATCH_MAX_PATH 512
/*
 * JSON patch "copy" can double the document with each operation (copy /a
 * into /a/1, /a/2, ...): 40 operations would need 2^40 nodes. The bytes
 * copied by one patch are capped at the request body's own limit (what
 * kube-apiserver's AccumulatedCopySizeLimit does).
 */
#define PATCH_MAX_COPY (3 * 1024 * 1024)

/* ---- JSON merge patch (RFC 7386) ---- */

static struct json_object *merge(struct json_object *target,
				 struct json_object *patch)
{
	if (!json_object_is_type(patch, json_type_object)) {
		json_object_put(target);
		return berth_json_copy(patch);
	}
	if (!json_object_is_type(target, json_type_object)) {
		json_object_put(target);
		target = json_object_new_object();
	}
	json_object_object_foreach(patch, k, v)
	{
		struct json_object *cur = NULL;

		if (!v) {
			json_object_object_del(target, k);
			continue;
		}
		if (json_object_object_get_ex(target, k, &cur))
			json_object_get(cur);
		json_object_object_add(target, k, merge(cur, v));
	}
	return target;
}

struct json_object *berth_merge_patch(struct json_object *doc,
				      struct json_object *patch, char *err,
				      size_t errsize)
{
	if (!json_object_is_type(patch, json_type_object)) {
		snprintf(err, errsize, "a merge patch must be a JSON object");
		return NULL;
	}
	return merge(berth_json_copy(doc), patch);
}

/* ---- JSON patch (RFC 6902) ---- */

/* Split off the last token of pointer; *parent gets the container. */
static int resolve(struct json_object *doc, const char *ptr,
		   struct json_object **parent, char *last, size_t lastsize)
{
	char tok[PATCH_MAX_PATH];
	struct json_object *cur = doc;
	const char *p = ptr;
	size_t n;

	if (*p != '/')
		return -EINVAL;
	for (;;) {
		const char *s = ++p;
		char *o = tok;

		while (*p && *p != '/')
			p++;
		n = p - s;
		if (n >= sizeof(tok) || n >= lastsize)
			return -EINVAL;
		for (; s < p; s++) {
			if (*s == '~' && s + 1 < p &&
			    (s[1] == '0' || s[1] == '1')) {
				*o++ = s[1] == '0' ? '~' : '/';
				s++;
			} else if (*s == '~') {
				return -EINVAL;
			} else {
				*o++ = *s;
			}
		}
		*o = 0;
		if (!*p) {
			*parent = cur;
			strcpy(last, tok);
			return 0;
		}
		if (json_object_is_type(cur, json_type_object)) {
			if (!json_object_object_get_ex(cur, tok, &cur))
				return -ENOENT;
		} else if (json_object_is_type(cur, json_type_array)) {
			char *end;
			unsigned long i = strtoul(tok, &end, 10);

			if (!*tok || *end || i >= json_object_array_length(cur))
				return -ENOENT;
			cur = json_object_array_get_idx(cur, i);
		} else {
			return -ENOENT;
		}
		if (!cur)
			return -ENOENT;
	}
}

static int array_index(struct json_object *arr, const char *tok, bool add,
		       size_t *idx)
{
	size_t n = json_object_array_length(arr);
	char *end;
	unsigned long i;

	if (add && !strcmp(tok, "-")) {
		*idx = n;
		return 0;
	}
	if (!*tok || (tok[0] == '0' && tok[1]))
		return -EINVAL;
	i = strtoul(tok, &end, 10);
	if (*end || i > n || (!add && i == n))
		return -EINVAL;
	*idx = i;
	return 0;
}

/* Insert val (reference taken) at idx, shifting the rest. */
static void array_insert(struct json_object *arr, size_t idx,
			 struct json_object *val)
{
	size_t i, n = json_object_array_length(arr);

	json_object_array_add(arr, NULL);
	for (i = n; i > idx; i--) {
		struct json_object *prev =
			json_object_array_get_idx(arr, i - 1);

		json_object_get(prev);
		json_object_array_put_idx(arr, i, prev);
	}
	json_object_array_put_idx(arr, idx, val);
}

/* Take the value at ptr out of doc; *out gets a reference. */
static int op_remove(struct json_object *doc, const char *ptr,
		     struct json_object **out)
{
	struct json_object *parent, *v;
	char last[PATCH_MAX_PATH];
	size_t idx;

	if (resolve(doc, ptr, &parent, last, sizeof(last)))
		return -ENOENT;
	if (json_object_is_type(parent, json_type_object)) {
		if (!json_object_object_get_ex(parent, last, &v))
			return -ENOENT;
		if (out)
			*out = json_object_get(v);
		json_object_object_del(parent, last);
		return 0;
	}
	if (!json_object_is_type(parent, json_type_array) ||
	    array_index(parent, last, false, &idx))
		return -ENOENT;
	if (out)
		*out = json_object_get(json_object_array_get_idx(parent, idx));
	json_object_array_del_idx(parent, idx, 1);
	return 0;
}

/* Put val (reference taken) at ptr; replace requires it to exist. */
static int op_add(struct json_object *doc, const char *ptr,
		  struct json_object *val, bool replace)
{
	struct json_object *parent, *cur;
	char last[PATCH_MAX_PATH];
	size_t idx;

	if (resolve(doc, ptr, &parent, last, sizeof(last)))
		goto fail;
	if (json_object_is_type(parent, json_type_object)) {
		if (replace && !json_object_object_get_ex(parent, last, &cur))
			goto fail;
		json_object_object_add(parent, last, val);
		return 0;
	}
	if (!json_object_is_type(parent, json_type_array) ||
	    array_index(parent, last, !replace, &idx))
		goto fail;
	if (replace)
		json_object_array_put_idx(parent, idx, val);
	else
		array_insert(parent, idx, val);
	return 0;
fail:
	json_object_put(val);
	return -ENOENT;
}

static int apply_op(struct json_object **doc, struct json_object *op,
		    size_t *copied, char *err, size_t errsize)
{
	const char *name = berth_json_get_str(op, "op");
	const char *path = berth_json_get_str(op, "path");
	const char *from = berth_json_get_str(op, "from");
	struct json_object *value = NULL, *v = NULL, *cur;
	bool has_value = json_object_is_type(op, json_type_object) &&
			 json_object_object_get_ex(op, "value", &value);
	char last[PATCH_MAX_PATH];
	int ret;

	if (!name || !path) {
		snprintf(err, errsize,
			 "json patch operation needs op and path");
		return -EINVAL;
	}
	if (!*path) {
		/* the whole document */
		if (!strcmp(name, "test")) {
			if (!berth_json_equal(*doc, value))
				goto test_failed;
			return 0;
		}
		if ((strcmp(name, "add") && strcmp(name, "replace")) ||
		    !has_value || !json_object_is_type(value, json_type_object))
			goto bad_path;
		json_object_put(*doc);
		*doc = berth_json_copy(value);
		return 0;
	}
	if (!strcmp(name, "add") || !strcmp(name, "replace")) {
		if (!has_value) {
			snprintf(err, errsize,
				 "json patch %s operation needs value", name);
			return -EINVAL;
		}
		ret = op_add(*doc, path, berth_json_copy(value),
			     !strcmp(name, "replace"));
	} else if (!strcmp(name, "remove")) {
		ret = op_remove(*doc, path, NULL);
	} else if (!strcmp(name, "move") || !strcmp(name, "copy")) {
		if (!from)
			goto bad_path;
		if (!strcmp(name, "move")) {
			if (!strncmp(path, from, strlen(from)) &&
			    path[strlen(from)] == '/')
				goto bad_path; /* into its own child */
			ret = op_remove(*doc, from, &v);
		} else {
			ret = resolve(*doc, from, &cur, last, sizeof(last));
			if (!ret && json_object_is_type(cur, json_type_object))
				ret = json_object_object_get_ex(cur, last, &v) ?
					      0 :
					      -ENOENT;
			else if (!ret)
				ret = -ENOENT;
			if (!ret) {
				size_t len = 0;

				berth_json_str(v, &len);
				*copied += len;
				if (*copied > PATCH_MAX_COPY) {
					snprintf(
						err, errsize,
						"json patch copies more than %d bytes",
						PATCH_MAX_COPY);
					return -EINVAL;
				}
				v = berth_json_copy(v);
			}
		}
		if (!ret)
			ret = op_add(*doc, path, v, false);
	} else if (!strcmp(name, "test")) {
		ret = resolve(*doc, path, &cur, last, sizeof(last));
		if (ret)
			goto bad_path;
		if (json_object_is_type(cur, json_type_object))
			v = json_object_object_get_ex(cur, last, &v) ? v : NULL;
		else if (json_object_is_type(cur, json_type_array) &&
			 !array_index(cur, last, false, (size_t[]){ 0 }))
			v = json_object_array_get_idx(cur,
						      strtoul(last, NULL, 10));
		else
			v = NULL;
		if (!v && !value)
			goto test_failed;
		if (!berth_json_equal(v, value))
			goto test_failed;
		return 0;
	} else {
		snprintf(err, errsize, "Unexpected kind: %s", name);
		return -EINVAL;
	}
	if (ret)
		goto bad_path;
	return 0;
bad_path:
	snprintf(
		err, errsize,
		"json patch %s operation does not apply: doc is missing path: \"%s\"",
		name, path);
	return -EINVAL;
test_failed:
	snprintf(err, errsize, "testing value %s failed", path);
	return -EINVAL;
}

/*
 * Does v nest more than budget levels? json-c's tokener counts a scalar
 * inside the deepest container as a level too. Recursion bounded by budget.
 */
static bool too_deep(struct json_object *v, int budget)
{
	size_t i, n;

	if (budget <= 0)
		return true;
	if (json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, k, c)
		{
			(void)k;
			if (too_deep(c, budget - 1))
				return true;
		}
	} else if (json_object_is_type(v, json_type_array)) {
		n = json_object_array_length(v);
		for (i = 0; i < n; i++)
			if (too_deep(json_object_array_get_idx(v, i),
				     budget - 1))
				return true;
	}
	return false;
}

struct json_object *berth_json_patch(struct json_object *doc,
				     struct json_object *patch, char *err,
				     size_t errsize)
{
	struct json_object *out;
	size_t i, n, copied = 0;

	if (!json_object_is_type(patch, json_type_array)) {
		snprintf(err, errsize,
			 "a json patch must be an array of operations");
		return NULL;
	}
	out = berth_json_copy(doc);
	n = json_object_array_length(patch);
	for (i = 0; i < n; i++) {
		if (apply_op(&out, json_object_array_get_idx(patch, i), &copied,
			     err, errsize)) {
			json_object_put(out);
			return NULL;
		}
	}
	/* paths reach into the document: a value added deep inside it can
	 * nest past what the server parses back (the store, watches) */
	if (too_deep(out, BERTH_JSON_MAX_DEPTH)) {
		snprintf(err, errsize,
			 "the patched object nests deeper than %d levels",
			 BERTH_JSON_MAX_DEPTH);
		json_object_put(out);
		return NULL;
	}
	return out;
}

/* ---- strategic merge patch ---- */

struct merge_rule {
	const char *suffix; /* matched at a '.' boundary, or "=" + exact */
	const char *key; /* NULL: merge a list of primitives as a set */
};

static const struct merge_rule merge_rules[] = {
	{ "containers.ports", "containerPort" },
	{ "initContainers.ports", "containerPort" },
	{ "ephemeralContainers.ports", "containerPort" },
	{ "env", "name" },
	{ "volumeMounts", "mountPath" },
	{ "volumeDevices", "devicePath" },
	{ "containers", "name" },
	{ "initContainers", "name" },
	{ "ephemeralContainers", "name" },
	{ "volumes", "name" },
	{ "imagePullSecrets", "name" },
	{ "hostAliases", "ip" },
	{ "topologySpreadConstraints", "topologyKey" },
	{ "resourceClaims", "name" },
	{ "schedulingGates", "name" },
	{ "=spec.ports", "port" }, /* Service */
	{ "conditions", "type" },
	{ "=status.addresses", "type" }, /* Node */
	{ "podIPs", "ip" },
	{ "hostIPs", "ip" },
	{ "=metadata.ownerReferences", "uid" },
	{ "=secrets", "name" }, /* ServiceAccount */
	{ "=metadata.finalizers", NULL },
};

int berth_list_strategy(const char *path, const char **key)
{
	size_t i, pl = strlen(path);

	for (i = 0; i < sizeof(merge_rules) / sizeof(merge_rules[0]); i++) {
		const char *s = merge_rules[i].suffix;
		size_t sl;
		bool hit;

		if (*s == '=') {
			hit = !strcmp(path, s + 1);
		} else {
			sl = strlen(s);
			hit = pl >= sl && !strcmp(path + pl - sl, s) &&
			      (pl == sl || path[pl - sl - 1] == '.');
		}
		if (hit) {
			*key = merge_rules[i].key;
			return *key ? 1 : 2;
		}
	}
	return 0;
}

/* Deep copy without "$..." directive keys. */
static struct json_object *clean(struct json_object *v)
{
	struct json_object *o;
	size_t i, n;

	if (json_object_is_type(v, json_type_object)) {
		o = json_object_new_object();
		json_object_object_foreach(v, k, c)
		{
			if (*k == '$')
				continue;
			json_object_object_add(o, k, clean(c));
		}
		return o;
	}
	if (json_object_is_type(v, json_type_array)) {
		o = json_object_new_array();
		n = json_object_array_length(v);
		for (i = 0; i < n; i++) {
			struct json_object *e = json_object_array_get_idx(v, i);
			/* list directives ($patch: delete/replace) are not items */
			if (berth_json_get_str(e, "$patch"))
				continue;
			json_object_array_add(o, clean(e));
		}
		return o;
	}
	return berth_json_copy(v);
}

static int smp_map(struct json_object *orig, struct json_object *patch,
		   const char *path, char *err, size_t errsize);

static void join(char *buf, size_t size, const char *path, const char *k)
{
	snprintf(buf, size, "%s%s%s", path, *path ? "." : "", k);
}

static ssize_t find_keyed(struct json_object *list, const char *key,
			  struct json_object *want)
{
	size_t i, n = json_object_array_length(list);
	struct json_object *v;

	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(list, i);

		if (json_object_is_type(e, json_type_object) &&
		    json_object_object_get_ex(e, key, &v) &&
		    berth_json_equal(v, want))
			return i;
	}
	return -1;
}

static ssize_t find_value(struct json_object *list, struct json_object *want)
{
	size_t i, n = json_object_array_length(list);

	for (i = 0; i < n; i++)
		if (berth_json_equal(json_object_array_get_idx(list, i), want))
			return i;
	return -1;
}

/* Merge patch list pl into orig (modified in place); NULL orig: new list. */
static struct json_object *smp_list(struct json_object *orig,
				    struct json_object *pl, const char *path,
				    char *err, size_t errsize)
{
	const char *key = NULL;
	int strategy = berth_list_strategy(path, &key);
	size_t i, n = json_object_array_length(pl);

	if (!strategy || !json_object_is_type(orig, json_type_array)) {
		json_object_put(orig);
		return clean(pl);
	}
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(pl, i);
		const char *d = berth_json_get_str(e, "$patch");

		if (d && !strcmp(d, "replace")) {
			json_object_put(orig);
			return clean(pl);
		}
	}
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(pl, i), *kv;
		const char *d;
		ssize_t at;

		if (strategy == 2) {
			if (find_value(orig, e) < 0)
				json_object_array_add(orig, berth_json_copy(e));
			continue;
		}
		if (!json_object_is_type(e, json_type_object) ||
		    !json_object_object_get_ex(e, key, &kv)) {
			snprintf(
				err, errsize,
				"map: %s does not contain declared merge key: %s",
				path, key);
			json_object_put(orig);
			return NULL;
		}
		at = find_keyed(orig, key, kv);
		d = berth_json_get_str(e, "$patch");
		if (d && !strcmp(d, "delete")) {
			if (at >= 0)
				json_object_array_del_idx(orig, at, 1);
			continue;
		}
		if (at < 0) {
			json_object_array_add(orig, clean(e));
			continue;
		}
		if (smp_map(json_object_array_get_idx(orig, at), e, path, err,
			    errsize)) {
			json_object_put(orig);
			return NULL;
		}
	}
	return orig;
}

/* $setElementOrder/<field>: put the listed elements first, in that order. */
static void set_order(struct json_object *list, struct json_object *order,
		      const char *path)
{
	const char *key = NULL;
	int strategy = berth_list_strategy(path, &key);
	size_t i, pos = 0, n;

	if (!strategy || !json_object_is_type(list, json_type_array) ||
	    !json_object_is_type(order, json_type_array))
		return;
	n = json_object_array_length(order);
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(order, i),
				   *kv;
		ssize_t at;

		if (strategy == 1) {
			if (!json_object_object_get_ex(o, key, &kv))
				continue;
			at = find_keyed(list, key, kv);
		} else {
			at = find_value(list, o);
		}
		if (at < 0 || (size_t)at < pos)
			continue;
		if ((size_t)at != pos) {
			struct json_object *e = json_object_get(
				json_object_array_get_idx(list, at));

			json_object_array_del_idx(list, at, 1);
			array_insert(list, pos, e);
		}
		pos++;
	}
}

static bool str_in(struct json_object *arr, const char *s)
{
	size_t i, n = json_object_array_length(arr);

	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(arr, i);

		if (json_object_is_type(e, json_type_string) &&
		    !strcmp(json_object_get_string(e), s))
			return true;
	}
	return false;
}

/* Merge map patch into map orig in place; 1: orig is to be deleted. */
static int smp_map(struct json_object *orig, struct json_object *patch,
		   const char *path, char *err, size_t errsize)
{
	const char *d = berth_json_get_str(patch, "$patch");
	struct json_object *retain = NULL, *cur;
	char sub[PATCH_MAX_PATH];

	if (d && !strcmp(d, "delete"))
		return 1;
	if (d && !strcmp(d, "replace")) {
		struct json_object *c = clean(patch);
		struct json_object *keys = json_object_new_array();
		size_t i;

		json_object_object_foreach(orig, k0, v0)
		{
			(void)v0;
			json_object_array_add(keys, json_object_new_string(k0));
		}
		for (i = 0; i < json_object_array_length(keys); i++)
			json_object_object_del(
				orig,
				json_object_get_string(
					json_object_array_get_idx(keys, i)));
		json_object_put(keys);
		json_object_object_foreach(c, k1, v1)
			json_object_object_add(orig, k1, json_object_get(v1));
		json_object_put(c);
		return 0;
	}
	json_object_object_foreach(patch, k, v)
	{
		if (!strcmp(k, "$patch"))
			continue;
		if (!strcmp(k, "$retainKeys")) {
			retain = v;
			continue;
		}
		if (!strncmp(k, "$deleteFromPrimitiveList/", 25)) {
			size_t i, n;

			if (!json_object_object_get_ex(orig, k + 25, &cur) ||
			    !json_object_is_type(cur, json_type_array) ||
			    !json_object_is_type(v, json_type_array))
				continue;
			n = json_object_array_length(v);
			for (i = 0; i < n; i++) {
				ssize_t at;

				while ((at = find_value(
						cur, json_object_array_get_idx(
							     v, i))) >= 0)
					json_object_array_del_idx(cur, at, 1);
			}
			continue;
		}
		if (*k == '$')
			continue; /* $setElementOrder: after the merge */
		if (!v) {
			json_object_object_del(orig, k);
			continue;
		}
		join(sub, sizeof(sub), path, k);
		cur = NULL;
		json_object_object_get_ex(orig, k, &cur);
		if (json_object_is_type(v, json_type_object)) {
			int r;

			if (!json_object_is_type(cur, json_type_object)) {
				const char *dd =
					berth_json_get_str(v, "$patch");

				if (!(dd && !strcmp(dd, "delete")))
					json_object_object_add(orig, k,
							       clean(v));
				continue;
			}
			r = smp_map(cur, v, sub, err, errsize);
			if (r < 0)
				return r;
			if (r == 1)
				json_object_object_del(orig, k);
		} else if (json_object_is_type(v, json_type_array)) {
			struct json_object *l;

			l = smp_list(cur ? json_object_get(cur) : NULL, v, sub,
				     err, errsize);
			if (!l)
				return -EINVAL;
			json_object_object_add(orig, k, l);
		} else {
			json_object_object_add(orig, k, berth_json_copy(v));
		}
	}
	json_object_object_foreach(patch, k2, v2)
	{
		if (strncmp(k2, "$setElementOrder/", 17))
			continue;
		join(sub, sizeof(sub), path, k2 + 17);
		if (json_object_object_get_ex(orig, k2 + 17, &cur))
			set_order(cur, v2, sub);
	}
	if (json_object_is_type(retain, json_type_array)) {
		struct json_object *drop = json_object_new_array();
		size_t i;

		json_object_object_foreach(orig, k3, v3)
		{
			(void)v3;
			if (!str_in(retain, k3))
				json_object_array_add(
					drop, json_object_new_string(k3));
		}
		for (i = 0; i < json_object_array_length(drop); i++)
			json_object_object_del(
				orig,
				json_object_get_string(
					json_object_array_get_idx(drop, i)));
		json_object_put(drop);
	}
	return 0;
}

struct json_object *berth_strategic_patch(struct json_object *doc,
					  struct json_object *patch, char *err,
					  size_t errsize)
{
	struct json_object *out;
	int r;

	if (!json_object_is_type(patch, json_type_object)) {
		snprintf(err, errsize,
			 "a strategic merge patch must be a JSON object");
		return NULL;
	}
	out = berth_json_copy(doc);
	r = smp_map(out, patch, "", err, errsize);
	if (r) {
		if (r == 1)
			snprintf(err, errsize,
				 "$patch: delete of the whole object");
		json_object_put(out);
		return NULL;
	}
	return out;
}
