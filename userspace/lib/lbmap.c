// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Map sync: a mirror of the services, backends, rev_nat and maglev maps,
 * diffed against the desired frontends so a sync writes only what differs,
 * in an order that keeps every packet on a consistent view.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include <berth/abi/lb.h>
#include <berth/abi/pins.h>
#include <berth/htab.h>
#include <berth/lbmap.h>
#include <berth/log.h>
#include <berth/maglev.h>

/*
 * Ids run 1..ID_MAX and then wrap. UINT32_MAX is never handed out: in the
 * mirror it stands for a slot the map holds with backend id 0, so that slot
 * matches nothing and is rewritten or deleted.
 */
#define ID_MAX (UINT32_MAX - 1)
#define BAD_ID UINT32_MAX
/* rev_nat ids the map holds with no frontend naming them: deleted next sync */
#define RN_ORPHAN UINT32_MAX
#define NO_INDEX UINT32_MAX

#define TERM BERTH_BACKEND_F_TERMINATING

/*
 * How a sync works. The mirror (struct frontend, struct backend) holds what
 * the maps hold plus the input each frontend was last synced from. A sync
 * first plans: which frontends changed (a compare against the last input),
 * which backends change flags (refs and terminating votes per backend),
 * how many new keys each map needs. Only when everything fits is the plan
 * committed to the mirror and written: removed frontends, backends that
 * appear or become active, changed frontends, backends that become
 * terminating, affinity entries. A write error leaves the mirror true to the
 * maps and makes the next sync compare everything.
 */

/* A frontend's backend as given, kept to recognise an unchanged frontend. */
struct in_be {
	uint32_t ip;
	uint16_t port;
	uint8_t term;
	uint8_t pad;
};

struct backend {
	uint32_t id; /* 0 while provisional */
	uint32_t ip; /* network order, as is port */
	uint16_t port;
	uint8_t proto;
	uint8_t flags; /* what the backends map holds */
	bool live;
	bool in_map;
	bool provisional; /* created by the sync being planned, no id yet */
	bool orphan; /* no frontend lists it: gc may free it */
	/* frontends that list it, and those of them marking it terminating */
	uint32_t refs, votes;
	/* the same once the current sync commits; valid if touch_gen == gen */
	uint32_t nrefs, nvotes;
	uint64_t touch_gen;
	uint64_t chg_gen; /* its flags change in sync chg_gen */
	uint64_t orphan_gen; /* the sync that took it out of its last frontend */
	uint64_t mark; /* slot placement scratch */
	uint64_t ref_gen;
	uint32_t ref_plan; /* a frontend listing it in sync ref_gen, for errors */
	uint32_t free_next;
};

struct frontend {
	uint64_t key;
	uint32_t vip; /* network order */
	uint16_t port; /* network order */
	uint8_t proto;
	uint8_t scope;
	bool live;
	bool fresh; /* created by the sync being planned */
	bool has_slot0;
	bool rn_present;
	bool mg_present; /* may hold a table: delete it if unwanted */
	bool mg_known; /* ... built from mg_ids below */
	bool has_input;
	uint64_t seen_gen;
	/* What the maps hold for it. */
	struct berth_svc_val slot0;
	uint32_t *slots; /* slots[i]: backend id in slot i + 1, 0 = absent */
	uint32_t nslots; /* highest slot present */
	uint32_t slots_cap;
	uint32_t nkeys; /* its keys in the services map */
	uint32_t rev_nat_id; /* 0: none yet */
	struct berth_rev_nat rn;
	uint32_t *mg_ids; /* backend ids its maglev table holds, sorted */
	uint32_t mg_n;
	/* The last input it was synced from. */
	uint8_t in_flags;
	uint32_t in_timeout;
	struct in_be *in;
	uint32_t nin;
	uint32_t *res; /* backend index << 1 | terminating, sorted, unique */
	uint32_t nres;
	uint32_t free_next;
};

/* One desired frontend in the sync being planned. */
struct plan {
	uint32_t fe;
	bool changed; /* input differs from the last sync: in/res below */
	bool affected; /* its map entries must be recomputed */
	uint32_t count; /* active backends once synced */
	struct in_be *in;
	uint32_t *res;
	uint32_t nres;
};

struct u32vec {
	uint32_t *v;
	size_t n, cap;
};

struct berth_lbmap {
	struct berth_lbmap_maps maps;
	uint32_t m; /* maglev table size */
	bool mg_store; /* somewhere to keep maglev tables */
	bool mg_outer; /* ... and it is the hash-of-maps */

	struct frontend *fes;
	size_t nfes, fes_cap;
	uint32_t fe_free; /* index + 1 */
	struct backend *bes;
	size_t nbes, bes_cap;
	uint32_t be_free;

	struct berth_htab fe_by_key;
	struct berth_htab be_by_id;
	struct berth_htab be_by_addr;
	struct berth_htab rn_ids; /* rev_nat id -> frontend index or RN_ORPHAN */
	struct u32vec rn_orphans, mg_orphans;

	/* Keys each map holds, for the room check. */
	uint64_t svc_keys, be_keys, rn_keys, mg_keys;
	uint32_t next_be_id, next_rn_id;
	uint64_t gen, mark;
	/* The maps may differ from the mirror's view of the inputs: compare
	 * every frontend and backend on the next sync (open, failed write). */
	bool recheck;

	/* Per-sync scratch, kept to spare allocations. */
	struct plan *plan;
	size_t plan_cap;
	struct u32vec touched, removed;
	size_t nprov;
	struct in_be *tmp;
	size_t tmp_cap;
	uint32_t *ns, *ids;
	size_t ns_cap, ids_cap;
	struct berth_maglev_backend *mgb;
	size_t mgb_cap;
	uint32_t *table;
	struct berth_htab aff; /* rev_nat id << 32 | backend id (0: all) */
	struct berth_sync_stats st;
	char *err;
	size_t errlen;
};

/* Grow the array *pp (any pointer type) to hold need elements. */
static int grow(void *pp, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : 16;
	void *p, *q;

	if (need <= *cap)
		return 0;
	while (c < need)
		c *= 2;
	/* memcpy: pp points to a typed pointer, not a void * */
	memcpy(&p, pp, sizeof(p));
	q = realloc(p, c * size);
	if (!q)
		return -ENOMEM;
	memcpy(pp, &q, sizeof(q));
	*cap = c;
	return 0;
}

static int vec_push(struct u32vec *v, uint32_t x)
{
	if (grow(&v->v, &v->cap, v->n + 1, sizeof(*v->v)))
		return -ENOMEM;
	v->v[v->n++] = x;
	return 0;
}

static uint64_t fe_pack(uint32_t vip, uint16_t port, uint8_t proto,
			uint8_t scope)
{
	return (uint64_t)vip << 32 | (uint64_t)port << 16 |
	       (uint64_t)proto << 8 | scope;
}

static uint64_t addr_pack(uint32_t ip, uint16_t port, uint8_t proto)
{
	return fe_pack(ip, port, proto, 0);
}

static const char *errname(int err)
{
	const char *s = strerrorname_np(err < 0 ? -err : err);

	return s ? s : "E?";
}

static void fmt_addr(char *buf, size_t len, uint32_t ip, uint16_t port,
		     uint8_t proto)
{
	char a[INET_ADDRSTRLEN], p[8];
	const char *pn = p;

	inet_ntop(AF_INET, &ip, a, sizeof(a));
	if (proto == IPPROTO_TCP)
		pn = "TCP";
	else if (proto == IPPROTO_UDP)
		pn = "UDP";
	else if (proto == IPPROTO_SCTP)
		pn = "SCTP";
	else
		snprintf(p, sizeof(p), "%u", proto);
	snprintf(buf, len, "%s:%u/%s", a, ntohs(port), pn);
}

#define ADDR_LEN 48

static void fmt_fe(char *buf, const struct frontend *f)
{
	fmt_addr(buf, ADDR_LEN, f->vip, f->port, f->proto);
}

__attribute__((format(printf, 2, 3))) static void
set_err(struct berth_lbmap *lb, const char *fmt, ...)
{
	va_list ap;

	if (!lb->err || !lb->errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(lb->err, lb->errlen, fmt, ap);
	va_end(ap);
}

/* "update backends for 10.96.0.10:80/TCP: -EPERM" */
static int write_failed(struct berth_lbmap *lb, int err, const char *op,
			const struct berth_map *m, const char *what)
{
	set_err(lb, "%s %s for %s: -%s", op, m->name ? m->name : "?", what,
		errname(err));
	lb->recheck = true;
	return err;
}

static int put(struct berth_lbmap *lb, struct berth_map *m, const void *key,
	       const void *val)
{
	int err = m->update(m, key, val);

	if (!err)
		lb->st.writes++;
	return err;
}

/* A key already gone is what a delete wants. */
static int del(struct berth_lbmap *lb, struct berth_map *m, const void *key)
{
	/* (a variable: clang-format takes "->delete(" for C++) */
	int (*delete_elem)(struct berth_map *, const void *) = m->delete;
	int err = delete_elem(m, key);

	if (!err)
		lb->st.writes++;
	return err == -ENOENT ? 0 : err;
}

/* Next free id after the cursor: monotonic, so a freed id rests a while. */
static uint32_t alloc_id(const struct berth_htab *used, uint32_t *cursor)
{
	uint32_t id;

	for (;;) {
		id = *cursor;
		*cursor = id >= ID_MAX ? 1 : id + 1;
		if (id && id <= ID_MAX && !berth_htab_find(used, id))
			return id;
	}
}

static void bump_cursor(uint32_t *cursor, uint32_t id)
{
	if (id && id < ID_MAX && id >= *cursor)
		*cursor = id + 1;
}

/* Pools: records addressed by index, so the hash tables store indices. */

static int fe_new(struct berth_lbmap *lb, uint64_t key, uint32_t *out)
{
	struct frontend *f;
	uint32_t idx;
	int err;

	if (lb->fe_free) {
		idx = lb->fe_free - 1;
		lb->fe_free = lb->fes[idx].free_next;
	} else {
		err = grow(&lb->fes, &lb->fes_cap, lb->nfes + 1,
			   sizeof(*lb->fes));
		if (err)
			return err;
		idx = (uint32_t)lb->nfes++;
	}
	f = &lb->fes[idx];
	memset(f, 0, sizeof(*f));
	f->key = key;
	f->vip = (uint32_t)(key >> 32);
	f->port = (uint16_t)(key >> 16);
	f->proto = (uint8_t)(key >> 8);
	f->scope = (uint8_t)key;
	err = berth_htab_put(&lb->fe_by_key, key, idx);
	if (err) {
		f->free_next = lb->fe_free;
		lb->fe_free = idx + 1;
		return err;
	}
	f->live = true;
	*out = idx;
	return 0;
}

static void fe_release(struct berth_lbmap *lb, uint32_t idx)
{
	struct frontend *f = &lb->fes[idx];

	berth_htab_del(&lb->fe_by_key, f->key);
	free(f->slots);
	free(f->mg_ids);
	free(f->in);
	free(f->res);
	memset(f, 0, sizeof(*f));
	f->free_next = lb->fe_free;
	lb->fe_free = idx + 1;
}

static int be_new(struct berth_lbmap *lb, uint32_t ip, uint16_t port,
		  uint8_t proto, uint32_t *out)
{
	uint64_t addr = addr_pack(ip, port, proto);
	struct backend *b;
	uint32_t idx;
	int err;

	if (lb->be_free) {
		idx = lb->be_free - 1;
		lb->be_free = lb->bes[idx].free_next;
	} else {
		err = grow(&lb->bes, &lb->bes_cap, lb->nbes + 1,
			   sizeof(*lb->bes));
		if (err)
			return err;
		idx = (uint32_t)lb->nbes++;
	}
	b = &lb->bes[idx];
	memset(b, 0, sizeof(*b));
	b->ip = ip;
	b->port = port;
	b->proto = proto;
	/* Two ids for one address (a damaged map): the first one wins. */
	err = berth_htab_find(&lb->be_by_addr, addr) ?
		      0 :
		      berth_htab_put(&lb->be_by_addr, addr, idx);
	if (err) {
		b->free_next = lb->be_free;
		lb->be_free = idx + 1;
		return err;
	}
	b->live = true;
	*out = idx;
	return 0;
}

static void be_release(struct berth_lbmap *lb, uint32_t idx)
{
	struct backend *b = &lb->bes[idx];
	uint64_t addr = addr_pack(b->ip, b->port, b->proto);
	uint32_t *p;

	p = berth_htab_find(&lb->be_by_addr, addr);
	if (p && *p == idx)
		berth_htab_del(&lb->be_by_addr, addr);
	p = berth_htab_find(&lb->be_by_id, b->id);
	if (!b->provisional && p && *p == idx)
		berth_htab_del(&lb->be_by_id, b->id);
	memset(b, 0, sizeof(*b));
	b->free_next = lb->be_free;
	lb->be_free = idx + 1;
}

static struct backend *be_by_id(struct berth_lbmap *lb, uint32_t id)
{
	uint32_t *p = berth_htab_find(&lb->be_by_id, id);

	return p ? &lb->bes[*p] : NULL;
}

static int slots_reserve(struct frontend *f, uint32_t n)
{
	size_t cap = f->slots_cap;
	int err;

	if (n <= f->slots_cap)
		return 0;
	err = grow(&f->slots, &cap, n, sizeof(*f->slots));
	if (err)
		return err;
	memset(f->slots + f->slots_cap, 0,
	       (cap - f->slots_cap) * sizeof(*f->slots));
	f->slots_cap = (uint32_t)cap;
	return 0;
}

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/* Reading the maps (open) */

/*
 * Calls fn on every entry. A walk that restarts (a key vanished under it)
 * may repeat entries; the bound keeps a busy LRU map from holding it forever.
 */
static int map_walk(struct berth_lbmap *lb, struct berth_map *m,
		    int (*fn)(struct berth_lbmap *lb, const void *key,
			      const void *val))
{
	uint64_t left = m->max_entries ? 2ULL * m->max_entries + 16 : ~0ULL;
	void *key = malloc(m->key_size), *next = malloc(m->key_size);
	void *val = malloc(m->value_size);
	int err = -ENOMEM;

	if (!key || !next || !val)
		goto out;
	err = m->next_key(m, NULL, key);
	while (!err && left--) {
		err = m->lookup(m, key, val);
		if (!err)
			err = fn(lb, key, val);
		else if (err == -ENOENT)
			err = 0;
		if (err)
			break;
		err = m->next_key(m, key, next);
		memcpy(key, next, m->key_size);
	}
	if (err == -ENOENT)
		err = 0;
out:
	free(val);
	free(next);
	free(key);
	return err;
}

static int read_backend(struct berth_lbmap *lb, const void *key,
			const void *val)
{
	const struct berth_backend *v = val;
	uint32_t id, idx;
	struct backend *b;
	int err;

	memcpy(&id, key, sizeof(id));
	if (berth_htab_find(&lb->be_by_id, id))
		return 0; /* seen twice: the walk restarted */
	err = be_new(lb, v->ip, v->port, v->proto, &idx);
	if (err)
		return err;
	b = &lb->bes[idx];
	b->id = id;
	b->flags = v->flags;
	b->in_map = true;
	lb->be_keys++;
	bump_cursor(&lb->next_be_id, id);
	err = berth_htab_put(&lb->be_by_id, id, idx);
	if (err)
		be_release(lb, idx);
	return err;
}

static int read_service(struct berth_lbmap *lb, const void *key,
			const void *val)
{
	const struct berth_svc_key *k = key;
	const struct berth_svc_val *v = val;
	uint64_t fk = fe_pack(k->vip, k->dport, k->proto, k->scope);
	uint32_t *p = berth_htab_find(&lb->fe_by_key, fk), idx;
	struct frontend *f;
	int err;

	if (p) {
		idx = *p;
	} else {
		err = fe_new(lb, fk, &idx);
		if (err)
			return err;
	}
	f = &lb->fes[idx];
	if (!k->slot) {
		if (f->has_slot0)
			return 0;
		f->has_slot0 = true;
		f->slot0 = *v;
	} else {
		err = slots_reserve(f, k->slot);
		if (err)
			return err;
		if (f->slots[k->slot - 1])
			return 0;
		f->slots[k->slot - 1] = v->backend_id ? v->backend_id : BAD_ID;
		if (k->slot > f->nslots)
			f->nslots = k->slot;
	}
	f->nkeys++;
	lb->svc_keys++;
	return 0;
}

static int read_rev_nat(struct berth_lbmap *lb, const void *key,
			const void *val)
{
	uint32_t id, *owner;
	struct frontend *f;
	int err;

	memcpy(&id, key, sizeof(id));
	owner = berth_htab_find(&lb->rn_ids, id);
	if (owner && *owner == RN_ORPHAN)
		return 0; /* seen twice */
	if (owner) {
		f = &lb->fes[*owner];
		if (f->rn_present)
			return 0;
		f->rn_present = true;
		memcpy(&f->rn, val, sizeof(f->rn));
	} else {
		err = berth_htab_put(&lb->rn_ids, id, RN_ORPHAN);
		if (!err)
			err = vec_push(&lb->rn_orphans, id);
		if (err)
			return err;
	}
	lb->rn_keys++;
	bump_cursor(&lb->next_rn_id, id);
	return 0;
}

static int set_mg_ids(struct frontend *f, const uint32_t *ids, uint32_t n)
{
	uint32_t *p = NULL;

	if (n) {
		p = malloc(n * sizeof(*p));
		if (!p)
			return -ENOMEM;
		memcpy(p, ids, n * sizeof(*p));
	}
	free(f->mg_ids);
	f->mg_ids = p;
	f->mg_n = n;
	return 0;
}

/* The distinct ids of a table, sorted: the backend set it was built from. */
static uint32_t table_ids(uint32_t *t, uint32_t m)
{
	uint32_t i, n = 0;

	qsort(t, m, sizeof(*t), cmp_u32);
	for (i = 0; i < m; i++) {
		if (t[i] && (!n || t[i] != t[n - 1]))
			t[n++] = t[i];
	}
	return n;
}

static int read_maglev(struct berth_lbmap *lb, const void *key, const void *val)
{
	uint32_t id, inner_id, *owner, n, zero = 0;
	struct frontend *f;
	int fd, err;

	memcpy(&id, key, sizeof(id));
	memcpy(&inner_id, val, sizeof(inner_id));
	owner = berth_htab_find(&lb->rn_ids, id);
	lb->mg_keys++;
	if (!owner || *owner == RN_ORPHAN)
		return vec_push(&lb->mg_orphans, id);
	f = &lb->fes[*owner];
	f->mg_present = true;
	/* Unreadable table: unknown, so it is rewritten. */
	fd = bpf_map_get_fd_by_id(inner_id);
	if (fd < 0)
		return 0;
	err = bpf_map_lookup_elem(fd, &zero, lb->table) ? -errno : 0;
	close(fd);
	if (err)
		return 0;
	n = table_ids(lb->table, lb->m);
	f->mg_known = true;
	return set_mg_ids(f, lb->table, n);
}

/*
 * Tables kept by hooks cannot be listed or read back; sync_frontend's order
 * says what they are. A table is written after rev_nat and before the
 * slots, so a maglev frontend's slots 1..count name the backends of its
 * table, and any table lives under an id the rev_nat map holds: a frontend
 * without the flag, or an unowned id, may have one, to be deleted.
 */
static int assume_maglev(struct berth_lbmap *lb)
{
	uint32_t i, s, n, c;
	struct frontend *f;
	int err;

	for (i = 0; i < lb->rn_orphans.n; i++) {
		err = vec_push(&lb->mg_orphans, lb->rn_orphans.v[i]);
		if (err)
			return err;
	}
	for (i = 0; i < lb->nfes; i++) {
		f = &lb->fes[i];
		if (!f->live || !f->rev_nat_id)
			continue;
		f->mg_present = true;
		if (!(f->slot0.flags & BERTH_SVC_F_MAGLEV))
			continue;
		c = f->slot0.count < f->nslots ? f->slot0.count : f->nslots;
		err = grow(&lb->ids, &lb->ids_cap, c + 1, sizeof(*lb->ids));
		if (err)
			return err;
		for (s = 0, n = 0; s < c; s++) {
			if (f->slots[s] && f->slots[s] != BAD_ID)
				lb->ids[n++] = f->slots[s];
		}
		qsort(lb->ids, n, sizeof(*lb->ids), cmp_u32);
		err = set_mg_ids(f, lb->ids, n);
		if (err)
			return err;
		f->mg_known = true;
	}
	return 0;
}

/* Give each frontend the rev_nat id its slot 0 names, unless taken. */
static int own_rev_nat_ids(struct berth_lbmap *lb)
{
	struct frontend *f;
	uint32_t i, id;
	int err;

	for (i = 0; i < lb->nfes; i++) {
		f = &lb->fes[i];
		id = f->slot0.rev_nat_id;
		if (!f->live || !f->has_slot0 || !id || id > ID_MAX ||
		    berth_htab_find(&lb->rn_ids, id))
			continue;
		err = berth_htab_put(&lb->rn_ids, id, i);
		if (err)
			return err;
		f->rev_nat_id = id;
		bump_cursor(&lb->next_rn_id, id);
	}
	return 0;
}

static int check_map(const struct berth_map *m, const char *what,
		     uint32_t key_size, uint32_t value_size)
{
	if (!m)
		return 0;
	if (m->key_size == key_size && m->value_size == value_size &&
	    m->lookup && m->update && m->next_key && m->delete)
		return 0;
	pr_warn("lbmap: %s map %s: key %u value %u bytes, want %u and %u", what,
		m->name ? m->name : "?", m->key_size, m->value_size, key_size,
		value_size);
	return -EINVAL;
}

static int check_maps(const struct berth_lbmap_maps *maps)
{
	int err;

	if (!maps || !maps->services || !maps->backends || !maps->rev_nat)
		return -EINVAL;
	err = check_map(maps->services, "services",
			sizeof(struct berth_svc_key),
			sizeof(struct berth_svc_val));
	if (!err)
		err = check_map(maps->backends, "backends", sizeof(uint32_t),
				sizeof(struct berth_backend));
	if (!err)
		err = check_map(maps->rev_nat, "rev_nat", sizeof(uint32_t),
				sizeof(struct berth_rev_nat));
	if (!err)
		err = check_map(maps->affinity, "affinity",
				sizeof(struct berth_affinity_key),
				sizeof(struct berth_affinity_val));
	if (!err && !maps->maglev_set && maps->maglev)
		err = check_map(maps->maglev, "maglev", sizeof(uint32_t),
				sizeof(uint32_t));
	return err;
}

int berth_lbmap_open(struct berth_lbmap **out,
		     const struct berth_lbmap_maps *maps)
{
	struct berth_lbmap *lb;
	int err;

	*out = NULL;
	err = check_maps(maps);
	if (err)
		return err;
	lb = calloc(1, sizeof(*lb));
	if (!lb)
		return -ENOMEM;
	lb->maps = *maps;
	lb->m = maps->maglev_m ? maps->maglev_m : BERTH_MAGLEV_M;
	lb->mg_store = maps->maglev_set || maps->maglev;
	lb->mg_outer = !maps->maglev_set && maps->maglev;
	lb->next_be_id = 1;
	lb->next_rn_id = 1;
	lb->recheck = true;
	err = -EINVAL;
	/* The inner arrays are created with the ABI's table size. */
	if (lb->mg_outer && lb->m != BERTH_MAGLEV_M)
		goto fail;
	err = -ENOMEM;
	lb->table = malloc((size_t)lb->m * sizeof(*lb->table));
	if (!lb->table)
		goto fail;

	err = map_walk(lb, maps->backends, read_backend);
	if (!err)
		err = map_walk(lb, maps->services, read_service);
	if (!err)
		err = own_rev_nat_ids(lb);
	if (!err)
		err = map_walk(lb, maps->rev_nat, read_rev_nat);
	if (!err && lb->mg_outer)
		err = map_walk(lb, maps->maglev, read_maglev);
	else if (!err && maps->maglev_set)
		err = assume_maglev(lb);
	if (err)
		goto fail;
	pr_debug(
		"lbmap: maps hold %zu frontend keys, %zu backends, %zu rev_nat",
		(size_t)lb->svc_keys, (size_t)lb->be_keys, (size_t)lb->rn_keys);
	*out = lb;
	return 0;
fail:
	pr_warn("lbmap: read maps: -%s", errname(err));
	berth_lbmap_free(lb);
	return err;
}

void berth_lbmap_free(struct berth_lbmap *lb)
{
	size_t i;

	if (!lb)
		return;
	for (i = 0; i < lb->nfes; i++) {
		free(lb->fes[i].slots);
		free(lb->fes[i].mg_ids);
		free(lb->fes[i].in);
		free(lb->fes[i].res);
	}
	free(lb->fes);
	free(lb->bes);
	berth_htab_free(&lb->fe_by_key);
	berth_htab_free(&lb->be_by_id);
	berth_htab_free(&lb->be_by_addr);
	berth_htab_free(&lb->rn_ids);
	berth_htab_free(&lb->aff);
	free(lb->rn_orphans.v);
	free(lb->mg_orphans.v);
	free(lb->plan);
	free(lb->touched.v);
	free(lb->removed.v);
	free(lb->tmp);
	free(lb->ns);
	free(lb->ids);
	free(lb->mgb);
	free(lb->table);
	free(lb);
}

/* Planning: what the sync will do, checked before anything is written. */

static bool same_input(const struct frontend *f,
		       const struct berth_frontend *in)
{
	size_t i;

	if (!f->has_input || f->in_flags != in->flags ||
	    f->in_timeout != in->affinity_timeout || f->nin != in->nbackends)
		return false;
	for (i = 0; i < in->nbackends; i++) {
		if (f->in[i].ip != in->backends[i].ip ||
		    f->in[i].port != in->backends[i].port ||
		    f->in[i].term != in->backends[i].terminating)
			return false;
	}
	return true;
}

static int cmp_in_be(const void *a, const void *b)
{
	const struct in_be *x = a, *y = b;
	uint32_t xi = ntohl(x->ip), yi = ntohl(y->ip);
	uint16_t xp = ntohs(x->port), yp = ntohs(y->port);

	if (xi != yi)
		return xi < yi ? -1 : 1;
	return xp < yp ? -1 : xp > yp;
}

/* The frontend's backends sorted by address, once each, as pool indices. */
static int resolve(struct berth_lbmap *lb, struct plan *p,
		   const struct berth_frontend *in)
{
	size_t n = in->nbackends, i, u = 0;
	struct in_be *t;
	uint32_t *bi;
	bool sorted = true;
	int err;

	if (!n)
		return 0;
	p->in = malloc(n * sizeof(*p->in));
	p->res = malloc(n * sizeof(*p->res));
	err = grow(&lb->tmp, &lb->tmp_cap, n, sizeof(*lb->tmp));
	if (!p->in || !p->res || err)
		return -ENOMEM;
	t = lb->tmp;
	for (i = 0; i < n; i++) {
		p->in[i] =
			(struct in_be){ .ip = in->backends[i].ip,
					.port = in->backends[i].port,
					.term = in->backends[i].terminating };
		t[i] = p->in[i];
		if (i && sorted && cmp_in_be(&t[i - 1], &t[i]) > 0)
			sorted = false;
	}
	if (!sorted)
		qsort(t, n, sizeof(*t), cmp_in_be);
	for (i = 0; i < n; i++) {
		/* Listed twice: once, terminating if either says so. */
		if (u && !cmp_in_be(&t[u - 1], &t[i])) {
			t[u - 1].term |= t[i].term;
			continue;
		}
		t[u++] = t[i];
	}
	for (i = 0; i < u; i++) {
		uint32_t idx;

		bi = berth_htab_find(&lb->be_by_addr,
				     addr_pack(t[i].ip, t[i].port, in->proto));
		if (bi) {
			idx = *bi;
		} else {
			err = be_new(lb, t[i].ip, t[i].port, in->proto, &idx);
			if (err)
				return err;
			lb->bes[idx].provisional = true;
			lb->nprov++;
		}
		p->res[i] = idx << 1 | t[i].term;
	}
	p->nres = (uint32_t)u;
	return 0;
}

static int plan_frontend(struct berth_lbmap *lb, uint32_t i,
			 const struct berth_frontend *in)
{
	uint64_t key = fe_pack(in->vip, in->port, in->proto, 0);
	uint32_t *p = berth_htab_find(&lb->fe_by_key, key), idx;
	struct plan *pl = &lb->plan[i];
	char what[ADDR_LEN];
	struct frontend *f;
	int err;

	if (p) {
		idx = *p;
	} else {
		err = fe_new(lb, key, &idx);
		if (err)
			return err;
		lb->fes[idx].fresh = true;
	}
	f = &lb->fes[idx];
	pl->fe = idx;
	if (f->seen_gen == lb->gen) {
		fmt_fe(what, f);
		set_err(lb, "duplicate frontend %s", what);
		return -EINVAL;
	}
	f->seen_gen = lb->gen;
	if (in->nbackends > UINT16_MAX) {
		fmt_fe(what, f);
		set_err(lb, "frontend %s: %zu backends, at most %u", what,
			in->nbackends, UINT16_MAX);
		return -EINVAL;
	}
	if (in->nbackends && !in->backends)
		return -EINVAL;
	pl->changed = !same_input(f, in);
	if (!pl->changed)
		return 0;
	return resolve(lb, pl, in);
}

/* Undo a plan that will not be carried out; the maps were not touched. */
static void plan_abort(struct berth_lbmap *lb, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(lb->plan[i].in);
		free(lb->plan[i].res);
	}
	for (i = 0; i < lb->nfes; i++) {
		if (lb->fes[i].live && lb->fes[i].fresh)
			fe_release(lb, (uint32_t)i);
	}
	for (i = 0; i < lb->nbes; i++) {
		if (lb->bes[i].live && lb->bes[i].provisional)
			be_release(lb, (uint32_t)i);
	}
	lb->nprov = 0;
}

static void touch(struct berth_lbmap *lb, uint32_t idx)
{
	struct backend *b = &lb->bes[idx];

	if (b->touch_gen == lb->gen)
		return;
	b->touch_gen = lb->gen;
	b->nrefs = b->refs;
	b->nvotes = b->votes;
	/* Room for every backend was reserved: this cannot fail. */
	lb->touched.v[lb->touched.n++] = idx;
}

static void contribute(struct berth_lbmap *lb, const uint32_t *res, uint32_t n,
		       int sign, uint32_t plan_idx)
{
	struct backend *b;
	uint32_t i;

	for (i = 0; i < n; i++) {
		touch(lb, res[i] >> 1);
		b = &lb->bes[res[i] >> 1];
		b->nrefs += sign;
		b->nvotes += sign * (int)(res[i] & 1);
		if (sign > 0 && b->ref_gen != lb->gen) {
			b->ref_gen = lb->gen;
			b->ref_plan = plan_idx;
		}
	}
}

static uint8_t want_flags(uint32_t refs, uint32_t votes)
{
	return !refs || votes ? TERM : 0;
}

static bool active_planned(const struct berth_lbmap *lb,
			   const struct backend *b)
{
	if (b->touch_gen == lb->gen)
		return !want_flags(b->nrefs, b->nvotes);
	return !want_flags(b->refs, b->votes);
}

/* Changes in backend refs and votes; which backends change flags. */
static int plan_backends(struct berth_lbmap *lb, size_t n)
{
	struct frontend *f;
	struct backend *b;
	size_t i, nchg = 0;
	uint32_t j;

	lb->touched.n = 0;
	if (grow(&lb->touched.v, &lb->touched.cap, lb->nbes + 1,
		 sizeof(*lb->touched.v)))
		return -ENOMEM;
	for (i = 0; i < n; i++) {
		struct plan *p = &lb->plan[i];

		if (!p->changed)
			continue;
		f = &lb->fes[p->fe];
		contribute(lb, f->res, f->nres, -1, NO_INDEX);
		contribute(lb, p->res, p->nres, 1, (uint32_t)i);
	}
	for (i = 0; i < lb->removed.n; i++) {
		f = &lb->fes[lb->removed.v[i]];
		contribute(lb, f->res, f->nres, -1, NO_INDEX);
	}
	if (lb->recheck) {
		for (j = 0; j < lb->nbes; j++) {
			if (lb->bes[j].live)
				touch(lb, j);
		}
	}
	for (i = 0; i < lb->touched.n; i++) {
		b = &lb->bes[lb->touched.v[i]];
		if (b->in_map && want_flags(b->nrefs, b->nvotes) == b->flags)
			continue;
		b->chg_gen = lb->gen;
		if (!b->provisional)
			nchg++;
	}

	/* A frontend is recomputed if its input or a backend's flags moved. */
	for (i = 0; i < n; i++) {
		struct plan *p = &lb->plan[i];

		p->affected = p->changed || lb->recheck;
		if (p->affected || !nchg)
			continue;
		f = &lb->fes[p->fe];
		for (j = 0; j < f->nres && !p->affected; j++)
			p->affected = lb->bes[f->res[j] >> 1].chg_gen ==
				      lb->gen;
	}
	return 0;
}

static int check_room(struct berth_lbmap *lb, const struct berth_map *m,
		      uint64_t count, uint64_t need, uint64_t freed)
{
	uint64_t after, room;

	if (!m->max_entries || !need)
		return 0;
	after = count > freed ? count - freed : 0;
	room = after < m->max_entries ? m->max_entries - after : 0;
	if (need <= room)
		return 0;
	set_err(lb, "%s map full: need %llu more entries, %llu free of %u",
		m->name ? m->name : "?", (unsigned long long)need,
		(unsigned long long)room, m->max_entries);
	return -E2BIG;
}

/* Count the keys the sync adds to each map; fail if one would overflow. */
static int plan_room(struct berth_lbmap *lb, const struct berth_frontend *fe,
		     size_t n)
{
	uint64_t need_svc = 0, need_rn = 0, need_mg = 0, free_svc = 0;
	uint64_t free_rn = lb->rn_orphans.n, free_mg = lb->mg_orphans.n;
	const struct frontend *f;
	const uint32_t *res;
	uint32_t j, c, nres;
	size_t i;
	int err;

	for (i = 0; i < n; i++) {
		struct plan *p = &lb->plan[i];

		if (!p->affected)
			continue;
		f = &lb->fes[p->fe];
		res = p->changed ? p->res : f->res;
		nres = p->changed ? p->nres : f->nres;
		for (j = 0, c = 0; j < nres; j++)
			c += active_planned(lb, &lb->bes[res[j] >> 1]);
		p->count = c;
		need_svc += !f->has_slot0;
		for (j = 1; j <= c; j++)
			need_svc += j > f->nslots || !f->slots[j - 1];
		need_rn += !f->rn_present;
		need_mg += lb->mg_outer && !f->mg_present &&
			   (fe[i].flags & BERTH_SVC_F_MAGLEV);
	}
	for (i = 0; i < lb->removed.n; i++) {
		f = &lb->fes[lb->removed.v[i]];
		free_svc += f->nkeys;
		free_rn += f->rn_present;
		free_mg += f->mg_present;
	}
	err = check_room(lb, lb->maps.services, lb->svc_keys, need_svc,
			 free_svc);
	if (!err)
		err = check_room(lb, lb->maps.backends, lb->be_keys, lb->nprov,
				 0);
	if (!err)
		err = check_room(lb, lb->maps.rev_nat, lb->rn_keys, need_rn,
				 free_rn);
	if (!err && lb->mg_outer)
		err = check_room(lb, lb->maps.maglev, lb->mg_keys, need_mg,
				 free_mg);
	return err;
}

/*
 * Adopt the plan: new refs and inputs, ids for new backends and frontends.
 * Nothing here can fail (room was reserved), so the mirror never holds half
 * a plan.
 */
static void plan_commit(struct berth_lbmap *lb, const struct berth_frontend *fe,
			size_t n)
{
	struct frontend *f;
	struct backend *b;
	size_t i;

	for (i = 0; i < lb->touched.n; i++) {
		b = &lb->bes[lb->touched.v[i]];
		b->refs = b->nrefs;
		b->votes = b->nvotes;
		if (b->refs) {
			b->orphan = false;
		} else if (!b->orphan) {
			b->orphan = true;
			b->orphan_gen = lb->gen;
			lb->st.backends_orphaned++;
		}
	}
	for (i = 0; lb->nprov && i < lb->nbes; i++) {
		b = &lb->bes[i];
		if (!b->live || !b->provisional)
			continue;
		b->provisional = false;
		b->id = alloc_id(&lb->be_by_id, &lb->next_be_id);
		berth_htab_put(&lb->be_by_id, b->id, (uint32_t)i);
	}
	lb->nprov = 0;
	for (i = 0; i < n; i++) {
		struct plan *p = &lb->plan[i];

		f = &lb->fes[p->fe];
		f->fresh = false;
		if (p->changed) {
			free(f->in);
			free(f->res);
			f->in = p->in;
			f->res = p->res;
			f->nin = (uint32_t)fe[i].nbackends;
			f->nres = p->nres;
			f->in_flags = fe[i].flags;
			f->in_timeout = fe[i].affinity_timeout;
			f->has_input = true;
			p->in = NULL;
			p->res = NULL;
		}
		if (p->affected && !f->rev_nat_id) {
			f->rev_nat_id = alloc_id(&lb->rn_ids, &lb->next_rn_id);
			berth_htab_put(&lb->rn_ids, f->rev_nat_id, p->fe);
		}
	}
	/* Removed frontends list nothing any more, whatever the writes do. */
	for (i = 0; i < lb->removed.n; i++) {
		f = &lb->fes[lb->removed.v[i]];
		free(f->in);
		free(f->res);
		f->in = NULL;
		f->res = NULL;
		f->nin = f->nres = 0;
		f->has_input = false;
	}
}

static int plan_sync(struct berth_lbmap *lb, const struct berth_frontend *fe,
		     size_t n)
{
	size_t i, nfresh = 0;
	int err;

	err = grow(&lb->plan, &lb->plan_cap, n, sizeof(*lb->plan));
	if (err)
		return err;
	if (n)
		memset(lb->plan, 0, n * sizeof(*lb->plan));
	lb->nprov = 0;
	for (i = 0; i < n; i++) {
		err = plan_frontend(lb, (uint32_t)i, &fe[i]);
		if (err)
			goto abort;
		nfresh += !lb->fes[lb->plan[i].fe].rev_nat_id;
	}
	lb->removed.n = 0;
	err = grow(&lb->removed.v, &lb->removed.cap, lb->nfes + 1,
		   sizeof(*lb->removed.v));
	if (err)
		goto abort;
	for (i = 0; i < lb->nfes; i++) {
		if (lb->fes[i].live && lb->fes[i].seen_gen != lb->gen)
			lb->removed.v[lb->removed.n++] = (uint32_t)i;
	}
	err = plan_backends(lb, n);
	if (!err)
		err = plan_room(lb, fe, n);
	/* Room for the ids commit hands out, so it cannot fail. */
	if (!err)
		err = berth_htab_reserve(&lb->be_by_id,
					 lb->be_by_id.count + lb->nprov);
	if (!err)
		err = berth_htab_reserve(&lb->rn_ids,
					 lb->rn_ids.count + nfresh);
	if (err)
		goto abort;
	plan_commit(lb, fe, n);
	return 0;
abort:
	plan_abort(lb, n);
	return err;
}

/* Writing */

static int maglev_set(struct berth_lbmap *lb, uint32_t rev_nat_id)
{
	uint32_t zero = 0, fdv;
	int fd, err;

	if (lb->maps.maglev_set) {
		err = lb->maps.maglev_set(lb->maps.maglev_ctx, rev_nat_id,
					  lb->table);
		if (!err)
			lb->st.writes++;
		return err;
	}
	/* An inner array per table: swapping it in is atomic for readers. */
	fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "berth_maglev",
			    sizeof(uint32_t), sizeof(struct berth_maglev_table),
			    1, NULL);
	if (fd < 0)
		return -errno;
	err = bpf_map_update_elem(fd, &zero, lb->table, BPF_ANY) ? -errno : 0;
	fdv = (uint32_t)fd;
	if (!err)
		err = put(lb, lb->maps.maglev, &rev_nat_id, &fdv);
	close(fd);
	return err;
}

static int maglev_del(struct berth_lbmap *lb, uint32_t rev_nat_id)
{
	int err;

	if (lb->maps.maglev_del) {
		err = lb->maps.maglev_del(lb->maps.maglev_ctx, rev_nat_id);
		if (!err)
			lb->st.writes++;
		return err == -ENOENT ? 0 : err;
	}
	if (!lb->maps.maglev)
		return 0;
	err = del(lb, lb->maps.maglev, &rev_nat_id);
	if (!err)
		lb->mg_keys--;
	return err;
}

static struct berth_map *maglev_map_for_errors(struct berth_lbmap *lb)
{
	static struct berth_map hook = { .name = BERTH_MAP_MAGLEV };

	return lb->maps.maglev ? lb->maps.maglev : &hook;
}

static int aff_add(struct berth_lbmap *lb, uint32_t rev_nat_id,
		   uint32_t backend_id)
{
	if (!lb->maps.affinity)
		return 0;
	return berth_htab_put(&lb->aff, (uint64_t)rev_nat_id << 32 | backend_id,
			      1);
}

static void svc_key(const struct frontend *f, uint16_t slot,
		    struct berth_svc_key *k)
{
	memset(k, 0, sizeof(*k));
	k->vip = f->vip;
	k->dport = f->port;
	k->proto = f->proto;
	k->scope = f->scope;
	k->slot = slot;
}

static int write_rev_nat(struct berth_lbmap *lb, struct frontend *f,
			 const char *what)
{
	struct berth_rev_nat rn = { .vip = f->vip, .port = f->port };
	int err;

	if (f->rn_present && !memcmp(&f->rn, &rn, sizeof(rn)))
		return 0;
	err = put(lb, lb->maps.rev_nat, &f->rev_nat_id, &rn);
	if (err)
		return write_failed(lb, err, "update", lb->maps.rev_nat, what);
	if (!f->rn_present)
		lb->rn_keys++;
	f->rn_present = true;
	f->rn = rn;
	return 0;
}

/* Slots 1..c that differ from ns. */
static int write_slots(struct berth_lbmap *lb, struct frontend *f,
		       const uint32_t *ns, uint32_t c, const char *what)
{
	struct berth_map *svc = lb->maps.services;
	struct berth_svc_val v = { 0 };
	struct berth_svc_key k;
	uint32_t s;
	int err;

	for (s = 1; s <= c; s++) {
		if (s <= f->nslots && f->slots[s - 1] == ns[s])
			continue;
		svc_key(f, (uint16_t)s, &k);
		v.backend_id = ns[s];
		err = put(lb, svc, &k, &v);
		if (err)
			return write_failed(lb, err, "update", svc, what);
		if (s > f->nslots || !f->slots[s - 1]) {
			f->nkeys++;
			lb->svc_keys++;
		}
		f->slots[s - 1] = ns[s];
		if (s > f->nslots)
			f->nslots = s;
	}
	return 0;
}

static int write_slot0(struct berth_lbmap *lb, struct frontend *f,
		       const struct berth_frontend *in, uint32_t c,
		       const char *what)
{
	struct berth_svc_val v0 = { .rev_nat_id = f->rev_nat_id,
				    .affinity_timeout = in->affinity_timeout,
				    .count = (uint16_t)c,
				    .flags = in->flags };
	struct berth_svc_key k;
	int err;

	if (f->has_slot0 && !memcmp(&f->slot0, &v0, sizeof(v0)))
		return 0;
	svc_key(f, 0, &k);
	err = put(lb, lb->maps.services, &k, &v0);
	if (err)
		return write_failed(lb, err, "update", lb->maps.services, what);
	if (!f->has_slot0) {
		f->nkeys++;
		lb->svc_keys++;
	}
	f->has_slot0 = true;
	f->slot0 = v0;
	return 0;
}

/* Delete the slots past c, last first; c = 0 and slot 0 gone: all of them. */
static int trim_slots(struct berth_lbmap *lb, struct frontend *f, uint32_t c,
		      const char *what)
{
	struct berth_map *svc = lb->maps.services;
	struct berth_svc_key k;
	uint32_t s;
	int err;

	for (s = f->nslots; s > c; s--) {
		if (!f->slots[s - 1])
			continue;
		svc_key(f, (uint16_t)s, &k);
		err = del(lb, svc, &k);
		if (err)
			return write_failed(lb, err, "delete", svc, what);
		f->slots[s - 1] = 0;
		f->nslots = s - 1;
		f->nkeys--;
		lb->svc_keys--;
	}
	if (f->nslots > c)
		f->nslots = c;
	return 0;
}

static int drop_maglev(struct berth_lbmap *lb, struct frontend *f,
		       const char *what)
{
	int err;

	if (!f->mg_present)
		return 0;
	err = maglev_del(lb, f->rev_nat_id);
	if (err)
		return write_failed(lb, err, "delete",
				    maglev_map_for_errors(lb), what);
	f->mg_present = false;
	f->mg_known = false;
	return set_mg_ids(f, NULL, 0);
}

static int remove_frontend(struct berth_lbmap *lb, uint32_t idx)
{
	struct frontend *f = &lb->fes[idx];
	bool aff = f->has_slot0 && (f->slot0.flags & BERTH_SVC_F_AFFINITY);
	struct berth_svc_key k;
	char what[ADDR_LEN];
	int err;

	fmt_fe(what, f);
	/* Slot 0 first: from then on no packet picks a slot of it. */
	if (f->has_slot0) {
		svc_key(f, 0, &k);
		err = del(lb, lb->maps.services, &k);
		if (err)
			return write_failed(lb, err, "delete",
					    lb->maps.services, what);
		f->has_slot0 = false;
		f->nkeys--;
		lb->svc_keys--;
	}
	err = trim_slots(lb, f, 0, what);
	/* The table before rev_nat: tables only live under its ids. */
	if (!err)
		err = drop_maglev(lb, f, what);
	if (err)
		return err;
	if (f->rn_present) {
		err = del(lb, lb->maps.rev_nat, &f->rev_nat_id);
		if (err)
			return write_failed(lb, err, "delete", lb->maps.rev_nat,
					    what);
		f->rn_present = false;
		lb->rn_keys--;
	}
	if (f->rev_nat_id) {
		if (aff && aff_add(lb, f->rev_nat_id, 0))
			return -ENOMEM;
		berth_htab_del(&lb->rn_ids, f->rev_nat_id);
	}
	fe_release(lb, idx);
	lb->st.frontends_removed++;
	return 0;
}

/* Entries no frontend owns, found by open: tables first, as above. */
static int remove_orphans(struct berth_lbmap *lb)
{
	uint32_t id, *owner;
	char what[32];
	int err;

	while (lb->mg_orphans.n) {
		id = lb->mg_orphans.v[lb->mg_orphans.n - 1];
		err = maglev_del(lb, id);
		if (err) {
			snprintf(what, sizeof(what), "stale id %u", id);
			return write_failed(lb, err, "delete",
					    maglev_map_for_errors(lb), what);
		}
		lb->mg_orphans.n--;
	}
	while (lb->rn_orphans.n) {
		id = lb->rn_orphans.v[lb->rn_orphans.n - 1];
		owner = berth_htab_find(&lb->rn_ids, id);
		if (owner && *owner == RN_ORPHAN) {
			err = del(lb, lb->maps.rev_nat, &id);
			if (err) {
				snprintf(what, sizeof(what), "stale id %u", id);
				return write_failed(lb, err, "delete",
						    lb->maps.rev_nat, what);
			}
			lb->rn_keys--;
			berth_htab_del(&lb->rn_ids, id);
		}
		lb->rn_orphans.n--;
	}
	return 0;
}

static int write_backend(struct berth_lbmap *lb, struct backend *b,
			 uint8_t flags)
{
	struct berth_map *m = lb->maps.backends;
	struct berth_backend v = {
		.ip = b->ip, .port = b->port, .proto = b->proto, .flags = flags
	};
	char what[ADDR_LEN + 32], a[ADDR_LEN];
	int err;

	err = put(lb, m, &b->id, &v);
	if (err) {
		if (b->ref_gen == lb->gen && b->ref_plan != NO_INDEX) {
			fmt_fe(what, &lb->fes[lb->plan[b->ref_plan].fe]);
		} else {
			fmt_addr(a, sizeof(a), b->ip, b->port, b->proto);
			snprintf(what, sizeof(what), "backend %s (id %u)", a,
				 b->id);
		}
		return write_failed(lb, err, "update", m, what);
	}
	if (!b->in_map) {
		b->in_map = true;
		lb->be_keys++;
		lb->st.backends_added++;
	}
	b->flags = flags;
	return 0;
}

/*
 * Backends whose flags change. Before the slots: new ones and those that
 * become active, so no slot names a backend missing or still terminating.
 * After: those that become terminating, once no slot names them.
 */
static int write_backends(struct berth_lbmap *lb, bool after_slots)
{
	struct backend *b;
	uint8_t want;
	size_t i;
	int err;

	for (i = 0; i < lb->touched.n; i++) {
		b = &lb->bes[lb->touched.v[i]];
		if (!b->live)
			continue;
		want = want_flags(b->refs, b->votes);
		if (b->in_map ? want == b->flags : !b->refs)
			continue;
		if (!after_slots && b->in_map && (want & TERM) &&
		    !(b->flags & TERM))
			continue;
		err = write_backend(lb, b, want);
		if (err)
			return err;
	}
	return 0;
}

/*
 * New slot contents: a backend keeps its slot, the holes are filled first
 * with backends from slots past the new count, then with new backends in
 * address order. Adding or removing one backend rewrites one slot.
 * Leaves in lb->mark the value marking the backends now in slots.
 */
static void place_slots(struct berth_lbmap *lb, const struct frontend *f,
			uint32_t c, uint32_t *ns)
{
	uint64_t want = lb->mark + 1, placed = lb->mark + 2;
	uint32_t s, j, hole = 1;
	struct backend *b;

	lb->mark += 2;
	for (j = 0; j < f->nres; j++) {
		b = &lb->bes[f->res[j] >> 1];
		if (!want_flags(b->refs, b->votes))
			b->mark = want;
	}
	memset(ns, 0, (c + 1) * sizeof(*ns));
	for (s = 1; s <= f->nslots; s++) {
		b = f->slots[s - 1] ? be_by_id(lb, f->slots[s - 1]) : NULL;
		if (!b || b->mark != want)
			continue;
		if (s > c) {
			while (hole <= c && ns[hole])
				hole++;
			if (hole > c)
				continue;
			ns[hole] = b->id;
		} else {
			ns[s] = b->id;
		}
		b->mark = placed;
	}
	for (j = 0; j < f->nres; j++) {
		b = &lb->bes[f->res[j] >> 1];
		if (b->mark != want)
			continue;
		while (hole <= c && ns[hole])
			hole++;
		if (hole > c)
			break;
		ns[hole] = b->id;
		b->mark = placed;
	}
}

static int sync_maglev(struct berth_lbmap *lb, struct frontend *f,
		       const uint32_t *ns, uint32_t c, const char *what)
{
	struct backend *b;
	uint32_t j, n = 0;
	int err;

	if (!lb->mg_store)
		return 0;
	if (grow(&lb->ids, &lb->ids_cap, c + 1, sizeof(*lb->ids)))
		return -ENOMEM;
	memcpy(lb->ids, ns + 1, c * sizeof(*ns));
	qsort(lb->ids, c, sizeof(*lb->ids), cmp_u32);
	if (f->mg_known && f->mg_n == c &&
	    (!c || !memcmp(f->mg_ids, lb->ids, c * sizeof(*lb->ids))))
		return 0;
	if (grow(&lb->mgb, &lb->mgb_cap, c + 1, sizeof(*lb->mgb)))
		return -ENOMEM;
	for (j = 0; j < f->nres; j++) {
		b = &lb->bes[f->res[j] >> 1];
		if (want_flags(b->refs, b->votes))
			continue;
		lb->mgb[n++] =
			(struct berth_maglev_backend){ .id = b->id,
						       .ip = b->ip,
						       .port = b->port,
						       .proto = b->proto };
	}
	err = berth_maglev_fill(lb->mgb, n, lb->table, lb->m);
	if (!err)
		err = maglev_set(lb, f->rev_nat_id);
	if (err)
		return write_failed(lb, err, "update",
				    maglev_map_for_errors(lb), what);
	if (!f->mg_present && lb->mg_outer)
		lb->mg_keys++;
	f->mg_present = true;
	f->mg_known = true;
	return set_mg_ids(f, lb->ids, c);
}

/* Affinity entries pinning clients to backends that leave the slots. */
static int note_lost(struct berth_lbmap *lb, const struct frontend *f,
		     uint64_t placed)
{
	uint32_t s, old = f->nslots;
	struct backend *b;

	if (f->has_slot0 && f->slot0.count < old)
		old = f->slot0.count;
	for (s = 1; s <= old; s++) {
		if (!f->slots[s - 1] || f->slots[s - 1] == BAD_ID)
			continue;
		b = be_by_id(lb, f->slots[s - 1]);
		if ((!b || b->mark != placed) &&
		    aff_add(lb, f->rev_nat_id, f->slots[s - 1]))
			return -ENOMEM;
	}
	return 0;
}

/*
 * One frontend, in the order that keeps it consistent for a packet reading
 * slot 0 and then slot n: backends were written already; then rev_nat, the
 * maglev table, slots 1..count, slot 0, and the slots past the count.
 * rev_nat precedes the table so a table only ever exists under an id the
 * rev_nat map holds: a restarted agent can find every table, even those
 * kept by hooks it cannot list. The table precedes the slots so that slots
 * naming a backend set imply a table built from it, which is what open
 * assumes of hook-kept tables. No packet reads either before slot 0 names
 * the frontend, so neither move costs consistency.
 */
static int sync_frontend(struct berth_lbmap *lb, const struct plan *p,
			 const struct berth_frontend *in)
{
	struct frontend *f = &lb->fes[p->fe];
	uint64_t writes = lb->st.writes;
	uint32_t c = p->count;
	char what[ADDR_LEN];
	bool aff;
	int err;

	fmt_fe(what, f);
	if (grow(&lb->ns, &lb->ns_cap, c + 1, sizeof(*lb->ns)) ||
	    slots_reserve(f, c))
		return -ENOMEM;
	place_slots(lb, f, c, lb->ns);
	aff = lb->maps.affinity &&
	      ((in->flags & BERTH_SVC_F_AFFINITY) ||
	       (f->has_slot0 && (f->slot0.flags & BERTH_SVC_F_AFFINITY)));
	if (aff && note_lost(lb, f, lb->mark))
		return -ENOMEM;

	err = write_rev_nat(lb, f, what);
	if (!err && (in->flags & BERTH_SVC_F_MAGLEV))
		err = sync_maglev(lb, f, lb->ns, c, what);
	if (!err)
		err = write_slots(lb, f, lb->ns, c, what);
	if (!err)
		err = write_slot0(lb, f, in, c, what);
	if (!err)
		err = trim_slots(lb, f, c, what);
	if (!err && !(in->flags & BERTH_SVC_F_MAGLEV))
		err = drop_maglev(lb, f, what);
	if (lb->st.writes != writes)
		lb->st.frontends_changed++;
	return err;
}

/* One walk over the affinity map for every entry the sync invalidated. */
static int clean_affinity(struct berth_lbmap *lb)
{
	struct berth_map *m = lb->maps.affinity;
	uint64_t left = m->max_entries ? 2ULL * m->max_entries + 16 : ~0ULL;
	struct berth_affinity_key k, nk, *dead = NULL;
	struct berth_affinity_val v;
	size_t ndead = 0, cap = 0, i;
	char what[32];
	int err;

	err = m->next_key(m, NULL, &k);
	while (!err && left--) {
		if (!m->lookup(m, &k, &v) &&
		    (berth_htab_find(&lb->aff, (uint64_t)k.rev_nat_id << 32) ||
		     berth_htab_find(&lb->aff, (uint64_t)k.rev_nat_id << 32 |
						       v.backend_id))) {
			err = grow(&dead, &cap, ndead + 1, sizeof(*dead));
			if (err)
				goto out;
			dead[ndead++] = k;
		}
		err = m->next_key(m, &k, &nk);
		k = nk;
	}
	if (err && err != -ENOENT) {
		snprintf(what, sizeof(what), "%zu entries", ndead);
		err = write_failed(lb, err, "walk", m, what);
		goto out;
	}
	err = 0;
	for (i = 0; i < ndead; i++) {
		err = del(lb, m, &dead[i]);
		if (err) {
			snprintf(what, sizeof(what), "rev_nat id %u",
				 dead[i].rev_nat_id);
			err = write_failed(lb, err, "delete", m, what);
			goto out;
		}
	}
	berth_htab_clear(&lb->aff);
out:
	free(dead);
	return err;
}

/* The committed plan, in the order the file header describes. */
static int write_plan(struct berth_lbmap *lb, const struct berth_frontend *fe,
		      size_t n)
{
	size_t i;
	int err;

	/* Removals first: they free the room the additions were counted in. */
	for (i = 0; i < lb->removed.n; i++) {
		err = remove_frontend(lb, lb->removed.v[i]);
		if (err)
			return err;
	}
	err = remove_orphans(lb);
	if (!err)
		err = write_backends(lb, false);
	for (i = 0; !err && i < n; i++) {
		if (lb->plan[i].affected)
			err = sync_frontend(lb, &lb->plan[i], &fe[i]);
	}
	if (!err)
		err = write_backends(lb, true);
	if (!err && lb->aff.count)
		err = clean_affinity(lb);
	return err;
}

/* Backends this sync took out of service, once the maps no longer name them. */
static void report_gone(struct berth_lbmap *lb)
{
	struct backend *b;

	if (!lb->maps.backend_gone)
		return;
	for (size_t i = 0; i < lb->touched.n; i++) {
		b = &lb->bes[lb->touched.v[i]];
		if (b->live && b->orphan && b->orphan_gen == lb->gen)
			lb->maps.backend_gone(lb->maps.backend_gone_ctx, b->ip,
					      b->port, b->proto);
	}
}

int berth_lbmap_sync(struct berth_lbmap *lb, const struct berth_frontend *fe,
		     size_t n, struct berth_sync_stats *st, char *err,
		     size_t errlen)
{
	int ret;

	memset(&lb->st, 0, sizeof(lb->st));
	lb->err = err;
	lb->errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (!fe && n)
		return -EINVAL;
	lb->gen++;
	ret = plan_sync(lb, fe, n);
	if (!ret)
		ret = write_plan(lb, fe, n);
	if (!ret) {
		lb->recheck = false;
		report_gone(lb);
	}
	if (ret == -ENOMEM) {
		set_err(lb, "sync: out of memory");
		lb->recheck = true;
	}
	if (st)
		*st = lb->st;
	pr_debug("lbmap: sync of %zu frontends: %d, %llu writes, %zu changed, "
		 "%zu removed, %zu backends added, %zu orphaned",
		 n, ret, (unsigned long long)lb->st.writes,
		 lb->st.frontends_changed, lb->st.frontends_removed,
		 lb->st.backends_added, lb->st.backends_orphaned);
	lb->err = NULL;
	return ret;
}

int berth_lbmap_gc(struct berth_lbmap *lb,
		   bool (*in_use)(void *ctx, uint32_t id), void *ctx,
		   size_t *freed)
{
	struct backend *b;
	size_t i, n = 0;
	int err = 0;

	if (freed)
		*freed = 0;
	/*
	 * After a failed sync a slot may still name an orphan: only a sync
	 * that went through proves none does.
	 */
	if (lb->recheck)
		return 0;
	for (i = 0; i < lb->nbes; i++) {
		b = &lb->bes[i];
		if (!b->live || !b->orphan || b->refs || b->provisional)
			continue;
		if (b->in_map) {
			if (in_use && in_use(ctx, b->id))
				continue;
			err = del(lb, lb->maps.backends, &b->id);
			if (err) {
				pr_warn("lbmap: delete backends id %u: -%s",
					b->id, errname(err));
				break;
			}
			lb->be_keys--;
		}
		be_release(lb, (uint32_t)i);
		n++;
	}
	if (freed)
		*freed = n;
	return err;
}

/* Services to frontends */

void berth_frontends_free(struct berth_frontend *fe, size_t n)
{
	size_t i;

	if (!fe)
		return;
	for (i = 0; i < n; i++)
		free(fe[i].backends);
	free(fe);
}

static int service_frontend(const struct berth_service *svc,
			    const struct berth_svc_port *port,
			    struct berth_frontend *f)
{
	uint16_t target = port->target_port ? port->target_port : port->port;
	size_t i;

	f->vip = svc->cluster_ip;
	f->port = htons(port->port);
	f->proto = port->proto;
	f->flags = (svc->affinity ? BERTH_SVC_F_AFFINITY : 0) |
		   (svc->algo == BERTH_LB_MAGLEV ? BERTH_SVC_F_MAGLEV : 0);
	f->affinity_timeout = svc->affinity_timeout;
	if (svc->affinity && !f->affinity_timeout)
		f->affinity_timeout = BERTH_AFFINITY_TIMEOUT_DEFAULT;
	if (!svc->nendpoints)
		return 0;
	f->backends = calloc(svc->nendpoints, sizeof(*f->backends));
	if (!f->backends)
		return -ENOMEM;
	for (i = 0; i < svc->nendpoints; i++) {
		f->backends[i].ip = svc->endpoints[i].ip;
		f->backends[i].port = htons(svc->endpoints[i].port ?
						    svc->endpoints[i].port :
						    target);
		f->backends[i].terminating = svc->endpoints[i].terminating;
	}
	f->nbackends = svc->nendpoints;
	return 0;
}

int berth_services_to_frontends(const struct berth_service_set *set,
				struct berth_frontend **out, size_t *n)
{
	struct berth_frontend *fe;
	size_t total = 0, i, j, k = 0;
	int err;

	*out = NULL;
	*n = 0;
	for (i = 0; i < set->n; i++) {
		/* Headless services (no cluster IP) have nothing to balance. */
		if (set->svcs[i].cluster_ip)
			total += set->svcs[i].nports;
	}
	if (!total)
		return 0;
	fe = calloc(total, sizeof(*fe));
	if (!fe)
		return -ENOMEM;
	for (i = 0; i < set->n; i++) {
		const struct berth_service *svc = &set->svcs[i];

		if (!svc->cluster_ip)
			continue;
		for (j = 0; j < svc->nports; j++) {
			err = service_frontend(svc, &svc->ports[j], &fe[k++]);
			if (err) {
				berth_frontends_free(fe, k);
				return err;
			}
		}
	}
	*out = fe;
	*n = total;
	return 0;
}
