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

/* Call fn for every item of every LimitRange of the namespace. */
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
	if (is_container_item(it))
		each_container(ctx, default_container, it);
}

struct json_object *
berth_limitrange_default(const struct berth_admission_req *rq)
{
	each_item(rq, default_item, rq->obj);
	return NULL;
}

struct bounds {
	struct json_object *item;
	const char *what; /* "Container" or "Pod" */
	char msg[1536];
	size_t off;
	int n;
};

/* "minimum cpu usage per Container is 100m, but request is 50m" */
static void add_msg(struct bounds *b, bool min, const char *res, int64_t want,
		    const int64_t *have)
{
	char w[48], h[48];
	bool bytes = !strcmp(res, "memory") ||
		     !strcmp(res, "ephemeral-storage");

	berth_quantity_format(want, bytes, w, sizeof(w));
	if (have)
		berth_quantity_format(*have, bytes, h, sizeof(h));
	if (b->off < sizeof(b->msg))
		b->off += snprintf(
			b->msg + b->off, sizeof(b->msg) - b->off,
			"%s%s %s usage per %s is %s%s%s%s", b->n ? ", " : "",
			min ? "minimum" : "maximum", res, b->what, w,
			have ? (min ? ", but request is " : ", but limit is ") :
			       (min ? ".  No request is specified" :
				      ".  No limit is specified"),
			have ? h : "", "");
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
			add_msg(b, min, k, v, NULL);
		else if (min ? h < v : h > v)
			add_msg(b, min, k, v, &h);
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
				"%s%s max limit to request ratio per %s is %lld, but provided ratio is %f",
				b->n ? ", " : "", k, b->what,
				(long long)(v / 1000), (double)l / (double)r);
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

/*
 * The pod's total of kind (requests, limits) for each resource every
 * container names; a resource a container leaves out is left out.
 */
struct pod_sum {
	struct json_object *bound; /* the resources asked about */
	const char *kind;
	int64_t sum[16];
	bool missing[16];
};

static void sum_container(struct json_object *c, void *ctx)
{
	struct pod_sum *ps = ctx;
	struct json_object *have =
		berth_json_path(berth_json_path(c, "resources"), ps->kind);
	int i = 0;
	int64_t v;

	json_object_object_foreach(ps->bound, k, val)
	{
		(void)val;
		if (i == 16)
			break;
		if (berth_quantity_get(have, k, &v))
			ps->missing[i] = true;
		else
			ps->sum[i] += v;
		i++;
	}
}

static struct json_object *
pod_total(struct json_object *pod, struct json_object *bound, const char *kind)
{
	struct pod_sum ps = { .bound = bound, .kind = kind };
	struct json_object *out = json_object_new_object(), *cs;
	char q[48];
	size_t j;
	int i = 0;

	if (!json_object_is_type(bound, json_type_object))
		return out;
	/* containers only: init containers run before them, alone */
	cs = berth_admission_array(berth_json_path(pod, "spec"), "containers");
	for (j = 0; cs && j < json_object_array_length(cs); j++)
		sum_container(json_object_array_get_idx(cs, j), &ps);
	json_object_object_foreach(bound, k, val)
	{
		(void)val;
		if (i < 16 && !ps.missing[i]) {
			berth_quantity_format(ps.sum[i], false, q, sizeof(q));
			berth_json_set_str(out, k, q);
		}
		i++;
	}
	return out;
}

static void check_item(struct json_object *it, void *ctx)
{
	struct validate_ctx *vc = ctx;
	const char *t = berth_json_get_str(it, "type");
	struct json_object *req, *lim;

	vc->b.item = it;
	if (is_container_item(it)) {
		vc->b.what = "Container";
		each_container(vc->pod, check_container, &vc->b);
		return;
	}
	if (!t || strcmp(t, "Pod"))
		return;
	vc->b.what = "Pod";
	req = pod_total(vc->pod, berth_json_path(it, "min"), "requests");
	lim = pod_total(vc->pod, berth_json_path(it, "max"), "limits");
	check_bound(&vc->b, berth_json_path(it, "min"), req, true);
	check_bound(&vc->b, berth_json_path(it, "max"), lim, false);
	json_object_put(req);
	json_object_put(lim);
}

struct json_object *
berth_limitrange_validate(const struct berth_admission_req *rq)
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
