// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ResourceQuota controller: keeps each quota's status.hard (its spec) and
 * status.used (what the namespace's pods, services, configmaps and secrets
 * use, counted as admission counts them) current. Admission charges a
 * create to status.used before the object is written; a usage that would
 * go down is applied only once the quota has been still for SETTLE_MS, so
 * a charge whose object is about to be written is not given back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "../apiserver/quota.h"
#include "../apiserver/api.h"
#include "ctl.h"
#include "strmap.h"

#define SETTLE_MS 3000

struct quota_ctl {
	struct berth_api *api;
	struct berth_informer *quotas;
	struct berth_informer *objs[4]; /* berth_quota_kinds order */
	struct berth_queue *q;
	pthread_mutex_t lock; /* seen */
	struct berth_strmap seen; /* "ns/name" -> struct seen: rv and since */
};

struct seen {
	int64_t rv;
	int64_t since_ms;
};

static void ns_changed(void *ctx, struct json_object *obj)
{
	struct quota_ctl *c = ctx;
	const char *ns = berth_json_path_str(obj, "metadata.namespace");

	if (ns)
		berth_queue_add(c->q, ns);
}

static void ns_updated(void *ctx, struct json_object *old,
		       struct json_object *obj)
{
	(void)old;
	ns_changed(ctx, obj);
}

/* Has the quota kept resourceVersion rv for SETTLE_MS? */
static bool settled(struct quota_ctl *c, const char *key, int64_t rv)
{
	struct seen *s;
	bool ok;

	pthread_mutex_lock(&c->lock);
	s = berth_strmap_get(&c->seen, key);
	if (!s) {
		s = calloc(1, sizeof(*s));
		if (!s)
			abort();
		berth_strmap_put(&c->seen, key, s);
	}
	if (s->rv != rv) {
		s->rv = rv;
		s->since_ms = berth_now_ms();
	}
	ok = berth_now_ms() - s->since_ms >= SETTLE_MS;
	pthread_mutex_unlock(&c->lock);
	return ok;
}

static void usage_of(struct quota_ctl *c, struct json_object *quota,
		     int64_t use[BERTH_Q_N])
{
	const char *ns = berth_json_path_str(quota, "metadata.namespace");
	unsigned int missing = 0;
	size_t k, i;

	memset(use, 0, sizeof(int64_t) * BERTH_Q_N);
	for (k = 0; k < 4; k++) {
		struct json_object *a =
			berth_informer_list(c->objs[k], "namespace", ns);

		for (i = 0; i < json_object_array_length(a); i++) {
			struct json_object *o = json_object_array_get_idx(a, i);

			if (berth_quota_matches(quota, berth_quota_kinds[k][0],
						o))
				berth_quota_usage(berth_quota_kinds[k][0], o,
						  use, &missing);
		}
		json_object_put(a);
	}
}

/* 0 done, 1 a decrease waits to settle, -errno retry. */
static int sync_quota(struct quota_ctl *c, struct json_object *quota,
		      const int64_t use[BERTH_Q_N])
{
	struct json_object *hard = berth_json_path(quota, "spec.hard");
	struct json_object *old = berth_json_path(quota, "status.used");
	struct json_object *st, *used, *out = NULL;
	const char *ns = berth_json_path_str(quota, "metadata.namespace");
	const char *name = berth_json_path_str(quota, "metadata.name");
	char key[320], q[64];
	bool waiting = false, ok = false;
	int code, res;

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	st = json_object_new_object();
	used = berth_json_obj(st, "used");
	if (json_object_is_type(hard, json_type_object)) {
		json_object_object_add(st, "hard", json_object_get(hard));
		json_object_object_foreach(hard, k, v)
		{
			int64_t now, before;

			(void)v;
			res = berth_quota_res_find(k);
			if (res >= 0)
				now = use[res];
			else if (berth_quota_count_resource(k))
				now = berth_quota_count_now(
					c->api->store,
					berth_quota_count_resource(k), ns);
			else
				continue;
			if (!berth_quantity_get(old, k, &before) &&
			    now < before) {
				if (!ok && !waiting)
					ok = settled(c, key,
						     berth_obj_rv(quota));
				if (!ok) {
					waiting = true;
					now = before;
				}
			}
			berth_quantity_format(now,
					      res == BERTH_Q_REQ_MEM ||
						      res == BERTH_Q_LIM_MEM,
					      q, sizeof(q));
			berth_json_set_str(used, k, q);
		}
	}
	if (berth_json_equal(st, berth_json_path(quota, "status"))) {
		json_object_put(st);
		return waiting;
	}
	quota = berth_json_copy(quota);
	json_object_object_add(quota, "status", st);
	code = berth_client_update(c->api, berth_res("", "resourcequotas"), ns,
				   name, "status", quota, &out);
	json_object_put(quota);
	json_object_put(out);
	if (code == 404)
		return 0;
	if (code != 200)
		return -EAGAIN; /* 409: a charge came in between */
	return waiting;
}

static int quota_sync(void *ctx, const char *ns)
{
	struct quota_ctl *c = ctx;
	struct json_object *qs =
		berth_informer_list(c->quotas, "namespace", ns);
	int64_t use[BERTH_Q_N];
	int err = 0, r;
	size_t i;

	for (i = 0; i < json_object_array_length(qs); i++) {
		usage_of(c, json_object_array_get_idx(qs, i), use);
		r = sync_quota(c, json_object_array_get_idx(qs, i), use);
		if (r < 0)
			err = r;
		else if (r == 1)
			berth_queue_add_after(c->q, ns, SETTLE_MS);
	}
	json_object_put(qs);
	return err;
}

/*
 * count/<resource> keys follow kinds no informer here watches: every
 * RESYNC_MS each quota's namespace is looked at again.
 */
#define RESYNC_MS 10000
static void resync(void *ctx)
{
	struct quota_ctl *c = ctx;
	struct json_object *qs = berth_informer_list(c->quotas, NULL, NULL);
	size_t i;

	for (i = 0; i < json_object_array_length(qs); i++)
		ns_changed(c, json_object_array_get_idx(qs, i));
	json_object_put(qs);
}

static int quota_init(struct berth_ctl *m, void **state)
{
	struct quota_ctl *c = calloc(1, sizeof(*c));
	struct berth_informer_handler h = { .add = ns_changed,
					    .update = ns_updated,
					    .del = ns_changed };
	size_t k;
	int err;

	if (!c)
		return -ENOMEM;
	h.ctx = c;
	pthread_mutex_init(&c->lock, NULL);
	c->api = berth_ctl_api(m);
	c->q = berth_queue_new("resourcequota");
	c->quotas = berth_ctl_informer(m, berth_res("", "resourcequotas"));
	berth_informer_add_handler(c->quotas, &h);
	for (k = 0; k < 4; k++) {
		c->objs[k] = berth_ctl_informer(
			m, berth_res("", berth_quota_kinds[k][1]));
		berth_informer_add_handler(c->objs[k], &h);
	}
	*state = c;
	err = berth_ctl_every(m, "resourcequota-resync", RESYNC_MS, resync, c);
	if (err)
		return err;
	return berth_ctl_workers(m, "resourcequota", c->q, 1, quota_sync, c);
}

static void quota_stop(void *state)
{
	struct quota_ctl *c = state;
	struct berth_strmap_ent *e = NULL;
	size_t b = 0;

	while ((e = berth_strmap_next(&c->seen, &b, e)))
		free(e->val);
	berth_strmap_free(&c->seen);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

BERTH_CONTROLLER(resourcequota, .name = "resourcequota", .init = quota_init,
		 .stop = quota_stop);
