// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pod garbage collector, as Kubernetes' podgc does it: pods bound to a
 * Node that no longer exists (after a quarantine, confirmed by a read of
 * the Node from the store) and terminating pods that were never scheduled
 * are deleted at once (grace period 0), since no kubelet will ever finish
 * them. Without it a deleted node's pods stay in Endpoints for good.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "../apiserver/jsonutil.h"
#include "ctl.h"
#include "strmap.h"

#define PODGC_PERIOD_MS 2000
/* a Node missing from the cache this long is gone, not just late (40 s
 * in Kubernetes; the check against the store below makes a short one safe) */
#define PODGC_QUARANTINE_MS 8000

struct podgc {
	struct berth_api *api;
	struct berth_informer *pods, *nodes;
	/* node name -> first time (ms, int64_t *) it was seen missing */
	struct berth_strmap missing;
};

static int force_delete(struct podgc *c, struct json_object *pod,
			const char *why)
{
	const char *ns = berth_json_path_str(pod, "metadata.namespace");
	const char *name = berth_json_path_str(pod, "metadata.name");
	const char *uid = berth_json_path_str(pod, "metadata.uid");
	const char *const args[] = { "gracePeriodSeconds", "0", NULL };
	struct json_object *body = json_object_new_object(), *pre;
	char path[512];
	int code;

	if (!ns || !name ||
	    berth_client_path(berth_res("", "pods"), ns, name, NULL, path,
			      sizeof(path))) {
		json_object_put(body);
		return -EINVAL;
	}
	json_object_object_add(body, "kind",
			       json_object_new_string("DeleteOptions"));
	json_object_object_add(body, "apiVersion", json_object_new_string("v1"));
	if (uid) {
		pre = json_object_new_object();
		json_object_object_add(pre, "uid", json_object_new_string(uid));
		json_object_object_add(body, "preconditions", pre);
	}
	code = berth_client_request(c->api, "DELETE", path, args,
				    "application/json", body, NULL);
	json_object_put(body);
	if (code == 200 || code == 202) {
		pr_info("podgc: deleted pod %s/%s: %s", ns, name, why);
		return 0;
	}
	/* 404: gone already; 409: another pod by that name now */
	if (code == 404 || code == 409)
		return 0;
	pr_warn("podgc: delete pod %s/%s: HTTP %d", ns, name, code);
	return -EIO;
}

/*
 * Is the node really gone? The cache may lag a Node just created. The time
 * it was first seen missing moves from c->missing into seen (this pass's).
 */
static bool node_gone(struct podgc *c, struct berth_strmap *seen,
		      const char *node, int64_t now)
{
	struct json_object *n = berth_informer_get(c->nodes, node), *out = NULL;
	int64_t *since;
	int code;

	if (n) {
		json_object_put(n);
		return false;
	}
	since = berth_strmap_get(seen, node);
	if (!since) {
		since = berth_strmap_del(&c->missing, node);
		if (!since) {
			since = malloc(sizeof(*since));
			if (!since)
				return false;
			*since = now;
		}
		berth_strmap_put(seen, node, since);
	}
	if (now - *since < PODGC_QUARANTINE_MS)
		return false;
	code = berth_client_get(c->api, berth_res("", "nodes"), NULL, node,
				&out);
	json_object_put(out);
	return code == 404;
}

static void free_vals(struct berth_strmap *m)
{
	struct berth_strmap_ent *e;
	size_t bucket = 0;

	for (e = NULL; (e = berth_strmap_next(m, &bucket, e));)
		free(e->val);
	berth_strmap_free(m);
}

static void podgc_run(void *ctx)
{
	struct podgc *c = ctx;
	struct json_object *pods = berth_informer_list(c->pods, NULL, NULL);
	struct berth_strmap seen = { 0 };
	int64_t now = berth_now_ms();
	size_t n = json_object_array_length(pods);

	for (size_t i = 0; i < n; i++) {
		struct json_object *pod = json_object_array_get_idx(pods, i);
		const char *node = berth_json_path_str(pod, "spec.nodeName");

		if (node && *node) {
			if (node_gone(c, &seen, node, now))
				force_delete(c, pod, "its node is gone");
		} else if (berth_obj_deleting(pod)) {
			force_delete(c, pod, "terminating and never scheduled");
		}
	}
	json_object_put(pods);
	/* nodes no pod names any more, or back again, are forgotten */
	free_vals(&c->missing);
	c->missing = seen;
}

static int podgc_init(struct berth_ctl *m, void **state)
{
	struct podgc *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->api = berth_ctl_api(m);
	c->pods = berth_ctl_informer(m, berth_res("", "pods"));
	c->nodes = berth_ctl_informer(m, berth_res("", "nodes"));
	*state = c;
	return berth_ctl_every(m, "podgc", PODGC_PERIOD_MS, podgc_run, c);
}

static void podgc_stop(void *state)
{
	struct podgc *c = state;

	free_vals(&c->missing);
	free(c);
}

BERTH_CONTROLLER(podgc, .name = "podgc", .init = podgc_init,
		 .stop = podgc_stop);
