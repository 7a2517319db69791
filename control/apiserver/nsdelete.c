// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The namespace purge worker: one thread, a queue ordered by arrival. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <berth/log.h>

#include "../store/store.h"
#include "api.h"
#include "jsonutil.h"
#include "nsdelete.h"
#include "registry.h"

struct berth_ns_item {
	struct berth_ns_item *next;
	struct timespec due;
	char name[64];
	char uid[40];
};

static void purge(struct berth_api *api, const char *ns)
{
	char prefix[512];
	size_t i, j;

	for (i = 0; i < berth_nresources; i++) {
		const struct berth_resource *r = &berth_resources[i];
		struct berth_kv_list l = { 0 };
		int64_t rev;
		bool more;

		if (!r->namespaced ||
		    berth_resource_key(r, ns, NULL, prefix, sizeof(prefix)) ||
		    berth_store_list(api->store, prefix, NULL, 0, 0, &l, &rev,
				     &more))
			continue;
		for (j = 0; j < l.n; j++)
			berth_store_delete(api->store, l.items[j].key, 0, NULL,
					   NULL);
		berth_kv_list_free(&l);
	}
}

static void finish(struct berth_api *api, const struct berth_ns_item *it)
{
	const struct berth_resource *r =
		berth_resource_find("", "v1", "namespaces");
	struct berth_kv kv = { 0 };
	struct json_object *ns;
	const char *uid;
	char key[512];

	berth_resource_key(r, NULL, it->name, key, sizeof(key));
	if (berth_store_get(api->store, key, &kv))
		return;
	ns = berth_json_parse(kv.value, kv.value_len, NULL);
	uid = berth_json_path_str(ns, "metadata.uid");
	if (uid && !strcmp(uid, it->uid) &&
	    berth_json_path(ns, "metadata.deletionTimestamp")) {
		purge(api, it->name);
		if (berth_store_delete(api->store, key, kv.mod_revision, NULL,
				       NULL))
			pr_warn("namespace %s: removal raced, retried later",
				it->name);
	}
	json_object_put(ns);
	berth_kv_free(&kv);
}

static void *worker(void *arg)
{
	struct berth_api *api = arg;
	struct berth_ns_item *it;
	struct timespec now;

	pthread_mutex_lock(&api->ns_lock);
	while (!api->ns_stop) {
		it = api->ns_queue;
		if (!it) {
			pthread_cond_wait(&api->ns_cond, &api->ns_lock);
			continue;
		}
		clock_gettime(CLOCK_REALTIME, &now);
		if (now.tv_sec < it->due.tv_sec ||
		    (now.tv_sec == it->due.tv_sec &&
		     now.tv_nsec < it->due.tv_nsec)) {
			pthread_cond_timedwait(&api->ns_cond, &api->ns_lock,
					       &it->due);
			continue;
		}
		api->ns_queue = it->next;
		pthread_mutex_unlock(&api->ns_lock);
		finish(api, it);
		free(it);
		pthread_mutex_lock(&api->ns_lock);
	}
	pthread_mutex_unlock(&api->ns_lock);
	return NULL;
}

int berth_nsdelete_start(struct berth_api *api)
{
	pthread_mutex_init(&api->ns_lock, NULL);
	pthread_cond_init(&api->ns_cond, NULL);
	api->ns_queue = NULL;
	api->ns_stop = false;
	if (pthread_create(&api->ns_thread, NULL, worker, api))
		return -EAGAIN;
	api->ns_started = true;
	return 0;
}

void berth_nsdelete_enqueue(struct berth_api *api, const char *name,
			    const char *uid)
{
	struct berth_ns_item *it = calloc(1, sizeof(*it)), **p;

	if (!it || !api->ns_started) {
		free(it);
		return;
	}
	snprintf(it->name, sizeof(it->name), "%s", name);
	snprintf(it->uid, sizeof(it->uid), "%s", uid ? uid : "");
	clock_gettime(CLOCK_REALTIME, &it->due);
	it->due.tv_nsec += BERTH_NS_PURGE_DELAY_MS * 1000000L;
	it->due.tv_sec += it->due.tv_nsec / 1000000000L;
	it->due.tv_nsec %= 1000000000L;
	pthread_mutex_lock(&api->ns_lock);
	for (p = &api->ns_queue; *p; p = &(*p)->next)
		;
	*p = it;
	pthread_cond_signal(&api->ns_cond);
	pthread_mutex_unlock(&api->ns_lock);
}

void berth_nsdelete_resume(struct berth_api *api)
{
	struct berth_kv_list l = { 0 };
	int64_t rev;
	bool more;
	size_t i;

	if (berth_store_list(api->store, "/registry/core/namespaces/", NULL, 0,
			     0, &l, &rev, &more))
		return;
	for (i = 0; i < l.n; i++) {
		struct json_object *ns = berth_json_parse(
			l.items[i].value, l.items[i].value_len, NULL);
		const char *name = berth_json_path_str(ns, "metadata.name");

		if (name && berth_json_path(ns, "metadata.deletionTimestamp"))
			berth_nsdelete_enqueue(
				api, name,
				berth_json_path_str(ns, "metadata.uid"));
		json_object_put(ns);
	}
	berth_kv_list_free(&l);
}

void berth_nsdelete_stop(struct berth_api *api)
{
	struct berth_ns_item *it;

	if (!api->ns_started)
		return;
	pthread_mutex_lock(&api->ns_lock);
	api->ns_stop = true;
	pthread_cond_signal(&api->ns_cond);
	pthread_mutex_unlock(&api->ns_lock);
	pthread_join(api->ns_thread, NULL);
	while ((it = api->ns_queue)) {
		api->ns_queue = it->next;
		free(it);
	}
	pthread_cond_destroy(&api->ns_cond);
	pthread_mutex_destroy(&api->ns_lock);
	api->ns_started = false;
}
