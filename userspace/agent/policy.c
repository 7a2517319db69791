// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* NetworkPolicy -> policy map entries, endpoint flags and CIDR identities: see policy.h. */
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

struct ctx {
	const struct berth_policy_input *in;
	struct nsinfo *ns;
	size_t nns;
	json_object **id_nsl; /* per identity (ids[] index): its ns labels */
	signed char *memo; /* per identity: selector result, -1 unknown */
	struct berth_policy_result *r;
	size_t cap;
	int err; /* first allocation failure */
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

/* containerPort of pod named name for proto; 0 if none */
static uint16_t named_port(const struct berth_ident_pod *pod, const char *name,
			   uint8_t proto)
{
	json_object *ctrs =
		berth_jget(berth_jget(pod->obj, "spec"), "containers");

	for (size_t i = 0; i < berth_jlen(ctrs); i++) {
		json_object *ports =
			berth_jget(json_object_array_get_idx(ctrs, i), "ports");

		for (size_t j = 0; j < berth_jlen(ports); j++) {
			json_object *p = json_object_array_get_idx(ports, j);
			const char *n = berth_jstr(p, "name");
			uint8_t pp;
			long num = berth_jint(p, "containerPort");

			if (n && !strcmp(n, name) && !proto_of(p, &pp) &&
			    pp == proto && num > 0 && num < 65536)
				return num;
		}
	}
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

/*
 * One peer identity on one NetworkPolicyPort (NULL: every port of every
 * protocol). @named_on: the pod a port name is resolved on (NULL: names
 * match nothing). -EINVAL for an invalid port.
 */
static int emit_port(struct ctx *c, struct berth_policy_key base,
		     json_object *port, const struct berth_ident_pod *named_on)
{
	json_object *pv = berth_jget(port, "port");
	long end = berth_jint(port, "endPort"), num;
	uint16_t p;

	if (!port) {
		base.prefixlen = BERTH_POLICY_PREFIX_ANY_PROTO;
		emit(c, &base);
		return 0;
	}
	if (proto_of(port, &base.proto))
		return -EINVAL;
	if (!pv) {
		base.prefixlen = BERTH_POLICY_PREFIX_ANY_PORT;
		emit(c, &base);
		return 0;
	}
	if (json_object_is_type(pv, json_type_string)) {
		if (end >= 0)
			return -EINVAL; /* endPort needs a number */
		p = named_on ? named_port(named_on, json_object_get_string(pv),
					  base.proto) :
			       0;
		if (p)
			emit_range(c, &base, p, p);
		return 0;
	}
	num = json_object_get_int64(pv);
	if (num < 1 || num > 65535 || (end >= 0 && (end < num || end > 65535)))
		return -EINVAL;
	emit_range(c, &base, num, end >= 0 ? end : num);
	return 0;
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

struct rule {
	const struct berth_ident_pod *self; /* the selected local pod */
	const char *policy_ns;
	uint8_t dir;
	json_object *ports; /* NULL or empty: all */
};

/* base for (self, peer identity, dir) */
static struct berth_policy_key key_for(const struct rule *ru, uint32_t id)
{
	return (struct berth_policy_key){ .ep_ip = ru->self->ip,
					  .identity = htonl(id),
					  .dir = ru->dir };
}

/* every port of the rule for one peer identity; peer: its pod or NULL */
static int emit_ports(struct ctx *c, const struct rule *ru, uint32_t id,
		      const struct berth_ident_pod *peer)
{
	const struct berth_ident_pod *named_on =
		ru->dir == BERTH_POLICY_INGRESS ? ru->self : peer;
	size_t n = berth_jlen(ru->ports);
	int err = 0;

	if (!n)
		return emit_port(c, key_for(ru, id), NULL, NULL);
	for (size_t i = 0; i < n; i++) {
		int e = emit_port(c, key_for(ru, id),
				  json_object_array_get_idx(ru->ports, i),
				  named_on);

		err = err ? err : e;
	}
	return err;
}

static bool rule_has_named_port(const struct rule *ru)
{
	for (size_t i = 0; i < berth_jlen(ru->ports); i++)
		if (json_object_is_type(
			    berth_jget(json_object_array_get_idx(ru->ports, i),
				       "port"),
			    json_type_string))
			return true;
	return false;
}

/* Does a pod/namespace selector peer select identity ix? 1, 0, -EINVAL */
static int peer_selects(struct ctx *c, const struct rule *ru, size_t ix,
			json_object *podsel, json_object *nssel)
{
	const struct berth_ident *id = &c->in->ids->ids[ix];
	int m = 1;

	if (nssel)
		m = sel_match(nssel, c->id_nsl[ix]);
	else if (strcmp(id->ns, ru->policy_ns))
		m = 0;
	if (m > 0 && podsel)
		m = sel_match(podsel, id->labels);
	return m;
}

/* peer selected by pod and/or namespace selector */
static int emit_selector_peer(struct ctx *c, const struct rule *ru,
			      json_object *podsel, json_object *nssel)
{
	const struct berth_idtable *t = c->in->ids;
	bool per_pod = ru->dir == BERTH_POLICY_EGRESS &&
		       rule_has_named_port(ru);
	int err = 0;

	memset(c->memo, -1, t->n);
	for (size_t i = 0; i < t->npods; i++) {
		const struct berth_ident_pod *p = &t->pods[i];
		signed char *m = &c->memo[p->ix];

		if (*m < 0)
			*m = peer_selects(c, ru, p->ix, podsel, nssel);
		else if (*m == 1 && !per_pod)
			continue; /* this identity's entries are out already */
		if (*m < 0)
			return -EINVAL;
		if (*m)
			err = err ? err : emit_ports(c, ru, p->id, p);
	}
	return err;
}

static int emit_ipblock_peer(struct ctx *c, const struct rule *ru,
			     json_object *b)
{
	json_object *ex = berth_jget(b, "except");
	const struct berth_policy_result *r = c->r;
	uint32_t net, enet;
	uint8_t pfx, epfx;
	int err = 0;

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
		bool out = !cidr_in(p->net, p->prefix, net, pfx);

		for (size_t x = 0; !out && x < berth_jlen(ex); x++) {
			parse_cidr(json_object_get_string(
					   json_object_array_get_idx(ex, x)),
				   &enet, &epfx);
			out = cidr_in(p->net, p->prefix, enet, epfx);
		}
		if (!out)
			err = err ? err : emit_ports(c, ru, p->id, NULL);
	}
	return err;
}

static int emit_peer(struct ctx *c, const struct rule *ru, json_object *peer)
{
	json_object *podsel = berth_jget(peer, "podSelector");
	json_object *nssel = berth_jget(peer, "namespaceSelector");
	json_object *b = berth_jget(peer, "ipBlock");

	if (b)
		return podsel || nssel ? -EINVAL : emit_ipblock_peer(c, ru, b);
	if (!podsel && !nssel)
		return -EINVAL;
	return emit_selector_peer(c, ru, podsel, nssel);
}

/* a rule without peers: anyone; egress port names per destination pod */
static int emit_any_peer(struct ctx *c, const struct rule *ru)
{
	const struct berth_idtable *t = c->in->ids;
	struct rule numeric = *ru;
	int err;

	if (ru->dir == BERTH_POLICY_INGRESS || !rule_has_named_port(ru))
		return emit_ports(c, ru, BERTH_ID_ANY, NULL);
	/* numbered ports for anyone; names on each pod that has them */
	err = emit_ports(c, &numeric, BERTH_ID_ANY, NULL);
	for (size_t i = 0; !err && i < t->npods; i++)
		err = emit_ports(c, ru, t->pods[i].id, &t->pods[i]);
	return err;
}

static void compile_rule(struct ctx *c, struct rule *ru, json_object *rule,
			 const char *peers_key, const char *pname)
{
	json_object *peers = berth_jget(rule, peers_key);
	int err = 0;

	ru->ports = berth_jget(rule, "ports");
	if (!berth_jlen(peers))
		err = emit_any_peer(c, ru);
	for (size_t i = 0; i < berth_jlen(peers); i++) {
		int e = emit_peer(c, ru, json_object_array_get_idx(peers, i));

		err = err ? err : e;
	}
	if (err) {
		c->r->errors++;
		pr_warn("networkpolicy %s: an %s rule is invalid, partly ignored",
			pname, peers_key[0] == 'f' ? "ingress" : "egress");
	}
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

static void compile_policy_for(struct ctx *c, json_object *pol,
			       const struct berth_ident_pod *pod,
			       struct berth_policy_ep *ep)
{
	json_object *meta = berth_jget(pol, "metadata");
	json_object *spec = berth_jget(pol, "spec");
	json_object *podsel = berth_jget(spec, "podSelector");
	const char *ns = berth_jstr(meta, "namespace");
	const char *name = berth_jstr(meta, "name");
	struct rule ru = { .self = pod, .policy_ns = ns ? ns : "default" };
	json_object *rules;
	bool ing, eg;
	int m;

	if (strcmp(ru.policy_ns, pod->ns))
		return;
	m = podsel ? sel_match(podsel, pod->labels) : 1;
	if (m < 0) {
		c->r->errors++;
		pr_warn("networkpolicy %s/%s: invalid podSelector, ignored",
			ru.policy_ns, name ? name : "?");
		return;
	}
	if (!m)
		return;
	policy_types(spec, &ing, &eg);
	if (ing) {
		ep->flags |= BERTH_EP_F_INGRESS_ENFORCED;
		ru.dir = BERTH_POLICY_INGRESS;
		rules = berth_jget(spec, "ingress");
		for (size_t i = 0; i < berth_jlen(rules); i++)
			compile_rule(c, &ru,
				     json_object_array_get_idx(rules, i),
				     "from", name ? name : "?");
	}
	if (eg) {
		ep->flags |= BERTH_EP_F_EGRESS_ENFORCED;
		ru.dir = BERTH_POLICY_EGRESS;
		rules = berth_jget(spec, "egress");
		for (size_t i = 0; i < berth_jlen(rules); i++)
			compile_rule(c, &ru,
				     json_object_array_get_idx(rules, i), "to",
				     name ? name : "?");
	}
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

int berth_policy_compile(const struct berth_policy_input *in,
			 struct berth_policy_result *out)
{
	const struct berth_idtable *t = in->ids;
	struct berth_policy_result r = { 0 };
	struct ctx c = { .in = in, .r = &r };
	int err;

	err = ns_setup(&c);
	if (!err) {
		collect_cidrs(&c);
		err = c.err ? c.err : number_cidrs(&r);
		r.eps = calloc(t->npods ? t->npods : 1, sizeof(*r.eps));
		if (!r.eps)
			err = -ENOMEM;
	}
	/* t->pods is sorted by address: so is eps */
	for (size_t i = 0; !err && i < t->npods; i++) {
		const struct berth_ident_pod *p = &t->pods[i];
		struct berth_policy_ep *ep = &r.eps[r.neps];

		if (!in->self || strcmp(p->node, in->self))
			continue;
		*ep = (struct berth_policy_ep){ .ip = p->ip };
		for (size_t j = 0; j < in->npolicies; j++)
			compile_policy_for(&c, in->policies[j], p, ep);
		r.neps++;
		err = c.err;
	}
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
