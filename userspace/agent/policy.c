// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* NetworkPolicy -> policy map entries, endpoint flags and CIDR identities: see policy.h. */
#define _GNU_SOURCE /* qsort_r */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <berth/log.h>

#include "kview.h"
#include "policy.h"

#define NS_NAME_LABEL "kubernetes.io/metadata.name" /* set on every namespace */
#define PORT_BITS 16

/* ---- label selectors ---- */

static const char *label_of(json_object *labels, const char *key)
{
	return berth_jstr(labels, key);
}

static bool in_values(json_object *values, const char *v)
{
	for (size_t i = 0; i < berth_jlen(values); i++) {
		const char *s = json_object_get_string(
			json_object_array_get_idx(values, i));

		if (s && !strcmp(s, v))
			return true;
	}
	return false;
}

/* 1 match, 0 not, -EINVAL an operator we do not know */
static int expr_match(json_object *e, json_object *labels)
{
	const char *key = berth_jstr(e, "key"), *op = berth_jstr(e, "operator");
	json_object *values = berth_jget(e, "values");
	const char *v;

	if (!key || !op)
		return -EINVAL;
	v = label_of(labels, key);
	if (!strcmp(op, "In"))
		return v && in_values(values, v);
	if (!strcmp(op, "NotIn"))
		return !v || !in_values(values, v);
	if (!strcmp(op, "Exists"))
		return v != NULL;
	if (!strcmp(op, "DoesNotExist"))
		return v == NULL;
	return -EINVAL;
}

/* A LabelSelector (non-NULL; {} matches all): 1, 0 or -EINVAL. */
static int sel_match(json_object *sel, json_object *labels)
{
	json_object *ml = berth_jget(sel, "matchLabels");
	json_object *me = berth_jget(sel, "matchExpressions");

	if (ml) {
		json_object_object_foreach(ml, key, val)
		{
			const char *want = json_object_get_string(val);
			const char *have = label_of(labels, key);

			if (!have || !want || strcmp(have, want))
				return 0;
		}
	}
	for (size_t i = 0; i < berth_jlen(me); i++) {
		int m = expr_match(json_object_array_get_idx(me, i), labels);

		if (m <= 0)
			return m;
	}
	return 1;
}

/* ---- the compilation context ---- */

struct nsinfo {
	const char *name;
	json_object *labels; /* owned: with NS_NAME_LABEL */
};

/* A pod's named containerPorts, parsed once per compile. */
struct named {
	const char *name; /* borrowed from the pod */
	uint8_t proto;
	uint16_t port;
};

struct pod_ports {
	bool done;
	struct named *v;
	size_t n;
};

struct ctx {
	const struct berth_policy_input *in;
	struct nsinfo *ns;
	size_t nns;
	json_object **id_nsl; /* per identity (ids[] index): its ns labels */
	signed char *memo; /* per identity: selector result, -1 unknown */
	signed char *sel_memo; /* the same for the policy's podSelector */
	const struct berth_ident_pod **local; /* this node's pods, as eps */
	size_t nlocal;
	size_t *by_ns; /* indices into local, sorted by namespace */
	struct pod_ports *pports; /* per pod (ids->pods index): lazily */
	size_t *id_pod; /* per identity: an addressed pod of it, or SIZE_MAX */
	struct berth_policy_result *r;
	size_t cap;
	int err; /* first allocation failure */
	struct berth_policy_cached *rec; /* the policy compiled now, cached */
};

/* A local pod a policy selects, and for which directions. */
struct cached_ep {
	uint32_t local; /* index into ctx.local (and r->eps) */
	uint32_t flags; /* BERTH_EP_F_*_ENFORCED */
};

struct berth_policy_cached {
	char *key; /* "uid/resourceVersion", or the policy's JSON */
	struct berth_policy_entry *e; /* what it emitted */
	size_t ne;
	struct cached_ep *eps;
	size_t neps;
	size_t errors;
	bool moved; /* handed on to the next pass's cache (owns the above) */
};

static json_object *ns_labels(struct ctx *c, const char *name)
{
	for (size_t i = 0; i < c->nns; i++)
		if (!strcmp(c->ns[i].name, name))
			return c->ns[i].labels;
	return NULL;
}

/* a namespace the API has not shown (yet) still has its name label */
static int add_ns(struct ctx *c, const char *name, json_object *labels)
{
	json_object *l = json_object_new_object();
	struct nsinfo *n;

	if (!l)
		return -ENOMEM;
	if (labels && json_object_is_type(labels, json_type_object)) {
		json_object_object_foreach(labels, k, v)
			json_object_object_add(l, k, json_object_get(v));
	}
	json_object_object_add(l, NS_NAME_LABEL, json_object_new_string(name));
	n = realloc(c->ns, (c->nns + 1) * sizeof(*n));
	if (!n) {
		json_object_put(l);
		return -ENOMEM;
	}
	c->ns = n;
	c->ns[c->nns++] = (struct nsinfo){ .name = name, .labels = l };
	return 0;
}

static int ns_setup(struct ctx *c)
{
	const struct berth_policy_input *in = c->in;
	int err = 0;

	for (size_t i = 0; !err && i < in->nnamespaces; i++) {
		json_object *meta = berth_jget(in->namespaces[i], "metadata");
		const char *name = berth_jstr(meta, "name");

		if (name && !ns_labels(c, name))
			err = add_ns(c, name, berth_jget(meta, "labels"));
	}
	for (size_t i = 0; !err && i < in->ids->n; i++)
		if (!ns_labels(c, in->ids->ids[i].ns))
			err = add_ns(c, in->ids->ids[i].ns, NULL);
	if (err)
		return err;
	/* selectors are evaluated per identity, once per peer */
	c->id_nsl = calloc(in->ids->n + 1, sizeof(*c->id_nsl));
	c->memo = calloc(in->ids->n + 1, sizeof(*c->memo));
	if (!c->id_nsl || !c->memo)
		return -ENOMEM;
	for (size_t i = 0; i < in->ids->n; i++)
		c->id_nsl[i] = ns_labels(c, in->ids->ids[i].ns);
	return 0;
}

static void emit(struct ctx *c, const struct berth_policy_key *k)
{
	struct berth_policy_result *r = c->r;

	if (r->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 256;
		struct berth_policy_entry *e =
			realloc(r->entries, cap * sizeof(*e));

		if (!e) {
			c->err = -ENOMEM;
			return;
		}
		r->entries = e;
		c->cap = cap;
	}
	r->entries[r->n++] = (struct berth_policy_entry){
		.key = *k, .val = { .flags = BERTH_POLICY_F_ALLOW }
	};
}

/* ---- ports ---- */

size_t berth_policy_range(const struct berth_policy_key *base, uint16_t lo,
			  uint16_t hi, struct berth_policy_key *out)
{
	uint32_t p = lo, end = hi;
	size_t n = 0;

	while (p <= end) {
		int k = 0; /* largest aligned block 2^k from p within end */

		while (k < PORT_BITS && !(p & (1u << k)) &&
		       p + (2u << k) - 1 <= end)
			k++;
		out[n] = *base;
		out[n].port = htons(p);
		out[n].prefixlen = BERTH_POLICY_PREFIX_FULL - k;
		n++;
		p += 1u << k;
	}
	return n;
}

static int proto_of(json_object *port, uint8_t *proto)
{
	const char *s = berth_jstr(port, "protocol");

	if (!s || !strcmp(s, "TCP"))
		*proto = IPPROTO_TCP;
	else if (!strcmp(s, "UDP"))
		*proto = IPPROTO_UDP;
	else if (!strcmp(s, "SCTP"))
		*proto = IPPROTO_SCTP;
	else
		return -EINVAL;
	return 0;
}

/* pod's named containerPorts into pp; -ENOMEM */
static int pod_ports_parse(const struct berth_ident_pod *pod,
			   struct pod_ports *pp)
{
	json_object *ctrs =
		berth_jget(berth_jget(pod->obj, "spec"), "containers");

	pp->done = true;
	for (size_t i = 0; i < berth_jlen(ctrs); i++) {
		json_object *ports =
			berth_jget(json_object_array_get_idx(ctrs, i), "ports");

		for (size_t j = 0; j < berth_jlen(ports); j++) {
			json_object *p = json_object_array_get_idx(ports, j);
			const char *n = berth_jstr(p, "name");
			long num = berth_jint(p, "containerPort");
			struct named *v;
			uint8_t pp_;

			if (!n || proto_of(p, &pp_) || num <= 0 || num >= 65536)
				continue;
			v = realloc(pp->v, (pp->n + 1) * sizeof(*v));
			if (!v)
				return -ENOMEM;
			pp->v = v;
			v[pp->n++] = (struct named){ n, pp_, num };
		}
	}
	return 0;
}

/* containerPort of pod named name for proto; 0 if none */
static uint16_t named_port(struct ctx *c, const struct berth_ident_pod *pod,
			   const char *name, uint8_t proto)
{
	struct pod_ports *pp = &c->pports[pod - c->in->ids->pods];

	if (!pp->done && pod_ports_parse(pod, pp))
		c->err = -ENOMEM;
	for (size_t i = 0; i < pp->n; i++)
		if (pp->v[i].proto == proto && !strcmp(pp->v[i].name, name))
			return pp->v[i].port;
	return 0;
}

static void emit_range(struct ctx *c, const struct berth_policy_key *base,
		       uint16_t lo, uint16_t hi)
{
	struct berth_policy_key keys[2 * PORT_BITS];
	size_t n = berth_policy_range(base, lo, hi, keys);

	for (size_t i = 0; i < n; i++)
		emit(c, &keys[i]);
}

/* A NetworkPolicyPort, parsed once per rule. */
struct pspec {
	enum { PS_ANY_PROTO, PS_ANY_PORT, PS_RANGE, PS_NAMED } kind;
	uint8_t proto;
	uint16_t lo, hi;
	const char *name; /* PS_NAMED; borrowed from the policy */
};

/* -EINVAL for an invalid port */
static int parse_port(json_object *port, struct pspec *ps)
{
	json_object *pv = berth_jget(port, "port");
	long end = berth_jint(port, "endPort"), num;

	memset(ps, 0, sizeof(*ps));
	if (proto_of(port, &ps->proto))
		return -EINVAL;
	if (!pv) {
		ps->kind = PS_ANY_PORT;
		return 0;
	}
	if (json_object_is_type(pv, json_type_string)) {
		ps->kind = PS_NAMED;
		ps->name = json_object_get_string(pv);
		return end >= 0 ? -EINVAL : 0; /* endPort needs a number */
	}
	num = json_object_get_int64(pv);
	if (num < 1 || num > 65535 || (end >= 0 && (end < num || end > 65535)))
		return -EINVAL;
	ps->kind = PS_RANGE;
	ps->lo = num;
	ps->hi = end >= 0 ? end : num;
	return 0;
}

/*
 * A rule's ports (absent or empty: one PS_ANY_PROTO); invalid ones are
 * left out and make the return -EINVAL. *out malloc'ed.
 */
static int parse_ports(json_object *ports, struct pspec **out, size_t *n)
{
	size_t len = berth_jlen(ports), k = 0;
	struct pspec *v = calloc(len ? len : 1, sizeof(*v));
	int err = 0;

	if (!v)
		return -ENOMEM;
	if (!len)
		v[k++].kind = PS_ANY_PROTO;
	for (size_t i = 0; i < len; i++) {
		if (parse_port(json_object_array_get_idx(ports, i), &v[k]))
			err = -EINVAL;
		else
			k++;
	}
	*out = v;
	*n = k;
	return err;
}

/* one spec for one {local pod, peer, dir}; @named_on resolves names */
static void emit_spec(struct ctx *c, struct berth_policy_key base,
		      const struct pspec *ps,
		      const struct berth_ident_pod *named_on)
{
	uint16_t p;

	switch (ps->kind) {
	case PS_ANY_PROTO:
		base.prefixlen = BERTH_POLICY_PREFIX_ANY_PROTO;
		emit(c, &base);
		return;
	case PS_ANY_PORT:
		base.proto = ps->proto;
		base.prefixlen = BERTH_POLICY_PREFIX_ANY_PORT;
		emit(c, &base);
		return;
	case PS_RANGE:
		base.proto = ps->proto;
		emit_range(c, &base, ps->lo, ps->hi);
		return;
	case PS_NAMED:
		p = named_on ? named_port(c, named_on, ps->name, ps->proto) : 0;
		base.proto = ps->proto;
		if (p)
			emit_range(c, &base, p, p);
		return;
	}
}

/* ---- CIDR identities ---- */

static uint32_t mask_of(uint8_t prefix)
{
	return prefix ? ~0u << (32 - prefix) : 0;
}

/* host-order containment: is (n2, p2) inside (n1, p1)? */
static bool cidr_in(uint32_t n2, uint8_t p2, uint32_t n1, uint8_t p1)
{
	return p2 >= p1 && (n2 & mask_of(p1)) == n1;
}

/* a CIDR in host order, as the compiler compares them */
static bool parse_cidr(const char *s, uint32_t *net, uint8_t *prefix)
{
	if (!berth_parse_cidr4(s, net, prefix))
		return false;
	*net = ntohl(*net);
	return true;
}

static int cmp_cidr(const void *a, const void *b)
{
	const struct berth_policy_cidr *x = a, *y = b;

	if (x->net != y->net)
		return x->net < y->net ? -1 : 1;
	return (x->prefix > y->prefix) - (x->prefix < y->prefix);
}

static void add_cidr(struct ctx *c, const char *s, size_t *cap)
{
	struct berth_policy_result *r = c->r;
	struct berth_policy_cidr e = { 0 };

	if (!parse_cidr(s, &e.net, &e.prefix))
		return; /* counted where the peer is compiled */
	if (r->ncidrs == *cap) {
		size_t n = *cap ? 2 * *cap : 16;
		struct berth_policy_cidr *v = realloc(r->cidrs, n * sizeof(*v));

		if (!v) {
			c->err = -ENOMEM;
			return;
		}
		r->cidrs = v;
		*cap = n;
	}
	r->cidrs[r->ncidrs++] = e;
}

static void collect_cidrs(struct ctx *c)
{
	static const char *const rules[] = { "ingress", "egress" };
	static const char *const peers[] = { "from", "to" };
	size_t cap = 0;

	for (size_t i = 0; i < c->in->npolicies; i++) {
		json_object *spec = berth_jget(c->in->policies[i], "spec");

		for (size_t d = 0; d < 2; d++) {
			json_object *rs = berth_jget(spec, rules[d]);

			for (size_t j = 0; j < berth_jlen(rs); j++) {
				json_object *ps = berth_jget(
					json_object_array_get_idx(rs, j),
					peers[d]);

				for (size_t k = 0; k < berth_jlen(ps); k++) {
					json_object *b = berth_jget(
						json_object_array_get_idx(ps,
									  k),
						"ipBlock");
					json_object *ex =
						berth_jget(b, "except");

					if (!b)
						continue;
					add_cidr(c, berth_jstr(b, "cidr"),
						 &cap);
					for (size_t x = 0; x < berth_jlen(ex);
					     x++)
						add_cidr(
							c,
							json_object_get_string(
								json_object_array_get_idx(
									ex, x)),
							&cap);
				}
			}
		}
	}
}

/*
 * Number each prefix by itself and the prefixes directly inside it, so a
 * number keeps one meaning (the addresses it covers) for as long as it
 * exists: an except added later makes new numbers (abi/policy.h).
 */
static void hash_cidr(uint32_t *h, const struct berth_policy_cidr *c)
{
	uint32_t words[2] = { c->net, c->prefix };

	for (size_t b = 0; b < sizeof(words); b++) {
		*h ^= ((const unsigned char *)words)[b];
		*h *= 16777619u; /* FNV-1a */
	}
}

/*
 * v is sorted by (net, prefix): the prefixes inside v[i] are the run right
 * after it, and one inside the last direct child seen is a grandchild.
 */
static uint32_t cidr_hash(const struct berth_policy_cidr *v, size_t n, size_t i)
{
	uint32_t h = 2166136261u;
	size_t c = i;

	hash_cidr(&h, &v[i]);
	for (size_t j = i + 1;
	     j < n && cidr_in(v[j].net, v[j].prefix, v[i].net, v[i].prefix);
	     j++) {
		if (c != i &&
		    cidr_in(v[j].net, v[j].prefix, v[c].net, v[c].prefix))
			continue;
		c = j;
		hash_cidr(&h, &v[j]);
	}
	return h;
}

static int number_cidrs(struct berth_policy_result *r)
{
	const uint64_t range = (1ull << 32) - BERTH_ID_CIDR_MIN;
	struct berth_idset taken;
	size_t k = 0;

	if (!r->ncidrs)
		return 0;
	qsort(r->cidrs, r->ncidrs, sizeof(*r->cidrs), cmp_cidr);
	for (size_t i = 0; i < r->ncidrs; i++)
		if (!k || cmp_cidr(&r->cidrs[k - 1], &r->cidrs[i]))
			r->cidrs[k++] = r->cidrs[i];
	r->ncidrs = k;
	if (berth_idset_init(&taken, k))
		return -ENOMEM;
	for (size_t i = 0; i < k; i++) {
		uint32_t id =
			BERTH_ID_CIDR_MIN + cidr_hash(r->cidrs, k, i) % range;

		/* collisions: the next free number, in order */
		while (!berth_idset_add(&taken, id))
			id = id == UINT32_MAX ? BERTH_ID_CIDR_MIN : id + 1;
		r->cidrs[i].id = id;
	}
	berth_idset_free(&taken);
	return 0;
}

uint32_t berth_policy_cidr_identity(const struct berth_policy_result *r,
				    uint32_t ip)
{
	uint32_t h = ntohl(ip), id = BERTH_ID_WORLD;
	int best = -1;

	for (size_t i = 0; i < r->ncidrs; i++)
		if (cidr_in(h, 32, ntohl(r->cidrs[i].net),
			    r->cidrs[i].prefix) &&
		    r->cidrs[i].prefix > best) {
			best = r->cidrs[i].prefix;
			id = r->cidrs[i].id;
		}
	return id;
}

/* ---- peers ---- */

/* A peer of a rule: an identity, and the pod it came from (port names). */
struct peer {
	uint32_t id;
	const struct berth_ident_pod *pod; /* NULL: not a pod */
};

struct peers {
	struct peer *v;
	size_t n, cap;
};

static void add_peer(struct ctx *c, struct peers *ps, uint32_t id,
		     const struct berth_ident_pod *pod)
{
	if (ps->n == ps->cap) {
		size_t cap = ps->cap ? 2 * ps->cap : 64;
		struct peer *v = realloc(ps->v, cap * sizeof(*v));

		if (!v) {
			c->err = -ENOMEM;
			return;
		}
		ps->v = v;
		ps->cap = cap;
	}
	ps->v[ps->n++] = (struct peer){ id, pod };
}

/* Does a pod/namespace selector peer select identity ix? 1, 0, -EINVAL */
static int peer_selects(struct ctx *c, const char *policy_ns, size_t ix,
			json_object *podsel, json_object *nssel)
{
	const struct berth_ident *id = &c->in->ids->ids[ix];
	int m = 1;

	if (nssel)
		m = sel_match(nssel, c->id_nsl[ix]);
	else if (strcmp(id->ns, policy_ns))
		m = 0;
	if (m > 0 && podsel)
		m = sel_match(podsel, id->labels);
	return m;
}

/* Identities (of addressed pods) a selector peer picks, one peer each. */
static int selector_ids(struct ctx *c, const char *policy_ns,
			json_object *podsel, json_object *nssel,
			struct peers *out)
{
	const struct berth_idtable *t = c->in->ids;

	for (size_t ix = 0; ix < t->n; ix++) {
		int m;

		if (c->id_pod[ix] == SIZE_MAX)
			continue;
		m = peer_selects(c, policy_ns, ix, podsel, nssel);
		if (m < 0)
			return -EINVAL;
		if (m)
			add_peer(c, out, t->ids[ix].id,
				 &t->pods[c->id_pod[ix]]);
	}
	return 0;
}

/*
 * Pods a selector peer picks: one peer per identity, or one per pod when
 * port names are resolved on the peer (egress).
 */
static int selector_peers(struct ctx *c, const char *policy_ns,
			  json_object *podsel, json_object *nssel, bool per_pod,
			  struct peers *out)
{
	const struct berth_idtable *t = c->in->ids;

	if (!per_pod)
		return selector_ids(c, policy_ns, podsel, nssel, out);
	memset(c->memo, -1, t->n);
	for (size_t i = 0; i < t->npods; i++) {
		const struct berth_ident_pod *p = &t->pods[i];
		signed char *m = &c->memo[p->ix];

		if (*m < 0)
			*m = peer_selects(c, policy_ns, p->ix, podsel, nssel);
		else if (*m == 1 && !per_pod)
			continue; /* this identity is in already */
		if (*m < 0)
			return -EINVAL;
		if (*m)
			add_peer(c, out, p->id, p);
	}
	return 0;
}

static int ipblock_peers(struct ctx *c, json_object *b, struct peers *out)
{
	json_object *ex = berth_jget(b, "except");
	const struct berth_policy_result *r = c->r;
	uint32_t net, enet;
	uint8_t pfx, epfx;

	if (!parse_cidr(berth_jstr(b, "cidr"), &net, &pfx))
		return -EINVAL;
	for (size_t x = 0; x < berth_jlen(ex); x++)
		if (!parse_cidr(json_object_get_string(
					json_object_array_get_idx(ex, x)),
				&enet, &epfx) ||
		    !cidr_in(enet, epfx, net, pfx))
			return -EINVAL; /* an except must lie in the cidr */
	for (size_t i = 0; i < r->ncidrs; i++) {
		const struct berth_policy_cidr *p = &r->cidrs[i];
		bool out_ = !cidr_in(p->net, p->prefix, net, pfx);

		for (size_t x = 0; !out_ && x < berth_jlen(ex); x++) {
			parse_cidr(json_object_get_string(
					   json_object_array_get_idx(ex, x)),
				   &enet, &epfx);
			out_ = cidr_in(p->net, p->prefix, enet, epfx);
		}
		if (!out_)
			add_peer(c, out, p->id, NULL);
	}
	return 0;
}

static int one_peer(struct ctx *c, const char *policy_ns, json_object *peer,
		    bool per_pod, struct peers *out)
{
	json_object *podsel = berth_jget(peer, "podSelector");
	json_object *nssel = berth_jget(peer, "namespaceSelector");
	json_object *b = berth_jget(peer, "ipBlock");

	if (b)
		return podsel || nssel ? -EINVAL : ipblock_peers(c, b, out);
	if (!podsel && !nssel)
		return -EINVAL;
	return selector_peers(c, policy_ns, podsel, nssel, per_pod, out);
}

static bool has_named(const struct pspec *ps, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ps[i].kind == PS_NAMED)
			return true;
	return false;
}

/*
 * A rule's peers. Without peers: anyone (BERTH_ID_ANY), and for egress
 * port names every pod, by its own names.
 */
static int rule_peers(struct ctx *c, const char *policy_ns, json_object *arr,
		      bool per_pod, struct peers *out)
{
	const struct berth_idtable *t = c->in->ids;
	int err = 0;

	if (!berth_jlen(arr)) {
		add_peer(c, out, BERTH_ID_ANY, NULL);
		for (size_t i = 0; per_pod && i < t->npods; i++)
			add_peer(c, out, t->pods[i].id, &t->pods[i]);
		return 0;
	}
	for (size_t i = 0; i < berth_jlen(arr); i++) {
		int e = one_peer(c, policy_ns,
				 json_object_array_get_idx(arr, i), per_pod,
				 out);

		err = err ? err : e;
	}
	return err;
}

/* ---- policies ---- */

/* The local pods a policy selects (indices into c->local). */
struct selected {
	size_t *v;
	size_t n;
};

static void compile_rule(struct ctx *c, json_object *rule, uint8_t dir,
			 const char *policy_ns, const struct selected *sel,
			 const char *pname)
{
	bool ingress = dir == BERTH_POLICY_INGRESS;
	struct peers peers = { 0 };
	struct pspec *ps = NULL;
	size_t nps = 0;
	int err, e;

	err = parse_ports(berth_jget(rule, "ports"), &ps, &nps);
	if (err == -ENOMEM) {
		c->err = err;
		return;
	}
	e = rule_peers(c, policy_ns, berth_jget(rule, ingress ? "from" : "to"),
		       !ingress && has_named(ps, nps), &peers);
	err = err ? err : e;
	for (size_t s = 0; s < sel->n; s++) {
		const struct berth_ident_pod *self = c->local[sel->v[s]];

		for (size_t i = 0; i < peers.n; i++) {
			struct berth_policy_key base = {
				.ep_ip = self->ip,
				.identity = htonl(peers.v[i].id),
				.dir = dir,
			};

			for (size_t k = 0; k < nps; k++)
				emit_spec(c, base, &ps[k],
					  ingress ? self : peers.v[i].pod);
		}
	}
	if (err) {
		c->r->errors++;
		pr_warn("networkpolicy %s/%s: an %s rule is invalid, partly ignored",
			policy_ns, pname, ingress ? "ingress" : "egress");
	}
	free(peers.v);
	free(ps);
}

/* Ingress / Egress of a policy: policyTypes, or the defaults */
static void policy_types(json_object *spec, bool *ing, bool *eg)
{
	json_object *types = berth_jget(spec, "policyTypes");

	if (!types) {
		*ing = true;
		*eg = berth_jget(spec, "egress") != NULL;
		return;
	}
	*ing = *eg = false;
	for (size_t i = 0; i < berth_jlen(types); i++) {
		const char *s = json_object_get_string(
			json_object_array_get_idx(types, i));

		*ing |= s && !strcmp(s, "Ingress");
		*eg |= s && !strcmp(s, "Egress");
	}
}

static void compile_dir(struct ctx *c, json_object *spec, uint8_t dir,
			const char *ns, const char *name,
			const struct selected *sel)
{
	bool ingress = dir == BERTH_POLICY_INGRESS;
	json_object *rules = berth_jget(spec, ingress ? "ingress" : "egress");

	uint32_t flag = ingress ? BERTH_EP_F_INGRESS_ENFORCED :
				  BERTH_EP_F_EGRESS_ENFORCED;
	struct berth_policy_cached *rec = c->rec;

	for (size_t s = 0; s < sel->n; s++)
		c->r->eps[sel->v[s]].flags |= flag;
	if (rec) {
		struct cached_ep *v =
			realloc(rec->eps, (rec->neps + sel->n) * sizeof(*v));

		if (!v) {
			c->err = -ENOMEM;
		} else {
			rec->eps = v;
			for (size_t s = 0; s < sel->n; s++)
				v[rec->neps++] =
					(struct cached_ep){ (uint32_t)sel->v[s],
							    flag };
		}
	}
	for (size_t i = 0; i < berth_jlen(rules); i++)
		compile_rule(c, json_object_array_get_idx(rules, i), dir, ns,
			     sel, name);
}

static int cmp_local_ns(const void *a, const void *b, void *arg)
{
	const struct ctx *c = arg;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	int d = strcmp(c->local[x]->ns, c->local[y]->ns);

	return d ? d : (x > y) - (x < y);
}

/* The first of by_ns in namespace ns (or past them all). */
static size_t local_ns_first(const struct ctx *c, const char *ns)
{
	size_t lo = 0, hi = c->nlocal;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(c->local[c->by_ns[mid]]->ns, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void compile_policy(struct ctx *c, json_object *pol, size_t *scratch)
{
	json_object *meta = berth_jget(pol, "metadata");
	json_object *spec = berth_jget(pol, "spec");
	json_object *podsel = berth_jget(spec, "podSelector");
	const char *ns = berth_jstr(meta, "namespace");
	const char *name = berth_jstr(meta, "name");
	struct selected sel = { .v = scratch };
	bool ing, eg;

	ns = ns ? ns : "default";
	name = name ? name : "?";
	memset(c->sel_memo, -1, c->in->ids->n);
	for (size_t j = local_ns_first(c, ns); j < c->nlocal; j++) {
		size_t i = c->by_ns[j];
		const struct berth_ident_pod *p = c->local[i];
		signed char *m = &c->sel_memo[p->ix];

		if (strcmp(p->ns, ns))
			break;
		/* pods of one identity share namespace and labels */
		if (*m < 0)
			*m = podsel ? sel_match(podsel, p->labels) : 1;
		if (*m < 0) {
			c->r->errors++;
			pr_warn("networkpolicy %s/%s: invalid podSelector, ignored",
				ns, name);
			return;
		}
		if (*m)
			sel.v[sel.n++] = i;
	}
	if (!sel.n)
		return;
	policy_types(spec, &ing, &eg);
	if (ing)
		compile_dir(c, spec, BERTH_POLICY_INGRESS, ns, name, &sel);
	if (eg)
		compile_dir(c, spec, BERTH_POLICY_EGRESS, ns, name, &sel);
}

static int cmp_entry(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct berth_policy_key));
}

static void sort_entries(struct berth_policy_result *r)
{
	size_t k = 0;

	if (!r->n)
		return;
	qsort(r->entries, r->n, sizeof(*r->entries), cmp_entry);
	for (size_t i = 0; i < r->n; i++)
		if (!k || cmp_entry(&r->entries[k - 1], &r->entries[i]))
			r->entries[k++] = r->entries[i];
	r->n = k;
}

/* ---- results kept from pass to pass ---- */

#define FNV_OFFSET 0xcbf29ce484222325ull
#define FNV_PRIME 0x100000001b3ull

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *b = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ b[i]) * FNV_PRIME;
	return h;
}

/* a string and its end, so "ab","c" and "a","bc" differ */
static uint64_t fnv_str(uint64_t h, const char *s)
{
	return fnv(h, s ? s : "", s ? strlen(s) + 1 : 1);
}

/*
 * Everything a policy's result depends on besides the policy: the node,
 * every identity (namespace and labels) and addressed pod (its uid stands
 * for its containerPorts, which cannot change), the namespaces' labels,
 * the CIDR identities.
 */
static uint64_t world_sig(const struct ctx *c)
{
	const struct berth_idtable *t = c->in->ids;
	const struct berth_policy_result *r = c->r;
	uint64_t h = fnv_str(FNV_OFFSET, c->in->self);

	for (size_t i = 0; i < t->n; i++) {
		h = fnv(h, &t->ids[i].id, sizeof(t->ids[i].id));
		h = fnv(h, t->ids[i].key, t->ids[i].key_len);
	}
	for (size_t i = 0; i < t->npods; i++) {
		const struct berth_ident_pod *p = &t->pods[i];

		h = fnv(h, &p->ip, sizeof(p->ip));
		h = fnv(h, &p->ix, sizeof(p->ix));
		h = fnv_str(h, p->ns);
		h = fnv_str(h, p->name);
		h = fnv_str(h, p->node);
		h = fnv_str(h,
			    berth_jstr(berth_jget(p->obj, "metadata"), "uid"));
	}
	for (size_t i = 0; i < c->nns; i++) {
		h = fnv_str(h, c->ns[i].name);
		h = fnv_str(h, json_object_to_json_string_ext(
				       c->ns[i].labels,
				       JSON_C_TO_STRING_PLAIN |
					       JSON_C_TO_STRING_NOSLASHESCAPE));
	}
	for (size_t i = 0; i < r->ncidrs; i++) {
		h = fnv(h, &r->cidrs[i].net, sizeof(r->cidrs[i].net));
		h = fnv(h, &r->cidrs[i].prefix, sizeof(r->cidrs[i].prefix));
		h = fnv(h, &r->cidrs[i].id, sizeof(r->cidrs[i].id));
	}
	return h;
}

/* A policy's cache key (malloc'ed), NULL when out of memory. */
static char *policy_key(json_object *pol)
{
	json_object *meta = berth_jget(pol, "metadata");
	const char *uid = berth_jstr(meta, "uid");
	const char *rv = berth_jstr(meta, "resourceVersion");
	char *k = NULL;

	if (uid && rv && *uid && *rv) {
		if (asprintf(&k, "%s/%s", uid, rv) < 0)
			return NULL;
		return k;
	}
	return strdup(json_object_to_json_string_ext(
		pol, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE));
}

static void cached_free(struct berth_policy_cached *p)
{
	free(p->key);
	free(p->e);
	free(p->eps);
	memset(p, 0, sizeof(*p));
}

void berth_policy_cache_free(struct berth_policy_cache *c)
{
	for (size_t i = 0; i < c->n; i++)
		cached_free(&c->v[i]);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int cmp_cached(const void *a, const void *b)
{
	const struct berth_policy_cached *x = a, *y = b;

	return strcmp(x->key, y->key);
}

/* A cached policy's result into r, as compiling it would have. */
static void replay(struct ctx *c, const struct berth_policy_cached *p)
{
	struct berth_policy_result *r = c->r;

	for (size_t i = 0; i < p->ne && !c->err; i++)
		emit(c, &p->e[i].key);
	for (size_t i = 0; i < p->neps; i++)
		r->eps[p->eps[i].local].flags |= p->eps[i].flags;
	r->errors += p->errors;
}

/*
 * Compile policy j, or replay it from the cache (old, the last pass's,
 * sorted); either way its result goes to next[*nnext] for the next pass.
 */
static void compile_cached(struct ctx *c, json_object *pol, size_t *scratch,
			   struct berth_policy_cache *old,
			   struct berth_policy_cached *next, size_t *nnext)
{
	struct berth_policy_cached probe = { .key = policy_key(pol) }, *hit;
	struct berth_policy_result *r = c->r;
	size_t start = r->n, errors = r->errors;

	if (!probe.key) {
		c->err = -ENOMEM;
		return;
	}
	hit = old->n ? bsearch(&probe, old->v, old->n, sizeof(probe),
			       cmp_cached) :
		       NULL;
	if (hit && !hit->moved) { /* a duplicate key compiles again */
		replay(c, hit);
		old->hits++;
		free(probe.key);
		next[(*nnext)++] = *hit;
		hit->moved = true;
		return;
	}
	old->misses++;
	c->rec = &probe;
	compile_policy(c, pol, scratch);
	c->rec = NULL;
	probe.ne = r->n - start;
	probe.e = malloc((probe.ne + 1) * sizeof(*probe.e));
	if (!probe.e) {
		c->err = -ENOMEM;
		cached_free(&probe);
		return;
	}
	if (probe.ne)
		memcpy(probe.e, r->entries + start,
		       probe.ne * sizeof(*probe.e));
	probe.errors = r->errors - errors;
	next[(*nnext)++] = probe;
}

/* Every policy, through the cache when there is one. */
static void compile_all(struct ctx *c, size_t *scratch)
{
	const struct berth_policy_input *in = c->in;
	struct berth_policy_cache *cache = in->cache;
	struct berth_policy_cached *next;
	size_t nnext = 0;
	uint64_t world;

	if (!cache) {
		for (size_t j = 0; !c->err && j < in->npolicies; j++)
			compile_policy(c, in->policies[j], scratch);
		return;
	}
	world = world_sig(c);
	if (world != cache->world) {
		berth_policy_cache_free(cache);
		cache->world = world;
	}
	cache->hits = cache->misses = 0;
	next = calloc(in->npolicies + 1, sizeof(*next));
	if (!next) {
		c->err = -ENOMEM;
		return;
	}
	for (size_t j = 0; !c->err && j < in->npolicies; j++)
		compile_cached(c, in->policies[j], scratch, cache, next,
			       &nnext);
	/* what no policy names any more goes; a failed pass keeps nothing */
	for (size_t i = 0; i < cache->n; i++)
		if (!cache->v[i].moved)
			cached_free(&cache->v[i]);
	free(cache->v);
	cache->v = next;
	cache->n = nnext;
	if (c->err) {
		world = cache->world;
		berth_policy_cache_free(cache);
		cache->world = world;
		return;
	}
	if (nnext)
		qsort(next, nnext, sizeof(*next), cmp_cached);
}

int berth_policy_compile(const struct berth_policy_input *in,
			 struct berth_policy_result *out)
{
	const struct berth_idtable *t = in->ids;
	struct berth_policy_result r = { 0 };
	struct ctx c = { .in = in, .r = &r };
	size_t *scratch;
	int err;

	err = ns_setup(&c);
	if (!err) {
		collect_cidrs(&c);
		err = c.err ? c.err : number_cidrs(&r);
		r.eps = calloc(t->npods ? t->npods : 1, sizeof(*r.eps));
		if (!r.eps)
			err = -ENOMEM;
	}
	/* this node's pods; t->pods is sorted by address: so is eps */
	c.local = calloc(t->npods + 1, sizeof(*c.local));
	scratch = calloc(t->npods + 1, sizeof(*scratch));
	if (!err && (!c.local || !scratch))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < t->npods; i++) {
		if (!in->self || strcmp(t->pods[i].node, in->self))
			continue;
		c.local[c.nlocal++] = &t->pods[i];
		r.eps[r.neps++] =
			(struct berth_policy_ep){ .ip = t->pods[i].ip };
	}
	/* a policy selects pods of its namespace: find them by bsearch */
	c.by_ns = calloc(c.nlocal + 1, sizeof(*c.by_ns));
	c.sel_memo = malloc(t->n + 1);
	c.pports = calloc(t->npods + 1, sizeof(*c.pports));
	c.id_pod = malloc((t->n + 1) * sizeof(*c.id_pod));
	if (!err && (!c.by_ns || !c.sel_memo || !c.pports || !c.id_pod))
		err = -ENOMEM;
	for (size_t i = 0; !err && i < t->n; i++)
		c.id_pod[i] = SIZE_MAX;
	for (size_t i = t->npods; !err && i-- > 0;)
		c.id_pod[t->pods[i].ix] = i; /* the lowest address: as before */
	for (size_t i = 0; !err && i < c.nlocal; i++)
		c.by_ns[i] = i;
	if (!err && c.nlocal)
		qsort_r(c.by_ns, c.nlocal, sizeof(*c.by_ns), cmp_local_ns, &c);
	if (!err) {
		compile_all(&c, scratch);
		err = c.err;
	}
	free(c.local);
	free(c.by_ns);
	free(c.sel_memo);
	for (size_t i = 0; c.pports && i < t->npods; i++)
		free(c.pports[i].v);
	free(c.pports);
	free(c.id_pod);
	free(scratch);
	for (size_t i = 0; i < c.nns; i++)
		json_object_put(c.ns[i].labels);
	free(c.ns);
	free(c.id_nsl);
	free(c.memo);
	err = err ? err : c.err;
	if (err) {
		berth_policy_result_free(&r);
		return err;
	}
	for (size_t i = 0; i < r.ncidrs; i++)
		r.cidrs[i].net = htonl(r.cidrs[i].net);
	sort_entries(&r);
	*out = r;
	return 0;
}

void berth_policy_result_free(struct berth_policy_result *r)
{
	free(r->entries);
	free(r->eps);
	free(r->cidrs);
	memset(r, 0, sizeof(*r));
}

/* ---- lookup, as the BPF side does it ---- */

/* does entry key e (prefix e->prefixlen) cover the full key k? */
static bool lpm_covers(const struct berth_policy_key *e,
		       const struct berth_policy_key *k)
{
	const unsigned char *a = (const void *)&e->ep_ip,
			    *b = (const void *)&k->ep_ip;
	uint32_t bits = e->prefixlen, full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full))
		return false;
	return !rest || !((a[full] ^ b[full]) & (0xff << (8 - rest)));
}

static bool lookup(const struct berth_policy_result *r,
		   const struct berth_policy_key *k)
{
	for (size_t i = 0; i < r->n; i++)
		if (lpm_covers(&r->entries[i].key, k))
			return r->entries[i].val.flags & BERTH_POLICY_F_ALLOW;
	return false;
}

bool berth_policy_allows(const struct berth_policy_result *r, uint32_t ep_ip,
			 uint8_t dir, uint32_t peer_id, uint8_t proto,
			 uint16_t port)
{
	uint32_t flag = dir == BERTH_POLICY_INGRESS ?
				BERTH_EP_F_INGRESS_ENFORCED :
				BERTH_EP_F_EGRESS_ENFORCED;
	struct berth_policy_key k = { .prefixlen = BERTH_POLICY_PREFIX_FULL,
				      .ep_ip = ep_ip,
				      .identity = htonl(peer_id),
				      .dir = dir,
				      .proto = proto,
				      .port = htons(port) };
	size_t i;

	for (i = 0; i < r->neps && r->eps[i].ip != ep_ip; i++)
		;
	if (i == r->neps || !(r->eps[i].flags & flag))
		return true;
	if (peer_id == BERTH_ID_HOST || lookup(r, &k))
		return true;
	k.identity = htonl(BERTH_ID_ANY);
	return lookup(r, &k);
}

/* ---- diff ---- */

static int cmp_ep(const void *a, const void *b)
{
	uint32_t x = ntohl(((const struct berth_policy_ep *)a)->ip);
	uint32_t y = ntohl(((const struct berth_policy_ep *)b)->ip);

	return (x > y) - (x < y);
}

static uint32_t ep_flags(const struct berth_policy_result *r, uint32_t ip)
{
	struct berth_policy_ep probe = { .ip = ip }, *e;

	if (!r || !r->neps)
		return 0;
	e = bsearch(&probe, r->eps, r->neps, sizeof(*e), cmp_ep);
	return e ? e->flags : 0;
}

static const struct berth_policy_entry *
find_entry(const struct berth_policy_result *r,
	   const struct berth_policy_key *k)
{
	if (!r || !r->n)
		return NULL;
	return bsearch(k, r->entries, r->n, sizeof(*r->entries), cmp_entry);
}

static void diff_eps(const struct berth_policy_result *old,
		     const struct berth_policy_result *new,
		     struct berth_policy_diff *d)
{
	/* on: new bits of an endpoint (all its flags, written first);
	 * off: endpoints whose flags lose bits (written last) */
	for (size_t i = 0; i < new->neps; i++) {
		uint32_t was = ep_flags(old, new->eps[i].ip);

		if (new->eps[i].flags & ~was)
			d->ep_on[d->neps_on++] = (struct berth_policy_ep){
				.ip = new->eps[i].ip,
				.flags = new->eps[i].flags | was
			};
		if (was & ~new->eps[i].flags)
			d->ep_off[d->neps_off++] = new->eps[i];
	}
	for (size_t i = 0; old && i < old->neps; i++)
		if (old->eps[i].flags && !ep_flags(new, old->eps[i].ip) &&
		    !bsearch(&old->eps[i], new->eps, new->neps,
			     sizeof(*new->eps), cmp_ep))
			d->ep_off[d->neps_off++] = (struct berth_policy_ep){
				.ip = old->eps[i].ip
			};
}

int berth_policy_diff(const struct berth_policy_result *old,
		      const struct berth_policy_result *new,
		      struct berth_policy_diff *d)
{
	size_t nold = old ? old->n : 0,
	       neps = new->neps + (old ? old->neps : 0);

	memset(d, 0, sizeof(*d));
	d->add = calloc(new->n ? new->n : 1, sizeof(*d->add));
	d->del = calloc(nold ? nold : 1, sizeof(*d->del));
	d->ep_on = calloc(neps ? neps : 1, sizeof(*d->ep_on));
	d->ep_off = calloc(neps ? neps : 1, sizeof(*d->ep_off));
	if (!d->add || !d->del || !d->ep_on || !d->ep_off) {
		berth_policy_diff_free(d);
		return -ENOMEM;
	}
	for (size_t i = 0; i < new->n; i++) {
		const struct berth_policy_entry *o =
			find_entry(old, &new->entries[i].key);

		if (!o || memcmp(&o->val, &new->entries[i].val, sizeof(o->val)))
			d->add[d->nadd++] = new->entries[i];
	}
	for (size_t i = 0; i < nold; i++)
		if (!find_entry(new, &old->entries[i].key))
			d->del[d->ndel++] = old->entries[i].key;
	diff_eps(old, new, d);
	return 0;
}

void berth_policy_diff_free(struct berth_policy_diff *d)
{
	free(d->add);
	free(d->del);
	free(d->ep_on);
	free(d->ep_off);
	memset(d, 0, sizeof(*d));
}
