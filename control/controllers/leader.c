// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Leader election over a coordination.k8s.io Lease, as client-go does it,
 * so that several berth-servers on one etcd run one set of controllers.
 * Expiry is judged by the local clock from when this process last saw the
 * lease record change (never by comparing clocks between machines).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include <berth/kube.h>
#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "leader.h"
#include "strmap.h"

#define LEASE_NS "kube-system"
#define LEASE_NAME "berth-controllers"
#define LEASE_DURATION_S 15
#define RENEW_DEADLINE_MS 10000
#define RETRY_MS 2000

struct berth_leader {
	struct berth_api *api;
	char identity[256];
	void (*changed)(void *ctx, bool leading);
	void *ctx;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool stop, leading;
	int64_t last_renew_ms; /* monotonic, of our last successful renew */
	char seen[512]; /* holder + renewTime last observed */
	int64_t seen_ms; /* when it last changed */
};

static struct json_object *lease_spec(struct berth_leader *l,
				      struct json_object *old)
{
	struct json_object *spec = json_object_new_object();
	const char *holder = berth_json_path_str(old, "spec.holderIdentity");
	int64_t transitions =
		berth_json_get_int(berth_json_path(old, "spec"),
				   "leaseTransitions", 0);
	const char *acquired = berth_json_path_str(old, "spec.acquireTime");
	char now[40];

	berth_kube_micro_time(now, sizeof(now));
	berth_json_set_str(spec, "holderIdentity", l->identity);
	berth_json_set_int(spec, "leaseDurationSeconds", LEASE_DURATION_S);
	berth_json_set_str(spec, "renewTime", now);
	if (holder && !strcmp(holder, l->identity) && acquired) {
		berth_json_set_str(spec, "acquireTime", acquired);
		berth_json_set_int(spec, "leaseTransitions", transitions);
	} else {
		berth_json_set_str(spec, "acquireTime", now);
		berth_json_set_int(spec, "leaseTransitions",
				   old ? transitions + 1 : 0);
	}
	return spec;
}

/* One attempt to take or renew the lease: true if we hold it now. */
static bool try_acquire(struct berth_leader *l)
{
	const struct berth_resource *r = berth_res("coordination.k8s.io",
						   "leases");
	struct json_object *cur = NULL, *obj = NULL;
	const char *holder;
	char seen[512];
	bool ok = false;
	int code;

	code = berth_client_get(l->api, r, LEASE_NS, LEASE_NAME, &cur);
	if (code == 404) {
		obj = json_object_new_object();
		berth_json_set_str(berth_json_obj(obj, "metadata"), "name",
				   LEASE_NAME);
		json_object_object_add(obj, "spec", lease_spec(l, NULL));
		ok = berth_client_create(l->api, r, LEASE_NS, obj, NULL) == 201;
		goto out;
	}
	if (code != 200 || !cur)
		goto out;
	holder = berth_json_path_str(cur, "spec.holderIdentity");
	snprintf(seen, sizeof(seen), "%s|%s", holder ?: "",
		 berth_json_path_str(cur, "spec.renewTime") ?: "");
	if (strcmp(seen, l->seen)) {
		snprintf(l->seen, sizeof(l->seen), "%s", seen);
		l->seen_ms = berth_now_ms();
	}
	/* someone else holds it and has renewed within the lease duration */
	if (holder && *holder && strcmp(holder, l->identity) &&
	    berth_now_ms() - l->seen_ms <
		    berth_json_get_int(berth_json_path(cur, "spec"),
				       "leaseDurationSeconds",
				       LEASE_DURATION_S) *
			    1000)
		goto out;
	obj = berth_json_copy(cur);
	json_object_object_add(obj, "spec", lease_spec(l, cur));
	/* PUT with the resourceVersion read: exactly one contender wins */
	ok = berth_client_update(l->api, r, LEASE_NS, LEASE_NAME, NULL, obj,
				 NULL) == 200;
out:
	json_object_put(cur);
	json_object_put(obj);
	return ok;
}

static void set_leading(struct berth_leader *l, bool leading)
{
	if (l->leading == leading)
		return;
	l->leading = leading;
	if (leading)
		pr_info("controllers: leading as %s", l->identity);
	else
		pr_warn("controllers: lost the lease %s/%s; pausing", LEASE_NS,
			LEASE_NAME);
	l->changed(l->ctx, leading);
}

static void *leader_main(void *arg)
{
	struct berth_leader *l = arg;
	struct timespec ts;

	pthread_mutex_lock(&l->lock);
	while (!l->stop) {
		bool held;

		pthread_mutex_unlock(&l->lock);
		held = try_acquire(l);
		if (held)
			l->last_renew_ms = berth_now_ms();
		if (held)
			set_leading(l, true);
		else if (l->leading &&
			 berth_now_ms() - l->last_renew_ms > RENEW_DEADLINE_MS)
			set_leading(l, false);
		pthread_mutex_lock(&l->lock);
		berth_deadline(&ts, RETRY_MS);
		while (!l->stop &&
		       !pthread_cond_timedwait(&l->cond, &l->lock, &ts))
			;
	}
	pthread_mutex_unlock(&l->lock);
	return NULL;
}

int berth_leader_start(struct berth_leader **out, struct berth_api *api,
		       const char *identity,
		       void (*changed)(void *ctx, bool leading), void *ctx)
{
	struct berth_leader *l = calloc(1, sizeof(*l));
	int err;

	if (!l)
		return -ENOMEM;
	l->api = api;
	snprintf(l->identity, sizeof(l->identity), "%s", identity);
	l->changed = changed;
	l->ctx = ctx;
	pthread_mutex_init(&l->lock, NULL);
	berth_cond_init_monotonic(&l->cond);
	err = pthread_create(&l->thread, NULL, leader_main, l);
	if (err) {
		free(l);
		return -err;
	}
	*out = l;
	return 0;
}

void berth_leader_stop(struct berth_leader *l)
{
	const struct berth_resource *r;
	struct json_object *patch;

	if (!l)
		return;
	pthread_mutex_lock(&l->lock);
	l->stop = true;
	pthread_cond_broadcast(&l->cond);
	pthread_mutex_unlock(&l->lock);
	pthread_join(l->thread, NULL);
	if (l->leading) {
		/* hand over at once instead of after the lease duration */
		r = berth_res("coordination.k8s.io", "leases");
		patch = json_tokener_parse(
			"{\"spec\":{\"holderIdentity\":null,"
			"\"leaseDurationSeconds\":1}}");
		berth_client_merge_patch(l->api, r, LEASE_NS, LEASE_NAME, NULL,
					 patch, NULL);
		json_object_put(patch);
	}
	pthread_mutex_destroy(&l->lock);
	pthread_cond_destroy(&l->cond);
	free(l);
}
