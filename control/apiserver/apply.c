// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Server-side apply and field ownership over json-c trees. A field set
 * (FieldsV1 without its nesting) is a json-c object used as a hash set
 * whose keys are paths: elements such as "f:spec" or "k:{\"name\":\"c\"}"
 * joined by PATH_SEP.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "jsonutil.h"
#include "patch.h"
#include "status.h"

#define APPLY_MAX_PATH 2048 /* fields below a longer path are not tracked */
#define PATH_SEP '\x1f' /* json-c escapes it inside k: keys */
#define MAX_CAUSES 64 /* conflicts listed in one Status */

/* Where a walk over an object is: dotted names and the set path. */
struct walk {
	char dot[APPLY_MAX_PATH]; /* "spec.template.spec.containers" */
	size_t dl;
	char fp[APPLY_MAX_PATH];
	size_t fl;
	char ek[APPLY_MAX_PATH]; /* scratch for an element key */
};

/* One managedFields entry and its field set. */
struct owner {
	struct json_object *entry;
	struct json_object *set;
	bool dirty; /* set changed: rewrite fieldsV1 and time */
};

struct owners {
	struct owner *v;
	size_t n;
};

static const char *const untracked_meta[] = { "name",
					      "namespace",
					      "managedFields",
					      "resourceVersion",
					      "uid",
					      "creationTimestamp",
					      "generation",
					      "selfLink",
					      "deletionTimestamp",
					      "deletionGracePeriodSeconds",
					      NULL };

/* Append sep (unless empty), pre and s to buf; false if it would not fit. */
static bool push(char *buf, size_t *len, char sep, const char *pre,
		 const char *s)
{
	size_t np = strlen(pre), ns = strlen(s), l = *len;

	if (l + 1 + np + ns + 1 > APPLY_MAX_PATH)
		return false;
	if (l)
		buf[l++] = sep;
	memcpy(buf + l, pre, np);
	memcpy(buf + l + np, s, ns + 1);
	*len = l + np + ns;
	return true;
}

static void cut(char *buf, size_t *len, size_t to)
{
	*len = to;
	buf[to] = '\0';
}

static void set_add(struct json_object *set, const char *p)
{
	json_object_object_add(set, p, NULL);
}

static bool set_has(struct json_object *set, const char *p)
{
	return json_object_object_get_ex(set, p, NULL);
}

static bool untracked(const struct walk *w, const char *k)
{
	int i;

	if (!w->dl)
		return !strcmp(k, "apiVersion") || !strcmp(k, "kind");
	if (strcmp(w->dot, "metadata"))
		return false;
	for (i = 0; untracked_meta[i]; i++)
		if (!strcmp(k, untracked_meta[i]))
			return true;
	return false;
}

/* "k:{"name":"x"}" for a list-map element; false if it has no key. */
static bool elem_key(const char *key, struct json_object *e, char *buf,
		     size_t size)
{
	struct json_object *kv, *o;
	int n;

	if (!json_object_object_get_ex(e, key, &kv) || !kv)
		return false;
	o = json_object_new_object();
	json_object_object_add(o, key, json_object_get(kv));
	n = snprintf(buf, size, "k:%s",
		     json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
	return n > 0 && (size_t)n < size;
}

static void collect(struct json_object *obj, struct walk *w,
		    struct json_object *set);

/* The field at w, value v, and the fields under it. */
static void member(struct json_object *v, struct walk *w,
		   struct json_object *set)
{
	const char *key;
	size_t i, n, fl = w->fl;

	if (json_object_is_type(v, json_type_object) &&
	    json_object_object_length(v)) {
		collect(v, w, set);
		return;
	}
	if (!json_object_is_type(v, json_type_array) ||
	    !json_object_array_length(v) ||
	    berth_list_strategy(w->dot, &key) != 1) {
		set_add(set, w->fp);
		return;
	}
	n = json_object_array_length(v);
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(v, i);

		if (!elem_key(key, e, w->ek, sizeof(w->ek)) ||
		    !push(w->fp, &w->fl, PATH_SEP, "", w->ek))
			continue;
		set_add(set, w->fp);
		if (json_object_is_type(e, json_type_object))
			collect(e, w, set);
		cut(w->fp, &w->fl, fl);
	}
}

/* Add the paths of the fields of obj (at w) to set. */
static void collect(struct json_object *obj, struct walk *w,
		    struct json_object *set)
{
	size_t dl = w->dl, fl = w->fl;

	json_object_object_foreach(obj, k, v)
	{
		if (!v || untracked(w, k))
			continue; /* an applied null sets nothing */
		if (push(w->dot, &w->dl, '.', "", k) &&
		    push(w->fp, &w->fl, PATH_SEP, "f:", k))
			member(v, w, set);
		cut(w->dot, &w->dl, dl);
		cut(w->fp, &w->fl, fl);
	}
}

/* The field set of obj; NULL only if w cannot be allocated. */
static struct json_object *fields_of(struct json_object *obj)
{
	struct json_object *set = json_object_new_object();
	struct walk *w = calloc(1, sizeof(*w));

	if (w && json_object_is_type(obj, json_type_object))
		collect(obj, w, set);
	free(w);
	return set;
}

/* FieldsV1 tree fs (at path p) into set. */
static void flatten(struct json_object *fs, char *p, size_t *len,
		    struct json_object *set, int depth)
{
	size_t l = *len;

	if (!json_object_is_type(fs, json_type_object) ||
	    depth > BERTH_JSON_MAX_DEPTH)
		return;
	json_object_object_foreach(fs, k, v)
	{
		if (!strcmp(k, ".")) {
			if (l)
				set_add(set, p);
			continue;
		}
		if (!push(p, len, PATH_SEP, "", k))
			continue;
		if (json_object_is_type(v, json_type_object) &&
		    json_object_object_length(v))
			flatten(v, p, len, set, depth + 1);
		else
			set_add(set, p);
		cut(p, len, l);
	}
}

/* The node of tree at path p, created as needed. */
static struct json_object *node_at(struct json_object *tree, const char *p)
{
	char buf[APPLY_MAX_PATH], *s, *e;
	struct json_object *c;

	snprintf(buf, sizeof(buf), "%s", p);
	for (s = buf; s; s = e) {
		e = strchr(s, PATH_SEP);
		if (e)
			*e++ = '\0';
		if (!json_object_object_get_ex(tree, s, &c)) {
			c = json_object_new_object();
			json_object_object_add(tree, s, c);
		}
		tree = c;
	}
	return tree;
}

/* set as a FieldsV1 tree: a member with members of its own gets ".". */
static struct json_object *unflatten(struct json_object *set)
{
	struct json_object *tree = json_object_new_object(), *n;

	json_object_object_foreach(set, p, u1)
	{
		(void)u1;
		node_at(tree, p);
	}
	json_object_object_foreach(set, q, u2)
	{
		(void)u2;
		n = node_at(tree, q);
		if (json_object_object_length(n) && !set_has(n, "."))
			json_object_object_add(n, ".",
					       json_object_new_object());
	}
	return tree;
}

/* Index of the element of list whose fields match the JSON object js. */
static ssize_t find_keyed(struct json_object *list, const char *js)
{
	struct json_object *want = berth_json_parse(js, strlen(js), NULL);
	size_t i, n = json_object_array_length(list);
	ssize_t found = -1;

	if (!json_object_is_type(want, json_type_object))
		goto out;
	for (i = 0; i < n && found < 0; i++) {
		struct json_object *e = json_object_array_get_idx(list, i), *v;
		bool all = true;

		json_object_object_foreach(want, k, wv)
		{
			if (!json_object_object_get_ex(e, k, &v) ||
			    !berth_json_equal(v, wv)) {
				all = false;
				break;
			}
		}
		if (all)
			found = (ssize_t)i;
	}
out:
	json_object_put(want);
	return found;
}

/* The value at path p in obj, or NULL; *parent and *idx locate it. */
static struct json_object *resolve(struct json_object *obj, const char *p,
				   struct json_object **parent, ssize_t *idx)
{
	char buf[APPLY_MAX_PATH], *s, *e;
	struct json_object *next;
	ssize_t at;

	snprintf(buf, sizeof(buf), "%s", p);
	for (s = buf; s && obj; s = e, obj = next) {
		e = strchr(s, PATH_SEP);
		if (e)
			*e++ = '\0';
		if (parent)
			*parent = obj;
		next = NULL;
		at = -1;
		if (!strncmp(s, "f:", 2)) {
			json_object_object_get_ex(obj, s + 2, &next);
		} else if (!strncmp(s, "k:", 2) &&
			   json_object_is_type(obj, json_type_array)) {
			at = find_keyed(obj, s + 2);
			if (at >= 0)
				next = json_object_array_get_idx(obj, at);
		}
		if (idx)
			*idx = at;
	}
	return obj;
}

static void delete_at(struct json_object *obj, const char *p)
{
	const char *last = strrchr(p, PATH_SEP);
	struct json_object *parent = NULL;
	ssize_t idx = -1;

	last = last ? last + 1 : p;
	if (!resolve(obj, p, &parent, &idx))
		return;
	if (idx >= 0)
		json_object_array_del_idx(parent, idx, 1);
	else if (!strncmp(last, "f:", 2))
		json_object_object_del(parent, last + 2);
}

/*
 * Does the field at p change from old to new? A map or list element that
 * is there in both does not: its fields are compared on their own.
 */
static bool differs(struct json_object *old, struct json_object *new,
		    const char *p)
{
	struct json_object *a = resolve(old, p, NULL, NULL);
	struct json_object *b = resolve(new, p, NULL, NULL);

	if (!a || !b)
		return a != b;
	if (json_object_is_type(a, json_type_object) &&
	    json_object_is_type(b, json_type_object) &&
	    json_object_object_length(b))
		return false;
	return !berth_json_equal(a, b);
}

/* ".spec.containers[name="c"].image" for messages. */
static void pretty(const char *p, char *buf, size_t size)
{
	char tmp[APPLY_MAX_PATH], *s, *e;
	size_t o = 0;

	snprintf(tmp, sizeof(tmp), "%s", p);
	buf[0] = '\0';
	for (s = tmp; s && o < size; s = e) {
		struct json_object *k;
		bool first = true;

		e = strchr(s, PATH_SEP);
		if (e)
			*e++ = '\0';
		if (strncmp(s, "k:", 2)) {
			o += snprintf(buf + o, size - o, ".%s",
				      strncmp(s, "f:", 2) ? s : s + 2);
			continue;
		}
		k = berth_json_parse(s + 2, strlen(s + 2), NULL);
		o += snprintf(buf + o, size - o, "[");
		json_object_object_foreach(k, kk, kv)
		{
			if (o >= size)
				break;
			o += snprintf(buf + o, size - o, "%s%s=%s",
				      first ? "" : ",", kk,
				      json_object_to_json_string_ext(
					      kv, JSON_C_TO_STRING_PLAIN));
			first = false;
		}
		if (o < size)
			o += snprintf(buf + o, size - o, "]");
		json_object_put(k);
	}
}

/* "B" / "B" with subresource "scale" using apps/v1, as Kubernetes says. */
static void who(struct json_object *e, char *buf, size_t size)
{
	const char *m = berth_json_get_str(e, "manager");
	const char *op = berth_json_get_str(e, "operation");
	const char *sub = berth_json_get_str(e, "subresource");
	const char *av = berth_json_get_str(e, "apiVersion");
	size_t o;

	o = snprintf(buf, size, "\"%s\"", m ? m : "");
	if (sub && *sub && o < size)
		o += snprintf(buf + o, size - o, " with subresource \"%s\"",
			      sub);
	if (op && !strcmp(op, "Update") && o < size)
		snprintf(buf + o, size - o, " using %s", av ? av : "");
}

static bool is_owner(struct json_object *e, const char *manager, const char *op,
		     const char *sub)
{
	const char *m = berth_json_get_str(e, "manager");
	const char *o = berth_json_get_str(e, "operation");
	const char *s = berth_json_get_str(e, "subresource");

	if (!m || !o || strcmp(m, manager) || strcmp(o, op))
		return false;
	return !strcmp(s ? s : "", sub ? sub : "");
}

/* The owners in managedFields mf (a json array, references kept). */
static int owners_load(struct owners *o, struct json_object *mf)
{
	size_t i, n = json_object_is_type(mf, json_type_array) ?
			      json_object_array_length(mf) :
			      0;
	char p[APPLY_MAX_PATH];

	o->n = 0;
	o->v = calloc(n ? n : 1, sizeof(*o->v));
	if (!o->v)
		return -1;
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(mf, i);
		size_t len = 0;

		if (!json_object_is_type(e, json_type_object) ||
		    !berth_json_get_str(e, "manager"))
			continue;
		p[0] = '\0';
		o->v[o->n].entry = json_object_get(e);
		o->v[o->n].set = json_object_new_object();
		flatten(berth_json_path(e, "fieldsV1"), p, &len, o->v[o->n].set,
			0);
		o->n++;
	}
	return 0;
}

static void owners_free(struct owners *o)
{
	size_t i;

	for (i = 0; i < o->n; i++) {
		json_object_put(o->v[i].entry);
		json_object_put(o->v[i].set);
	}
	free(o->v);
}

static ssize_t owners_find(struct owners *o, const char *manager,
			   const char *op, const char *sub)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if (is_owner(o->v[i].entry, manager, op, sub))
			return (ssize_t)i;
	return -1;
}

/* Remove the paths of drop from owner w; true if any was there. */
static bool set_sub(struct owner *w, struct json_object *drop)
{
	bool any = false;

	json_object_object_foreach(drop, p, u)
	{
		(void)u;
		if (set_has(w->set, p)) {
			json_object_object_del(w->set, p);
			any = true;
		}
	}
	w->dirty |= any;
	return any;
}

/* Does set hold p or a path under it? */
static bool set_has_under(struct json_object *set, const char *p)
{
	size_t n = strlen(p);

	json_object_object_foreach(set, q, u)
	{
		(void)u;
		if (!strncmp(q, p, n) && (q[n] == '\0' || q[n] == PATH_SEP))
			return true;
	}
	return false;
}

/* Does an owner other than skip own p or a field under it? */
static bool owned_elsewhere(struct owners *o, ssize_t skip, const char *p)
{
	size_t i;

	for (i = 0; i < o->n; i++)
		if ((ssize_t)i != skip && set_has_under(o->v[i].set, p))
			return true;
	return false;
}

static void stamp(struct json_object *entry, struct json_object *set)
{
	time_t t = time(NULL);
	struct tm tm;
	char ts[32];

	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	berth_json_set_str(entry, "time", ts);
	berth_json_set_str(entry, "fieldsType", "FieldsV1");
	json_object_object_add(entry, "fieldsV1", unflatten(set));
}

static struct json_object *new_entry(const char *manager, const char *op,
				     const char *sub, struct json_object *obj)
{
	struct json_object *e = json_object_new_object();
	const char *av = berth_json_get_str(obj, "apiVersion");

	berth_json_set_str(e, "manager", manager);
	berth_json_set_str(e, "operation", op);
	if (av)
		berth_json_set_str(e, "apiVersion", av);
	if (sub)
		berth_json_set_str(e, "subresource", sub);
	return e;
}

/*
 * Write the owners back as obj's managedFields: changed sets restamped,
 * empty ones dropped (and managedFields with them when none is left).
 */
static void owners_store(struct owners *o, struct json_object *obj)
{
	struct json_object *mf = json_object_new_array();
	size_t i;

	for (i = 0; i < o->n; i++) {
		struct owner *w = &o->v[i];

		if (!json_object_object_length(w->set))
			continue;
		if (w->dirty)
			stamp(w->entry, w->set);
		json_object_array_add(mf, json_object_get(w->entry));
	}
	if (json_object_array_length(mf))
		json_object_object_add(berth_json_obj(obj, "metadata"),
				       "managedFields", mf);
	else {
		json_object_put(mf);
		json_object_object_del(berth_json_obj(obj, "metadata"),
				       "managedFields");
	}
}

/* Append a new owner (taking entry) with an empty set. */
static struct owner *owners_add(struct owners *o, struct json_object *entry)
{
	struct owner *v = realloc(o->v, (o->n + 1) * sizeof(*v));

	if (!v) {
		json_object_put(entry);
		return NULL;
	}
	o->v = v;
	v[o->n] = (struct owner){ .entry = entry,
				  .set = json_object_new_object(),
				  .dirty = true };
	return &v[o->n++];
}

/* Copies of the entries of obj's managedFields, so edits stay local. */
static struct json_object *managed_copy(struct json_object *obj)
{
	struct json_object *mf = berth_json_path(obj, "metadata.managedFields");

	return json_object_is_type(mf, json_type_array) ? berth_json_copy(mf) :
							  NULL;
}

#define MERGE_MAX_PATH 512 /* dotted names, for berth_list_strategy */

static void join(char *buf, size_t size, const char *path, const char *k)
{
	snprintf(buf, size, "%s%s%s", path, *path ? "." : "", k);
}

static ssize_t find_elem(struct json_object *list, const char *key,
			 struct json_object *want)
{
	size_t i, n = json_object_array_length(list);
	struct json_object *v;

	for (i = 0; i < n; i++)
		if (json_object_object_get_ex(
			    json_object_array_get_idx(list, i), key, &v) &&
		    berth_json_equal(v, want))
			return (ssize_t)i;
	return -1;
}

/* Merge cfg into live (both objects) at path. */
static void merge(struct json_object *live, struct json_object *cfg,
		  const char *path)
{
	char sub[MERGE_MAX_PATH];
	const char *key;
	size_t i, n;

	json_object_object_foreach(cfg, k, v)
	{
		struct json_object *cur = NULL;

		if (!v)
			continue;
		join(sub, sizeof(sub), path, k);
		json_object_object_get_ex(live, k, &cur);
		if (json_object_is_type(v, json_type_object) &&
		    json_object_is_type(cur, json_type_object)) {
			merge(cur, v, sub);
		} else if (json_object_is_type(v, json_type_array) &&
			   json_object_is_type(cur, json_type_array) &&
			   berth_list_strategy(sub, &key) == 1) {
			n = json_object_array_length(v);
			for (i = 0; i < n; i++) {
				struct json_object
					*e = json_object_array_get_idx(v, i),
					*kv;
				ssize_t at;

				if (!json_object_object_get_ex(e, key, &kv))
					continue;
				at = find_elem(cur, key, kv);
				if (at < 0)
					json_object_array_add(
						cur, berth_json_copy(e));
				else
					merge(json_object_array_get_idx(cur,
									at),
					      e, sub);
			}
		} else {
			json_object_object_add(live, k, berth_json_copy(v));
		}
	}
}

/* Who (name) holds the conflict x ([owner index, path]) and where (field). */
static void describe(struct owners *o, struct json_object *x, char *name,
		     size_t nsize, char *field, size_t fsize)
{
	int i = json_object_get_int(json_object_array_get_idx(x, 0));

	who(o->v[i].entry, name, nsize);
	pretty(json_object_get_string(json_object_array_get_idx(x, 1)), field,
	       fsize);
}

/* The 409 for the conflicts c, each [owner index, path]. */
static struct json_object *conflict_status(struct owners *o,
					   struct json_object *c)
{
	size_t i, n = json_object_array_length(c), off = 0;
	char msg[1024], field[512], name[256], cause[320];
	struct json_object *st;

	msg[0] = '\0';
	for (i = 0; i < n && off < sizeof(msg); i++) {
		describe(o, json_object_array_get_idx(c, i), name, sizeof(name),
			 field, sizeof(field));
		off += snprintf(msg + off, sizeof(msg) - off,
				"%sconflict with %s: %s", i ? "\n" : "", name,
				field);
	}
	st = berth_status_new(409, "Conflict",
			      "Apply failed with %zu conflict%s: %s", n,
			      n == 1 ? "" : "s", msg);
	for (i = 0; i < n && i < MAX_CAUSES; i++) {
		describe(o, json_object_array_get_idx(c, i), name, sizeof(name),
			 field, sizeof(field));
		snprintf(cause, sizeof(cause), "conflict with %s", name);
		berth_status_cause(st, "FieldManagerConflict", field, cause);
	}
	return st;
}

/*
 * Fields of now that the apply changes (live -> out) and another owner
 * holds: listed in *conflicts as [owner, path], or with force taken away
 * from that owner.
 */
static struct json_object *conflicts(struct owners *o, ssize_t self,
				     struct json_object *now,
				     struct json_object *live,
				     struct json_object *out, bool force)
{
	struct json_object *c = json_object_new_array();
	size_t i;

	for (i = 0; i < o->n; i++) {
		struct json_object *lost;

		if ((ssize_t)i == self)
			continue;
		lost = json_object_new_object();
		json_object_object_foreach(o->v[i].set, p, u)
		{
			struct json_object *x;

			(void)u;
			if (!set_has(now, p) || !differs(live, out, p))
				continue;
			set_add(lost, p);
			x = json_object_new_array();
			json_object_array_add(x, json_object_new_int((int)i));
			json_object_array_add(x, json_object_new_string(p));
			json_object_array_add(c, x);
		}
		if (force)
			set_sub(&o->v[i], lost);
		json_object_put(lost);
	}
	return c;
}

/* Does set hold a path above p? */
static bool has_ancestor(struct json_object *set, const char *p)
{
	char buf[APPLY_MAX_PATH], *e;

	snprintf(buf, sizeof(buf), "%s", p);
	while ((e = strrchr(buf, PATH_SEP))) {
		*e = '\0';
		if (set_has(set, buf))
			return true;
	}
	return false;
}

/*
 * Remove from out what owner self applied before and not now, unless
 * another owner has it; only the topmost of nested paths is deleted, as a
 * list-map element cannot be found once its key field is gone.
 */
static void prune(struct json_object *out, struct owners *o, ssize_t self,
		  struct json_object *now)
{
	struct json_object *drop = json_object_new_object();

	json_object_object_foreach(o->v[self].set, p, u1)
	{
		(void)u1;
		if (!set_has(now, p) && !owned_elsewhere(o, self, p))
			set_add(drop, p);
	}
	json_object_object_foreach(drop, q, u2)
	{
		char up[APPLY_MAX_PATH], *e;

		(void)u2;
		if (has_ancestor(drop, q))
			continue;
		delete_at(out, q);
		/* and the maps and lists that held only what went */
		snprintf(up, sizeof(up), "%s", q);
		while ((e = strrchr(up, PATH_SEP))) {
			struct json_object *v;

			*e = '\0';
			v = resolve(out, up, NULL, NULL);
			if (!(json_object_is_type(v, json_type_object) &&
			      !json_object_object_length(v)) &&
			    !(json_object_is_type(v, json_type_array) &&
			      !json_object_array_length(v)))
				break;
			if (set_has_under(now, up) ||
			    owned_elsewhere(o, self, up))
				break;
			delete_at(out, up);
		}
	}
	json_object_put(drop);
}

static bool set_equal(struct json_object *a, struct json_object *b)
{
	if (json_object_object_length(a) != json_object_object_length(b))
		return false;
	json_object_object_foreach(a, p, u)
	{
		(void)u;
		if (!set_has(b, p))
			return false;
	}
	return true;
}

/*
 * Are all conflicts c in the configuration client-side apply recorded in
 * live's last-applied annotation, with live still as it says? Then they
 * come from the same user moving to server-side apply, and Kubernetes lets
 * the apply take them.
 */
static bool from_client_side(struct json_object *live, struct json_object *c)
{
	struct json_object *la, *set;
	const char *js;
	size_t i, n = json_object_array_length(c);
	bool ok = true;

	js = berth_json_get_str(
		berth_json_path(live, "metadata.annotations"),
		"kubectl.kubernetes.io/last-applied-configuration");
	la = js ? berth_json_parse(js, strlen(js), NULL) : NULL;
	if (!json_object_is_type(la, json_type_object)) {
		json_object_put(la);
		return false;
	}
	set = fields_of(la);
	json_object_object_foreach(set, p, u)
	{
		(void)u;
		if (differs(la, live, p)) {
			ok = false;
			break;
		}
	}
	for (i = 0; ok && i < n; i++)
		ok = set_has(set,
			     json_object_get_string(json_object_array_get_idx(
				     json_object_array_get_idx(c, i), 1)));
	json_object_put(set);
	json_object_put(la);
	return ok;
}

struct json_object *berth_apply(struct json_object *live,
				struct json_object *cfg,
				const struct berth_apply_opts *opts,
				struct json_object **status)
{
	struct json_object *out = NULL, *now = NULL, *c = NULL, *mf;
	struct owners o = { 0 };
	bool force = opts->force;
	struct owner *me;
	ssize_t self;

	*status = NULL;
	if (!json_object_is_type(cfg, json_type_object)) {
		*status = berth_status_new(
			422, "Invalid",
			"an apply configuration must be an object");
		return NULL;
	}
	out = live ? berth_json_copy(live) : json_object_new_object();
	mf = managed_copy(out);
	if (owners_load(&o, mf)) {
		json_object_put(mf);
		goto nomem;
	}
	json_object_put(mf);
	now = fields_of(cfg);
	self = owners_find(&o, opts->manager, "Apply", NULL);
	if (self >= 0)
		prune(out, &o, self, now);
	merge(out, cfg, "");
	c = conflicts(&o, self, now, live, out, force);
	if (json_object_array_length(c) && !force &&
	    from_client_side(live, c)) {
		/* upgrade from client-side apply: take those fields */
		force = true;
		json_object_put(c);
		c = conflicts(&o, self, now, live, out, force);
	}
	if (json_object_array_length(c) && !force) {
		*status = conflict_status(&o, c);
		json_object_put(out);
		out = NULL;
		goto out;
	}
	if (self >= 0) {
		me = &o.v[self];
	} else {
		me = owners_add(&o,
				new_entry(opts->manager, "Apply", NULL, cfg));
		if (!me)
			goto nomem;
	}
	if (!set_equal(me->set, now)) {
		json_object_put(me->set);
		me->set = json_object_get(now);
		me->dirty = true;
	}
	owners_store(&o, out);
	goto out;
nomem:
	json_object_put(out);
	out = NULL;
	*status = berth_status_new(500, "InternalError", "out of memory");
out:
	json_object_put(c);
	json_object_put(now);
	owners_free(&o);
	return out;
}

/* Fields of new that old does not have or has with another value. */
static struct json_object *changed_fields(struct json_object *old,
					  struct json_object *new)
{
	struct json_object *all = fields_of(new), *ch;

	if (!old)
		return all;
	ch = json_object_new_object();
	json_object_object_foreach(all, p, u)
	{
		(void)u;
		if (differs(old, new, p))
			set_add(ch, p);
	}
	json_object_put(all);
	return ch;
}

static struct json_object *removed_fields(struct json_object *old,
					  struct json_object *new)
{
	struct json_object *all = fields_of(old), *gone;

	gone = json_object_new_object();
	json_object_object_foreach(all, p, u)
	{
		(void)u;
		if (!resolve(new, p, NULL, NULL))
			set_add(gone, p);
	}
	json_object_put(all);
	return gone;
}

void berth_managed_update(struct json_object *old, struct json_object *new,
			  const char *manager, const char *subresource)
{
	struct json_object *mf, *ch, *gone;
	struct owners o = { 0 };
	struct owner *me;
	ssize_t self;
	size_t i;

	mf = managed_copy(new);
	if (!mf)
		mf = managed_copy(old);
	if (owners_load(&o, mf)) {
		json_object_put(mf);
		return;
	}
	json_object_put(mf);
	ch = changed_fields(old, new);
	gone = old ? removed_fields(old, new) : json_object_new_object();
	self = owners_find(&o, manager, "Update", subresource);
	for (i = 0; i < o.n; i++) {
		set_sub(&o.v[i], gone);
		if ((ssize_t)i != self)
			set_sub(&o.v[i], ch);
	}
	if (json_object_object_length(ch)) {
		me = self >= 0 ? &o.v[self] :
				 owners_add(&o, new_entry(manager, "Update",
							  subresource, new));
		if (me) {
			json_object_object_foreach(ch, p, u)
			{
				(void)u;
				if (!set_has(me->set, p)) {
					set_add(me->set, p);
					me->dirty = true;
				}
			}
		}
	}
	owners_store(&o, new);
	json_object_put(ch);
	json_object_put(gone);
	owners_free(&o);
}
