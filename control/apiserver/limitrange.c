// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * LimitRanger admission for pods: the Container items of the namespace's
 * LimitRanges give containers their default limits and requests (mutating,
 * before validation) and bound them (min, max, maxLimitRequestRatio; after
 * validation), with kube-apiserver's messages.
 */
#include <stdio.h>
#include <string.h>

#include "admission.h"
#include "api.h"
#include "jsonutil.h"
#include "quota.h"

static bool is_container_item(struct json_object *it)
{
	const char *t = berth_json_get_str(it, "type");

	return t && !strcmp(t, "Container");
}

/* Call fn for every Container item of every LimitRange of the namespace. */
static void each_item(const struct berth_admission_req *rq,
		      void (*fn)(struct json_object *it, void *ctx), void *ctx)
{
	struct json_object *lrs =
		berth_admission_list(rq->api, "limitranges", rq->ns);
	size_t i, j;

	for (i = 0; i < json_object_array_length(lrs); i++) {
		struct json_object *items = berth_admission_array(
			berth_json_path(json_object_array_get_idx(lrs, i),
					"spec"),
			"limits");

		for (j = 0; items && j < json_object_array_length(items); j++)
			if (is_container_item(json_object_array_get_idx(items, j)))
				fn(json_object_array_get_idx(items, j), ctx);
	}
	json_object_put(lrs);
}

/* Each container of the pod (init containers too). */
static void each_container(struct json_object *pod,
			   void (*fn)(struct json_object *c, void *ctx),
			   void *ctx)
{
	berth_admission_each_container(berth_json_path(pod, "spec"), fn, ctx);
}

/* Copy the keys of from missing in res.<kind>. */
static void fill(struct json_object *c, const char *kind,
		 struct json_object *from)
{
	struct json_object *res, *dst;

	if (!json_object_is_type(from, json_type_object) ||
	    !json_object_object_length(from))
		return;
	res = berth_json_obj(c, "resources");
	dst = berth_json_obj(res, kind);
	json_object_object_foreach(from, k, v)
	{
		if (!json_object_object_get_ex(dst, k, NULL))
			json_object_object_add(dst, k, json_object_get(v));
	}
}

static void default_container(struct json_object *c, void *item)
{
	struct json_object *it = item;

	fill(c, "limits", berth_json_path(it, "default"));
	fill(c, "requests", berth_json_path(it, "defaultRequest"));
	/* a default limit alone is also the default request, as the
	 * LimitRange's own defaulting makes it */
	fill(c, "requests", berth_json_path(it, "default"));
}

static void default_item(struct json_object *it, void *ctx)
{
	each_container(ctx, default_container, it);
}

struct json_object *berth_limitrange_default(const struct berth_admission_req *rq)
{
	each_item(rq, default_item, rq->obj);
	return NULL;
}

struct bounds {
	struct json_object *item;
	char msg[1536];
	size_t off;
	int n;
};

static void add_msg(struct bounds *b, const char *fmt, const char *res,
		    int64_t want, int64_t have, bool with_have)
{
	char w[48], h[48];
	bool bytes = !strcmp(res, "memory") || !strcmp(res, "ephemeral-storage");

	berth_quantity_format(want, bytes, w, sizeof(w));
	berth_quantity_format(have, bytes, h, sizeof(h));
	if (b->off >= sizeof(b->msg))
		return;
	b->off += snprintf(b->msg + b->off, sizeof(b->msg) - b->off, "%s",
			   b->n ? ", " : "");
	if (b->off < sizeof(b->msg)) {
		if (with_have)
			b->off += snprintf(b->msg + b->off,
					   sizeof(b->msg) - b->off, fmt, res, w,
					   h);
		else
			b->off += snprintf(b->msg + b->off,
					   sizeof(b->msg) - b->off, fmt, res, w);
	}
	b->n++;
}

/* item.key as an object to iterate: json-c's foreach needs one */
static struct json_object *map_of(struct json_object *item, const char *key)
{
	static __thread struct json_object *empty;
	struct json_object *m = berth_json_path(item, key);

	if (json_object_is_type(m, json_type_object))
		return m;
	if (!empty)
		empty = json_object_new_object();
	return empty;
}

static void check_container(struct json_object *c, void *ctx)
{
	struct bounds *b = ctx;
	struct json_object *req = berth_json_path(c, "resources.requests");
	struct json_object *lim = berth_json_path(c, "resources.limits");
	struct json_object *min = map_of(b->item, "min");
	struct json_object *max = map_of(b->item, "max");
	struct json_object *ratio = map_of(b->item, "maxLimitRequestRatio");
	int64_t v, r, l;

	json_object_object_foreach(min, k1, v1)
	{
		(void)v1;
		if (berth_quantity_get(min, k1, &v))
			continue;
		if (berth_quantity_get(req, k1, &r))
			add_msg(b,
				"minimum %s usage per Container is %s.  No request is specified",
				k1, v, 0, false);
		else if (r < v)
			add_msg(b,
				"minimum %s usage per Container is %s, but request is %s",
				k1, v, r, true);
	}
	json_object_object_foreach(max, k2, v2)
	{
		(void)v2;
		if (berth_quantity_get(max, k2, &v))
			continue;
		if (berth_quantity_get(lim, k2, &l))
			add_msg(b,
				"maximum %s usage per Container is %s.  No limit is specified",
				k2, v, 0, false);
		else if (l > v)
			add_msg(b,
				"maximum %s usage per Container is %s, but limit is %s",
				k2, v, l, true);
	}
	json_object_object_foreach(ratio, k3, v3)
	{
		(void)v3;
		if (berth_quantity_get(ratio, k3, &v) ||
		    berth_quantity_get(lim, k3, &l) ||
		    berth_quantity_get(req, k3, &r) || !r)
			continue;
		if (l * 1000 / r > v && b->off < sizeof(b->msg)) {
			b->off += snprintf(
				b->msg + b->off, sizeof(b->msg) - b->off,
				"%s%s max limit to request ratio per Container is %lld, but provided ratio is %f",
				b->n ? ", " : "", k3, (long long)(v / 1000),
				(double)l / (double)r);
			b->n++;
		}
	}
}

struct validate_ctx {
	struct json_object *pod;
	struct bounds b;
};

static void check_item(struct json_object *it, void *ctx)
{
	struct validate_ctx *vc = ctx;

	vc->b.item = it;
	each_container(vc->pod, check_container, &vc->b);
}

struct json_object *berth_limitrange_validate(const struct berth_admission_req *rq)
{
	struct validate_ctx vc = { .pod = rq->obj };

	each_item(rq, check_item, &vc);
	if (!vc.b.n)
		return NULL;
	/* one message alone, several as Go prints an aggregate */
	if (vc.b.n == 1)
		return berth_admission_forbidden(rq, "%s", vc.b.msg);
	return berth_admission_forbidden(rq, "[%s]", vc.b.msg);
}
