// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ServiceAccount controller: every namespace that is not terminating has a
 * "default" ServiceAccount; deleting it brings it back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "ctl.h"

struct sa_ctl {
	struct berth_api *api;
	struct berth_informer *ns, *sa;
	struct berth_queue *q;
};

static void sa_changed(void *ctx, struct json_object *obj)
{
	struct sa_ctl *c = ctx;
	const char *name = berth_json_path_str(obj, "metadata.name");
	const char *ns = berth_json_path_str(obj, "metadata.namespace");

	if (name && ns && !strcmp(name, "default"))
		berth_queue_add(c->q, ns);
}

static int sa_sync(void *ctx, const char *nsname)
{
	struct sa_ctl *c = ctx;
	struct json_object *ns, *sa, *out = NULL;
	char key[320];
	int code, err = 0;

	ns = berth_informer_get(c->ns, nsname);
	if (!ns || berth_obj_deleting(ns))
		goto out;
	snprintf(key, sizeof(key), "%s/default", nsname);
	sa = berth_informer_get(c->sa, key);
	if (sa) {
		json_object_put(sa);
		goto out;
	}
	sa = json_object_new_object();
	berth_json_set_str(berth_json_obj(sa, "metadata"), "name", "default");
	code = berth_client_create(c->api, berth_res("", "serviceaccounts"),
				   nsname, sa, &out);
	if (code == 201)
		berth_informer_wait_rev(c->sa, berth_obj_rv(out), 1000);
	else if (code != 409 && code != 403 && code != 404)
		err = -EIO; /* 403: the namespace began terminating */
	json_object_put(sa);
	json_object_put(out);
out:
	json_object_put(ns);
	return err;
}

static int sa_init(struct berth_ctl *m, void **state)
{
	struct sa_ctl *c = calloc(1, sizeof(*c));
	struct berth_informer_handler h;

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->q = berth_queue_new("serviceaccount");
	c->ns = berth_ctl_informer(m, berth_res("", "namespaces"));
	c->sa = berth_ctl_informer(m, berth_res("", "serviceaccounts"));
	berth_enqueue_handler(&h, c->q);
	berth_informer_add_handler(c->ns, &h);
	berth_informer_add_handler(
		c->sa, &(struct berth_informer_handler){ .add = sa_changed,
							 .del = sa_changed,
							 .ctx = c });
	*state = c;
	return berth_ctl_workers(m, "serviceaccount", c->q, 1, sa_sync, c);
}

BERTH_CONTROLLER(serviceaccount, .name = "serviceaccount", .init = sa_init,
		 .stop = free);
