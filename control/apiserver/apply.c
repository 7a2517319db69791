// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Simplified server-side apply over json-c trees, with FieldsV1 sets. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "apply.h"
#include "jsonutil.h"
#include "patch.h"

#define APPLY_MAX_PATH 512

static void join(char *buf, size_t size, const char *path, const char *k)
{
	snprintf(buf, size, "%s%s%s", path, *path ? "." : "", k);
}

/* "k:{"name":"x"}" for a list-map element. */
static void elem_key(const char *key, struct json_object *kv, char *buf,
		     size_t size)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, key, json_object_get(kv));
	snprintf(buf, size, "k:%s",
		 json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN));
	json_object_put(o);
}

/* The FieldsV1 set of cfg (at path). */
static struct json_object *fieldset(struct json_object *cfg, const char *path)
{
	struct json_object *set = json_object_new_object();
	char sub[APPLY_MAX_PATH], fk[APPLY_MAX_PATH];
	const char *key;
	size_t i, n;

	json_object_object_foreach(cfg, k, v)
	{
		struct json_object *child;

		if (!strcmp(path, "") &&
		    (!strcmp(k, "apiVersion") || !strcmp(k, "kind")))
			continue;
		if (!strcmp(path, "metadata") &&
		    (!strcmp(k, "name") || !strcmp(k, "namespace") ||
		     !strcmp(k, "managedFields") ||
		     !strcmp(k, "resourceVersion")))
			continue;
		join(sub, sizeof(sub), path, k);
		snprintf(fk, sizeof(fk), "f:%s", k);
		if (json_object_is_type(v, json_type_object)) {
			child = fieldset(v, sub);
		} else if (json_object_is_type(v, json_type_array) &&
			   berth_list_strategy(sub, &key) == 1) {
			child = json_object_new_object();
			n = json_object_array_length(v);
			for (i = 0; i < n; i++) {
				struct json_object
					*e = json_object_array_get_idx(v, i),
					*kv, *es;
				char ek[APPLY_MAX_PATH];

				if (!json_object_object_get_ex(e, key, &kv))
					continue;
				elem_key(key, kv, ek, sizeof(ek));
				es = fieldset(e, sub);
				json_object_object_add(
					es, ".", json_object_new_object());
				json_object_object_add(child, ek, es);
			}
		} else {
			child = json_object_new_object();
		}
		json_object_object_add(set, fk, child);
	}
	return set;
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
	char sub[APPLY_MAX_PATH];
	const char *key;
	size_t i, n;

	json_object_object_foreach(cfg, k, v)
	{
		struct json_object *cur = NULL;

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

/* Remove from live what prev owned and now does not (at path). */
static void prune(struct json_object *live, struct json_object *prev,
		  struct json_object *now, const char *path)
{
	char sub[APPLY_MAX_PATH];
	const char *key;

	json_object_object_foreach(prev, fk, pv)
	{
		struct json_object *nv = NULL, *cur = NULL;

		if (strncmp(fk, "f:", 2))
			continue;
		json_object_object_get_ex(now, fk, &nv);
		if (!nv) {
			json_object_object_del(live, fk + 2);
			continue;
		}
		if (!json_object_object_get_ex(live, fk + 2, &cur))
			continue;
		join(sub, sizeof(sub), path, fk + 2);
		if (json_object_is_type(cur, json_type_object)) {
			prune(cur, pv, nv, sub);
		} else if (json_object_is_type(cur, json_type_array) &&
			   berth_list_strategy(sub, &key) == 1) {
			json_object_object_foreach(pv, ek, ev)
			{
				struct json_object *ko, *want = NULL;
				struct json_object *nev = NULL;
				ssize_t at;

				if (strncmp(ek, "k:", 2))
					continue;
				ko = berth_json_parse(ek + 2, strlen(ek + 2),
						      NULL);
				if (json_object_is_type(ko, json_type_object))
					json_object_object_get_ex(ko, key,
								  &want);
				at = want ? find_elem(cur, key, want) : -1;
				json_object_object_get_ex(nv, ek, &nev);
				if (at >= 0 && !nev)
					json_object_array_del_idx(cur, at, 1);
				else if (at >= 0)
					prune(json_object_array_get_idx(cur,
									at),
					      ev, nev, sub);
				json_object_put(ko);
			}
		}
	}
}

/* The managedFields entry of manager's applies, or NULL. */
static struct json_object *entry_of(struct json_object *mf, const char *manager)
{
	size_t i, n = json_object_is_type(mf, json_type_array) ?
			      json_object_array_length(mf) :
			      0;

	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(mf, i);
		const char *m = berth_json_get_str(e, "manager");
		const char *op = berth_json_get_str(e, "operation");

		if (m && op && !strcmp(m, manager) && !strcmp(op, "Apply"))
			return e;
	}
	return NULL;
}

struct json_object *berth_apply(struct json_object *live,
				struct json_object *cfg, const char *manager,
				char *err, size_t errsize)
{
	struct json_object *out, *now, *mf, *entry, *prev;
	const char *av = berth_json_get_str(cfg, "apiVersion");
	char ts[32];
	time_t t = time(NULL);
	struct tm tm;

	if (!json_object_is_type(cfg, json_type_object)) {
		snprintf(err, errsize,
			 "an apply configuration must be an object");
		return NULL;
	}
	now = fieldset(cfg, "");
	out = live ? berth_json_copy(live) : json_object_new_object();
	mf = berth_json_path(out, "metadata.managedFields");
	entry = entry_of(mf, manager);
	prev = entry ? berth_json_path(entry, "fieldsV1") : NULL;
	if (prev)
		prune(out, prev, now, "");
	merge(out, cfg, "");
	/* the live managedFields, whatever the configuration said */
	mf = berth_json_copy(mf);
	if (!json_object_is_type(mf, json_type_array)) {
		json_object_put(mf);
		mf = json_object_new_array();
	}
	json_object_object_add(berth_json_obj(out, "metadata"), "managedFields",
			       mf);
	entry = entry_of(mf, manager);
	if (entry &&
	    berth_json_equal(berth_json_path(entry, "fieldsV1"), now)) {
		/* same field set: keep the entry, so a repeat is a no-op */
		json_object_put(now);
		return out;
	}
	if (!entry) {
		entry = json_object_new_object();
		json_object_array_add(mf, entry);
	}
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	berth_json_set_str(entry, "manager", manager);
	berth_json_set_str(entry, "operation", "Apply");
	if (av)
		berth_json_set_str(entry, "apiVersion", av);
	berth_json_set_str(entry, "time", ts);
	berth_json_set_str(entry, "fieldsType", "FieldsV1");
	json_object_object_add(entry, "fieldsV1", now);
	return out;
}
