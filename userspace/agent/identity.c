// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Pod label sets -> cluster-wide identities, and their ipcache entries: see identity.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <berth/abi/policy.h>

#include "identity.h"
#include "kview.h"

#define ID_RANGE (BERTH_ID_LABEL_MAX - BERTH_ID_LABEL_MIN + 1)

uint32_t berth_identity_hash(const char *key, size_t len)
{
	uint32_t h = 2166136261u; /* FNV-1a, 32 bits */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)key[i];
		h *= 16777619u;
	}
	return BERTH_ID_LABEL_MIN + h % ID_RANGE;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "ns\0k1=v1\0k2=v2\0" with keys sorted; *len counts every byte. */
static char *canon_key(const char *ns, json_object *labels, size_t *len)
{
	size_t n = 0, k = 0, total = strlen(ns) + 1;
	char **kv = NULL, *out = NULL, *p;

	if (labels && json_object_is_type(labels, json_type_object))
		n = json_object_object_length(labels);
	kv = calloc(n ? n : 1, sizeof(*kv));
	if (!kv)
		return NULL;
	if (n) {
		json_object_object_foreach(labels, key, val)
		{
			const char *v = json_object_get_string(val);
			size_t l = strlen(key) + strlen(v ? v : "") + 2;

			kv[k] = malloc(l);
			if (!kv[k])
				goto out;
			snprintf(kv[k], l, "%s=%s", key, v ? v : "");
			total += l;
			k++;
		}
		qsort(kv, k, sizeof(*kv), cmp_str);
	}
	out = malloc(total);
	if (!out)
		goto out;
	p = stpcpy(out, ns) + 1;
	for (size_t i = 0; i < k; i++)
		p = stpcpy(p, kv[i]) + 1;
	*len = total;
out:
	for (size_t i = 0; i < k; i++)
		free(kv[i]);
	free(kv);
	return out;
}

static int cmp_key_bytes(const char *a, size_t la, const char *b, size_t lb)
{
	int c = memcmp(a, b, la < lb ? la : lb);

	return c ? c : (la > lb) - (la < lb);
}

static int cmp_ident(const void *a, const void *b)
{
	const struct berth_ident *x = a, *y = b;

	return cmp_key_bytes(x->key, x->key_len, y->key, y->key_len);
}

static int cmp_pod_ip(const void *a, const void *b)
{
	uint32_t x = ntohl(((const struct berth_ident_pod *)a)->ip);
	uint32_t y = ntohl(((const struct berth_ident_pod *)b)->ip);

	return (x > y) - (x < y);
}

static bool pod_addressed(json_object *pod, uint32_t *ip)
{
	json_object *spec = berth_jget(pod, "spec");
	json_object *st = berth_jget(pod, "status");
	const char *phase = berth_jstr(st, "phase");
	const char *pip = berth_jstr(st, "podIP");
	struct in_addr a;

	if (berth_jbool(spec, "hostNetwork", false))
		return false;
	if (phase && (!strcmp(phase, "Succeeded") || !strcmp(phase, "Failed")))
		return false;
	if (!pip || inet_pton(AF_INET, pip, &a) != 1)
		return false;
	*ip = a.s_addr;
	return true;
}

int berth_idset_init(struct berth_idset *s, size_t n)
{
	size_t cap = 16;

	while (cap < 2 * n)
		cap *= 2;
	s->slots = calloc(cap, sizeof(*s->slots));
	s->mask = cap - 1;
	return s->slots ? 0 : -ENOMEM;
}

bool berth_idset_add(struct berth_idset *s, uint32_t id)
{
	size_t i = (id * 2654435761u) & s->mask; /* Knuth's multiplicative */

	while (s->slots[i]) {
		if (s->slots[i] == id)
			return false;
		i = (i + 1) & s->mask;
	}
	s->slots[i] = id;
	return true;
}

void berth_idset_free(struct berth_idset *s)
{
	free(s->slots);
	s->slots = NULL;
}

/* numbers in sorted order: its hash, or the next free one after it */
static int assign_numbers(struct berth_ident *ids, size_t n)
{
	struct berth_idset taken;

	if (berth_idset_init(&taken, n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		uint32_t h = berth_identity_hash(ids[i].key, ids[i].key_len);

		while (!berth_idset_add(&taken, h))
			h = h == BERTH_ID_LABEL_MAX ? BERTH_ID_LABEL_MIN :
						      h + 1;
		ids[i].id = h;
	}
	berth_idset_free(&taken);
	return 0;
}

static struct berth_ident *find_ident(const struct berth_idtable *t,
				      const char *key, size_t len)
{
	struct berth_ident probe = { .key = (char *)key, .key_len = len };

	if (!t->n)
		return NULL;
	return bsearch(&probe, t->ids, t->n, sizeof(*t->ids), cmp_ident);
}

/* add a pod's label set (duplicates go after sorting); 0 or -ENOMEM */
static int add_ident(struct berth_idtable *t, const char *ns,
		     json_object *labels)
{
	struct berth_ident *e;
	size_t len;
	char *key = canon_key(ns, labels, &len);

	if (!key)
		return -ENOMEM;
	e = &t->ids[t->n++];
	e->key = key;
	e->key_len = len;
	e->ns = strdup(ns);
	e->labels = json_object_get(labels);
	return e->ns ? 0 : -ENOMEM;
}

static void free_ident(struct berth_ident *e)
{
	free(e->key);
	free(e->ns);
	json_object_put(e->labels);
}

/* sort the label sets and keep one of each */
static void unique_idents(struct berth_idtable *t)
{
	size_t k = 0;

	if (!t->n)
		return;
	qsort(t->ids, t->n, sizeof(*t->ids), cmp_ident);
	for (size_t i = 0; i < t->n; i++) {
		if (k && !cmp_ident(&t->ids[k - 1], &t->ids[i]))
			free_ident(&t->ids[i]);
		else
			t->ids[k++] = t->ids[i];
	}
	t->n = k;
}

static int add_pod(struct berth_idtable *t, json_object *pod, uint32_t ip)
{
	json_object *meta = berth_jget(pod, "metadata");
	const char *ns = berth_jstr(meta, "namespace");
	const char *name = berth_jstr(meta, "name");
	const char *node = berth_jstr(berth_jget(pod, "spec"), "nodeName");
	struct berth_ident_pod *p = &t->pods[t->npods];

	p->ns = strdup(ns ? ns : "default");
	p->name = strdup(name ? name : "");
	p->node = strdup(node ? node : "");
	if (!p->ns || !p->name || !p->node)
		return -ENOMEM;
	p->ip = ip;
	p->obj = json_object_get(pod);
	p->labels = berth_jget(meta, "labels");
	t->npods++;
	return add_ident(t, p->ns, p->labels);
}

int berth_identities_build(json_object *const *pods, size_t n,
			   struct berth_idtable *out)
{
	struct berth_idtable t = { 0 };
	int err = -ENOMEM;

	t.ids = calloc(n ? n : 1, sizeof(*t.ids));
	t.pods = calloc(n ? n : 1, sizeof(*t.pods));
	if (!t.ids || !t.pods)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		uint32_t ip;

		if (!pod_addressed(pods[i], &ip))
			continue;
		err = add_pod(&t, pods[i], ip);
		if (err)
			goto fail;
	}
	unique_idents(&t);
	if (t.npods)
		qsort(t.pods, t.npods, sizeof(*t.pods), cmp_pod_ip);
	err = assign_numbers(t.ids, t.n);
	if (err)
		goto fail;
	for (size_t i = 0; i < t.npods; i++) {
		size_t len;
		char *key = canon_key(t.pods[i].ns, t.pods[i].labels, &len);
		struct berth_ident *e = key ? find_ident(&t, key, len) : NULL;

		free(key);
		err = -ENOMEM; /* every pod's label set is in ids */
		if (!e)
			goto fail;
		t.pods[i].id = e->id;
		t.pods[i].ix = e - t.ids;
	}
	*out = t;
	return 0;
fail:
	berth_identities_free(&t);
	return err;
}

void berth_identities_free(struct berth_idtable *t)
{
	for (size_t i = 0; t->ids && i < t->n; i++)
		free_ident(&t->ids[i]);
	for (size_t i = 0; t->pods && i < t->npods; i++) {
		free(t->pods[i].ns);
		free(t->pods[i].name);
		free(t->pods[i].node);
		json_object_put(t->pods[i].obj);
	}
	free(t->ids);
	free(t->pods);
	memset(t, 0, sizeof(*t));
}

uint32_t berth_identity_find(const struct berth_idtable *t, const char *ns,
			     json_object *labels)
{
	size_t len;
	char *key = canon_key(ns, labels, &len);
	struct berth_ident *e = key ? find_ident(t, key, len) : NULL;

	free(key);
	return e ? e->id : 0;
}

const struct berth_ident_pod *berth_identity_pod(const struct berth_idtable *t,
						 uint32_t ip)
{
	struct berth_ident_pod probe = { .ip = ip };

	if (!t->npods)
		return NULL;
	return bsearch(&probe, t->pods, t->npods, sizeof(*t->pods), cmp_pod_ip);
}

int berth_identity_ipcache(const struct berth_idtable *t,
			   const struct berth_node_route *nodes, size_t nnodes,
			   const char *self, struct berth_ipcache_entry **out,
			   size_t *nout)
{
	struct berth_ipcache_entry *e =
		calloc(t->npods ? t->npods : 1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	/* t->pods is sorted by address, so the keys come out sorted */
	for (size_t i = 0; i < t->npods; i++) {
		const struct berth_ident_pod *p = &t->pods[i];
		bool local = self && !strcmp(p->node, self);

		e[i].key = (struct berth_ipcache_key){ .prefixlen = 32,
						       .ip = p->ip };
		e[i].val.identity = p->id;
		e[i].val.flags = BERTH_IPCACHE_F_POD |
				 (local ? BERTH_IPCACHE_F_LOCAL : 0);
		for (size_t j = 0; !local && j < nnodes; j++)
			if (!strcmp(nodes[j].name, p->node) && !nodes[j].self)
				e[i].val.tunnel_ip = nodes[j].ip;
	}
	*out = e;
	*nout = t->npods;
	return 0;
}
