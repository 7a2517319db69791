// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ServiceAccount controller: every namespace that is not terminating has a
 * "default" ServiceAccount and (when the server knows its CA) the ConfigMap
 * kube-root-ca.crt pods verify the API server with, as kube-controller-
 * manager's root CA publisher; deleting or changing them brings them back.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/api.h"
#include "../apiserver/jsonutil.h"
#include "ctl.h"

#define ROOT_CA_CM "kube-root-ca.crt"

struct sa_ctl {
	struct berth_api *api;
	struct berth_informer *ns, *sa, *cm;
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

static void cm_changed(void *ctx, struct json_object *obj)
{
	struct sa_ctl *c = ctx;
	const char *name = berth_json_path_str(obj, "metadata.name");
	const char *ns = berth_json_path_str(obj, "metadata.namespace");

	if (name && ns && !strcmp(name, ROOT_CA_CM))
		berth_queue_add(c->q, ns);
}

static void cm_updated(void *ctx, struct json_object *old,
		       struct json_object *obj)
{
	(void)old;
	cm_changed(ctx, obj);
}

/* ConfigMap kube-root-ca.crt of nsname holds the server's CA; 0 or -EIO */
static int root_ca_sync(struct sa_ctl *c, const char *nsname)
{
	const char *pem = c->api->root_ca_pem, *have;
	struct json_object *cm, *want, *out = NULL;
	char key[320];
	int code;

	if (!pem)
		return 0;
	snprintf(key, sizeof(key), "%s/" ROOT_CA_CM, nsname);
	cm = berth_informer_get(c->cm, key);
	/* "ca.crt" has a dot: not a path */
	have = json_object_get_string(
		json_object_object_get(berth_json_path(cm, "data"), "ca.crt"));
	if (cm && have && !strcmp(have, pem)) {
		json_object_put(cm);
		return 0;
	}
	want = json_object_new_object();
	berth_json_set_str(berth_json_obj(want, "metadata"), "name",
			   ROOT_CA_CM);
	berth_json_set_str(berth_json_obj(want, "data"), "ca.crt", pem);
	if (cm)
		code = berth_client_merge_patch(c->api,
						berth_res("", "configmaps"),
						nsname, ROOT_CA_CM, NULL, want,
						&out);
	else
		code = berth_client_create(c->api, berth_res("", "configmaps"),
					   nsname, want, &out);
	json_object_put(cm);
	json_object_put(want);
	json_object_put(out);
	/* 403: terminating; 404: gone; 409: made meanwhile (its event
	 * brings the namespace back) */
	return code / 100 == 2 || code == 403 || code == 404 || code == 409 ?
		       0 :
		       -EIO;
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
	err = root_ca_sync(c, nsname);
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
	c->cm = berth_ctl_informer(m, berth_res("", "configmaps"));
	berth_enqueue_handler(&h, c->q);
	berth_informer_add_handler(c->ns, &h);
	berth_informer_add_handler(
		c->sa, &(struct berth_informer_handler){ .add = sa_changed,
							 .del = sa_changed,
							 .ctx = c });
	berth_informer_add_handler(
		c->cm, &(struct berth_informer_handler){ .add = cm_changed,
							 .update = cm_updated,
							 .del = cm_changed,
							 .ctx = c });
	*state = c;
	return berth_ctl_workers(m, "serviceaccount", c->q, 1, sa_sync, c);
}

BERTH_CONTROLLER(serviceaccount, .name = "serviceaccount", .init = sa_init,
		 .stop = free);
