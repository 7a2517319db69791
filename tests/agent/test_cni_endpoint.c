// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The agent's endpoint socket: the protocol through berth_endpoint_handle()
 * and one real connection, with fake attach/detach (no privileges). */
#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <json-c/json.h>

#include <berth/abi/route.h>

#include "../../userspace/agent/endpoint.h"

static char root[64];
static int attached, detached;

static int fake_attach(void *ctx, const char *ifname)
{
	(void)ctx;
	(void)ifname;
	attached++;
	return 0;
}

static int fake_detach(void *ctx, const char *ifname)
{
	(void)ctx;
	(void)ifname;
	detached++;
	return 0;
}

static int fake_attached(void *ctx, const char *ifname)
{
	(void)ctx;
	(void)ifname;
	return attached > detached;
}

static struct berth_endpoint_server *start(void)
{
	struct berth_endpoint_config cfg = {
		.root = root,
		.pod_cidr = "10.3.0.0/24",
		.ops = { fake_attach, fake_detach, fake_attached, NULL, NULL },
	};
	struct berth_endpoint_server *srv = NULL;

	cr_assert_eq(berth_endpoint_server_start(&cfg, &srv), 0, "start");
	return srv;
}

static void setup(void)
{
	snprintf(root, sizeof(root), "/tmp/berth-ep-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	attached = detached = 0;
}

static void teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd))
		cr_log_warn("rm %s failed", root);
}

static bool reply_ok(char *r)
{
	json_object *o = json_tokener_parse(r), *v;
	bool ok = o && json_object_object_get_ex(o, "ok", &v) &&
		  json_object_get_boolean(v);

	json_object_put(o);
	free(r);
	return ok;
}

/* "lo" exists in every netns, so add can find its host interface */
#define ADD_LO                                                                 \
	"{\"op\":\"add\",\"containerID\":\"c1\",\"ifname\":\"eth0\","          \
	"\"hostIfname\":\"lo\",\"ip\":\"10.3.0.2\",\"podName\":\"p\","         \
	"\"podNamespace\":\"ns\"}"

Test(endpoint, add_check_del, .init = setup, .fini = teardown)
{
	struct berth_endpoint_server *srv = start();
	struct berth_cni_endpoint ep;

	cr_expect(reply_ok(berth_endpoint_handle(srv, ADD_LO)));
	cr_expect_eq(attached, 1, "add attaches before it answers");
	cr_assert_eq(berth_endpoint_lookup(srv, "c1", "eth0", &ep), 0);
	cr_expect_str_eq(ep.ip, "10.3.0.2");
	cr_expect_str_eq(ep.pod_namespace, "ns");
	cr_expect(reply_ok(berth_endpoint_handle(
		srv, "{\"op\":\"check\",\"containerID\":\"c1\",\"ifname\":\"eth0\"}")));
	cr_expect(reply_ok(berth_endpoint_handle(
		srv, "{\"op\":\"del\",\"containerID\":\"c1\",\"ifname\":\"eth0\"}")));
	cr_expect_eq(detached, 1);
	cr_expect(reply_ok(berth_endpoint_handle(
			  srv, "{\"op\":\"del\",\"containerID\":\"c1\",\"ifname\":\"eth0\"}")),
		  "del is idempotent");
	cr_expect(!reply_ok(berth_endpoint_handle(
			  srv, "{\"op\":\"check\",\"containerID\":\"c1\",\"ifname\":\"eth0\"}")),
		  "check of an unknown endpoint fails");
	berth_endpoint_server_stop(srv);
}

Test(endpoint, bad_requests, .init = setup, .fini = teardown)
{
	struct berth_endpoint_server *srv = start();

	cr_expect(!reply_ok(berth_endpoint_handle(srv, "nope")));
	cr_expect(!reply_ok(berth_endpoint_handle(srv, "{\"op\":\"dance\"}")));
	cr_expect(!reply_ok(berth_endpoint_handle(
		srv, "{\"op\":\"add\",\"containerID\":\"../x\",\"ifname\":\"eth0\"}")));
	cr_expect(!reply_ok(berth_endpoint_handle(
		srv, "{\"op\":\"add\",\"containerID\":\"c\",\"ifname\":\"eth0\","
		     "\"hostIfname\":\"nosuchif0\"}")));
	cr_expect_eq(attached, 0);
	berth_endpoint_server_stop(srv);
}

Test(endpoint, table_survives_restart_and_gc, .init = setup, .fini = teardown)
{
	struct berth_endpoint_server *srv = start();
	struct berth_cni_endpoint ep;

	cr_expect(reply_ok(berth_endpoint_handle(srv, ADD_LO)));
	berth_endpoint_server_stop(srv);
	srv = start();
	cr_expect_eq(attached, 2, "restart re-attaches");
	cr_expect_eq(berth_endpoint_lookup(srv, "c1", "eth0", &ep), 0);
	cr_expect(reply_ok(berth_endpoint_handle(
		srv, "{\"op\":\"gc\",\"valid\":[{\"containerID\":\"other\"}]}")));
	cr_expect_eq(berth_endpoint_lookup(srv, "c1", "eth0", &ep), -ENOENT);
	berth_endpoint_server_stop(srv);
}

Test(endpoint, socket_roundtrip_and_mode, .init = setup, .fini = teardown)
{
	struct berth_endpoint_server *srv = start();
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	const char *req = "{\"op\":\"status\"}";
	char buf[512] = "";
	struct stat st;
	ssize_t n, off = 0;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/agent.sock", root);
	cr_assert_eq(stat(sa.sun_path, &st), 0);
	cr_expect_eq(st.st_mode & 0777, 0600, "socket mode %o", st.st_mode);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	cr_assert_eq(write(fd, req, strlen(req)), (ssize_t)strlen(req));
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf + off, sizeof(buf) - 1 - off)) > 0)
		off += n;
	close(fd);
	cr_expect(strstr(buf, "\"podCIDR\":\"10.3.0.0\\/24\"") ||
			  strstr(buf, "\"podCIDR\":\"10.3.0.0/24\""),
		  "status: %s", buf);
	berth_endpoint_server_stop(srv);
	cr_expect_neq(stat(sa.sun_path, &st), 0, "stop removes the socket");
}

/* ---- the endpoints map (a memory map stands in for the BPF one) ---- */

static struct berth_map epmap;

static struct berth_endpoint_server *start_map(unsigned int mtu)
{
	struct berth_endpoint_config cfg = {
		.root = root,
		.pod_cidr = "10.3.0.0/24",
		.ops = { fake_attach, fake_detach, fake_attached, NULL, NULL },
		.endpoints = &epmap,
		.mtu = mtu,
	};
	struct berth_endpoint_server *srv = NULL;

	cr_assert_eq(berth_endpoint_server_start(&cfg, &srv), 0, "start");
	return srv;
}

static void setup_map(void)
{
	setup();
	cr_assert_eq(berth_map_init_mem(&epmap, "endpoints", 4,
					sizeof(struct berth_endpoint_info), 8),
		     0);
}

static void teardown_map(void)
{
	berth_map_free_mem(&epmap);
	teardown();
}

static uint32_t ip4(const char *s)
{
	struct in_addr a;

	cr_assert_eq(inet_pton(AF_INET, s, &a), 1);
	return a.s_addr;
}

static int ep_entry(const char *ip, struct berth_endpoint_info *v)
{
	uint32_t k = ip4(ip);

	return epmap.lookup(&epmap, &k, v);
}

#define ADD_LO_MAC(id, ip)                                                \
	"{\"op\":\"add\",\"containerID\":\"" id "\",\"ifname\":\"eth0\"," \
	"\"hostIfname\":\"lo\",\"ip\":\"" ip                              \
	"\",\"mac\":\"0a:58:0a:03:00:02\"}"
#define DEL(id) \
	"{\"op\":\"del\",\"containerID\":\"" id "\",\"ifname\":\"eth0\"}"

Test(endpoint, map_written_on_add_deleted_on_del, .init = setup_map,
     .fini = teardown_map)
{
	struct berth_endpoint_server *srv = start_map(0);
	struct berth_endpoint_info v;
	const uint8_t mac[6] = { 0x0a, 0x58, 0x0a, 0x03, 0x00, 0x02 };
	const uint8_t zero[6] = { 0 };

	cr_expect(reply_ok(
		berth_endpoint_handle(srv, ADD_LO_MAC("c1", "10.3.0.2"))));
	cr_assert_eq(ep_entry("10.3.0.2", &v), 0,
		     "entry written before the reply");
	cr_expect_eq(v.ifindex, if_nametoindex("lo"), "host veth ifindex");
	cr_expect_arr_eq(v.mac, mac, 6, "pod MAC");
	cr_expect_arr_eq(v.host_mac, zero, 6, "host side MAC (lo's)");
	cr_expect(reply_ok(berth_endpoint_handle(srv, DEL("c1"))));
	cr_expect_eq(ep_entry("10.3.0.2", &v), -ENOENT,
		     "del removes the entry");
	berth_endpoint_server_stop(srv);
}

Test(endpoint, map_readd_new_ip_and_gc, .init = setup_map, .fini = teardown_map)
{
	struct berth_endpoint_server *srv = start_map(0);
	struct berth_endpoint_info v;

	cr_expect(reply_ok(
		berth_endpoint_handle(srv, ADD_LO_MAC("c1", "10.3.0.2"))));
	cr_expect(reply_ok(
		berth_endpoint_handle(srv, ADD_LO_MAC("c1", "10.3.0.9"))));
	cr_expect_eq(ep_entry("10.3.0.2", &v), -ENOENT,
		     "a re-ADD with a new address drops the old entry");
	cr_expect_eq(ep_entry("10.3.0.9", &v), 0);
	cr_expect(reply_ok(berth_endpoint_handle(
		srv,
		"{\"op\":\"gc\",\"valid\":[{\"containerID\":\"other\"}]}")));
	cr_expect_eq(ep_entry("10.3.0.9", &v), -ENOENT, "gc removes the entry");
	berth_endpoint_server_stop(srv);
}

Test(endpoint, map_restored_and_pruned_at_start, .init = setup_map,
     .fini = teardown_map)
{
	struct berth_endpoint_server *srv = start_map(0);
	struct berth_endpoint_info v = { .ifindex = 99 };
	uint32_t stale = ip4("10.3.0.77"), k = ip4("10.3.0.2");

	cr_expect(reply_ok(
		berth_endpoint_handle(srv, ADD_LO_MAC("c1", "10.3.0.2"))));
	berth_endpoint_server_stop(srv);
	/* while the agent was down: a pod went without a DEL, and the
	 * entry of the one that stays was lost */
	cr_assert_eq(epmap.update(&epmap, &stale, &v), 0);
	cr_assert_eq(epmap.delete(&epmap, &k), 0);
	srv = start_map(0);
	cr_expect_eq(ep_entry("10.3.0.77", &v), -ENOENT, "stale entry pruned");
	cr_assert_eq(ep_entry("10.3.0.2", &v), 0, "recorded endpoint restored");
	cr_expect_eq(v.ifindex, if_nametoindex("lo"));
	berth_endpoint_server_stop(srv);
}

Test(endpoint, map_restore_keeps_policy_fields, .init = setup_map,
     .fini = teardown_map)
{
	struct berth_endpoint_server *srv = start_map(0);
	struct berth_endpoint_info v;
	uint32_t k = ip4("10.3.0.2");

	cr_expect(reply_ok(
		berth_endpoint_handle(srv, ADD_LO_MAC("c1", "10.3.0.2"))));
	berth_endpoint_server_stop(srv);
	/* the policy sync set them (abi/policy.h) */
	cr_assert_eq(ep_entry("10.3.0.2", &v), 0);
	v.identity = 4242;
	v.flags = 3;
	v.ifindex = 0;
	cr_assert_eq(epmap.update(&epmap, &k, &v), 0);
	srv = start_map(0);
	cr_assert_eq(ep_entry("10.3.0.2", &v), 0);
	cr_expect_eq(v.ifindex, if_nametoindex("lo"), "rewritten on restore");
	cr_expect_eq(v.identity, 4242, "identity kept");
	cr_expect_eq(v.flags, 3, "enforcement kept");
	berth_endpoint_server_stop(srv);
}

Test(endpoint, map_write_failure_fails_add, .init = setup_map,
     .fini = teardown_map)
{
	struct berth_endpoint_server *srv = start_map(0);
	struct berth_cni_endpoint ep;
	char *r;

	r = berth_endpoint_handle(srv, ADD_LO);
	cr_expect(strstr(r, "endpoints map"), "no MAC: %s", r);
	cr_expect(!reply_ok(r), "an ADD whose entry cannot be written fails");
	cr_expect_eq(detached, 1, "and is detached again");
	cr_expect_eq(berth_endpoint_lookup(srv, "c1", "eth0", &ep), -ENOENT);
	berth_endpoint_server_stop(srv);
}

Test(endpoint, status_mtu, .init = setup_map, .fini = teardown_map)
{
	struct berth_endpoint_server *srv = start_map(1450);
	char *r = berth_endpoint_handle(srv, "{\"op\":\"status\"}");

	cr_expect(strstr(r, "\"mtu\":1450"), "%s", r);
	free(r);
	berth_endpoint_server_stop(srv);
	srv = start();
	r = berth_endpoint_handle(srv, "{\"op\":\"status\"}");
	cr_expect(!strstr(r, "\"mtu\""), "no MTU known: none said: %s", r);
	free(r);
	berth_endpoint_server_stop(srv);
}

/* ---- ADDs at once share the wait for their policy pass ---- */

#define SLOW_ADDED_MS 300

static int added_calls;

static void slow_added(void *ctx, const struct berth_cni_endpoint *ep)
{
	(void)ctx;
	(void)ep;
	__atomic_add_fetch(&added_calls, 1, __ATOMIC_SEQ_CST);
	usleep(SLOW_ADDED_MS * 1000);
}

struct adder {
	int i;
	bool ok;
};

static void *add_one(void *arg)
{
	struct adder *a = arg;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char req[512], buf[512] = "";
	ssize_t n, off = 0;
	int fd;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/agent.sock", root);
	snprintf(
		req, sizeof(req),
		"{\"op\":\"add\",\"containerID\":\"c%d\",\"ifname\":\"eth0\","
		"\"hostIfname\":\"lo\",\"ip\":\"10.3.0.%d\",\"podName\":\"p%d\","
		"\"podNamespace\":\"ns\"}\n",
		a->i, a->i + 2, a->i);
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    write(fd, req, strlen(req)) != (ssize_t)strlen(req))
		return NULL;
	shutdown(fd, SHUT_WR);
	while ((n = read(fd, buf + off, sizeof(buf) - 1 - off)) > 0)
		off += n;
	close(fd);
	a->ok = reply_ok(strdup(buf));
	return NULL;
}

Test(endpoint, concurrent_adds_wait_together, .init = setup, .fini = teardown)
{
	struct berth_endpoint_config cfg = {
		.root = root,
		.pod_cidr = "10.3.0.0/24",
		.ops = { fake_attach, fake_detach, fake_attached, NULL, NULL },
		.added = slow_added,
	};
	struct berth_endpoint_server *srv = NULL;
	struct adder a[4];
	pthread_t t[4];
	struct timespec t0, t1;
	long ms;

	cr_assert_eq(berth_endpoint_server_start(&cfg, &srv), 0, "start");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct adder){ .i = i };
		pthread_create(&t[i], NULL, add_one, &a[i]);
	}
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	ms = (t1.tv_sec - t0.tv_sec) * 1000 +
	     (t1.tv_nsec - t0.tv_nsec) / 1000000;
	berth_endpoint_server_stop(srv);
	for (int i = 0; i < 4; i++)
		cr_expect(a[i].ok, "add %d answered ok", i);
	cr_expect_eq(added_calls, 4);
	cr_expect_geq(ms, SLOW_ADDED_MS, "an answer waits for its pass: %ld ms",
		      ms);
	cr_expect_lt(ms, 3 * SLOW_ADDED_MS,
		     "4 ADDs waited %ld ms: one after the other (%d ms each)?",
		     ms, SLOW_ADDED_MS);
}

/* ---- ADDs of different pods attach side by side ---- */

#define SLOW_ATTACH_MS 300

static int attach_calls;

static int slow_attach(void *ctx, const char *ifname)
{
	(void)ctx;
	(void)ifname;
	__atomic_add_fetch(&attach_calls, 1, __ATOMIC_SEQ_CST);
	usleep(SLOW_ATTACH_MS * 1000);
	return 0;
}

static long ms_since(const struct timespec *t0)
{
	struct timespec t1;

	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0->tv_sec) * 1000 +
	       (t1.tv_nsec - t0->tv_nsec) / 1000000;
}

/* the table lock held each attach (~10 ms of netlink, more in a burst):
 * 4 ADDs took 4 attaches in a row, and a STATUS (asked before every ADD)
 * waited behind them all */
Test(endpoint, concurrent_adds_attach_together, .init = setup,
     .fini = teardown)
{
	struct berth_endpoint_config cfg = {
		.root = root,
		.pod_cidr = "10.3.0.0/24",
		.ops = { slow_attach, fake_detach, fake_attached, NULL, NULL },
	};
	struct berth_endpoint_server *srv = NULL;
	struct adder a[4];
	pthread_t t[4];
	struct timespec t0, ts;
	long ms, status_ms;
	char *r;

	cr_assert_eq(berth_endpoint_server_start(&cfg, &srv), 0, "start");
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < 4; i++) {
		a[i] = (struct adder){ .i = i };
		pthread_create(&t[i], NULL, add_one, &a[i]);
	}
	usleep(50 * 1000); /* the ADDs are in their attach */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r = berth_endpoint_handle(srv, "{\"op\":\"status\"}");
	status_ms = ms_since(&ts);
	cr_expect(reply_ok(r), "status answered ok");
	for (int i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	ms = ms_since(&t0);
	r = berth_endpoint_handle(srv, "{\"op\":\"status\"}");
	cr_expect(r && strstr(r, "\"endpoints\":4"), "status counts 4: %s", r);
	free(r);
	berth_endpoint_server_stop(srv);
	for (int i = 0; i < 4; i++)
		cr_expect(a[i].ok, "add %d answered ok", i);
	cr_expect_eq(attach_calls, 4);
	cr_expect_lt(ms, 3 * SLOW_ATTACH_MS,
		     "4 ADDs took %ld ms: attached one after the other (%d ms each)?",
		     ms, SLOW_ATTACH_MS);
	cr_expect_lt(status_ms, SLOW_ATTACH_MS,
		     "status waited %ld ms for the ADDs' attaches", status_ms);
}
