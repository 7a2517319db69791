// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Map sync against memory maps: contents, minimal writes, update order,
 * terminating and orphaned backends, restart, full maps, affinity, maglev.
 * Also the memory maps themselves, which these tests stand on.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <criterion/criterion.h>

#include <berth/abi/lb.h>
#include <berth/lbmap.h>
#include <berth/maglev.h>
#include <berth/mapops.h>
#include <berth/service.h>

/* Every successful write, in order, across all maps and the maglev hooks. */
struct wentry {
	const char *map;
	char op; /* 'U'pdate, 'D'elete */
	unsigned char key[16];
};

#define WLOG_MAX 4096
static struct wentry wlog[WLOG_MAX];
static size_t nwlog;

static int (*mem_update)(struct berth_map *, const void *, const void *);
static int (*mem_delete)(struct berth_map *, const void *);
/* Make updates of one map fail, to test error reports. */
static const char *fail_map;
static int fail_err;
/* Make the n-th write from now fail, as a crash in the middle would. */
static unsigned int fail_countdown;

static bool crash_now(void)
{
	return fail_countdown && !--fail_countdown;
}

static void log_write(const char *map, char op, const void *key, size_t len)
{
	if (nwlog == WLOG_MAX)
		return;
	wlog[nwlog].map = map;
	wlog[nwlog].op = op;
	memcpy(wlog[nwlog].key, key, len < 16 ? len : 16);
	nwlog++;
}

static int log_update(struct berth_map *m, const void *k, const void *v)
{
	int err;

	if (fail_map && !strcmp(m->name, fail_map))
		return fail_err;
	if (crash_now())
		return -EIO;
	err = mem_update(m, k, v);
	if (!err)
		log_write(m->name, 'U', k, m->key_size);
	return err;
}

static int log_delete(struct berth_map *m, const void *k)
{
	int err = crash_now() ? -EIO : mem_delete(m, k);

	if (!err)
		log_write(m->name, 'D', k, m->key_size);
	return err;
}

/* Maglev tables kept by the hooks. */
#define MG_MAX 64
struct mg_store {
	uint32_t id[MG_MAX];
	uint32_t *table[MG_MAX];
	size_t n;
	size_t sets, dels;
};

static int mg_find(struct mg_store *s, uint32_t id)
{
	for (size_t i = 0; i < s->n; i++) {
		if (s->id[i] == id)
			return (int)i;
	}
	return -1;
}

static int mg_set(void *ctx, uint32_t id, const uint32_t *table)
{
	struct mg_store *s = ctx;
	int i = mg_find(s, id);

	if (crash_now())
		return -EIO;
	if (i < 0) {
		cr_assert_lt(s->n, MG_MAX);
		i = (int)s->n++;
		s->id[i] = id;
		s->table[i] = malloc(BERTH_MAGLEV_M * sizeof(uint32_t));
	}
	memcpy(s->table[i], table, BERTH_MAGLEV_M * sizeof(uint32_t));
	s->sets++;
	log_write("maglev", 'U', &id, sizeof(id));
	return 0;
}

static int mg_del(void *ctx, uint32_t id)
{
	struct mg_store *s = ctx;
	int i = mg_find(s, id);

	if (crash_now())
		return -EIO;
	if (i < 0)
		return -ENOENT;
	free(s->table[i]);
	s->id[i] = s->id[s->n - 1];
	s->table[i] = s->table[s->n - 1];
	s->n--;
	s->dels++;
	log_write("maglev", 'D', &id, sizeof(id));
	return 0;
}

struct env {
	struct berth_map svc, be, rn, aff;
	struct berth_lbmap_maps maps;
	struct mg_store mg;
	struct berth_lbmap *lb;
	char err[256];
};

static struct env E;

static void init_map(struct berth_map *m, const char *name, uint32_t ks,
		     uint32_t vs, uint32_t max)
{
	cr_assert_eq(berth_map_init_mem(m, name, ks, vs, max), 0);
	mem_update = m->update;
	mem_delete = m->delete;
	m->update = log_update;
	m->delete = log_delete;
}

static void setup_sized(uint32_t svc_max, uint32_t be_max, uint32_t rn_max)
{
	memset(&E, 0, sizeof(E));
	nwlog = 0;
	fail_map = NULL;
	init_map(&E.svc, "services", sizeof(struct berth_svc_key),
		 sizeof(struct berth_svc_val), svc_max);
	init_map(&E.be, "backends", sizeof(uint32_t),
		 sizeof(struct berth_backend), be_max);
	init_map(&E.rn, "rev_nat", sizeof(uint32_t),
		 sizeof(struct berth_rev_nat), rn_max);
	init_map(&E.aff, "affinity", sizeof(struct berth_affinity_key),
		 sizeof(struct berth_affinity_val), 1024);
	E.maps = (struct berth_lbmap_maps){
		.services = &E.svc,
		.backends = &E.be,
		.rev_nat = &E.rn,
		.affinity = &E.aff,
		.maglev_set = mg_set,
		.maglev_del = mg_del,
		.maglev_ctx = &E.mg,
		.maglev_m = BERTH_MAGLEV_M,
	};
	cr_assert_eq(berth_lbmap_open(&E.lb, &E.maps), 0);
}

static void setup(void)
{
	setup_sized(65536, 65536, 65536);
}

static void teardown(void)
{
	berth_lbmap_free(E.lb);
	berth_map_free_mem(&E.svc);
	berth_map_free_mem(&E.be);
	berth_map_free_mem(&E.rn);
	berth_map_free_mem(&E.aff);
	for (size_t i = 0; i < E.mg.n; i++)
		free(E.mg.table[i]);
}

static void reset_writes(void)
{
	E.svc.writes = E.be.writes = E.rn.writes = E.aff.writes = 0;
	E.mg.sets = E.mg.dels = 0;
	nwlog = 0;
}

static uint64_t map_writes(void)
{
	return E.svc.writes + E.be.writes + E.rn.writes + E.aff.writes +
	       E.mg.sets + E.mg.dels;
}

/* Frontends and their backends, built from static arrays. */

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "bad address %s", s);
	return a.s_addr;
}

static struct berth_fe_backend mkbe(const char *ip, uint16_t port, bool term)
{
	return (struct berth_fe_backend){ .ip = ip4(ip),
					  .port = htons(port),
					  .terminating = term };
}

static struct berth_frontend mkfe(const char *vip, uint16_t port, uint8_t flags,
				  struct berth_fe_backend *b, size_t n)
{
	return (struct berth_frontend){
		.vip = ip4(vip),
		.port = htons(port),
		.proto = IPPROTO_TCP,
		.flags = flags,
		.affinity_timeout = flags & BERTH_SVC_F_AFFINITY ? 300 : 0,
		.backends = b,
		.nbackends = n
	};
}

static int sync_fe(struct berth_frontend *fe, size_t n,
		   struct berth_sync_stats *st)
{
	return berth_lbmap_sync(E.lb, fe, n, st, E.err, sizeof(E.err));
}

static struct berth_svc_key skey(const struct berth_frontend *f, uint16_t slot)
{
	return (struct berth_svc_key){
		.vip = f->vip, .dport = f->port, .proto = f->proto, .slot = slot
	};
}

static int get_slot(const struct berth_frontend *f, uint16_t slot,
		    struct berth_svc_val *v)
{
	struct berth_svc_key k = skey(f, slot);

	return E.svc.lookup(&E.svc, &k, v);
}

static struct berth_svc_val slot0(const struct berth_frontend *f)
{
	struct berth_svc_val v;

	cr_assert_eq(get_slot(f, 0, &v), 0, "slot 0 missing");
	return v;
}

static struct berth_backend backend(uint32_t id)
{
	struct berth_backend b;

	cr_assert_eq(E.be.lookup(&E.be, &id, &b), 0, "backend %u missing", id);
	return b;
}

static size_t count(struct berth_map *m)
{
	unsigned char k[64], nk[64];
	size_t n = 0;
	int err;

	for (err = m->next_key(m, NULL, k); !err;
	     err = m->next_key(m, k, nk), memcpy(k, nk, m->key_size))
		n++;
	cr_assert_eq(err, -ENOENT);
	return n;
}

/* The ids in slots 1..count, which must all exist. */
static size_t slot_ids(const struct berth_frontend *f, uint32_t *ids)
{
	struct berth_svc_val v0 = slot0(f), v;
	uint16_t s;

	for (s = 1; s <= v0.count; s++) {
		cr_assert_eq(get_slot(f, s, &v), 0, "slot %u missing", s);
		ids[s - 1] = v.backend_id;
	}
	cr_assert_neq(get_slot(f, v0.count + 1, &v), 0, "slot past count");
	return v0.count;
}

/* The backend id serving ip:port in f's slots, 0 if none. */
static uint32_t slot_of(const struct berth_frontend *f, const char *ip,
			uint16_t port)
{
	uint32_t ids[64];
	size_t n = slot_ids(f, ids), i;
	struct berth_backend b;

	for (i = 0; i < n; i++) {
		b = backend(ids[i]);
		if (b.ip == ip4(ip) && b.port == htons(port))
			return ids[i];
	}
	return 0;
}

/* The id the backends map holds for an address, 0 if none. */
static uint32_t id_of_addr(uint32_t ip, uint16_t port)
{
	uint32_t k, nk;
	struct berth_backend b;
	int err;

	for (err = E.be.next_key(&E.be, NULL, &k); !err;
	     err = E.be.next_key(&E.be, &k, &nk), k = nk) {
		cr_assert_eq(E.be.lookup(&E.be, &k, &b), 0);
		if (b.ip == ip && b.port == port)
			return k;
	}
	return 0;
}

static uint32_t id_of(const char *ip, uint16_t port)
{
	return id_of_addr(ip4(ip), htons(port));
}

/* Index of the first logged write to map with op (and slot, for services). */
static int wfind(const char *map, char op, int slot)
{
	struct berth_svc_key k;

	for (size_t i = 0; i < nwlog; i++) {
		if (strcmp(wlog[i].map, map) || wlog[i].op != op)
			continue;
		memcpy(&k, wlog[i].key, sizeof(k));
		if (slot < 0 || k.slot == slot)
			return (int)i;
	}
	return -1;
}

static int wlast(const char *map, char op)
{
	for (size_t i = nwlog; i-- > 0;) {
		if (!strcmp(wlog[i].map, map) && wlog[i].op == op)
			return (int)i;
	}
	return -1;
}

/* Sorted entries of a map, to compare contents byte for byte. */
struct dump {
	unsigned char *buf;
	size_t n, size;
};

static int cmp_entry_size;
static int cmp_entry(const void *a, const void *b)
{
	return memcmp(a, b, cmp_entry_size);
}

static struct dump dump(struct berth_map *m)
{
	struct dump d = { .size = m->key_size + m->value_size };
	unsigned char k[64], nk[64];
	int err;

	d.buf = malloc((count(m) + 1) * d.size);
	for (err = m->next_key(m, NULL, k); !err;
	     err = m->next_key(m, k, nk), memcpy(k, nk, m->key_size)) {
		memcpy(d.buf + d.n * d.size, k, m->key_size);
		cr_assert_eq(
			m->lookup(m, k, d.buf + d.n * d.size + m->key_size), 0);
		d.n++;
	}
	cmp_entry_size = (int)d.size;
	qsort(d.buf, d.n, d.size, cmp_entry);
	return d;
}

static bool dump_eq(struct dump a, struct dump b)
{
	bool eq = a.n == b.n && !memcmp(a.buf, b.buf, a.n * a.size);

	free(a.buf);
	free(b.buf);
	return eq;
}

TestSuite(lbmap, .init = setup, .fini = teardown);

/* Two frontends sharing one backend. */
static struct berth_fe_backend web_b[3], dns_b[2];
static struct berth_frontend fes[2];

static void two_frontends(void)
{
	web_b[0] = mkbe("10.0.0.1", 8080, false);
	web_b[1] = mkbe("10.0.0.2", 8080, false);
	web_b[2] = mkbe("10.0.0.3", 8080, false);
	dns_b[0] = mkbe("10.0.0.3", 8080, false); /* shared with web */
	dns_b[1] = mkbe("10.0.1.1", 53, false);
	fes[0] = mkfe("10.96.0.10", 80, 0, web_b, 3);
	fes[1] = mkfe("10.96.0.53", 53, BERTH_SVC_F_AFFINITY, dns_b, 2);
}

Test(lbmap, initial_sync_writes_expected_entries)
{
	struct berth_sync_stats st;
	struct berth_svc_val v0, v1;
	struct berth_rev_nat rn;
	struct berth_backend b;
	uint32_t ids[8];

	two_frontends();
	cr_assert_eq(sync_fe(fes, 2, &st), 0, "%s", E.err);

	v0 = slot0(&fes[0]);
	cr_assert_eq(v0.count, 3);
	cr_assert_eq(v0.flags, 0);
	cr_assert_eq(v0.backend_id, 0);
	v1 = slot0(&fes[1]);
	cr_assert_eq(v1.count, 2);
	cr_assert_eq(v1.flags, BERTH_SVC_F_AFFINITY);
	cr_assert_eq(v1.affinity_timeout, 300);
	cr_assert(v0.rev_nat_id && v1.rev_nat_id &&
		  v0.rev_nat_id != v1.rev_nat_id);

	/* Slots name the backends, in address order on a first sync. */
	cr_assert_eq(slot_ids(&fes[0], ids), 3);
	for (int i = 0; i < 3; i++) {
		b = backend(ids[i]);
		cr_assert_eq(b.ip, web_b[i].ip);
		cr_assert_eq(b.port, web_b[i].port);
		cr_assert_eq(b.proto, IPPROTO_TCP);
		cr_assert_eq(b.flags, 0);
	}
	/* One id per address, shared by both frontends. */
	cr_assert_eq(count(&E.be), 4);
	cr_assert_eq(slot_of(&fes[1], "10.0.0.3", 8080), ids[2]);

	cr_assert_eq(E.rn.lookup(&E.rn, &v0.rev_nat_id, &rn), 0);
	cr_assert_eq(rn.vip, fes[0].vip);
	cr_assert_eq(rn.port, fes[0].port);
	cr_assert_eq(count(&E.rn), 2);
	cr_assert_eq(count(&E.svc), 2 + 3 + 2);

	cr_assert_eq(st.frontends_changed, 2);
	cr_assert_eq(st.backends_added, 4);
	cr_assert_eq(st.writes, map_writes());
	cr_assert_eq(st.writes, 7 + 4 + 2);
}

Test(lbmap, resync_same_state_writes_nothing)
{
	struct berth_sync_stats st;
	struct berth_fe_backend t;

	two_frontends();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	reset_writes();
	cr_assert_eq(sync_fe(fes, 2, &st), 0, "%s", E.err);
	cr_assert_eq(map_writes(), 0);
	cr_assert_eq(st.writes, 0);
	cr_assert_eq(st.frontends_changed, 0);

	/* The same backends listed in another order are the same state. */
	t = web_b[0];
	web_b[0] = web_b[2];
	web_b[2] = t;
	cr_assert_eq(sync_fe(fes, 2, &st), 0, "%s", E.err);
	cr_assert_eq(map_writes(), 0);
	/* ... and so are the frontends. */
	struct berth_frontend rev[2] = { fes[1], fes[0] };

	cr_assert_eq(sync_fe(rev, 2, &st), 0, "%s", E.err);
	cr_assert_eq(map_writes(), 0);
}

Test(lbmap, add_backend_writes_backend_then_slot_then_slot0)
{
	struct berth_fe_backend b4[4];
	struct berth_sync_stats st;
	uint32_t before[8], after[8];
	int wb, ws, w0;

	two_frontends();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	slot_ids(&fes[0], before);
	reset_writes();

	memcpy(b4, web_b, sizeof(web_b));
	b4[3] = mkbe("10.0.0.0", 8080, false); /* sorts first */
	fes[0].backends = b4;
	fes[0].nbackends = 4;
	cr_assert_eq(sync_fe(fes, 2, &st), 0, "%s", E.err);

	/* One backend, one new slot, slot 0: nothing else moves. */
	cr_assert_eq(E.be.writes, 1);
	cr_assert_eq(E.svc.writes, 2);
	cr_assert_eq(E.rn.writes, 0);
	cr_assert_eq(st.writes, 3);
	cr_assert_eq(st.frontends_changed, 1);
	cr_assert_eq(slot_ids(&fes[0], after), 4);
	cr_assert(!memcmp(before, after, 3 * sizeof(*after)));
	cr_assert_eq(after[3], id_of("10.0.0.0", 8080));

	wb = wfind("backends", 'U', -1);
	ws = wfind("services", 'U', 4);
	w0 = wfind("services", 'U', 0);
	cr_assert(wb >= 0 && ws >= 0 && w0 >= 0);
	cr_assert(wb < ws && ws < w0, "order backends %d slot %d slot0 %d", wb,
		  ws, w0);
}

Test(lbmap, remove_backend_writes_slot0_before_deleting_slots)
{
	struct berth_sync_stats st;
	uint32_t ids[8], gone = 0;
	int ws, w0, wd, wb;

	two_frontends();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	gone = slot_of(&fes[0], "10.0.0.1", 8080);
	reset_writes();

	/* Drop 10.0.0.1 (slot 1): web keeps .2 and .3. */
	fes[0].backends = web_b + 1;
	fes[0].nbackends = 2;
	cr_assert_eq(sync_fe(fes, 2, &st), 0, "%s", E.err);

	cr_assert_eq(slot_ids(&fes[0], ids), 2);
	cr_assert_eq(slot0(&fes[0]).count, 2);
	cr_assert(ids[0] != gone && ids[1] != gone);
	/* The last slot moved into the hole: one slot written, one deleted. */
	cr_assert_eq(E.svc.writes, 3);
	ws = wfind("services", 'U', 1);
	w0 = wfind("services", 'U', 0);
	wd = wfind("services", 'D', 3);
	cr_assert(ws >= 0 && w0 >= 0 && wd >= 0);
	cr_assert(ws < w0 && w0 < wd, "slot %d slot0 %d delete %d", ws, w0, wd);

	/* No frontend uses it: kept, terminating, after the slots let go. */
	cr_assert_eq(backend(gone).flags, BERTH_BACKEND_F_TERMINATING);
	wb = wfind("backends", 'U', -1);
	cr_assert(wb > w0, "backend marked before slot 0: %d < %d", wb, w0);
	cr_assert_eq(st.backends_orphaned, 1);
	cr_assert_eq(E.be.writes, 1);
}

static struct {
	int calls;
	uint32_t ip;
	uint16_t port;
	uint8_t proto;
} gone_seen;

static void note_gone(void *ctx, uint32_t ip, uint16_t port, uint8_t proto)
{
	(void)ctx;
	gone_seen.calls++;
	gone_seen.ip = ip;
	gone_seen.port = port;
	gone_seen.proto = proto;
}

Test(lbmap, backend_gone_reported_once_after_its_last_frontend)
{
	memset(&gone_seen, 0, sizeof(gone_seen));
	berth_lbmap_free(E.lb);
	E.maps.backend_gone = note_gone;
	cr_assert_eq(berth_lbmap_open(&E.lb, &E.maps), 0);

	two_frontends();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(gone_seen.calls, 0, "nothing left service yet");

	fes[0].backends = web_b + 1;
	fes[0].nbackends = 2;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(gone_seen.calls, 1);
	cr_assert_eq(gone_seen.ip, inet_addr("10.0.0.1"));
	cr_assert_eq(gone_seen.port, htons(8080));
	/* the same state again: it is not gone a second time */
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(gone_seen.calls, 1);
}

Test(lbmap, new_frontend_order_and_removal_in_reverse)
{
	int wb, ws, wr, w0, d0, ds, dr;

	two_frontends();
	cr_assert_eq(sync_fe(fes, 1, NULL), 0, "%s", E.err);
	wb = wlast("backends", 'U');
	wr = wfind("rev_nat", 'U', -1);
	ws = wfind("services", 'U', 1);
	w0 = wfind("services", 'U', 0);
	cr_assert(wb < wr && wr < ws && ws < w0,
		  "backends %d rev_nat %d slots %d slot0 %d", wb, wr, ws, w0);
	cr_assert_eq(wlast("services", 'U'), w0, "slot 0 is the last write");

	reset_writes();
	cr_assert_eq(sync_fe(NULL, 0, NULL), 0, "%s", E.err);
	d0 = wfind("services", 'D', 0);
	ds = wfind("services", 'D', 1);
	dr = wfind("rev_nat", 'D', -1);
	cr_assert(d0 >= 0 && ds >= 0 && dr >= 0);
	cr_assert(d0 < ds && ds < dr, "slot0 %d slots %d rev_nat %d", d0, ds,
		  dr);
	cr_assert_eq(count(&E.svc), 0);
	cr_assert_eq(count(&E.rn), 0);
	/* Backends outlive the frontend until gc says no flow uses them. */
	cr_assert_eq(count(&E.be), 3);
}

Test(lbmap, terminating_backend_kept_out_of_slots)
{
	int wb, ws;

	two_frontends();
	web_b[1].terminating = true;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(slot0(&fes[0]).count, 2);
	cr_assert_eq(slot_of(&fes[0], "10.0.0.2", 8080), 0);
	cr_assert_eq(backend(id_of("10.0.0.2", 8080)).flags,
		     BERTH_BACKEND_F_TERMINATING);

	/* Back in service: flag cleared before a slot names it. */
	reset_writes();
	web_b[1].terminating = false;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(slot0(&fes[0]).count, 3);
	cr_assert_neq(slot_of(&fes[0], "10.0.0.2", 8080), 0);
	cr_assert_eq(backend(id_of("10.0.0.2", 8080)).flags, 0);
	wb = wfind("backends", 'U', -1);
	ws = wfind("services", 'U', 3);
	cr_assert(wb >= 0 && ws >= 0 && wb < ws);
}

Test(lbmap, terminating_wins_when_frontends_disagree)
{
	two_frontends();
	dns_b[0].terminating = true; /* 10.0.0.3, active for web */
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(backend(id_of("10.0.0.3", 8080)).flags,
		     BERTH_BACKEND_F_TERMINATING);
	cr_assert_eq(slot_of(&fes[0], "10.0.0.3", 8080), 0);
	cr_assert_eq(slot_of(&fes[1], "10.0.0.3", 8080), 0);
	cr_assert_eq(slot0(&fes[0]).count, 2);
}

static bool in_use_answer;
static size_t in_use_asked;
static bool in_use(void *ctx, uint32_t id)
{
	(void)ctx;
	(void)id;
	in_use_asked++;
	return in_use_answer;
}

Test(lbmap, orphan_kept_until_gc_and_reused_if_back)
{
	uint32_t id1, id2;
	size_t freed;

	two_frontends();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	id1 = id_of("10.0.0.1", 8080);

	fes[0].backends = web_b + 1;
	fes[0].nbackends = 2;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(backend(id1).flags, BERTH_BACKEND_F_TERMINATING);

	/* Back before gc: same id, active again. */
	fes[0].backends = web_b;
	fes[0].nbackends = 3;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(id_of("10.0.0.1", 8080), id1);
	cr_assert_eq(backend(id1).flags, 0);
	cr_assert_eq(slot_of(&fes[0], "10.0.0.1", 8080), id1);

	/* Gone again; conntrack still uses it: gc keeps it. */
	fes[0].backends = web_b + 1;
	fes[0].nbackends = 2;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	in_use_answer = true;
	cr_assert_eq(berth_lbmap_gc(E.lb, in_use, NULL, &freed), 0);
	cr_assert_eq(freed, 0);
	cr_assert_eq(in_use_asked, 1, "only the orphan is asked about");
	cr_assert_eq(backend(id1).flags, BERTH_BACKEND_F_TERMINATING);

	in_use_answer = false;
	cr_assert_eq(berth_lbmap_gc(E.lb, in_use, NULL, &freed), 0);
	cr_assert_eq(freed, 1);
	cr_assert_eq(id_of("10.0.0.1", 8080), 0);
	cr_assert_eq(count(&E.be), 3);

	/* After gc it comes back under a new id. */
	fes[0].backends = web_b;
	fes[0].nbackends = 3;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	id2 = id_of("10.0.0.1", 8080);
	cr_assert(id2 && id2 != id1);
}

Test(lbmap, restart_reads_maps_and_writes_nothing)
{
	struct berth_fe_backend mb[3] = { mkbe("10.0.2.1", 80, false),
					  mkbe("10.0.2.2", 80, false),
					  mkbe("10.0.2.3", 80, true) };
	struct berth_frontend all[3];
	struct dump svc, be, rn;
	struct berth_sync_stats st;
	uint32_t new_id;

	two_frontends();
	all[0] = fes[0];
	all[1] = fes[1];
	all[2] = mkfe("10.96.0.99", 443, BERTH_SVC_F_MAGLEV, mb, 3);
	cr_assert_eq(sync_fe(all, 3, NULL), 0, "%s", E.err);
	/* An orphan too (10.0.0.1): restart must not forget it is one. */
	all[0].backends = web_b + 1;
	all[0].nbackends = 2;
	cr_assert_eq(sync_fe(all, 3, NULL), 0, "%s", E.err);
	svc = dump(&E.svc);
	be = dump(&E.be);
	rn = dump(&E.rn);

	berth_lbmap_free(E.lb);
	cr_assert_eq(berth_lbmap_open(&E.lb, &E.maps), 0);
	reset_writes();
	cr_assert_eq(sync_fe(all, 3, &st), 0, "%s", E.err);
	cr_assert_eq(map_writes(), 0, "restart rewrote %zu entries",
		     (size_t)map_writes());
	cr_assert_eq(st.writes, 0);
	cr_assert(dump_eq(svc, dump(&E.svc)));
	cr_assert(dump_eq(be, dump(&E.be)));
	cr_assert(dump_eq(rn, dump(&E.rn)));

	/* Ids continue after the highest one in use, never reused. */
	all[0].backends = web_b;
	all[0].nbackends = 3;
	web_b[2] = mkbe("10.0.0.9", 8080, false);
	cr_assert_eq(sync_fe(all, 3, NULL), 0, "%s", E.err);
	cr_assert_eq(slot_of(&all[0], "10.0.0.1", 8080), 1, "orphan reused");
	new_id = id_of("10.0.0.9", 8080);
	cr_assert_eq(new_id, 8, "7 ids were in use, got %u", new_id);
}

Test(lbmap, restart_cleans_half_written_state)
{
	struct berth_svc_key k;
	struct berth_svc_val v = { .backend_id = 77 };
	struct berth_rev_nat rn = { 0 };
	uint32_t stale = 4242;

	two_frontends();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	/* A crash left a slot past the count and an unowned rev_nat. */
	k = skey(&fes[0], 9);
	cr_assert_eq(E.svc.update(&E.svc, &k, &v), 0);
	cr_assert_eq(E.rn.update(&E.rn, &stale, &rn), 0);

	berth_lbmap_free(E.lb);
	cr_assert_eq(berth_lbmap_open(&E.lb, &E.maps), 0);
	reset_writes();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(map_writes(), 2);
	cr_assert_neq(E.svc.lookup(&E.svc, &k, &v), 0);
	cr_assert_neq(E.rn.lookup(&E.rn, &stale, &rn), 0);
}

Test(lbmap, full_map_fails_before_writing)
{
	struct berth_fe_backend many[10];
	struct berth_frontend more[3];
	struct dump svc, be, rn;
	char ip[INET_ADDRSTRLEN];
	int err;

	teardown();
	setup_sized(12, 8, 8);
	two_frontends();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err); /* 7 keys */
	for (unsigned int i = 0; i < 10; i++) {
		snprintf(ip, sizeof(ip), "10.0.3.%u", i + 1);
		many[i] = mkbe(ip, 80, false);
	}
	more[0] = fes[0];
	more[1] = fes[1];
	more[2] = mkfe("10.96.0.7", 80, 0, many, 3);
	svc = dump(&E.svc);
	be = dump(&E.be);
	rn = dump(&E.rn);
	reset_writes();

	/* 6 more service keys (slot 0 and 5 slots) where 12 - 7 = 5 are free. */
	more[2].nbackends = 5;
	err = sync_fe(more, 3, NULL);
	cr_assert_eq(err, -E2BIG);
	cr_assert(strstr(E.err, "services map full"), "err: %s", E.err);
	cr_assert(strstr(E.err, "need 6 more entries, 5 free of 12"), "err: %s",
		  E.err);
	cr_assert_eq(map_writes(), 0);
	cr_assert(dump_eq(svc, dump(&E.svc)));
	cr_assert(dump_eq(be, dump(&E.be)));
	cr_assert(dump_eq(rn, dump(&E.rn)));

	/* Now full: 12 service keys, 8 backends. 4 new backends, no room. */
	more[2].nbackends = 4;
	err = sync_fe(more, 3, NULL);
	cr_assert_eq(err, 0, "%s", E.err);
	more[2].backends = many + 4;
	more[2].nbackends = 1;
	more[1].nbackends = 0;
	more[0].backends = many + 5;
	more[0].nbackends = 3;
	svc = dump(&E.svc);
	be = dump(&E.be);
	reset_writes();
	err = sync_fe(more, 3, NULL);
	cr_assert_eq(err, -E2BIG);
	cr_assert(strstr(E.err, "backends map full"), "err: %s", E.err);
	cr_assert_eq(map_writes(), 0);
	cr_assert(dump_eq(svc, dump(&E.svc)));
	cr_assert(dump_eq(be, dump(&E.be)));

	/* The mirror was left as it was: a sync that fits still works. */
	more[0] = fes[0];
	more[1] = fes[1];
	more[2].backends = many;
	cr_assert_eq(sync_fe(more, 3, NULL), 0, "%s", E.err);
	cr_assert_eq(slot0(&more[2]).count, 1);
	cr_assert_eq(count(&E.svc), 9);
}

Test(lbmap, removals_make_room_first)
{
	struct berth_frontend other[1];
	struct berth_fe_backend ob[3] = { mkbe("10.0.4.1", 80, false),
					  mkbe("10.0.4.2", 80, false),
					  mkbe("10.0.4.3", 80, false) };

	teardown();
	setup_sized(8, 16, 2);
	two_frontends();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err); /* 7 of 8 */
	/* Replacing both frontends fits once their keys are gone. */
	other[0] = mkfe("10.96.1.1", 80, 0, ob, 3);
	cr_assert_eq(sync_fe(other, 1, NULL), 0, "%s", E.err);
	cr_assert_eq(count(&E.svc), 4);
}

Test(lbmap, write_error_names_map_and_frontend)
{
	int err;

	two_frontends();
	fail_map = "backends";
	fail_err = -EPERM;
	err = sync_fe(fes, 2, NULL);
	cr_assert_eq(err, -EPERM);
	cr_assert_str_eq(E.err,
			 "update backends for 10.96.0.10:80/TCP: -EPERM");
	cr_assert_eq(count(&E.svc), 0, "no slot may name a missing backend");

	/* Fixed: the next sync writes everything, then nothing. */
	fail_map = NULL;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(slot0(&fes[0]).count, 3);
	reset_writes();
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert_eq(map_writes(), 0);
}

Test(lbmap, duplicate_frontend_rejected)
{
	struct berth_frontend dup[2];

	two_frontends();
	dup[0] = fes[0];
	dup[1] = fes[0];
	cr_assert_eq(sync_fe(dup, 2, NULL), -EINVAL);
	cr_assert(strstr(E.err, "duplicate frontend 10.96.0.10:80/TCP"), "%s",
		  E.err);
	cr_assert_eq(map_writes(), 0);
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
}

static void put_affinity(uint32_t client, uint32_t rev_nat, uint32_t id)
{
	struct berth_affinity_key k = { .client = client,
					.rev_nat_id = rev_nat };
	struct berth_affinity_val v = { .last_used = 1, .backend_id = id };

	cr_assert_eq(E.aff.update(&E.aff, &k, &v), 0);
}

static bool has_affinity(uint32_t client, uint32_t rev_nat)
{
	struct berth_affinity_key k = { .client = client,
					.rev_nat_id = rev_nat };
	struct berth_affinity_val v;

	return !E.aff.lookup(&E.aff, &k, &v);
}

Test(lbmap, affinity_of_lost_backends_deleted)
{
	uint32_t rn_dns, rn_web, shared, own;

	two_frontends();
	fes[0].flags = BERTH_SVC_F_AFFINITY;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	rn_web = slot0(&fes[0]).rev_nat_id;
	rn_dns = slot0(&fes[1]).rev_nat_id;
	shared = id_of("10.0.0.3", 8080);
	own = id_of("10.0.1.1", 53);
	put_affinity(1, rn_dns, shared);
	put_affinity(2, rn_dns, own);
	put_affinity(3, rn_web, shared);
	put_affinity(4, rn_web, id_of("10.0.0.1", 8080));
	reset_writes();

	/* dns loses the shared backend; web keeps it. */
	fes[1].backends = dns_b + 1;
	fes[1].nbackends = 1;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert(!has_affinity(1, rn_dns));
	cr_assert(has_affinity(2, rn_dns));
	cr_assert(has_affinity(3, rn_web));
	cr_assert(has_affinity(4, rn_web));
	cr_assert_eq(E.aff.writes, 1);

	/* A backend turning terminating loses its clients too. */
	web_b[0].terminating = true;
	cr_assert_eq(sync_fe(fes, 2, NULL), 0, "%s", E.err);
	cr_assert(!has_affinity(4, rn_web));
	cr_assert(has_affinity(3, rn_web));

	/* A removed frontend loses all of them. */
	cr_assert_eq(sync_fe(fes, 1, NULL), 0, "%s", E.err);
	cr_assert(!has_affinity(2, rn_dns));
	cr_assert(has_affinity(3, rn_web));

	/* Nothing changed: nothing written. */
	reset_writes();
	cr_assert_eq(sync_fe(fes, 1, NULL), 0, "%s", E.err);
	cr_assert_eq(map_writes(), 0);
}

Test(lbmap, maglev_table_written_only_when_backends_change)
{
	struct berth_fe_backend mb[3] = { mkbe("10.0.2.1", 80, false),
					  mkbe("10.0.2.2", 80, false),
					  mkbe("10.0.2.3", 80, false) };
	struct berth_maglev_backend want[3];
	uint32_t *t = malloc(BERTH_MAGLEV_M * sizeof(*t)), rn, ids[3];
	struct berth_frontend f =
		mkfe("10.96.0.99", 443, BERTH_SVC_F_MAGLEV, mb, 3);
	int wm, ws, w0;

	cr_assert_not_null(t);
	cr_assert_eq(sync_fe(&f, 1, NULL), 0, "%s", E.err);
	rn = slot0(&f).rev_nat_id;
	cr_assert_eq(E.mg.sets, 1);
	cr_assert_eq(E.mg.n, 1);
	cr_assert_eq(E.mg.id[0], rn);
	slot_ids(&f, ids);
	for (int i = 0; i < 3; i++) {
		want[i] = (struct berth_maglev_backend){ .id = ids[i],
							 .ip = mb[i].ip,
							 .port = mb[i].port,
							 .proto = IPPROTO_TCP };
	}
	cr_assert_eq(berth_maglev_fill(want, 3, t, BERTH_MAGLEV_M), 0);
	cr_assert(!memcmp(t, E.mg.table[0], BERTH_MAGLEV_M * sizeof(*t)));
	wm = wfind("maglev", 'U', -1);
	ws = wfind("services", 'U', 1);
	w0 = wfind("services", 'U', 0);
	cr_assert(wm < ws && ws < w0, "maglev %d slots %d slot0 %d", wm, ws,
		  w0);

	reset_writes();
	cr_assert_eq(sync_fe(&f, 1, NULL), 0, "%s", E.err);
	cr_assert_eq(E.mg.sets, 0);

	/* Only the timeout changes: slot 0, not the table. */
	f.affinity_timeout = 5;
	cr_assert_eq(sync_fe(&f, 1, NULL), 0, "%s", E.err);
	cr_assert_eq(E.mg.sets, 0);
	cr_assert_eq(E.svc.writes, 1);

	mb[1].terminating = true;
	cr_assert_eq(sync_fe(&f, 1, NULL), 0, "%s", E.err);
	cr_assert_eq(E.mg.sets, 1);
	for (int i = 0; i < BERTH_MAGLEV_M; i++)
		cr_assert_neq(E.mg.table[0][i], ids[1]);

	f.flags = 0;
	cr_assert_eq(sync_fe(&f, 1, NULL), 0, "%s", E.err);
	cr_assert_eq(E.mg.dels, 1);
	cr_assert_eq(E.mg.n, 0);
	/* ... deleted after slot 0 stopped asking for it. */
	cr_assert(wlast("services", 'U') < wfind("maglev", 'D', -1));

	f.flags = BERTH_SVC_F_MAGLEV;
	cr_assert_eq(sync_fe(&f, 1, NULL), 0, "%s", E.err);
	cr_assert_eq(E.mg.n, 1);
	cr_assert_eq(sync_fe(NULL, 0, NULL), 0, "%s", E.err);
	cr_assert_eq(E.mg.n, 0);
	free(t);
}

Test(lbmap, services_to_frontends)
{
	struct berth_svc_port ports[2] = {
		{ .name = "http",
		  .port = 80,
		  .target_port = 8080,
		  .proto = IPPROTO_TCP },
		{ .name = "dns",
		  .port = 53,
		  .target_port = 0,
		  .proto = IPPROTO_UDP },
	};
	struct berth_endpoint eps[2] = {
		{ .ip = 0x0100000a }, { .ip = 0x0200000a, .terminating = true }
	};
	struct berth_service svcs[2] = {
		{ .namespace = "default",
		  .name = "web",
		  .cluster_ip = 0x0a60000a,
		  .affinity = true,
		  .affinity_timeout = 60,
		  .algo = BERTH_LB_MAGLEV,
		  .ports = ports,
		  .nports = 2,
		  .endpoints = eps,
		  .nendpoints = 2 },
		{ .namespace = "default",
		  .name = "headless",
		  .cluster_ip = 0,
		  .ports = ports,
		  .nports = 1 },
	};
	struct berth_service_set set = { .svcs = svcs, .n = 2 };
	struct berth_frontend *fe;
	size_t n;

	cr_assert_eq(berth_services_to_frontends(&set, &fe, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_eq(fe[0].vip, 0x0a60000a);
	cr_assert_eq(fe[0].port, htons(80));
	cr_assert_eq(fe[0].proto, IPPROTO_TCP);
	cr_assert_eq(fe[0].flags, BERTH_SVC_F_AFFINITY | BERTH_SVC_F_MAGLEV);
	cr_assert_eq(fe[0].affinity_timeout, 60);
	cr_assert_eq(fe[0].nbackends, 2);
	cr_assert_eq(fe[0].backends[0].ip, 0x0100000a);
	cr_assert_eq(fe[0].backends[0].port, htons(8080));
	cr_assert(!fe[0].backends[0].terminating);
	cr_assert(fe[0].backends[1].terminating);
	cr_assert_eq(fe[1].port, htons(53));
	cr_assert_eq(fe[1].proto, IPPROTO_UDP);
	cr_assert_eq(fe[1].backends[1].port, htons(53), "targetPort = port");
	berth_frontends_free(fe, n);
}

/*
 * Randomised: after every sync the maps hold exactly the frontends, checked
 * from first principles, through restarts, gc and full maps.
 */

static bool terminating_anywhere(const struct berth_frontend *fe, size_t n,
				 const struct berth_fe_backend *b)
{
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < fe[i].nbackends; j++) {
			if (fe[i].backends[j].ip == b->ip &&
			    fe[i].backends[j].port == b->port &&
			    fe[i].backends[j].terminating)
				return true;
		}
	}
	return false;
}

/* Maglev frontends have the table of their slots' backends, others none. */
static void check_maglev(const struct berth_frontend *fe, size_t n)
{
	struct berth_maglev_backend mb[64];
	uint32_t ids[64], *t = malloc(BERTH_MAGLEV_M * sizeof(*t));
	struct berth_backend b;
	size_t i, j, c, nmg = 0;
	int at;

	cr_assert_not_null(t);
	for (i = 0; i < n; i++) {
		at = mg_find(&E.mg, slot0(&fe[i]).rev_nat_id);
		if (!(fe[i].flags & BERTH_SVC_F_MAGLEV)) {
			cr_assert_lt(at, 0, "frontend %zu: stale table", i);
			continue;
		}
		cr_assert_geq(at, 0, "frontend %zu: no table", i);
		nmg++;
		c = slot_ids(&fe[i], ids);
		for (j = 0; j < c; j++) {
			b = backend(ids[j]);
			mb[j] = (struct berth_maglev_backend){
				.id = ids[j],
				.ip = b.ip,
				.port = b.port,
				.proto = b.proto
			};
		}
		cr_assert_eq(berth_maglev_fill(mb, c, t, BERTH_MAGLEV_M), 0);
		cr_assert(!memcmp(t, E.mg.table[at],
				  BERTH_MAGLEV_M * sizeof(*t)),
			  "frontend %zu: table of other backends", i);
	}
	cr_assert_eq(E.mg.n, nmg);
	free(t);
}

static void check_maps_hold(const struct berth_frontend *fe, size_t n)
{
	size_t keys = 0, i, j, k, active;
	struct berth_svc_val v0;
	struct berth_rev_nat rn;
	struct berth_backend b;
	uint32_t ids[64];

	for (i = 0; i < n; i++) {
		v0 = slot0(&fe[i]);
		cr_assert_eq(v0.flags, fe[i].flags);
		cr_assert_eq(v0.affinity_timeout, fe[i].affinity_timeout);
		cr_assert_eq(E.rn.lookup(&E.rn, &v0.rev_nat_id, &rn), 0);
		cr_assert(rn.vip == fe[i].vip && rn.port == fe[i].port);
		/* Active: listed (once per address) and terminating nowhere. */
		for (j = 0, active = 0; j < fe[i].nbackends; j++) {
			for (k = 0; k < j; k++) {
				if (fe[i].backends[k].ip ==
					    fe[i].backends[j].ip &&
				    fe[i].backends[k].port ==
					    fe[i].backends[j].port)
					break;
			}
			if (k == j &&
			    !terminating_anywhere(fe, n, &fe[i].backends[j]))
				active++;
		}
		cr_assert_eq(v0.count, active, "frontend %zu", i);
		slot_ids(&fe[i], ids);
		for (j = 0; j < v0.count; j++) {
			b = backend(ids[j]);
			cr_assert_eq(b.flags, 0);
			for (k = 0; k < j; k++)
				cr_assert_neq(ids[k], ids[j]);
			for (k = 0; k < fe[i].nbackends; k++) {
				if (fe[i].backends[k].ip == b.ip &&
				    fe[i].backends[k].port == b.port)
					break;
			}
			cr_assert_lt(k, fe[i].nbackends,
				     "slot names a stranger");
		}
		keys += 1 + v0.count;
		for (j = 0; j < fe[i].nbackends; j++) {
			b = backend(id_of_addr(fe[i].backends[j].ip,
					       fe[i].backends[j].port));
			cr_assert_eq(b.flags & BERTH_BACKEND_F_TERMINATING,
				     terminating_anywhere(fe, n,
							  &fe[i].backends[j]) ?
					     BERTH_BACKEND_F_TERMINATING :
					     0);
		}
	}
	cr_assert_eq(count(&E.svc), keys);
	cr_assert_eq(count(&E.rn), n);
	check_maglev(fe, n);
}

static uint32_t xs(uint32_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 17;
	*s ^= *s << 5;
	return *s;
}

static void random_state(uint32_t *seed, struct berth_frontend *fe, size_t *n,
			 struct berth_fe_backend (*bk)[12])
{
	size_t i, j, nb;

	*n = xs(seed) % 7;
	for (i = 0; i < *n; i++) {
		nb = xs(seed) % 12;
		for (j = 0; j < nb; j++) {
			bk[i][j].ip = htonl(0x0a000000 + xs(seed) % 16);
			bk[i][j].port = htons(80);
			bk[i][j].terminating = xs(seed) % 6 == 0;
		}
		fe[i] = (struct berth_frontend){
			.vip = htonl(0x0a600000 + (uint32_t)i * 3 +
				     xs(seed) % 3),
			.port = htons(80),
			.proto = IPPROTO_TCP,
			.flags = xs(seed) % 4,
			.affinity_timeout = xs(seed) % 2 ? 60 : 0,
			.backends = bk[i],
			.nbackends = nb,
		};
		/* Two frontends on one vip would be a duplicate. */
		for (j = 0; j < i; j++) {
			if (fe[j].vip == fe[i].vip)
				fe[i].vip = htonl(0x0a610000 + (uint32_t)i);
		}
	}
}

static bool random_in_use(void *ctx, uint32_t id)
{
	return xs(ctx) % 2 && id;
}

Test(lbmap, random_syncs_match_maps, .timeout = 20)
{
	struct berth_fe_backend bk[8][12];
	struct berth_frontend fe[8];
	struct dump svc, be, rn;
	uint32_t seed = 2463534242u;
	size_t n, freed, full = 0, ok = 0;
	int err;

	teardown();
	setup_sized(40, 14, 6);
	for (int round = 0; round < 600; round++) {
		random_state(&seed, fe, &n, bk);
		if (round % 3 == 1) {
			/* Fail a write midway; maybe crash there, too. */
			fail_countdown = 1 + xs(&seed) % 12;
			err = sync_fe(fe, n, NULL);
			fail_countdown = 0;
			cr_assert(!err || err == -EIO || err == -E2BIG);
			if (err == -EIO && xs(&seed) % 2) {
				berth_lbmap_free(E.lb);
				cr_assert_eq(berth_lbmap_open(&E.lb, &E.maps),
					     0);
			}
		}
		svc = dump(&E.svc);
		be = dump(&E.be);
		rn = dump(&E.rn);
		reset_writes();
		err = sync_fe(fe, n, NULL);
		if (err == -E2BIG) {
			cr_assert_eq(map_writes(), 0, "round %d", round);
			cr_assert(dump_eq(svc, dump(&E.svc)));
			cr_assert(dump_eq(be, dump(&E.be)));
			cr_assert(dump_eq(rn, dump(&E.rn)));
			cr_assert_eq(berth_lbmap_gc(E.lb, NULL, NULL, &freed),
				     0);
			full++;
			continue;
		}
		free(svc.buf);
		free(be.buf);
		free(rn.buf);
		cr_assert_eq(err, 0, "round %d: %s", round, E.err);
		check_maps_hold(fe, n);
		ok++;
		reset_writes();
		cr_assert_eq(sync_fe(fe, n, NULL), 0, "%s", E.err);
		cr_assert_eq(map_writes(), 0, "round %d: resync wrote", round);
		if (round % 5 == 0)
			cr_assert_eq(berth_lbmap_gc(E.lb, random_in_use, &seed,
						    &freed),
				     0);
		if (round % 7 == 0) {
			berth_lbmap_free(E.lb);
			cr_assert_eq(berth_lbmap_open(&E.lb, &E.maps), 0);
			reset_writes();
			cr_assert_eq(sync_fe(fe, n, NULL), 0, "%s", E.err);
			cr_assert_eq(map_writes(), 0, "round %d: restart wrote",
				     round);
		}
	}
	cr_log_info("random: %zu synced, %zu full", ok, full);
	/* Both paths must have been taken for the test to mean anything. */
	cr_assert(ok > 200 && full > 40, "%zu synced, %zu full", ok, full);
}

/* Scale: 10,000 frontends x 10 backends. */

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

#define NFE 10000
#define NBE 10

Test(lbmap, scale_10k_frontends, .timeout = 20)
{
	struct berth_fe_backend *bk = calloc(NFE * NBE, sizeof(*bk));
	struct berth_frontend *fe = calloc(NFE, sizeof(*fe));
	struct berth_sync_stats st;
	double t, full, one = 1e9;
	size_t i, j;

	teardown();
	setup_sized(NFE * (NBE + 2), NFE * NBE + 16, NFE + 16);
	cr_assert(bk && fe);
	for (i = 0; i < NFE; i++) {
		fe[i] = (struct berth_frontend){
			.vip = htonl(0x0a600000 + (uint32_t)i),
			.port = htons(80),
			.proto = IPPROTO_TCP,
			.backends = bk + i * NBE,
			.nbackends = NBE,
		};
		for (j = 0; j < NBE; j++) {
			bk[i * NBE + j].ip =
				htonl(0x0a800000 + (uint32_t)(i * NBE + j));
			bk[i * NBE + j].port = htons(8080);
		}
	}
	t = now_ms();
	cr_assert_eq(sync_fe(fe, NFE, &st), 0, "%s", E.err);
	full = now_ms() - t;
	cr_assert_eq(st.writes, NFE * (NBE + 2) + NFE * NBE);

	/* One backend of one frontend changes, a few times over. */
	for (int round = 0; round < 5; round++) {
		bk[(round * 977) * NBE + 3].port = htons(9000 + round);
		t = now_ms();
		cr_assert_eq(sync_fe(fe, NFE, &st), 0, "%s", E.err);
		t = now_ms() - t;
		one = t < one ? t : one;
		cr_assert_eq(st.frontends_changed, 1);
		cr_assert_eq(st.writes, 3,
			     "new backend, its slot, the old one terminating");
	}
	t = now_ms();
	cr_assert_eq(sync_fe(fe, NFE, &st), 0, "%s", E.err);
	t = now_ms() - t;
	cr_assert_eq(st.writes, 0);
	cr_log_info("sync 10k x 10: full %.1f ms, one change %.2f ms, "
		    "no change %.2f ms",
		    full, one, t);
	/* Generous: sanitizer builds and loaded machines run this too. */
	cr_assert_lt(full, 1000.0);
	cr_assert_lt(one, 50.0);
	free(bk);
	free(fe);
}

/* The memory maps the tests stand on behave like BPF_MAP_TYPE_HASH. */

Test(mapops, hash_semantics)
{
	struct berth_map m;
	uint32_t k, v, nk, seen = 0;
	int err;

	cr_assert_eq(berth_map_init_mem(&m, "t", 4, 4, 100), 0);
	cr_assert_eq(m.next_key(&m, NULL, &k), -ENOENT);
	for (k = 0; k < 100; k++) {
		v = k * 2;
		cr_assert_eq(m.update(&m, &k, &v), 0);
	}
	k = 100;
	cr_assert_eq(m.update(&m, &k, &v), -E2BIG);
	k = 5;
	v = 7;
	cr_assert_eq(m.update(&m, &k, &v), 0, "overwrite when full");
	cr_assert_eq(m.lookup(&m, &k, &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(m.writes, 101);

	/* Walk and delete as we go: every key seen once. */
	for (err = m.next_key(&m, NULL, &k); !err; k = nk) {
		seen++;
		err = m.next_key(&m, &k, &nk);
		cr_assert_eq(m.delete(&m, &k), 0);
	}
	cr_assert_eq(err, -ENOENT);
	cr_assert_eq(seen, 100);
	cr_assert_eq(m.delete(&m, &k), -ENOENT);
	cr_assert_eq(m.lookup(&m, &k, &v), -ENOENT);
	cr_assert_eq(m.writes, 201);

	/* A key that is gone restarts the walk from the first key. */
	for (k = 1; k <= 3; k++)
		cr_assert_eq(m.update(&m, &k, &v), 0);
	k = 50;
	cr_assert_eq(m.next_key(&m, &k, &nk), 0);
	cr_assert_eq(m.next_key(&m, NULL, &k), 0);
	cr_assert_eq(nk, k);
	berth_map_free_mem(&m);
}

Test(mapops, million_entries, .timeout = 20)
{
	struct berth_map m;
	struct key16 {
		uint32_t a, b, c, d;
	} k = { 0 }, nk;
	uint64_t v[2] = { 0 };
	uint32_t i, n = 1100000, seen = 0;
	double t = now_ms();
	int err;

	cr_assert_eq(berth_map_init_mem(&m, "ct", 16, 16, n), 0);
	for (i = 0; i < n; i++) {
		k.a = i * 2654435761u;
		k.d = i;
		v[0] = i;
		cr_assert_eq(m.update(&m, &k, v), 0);
	}
	for (i = 0; i < n; i += 7) {
		k.a = i * 2654435761u;
		k.d = i;
		cr_assert_eq(m.lookup(&m, &k, v), 0);
		cr_assert_eq(v[0], i);
	}
	for (err = m.next_key(&m, NULL, &k); !err;
	     err = m.next_key(&m, &k, &nk), k = nk)
		seen++;
	cr_assert_eq(seen, n);
	cr_log_info("memory map: 1.1M inserts, lookups, walk: %.0f ms",
		    now_ms() - t);
	berth_map_free_mem(&m);
}
