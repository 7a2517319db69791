// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Node authorizer: which objects a node may touch follows from the pods
 * bound to it, kept here as a hash of pods by node (and by key, for the
 * watch's updates), built from one list and kept by a store watch.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include <berth/log.h>

#include "authn.h"
#include "jsonutil.h"
#include "nodeauthz.h"
#include "rbac.h"
#include "../store/store.h"

#define PODS_PREFIX "/registry/core/pods/"
#define NBUCKETS 1024 /* per hash; pods per node stay few per bucket */
#define LEASE_NS "kube-node-lease"
#define MIRROR_ANNOTATION "kubernetes.io/config.mirror"

/* What a pod refers to: kind 's' Secret, 'c' ConfigMap, 'p' PVC, 'a' SA. */
struct ref {
	char kind;
	char *name;
};

struct pod {
	char *key; /* /registry/core/pods/NS/NAME */
	char *ns;
	char *name;
	char *node;
	struct ref *refs;
	size_t nrefs;
	struct pod *next_node; /* chain of by_node[hash(node)] */
	struct pod *next_key; /* chain of by_key[hash(key)] */
};

struct berth_nodeauthz {
	pthread_rwlock_t lock;
	struct pod *by_node[NBUCKETS];
	struct pod *by_key[NBUCKETS];
	size_t npods;
	struct berth_watch *watch;
	bool lost; /* the watch ended: the graph may be stale (lock held) */
	/* rebuilding after a lost watch (resync_mu): list + watch again */
	struct berth_store *store;
	pthread_mutex_t resync_mu;
	time_t last_try; /* resync_mu: at most one attempt a second */
};

static unsigned int hash(const char *s)
{
	uint32_t h = 2166136261u; /* FNV-1a */

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % NBUCKETS;
}

static void pod_free(struct pod *p)
{
	size_t i;

	if (!p)
		return;
	for (i = 0; i < p->nrefs; i++)
		free(p->refs[i].name);
	free(p->refs);
	free(p->key);
	free(p->ns);
	free(p->name);
	free(p->node);
	free(p);
}

static void add_ref(struct pod *p, char kind, const char *name)
{
	struct ref *r;
	size_t i;

	if (!name || !*name)
		return;
	for (i = 0; i < p->nrefs; i++)
		if (p->refs[i].kind == kind && !strcmp(p->refs[i].name, name))
			return;
	r = realloc(p->refs, (p->nrefs + 1) * sizeof(*r));
	if (!r)
		return;
	p->refs = r;
	r[p->nrefs].kind = kind;
	r[p->nrefs].name = strdup(name);
	if (r[p->nrefs].name)
		p->nrefs++;
}

static struct json_object *member(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (o)
		json_object_object_get_ex(o, k, &v);
	return v;
}

static size_t alen(struct json_object *a)
{
	return json_object_is_type(a, json_type_array) ?
		       json_object_array_length(a) :
		       0;
}

/* secretKeyRef/configMapKeyRef in env, secretRef/configMapRef in envFrom */
static void container_refs(struct pod *p, struct json_object *c)
{
	struct json_object *env = member(c, "env"),
			   *from = member(c, "envFrom");
	size_t i;

	for (i = 0; i < alen(env); i++) {
		struct json_object *vf =
			member(json_object_array_get_idx(env, i), "valueFrom");

		add_ref(p, 's', berth_json_path_str(vf, "secretKeyRef.name"));
		add_ref(p, 'c',
			berth_json_path_str(vf, "configMapKeyRef.name"));
	}
	for (i = 0; i < alen(from); i++) {
		struct json_object *f = json_object_array_get_idx(from, i);

		add_ref(p, 's', berth_json_path_str(f, "secretRef.name"));
		add_ref(p, 'c', berth_json_path_str(f, "configMapRef.name"));
	}
}

static void volume_refs(struct pod *p, struct json_object *v)
{
	struct json_object *src = member(member(v, "projected"), "sources");
	size_t i;

	add_ref(p, 's', berth_json_path_str(v, "secret.secretName"));
	add_ref(p, 'c', berth_json_path_str(v, "configMap.name"));
	add_ref(p, 'p',
		berth_json_path_str(v, "persistentVolumeClaim.claimName"));
	for (i = 0; i < alen(src); i++) {
		struct json_object *s = json_object_array_get_idx(src, i);

		add_ref(p, 's', berth_json_path_str(s, "secret.name"));
		add_ref(p, 'c', berth_json_path_str(s, "configMap.name"));
	}
}

static void spec_refs(struct pod *p, struct json_object *spec)
{
	static const char *const lists[] = { "containers", "initContainers",
					     "ephemeralContainers" };
	struct json_object *a;
	size_t i, j;

	add_ref(p, 'a',
		berth_json_path_str(spec, "serviceAccountName") ?: "default");
	a = member(spec, "imagePullSecrets");
	for (i = 0; i < alen(a); i++)
		add_ref(p, 's',
			berth_json_path_str(json_object_array_get_idx(a, i),
					    "name"));
	a = member(spec, "volumes");
	for (i = 0; i < alen(a); i++)
		volume_refs(p, json_object_array_get_idx(a, i));
	for (j = 0; j < sizeof(lists) / sizeof(lists[0]); j++) {
		a = member(spec, lists[j]);
		for (i = 0; i < alen(a); i++)
			container_refs(p, json_object_array_get_idx(a, i));
	}
}

/* A pod as the graph needs it; NULL if it is not bound to a node. */
static struct pod *pod_parse(const char *key, const char *value, size_t len)
{
	struct json_object *o = berth_json_parse(value, len, NULL);
	const char *node = berth_json_path_str(o, "spec.nodeName");
	const char *ns = berth_json_path_str(o, "metadata.namespace");
	const char *name = berth_json_path_str(o, "metadata.name");
	struct pod *p = NULL;

	if (!node || !*node || !ns || !name)
		goto out;
	p = calloc(1, sizeof(*p));
	if (!p)
		goto out;
	p->key = strdup(key);
	p->ns = strdup(ns);
	p->name = strdup(name);
	p->node = strdup(node);
	if (!p->key || !p->ns || !p->name || !p->node) {
		pod_free(p);
		p = NULL;
		goto out;
	}
	spec_refs(p, member(o, "spec"));
out:
	json_object_put(o);
	return p;
}

/* Unlink and free the pod at key (write lock held). */
static void remove_key(struct berth_nodeauthz *n, const char *key)
{
	struct pod **pp = &n->by_key[hash(key)], *p, **np;

	for (; (p = *pp); pp = &p->next_key)
		if (!strcmp(p->key, key))
			break;
	if (!p)
		return;
	*pp = p->next_key;
	for (np = &n->by_node[hash(p->node)]; *np; np = &(*np)->next_node)
		if (*np == p) {
			*np = p->next_node;
			break;
		}
	n->npods--;
	pod_free(p);
}

static void insert(struct berth_nodeauthz *n, struct pod *p)
{
	unsigned int k = hash(p->key), b = hash(p->node);

	p->next_key = n->by_key[k];
	n->by_key[k] = p;
	p->next_node = n->by_node[b];
	n->by_node[b] = p;
	n->npods++;
}

static void apply(struct berth_nodeauthz *n, const struct berth_kv *kv,
		  bool deleted)
{
	struct pod *p = deleted ? NULL :
				  pod_parse(kv->key, kv->value, kv->value_len);

	pthread_rwlock_wrlock(&n->lock);
	remove_key(n, kv->key);
	if (p)
		insert(n, p);
	pthread_rwlock_unlock(&n->lock);
}

static void on_event(void *ctx, const struct berth_event *ev, int err)
{
	struct berth_nodeauthz *n = ctx;

	if (!ev) {
		/* fail closed: the graph may be stale, nodes get nothing */
		pr_warn("node authorizer: the pod watch ended (%s); nodes are refused what their pods would allow",
			strerror(-err));
		pthread_rwlock_wrlock(&n->lock);
		n->lost = true;
		pthread_rwlock_unlock(&n->lock);
		return;
	}
	apply(n, &ev->kv, ev->type == BERTH_EVENT_DELETE);
}

/* Every pod out of the graph (the caller holds the write lock). */
static void clear(struct berth_nodeauthz *n)
{
	struct pod *p, *next;
	size_t i;

	for (i = 0; i < NBUCKETS; i++) {
		for (p = n->by_key[i]; p; p = next) {
			next = p->next_key;
			pod_free(p);
		}
		n->by_key[i] = n->by_node[i] = NULL;
	}
	n->npods = 0;
}

/* List the pods into a fresh graph and watch from there; 0 or -errno. */
static int load(struct berth_nodeauthz *n)
{
	struct berth_kv_list l = { 0 };
	int64_t rev = 0;
	bool more;
	size_t i;
	int ret;

	ret = berth_store_list(n->store, PODS_PREFIX, NULL, 0, 0, &l, &rev,
			       &more);
	if (ret)
		return ret;
	pthread_rwlock_wrlock(&n->lock);
	clear(n);
	pthread_rwlock_unlock(&n->lock);
	for (i = 0; i < l.n; i++)
		apply(n, &l.items[i], false);
	berth_kv_list_free(&l);
	return berth_store_watch(n->store, PODS_PREFIX, rev, on_event, n,
				 &n->watch);
}

/*
 * After a lost watch (etcd gone a while, compaction): list and watch
 * again, at most once a second, from a request's thread. Until it works
 * nodes stay refused what their pods would allow (fail closed).
 */
static void recover(struct berth_nodeauthz *n)
{
	bool lost;
	int ret;

	pthread_rwlock_rdlock(&n->lock);
	lost = n->lost;
	pthread_rwlock_unlock(&n->lock);
	if (!lost || pthread_mutex_trylock(&n->resync_mu))
		return;
	if (time(NULL) == n->last_try) {
		pthread_mutex_unlock(&n->resync_mu);
		return;
	}
	n->last_try = time(NULL);
	if (n->watch) /* ended already: this frees it */
		berth_watch_cancel(n->watch);
	n->watch = NULL;
	ret = load(n);
	if (ret) {
		pr_warn("node authorizer: list+watch pods again: %s", strerror(-ret));
	} else {
		pthread_rwlock_wrlock(&n->lock);
		n->lost = false;
		pthread_rwlock_unlock(&n->lock);
		pr_info("node authorizer: pod graph rebuilt (%zu pods)",
			berth_nodeauthz_pods(n));
	}
	pthread_mutex_unlock(&n->resync_mu);
}

int berth_nodeauthz_new(struct berth_store *store, struct berth_nodeauthz **out)
{
	struct berth_nodeauthz *n = calloc(1, sizeof(*n));
	int ret;

	if (!n)
		return -ENOMEM;
	pthread_rwlock_init(&n->lock, NULL);
	pthread_mutex_init(&n->resync_mu, NULL);
	n->store = store;
	ret = load(n);
	if (ret)
		goto fail;
	*out = n;
	return 0;
fail:
	berth_nodeauthz_free(n);
	return ret;
}

void berth_nodeauthz_free(struct berth_nodeauthz *n)
{
	if (!n)
		return;
	if (n->watch)
		berth_watch_cancel(n->watch);
	clear(n);
	pthread_mutex_destroy(&n->resync_mu);
	pthread_rwlock_destroy(&n->lock);
	free(n);
}

size_t berth_nodeauthz_pods(struct berth_nodeauthz *n)
{
	size_t c;

	pthread_rwlock_rdlock(&n->lock);
	c = n->npods;
	pthread_rwlock_unlock(&n->lock);
	return c;
}

const char *berth_node_of_user(const struct berth_user *u)
{
	size_t l = strlen(BERTH_NODE_USER_PREFIX);

	if (strncmp(u->name, BERTH_NODE_USER_PREFIX, l) || !u->name[l] ||
	    !berth_user_in_group(u, BERTH_GROUP_NODES))
		return NULL;
	return u->name + l;
}

/* Does a pod bound to node in ns refer to (kind, name)? */
static bool node_refers(struct berth_nodeauthz *n, const char *node,
			const char *ns, char kind, const char *name)
{
	struct pod *p;
	bool found = false;
	size_t i;

	pthread_rwlock_rdlock(&n->lock);
	for (p = n->lost ? NULL : n->by_node[hash(node)]; p && !found;
	     p = p->next_node) {
		if (strcmp(p->node, node) || strcmp(p->ns, ns))
			continue;
		for (i = 0; i < p->nrefs && !found; i++)
			found = p->refs[i].kind == kind &&
				!strcmp(p->refs[i].name, name);
	}
	pthread_rwlock_unlock(&n->lock);
	return found;
}

static bool pod_on_node(struct berth_nodeauthz *n, const char *node,
			const char *ns, const char *name)
{
	char key[1024];
	struct pod *p;
	bool found = false;

	snprintf(key, sizeof(key), PODS_PREFIX "%s/%s", ns, name);
	pthread_rwlock_rdlock(&n->lock);
	for (p = n->lost ? NULL : n->by_key[hash(key)]; p; p = p->next_key)
		if (!strcmp(p->key, key)) {
			found = !strcmp(p->node, node);
			break;
		}
	pthread_rwlock_unlock(&n->lock);
	return found;
}

static bool is(const char *s, const char *v)
{
	return s && !strcmp(s, v);
}

static bool reads(const struct berth_authz_attrs *a)
{
	return is(a->verb, "get") || is(a->verb, "list") ||
	       is(a->verb, "watch");
}

static enum berth_node_decision verdict(bool ok, char *why, size_t size,
					const char *rule)
{
	if (why && size)
		snprintf(why, size, "node authorizer: %s", rule);
	return ok ? BERTH_NODE_ALLOW : BERTH_NODE_DENY;
}

/* Secrets, ConfigMaps, PVCs, ServiceAccounts: get, only through a pod. */
static enum berth_node_decision referenced(struct berth_nodeauthz *n,
					   const char *node,
					   const struct berth_authz_attrs *a,
					   char kind, char *why, size_t size)
{
	bool token = is(a->sub, "token");

	if (!a->ns || !a->name ||
	    (token ? !is(a->verb, "create") : (a->sub || !is(a->verb, "get"))))
		return verdict(false, why, size,
			       "only get of a named object a bound pod uses");
	return verdict(node_refers(n, node, a->ns, kind, a->name), why, size,
		       "object of a pod bound to the node");
}

/* Its own Node and Lease; creation is checked on the body. */
static enum berth_node_decision
own(const char *node, const struct berth_authz_attrs *a, char *why, size_t size)
{
	if (reads(a) && !a->sub)
		return BERTH_NODE_NO_OPINION;
	if (is(a->verb, "create") && !a->name)
		return verdict(true, why, size, "create, body checked");
	return verdict(is(a->name, node), why, size, "the node's own object");
}

static enum berth_node_decision pods(struct berth_nodeauthz *n,
				     const char *node,
				     const struct berth_authz_attrs *a,
				     char *why, size_t size)
{
	if (!a->sub && reads(a))
		return BERTH_NODE_NO_OPINION;
	if (!a->sub && is(a->verb, "create"))
		return verdict(true, why, size, "mirror pod, body checked");
	if ((is(a->sub, "status") &&
	     (is(a->verb, "update") || is(a->verb, "patch"))) ||
	    (!a->sub && is(a->verb, "delete")))
		return verdict(a->ns && a->name &&
				       pod_on_node(n, node, a->ns, a->name),
			       why, size, "a pod bound to the node");
	if (is(a->sub, "eviction") || is(a->sub, "log"))
		return BERTH_NODE_NO_OPINION;
	return verdict(false, why, size, "pods: status and delete only");
}

enum berth_node_decision
berth_nodeauthz_decide(struct berth_nodeauthz *n, const struct berth_user *u,
		       const struct berth_authz_attrs *a, char *why,
		       size_t size)
{
	const char *node = berth_node_of_user(u);

	if (!n || !node || !a->resource || !a->res)
		return BERTH_NODE_NO_OPINION;
	recover(n);
	if (!strcmp(a->group, "coordination.k8s.io") && is(a->res, "leases"))
		return is(a->ns, LEASE_NS) || reads(a) ?
			       own(node, a, why, size) :
			       verdict(false, why, size, "leases of " LEASE_NS);
	if (*a->group)
		return BERTH_NODE_NO_OPINION;
	if (is(a->res, "secrets"))
		return referenced(n, node, a, 's', why, size);
	if (is(a->res, "configmaps"))
		return referenced(n, node, a, 'c', why, size);
	if (is(a->res, "persistentvolumeclaims"))
		return referenced(n, node, a, 'p', why, size);
	if (is(a->res, "serviceaccounts"))
		return referenced(n, node, a, 'a', why, size);
	if (is(a->res, "nodes"))
		return own(node, a, why, size);
	if (is(a->res, "pods"))
		return pods(n, node, a, why, size);
	return BERTH_NODE_NO_OPINION;
}

/* ---- NodeRestriction ---- */

static bool restricted_key(const char *k)
{
	/* the prefix under a subdomain too: x.node-restriction... */
	return !strncmp(k, BERTH_NODE_RESTRICTION_PREFIX,
			strlen(BERTH_NODE_RESTRICTION_PREFIX)) ||
	       strstr(k, "." BERTH_NODE_RESTRICTION_PREFIX);
}

/* Does labels (of a body or patch) name a restricted key that other
 * (the stored labels; NULL: none compared) does not hold the same? */
static bool restricted_change(struct json_object *labels,
			      struct json_object *other)
{
	if (!json_object_is_type(labels, json_type_object))
		return false;
	json_object_object_foreach(labels, k, v)
	{
		struct json_object *was = member(other, k);

		if (restricted_key(k) && (!other || !v || !was ||
					  strcmp(json_object_get_string(v),
						 json_object_get_string(was))))
			return true;
	}
	return false;
}

/* A PUT keeps or drops labels: every restricted one stored must stay. */
static bool restricted_dropped(struct json_object *labels,
			       struct json_object *stored)
{
	if (!json_object_is_type(stored, json_type_object))
		return false;
	json_object_object_foreach(stored, k, v)
	{
		(void)v;
		if (restricted_key(k) && !member(labels, k))
			return true;
	}
	return false;
}

/* The labels of the stored Node name (a new reference), or NULL. */
static struct json_object *stored_labels(struct berth_store *store,
					 const char *name)
{
	struct berth_kv kv = { 0 };
	struct json_object *o, *l = NULL;
	char key[512];

	snprintf(key, sizeof(key), "/registry/core/nodes/%s", name);
	if (!store || berth_store_get(store, key, &kv))
		return NULL;
	o = berth_json_parse(kv.value, kv.value_len, NULL);
	berth_kv_free(&kv);
	l = json_object_get(member(member(o, "metadata"), "labels"));
	json_object_put(o);
	return l;
}

/*
 * Labels under node-restriction.kubernetes.io/ are the admin's: a node
 * may not add, change or remove them (a PUT is compared with the stored
 * Node, a patch may not name them, a status write does not touch them).
 */
static bool labels_kept(struct berth_store *store,
			const struct berth_authz_attrs *a,
			struct json_object *body)
{
	struct json_object *labels = member(member(body, "metadata"), "labels");
	struct json_object *stored;
	bool ok;

	if (a->sub)
		return true;
	if (!is(a->verb, "update"))
		return !restricted_change(labels, NULL);
	stored = stored_labels(store, a->name);
	ok = !restricted_change(labels, stored) &&
	     !restricted_dropped(labels, stored);
	json_object_put(stored);
	return ok;
}

static bool deny(char *msg, size_t size, const char *fmt, const char *node)
{
	snprintf(msg, size, fmt, node);
	return false;
}

static bool restrict_node(struct berth_store *store, const char *node,
			  const struct berth_authz_attrs *a,
			  struct json_object *body, char *msg, size_t size)
{
	const char *name = berth_json_path_str(body, "metadata.name");

	if (is(a->verb, "create") && !is(name, node))
		return deny(msg, size,
			    "node \"%s\" may only create its own Node object",
			    node);
	if (!labels_kept(store, a, body))
		return deny(
			msg, size,
			"node \"%s\" may not set labels with the prefix " BERTH_NODE_RESTRICTION_PREFIX,
			node);
	return true;
}

/*
 * A mirror pod stands for a static pod the node read from its disk: it may
 * not name API objects the node could then read through it (a
 * ServiceAccount, Secrets, ConfigMaps, PVCs), as NodeRestriction rules.
 */
static bool mirror_refs_none(const char *node, struct json_object *body,
			     char *msg, size_t size)
{
	static const char *const kinds[] = {
		['s'] = "secrets", ['c'] = "configmaps",
		['p'] = "persistentvolumeclaims",
	};
	struct pod p = { 0 };
	const char *bad = NULL;
	size_t i;

	if (berth_json_path_str(body, "spec.serviceAccountName") &&
	    *berth_json_path_str(body, "spec.serviceAccountName"))
		bad = "serviceaccounts";
	spec_refs(&p, member(body, "spec"));
	for (i = 0; i < p.nrefs; i++) {
		if (!bad && p.refs[i].kind != 'a' &&
		    (unsigned char)p.refs[i].kind < sizeof(kinds) / sizeof(*kinds))
			bad = kinds[(unsigned char)p.refs[i].kind];
		free(p.refs[i].name);
	}
	free(p.refs);
	if (!bad)
		return true;
	snprintf(msg, size, "node \"%s\" can not create pods that reference %s",
		 node, bad);
	return false;
}

static bool restrict_pod(const char *node, struct json_object *body, char *msg,
			 size_t size)
{
	struct json_object *ann =
		member(member(body, "metadata"), "annotations");

	if (!member(ann, MIRROR_ANNOTATION))
		return deny(msg, size,
			    "node \"%s\" may only create mirror pods", node);
	if (!is(berth_json_path_str(body, "spec.nodeName"), node))
		return deny(msg, size,
			    "node \"%s\" may only create pods bound to itself",
			    node);
	return mirror_refs_none(node, body, msg, size);
}

/* A TokenRequest of a node is bound to a pod bound to that node. */
static bool restrict_token(struct berth_nodeauthz *n, const char *node,
			   const struct berth_authz_attrs *a,
			   struct json_object *body, char *msg, size_t size)
{
	struct json_object *ref = berth_json_path(body, "spec.boundObjectRef");
	const char *kind = berth_json_path_str(ref, "kind");
	const char *name = berth_json_path_str(ref, "name");

	if (!is(kind, "Pod") || !name || !a->ns ||
	    !pod_on_node(n, node, a->ns, name))
		return deny(
			msg, size,
			"node \"%s\" may only request tokens bound to its own pods",
			node);
	return true;
}

bool berth_node_restrict(struct berth_nodeauthz *n, struct berth_store *store,
			 const struct berth_user *u,
			 const struct berth_authz_attrs *a,
			 const struct berth_http_req *req, char *msg,
			 size_t size)
{
	const char *node = berth_node_of_user(u);
	struct json_object *body;
	bool ok = true;

	if (!node || !a->resource || !a->res || reads(a) ||
	    is(a->verb, "delete"))
		return true;
	body = req->body_len ?
		       berth_json_parse(req->body, req->body_len, NULL) :
		       NULL;
	if (!*a->group && is(a->res, "nodes"))
		ok = restrict_node(store, node, a, body, msg, size);
	else if (!*a->group && is(a->res, "serviceaccounts") &&
		 is(a->sub, "token"))
		ok = restrict_token(n, node, a, body, msg, size);
	else if (!*a->group && is(a->res, "pods") && !a->sub &&
		 is(a->verb, "create"))
		ok = restrict_pod(node, body, msg, size);
	else if (is(a->group, "coordination.k8s.io") && is(a->res, "leases") &&
		 is(a->verb, "create") &&
		 !is(berth_json_path_str(body, "metadata.name"), node))
		ok = deny(msg, size,
			  "node \"%s\" may only create its own Lease", node);
	json_object_put(body);
	return ok;
}
