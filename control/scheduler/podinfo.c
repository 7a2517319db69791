// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pods and Nodes as the scheduler sees them: requests, selectors, affinity
 * terms, tolerations and taints parsed once into structs.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <berth/quantity.h>

#include "../apiserver/jsonutil.h"
#include "podinfo.h"

/* kube-scheduler scores a pod without requests as if it asked for these */
#define DEFAULT_SCORE_CPU_M 100
#define DEFAULT_SCORE_MEM (200LL * 1024 * 1024)

static char *dup(const char *s)
{
	return strdup(s ? s : "");
}

/* Length of a json array; 0 for anything else. */
static int arr_len(struct json_object *a)
{
	return json_object_is_type(a, json_type_array) ?
		       (int)json_object_array_length(a) :
		       0;
}

/*
 * Millicores (scale 1000: cpu) or whole units rounded up (scale 1: memory,
 * pods) of a quantity, a JSON number or a string; 0 if bad, INT64_MAX if
 * beyond int64.
 */
static int64_t qty(struct json_object *q, int scale)
{
	int64_t m;
	int err;

	if (json_object_is_type(q, json_type_int) ||
	    json_object_is_type(q, json_type_double)) {
		long double v = ceill(json_object_get_double(q) * scale - 1e-9L);

		return v < 0 ? 0 : v > 9e18L ? INT64_MAX : (int64_t)v;
	}
	if (!json_object_is_type(q, json_type_string))
		return 0;
	err = berth_quantity_milli(json_object_get_string(q), &m);
	if (err == -ERANGE)
		return INT64_MAX;
	if (err || m < 0)
		return 0;
	return scale == 1000 ? m : m / 1000 + (m % 1000 != 0);
}

/* ---- labels and selectors ---- */

static void labels_parse(struct json_object *m, struct sched_labels *l)
{
	int n = 0;

	l->a = NULL;
	l->n = 0;
	if (!json_object_is_type(m, json_type_object) ||
	    !json_object_object_length(m))
		return;
	l->a = calloc(json_object_object_length(m), sizeof(*l->a));
	json_object_object_foreach(m, k, v)
	{
		l->a[n].k = dup(k);
		l->a[n].v = dup(json_object_get_string(v));
		n++;
	}
	l->n = n;
}

static void labels_free(struct sched_labels *l)
{
	for (int i = 0; i < l->n; i++) {
		free(l->a[i].k);
		free(l->a[i].v);
	}
	free(l->a);
}

static bool labels_same(const struct sched_labels *a,
			const struct sched_labels *b)
{
	const char *v;

	if (a->n != b->n)
		return false;
	for (int i = 0; i < a->n; i++)
		if (!(v = sched_label(b, a->a[i].k)) || strcmp(v, a->a[i].v))
			return false;
	return true;
}

const char *sched_label(const struct sched_labels *l, const char *key)
{
	for (int i = 0; i < l->n; i++)
		if (!strcmp(l->a[i].k, key))
			return l->a[i].v;
	return NULL;
}

static bool op_parse(const char *s, enum sched_op *op)
{
	static const char *const names[] = { "In", "NotIn", "Exists",
					     "DoesNotExist", "Gt", "Lt" };

	for (int i = 0; s && i < 6; i++)
		if (!strcmp(s, names[i])) {
			*op = i;
			return true;
		}
	return false;
}

static void req_add(struct sched_sel *s, const char *key, enum sched_op op,
		    struct json_object *vals, const char *one)
{
	struct sched_req *r;
	int n = vals ? (int)json_object_array_length(vals) : 0;

	s->r = realloc(s->r, (s->n + 1) * sizeof(*s->r));
	r = &s->r[s->n++];
	r->key = dup(key);
	r->op = op;
	r->nvals = one ? 1 : n;
	r->vals = calloc(r->nvals ? r->nvals : 1, sizeof(char *));
	if (one)
		r->vals[0] = dup(one);
	for (int i = 0; !one && i < n; i++)
		r->vals[i] = dup(json_object_get_string(
			json_object_array_get_idx(vals, i)));
}

/* matchExpressions-style list (key, operator, values) into s. */
static void exprs_parse(struct json_object *exprs, struct sched_sel *s)
{
	size_t i, n;

	if (!json_object_is_type(exprs, json_type_array))
		return;
	n = json_object_array_length(exprs);
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(exprs, i);
		struct json_object *vals = berth_json_path(e, "values");
		enum sched_op op;

		if (!op_parse(berth_json_get_str(e, "operator"), &op)) {
			s->none = true;
			continue;
		}
		if (!json_object_is_type(vals, json_type_array))
			vals = NULL;
		req_add(s, berth_json_get_str(e, "key"), op, vals, NULL);
	}
}

/* A metav1.LabelSelector; NULL selects nothing (as in pod affinity). */
static void labelsel_parse(struct json_object *sel, struct sched_sel *s)
{
	memset(s, 0, sizeof(*s));
	if (!json_object_is_type(sel, json_type_object)) {
		s->none = true;
		return;
	}
	json_object_object_foreach(berth_json_path(sel, "matchLabels"), k, v)
		req_add(s, k, OP_IN, NULL, json_object_get_string(v));
	exprs_parse(berth_json_path(sel, "matchExpressions"), s);
}

bool sched_sel_from_map(struct json_object *m, struct sched_sel *s)
{
	memset(s, 0, sizeof(*s));
	if (!json_object_is_type(m, json_type_object) ||
	    !json_object_object_length(m))
		return false;
	json_object_object_foreach(m, k, v)
		req_add(s, k, OP_IN, NULL, json_object_get_string(v));
	return true;
}

void sched_sel_free(struct sched_sel *s)
{
	for (int i = 0; i < s->n; i++) {
		for (int j = 0; j < s->r[i].nvals; j++)
			free(s->r[i].vals[j]);
		free(s->r[i].vals);
		free(s->r[i].key);
	}
	free(s->r);
}

static bool req_match(const struct sched_req *r, const char *v)
{
	char *end;
	long long a, b;

	switch (r->op) {
	case OP_IN:
	case OP_NOTIN:
		for (int i = 0; v && i < r->nvals; i++)
			if (!strcmp(r->vals[i], v))
				return r->op == OP_IN;
		return r->op == OP_NOTIN;
	case OP_EXISTS:
		return v;
	case OP_DNE:
		return !v;
	case OP_GT:
	case OP_LT:
		if (!v || r->nvals != 1)
			return false;
		a = strtoll(v, &end, 10);
		if (*end || !*v)
			return false;
		b = strtoll(r->vals[0], &end, 10);
		if (*end || !*r->vals[0])
			return false;
		return r->op == OP_GT ? a > b : a < b;
	}
	return false;
}

bool sched_sel_match(const struct sched_sel *s, const struct sched_labels *l)
{
	if (s->none)
		return false;
	for (int i = 0; i < s->n; i++)
		if (!req_match(&s->r[i], sched_label(l, s->r[i].key)))
			return false;
	return true;
}

bool sched_nterm_match(const struct sched_nterm *t,
		       const struct sched_node_info *n)
{
	if (t->labels.none || t->fields.none ||
	    (!t->labels.n && !t->fields.n))
		return false; /* an empty term matches no node */
	if (!sched_sel_match(&t->labels, &n->labels))
		return false;
	for (int i = 0; i < t->fields.n; i++) {
		const struct sched_req *r = &t->fields.r[i];

		if (strcmp(r->key, "metadata.name") ||
		    !req_match(r, n->name))
			return false;
	}
	return true;
}

/* ---- pods ---- */

static void nterm_parse(struct json_object *t, struct sched_nterm *out)
{
	memset(out, 0, sizeof(*out));
	exprs_parse(berth_json_path(t, "matchExpressions"), &out->labels);
	exprs_parse(berth_json_path(t, "matchFields"), &out->fields);
}

static struct sched_nterm *nterms_parse(struct json_object *a, int *n,
					bool preferred)
{
	struct sched_nterm *t;
	int len;

	len = arr_len(a);
	t = calloc(len ? len : 1, sizeof(*t));
	for (int i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);

		if (preferred) {
			nterm_parse(berth_json_path(e, "preference"), &t[i]);
			t[i].weight = berth_json_get_int(e, "weight", 0);
		} else {
			nterm_parse(e, &t[i]);
		}
	}
	*n = len;
	return t;
}

static struct sched_pterm *pterms_parse(struct json_object *a, int *n,
					bool preferred)
{
	struct sched_pterm *t;
	int len;

	len = arr_len(a);
	t = calloc(len ? len : 1, sizeof(*t));
	for (int i = 0; i < len; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		struct json_object *nss, *nsel;

		if (preferred) {
			t[i].weight = berth_json_get_int(e, "weight", 0);
			e = berth_json_path(e, "podAffinityTerm");
		}
		labelsel_parse(berth_json_path(e, "labelSelector"), &t[i].sel);
		t[i].key = dup(berth_json_get_str(e, "topologyKey"));
		nsel = berth_json_path(e, "namespaceSelector");
		/* {} is every namespace; label-selected namespaces: every
		 * namespace too, as the scheduler does not watch them */
		t[i].all_ns = json_object_is_type(nsel, json_type_object);
		nss = berth_json_path(e, "namespaces");
		if (json_object_is_type(nss, json_type_array) &&
		    json_object_array_length(nss)) {
			t[i].nns = json_object_array_length(nss);
			t[i].ns = calloc(t[i].nns, sizeof(char *));
			for (int j = 0; j < t[i].nns; j++)
				t[i].ns[j] = dup(json_object_get_string(
					json_object_array_get_idx(nss, j)));
		}
	}
	*n = len;
	return t;
}

bool sched_pterm_selects(const struct sched_pterm *t, const char *own_ns,
			 const struct sched_pod *p)
{
	bool in = t->all_ns;

	if (!in && !t->nns)
		in = !strcmp(own_ns, p->ns);
	for (int i = 0; !in && i < t->nns; i++)
		in = !strcmp(t->ns[i], p->ns);
	return in && sched_sel_match(&t->sel, &p->labels);
}

static enum sched_effect effect_parse(const char *s)
{
	if (!s || !*s)
		return EFF_ANY;
	if (!strcmp(s, "NoSchedule"))
		return EFF_NOSCHEDULE;
	if (!strcmp(s, "PreferNoSchedule"))
		return EFF_PREFER;
	return EFF_NOEXECUTE;
}

bool sched_tolerates(const struct sched_pod *p, const struct sched_taint *t)
{
	for (int i = 0; i < p->ntol; i++) {
		const struct sched_toleration *o = &p->tol[i];

		if (o->effect != EFF_ANY && o->effect != t->effect)
			continue;
		if (o->exists && !*o->key)
			return true; /* empty key with Exists: every taint */
		if (strcmp(o->key, t->key))
			continue;
		if (o->exists || !strcmp(o->value, t->value))
			return true;
	}
	return false;
}

static void tolerations_parse(struct json_object *a, struct sched_pod *p)
{
	int n = arr_len(a);

	p->tol = calloc(n ? n : 1, sizeof(*p->tol));
	for (int i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *op = berth_json_get_str(e, "operator");

		p->tol[i].key = dup(berth_json_get_str(e, "key"));
		p->tol[i].value = dup(berth_json_get_str(e, "value"));
		p->tol[i].exists = op && !strcmp(op, "Exists");
		p->tol[i].effect = effect_parse(berth_json_get_str(e, "effect"));
	}
	p->ntol = n;
}

/* Requests of a container list: summed, or the largest (init containers). */
static void requests(struct json_object *ctrs, bool max, int64_t *cpu,
		     int64_t *mem, struct sched_pod *p)
{
	int n = arr_len(ctrs);

	for (int i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(ctrs, i);
		struct json_object *r = berth_json_path(c, "resources.requests");
		struct json_object *ports = berth_json_path(c, "ports");
		int64_t cc = qty(berth_json_path(r, "cpu"), 1000);
		int64_t mm = qty(berth_json_path(r, "memory"), 1);

		if (max) {
			*cpu = cc > *cpu ? cc : *cpu;
			*mem = mm > *mem ? mm : *mem;
		} else {
			*cpu += cc;
			*mem += mm;
		}
		if (max || !json_object_is_type(ports, json_type_array))
			continue;
		for (size_t j = 0; j < json_object_array_length(ports); j++) {
			struct json_object *pt =
				json_object_array_get_idx(ports, j);
			int hp = berth_json_get_int(pt, "hostPort", 0);
			const char *proto = berth_json_get_str(pt, "protocol");
			struct sched_port *sp;

			if (hp <= 0)
				continue;
			p->ports = realloc(p->ports,
					   (p->nports + 1) * sizeof(*p->ports));
			sp = &p->ports[p->nports++];
			sp->port = hp;
			sp->proto = proto ? proto[0] : 'T';
			sp->ip = dup(berth_json_get_str(pt, "hostIP"));
		}
	}
}

static void spread_parse(struct json_object *a, struct sched_pod *p)
{
	int n = arr_len(a);

	p->spread = calloc(n ? n : 1, sizeof(*p->spread));
	for (int i = 0; i < n; i++) {
		struct json_object *e = json_object_array_get_idx(a, i);
		const char *w = berth_json_get_str(e, "whenUnsatisfiable");

		p->spread[i].max_skew = berth_json_get_int(e, "maxSkew", 1);
		p->spread[i].key = dup(berth_json_get_str(e, "topologyKey"));
		p->spread[i].hard = !w || strcmp(w, "ScheduleAnyway");
		labelsel_parse(berth_json_path(e, "labelSelector"),
			       &p->spread[i].sel);
	}
	p->nspread = n;
}

struct sched_pod *sched_pod_parse(struct json_object *pod)
{
	struct sched_pod *p = calloc(1, sizeof(*p));
	struct json_object *spec = berth_json_path(pod, "spec");
	struct json_object *aff = berth_json_path(spec, "affinity");
	struct json_object *na = berth_json_path(aff, "nodeAffinity");
	struct json_object *req, *owners, *ov = NULL;
	const char *phase = berth_json_path_str(pod, "status.phase");
	const char *sn = berth_json_get_str(spec, "schedulerName");
	int64_t icpu = 0, imem = 0;

	if (!p)
		return NULL;
	p->ns = dup(berth_json_path_str(pod, "metadata.namespace"));
	p->name = dup(berth_json_path_str(pod, "metadata.name"));
	p->uid = dup(berth_json_path_str(pod, "metadata.uid"));
	p->node_name = dup(berth_json_get_str(spec, "nodeName"));
	owners = berth_json_path(pod, "metadata.ownerReferences");
	for (size_t i = 0; json_object_is_type(owners, json_type_array) &&
			   i < json_object_array_length(owners);
	     i++) {
		struct json_object *o = json_object_array_get_idx(owners, i);

		if (json_object_object_get_ex(o, "controller", &ov) &&
		    json_object_get_boolean(ov))
			p->owner_uid = dup(berth_json_get_str(o, "uid"));
	}
	labels_parse(berth_json_path(pod, "metadata.labels"), &p->labels);
	requests(berth_json_path(spec, "containers"), false, &p->cpu_m,
		 &p->mem, p);
	requests(berth_json_path(spec, "initContainers"), true, &icpu, &imem,
		 p);
	p->cpu_m = icpu > p->cpu_m ? icpu : p->cpu_m;
	p->mem = imem > p->mem ? imem : p->mem;
	p->cpu_m += qty(berth_json_path(spec, "overhead.cpu"), 1000);
	p->mem += qty(berth_json_path(spec, "overhead.memory"), 1);
	p->score_cpu_m = p->cpu_m ? p->cpu_m : DEFAULT_SCORE_CPU_M;
	p->score_mem = p->mem ? p->mem : DEFAULT_SCORE_MEM;
	labels_parse(berth_json_path(spec, "nodeSelector"), &p->node_selector);
	req = berth_json_path(na, "requiredDuringSchedulingIgnoredDuringExecution");
	p->has_req_affinity = json_object_is_type(req, json_type_object);
	p->req_terms = nterms_parse(berth_json_path(req, "nodeSelectorTerms"),
				    &p->nreq_terms, false);
	p->pref_terms = nterms_parse(
		berth_json_path(na, "preferredDuringSchedulingIgnoredDuringExecution"),
		&p->npref_terms, true);
	tolerations_parse(berth_json_path(spec, "tolerations"), p);
	p->aff = pterms_parse(berth_json_path(aff, "podAffinity.requiredDuringSchedulingIgnoredDuringExecution"),
			      &p->naff, false);
	p->anti = pterms_parse(berth_json_path(aff, "podAntiAffinity.requiredDuringSchedulingIgnoredDuringExecution"),
			       &p->nanti, false);
	p->paff = pterms_parse(berth_json_path(aff, "podAffinity.preferredDuringSchedulingIgnoredDuringExecution"),
			       &p->npaff, true);
	p->panti = pterms_parse(berth_json_path(aff, "podAntiAffinity.preferredDuringSchedulingIgnoredDuringExecution"),
				&p->npanti, true);
	spread_parse(berth_json_path(spec, "topologySpreadConstraints"), p);
	p->ours = !sn || !*sn || !strcmp(sn, "default-scheduler");
	p->terminal = phase && (!strcmp(phase, "Succeeded") ||
				!strcmp(phase, "Failed"));
	p->deleting = berth_json_path(pod, "metadata.deletionTimestamp");
	return p;
}

static void nterms_free(struct sched_nterm *t, int n)
{
	for (int i = 0; i < n; i++) {
		sched_sel_free(&t[i].labels);
		sched_sel_free(&t[i].fields);
	}
	free(t);
}

static void pterms_free(struct sched_pterm *t, int n)
{
	for (int i = 0; i < n; i++) {
		sched_sel_free(&t[i].sel);
		free(t[i].key);
		for (int j = 0; j < t[i].nns; j++)
			free(t[i].ns[j]);
		free(t[i].ns);
	}
	free(t);
}

void sched_pod_free(struct sched_pod *p)
{
	if (!p)
		return;
	free(p->ns);
	free(p->name);
	free(p->uid);
	free(p->node_name);
	free(p->owner_uid);
	labels_free(&p->labels);
	labels_free(&p->node_selector);
	for (int i = 0; i < p->nports; i++)
		free(p->ports[i].ip);
	free(p->ports);
	nterms_free(p->req_terms, p->nreq_terms);
	nterms_free(p->pref_terms, p->npref_terms);
	for (int i = 0; i < p->ntol; i++) {
		free(p->tol[i].key);
		free(p->tol[i].value);
	}
	free(p->tol);
	pterms_free(p->aff, p->naff);
	pterms_free(p->anti, p->nanti);
	pterms_free(p->paff, p->npaff);
	pterms_free(p->panti, p->npanti);
	for (int i = 0; i < p->nspread; i++) {
		free(p->spread[i].key);
		sched_sel_free(&p->spread[i].sel);
	}
	free(p->spread);
	free(p);
}

/* ---- nodes ---- */

struct sched_node_info *sched_node_parse(struct json_object *node)
{
	struct sched_node_info *n = calloc(1, sizeof(*n));
	struct json_object *alloc = berth_json_path(node, "status.allocatable");
	struct json_object *taints = berth_json_path(node, "spec.taints");
	struct json_object *conds = berth_json_path(node, "status.conditions");
	struct json_object *un = NULL;
	int nt;

	if (!n)
		return NULL;
	if (!alloc)
		alloc = berth_json_path(node, "status.capacity");
	n->name = dup(berth_json_path_str(node, "metadata.name"));
	labels_parse(berth_json_path(node, "metadata.labels"), &n->labels);
	n->cpu_m = qty(berth_json_path(alloc, "cpu"), 1000);
	n->mem = qty(berth_json_path(alloc, "memory"), 1);
	n->pods = qty(berth_json_path(alloc, "pods"), 1);
	nt = arr_len(taints);
	n->taints = calloc(nt ? nt : 1, sizeof(*n->taints));
	for (int i = 0; i < nt; i++) {
		struct json_object *t = json_object_array_get_idx(taints, i);

		n->taints[i].key = dup(berth_json_get_str(t, "key"));
		n->taints[i].value = dup(berth_json_get_str(t, "value"));
		n->taints[i].effect =
			effect_parse(berth_json_get_str(t, "effect"));
	}
	n->ntaints = nt;
	for (size_t i = 0; json_object_is_type(conds, json_type_array) &&
			   i < json_object_array_length(conds);
	     i++) {
		struct json_object *c = json_object_array_get_idx(conds, i);
		const char *type = berth_json_get_str(c, "type");
		const char *st = berth_json_get_str(c, "status");

		if (type && st && !strcmp(type, "Ready"))
			n->ready = !strcmp(st, "True");
	}
	if (json_object_object_get_ex(berth_json_path(node, "spec"),
				      "unschedulable", &un))
		n->unschedulable = json_object_get_boolean(un);
	return n;
}

void sched_node_info_free(struct sched_node_info *n)
{
	if (!n)
		return;
	free(n->name);
	labels_free(&n->labels);
	for (int i = 0; i < n->ntaints; i++) {
		free(n->taints[i].key);
		free(n->taints[i].value);
	}
	free(n->taints);
	free(n);
}

bool sched_node_info_same(const struct sched_node_info *a,
			  const struct sched_node_info *b)
{
	if (a->ready != b->ready || a->unschedulable != b->unschedulable ||
	    a->cpu_m != b->cpu_m || a->mem != b->mem || a->pods != b->pods ||
	    a->ntaints != b->ntaints || !labels_same(&a->labels, &b->labels))
		return false;
	for (int i = 0; i < a->ntaints; i++)
		if (strcmp(a->taints[i].key, b->taints[i].key) ||
		    strcmp(a->taints[i].value, b->taints[i].value) ||
		    a->taints[i].effect != b->taints[i].effect)
			return false;
	return true;
}
