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

/* A min (request at least) or max (limit at most) map against have. */
static void check_bound(struct bounds *b, struct json_object *bound,
			struct json_object *have, bool min)
{
	int64_t v, h;

	if (!json_object_is_type(bound, json_type_object))
		return;
	json_object_object_foreach(bound, k, val)
	{
		(void)val;
		if (berth_quantity_get(bound, k, &v))
			continue;
		if (berth_quantity_get(have, k, &h))
			add_msg(b,
				min ? "minimum %s usage per Container is %s.  No request is specified" :
				      "maximum %s usage per Container is %s.  No limit is specified",
				k, v, 0, false);
		else if (min ? h < v : h > v)
			add_msg(b,
				min ? "minimum %s usage per Container is %s, but request is %s" :
				      "maximum %s usage per Container is %s, but limit is %s",
				k, v, h, true);
	}
}

static void check_ratio(struct bounds *b, struct json_object *ratio,
			struct json_object *req, struct json_object *lim)
{
	int64_t v, r, l;

	if (!json_object_is_type(ratio, json_type_object))
		return;
	json_object_object_foreach(ratio, k, val)
	{
		(void)val;
		if (berth_quantity_get(ratio, k, &v) ||
		    berth_quantity_get(lim, k, &l) ||
		    berth_quantity_get(req, k, &r) || !r)
			continue;
		if (l * 1000 / r > v && b->off < sizeof(b->msg)) {
			b->off += snprintf(
				b->msg + b->off, sizeof(b->msg) - b->off,
				"%s%s max limit to request ratio per Container is %lld, but provided ratio is %f",
				b->n ? ", " : "", k, (long long)(v / 1000),
				(double)l / (double)r);
			b->n++;
		}
	}
}

static void check_container(struct json_object *c, void *ctx)
{
	struct bounds *b = ctx;
	struct json_object *req = berth_json_path(c, "resources.requests");
	struct json_object *lim = berth_json_path(c, "resources.limits");

	check_bound(b, berth_json_path(b->item, "min"), req, true);
	check_bound(b, berth_json_path(b->item, "max"), lim, false);
	check_ratio(b, berth_json_path(b->item, "maxLimitRequestRatio"), req,
		    lim);
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
