// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ResourceQuota admission: a create is charged to every quota of its
 * namespace that limits what it uses. The charge is a compare-and-swap of
 * the quota's status.used, so concurrent creates never both take the last
 * unit; a refusal is 403 "exceeded quota: NAME, requested: ..., used: ...,
 * limited: ...". The quota controller later corrects status.used for
 * charges whose object was never written.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/quantity.h>

#include "../store/store.h"
#include "admission.h"
#include "api.h"
#include "jsonutil.h"
#include "quota.h"
#include "registry.h"
#include "rest.h"

#define CHARGE_RETRIES 16
#define KEY_MAX 512

static const char *const res_names[BERTH_Q_N][3] = {
	[BERTH_Q_PODS] = { "pods", "count/pods" },
	[BERTH_Q_SERVICES] = { "services", "count/services" },
	[BERTH_Q_CONFIGMAPS] = { "configmaps", "count/configmaps" },
	[BERTH_Q_SECRETS] = { "secrets", "count/secrets" },
	[BERTH_Q_REQ_CPU] = { "requests.cpu", "cpu" },
	[BERTH_Q_REQ_MEM] = { "requests.memory", "memory" },
	[BERTH_Q_LIM_CPU] = { "limits.cpu" },
	[BERTH_Q_LIM_MEM] = { "limits.memory" },
	[BERTH_Q_NODEPORTS] = { "services.nodeports" },
	[BERTH_Q_LBS] = { "services.loadbalancers" },
};

const char *const berth_quota_kinds[4][2] = {
	{ "Pod", "pods" },
	{ "Service", "services" },
	{ "ConfigMap", "configmaps" },
	{ "Secret", "secrets" },
};

int berth_quota_res_find(const char *name)
{
	int i, j;

	for (i = 0; name && i < BERTH_Q_N; i++)
		for (j = 0; j < 3 && res_names[i][j]; j++)
			if (!strcmp(name, res_names[i][j]))
				return i;
	return -1;
}

const char *berth_quota_res_name(int res)
{
	return res >= 0 && res < BERTH_Q_N ? res_names[res][0] : "";
}

static bool is_bytes(int res)
{
	return res == BERTH_Q_REQ_MEM || res == BERTH_Q_LIM_MEM;
}

/* ---- quantities ---- */

int berth_quantity_parse(const char *s, int64_t *milli)
{
	int64_t v;
	int err = berth_quantity_milli(s, &v);

	if (err)
		return err;
	if (v < 0) /* no resource is negative */
		return -EINVAL;
	*milli = v;
	return 0;
}

void berth_quantity_format(int64_t milli, bool bytes, char *buf, size_t size)
{
	static const char *const bin[] = { "Ei", "Pi", "Ti", "Gi", "Mi", "Ki" };
	int64_t units;
	int i;

	if (milli % 1000) {
		snprintf(buf, size, "%" PRId64 "m", milli);
		return;
	}
	units = milli / 1000;
	for (i = 0; bytes && units && i < 6; i++) {
		int64_t m = (int64_t)1 << (10 * (6 - i));

		if (units % m == 0) {
			snprintf(buf, size, "%" PRId64 "%s", units / m, bin[i]);
			return;
		}
	}
	snprintf(buf, size, "%" PRId64, units);
}

int berth_quantity_get(struct json_object *map, const char *key, int64_t *milli)
{
	struct json_object *v;

	if (!json_object_object_get_ex(map, key, &v))
		return -ENOENT;
	if (json_object_is_type(v, json_type_int)) {
		*milli = json_object_get_int64(v) * 1000;
		return *milli >= 0 ? 0 : -EINVAL;
	}
	if (json_object_is_type(v, json_type_double)) {
		*milli = (int64_t)ceil(json_object_get_double(v) * 1000.0);
		return *milli >= 0 ? 0 : -EINVAL;
	}
	return berth_quantity_parse(json_object_get_string(v), milli);
}

/* ---- usage ---- */

/* One container's request and limit of cpu and memory; missing bits. */
static void container_use(struct json_object *c, int64_t u[4],
			  unsigned int *missing)
{
	static const char *const names[2] = { "cpu", "memory" };
	struct json_object *req = berth_json_path(c, "resources.requests");
	struct json_object *lim = berth_json_path(c, "resources.limits");
	int i;

	for (i = 0; i < 2; i++) {
		int64_t r = 0, l = 0;
		bool hr = !berth_quantity_get(req, names[i], &r);
		bool hl = !berth_quantity_get(lim, names[i], &l);

		if (!hr && hl)
			r = l; /* a limit alone is also the request */
		u[i] = r;
		u[2 + i] = l;
		if (!hr && !hl)
			*missing |= 1u << (BERTH_Q_REQ_CPU + i);
		if (!hl)
			*missing |= 1u << (BERTH_Q_LIM_CPU + i);
	}
}

static void pod_use(struct json_object *spec, int64_t use[BERTH_Q_N],
		    unsigned int *missing)
{
	static const int idx[4] = { BERTH_Q_REQ_CPU, BERTH_Q_REQ_MEM,
				    BERTH_Q_LIM_CPU, BERTH_Q_LIM_MEM };
	struct json_object *cs = berth_admission_array(spec, "containers");
	struct json_object *ics = berth_admission_array(spec, "initContainers");
	int64_t sum[4] = { 0 }, init[4] = { 0 }, u[4];
	size_t i;
	int k;

	for (i = 0; cs && i < json_object_array_length(cs); i++) {
		container_use(json_object_array_get_idx(cs, i), u, missing);
		for (k = 0; k < 4; k++)
			sum[k] += u[k];
	}
	/* init containers run one at a time: the largest counts */
	for (i = 0; ics && i < json_object_array_length(ics); i++) {
		container_use(json_object_array_get_idx(ics, i), u, missing);
		for (k = 0; k < 4; k++)
			if (u[k] > init[k])
				init[k] = u[k];
	}
	for (k = 0; k < 4; k++)
		use[idx[k]] += sum[k] > init[k] ? sum[k] : init[k];
}

bool berth_quota_usage(const char *kind, struct json_object *obj,
		       int64_t use[BERTH_Q_N], unsigned int *missing)
{
	const char *phase, *type;

	if (!strcmp(kind, "Pod")) {
		phase = berth_json_path_str(obj, "status.phase");
		if (phase &&
		    (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
			return false;
		use[BERTH_Q_PODS] += 1000;
		pod_use(berth_json_path(obj, "spec"), use, missing);
	} else if (!strcmp(kind, "Service")) {
		use[BERTH_Q_SERVICES] += 1000;
		type = berth_json_path_str(obj, "spec.type");
		if (type && !strcmp(type, "LoadBalancer"))
			use[BERTH_Q_LBS] += 1000;
		if (type && (!strcmp(type, "LoadBalancer") ||
			     !strcmp(type, "NodePort"))) {
			struct json_object *ps = berth_admission_array(
				berth_json_path(obj, "spec"), "ports");

			use[BERTH_Q_NODEPORTS] +=
				1000 * (ps ? json_object_array_length(ps) : 0);
		}
	} else if (!strcmp(kind, "ConfigMap")) {
		use[BERTH_Q_CONFIGMAPS] += 1000;
	} else if (!strcmp(kind, "Secret")) {
		use[BERTH_Q_SECRETS] += 1000;
	} else {
		return false;
	}
	return true;
}

static bool best_effort(struct json_object *pod)
{
	int64_t use[BERTH_Q_N] = { 0 };
	unsigned int missing = 0;

	pod_use(berth_json_path(pod, "spec"), use, &missing);
	return !use[BERTH_Q_REQ_CPU] && !use[BERTH_Q_REQ_MEM] &&
	       !use[BERTH_Q_LIM_CPU] && !use[BERTH_Q_LIM_MEM];
}

bool berth_quota_matches(struct json_object *quota, const char *kind,
			 struct json_object *obj)
{
	struct json_object *scopes =
		berth_admission_array(berth_json_path(quota, "spec"), "scopes");
	size_t i;

	for (i = 0; scopes && i < json_object_array_length(scopes); i++) {
		const char *sc = json_object_get_string(
			json_object_array_get_idx(scopes, i));
		bool term;

		if (strcmp(kind, "Pod"))
			return false; /* scopes are about pods */
		term = berth_json_path(obj, "spec.activeDeadlineSeconds");
		if (!sc || (!strcmp(sc, "Terminating") && !term) ||
		    (!strcmp(sc, "NotTerminating") && term) ||
		    (!strcmp(sc, "BestEffort") && !best_effort(obj)) ||
		    (!strcmp(sc, "NotBestEffort") && best_effort(obj)))
			return false;
		if (strcmp(sc, "Terminating") && strcmp(sc, "NotTerminating") &&
		    strcmp(sc, "BestEffort") && strcmp(sc, "NotBestEffort"))
			return false; /* a scope berth does not know */
	}
	return true;
}

/* ---- admission ---- */

/* What the namespace uses of res now, counted from the store. */
static int64_t ns_usage(struct berth_api *api, const char *ns,
			struct json_object *quota, int res)
{
	int64_t use[BERTH_Q_N] = { 0 }, total = 0;
	unsigned int missing = 0;
	size_t i, k;

	for (k = 0; k < 4; k++) {
		struct json_object *a =
			berth_admission_list(api, berth_quota_kinds[k][1], ns);

		memset(use, 0, sizeof(use));
		for (i = 0; i < json_object_array_length(a); i++)
			if (berth_quota_matches(quota, berth_quota_kinds[k][0],
						json_object_array_get_idx(a,
									  i)))
				berth_quota_usage(berth_quota_kinds[k][0],
						  json_object_array_get_idx(a,
									    i),
						  use, &missing);
		total += use[res];
		json_object_put(a);
	}
	return total;
}

struct charge {
	size_t off[3];
	char part[3][400]; /* requested, used, limited */
	bool over;
};

static void note_over(struct charge *ch, const char *name, bool bytes,
		      int64_t req, int64_t used, int64_t hard)
{
	const int64_t v[3] = { req, used, hard };
	char q[64];
	int i;

	for (i = 0; i < 3; i++) {
		berth_quantity_format(v[i], bytes, q, sizeof(q));
		if (ch->off[i] < sizeof(ch->part[i]))
			ch->off[i] += snprintf(ch->part[i] + ch->off[i],
					       sizeof(ch->part[i]) - ch->off[i],
					       "%s%s=%s", ch->over ? "," : "",
					       name, q);
	}
	ch->over = true;
}

const struct berth_resource *berth_quota_count_resource(const char *name)
{
	const char *r, *dot;
	size_t i, n;

	if (strncmp(name, "count/", 6))
		return NULL;
	r = name + 6;
	dot = strchr(r, '.');
	n = dot ? (size_t)(dot - r) : strlen(r);
	for (i = 0; i < berth_nresources; i++) {
		const struct berth_resource *x = &berth_resources[i];

		if (strlen(x->name) == n && !strncmp(x->name, r, n) &&
		    !strcmp(x->group, dot ? dot + 1 : "") && x->namespaced)
			return x;
	}
	return NULL;
}

int64_t berth_quota_count_now(struct berth_store *store,
			      const struct berth_resource *r, const char *ns)
{
	char prefix[KEY_MAX];
	size_t n = 0;

	if (berth_resource_key(r, ns, NULL, prefix, sizeof(prefix)) ||
	    berth_store_count(store, prefix, &n))
		return 0;
	return (int64_t)n * 1000;
}

/*
 * Check (and with write, charge) one quota as read; 0 done or nothing to
 * charge,
 * -ECANCELED raced (retry), -EDQUOT refused (*st), other -errno.
 */
static int charge_one(const struct berth_admission_req *rq,
		      struct json_object *quota, const int64_t use[BERTH_Q_N],
		      unsigned int missing, bool write, struct json_object **st)
{
	struct json_object *hard = berth_json_path(quota, "spec.hard");
	struct json_object *sused = berth_json_path(quota, "status.used");
	const char *qname = berth_json_path_str(quota, "metadata.name");
	struct json_object *nq, *used;
	struct charge ch = { 0 };
	char key[KEY_MAX], q[64], miss[200] = "";
	const char *rvs =
		berth_json_path_str(quota, "metadata.resourceVersion");
	/* the revision read: the compare of the compare-and-swap */
	int64_t rev = rvs ? strtoll(rvs, NULL, 10) : 0;
	bool any = false;
	size_t mo = 0;
	int err;

	if (!json_object_is_type(hard, json_type_object) ||
	    !berth_quota_matches(quota, rq->res->kind, rq->obj))
		return 0;
	nq = berth_json_copy(quota);
	used = berth_json_obj(berth_json_obj(nq, "status"), "used");
	json_object_object_foreach(hard, name, hv)
	{
		int64_t h, u, want, res = berth_quota_res_find(name);
		const struct berth_resource *cr = NULL;
		bool bytes = is_bytes((int)res);

		(void)hv;
		if (berth_quantity_get(hard, name, &h))
			continue;
		if (res < 0) {
			/* count/<resource>[.<group>]: any namespaced kind */
			cr = berth_quota_count_resource(name);
			if (cr != rq->res)
				continue;
			want = 1000;
		} else {
			if ((missing & (1u << res)) && mo < sizeof(miss))
				mo += snprintf(miss + mo, sizeof(miss) - mo,
					       "%s%s", mo ? "," : "", name);
			want = use[res];
		}
		if (!want)
			continue;
		any = true;
		if (berth_quantity_get(sused, name, &u))
			u = cr ? berth_quota_count_now(rq->api->store, cr,
						       rq->ns) :
				 ns_usage(rq->api, rq->ns, quota, (int)res);
		if (u + want > h)
			note_over(&ch, name, bytes, want, u, h);
		berth_quantity_format(u + want, bytes, q, sizeof(q));
		berth_json_set_str(used, name, q);
	}
	if (*miss) {
		*st = berth_admission_forbidden(
			rq, "failed quota: %s: must specify %s", qname, miss);
		err = -EDQUOT;
	} else if (ch.over) {
		*st = berth_admission_forbidden(
			rq,
			"exceeded quota: %s, requested: %s, used: %s, limited: %s",
			qname, ch.part[0], ch.part[1], ch.part[2]);
		err = -EDQUOT;
	} else if (!any || rq->dry || !write) {
		err = 0;
	} else {
		const char *js;
		size_t len;

		json_object_object_add(berth_json_obj(nq, "status"), "hard",
				       json_object_get(hard));
		json_object_object_del(berth_json_obj(nq, "metadata"),
				       "resourceVersion");
		js = berth_json_str(nq, &len);
		err = berth_resource_key(berth_resource_find("", "v1",
							     "resourcequotas"),
					 rq->ns, qname, key, sizeof(key));
		if (!err)
			err = berth_store_update(rq->api->store, key, js, len,
						 rev, 0, NULL);
	}
	json_object_put(nq);
	return err;
}

static bool charged(struct json_object *done, const char *name)
{
	size_t i;

	for (i = 0; i < json_object_array_length(done); i++)
		if (!strcmp(json_object_get_string(
				    json_object_array_get_idx(done, i)),
			    name ?: ""))
			return true;
	return false;
}

/*
 * Every quota must allow the object before any is charged; a charge that
 * loses a race is retried on a fresh read, the ones that went through are
 * not charged again.
 */
static int charge_all(const struct berth_admission_req *rq,
		      struct json_object *quotas, const int64_t use[BERTH_Q_N],
		      unsigned int missing, struct json_object *done,
		      struct json_object **st)
{
	size_t i, n = json_object_array_length(quotas);
	int err = 0;

	for (i = 0; !err && i < n; i++) {
		struct json_object *q = json_object_array_get_idx(quotas, i);

		if (!charged(done, berth_json_path_str(q, "metadata.name")))
			err = charge_one(rq, q, use, missing, false, st);
	}
	for (i = 0; !err && i < n; i++) {
		struct json_object *q = json_object_array_get_idx(quotas, i);
		const char *name = berth_json_path_str(q, "metadata.name");

		if (charged(done, name))
			continue;
		err = charge_one(rq, q, use, missing, true, st);
		if (!err)
			json_object_array_add(
				done, json_object_new_string(name ?: ""));
	}
	return err;
}

struct json_object *berth_quota_admit(const struct berth_admission_req *rq)
{
	int64_t use[BERTH_Q_N] = { 0 };
	struct json_object *quotas, *done, *st = NULL;
	unsigned int missing = 0;
	int attempt, err = 0;

	/* a pod that has ended counts for nothing; other kinds still may
	 * (count/<resource>) */
	if (!berth_quota_usage(rq->res->kind, rq->obj, use, &missing) &&
	    !strcmp(rq->res->kind, "Pod"))
		return NULL;
	done = json_object_new_array();
	for (attempt = 0; attempt < CHARGE_RETRIES; attempt++) {
		quotas =
			berth_admission_list(rq->api, "resourcequotas", rq->ns);
		err = charge_all(rq, quotas, use, missing, done, &st);
		json_object_put(quotas);
		if (err != -ECANCELED)
			break;
	}
	json_object_put(done);
	if (st)
		return st;
	if (err)
		return berth_admission_forbidden(
			rq, "status unknown for quota: %s",
			err == -ECANCELED ? "too many concurrent updates" :
					    strerror(-err));
	return NULL;
}
