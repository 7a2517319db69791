// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* RBAC: compile the stored roles and bindings, evaluate requests against them. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include <berth/log.h>

#include "authn.h"
#include "jsonutil.h"
#include "rbac.h"
#include "selector.h"
#include "../store/store.h"

#define AGG_DEPTH 4 /* aggregated roles aggregating aggregated roles */
#define RECOMPILE_S 5 /* without a watch, changes by others show this late */

/* A rule's list field; star: it holds "*". */
struct strs {
	const char **v;
	size_t n;
	bool star;
};

struct rule {
	struct strs verbs, groups, resources, names, urls;
};

struct role {
	const char *ns; /* NULL: a ClusterRole */
	const char *name;
	struct json_object *labels;
	struct json_object *selectors; /* aggregationRule.clusterRoleSelectors */
	struct rule *rules;
	size_t nrules;
	const struct rule **eff; /* own rules and aggregated ones */
	size_t neff;
};

struct subject {
	const char *kind, *name, *ns;
};

struct binding {
	const char *ns; /* NULL: a ClusterRoleBinding */
	const char *name;
	const struct role *role; /* NULL: names a role that does not exist */
	struct subject *subj;
	size_t nsubj;
};

/* One compiled view of every RBAC object; strings point into objs. */
struct snap {
	struct json_object *objs; /* array: keeps the strings alive */
	struct role *roles;
	size_t nroles;
	struct binding *binds;
	size_t nbinds;
};

struct berth_rbac {
	struct berth_store *store;
	struct berth_watch *watch;
	pthread_rwlock_t lock; /* snap: read to evaluate, write to swap */
	pthread_mutex_t build; /* one compile at a time */
	struct snap *snap;
	atomic_bool dirty;
	atomic_bool watch_lost; /* the store ended the watch: poll instead */
	atomic_llong compiled_at; /* CLOCK_MONOTONIC seconds */
	atomic_ulong compiles;
};

static void strs_from(struct json_object *o, const char *key, struct strs *s)
{
	struct json_object *a = NULL;
	size_t i, n;

	memset(s, 0, sizeof(*s));
	if (!json_object_object_get_ex(o, key, &a) ||
	    !json_object_is_type(a, json_type_array))
		return;
	n = json_object_array_length(a);
	s->v = calloc(n ? n : 1, sizeof(*s->v));
	if (!s->v)
		return;
	for (i = 0; i < n; i++) {
		const char *v =
			json_object_get_string(json_object_array_get_idx(a, i));

		if (!v)
			continue;
		s->v[s->n++] = v;
		if (!strcmp(v, "*"))
			s->star = true;
	}
}

static void rule_free(struct rule *r)
{
	free(r->verbs.v);
	free(r->groups.v);
	free(r->resources.v);
	free(r->names.v);
	free(r->urls.v);
}

static void role_from(struct json_object *obj, struct role *r)
{
	struct json_object *rules = NULL;
	size_t i, n;

	memset(r, 0, sizeof(*r));
	r->ns = berth_json_path_str(obj, "metadata.namespace");
	r->name = berth_json_path_str(obj, "metadata.name");
	r->labels = berth_json_path(obj, "metadata.labels");
	r->selectors =
		berth_json_path(obj, "aggregationRule.clusterRoleSelectors");
	if (!json_object_object_get_ex(obj, "rules", &rules) ||
	    !json_object_is_type(rules, json_type_array))
		return;
	n = json_object_array_length(rules);
	r->rules = calloc(n ? n : 1, sizeof(*r->rules));
	if (!r->rules)
		return;
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(rules, i);
		struct rule *ru = &r->rules[r->nrules++];

		strs_from(o, "verbs", &ru->verbs);
		strs_from(o, "apiGroups", &ru->groups);
		strs_from(o, "resources", &ru->resources);
		strs_from(o, "resourceNames", &ru->names);
		strs_from(o, "nonResourceURLs", &ru->urls);
	}
}

static const struct role *find_role(const struct snap *s, const char *ns,
				    const char *name)
{
	size_t i;

	for (i = 0; i < s->nroles; i++) {
		const struct role *r = &s->roles[i];

		if (r->name && !strcmp(r->name, name) &&
		    (ns ? r->ns && !strcmp(r->ns, ns) : !r->ns))
			return r;
	}
	return NULL;
}

static void binding_from(const struct snap *s, struct json_object *obj,
			 struct binding *b)
{
	struct json_object *subj = NULL;
	const char *kind, *rname;
	size_t i, n;

	memset(b, 0, sizeof(*b));
	b->ns = berth_json_path_str(obj, "metadata.namespace");
	b->name = berth_json_path_str(obj, "metadata.name");
	kind = berth_json_path_str(obj, "roleRef.kind");
	rname = berth_json_path_str(obj, "roleRef.name");
	if (kind && rname)
		b->role = find_role(s, strcmp(kind, "Role") ? NULL : b->ns,
				    rname);
	if (kind && !strcmp(kind, "Role") && !b->ns)
		b->role = NULL; /* a ClusterRoleBinding cannot name a Role */
	if (!json_object_object_get_ex(obj, "subjects", &subj) ||
	    !json_object_is_type(subj, json_type_array))
		return;
	n = json_object_array_length(subj);
	b->subj = calloc(n ? n : 1, sizeof(*b->subj));
	if (!b->subj)
		return;
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(subj, i);
		struct subject *su = &b->subj[b->nsubj];

		su->kind = berth_json_get_str(o, "kind");
		su->name = berth_json_get_str(o, "name");
		su->ns = berth_json_get_str(o, "namespace");
		if (su->kind && su->name)
			b->nsubj++;
	}
}

static bool selected(const struct role *agg, const struct role *r)
{
	size_t i, n = json_object_array_length(agg->selectors);

	for (i = 0; i < n; i++)
		if (berth_labelselector_match(
			    json_object_array_get_idx(agg->selectors, i),
			    r->labels))
			return true;
	return false;
}

static int eff_add(struct role *r, const struct rule *ru, size_t *cap)
{
	const struct rule **p;

	if (r->neff == *cap) {
		*cap = *cap ? *cap * 2 : 16;
		p = realloc(r->eff, *cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		r->eff = p;
	}
	r->eff[r->neff++] = ru;
	return 0;
}

/*
 * Own rules plus, for an aggregated ClusterRole, those of every ClusterRole
 * its selectors pick (theirs aggregated too, to AGG_DEPTH), as the
 * clusterrole-aggregation controller would write them.
 */
static void collect(const struct snap *s, const struct role *from,
		    struct role *into, size_t *cap, int depth)
{
	size_t i;

	for (i = 0; i < from->nrules; i++)
		eff_add(into, &from->rules[i], cap);
	if (!from->selectors || from->ns || depth >= AGG_DEPTH ||
	    !json_object_is_type(from->selectors, json_type_array))
		return;
	for (i = 0; i < s->nroles; i++) {
		const struct role *r = &s->roles[i];

		if (r != from && r != into && !r->ns && selected(from, r))
			collect(s, r, into, cap, depth + 1);
	}
}

static void snap_free(struct snap *s)
{
	size_t i, j;

	if (!s)
		return;
	for (i = 0; i < s->nroles; i++) {
		for (j = 0; j < s->roles[i].nrules; j++)
			rule_free(&s->roles[i].rules[j]);
		free(s->roles[i].rules);
		free(s->roles[i].eff);
	}
	for (i = 0; i < s->nbinds; i++)
		free(s->binds[i].subj);
	free(s->roles);
	free(s->binds);
	json_object_put(s->objs);
	free(s);
}

/* Parse every stored object of one RBAC kind into s->objs; its count. */
static int load_kind(struct berth_store *st, const char *kind,
		     struct json_object *objs, size_t *n)
{
	struct berth_kv_list l = { 0 };
	char prefix[256];
	int64_t rev;
	bool more;
	size_t i;
	int ret;

	snprintf(prefix, sizeof(prefix), BERTH_RBAC_PREFIX "%s/", kind);
	ret = berth_store_list(st, prefix, NULL, 0, 0, &l, &rev, &more);
	if (ret)
		return ret;
	*n = 0;
	for (i = 0; i < l.n; i++) {
		struct json_object *o = json_tokener_parse(l.items[i].value);

		if (o) {
			json_object_array_add(objs, o);
			(*n)++;
		}
	}
	berth_kv_list_free(&l);
	return 0;
}

static int compile(struct berth_store *st, struct snap **out)
{
	static const char *const kinds[] = { "roles", "clusterroles",
					     "rolebindings",
					     "clusterrolebindings" };
	struct snap *s = calloc(1, sizeof(*s));
	size_t counts[4], i, k, nroles, cap;
	int ret = -ENOMEM;

	if (!s)
		return -ENOMEM;
	s->objs = json_object_new_array();
	for (k = 0; k < 4; k++) {
		ret = load_kind(st, kinds[k], s->objs, &counts[k]);
		if (ret)
			goto fail;
	}
	nroles = counts[0] + counts[1];
	s->roles = calloc(nroles + 1, sizeof(*s->roles));
	s->binds = calloc(counts[2] + counts[3] + 1, sizeof(*s->binds));
	if (!s->roles || !s->binds)
		goto fail;
	for (i = 0; i < nroles; i++)
		role_from(json_object_array_get_idx(s->objs, i),
			  &s->roles[s->nroles++]);
	for (i = 0; i < s->nroles; i++) {
		cap = 0;
		collect(s, &s->roles[i], &s->roles[i], &cap, 0);
	}
	for (i = nroles; i < json_object_array_length(s->objs); i++)
		binding_from(s, json_object_array_get_idx(s->objs, i),
			     &s->binds[s->nbinds++]);
	*out = s;
	return 0;
fail:
	snap_free(s);
	return ret;
}

/* Any RBAC write anywhere (another server on the same etcd too). */
static void on_event(void *ctx, const struct berth_event *ev, int err)
{
	struct berth_rbac *r = ctx;

	if (!ev) {
		pr_warn("rbac: the store ended the watch of the roles (%s); recompiling every %d s",
			strerror(-err), RECOMPILE_S);
		atomic_store(&r->watch_lost, true);
	}
	atomic_store(&r->dirty, true);
}

static long long mono_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

int berth_rbac_new(struct berth_store *store, struct berth_rbac **out)
{
	struct berth_rbac *r = calloc(1, sizeof(*r));
	int ret;

	if (!r)
		return -ENOMEM;
	r->store = store;
	pthread_rwlock_init(&r->lock, NULL);
	pthread_mutex_init(&r->build, NULL);
	atomic_init(&r->dirty, true);
	ret = berth_store_watch(store, BERTH_RBAC_PREFIX, 0, on_event, r,
				&r->watch);
	if (ret) {
		berth_rbac_free(r);
		return ret;
	}
	*out = r;
	return 0;
}

void berth_rbac_free(struct berth_rbac *r)
{
	if (!r)
		return;
	if (r->watch)
		berth_watch_cancel(r->watch);
	snap_free(r->snap);
	pthread_rwlock_destroy(&r->lock);
	pthread_mutex_destroy(&r->build);
	free(r);
}

void berth_rbac_invalidate(struct berth_rbac *r)
{
	atomic_store(&r->dirty, true);
}

unsigned long berth_rbac_compiles(const struct berth_rbac *r)
{
	return atomic_load(&r->compiles);
}

/*
 * Recompile if something changed. dirty is cleared before reading the
 * store, so a write during the compile marks it again.
 */
static void refresh(struct berth_rbac *r)
{
	struct snap *s = NULL, *old;
	int ret;

	if (atomic_load(&r->watch_lost) &&
	    mono_s() - atomic_load(&r->compiled_at) >= RECOMPILE_S)
		atomic_store(&r->dirty, true);
	if (!atomic_load(&r->dirty))
		return;
	pthread_mutex_lock(&r->build);
	if (atomic_exchange(&r->dirty, false)) {
		ret = compile(r->store, &s);
		if (ret) {
			pr_warn("rbac: read the roles and bindings: %s",
				strerror(-ret));
			atomic_store(&r->dirty, true);
		} else {
			pthread_rwlock_wrlock(&r->lock);
			old = r->snap;
			r->snap = s;
			pthread_rwlock_unlock(&r->lock);
			snap_free(old);
			atomic_fetch_add(&r->compiles, 1);
			atomic_store(&r->compiled_at, mono_s());
		}
	}
	pthread_mutex_unlock(&r->build);
}

static bool has(const struct strs *s, const char *v)
{
	size_t i;

	if (s->star)
		return true;
	for (i = 0; i < s->n; i++)
		if (!strcmp(s->v[i], v))
			return true;
	return false;
}

/* "pods", "pods/log", "*\/log" or "pods/\*" as Kubernetes matches them. */
static bool resource_ok(const struct strs *s, const char *res, const char *sub)
{
	char full[512];
	size_t i;

	if (!sub)
		return has(s, res);
	snprintf(full, sizeof(full), "%s/%s", res, sub);
	if (s->star)
		return true;
	for (i = 0; i < s->n; i++) {
		const char *v = s->v[i];
		const char *slash = strchr(v, '/');

		if (!strcmp(v, full) ||
		    (slash && !strcmp(slash + 1, sub) && !strncmp(v, "*/", 2)))
			return true;
		if (slash && !strcmp(slash, "/*") &&
		    !strncmp(v, res, slash - v) &&
		    strlen(res) == (size_t)(slash - v))
			return true;
	}
	return false;
}

static bool url_ok(const struct strs *s, const char *path)
{
	size_t i, n;

	for (i = 0; i < s->n; i++) {
		n = strlen(s->v[i]);
		if (!strcmp(s->v[i], path) || !strcmp(s->v[i], "*"))
			return true;
		if (n && s->v[i][n - 1] == '*' &&
		    !strncmp(s->v[i], path, n - 1))
			return true;
	}
	return false;
}

static bool rule_allows(const struct rule *ru,
			const struct berth_authz_attrs *a)
{
	if (!has(&ru->verbs, a->verb))
		return false;
	if (!a->resource)
		return url_ok(&ru->urls, a->path);
	if (!has(&ru->groups, a->group) ||
	    !resource_ok(&ru->resources, a->res, a->sub))
		return false;
	if (!ru->names.n)
		return true;
	return a->name && has(&ru->names, a->name);
}

static bool subject_is(const struct subject *su, const struct binding *b,
		       const struct berth_user *u)
{
	char sa[BERTH_USER_NAME_MAX];

	if (!strcmp(su->kind, "User"))
		return !strcmp(su->name, u->name);
	if (!strcmp(su->kind, "Group"))
		return berth_user_in_group(u, su->name);
	if (!strcmp(su->kind, "ServiceAccount")) {
		snprintf(sa, sizeof(sa), BERTH_SA_USER_PREFIX "%s:%s",
			 su->ns ? su->ns : (b->ns ? b->ns : ""), su->name);
		return !strcmp(sa, u->name);
	}
	return false;
}

static bool binding_allows(const struct binding *b, const struct berth_user *u,
			   const struct berth_authz_attrs *a)
{
	size_t i;
	bool mine = false;

	if (!b->role || (b->ns && (!a->ns || strcmp(b->ns, a->ns))))
		return false;
	for (i = 0; i < b->nsubj && !mine; i++)
		mine = subject_is(&b->subj[i], b, u);
	if (!mine)
		return false;
	for (i = 0; i < b->role->neff; i++)
		if (rule_allows(b->role->eff[i], a))
			return true;
	return false;
}

bool berth_rbac_allows(struct berth_rbac *r, const struct berth_user *u,
		       const struct berth_authz_attrs *a, char *why,
		       size_t size)
{
	const struct binding *b;
	bool ok = false;
	size_t i;

	refresh(r);
	pthread_rwlock_rdlock(&r->lock);
	for (i = 0; r->snap && i < r->snap->nbinds && !ok; i++) {
		b = &r->snap->binds[i];
		ok = binding_allows(b, u, a);
		if (ok && why && b->ns)
			snprintf(
				why, size,
				"RBAC: allowed by RoleBinding \"%s/%s\" of %s \"%s\" to %s",
				b->ns, b->name,
				b->role->ns ? "Role" : "ClusterRole",
				b->role->name, u->name);
		else if (ok && why)
			snprintf(
				why, size,
				"RBAC: allowed by ClusterRoleBinding \"%s\" of ClusterRole \"%s\" to %s",
				b->name, b->role->name, u->name);
	}
	pthread_rwlock_unlock(&r->lock);
	return ok;
}

static struct json_object *strs_json(const struct strs *s)
{
	struct json_object *a = json_object_new_array();
	size_t i;

	for (i = 0; i < s->n; i++)
		json_object_array_add(a, json_object_new_string(s->v[i]));
	return a;
}

static void rule_json(const struct rule *ru, struct json_object *res,
		      struct json_object *nonres)
{
	struct json_object *o = json_object_new_object();

	json_object_object_add(o, "verbs", strs_json(&ru->verbs));
	if (ru->urls.n) {
		json_object_object_add(o, "nonResourceURLs",
				       strs_json(&ru->urls));
		json_object_array_add(nonres, o);
		return;
	}
	json_object_object_add(o, "apiGroups", strs_json(&ru->groups));
	json_object_object_add(o, "resources", strs_json(&ru->resources));
	if (ru->names.n)
		json_object_object_add(o, "resourceNames",
				       strs_json(&ru->names));
	json_object_array_add(res, o);
}

struct json_object *berth_rbac_rules(struct berth_rbac *r,
				     const struct berth_user *u, const char *ns)
{
	struct json_object *st = json_object_new_object();
	struct json_object *res = json_object_new_array();
	struct json_object *nonres = json_object_new_array();
	const struct binding *b;
	size_t i, j, k;
	bool mine;

	refresh(r);
	pthread_rwlock_rdlock(&r->lock);
	for (i = 0; r->snap && i < r->snap->nbinds; i++) {
		b = &r->snap->binds[i];
		if (!b->role || (b->ns && (!ns || strcmp(b->ns, ns))))
			continue;
		for (j = 0, mine = false; j < b->nsubj && !mine; j++)
			mine = subject_is(&b->subj[j], b, u);
		for (k = 0; mine && k < b->role->neff; k++)
			rule_json(b->role->eff[k], res, nonres);
	}
	pthread_rwlock_unlock(&r->lock);
	json_object_object_add(st, "resourceRules", res);
	json_object_object_add(st, "nonResourceRules", nonres);
	json_object_object_add(st, "incomplete",
			       json_object_new_boolean(false));
	return st;
}
