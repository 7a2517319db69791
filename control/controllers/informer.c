// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Shared informers: one list + watch of a resource's store prefix, a cache
 * of its objects and indexes over them. The cache keeps each object as the
 * stored JSON text (a third of json-c's footprint) and hands out parsed
 * copies, so callers own what they get and no json-c object is shared
 * between threads. When the watch ends (compaction, a lost etcd), the
 * informer lists again and tells the handlers what changed meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/registry.h"
#include "../apiserver/rest.h"
#include "../store/store.h"
#include "informer.h"
#include "strmap.h"

#define MAX_HANDLERS 16
#define MAX_INDEXES 8
#define RELIST_DELAY_MS 1000

struct entry {
	char *key; /* "ns/name" or "name" */
	char *json; /* as stored, without resourceVersion */
	size_t len;
	int64_t rev;
	char **idx[MAX_INDEXES]; /* NULL-terminated values per index */
};

/* The objects with one index value. */
struct ibucket {
	struct entry **items;
	size_t n, cap;
};

struct index {
	char name[32];
	berth_index_fn fn;
	struct berth_strmap buckets; /* value -> struct ibucket */
};

struct berth_informer {
	struct berth_store *store;
	const struct berth_resource *res;
	char prefix[256];
	size_t prefix_len;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct berth_strmap entries; /* key -> struct entry */
	struct index idx[MAX_INDEXES];
	int nidx;
	struct berth_informer_handler handlers[MAX_HANDLERS];
	int nhandlers;
	int64_t rev; /* revision the cache is at */
	bool synced, watch_lost, stop;
	struct berth_watch *watch;
	pthread_t thread;
	bool started;
};

static void index_namespace(struct json_object *obj, berth_index_emit emit,
			    void *ectx)
{
	const char *ns = berth_json_path_str(obj, "metadata.namespace");

	if (ns)
		emit(ectx, ns);
}

struct berth_informer *berth_informer_new(struct berth_store *store,
					  const struct berth_resource *r)
{
	struct berth_informer *inf = calloc(1, sizeof(*inf));

	if (!inf)
		return NULL;
	inf->store = store;
	inf->res = r;
	berth_resource_key(r, NULL, NULL, inf->prefix, sizeof(inf->prefix));
	inf->prefix_len = strlen(inf->prefix);
	pthread_mutex_init(&inf->lock, NULL);
	berth_cond_init_monotonic(&inf->cond);
	berth_informer_add_index(inf, "namespace", index_namespace);
	return inf;
}

const struct berth_resource *berth_informer_resource(struct berth_informer *inf)
{
	return inf->res;
}

void berth_informer_add_handler(struct berth_informer *inf,
				const struct berth_informer_handler *h)
{
	if (inf->nhandlers == MAX_HANDLERS) {
		pr_err("informer %s: too many handlers", inf->res->name);
		abort();
	}
	inf->handlers[inf->nhandlers++] = *h;
}

void berth_informer_add_index(struct berth_informer *inf, const char *name,
			      berth_index_fn fn)
{
	struct index *x;
	int i;

	for (i = 0; i < inf->nidx; i++)
		if (!strcmp(inf->idx[i].name, name))
			return; /* shared informer: first definition wins */
	if (inf->nidx == MAX_INDEXES) {
		pr_err("informer %s: too many indexes", inf->res->name);
		abort();
	}
	x = &inf->idx[inf->nidx++];
	strncpy(x->name, name, sizeof(x->name) - 1);
	x->fn = fn;
}

/* ---- the cache ---- */

static void ib_add(struct index *x, const char *value, struct entry *e)
{
	struct ibucket *b = berth_strmap_get(&x->buckets, value);

	if (!b) {
		b = calloc(1, sizeof(*b));
		if (!b)
			return;
		berth_strmap_put(&x->buckets, value, b);
	}
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4;
		struct entry **it = realloc(b->items, cap * sizeof(*it));

		if (!it)
			return;
		b->items = it;
		b->cap = cap;
	}
	b->items[b->n++] = e;
}

static void ib_del(struct index *x, const char *value, struct entry *e)
{
	struct ibucket *b = berth_strmap_get(&x->buckets, value);
	size_t i;

	if (!b)
		return;
	for (i = 0; i < b->n; i++)
		if (b->items[i] == e) {
			b->items[i] = b->items[--b->n];
			break;
		}
	if (!b->n) {
		berth_strmap_del(&x->buckets, value);
		free(b->items);
		free(b);
	}
}

/* Collects index values of one object. */
struct vals {
	char **v;
	size_t n, cap;
};

static void collect(void *ectx, const char *value)
{
	struct vals *vs = ectx;
	size_t i;

	for (i = 0; i < vs->n; i++)
		if (!strcmp(vs->v[i], value))
			return;
	if (vs->n + 2 > vs->cap) {
		size_t cap = vs->cap ? vs->cap * 2 : 4;
		char **v = realloc(vs->v, cap * sizeof(*v));

		if (!v)
			return;
		vs->v = v;
		vs->cap = cap;
	}
	vs->v[vs->n++] = strdup(value);
	vs->v[vs->n] = NULL;
}

static void unindex(struct berth_informer *inf, struct entry *e)
{
	int i;

	for (i = 0; i < inf->nidx; i++) {
		char **v;

		for (v = e->idx[i]; v && *v; v++) {
			ib_del(&inf->idx[i], *v, e);
			free(*v);
		}
		free(e->idx[i]);
		e->idx[i] = NULL;
	}
}

static void reindex(struct berth_informer *inf, struct entry *e,
		    struct json_object *obj)
{
	int i;

	unindex(inf, e);
	for (i = 0; i < inf->nidx; i++) {
		struct vals vs = { 0 };
		size_t j;

		inf->idx[i].fn(obj, collect, &vs);
		e->idx[i] = vs.v;
		for (j = 0; j < vs.n; j++)
			ib_add(&inf->idx[i], vs.v[j], e);
	}
}

static void entry_free(struct entry *e)
{
	free(e->key);
	free(e->json);
	free(e);
}

static struct json_object *entry_obj(const struct entry *e)
{
	return berth_obj_from_store(e->json, e->len, e->rev);
}

/* The cache key of a store key: what follows the resource prefix. */
static const char *cache_key(struct berth_informer *inf, const char *skey)
{
	if (strncmp(skey, inf->prefix, inf->prefix_len))
		return NULL;
	return skey + inf->prefix_len;
}

static void notify(struct berth_informer *inf, struct json_object *old,
		   struct json_object *obj)
{
	int i;

	for (i = 0; i < inf->nhandlers; i++) {
		const struct berth_informer_handler *h = &inf->handlers[i];

		if (old && obj && h->update)
			h->update(h->ctx, old, obj);
		else if (obj && !old && h->add)
			h->add(h->ctx, obj);
		else if (old && !obj && h->del)
			h->del(h->ctx, old);
	}
}

/*
 * Apply a put of key (value, rev) to the cache and tell the handlers.
 * Called with the lock not held; handlers run unlocked.
 */
static void apply_put(struct berth_informer *inf, const char *key,
		      const char *value, size_t len, int64_t rev)
{
	struct json_object *obj, *old = NULL;
	struct entry *e;
	char *json;

	obj = berth_obj_from_store(value, len, rev);
	json = malloc(len + 1);
	if (!obj || !json) {
		pr_warn("informer %s: cannot decode %s", inf->res->name, key);
		json_object_put(obj);
		free(json);
		return;
	}
	memcpy(json, value, len);
	json[len] = 0;
	pthread_mutex_lock(&inf->lock);
	e = berth_strmap_get(&inf->entries, key);
	if (e) {
		if (e->rev >= rev) { /* relist raced a watch event */
			pthread_mutex_unlock(&inf->lock);
			json_object_put(obj);
			free(json);
			return;
		}
		old = entry_obj(e);
		free(e->json);
	} else {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->key = strdup(key))) {
			pthread_mutex_unlock(&inf->lock);
			free(e);
			free(json);
			json_object_put(obj);
			return;
		}
		berth_strmap_put(&inf->entries, key, e);
	}
	e->json = json;
	e->len = len;
	e->rev = rev;
	reindex(inf, e, obj);
	pthread_mutex_unlock(&inf->lock);
	notify(inf, old, obj);
	json_object_put(old);
	json_object_put(obj);
}

static void apply_delete(struct berth_informer *inf, const char *key)
{
	struct json_object *old;
	struct entry *e;

	pthread_mutex_lock(&inf->lock);
	e = berth_strmap_del(&inf->entries, key);
	if (!e) {
		pthread_mutex_unlock(&inf->lock);
		return;
	}
	unindex(inf, e);
	old = entry_obj(e);
	pthread_mutex_unlock(&inf->lock);
	entry_free(e);
	notify(inf, old, NULL);
	json_object_put(old);
}

static void set_rev(struct berth_informer *inf, int64_t rev)
{
	pthread_mutex_lock(&inf->lock);
	if (rev > inf->rev)
		inf->rev = rev;
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->lock);
}

static void on_event(void *ctx, const struct berth_event *ev, int err)
{
	struct berth_informer *inf = ctx;
	const char *key;

	if (!ev) {
		pr_warn("informer %s: watch ended: %s; listing again",
			inf->res->name, strerror(-err));
		pthread_mutex_lock(&inf->lock);
		inf->watch_lost = true;
		pthread_cond_broadcast(&inf->cond);
		pthread_mutex_unlock(&inf->lock);
		return;
	}
	key = cache_key(inf, ev->kv.key);
	if (key && *key) {
		if (ev->type == BERTH_EVENT_PUT)
			apply_put(inf, key, ev->kv.value, ev->kv.value_len,
				  ev->kv.mod_revision);
		else
			apply_delete(inf, key);
	}
	set_rev(inf, ev->kv.mod_revision);
}

/* Keys of the cache not in the sorted list l: deleted while unwatched. */
static int cmp_kv(const void *a, const void *b)
{
	return strcmp(((const struct berth_kv *)a)->key,
		      ((const struct berth_kv *)b)->key);
}

static void drop_missing(struct berth_informer *inf,
			 const struct berth_kv_list *l)
{
	struct json_object *keys = berth_informer_keys(inf);
	size_t i, n = json_object_array_length(keys);
	char skey[1024];

	for (i = 0; i < n; i++) {
		const char *k = json_object_get_string(
			json_object_array_get_idx(keys, i));
		struct berth_kv probe = { .key = skey };

		snprintf(skey, sizeof(skey), "%s%s", inf->prefix, k);
		if (!bsearch(&probe, l->items, l->n, sizeof(*l->items), cmp_kv))
			apply_delete(inf, k);
	}
	json_object_put(keys);
}

/* List everything and start watching from the list's revision. */
static int list_and_watch(struct berth_informer *inf)
{
	struct berth_kv_list l = { 0 };
	int64_t rev = 0;
	bool more;
	size_t i;
	int err;

	err = berth_store_list(inf->store, inf->prefix, NULL, 0, 0, &l, &rev,
			       &more);
	if (err)
		return err;
	for (i = 0; i < l.n; i++) {
		const char *key = cache_key(inf, l.items[i].key);

		if (key && *key)
			apply_put(inf, key, l.items[i].value,
				  l.items[i].value_len,
				  l.items[i].mod_revision);
	}
	if (inf->synced)
		drop_missing(inf, &l);
	berth_kv_list_free(&l);
	set_rev(inf, rev);
	pthread_mutex_lock(&inf->lock);
	inf->watch_lost = false;
	pthread_mutex_unlock(&inf->lock);
	err = berth_store_watch(inf->store, inf->prefix, rev, on_event, inf,
				&inf->watch);
	if (err)
		return err;
	pthread_mutex_lock(&inf->lock);
	inf->synced = true;
	pthread_cond_broadcast(&inf->cond);
	pthread_mutex_unlock(&inf->lock);
	return 0;
}

static void *informer_main(void *arg)
{
	struct berth_informer *inf = arg;
	int err;

	for (;;) {
		err = list_and_watch(inf);
		if (err)
			pr_warn("informer %s: list: %s", inf->res->name,
				strerror(-err));
		pthread_mutex_lock(&inf->lock);
		while (!inf->stop && !err && !inf->watch_lost)
			pthread_cond_wait(&inf->cond, &inf->lock);
		pthread_mutex_unlock(&inf->lock);
		if (inf->watch) {
			berth_watch_cancel(inf->watch);
			inf->watch = NULL;
		}
		if (inf->stop)
			break;
		usleep(RELIST_DELAY_MS * 1000);
	}
	return NULL;
}

int berth_informer_start(struct berth_informer *inf)
{
	int err = pthread_create(&inf->thread, NULL, informer_main, inf);

	if (err)
		return -err;
	inf->started = true;
	return 0;
}

bool berth_informer_wait_synced(struct berth_informer *inf, int timeout_ms)
{
	return berth_informer_wait_rev(inf, 0, timeout_ms);
}

void berth_informer_free(struct berth_informer *inf)
{
	struct berth_strmap_ent *it = NULL;
	size_t i;
	int j;

	if (!inf)
		return;
	if (inf->started) {
		pthread_mutex_lock(&inf->lock);
		inf->stop = true;
		pthread_cond_broadcast(&inf->cond);
		pthread_mutex_unlock(&inf->lock);
		pthread_join(inf->thread, NULL);
	}
	while ((it = berth_strmap_next(&inf->entries, &i, it))) {
		unindex(inf, it->val);
		entry_free(it->val);
	}
	berth_strmap_free(&inf->entries);
	for (j = 0; j < inf->nidx; j++)
		berth_strmap_free(&inf->idx[j].buckets);
	pthread_mutex_destroy(&inf->lock);
	pthread_cond_destroy(&inf->cond);
	free(inf);
}

/* ---- readers ---- */

struct json_object *berth_informer_get(struct berth_informer *inf,
				       const char *key)
{
	struct entry *e;
	char *json = NULL;
	size_t len = 0;
	int64_t rev = 0;
	struct json_object *obj;

	pthread_mutex_lock(&inf->lock);
	e = berth_strmap_get(&inf->entries, key);
	if (e && (json = malloc(e->len + 1))) {
		memcpy(json, e->json, e->len + 1);
		len = e->len;
		rev = e->rev;
	}
	pthread_mutex_unlock(&inf->lock);
	if (!json)
		return NULL;
	obj = berth_obj_from_store(json, len, rev);
	free(json);
	return obj;
}

struct copy {
	char *json;
	size_t len;
	int64_t rev;
};

static int snapshot_entry(struct copy *c, const struct entry *e)
{
	c->json = malloc(e->len + 1);
	if (!c->json)
		return -ENOMEM;
	memcpy(c->json, e->json, e->len + 1);
	c->len = e->len;
	c->rev = e->rev;
	return 0;
}

struct json_object *berth_informer_list(struct berth_informer *inf,
					const char *index, const char *value)
{
	struct json_object *arr = json_object_new_array();
	struct copy *cs = NULL;
	size_t i, n = 0;
	int x;

	pthread_mutex_lock(&inf->lock);
	if (!index) {
		struct berth_strmap_ent *it = NULL;

		cs = calloc(inf->entries.n + 1, sizeof(*cs));
		while (cs && (it = berth_strmap_next(&inf->entries, &i, it)))
			if (!snapshot_entry(&cs[n], it->val))
				n++;
	} else {
		for (x = 0; x < inf->nidx; x++)
			if (!strcmp(inf->idx[x].name, index))
				break;
		if (x == inf->nidx) {
			pr_err("informer %s: no index %s", inf->res->name,
			       index);
			abort();
		}
		struct ibucket *b = berth_strmap_get(&inf->idx[x].buckets,
						     value);

		if (b)
			cs = calloc(b->n + 1, sizeof(*cs));
		for (i = 0; b && cs && i < b->n; i++)
			if (!snapshot_entry(&cs[n], b->items[i]))
				n++;
	}
	pthread_mutex_unlock(&inf->lock);
	for (i = 0; i < n; i++) {
		struct json_object *o =
			berth_obj_from_store(cs[i].json, cs[i].len, cs[i].rev);

		if (o)
			json_object_array_add(arr, o);
		free(cs[i].json);
	}
	free(cs);
	return arr;
}

struct json_object *berth_informer_keys(struct berth_informer *inf)
{
	struct json_object *arr = json_object_new_array();
	struct berth_strmap_ent *it = NULL;
	size_t i;

	pthread_mutex_lock(&inf->lock);
	while ((it = berth_strmap_next(&inf->entries, &i, it)))
		json_object_array_add(arr, json_object_new_string(it->key));
	pthread_mutex_unlock(&inf->lock);
	return arr;
}

size_t berth_informer_count(struct berth_informer *inf)
{
	size_t n;

	pthread_mutex_lock(&inf->lock);
	n = inf->entries.n;
	pthread_mutex_unlock(&inf->lock);
	return n;
}

bool berth_informer_wait_rev(struct berth_informer *inf, int64_t rev,
			     int timeout_ms)
{
	struct timespec ts;
	bool ok;

	berth_deadline(&ts, timeout_ms);
	pthread_mutex_lock(&inf->lock);
	while (!(inf->synced && inf->rev >= rev) && !inf->stop)
		if (pthread_cond_timedwait(&inf->cond, &inf->lock, &ts))
			break;
	ok = inf->synced && inf->rev >= rev;
	pthread_mutex_unlock(&inf->lock);
	return ok;
}

void berth_obj_key(struct json_object *obj, char *buf, size_t size)
{
	const char *ns = berth_json_path_str(obj, "metadata.namespace");
	const char *name = berth_json_path_str(obj, "metadata.name") ?: "";

	if (ns && *ns)
		snprintf(buf, size, "%s/%s", ns, name);
	else
		snprintf(buf, size, "%s", name);
}

int64_t berth_obj_rv(struct json_object *obj)
{
	const char *rv = berth_json_path_str(obj, "metadata.resourceVersion");

	return rv ? strtoll(rv, NULL, 10) : 0;
}
