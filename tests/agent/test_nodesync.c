// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Nodes -> ipcache and host routes: the diff, on a memory map and fake routes. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <berth/abi/route.h>

#include "../../userspace/agent/nodesync.h"

#define MAXR 16

/* fake host routes: a table in memory */
struct fake_routes {
	struct berth_hostroute r[MAXR];
	size_t n;
	int calls;
};

static int f_list(void *ctx, struct berth_hostroute **out, size_t *n)
{
	struct fake_routes *f = ctx;

	*out = malloc(sizeof(f->r));
	memcpy(*out, f->r, sizeof(f->r));
	*n = f->n;
	return 0;
}

static int f_replace(void *ctx, const struct berth_hostroute *r)
{
	struct fake_routes *f = ctx;

	f->calls++;
	for (size_t i = 0; i < f->n; i++) {
		if (f->r[i].dst == r->dst && f->r[i].prefix == r->prefix) {
			f->r[i] = *r;
			return 0;
		}
	}
	cr_assert_lt(f->n, MAXR);
	f->r[f->n++] = *r;
	return 0;
}

static int f_del(void *ctx, const struct berth_hostroute *r)
{
	struct fake_routes *f = ctx;

	f->calls++;
	for (size_t i = 0; i < f->n; i++) {
		if (f->r[i].dst == r->dst && f->r[i].prefix == r->prefix) {
			f->r[i] = f->r[--f->n];
			return 0;
		}
	}
	return -ESRCH;
}

static struct fake_routes fr;
static struct berth_route_ops ops = { .list = f_list,
				      .replace = f_replace,
				      .del = f_del,
				      .ctx = &fr };
static struct berth_map ipc;
/* the memory map's own (exact) lookup, for the assertions */
static int (*exact)(struct berth_map *m, const void *key, void *value);
static json_object *objs[8];
static size_t nobjs;

static void setup(void)
{
	memset(&fr, 0, sizeof(fr));
	nobjs = 0;
	cr_assert_eq(berth_map_init_mem(&ipc, "ipcache",
					sizeof(struct berth_ipcache_key),
					sizeof(struct berth_ipcache_val), 64),
		     0);
	exact = ipc.lookup;
}

static void teardown(void)
{
	for (size_t i = 0; i < nobjs; i++)
		json_object_put(objs[i]);
	berth_map_free_mem(&ipc);
}

static uint32_t ip(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1, "%s", s);
	return a.s_addr;
}

static void node(const char *name, const char *cidr, const char *addr)
{
	char buf[512];

	snprintf(
		buf, sizeof(buf),
		"{\"metadata\":{\"name\":\"%s\"},\"spec\":{%s%s%s},"
		"\"status\":{\"addresses\":[{\"type\":\"Hostname\",\"address\":\"%s\"}%s%s%s]}}",
		name, cidr ? "\"podCIDR\":\"" : "", cidr ? cidr : "",
		cidr ? "\"" : "", name,
		addr ? ",{\"type\":\"InternalIP\",\"address\":\"" : "",
		addr ? addr : "", addr ? "\"}" : "");
	objs[nobjs] = json_tokener_parse(buf);
	cr_assert_not_null(objs[nobjs], "%s", buf);
	nobjs++;
}

static void drop_node(const char *name)
{
	for (size_t i = 0; i < nobjs; i++) {
		json_object *meta;

		json_object_object_get_ex(objs[i], "metadata", &meta);
		if (strcmp(json_object_get_string(
				   json_object_object_get(meta, "name")),
			   name))
			continue;
		json_object_put(objs[i]);
		objs[i] = objs[--nobjs];
		return;
	}
	cr_assert_fail("no node %s", name);
}

static struct berth_nodesync_stats sync_as(const char *self)
{
	struct berth_nodesync_stats st;
	struct berth_node_route *r;
	size_t n;

	cr_assert_eq(berth_nodes_parse(objs, nobjs, self, &r, &n), 0);
	cr_assert_eq(berth_nodesync(&ipc, &ops, r, n, 1450, &st), 0);
	free(r);
	return st;
}

static struct berth_ipcache_val lookup(const char *addr, uint32_t prefix)
{
	struct berth_ipcache_key k = { .prefixlen = prefix, .ip = ip(addr) };
	struct berth_ipcache_val v;

	cr_assert_eq(exact(&ipc, &k, &v), 0, "ipcache has %s/%u", addr, prefix);
	return v;
}

static bool has_entry(const char *addr, uint32_t prefix)
{
	struct berth_ipcache_key k = { .prefixlen = prefix, .ip = ip(addr) };
	struct berth_ipcache_val v;

	return exact(&ipc, &k, &v) == 0;
}

static size_t entries(void)
{
	struct berth_ipcache_key k, next, *prev = NULL;
	size_t n = 0;

	while (!ipc.next_key(&ipc, prev, &next) && n < 1000) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

TestSuite(nodesync, .init = setup, .fini = teardown);

Test(nodesync, two_nodes)
{
	struct berth_ipcache_val v;

	node("a", "10.1.0.0/24", "192.168.5.1");
	node("b", "10.1.1.0/24", "192.168.5.2");
	sync_as("a");

	v = lookup("10.1.0.0", 24);
	cr_expect_eq(v.tunnel_ip, 0, "own pods are not tunnelled");
	cr_expect_eq(v.flags, BERTH_IPCACHE_F_POD | BERTH_IPCACHE_F_LOCAL);
	v = lookup("10.1.1.0", 24);
	cr_expect_eq(v.tunnel_ip, ip("192.168.5.2"), "b's pods via b");
	cr_expect_eq(v.flags, BERTH_IPCACHE_F_POD);
	v = lookup("192.168.5.1", 32);
	cr_expect_eq(v.flags, BERTH_IPCACHE_F_NODE | BERTH_IPCACHE_F_LOCAL);
	cr_expect_eq(v.tunnel_ip, 0);
	v = lookup("192.168.5.2", 32);
	cr_expect_eq(v.flags, BERTH_IPCACHE_F_NODE);
	cr_expect_eq(entries(), 4);

	cr_assert_eq(fr.n, 1, "one route: to b's pods, none to our own");
	cr_expect_eq(fr.r[0].dst, ip("10.1.1.0"));
	cr_expect_eq(fr.r[0].prefix, 24);
	cr_expect_eq(fr.r[0].src, ip("192.168.5.1"), "source: our node IP");
	cr_expect_eq(fr.r[0].mtu, 1450);
}

Test(nodesync, unchanged_writes_nothing)
{
	struct berth_nodesync_stats st;
	uint64_t writes;

	node("a", "10.1.0.0/24", "192.168.5.1");
	node("b", "10.1.1.0/24", "192.168.5.2");
	st = sync_as("a");
	cr_expect_eq(st.ipcache_written, 4);
	cr_expect_eq(st.routes_added, 1);
	writes = ipc.writes;
	fr.calls = 0;
	st = sync_as("a");
	cr_expect_eq(ipc.writes, writes, "a second sync writes no map entry");
	cr_expect_eq(fr.calls, 0, "and touches no route");
	cr_expect_eq(st.ipcache_written + st.ipcache_deleted + st.routes_added +
			     st.routes_deleted,
		     0);
}

Test(nodesync, node_added_and_deleted)
{
	struct berth_nodesync_stats st;

	node("a", "10.1.0.0/24", "192.168.5.1");
	sync_as("a");
	cr_expect_eq(fr.n, 0);
	node("c", "10.1.2.0/24", "192.168.5.3");
	st = sync_as("a");
	cr_expect_eq(st.ipcache_written, 2, "c's CIDR and /32");
	cr_expect_eq(fr.n, 1);
	drop_node("c");
	st = sync_as("a");
	cr_expect_eq(st.ipcache_deleted, 2);
	cr_expect_eq(st.routes_deleted, 1);
	cr_expect_eq(fr.n, 0, "c's route is gone");
	cr_expect(!has_entry("10.1.2.0", 24));
	cr_expect(!has_entry("192.168.5.3", 32));
	cr_expect(has_entry("10.1.0.0", 24), "our own stays");
}

Test(nodesync, stale_entries_and_routes_removed)
{
	struct berth_ipcache_key k = { .prefixlen = 16, .ip = ip("10.9.0.0") };
	struct berth_ipcache_val v = { .tunnel_ip = ip("1.2.3.4"),
				       .flags = BERTH_IPCACHE_F_POD };

	/* what an earlier agent left: a node that is gone, a route with an
	 * old MTU to a node that is still there */
	cr_assert_eq(ipc.update(&ipc, &k, &v), 0);
	fr.r[fr.n++] = (struct berth_hostroute){ .dst = ip("10.9.0.0"),
						 .prefix = 16,
						 .src = ip("192.168.5.1"),
						 .mtu = 1450 };
	fr.r[fr.n++] = (struct berth_hostroute){ .dst = ip("10.1.1.0"),
						 .prefix = 24,
						 .src = ip("192.168.5.1"),
						 .mtu = 1400 };
	node("a", "10.1.0.0/24", "192.168.5.1");
	node("b", "10.1.1.0/24", "192.168.5.2");
	sync_as("a");
	cr_expect(!has_entry("10.9.0.0", 16), "stale ipcache entry removed");
	cr_assert_eq(fr.n, 1);
	cr_expect_eq(fr.r[0].dst, ip("10.1.1.0"));
	cr_expect_eq(fr.r[0].mtu, 1450, "route with the wrong MTU replaced");
}

Test(nodesync, changed_node_ip_rewritten)
{
	struct berth_ipcache_val v;

	node("a", "10.1.0.0/24", "192.168.5.1");
	node("b", "10.1.1.0/24", "192.168.5.2");
	sync_as("a");
	drop_node("b");
	node("b", "10.1.1.0/24", "192.168.5.9");
	sync_as("a");
	v = lookup("10.1.1.0", 24);
	cr_expect_eq(v.tunnel_ip, ip("192.168.5.9"));
	cr_expect(!has_entry("192.168.5.2", 32), "old node IP gone");
	cr_expect_eq(entries(), 4);
}

Test(nodesync, incomplete_nodes_left_out)
{
	struct berth_node_route *r;
	size_t n;

	node("a", "10.1.0.0/24", "192.168.5.1");
	node("nocidr", NULL, "192.168.5.4");
	node("noip", "10.1.4.0/24", NULL);
	node("v6", "fd00::/64", "192.168.5.6");
	node("bad", "10.1.5.0/33", "192.168.5.7");
	cr_assert_eq(berth_nodes_parse(objs, nobjs, "a", &r, &n), 0);
	cr_expect_eq(n, 1);
	cr_expect_str_eq(r[0].name, "a");
	cr_expect(r[0].self);
	free(r);
}

Test(nodesync, cidr_normalised)
{
	node("a", "10.1.0.0/24", "192.168.5.1");
	node("b", "10.1.1.7/24", "192.168.5.2");
	sync_as("a");
	cr_expect(has_entry("10.1.1.0", 24), "host bits cleared");
}

Test(nodesync, no_ipcache_map_routes_still)
{
	struct berth_map none = { .name = "ipcache" };
	struct berth_nodesync_stats st;
	struct berth_node_route *r;
	size_t n;

	node("a", "10.1.0.0/24", "192.168.5.1");
	node("b", "10.1.1.0/24", "192.168.5.2");
	cr_assert_eq(berth_nodes_parse(objs, nobjs, "a", &r, &n), 0);
	cr_expect_eq(berth_nodesync(&none, &ops, r, n, 1450, &st), 0,
		     "a datapath without the map is not an error");
	free(r);
	cr_expect_eq(fr.n, 1);
	cr_expect_eq(st.ipcache_written, 0);
}

/* A lookup with the kernel's LPM trie semantics: the longest stored prefix
 * (no longer than the key's) that covers the key's address. */
static int lpm_lookup(struct berth_map *m, const void *key, void *value)
{
	const struct berth_ipcache_key *want = key;
	struct berth_ipcache_key k, next, *prev = NULL, best;
	int found = 0;

	while (!m->next_key(m, prev, &next)) {
		uint32_t mask = next.prefixlen ?
					htonl(~0u << (32 - next.prefixlen)) :
					0;

		k = next;
		prev = &k;
		if (next.prefixlen > want->prefixlen ||
		    (next.ip & mask) != (want->ip & mask))
			continue;
		if (!found || next.prefixlen > best.prefixlen)
			best = next;
		found = 1;
	}
	return found ? exact(m, &best, value) : -ENOENT;
}

Test(nodesync, covering_prefix_does_not_hide_a_missing_entry)
{
	struct berth_ipcache_key k = { .prefixlen = 16, .ip = ip("10.1.0.0") };
	struct berth_ipcache_val v = { .tunnel_ip = ip("192.168.5.2"),
				       .flags = BERTH_IPCACHE_F_POD };

	/* a stale /16 whose value is what b's /24 must hold: an LPM lookup
	 * of the /24 finds it, yet the /24 is not in the map */
	ipc.lookup = lpm_lookup;
	cr_assert_eq(ipc.update(&ipc, &k, &v), 0);
	node("a", "10.2.0.0/24", "192.168.5.1");
	node("b", "10.1.1.0/24", "192.168.5.2");
	sync_as("a");
	cr_expect(has_entry("10.1.1.0", 24), "b's /24 written");
	cr_expect(!has_entry("10.1.0.0", 16), "stale /16 removed");
	cr_expect_eq(entries(), 4);
}
