// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Service set -> iptables-restore text (ipt_render.h). Pure: the only
 * state is what the last applied render wrote, for incremental output.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "image_priv.h" /* berth_sha256_digest */
#include "ipt_render.h"

#define IMAGE_ID_LEN 72 /* "sha256:" + 64 hex + NUL */
#define SPN_MAX (3 * BERTH_NAME_MAX + 2) /* "ns/name:port" */

/* A growable string; err sticks at the first failed append. */
struct sbuf {
	char *p;
	size_t len, cap;
	int err;
};

__attribute__((format(printf, 2, 3))) static void
sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (b->err)
		return;
	for (;;) {
		size_t room = b->cap - b->len;

		va_start(ap, fmt);
		n = vsnprintf(b->p ? b->p + b->len : NULL, room, fmt, ap);
		va_end(ap);
		if (n < 0) {
			b->err = -EINVAL;
			return;
		}
		if ((size_t)n < room) {
			b->len += n;
			return;
		}
		size_t ncap = b->cap ? 2 * b->cap : 256;
		char *np;

		while (ncap - b->len <= (size_t)n)
			ncap *= 2;
		np = realloc(b->p, ncap);
		if (!np) {
			b->err = -ENOMEM;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
}

/* One rendered chain. Dispatch chains are written on every render. */
struct chain {
	char name[BERTH_IPT_CHAIN_MAX];
	char table; /* 'n'at or 'f'ilter */
	bool dispatch;
	uint64_t hash; /* of the rules, to see what changed */
	struct sbuf rules;
};

/* The chains in render order, with an open-addressing index by (table,
 * name): 10,000 Services make 20,000 chains, too many for a linear find.
 * A chain's address changes when v grows: hold indexes, not pointers,
 * across a chain_get(). */
struct chains {
	struct chain *v;
	size_t n, cap;
	uint32_t *slots; /* index + 1; 0: free */
	size_t nslots; /* a power of two, > 2 n */
};

/* name + hash of what the kernel holds (nat per-service chains) */
struct rec {
	char name[BERTH_IPT_CHAIN_MAX];
	uint64_t hash; /* 0: rewrite it (berth_ipt_render_verify) */
	unsigned int rules;
};

struct berth_ipt_render {
	struct rec *cur, *next; /* applied; rendered and not yet applied */
	size_t ncur, nnext;
	bool valid; /* cur is what the kernel holds */
};

static const char *proto_name(uint8_t p)
{
	return p == IPPROTO_UDP ? "udp" : "tcp";
}

void berth_ipt_chain_name(const char *prefix, const char *key, char *out)
{
	static const char b32[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
	char hex[IMAGE_ID_LEN];
	uint8_t h[10];
	uint64_t bits = 0;
	int nbits = 0, o = 0;

	berth_sha256_digest(key, strlen(key), hex);
	for (int i = 0; i < 10; i++)
		sscanf(hex + 7 + 2 * i, "%2hhx", &h[i]);
	/* base32 of the first 10 bytes = the first 16 characters of the
	 * base32 of all 32 (kube-proxy's encoded[:16]) */
	o = snprintf(out, BERTH_IPT_CHAIN_MAX, "%s", prefix);
	for (int i = 0; i < 10; i++) {
		bits = bits << 8 | h[i];
		nbits += 8;
		while (nbits >= 5 && o < BERTH_IPT_CHAIN_MAX - 1) {
			out[o++] = b32[(bits >> (nbits - 5)) & 31];
			nbits -= 5;
		}
	}
	out[o] = '\0';
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 0x100000001b3ULL;
	return h;
}

static size_t slot_of(const struct chains *cs, const char *name, char table)
{
	size_t mask = cs->nslots - 1,
	       i = (fnv1a(name, strlen(name)) ^ (uint8_t)table) & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t k = cs->slots[i];

		if (!k || (cs->v[k - 1].table == table &&
			   !strcmp(cs->v[k - 1].name, name)))
			return i;
	}
}

static struct chain *chain_find(const struct chains *cs, const char *name,
				char table)
{
	uint32_t k;

	if (!cs->nslots)
		return NULL;
	k = cs->slots[slot_of(cs, name, table)];
	return k ? &cs->v[k - 1] : NULL;
}

/* Room for one more chain in v and the index. */
static int chains_grow(struct chains *cs)
{
	if (cs->n == cs->cap) {
		size_t ncap = cs->cap ? 2 * cs->cap : 32;
		struct chain *v = realloc(cs->v, ncap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		cs->v = v;
		cs->cap = ncap;
	}
	if (2 * (cs->n + 1) >= cs->nslots) {
		size_t nslots = cs->nslots ? 2 * cs->nslots : 64;
		uint32_t *old = cs->slots;

		cs->slots = calloc(nslots, sizeof(*cs->slots));
		if (!cs->slots) {
			cs->slots = old;
			return -ENOMEM;
		}
		free(old);
		cs->nslots = nslots;
		for (size_t i = 0; i < cs->n; i++)
			cs->slots[slot_of(cs, cs->v[i].name, cs->v[i].table)] =
				i + 1;
	}
	return 0;
}

/* The chain's index, the chain added empty if new; -ENOMEM. */
static long chain_get(struct chains *cs, const char *name, char table,
		      bool dispatch)
{
	struct chain *c = chain_find(cs, name, table);

	if (c)
		return c - cs->v;
	if (chains_grow(cs))
		return -ENOMEM;
	c = &cs->v[cs->n];
	memset(c, 0, sizeof(*c));
	snprintf(c->name, sizeof(c->name), "%s", name);
	c->table = table;
	c->dispatch = dispatch;
	cs->slots[slot_of(cs, name, table)] = cs->n + 1;
	return cs->n++;
}

static void chains_free(struct chains *cs)
{
	for (size_t i = 0; i < cs->n; i++)
		free(cs->v[i].rules.p);
	free(cs->v);
	free(cs->slots);
}

/* ---- what one frontend renders ---- */

/* Everything the rules of one frontend (an entry of the set) name. */
struct fe {
	const struct berth_service *s;
	char spn[SPN_MAX]; /* ns/name:port */
	char key[SPN_MAX + 4]; /* spn + protocol */
	char vip[INET_ADDRSTRLEN];
	const char *proto;
	bool nodeport;
};

static void fe_init(struct fe *f, const struct berth_service *s,
		    const struct berth_ipt_config *cfg)
{
	const struct berth_svc_port *p = &s->ports[0];

	f->s = s;
	/* kube-proxy's ServicePortName: the port name only when it has one */
	if (p->name[0])
		snprintf(f->spn, sizeof(f->spn), "%s/%s:%s", s->namespace,
			 s->name, p->name);
	else
		snprintf(f->spn, sizeof(f->spn), "%s/%s", s->namespace,
			 s->name);
	f->proto = proto_name(p->proto);
	snprintf(f->key, sizeof(f->key), "%s%s", f->spn, f->proto);
	inet_ntop(AF_INET, &s->cluster_ip, f->vip, sizeof(f->vip));
	f->nodeport = cfg->node_ip && s->cluster_ip == cfg->node_ip;
}

static uint16_t ep_port(const struct berth_service *s,
			const struct berth_endpoint *e)
{
	return e->port ? e->port : s->ports[0].target_port;
}

static size_t ready_count(const struct berth_service *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->nendpoints; i++)
		n += !s->endpoints[i].terminating;
	return n;
}

/* BERTH-SEP-<h> of one endpoint: hairpin traffic is masqueraded so the
 * reply comes back through this node; DNAT, with the affinity record. */
static int render_sep(struct chains *cs, const struct fe *f,
		      const struct berth_endpoint *e, char *name)
{
	char ip[INET_ADDRSTRLEN], key[sizeof(f->key) + 24];
	uint16_t port = ep_port(f->s, e);
	struct chain *c;
	long ci;

	inet_ntop(AF_INET, &e->ip, ip, sizeof(ip));
	snprintf(key, sizeof(key), "%s%s:%u", f->key, ip, port);
	berth_ipt_chain_name("BERTH-SEP-", key, name);
	if (chain_find(cs, name, 'n'))
		return 0; /* the ClusterIP's and the NodePort's are one */
	ci = chain_get(cs, name, 'n', false);
	if (ci < 0)
		return ci;
	c = &cs->v[ci];
	sb_printf(
		&c->rules,
		"-A %s -s %s/32 -m comment --comment \"%s\" -j BERTH-MARK-MASQ\n",
		name, ip, f->spn);
	sb_printf(&c->rules, "-A %s -p %s -m comment --comment \"%s\"", name,
		  f->proto, f->spn);
	if (f->s->affinity)
		sb_printf(
			&c->rules,
			" -m recent --set --name %s --mask 255.255.255.255 --rsource",
			name);
	sb_printf(&c->rules, " -m %s -j DNAT --to-destination %s:%u\n",
		  f->proto, ip, port);
	return c->rules.err;
}

/* The rules choosing an endpoint, into chain ci. render_sep may move the
 * chains: c is looked up again after it. */
static int render_choice(struct chains *cs, long ci, const struct fe *f)
{
	struct chain *c;
	const struct berth_service *s = f->s;
	size_t n = ready_count(s), i = 0;
	char sep[BERTH_IPT_CHAIN_MAX], ip[INET_ADDRSTRLEN];
	int err;

	/* affinity first: a client seen within the timeout keeps its
	 * endpoint; kube-proxy's order, one check per endpoint */
	for (size_t k = 0; s->affinity && k < s->nendpoints; k++) {
		const struct berth_endpoint *e = &s->endpoints[k];

		if (e->terminating)
			continue;
		err = render_sep(cs, f, e, sep);
		if (err)
			return err;
		c = &cs->v[ci];
		inet_ntop(AF_INET, &e->ip, ip, sizeof(ip));
		sb_printf(
			&c->rules,
			"-A %s -m comment --comment \"%s -> %s:%u\" -m recent --rcheck --seconds %u --reap --name %s --mask 255.255.255.255 --rsource -j %s\n",
			c->name, f->spn, ip, ep_port(s, e), s->affinity_timeout,
			sep, sep);
	}
	for (size_t k = 0; k < s->nendpoints; k++) {
		const struct berth_endpoint *e = &s->endpoints[k];

		if (e->terminating)
			continue; /* as in BPF: new flows never pick it */
		err = render_sep(cs, f, e, sep);
		if (err)
			return err;
		c = &cs->v[ci];
		inet_ntop(AF_INET, &e->ip, ip, sizeof(ip));
		sb_printf(&c->rules,
			  "-A %s -m comment --comment \"%s -> %s:%u\"", c->name,
			  f->spn, ip, ep_port(s, e));
		if (i < n - 1)
			sb_printf(
				&c->rules,
				" -m statistic --mode random --probability %0.10f",
				1.0 / (double)(n - i));
		sb_printf(&c->rules, " -j %s\n", sep);
		i++;
	}
	return cs->v[ci].rules.err;
}

/* The REJECT of a frontend without ready endpoints (filter). */
static int render_reject(struct chains *cs, const struct fe *f)
{
	const struct berth_service *s = f->s;
	struct chain *c;
	long ci;

	if (f->nodeport) {
		ci = chain_get(cs, "BERTH-EXTERNAL-SERVICES", 'f', true);
		if (ci < 0)
			return ci;
		c = &cs->v[ci];
		sb_printf(
			&c->rules,
			"-A BERTH-EXTERNAL-SERVICES -p %s -m comment --comment \"%s has no endpoints\" -m addrtype --dst-type LOCAL -m %s --dport %u -j REJECT --reject-with icmp-port-unreachable\n",
			f->proto, f->spn, f->proto, s->ports[0].port);
	} else {
		ci = chain_get(cs, "BERTH-SERVICES", 'f', true);
		if (ci < 0)
			return ci;
		c = &cs->v[ci];
		sb_printf(
			&c->rules,
			"-A BERTH-SERVICES -d %s/32 -p %s -m comment --comment \"%s has no endpoints\" -m %s --dport %u -j REJECT --reject-with icmp-port-unreachable\n",
			f->vip, f->proto, f->spn, f->proto, s->ports[0].port);
	}
	return c->rules.err;
}

static int render_frontend(struct chains *cs, const struct berth_service *s,
			   const struct berth_ipt_config *cfg)
{
	char name[BERTH_IPT_CHAIN_MAX];
	const char *prefix, *disp;
	struct chain *d, *c;
	struct fe f;
	long ci;

	fe_init(&f, s, cfg);
	if (!ready_count(s))
		return render_reject(cs, &f);
	prefix = !f.nodeport ? "BERTH-SVC-" :
		 s->local    ? "BERTH-XLB-" :
			       "BERTH-EXT-";
	berth_ipt_chain_name(prefix, f.key, name);
	disp = f.nodeport ? "BERTH-NODEPORTS" : "BERTH-SERVICES";
	ci = chain_get(cs, disp, 'n', true);
	if (ci < 0)
		return ci;
	d = &cs->v[ci];
	if (f.nodeport)
		sb_printf(
			&d->rules,
			"-A %s -p %s -m comment --comment \"%s\" -m %s --dport %u -j %s\n",
			disp, f.proto, f.spn, f.proto, s->ports[0].port, name);
	else
		sb_printf(
			&d->rules,
			"-A %s -d %s/32 -p %s -m comment --comment \"%s cluster IP\" -m %s --dport %u -j %s\n",
			disp, f.vip, f.proto, f.spn, f.proto, s->ports[0].port,
			name);
	if (d->rules.err)
		return d->rules.err;
	ci = chain_get(cs, name, 'n', false);
	if (ci < 0)
		return ci;
	c = &cs->v[ci];
	/* externalTrafficPolicy Cluster: the endpoint may be on another
	 * node, whose reply must come back here; Local keeps the source */
	if (f.nodeport && !s->local)
		sb_printf(
			&c->rules,
			"-A %s -m comment --comment \"masquerade traffic for %s external destinations\" -j BERTH-MARK-MASQ\n",
			name, f.spn);
	return render_choice(cs, ci, &f);
}

/* The chains every render writes, in a fixed order. */
static int render_fixed(struct chains *cs)
{
	static const struct {
		const char *name;
		char table;
	} fixed[] = {
		{ "BERTH-SERVICES", 'n' },
		{ "BERTH-NODEPORTS", 'n' },
		{ "BERTH-POSTROUTING", 'n' },
		{ "BERTH-MARK-MASQ", 'n' },
		{ "BERTH-SERVICES", 'f' },
		{ "BERTH-EXTERNAL-SERVICES", 'f' },
		{ "BERTH-FORWARD", 'f' },
	};
	struct chain *c;

	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++)
		if (chain_get(cs, fixed[i].name, fixed[i].table, true) < 0)
			return -ENOMEM;
	c = chain_find(cs, "BERTH-POSTROUTING", 'n');
	sb_printf(
		&c->rules,
		"-A BERTH-POSTROUTING -m mark ! --mark 0x%x/0x%x -j RETURN\n"
		"-A BERTH-POSTROUTING -j MARK --xor-mark 0x%x\n"
		"-A BERTH-POSTROUTING -m comment --comment \"berth service traffic requiring SNAT\" -j MASQUERADE --random-fully\n",
		BERTH_IPT_MASQ_MARK, BERTH_IPT_MASQ_MARK, BERTH_IPT_MASQ_MARK);
	if (c->rules.err)
		return c->rules.err;
	c = chain_find(cs, "BERTH-MARK-MASQ", 'n');
	sb_printf(&c->rules, "-A BERTH-MARK-MASQ -j MARK --or-mark 0x%x\n",
		  BERTH_IPT_MASQ_MARK);
	if (c->rules.err)
		return c->rules.err;
	c = chain_find(cs, "BERTH-FORWARD", 'f');
	sb_printf(
		&c->rules,
		"-A BERTH-FORWARD -m comment --comment \"berth forwarding rules\" -m mark --mark 0x%x/0x%x -j ACCEPT\n"
		"-A BERTH-FORWARD -m comment --comment \"berth forwarding conntrack rule\" -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT\n",
		BERTH_IPT_MASQ_MARK, BERTH_IPT_MASQ_MARK);
	return c->rules.err;
}

/* The jump to NodePorts goes last: a ClusterIP match wins over it. */
static int render_tail(struct chains *cs)
{
	struct chain *c = chain_find(cs, "BERTH-SERVICES", 'n');

	sb_printf(
		&c->rules,
		"-A BERTH-SERVICES -m comment --comment \"berth service nodeports; NOTE: this must be the last rule in this chain\" -m addrtype --dst-type LOCAL -j BERTH-NODEPORTS\n");
	return c->rules.err;
}

static int build(struct chains *cs, const struct berth_ipt_config *cfg,
		 const struct berth_service_set *set)
{
	int err = render_fixed(cs);

	for (size_t i = 0; !err && i < set->n; i++) {
		if (set->svcs[i].nports != 1)
			return -EINVAL; /* proxy.h: one port per entry */
		err = render_frontend(cs, &set->svcs[i], cfg);
	}
	return err ?: render_tail(cs);
}

/* ---- incremental output ---- */

static int rec_cmp(const void *a, const void *b)
{
	return strcmp(((const struct rec *)a)->name,
		      ((const struct rec *)b)->name);
}

/* v is sorted by name (keep_next) */
static const struct rec *rec_find(const struct rec *v, size_t n,
				  const char *name)
{
	struct rec key = { 0 };

	snprintf(key.name, sizeof(key.name), "%s", name);
	return n ? bsearch(&key, v, n, sizeof(*v), rec_cmp) : NULL;
}

static bool wanted(const struct chains *cs, const char *name)
{
	return chain_find(cs, name, 'n');
}

/* Is this chain (new or changed) written? */
static bool must_write(const struct berth_ipt_render *r, bool full,
		       const struct chain *c)
{
	const struct rec *old;

	if (full || c->dispatch)
		return true;
	old = rec_find(r->cur, r->ncur, c->name);
	return !old || old->hash != c->hash;
}

/* Stale chains: flushed with the others, deleted after every rule that
 * referred to them is gone. */
static void stale(struct sbuf *b, const char *name, bool decl,
		  struct berth_ipt_stats *st)
{
	if (decl)
		sb_printf(b, ":%s - [0:0]\n", name);
	else {
		sb_printf(b, "-X %s\n", name);
		st->deleted++;
	}
}

/* Only per-Service chains are ever stale: the dispatch chains are always
 * rendered, and others (BERTH-POD-MASQ) belong to someone else. */
static bool is_ours(const char *name)
{
	static const char *const kinds[] = { "BERTH-SVC-", "BERTH-SEP-",
					     "BERTH-EXT-", "BERTH-XLB-" };

	for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
		if (!strncmp(name, kinds[i], strlen(kinds[i])))
			return true;
	return false;
}

/* Chains to delete: what we had (and, full, what the kernel has) minus
 * what is rendered now. Called twice: declarations, then -X lines. */
static void stale_all(const struct berth_ipt_render *r, const struct chains *cs,
		      const struct berth_ipt_kchain *existing, size_t nexisting,
		      struct sbuf *b, bool decl, struct berth_ipt_stats *st)
{
	for (size_t i = 0; i < r->ncur; i++)
		if (!wanted(cs, r->cur[i].name))
			stale(b, r->cur[i].name, decl, st);
	for (size_t i = 0; i < nexisting; i++)
		if (is_ours(existing[i].name) &&
		    !wanted(cs, existing[i].name) &&
		    !rec_find(r->cur, r->ncur, existing[i].name))
			stale(b, existing[i].name, decl, st);
}

static void emit_table(struct sbuf *b, const struct berth_ipt_render *r,
		       const struct chains *cs, char table, bool full,
		       const struct berth_ipt_kchain *existing,
		       size_t nexisting, struct berth_ipt_stats *st)
{
	sb_printf(b, "*%s\n", table == 'n' ? "nat" : "filter");
	for (size_t i = 0; i < cs->n; i++) {
		const struct chain *c = &cs->v[i];

		if (c->table != table)
			continue;
		st->chains++;
		if (must_write(r, full, c)) {
			sb_printf(b, ":%s - [0:0]\n", c->name);
			st->written++;
		}
	}
	if (table == 'n')
		stale_all(r, cs, existing, nexisting, b, true, st);
	for (size_t i = 0; i < cs->n; i++) {
		const struct chain *c = &cs->v[i];

		if (c->table != table || !must_write(r, full, c))
			continue;
		sb_printf(b, "%s", c->rules.p ? c->rules.p : "");
		for (size_t k = 0; k < c->rules.len; k++)
			st->rules += c->rules.p[k] == '\n';
	}
	if (table == 'n')
		stale_all(r, cs, existing, nexisting, b, false, st);
	sb_printf(b, "COMMIT\n");
}

/* Remember what this render wrote (nat chains), for the next one. */
static int keep_next(struct berth_ipt_render *r, const struct chains *cs)
{
	struct rec *v = calloc(cs->n ? cs->n : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < cs->n; i++) {
		if (cs->v[i].table != 'n')
			continue;
		memcpy(v[n].name, cs->v[i].name, sizeof(v[n].name));
		v[n].hash = cs->v[i].hash;
		for (size_t k = 0; k < cs->v[i].rules.len; k++)
			v[n].rules += cs->v[i].rules.p[k] == '\n';
		n++;
	}
	qsort(v, n, sizeof(*v), rec_cmp);
	free(r->next);
	r->next = v;
	r->nnext = n;
	return 0;
}

int berth_ipt_render(struct berth_ipt_render *r,
		     const struct berth_ipt_config *cfg,
		     const struct berth_service_set *set, bool full,
		     const struct berth_ipt_kchain *existing, size_t nexisting,
		     char **text, struct berth_ipt_stats *st)
{
	struct chains cs = { 0 };
	struct sbuf b = { 0 };
	int err;

	memset(st, 0, sizeof(*st));
	full = full || !r->valid;
	err = build(&cs, cfg, set);
	for (size_t i = 0; !err && i < cs.n; i++) {
		err = cs.v[i].rules.err;
		cs.v[i].hash = fnv1a(cs.v[i].rules.p ? cs.v[i].rules.p : "",
				     cs.v[i].rules.len);
	}
	if (!err) {
		emit_table(&b, r, &cs, 'n', full, existing, nexisting, st);
		emit_table(&b, r, &cs, 'f', full, existing, nexisting, st);
		err = b.err ?: keep_next(r, &cs);
	}
	chains_free(&cs);
	if (err) {
		free(b.p);
		return err;
	}
	*text = b.p;
	return 0;
}

static int kchain_cmp(const void *a, const void *b)
{
	return strcmp(((const struct berth_ipt_kchain *)a)->name,
		      ((const struct berth_ipt_kchain *)b)->name);
}

size_t berth_ipt_render_verify(struct berth_ipt_render *r,
			       const struct berth_ipt_kchain *kernel, size_t n)
{
	size_t bad = 0;

	for (size_t i = 0; i < r->ncur; i++) {
		struct berth_ipt_kchain key = { 0 };
		const struct berth_ipt_kchain *k;

		memcpy(key.name, r->cur[i].name, sizeof(key.name));
		k = n ? bsearch(&key, kernel, n, sizeof(*kernel), kchain_cmp) :
			NULL;
		if (!k || k->rules != r->cur[i].rules) {
			r->cur[i].hash = 0;
			bad++;
		}
	}
	return bad;
}

void berth_ipt_render_done(struct berth_ipt_render *r, bool ok)
{
	if (!ok) {
		r->valid = false;
		return;
	}
	free(r->cur);
	r->cur = r->next;
	r->ncur = r->nnext;
	r->next = NULL;
	r->nnext = 0;
	r->valid = true;
}

int berth_ipt_render_new(struct berth_ipt_render **out)
{
	*out = calloc(1, sizeof(**out));
	return *out ? 0 : -ENOMEM;
}

void berth_ipt_render_free(struct berth_ipt_render *r)
{
	if (!r)
		return;
	free(r->cur);
	free(r->next);
	free(r);
}
