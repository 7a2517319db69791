// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* A cached, watched view of one API collection: see kview.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>
#include <berth/service.h>

#include "kview.h"

json_object *berth_jget(json_object *o, const char *key)
{
	json_object *v;

	if (!o || !json_object_is_type(o, json_type_object) ||
	    !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

const char *berth_jstr(json_object *o, const char *key)
{
	json_object *v = berth_jget(o, key);

	return v && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) :
		       NULL;
}

long berth_jint(json_object *o, const char *key)
{
	json_object *v = berth_jget(o, key);

	return v && json_object_is_type(v, json_type_int) ?
		       (long)json_object_get_int64(v) :
		       -1;
}

bool berth_jbool(json_object *o, const char *key, bool dflt)
{
	json_object *v = berth_jget(o, key);

	return v && json_object_is_type(v, json_type_boolean) ?
		       json_object_get_boolean(v) :
		       dflt;
}

size_t berth_jlen(json_object *arr)
{
	return arr && json_object_is_type(arr, json_type_array) ?
		       json_object_array_length(arr) :
		       0;
}

bool berth_obj_key(json_object *obj, char *buf, size_t len)
{
	json_object *meta = berth_jget(obj, "metadata");
	const char *ns = berth_jstr(meta, "namespace");
	const char *name = berth_jstr(meta, "name");

	if (!name)
		return false;
	return snprintf(buf, len, "%s/%s", ns ? ns : "", name) < (int)len;
}

int berth_kview_init(struct berth_kview *v, const char *collection,
		     pthread_mutex_t *mu, berth_kview_cb cb, void *arg)
{
	memset(v, 0, sizeof(*v));
	v->collection = collection;
	v->mu = mu;
	v->cb = cb;
	v->arg = arg;
	v->cur = json_object_new_object();
	return v->cur ? 0 : -ENOMEM;
}

/* dst[name], made (as an empty object or array) if missing */
static json_object *child_of(json_object *dst, const char *name,
			     json_type type)
{
	json_object *c = berth_jget(dst, name);

	if (c && json_object_is_type(c, type))
		return c;
	c = type == json_type_array ? json_object_new_array() :
				      json_object_new_object();
	if (c && json_object_object_add(dst, name, c)) {
		json_object_put(c);
		return NULL;
	}
	return c;
}

/* Copy path (dotted, "name[]" for each array element) of src into dst. */
static int copy_path(json_object *dst, json_object *src, const char *path)
{
	const char *dot = strchr(path, '.');
	size_t len = dot ? (size_t)(dot - path) : strlen(path);
	bool each = len > 2 && !strncmp(path + len - 2, "[]", 2);
	char name[128];
	json_object *s, *d, *copy = NULL;

	if (len - (each ? 2 : 0) >= sizeof(name))
		return -EINVAL;
	memcpy(name, path, len - (each ? 2 : 0));
	name[len - (each ? 2 : 0)] = 0;
	s = berth_jget(src, name);
	if (!s)
		return 0;
	if (!dot) {
		if (json_object_deep_copy(s, &copy, NULL))
			return -ENOMEM;
		return json_object_object_add(dst, name, copy) ? -ENOMEM : 0;
	}
	if (!each) {
		if (!json_object_is_type(s, json_type_object))
			return 0;
		d = child_of(dst, name, json_type_object);
		return d ? copy_path(d, s, dot + 1) : -ENOMEM;
	}
	if (!json_object_is_type(s, json_type_array))
		return 0;
	d = child_of(dst, name, json_type_array);
	if (!d)
		return -ENOMEM;
	for (size_t i = 0; i < json_object_array_length(s); i++) {
		json_object *se = json_object_array_get_idx(s, i);
		json_object *de = json_object_array_get_idx(d, i);
		int err;

		if (!de) {
			de = json_object_new_object();
			if (!de || json_object_array_put_idx(d, i, de)) {
				json_object_put(de);
				return -ENOMEM;
			}
		}
		err = copy_path(de, se, dot + 1);
		if (err)
			return err;
	}
	return 0;
}

json_object *berth_json_pick(json_object *obj, const char *const *keep)
{
	json_object *out = json_object_new_object();

	for (size_t i = 0; out && keep[i]; i++) {
		if (copy_path(out, obj, keep[i])) {
			json_object_put(out);
			out = NULL;
		}
	}
	return out;
}

/*
 * A private copy: json-c's reference counts are not atomic, and the watch
 * thread drops its own tree without our lock. Every count change on a copy
 * happens under *mu. With v->keep, only the fields the owner reads.
 */
static void keep_object(struct berth_kview *v, json_object *dict,
			const char *key, json_object *obj)
{
	json_object *copy = NULL;

	if (v->keep) {
		copy = berth_json_pick(obj, v->keep);
		if (!copy) {
			pr_warn("watch: copy %s: out of memory, keeping the old one",
				key);
			return;
		}
		json_object_object_add(dict, key, copy);
		return;
	}
	if (json_object_deep_copy(obj, &copy, NULL)) {
		pr_warn("watch: copy %s: out of memory, keeping the old one",
			key);
		return;
	}
	json_object_object_del(berth_jget(copy, "metadata"), "managedFields");
	json_object_object_add(dict, key, copy);
}

static void on_event(enum berth_kube_event ev, json_object *obj, void *arg)
{
	struct berth_kview *v = arg;
	char key[2 * BERTH_NAME_MAX + 2];
	json_object *dict;

	pthread_mutex_lock(v->mu);
	switch (ev) {
	case BERTH_KUBE_LIST_BEGIN:
		json_object_put(v->pending);
		v->pending = json_object_new_object();
		break;
	case BERTH_KUBE_LIST_END:
		if (!v->pending)
			break;
		json_object_put(v->cur);
		v->cur = v->pending;
		v->pending = NULL;
		v->listed = true;
		if (v->cb)
			v->cb(v, ev, NULL, v->arg);
		break;
	case BERTH_KUBE_ADDED:
	case BERTH_KUBE_MODIFIED:
	case BERTH_KUBE_DELETED:
		if (!berth_obj_key(obj, key, sizeof(key)))
			break;
		dict = v->pending ? v->pending : v->cur;
		if (ev == BERTH_KUBE_DELETED)
			json_object_object_del(dict, key);
		else
			keep_object(v, dict, key, obj);
		if (v->cb)
			v->cb(v, ev, obj, v->arg);
		break;
	}
	pthread_mutex_unlock(v->mu);
}

int berth_kview_start(struct berth_kview *v, struct berth_kube *k)
{
	int err = berth_kube_watch_start(&v->w, k, v->collection, NULL,
					 on_event, v);

	if (err)
		pr_err("watch %s: %s", v->collection, strerror(-err));
	return err;
}

void berth_kview_stop(struct berth_kview *v)
{
	if (v->w)
		berth_kube_watch_stop(v->w);
	v->w = NULL;
}

void berth_kview_free(struct berth_kview *v)
{
	berth_kview_stop(v);
	json_object_put(v->cur);
	json_object_put(v->pending);
	v->cur = v->pending = NULL;
}

bool berth_kview_listing(const struct berth_kview *v)
{
	return v->pending != NULL;
}

int berth_kview_objects(struct berth_kview *v, json_object ***out, size_t *n)
{
	size_t len = json_object_object_length(v->cur), i = 0;
	json_object **arr = calloc(len ? len : 1, sizeof(*arr));

	if (!arr)
		return -ENOMEM;
	json_object_object_foreach(v->cur, key, val)
	{
		(void)key;
		arr[i++] = json_object_get(val);
	}
	*out = arr;
	*n = i;
	return 0;
}

void berth_kview_put(json_object **arr, size_t n)
{
	for (size_t i = 0; i < n; i++)
		json_object_put(arr[i]);
	free(arr);
}
