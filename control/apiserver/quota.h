/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * ResourceQuota: what an object uses of the resources a quota can limit,
 * and resource quantities ("500m", "1Gi") in milli-units. The admission
 * plugin (quota.c) and the quota controller (controllers/quota.c) count
 * the same way.
 */
#ifndef BERTH_APISERVER_QUOTA_H
#define BERTH_APISERVER_QUOTA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

enum berth_quota_res {
	BERTH_Q_PODS,
	BERTH_Q_SERVICES,
	BERTH_Q_CONFIGMAPS,
	BERTH_Q_SECRETS,
	BERTH_Q_REQ_CPU,
	BERTH_Q_REQ_MEM,
	BERTH_Q_LIM_CPU,
	BERTH_Q_LIM_MEM,
	BERTH_Q_NODEPORTS,
	BERTH_Q_LBS,
	BERTH_Q_N,
};

/* "requests.cpu", "cpu", "count/pods"... -> its index, or -1. */
int berth_quota_res_find(const char *name);
/* The canonical name of an index ("requests.cpu"). */
const char *berth_quota_res_name(int res);
/*
 * What obj of kind uses, added to use[] (milli-units). false: it counts
 * for nothing (a pod that has ended). *missing gets a bit (1 << res) for
 * each compute resource a container leaves unspecified.
 */
bool berth_quota_usage(const char *kind, struct json_object *obj,
		       int64_t use[BERTH_Q_N], unsigned int *missing);
/*
 * Does quota count obj? Its scopes (Terminating, NotTerminating,
 * BestEffort, NotBestEffort) select pods; a scoped quota counts nothing
 * else, and a scope berth does not know matches nothing.
 */
bool berth_quota_matches(struct json_object *quota, const char *kind,
			 struct json_object *obj);
struct berth_resource;
struct berth_store;
/* "count/widgets.example.com" -> that namespaced resource, else NULL. */
const struct berth_resource *berth_quota_count_resource(const char *name);
/* How many objects of r are in ns now, in milli-units. */
int64_t berth_quota_count_now(struct berth_store *store,
			      const struct berth_resource *r, const char *ns);
/* The kinds quota counts, and their plural names. */
extern const char *const berth_quota_kinds[4][2];

/* "1.5", "500m", "128Mi", "2G", "1e3" -> milli-units; -EINVAL. */
int berth_quantity_parse(const char *s, int64_t *milli);
/* The other way: "500m", "2", "128Mi" (binary suffixes for bytes). */
void berth_quantity_format(int64_t milli, bool bytes, char *buf, size_t size);
/* A quantity value (string or number) of a json map; -EINVAL if none. */
int berth_quantity_get(struct json_object *map, const char *key,
		       int64_t *milli);

#endif
