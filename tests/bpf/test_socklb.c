// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket LB on a real kernel: the test process moves into a network
 * namespace and a cgroup v2 of its own, attaches sock.bpf.c there through
 * berth_socklb_attach() and talks to Service frontends with ordinary
 * sockets; backends are listeners on 127.0.0.x of that namespace.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include <berth/abi/lb.h>
#include <berth/abi/sock.h>
#include <berth/socklb.h>

#include "fixture.h"

#define VIP ip4(10, 96, 0, 10)
#define BE_BASE ip4(127, 0, 0, 1) /* backends 127.0.0.2, .3, ... */
#define SVC_PORT 80
#define BE_PORT 8080
#define NBE 3
#define WAIT_MS 2000

static struct {
	char cg2[256]; /* cgroup v2 mount */
	char orig[PATH_MAX]; /* our cgroup before the test, relative */
	char dir[PATH_MAX]; /* the test's cgroup */
	char sub[PATH_MAX + 8]; /* a child of it, for the move test */
	bool moved;
	struct berth_socklb *sl;
	int lis[NBE]; /* TCP listeners or UDP sockets of the backends */
} t = { .lis = { -1, -1, -1 } };

static bool cgroup2_mount(char *out, size_t len)
{
	char dev[256], dir[PATH_MAX], type[64];
	bool found = false;
	FILE *f = fopen("/proc/self/mounts", "r");

	if (!f)
		return false;
	while (!found &&
	       fscanf(f, "%255s %4095s %63s %*[^\n]", dev, dir, type) == 3)
		found = !strcmp(type, "cgroup2") &&
			snprintf(out, len, "%s", dir) < (int)len;
	fclose(f);
	return found;
}

/* Our cgroup v2 path ("0::/path" in /proc/self/cgroup). */
static bool own_cgroup(char *out, size_t len)
{
	char line[PATH_MAX + 8];
	bool found = false;
	FILE *f = fopen("/proc/self/cgroup", "r");

	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		if (strncmp(line, "0::", 3))
			continue;
		line[strcspn(line, "\n")] = '\0';
		found = snprintf(out, len, "%s", line + 3) < (int)len;
	}
	fclose(f);
	return found;
}

static int cgroup_enter(const char *dir)
{
	char path[PATH_MAX + 16], pid[32];
	int fd, n, err = 0;

	snprintf(path, sizeof(path), "%s/cgroup.procs", dir);
	n = snprintf(pid, sizeof(pid), "%d", (int)getpid());
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (write(fd, pid, n) != n)
		err = -errno;
	close(fd);
	return err;
}

static void lo_up(void)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0, "socket: %s", strerror(errno));
	strcpy(ifr.ifr_name, "lo");
	cr_assert_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0, "get lo flags: %s",
		     strerror(errno));
	ifr.ifr_flags |= IFF_UP;
	cr_assert_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0, "lo up: %s",
		     strerror(errno));
	close(fd);
}

static void teardown(void)
{
	char path[PATH_MAX * 2];

	for (int i = 0; i < NBE; i++) {
		if (t.lis[i] >= 0)
			close(t.lis[i]);
		t.lis[i] = -1;
	}
	berth_socklb_close(t.sl);
	t.sl = NULL;
	if (fx.pin_dir[0])
		berth_socklb_detach(fx.pin_dir);
	if (t.moved) {
		snprintf(path, sizeof(path), "%s%s", t.cg2, t.orig);
		if (cgroup_enter(path))
			cgroup_enter(t.cg2);
		t.moved = false;
	}
	if (t.sub[0] && rmdir(t.sub))
		cr_log_warn("rmdir %s: %s", t.sub, strerror(errno));
	t.sub[0] = '\0';
	if (t.dir[0] && rmdir(t.dir))
		cr_log_warn("rmdir %s: %s", t.dir, strerror(errno));
	t.dir[0] = '\0';
	fx_teardown();
	/* the network namespace goes with this process */
}

#define REQUIRE(cond, ...)                           \
	do {                                         \
		if (!(cond)) {                       \
			teardown();                  \
			cr_assert_fail(__VA_ARGS__); \
		}                                    \
	} while (0)

static void setup(void)
{
	int err;

	FX_NEED(cgroup_sock_addr);
	if (!cgroup2_mount(t.cg2, sizeof(t.cg2)) ||
	    !own_cgroup(t.orig, sizeof(t.orig)))
		cr_skip_test("no cgroup v2 hierarchy mounted");
	cr_assert_eq(unshare(CLONE_NEWNET), 0, "unshare(CLONE_NEWNET): %s",
		     strerror(errno));
	lo_up();
	fx_setup();
	snprintf(t.dir, sizeof(t.dir), "%s/berth-socklb-%d", t.cg2,
		 (int)getpid());
	if (mkdir(t.dir, 0755)) {
		t.dir[0] = '\0';
		REQUIRE(0, "mkdir cgroup: %s", strerror(errno));
	}
	err = cgroup_enter(t.dir);
	REQUIRE(!err, "enter %s: %s", t.dir, strerror(-err));
	t.moved = true;
	err = berth_socklb_attach(fx.dp, t.dir);
	REQUIRE(!err, "berth_socklb_attach(%s): %s", t.dir, strerror(-err));
	err = berth_socklb_open(&t.sl, fx.pin_dir);
	REQUIRE(!err, "berth_socklb_open: %s", strerror(-err));
}

TestSuite(socklb, .init = setup, .fini = teardown);

static struct sockaddr_in sin4(uint32_t ip, uint16_t port)
{
	return (struct sockaddr_in){ .sin_family = AF_INET,
				     .sin_addr.s_addr = ip,
				     .sin_port = htons(port) };
}

static const char *fmt_sin(const struct sockaddr_in *a)
{
	static char buf[4][32];
	static int n;
	char *b = buf[n++ % 4];

	snprintf(b, 32, "%s:%u", inet_ntoa(a->sin_addr), ntohs(a->sin_port));
	return b;
}

/* connect() to a over a new socket of this type must fail with want. */
static void expect_connect_fails(int type, uint32_t ip, uint16_t port, int want,
				 const char *why)
{
	struct sockaddr_in a = sin4(ip, port);
	int c = socket(AF_INET, type, 0);

	cr_assert_geq(c, 0, "socket: %s", strerror(errno));
	cr_assert_eq(connect(c, (struct sockaddr *)&a, sizeof(a)), -1,
		     "connect %s worked: %s", fmt_sin(&a), why);
	cr_assert_eq(errno, want, "connect %s: %s, want %s (%s)", fmt_sin(&a),
		     strerror(errno), strerror(want), why);
	close(c);
}

static uint32_t be_ip(int i)
{
	return htonl(ntohl(BE_BASE) + i + 1);
}

/* The frontend VIP:port with n backends 127.0.0.2.. on BE_PORT. */
static void frontend(uint8_t proto, uint8_t flags, size_t n)
{
	struct berth_fe_backend be[NBE];
	struct berth_frontend fe;

	fx_frontend_init(&fe, be, VIP, SVC_PORT, proto, BE_BASE, BE_PORT, n);
	fe.flags = flags;
	fe.affinity_timeout = BERTH_AFFINITY_TIMEOUT_DEFAULT;
	fx_sync(&fe, 1);
}

/* Backend sockets bound to 127.0.0.2.., listening if TCP. */
static void backends(int type, int n)
{
	struct sockaddr_in a;
	int one = 1;

	for (int i = 0; i < n; i++) {
		a = sin4(be_ip(i), BE_PORT);
		t.lis[i] = socket(AF_INET, type | SOCK_NONBLOCK, 0);
		cr_assert_geq(t.lis[i], 0, "socket: %s", strerror(errno));
		setsockopt(t.lis[i], SOL_SOCKET, SO_REUSEADDR, &one,
			   sizeof(one));
		cr_assert_eq(bind(t.lis[i], (struct sockaddr *)&a, sizeof(a)),
			     0, "bind %s: %s", fmt_sin(&a), strerror(errno));
		if (type == SOCK_STREAM)
			cr_assert_eq(listen(t.lis[i], 64), 0, "listen: %s",
				     strerror(errno));
	}
}

/* The backend with something to read (a connection, a datagram), or -1. */
static int ready_backend(int n)
{
	struct pollfd p[NBE];
	int hit = -1;

	for (int i = 0; i < n; i++)
		p[i] = (struct pollfd){ .fd = t.lis[i], .events = POLLIN };
	if (poll(p, n, WAIT_MS) <= 0)
		return -1;
	for (int i = 0; i < n; i++) {
		if (!(p[i].revents & POLLIN))
			continue;
		cr_assert_eq(hit, -1, "backends %d and %d both got the flow",
			     hit, i);
		hit = i;
	}
	return hit;
}

/* Does a backend have something to read right now? Its index or -1. */
static int ready_backend_now(void)
{
	struct pollfd p[NBE];

	for (int i = 0; i < NBE; i++)
		p[i] = (struct pollfd){ .fd = t.lis[i], .events = POLLIN };
	if (poll(p, NBE, 0) <= 0)
		return -1;
	for (int i = 0; i < NBE; i++) {
		if (p[i].revents & POLLIN)
			return i;
	}
	return -1;
}

/*
 * connect() to VIP:SVC_PORT over TCP and accept on the backends; returns
 * the backend index. getpeername() must say VIP, the backend must see
 * its own address as the local end.
 */
static int tcp_connect_vip(int n)
{
	struct sockaddr_in vip = sin4(VIP, SVC_PORT), peer, local;
	socklen_t len = sizeof(peer);
	int c, s, i;

	c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_geq(c, 0, "socket: %s", strerror(errno));
	cr_assert_eq(connect(c, (struct sockaddr *)&vip, sizeof(vip)), 0,
		     "connect %s: %s", fmt_sin(&vip), strerror(errno));
	cr_assert_eq(getpeername(c, (struct sockaddr *)&peer, &len), 0,
		     "getpeername: %s", strerror(errno));
	cr_assert(peer.sin_addr.s_addr == VIP && peer.sin_port == vip.sin_port,
		  "getpeername says %s, want the frontend %s", fmt_sin(&peer),
		  fmt_sin(&vip));
	i = ready_backend(n);
	cr_assert_geq(i, 0, "no backend got the connection to %s",
		      fmt_sin(&vip));
	s = accept(t.lis[i], NULL, NULL);
	cr_assert_geq(s, 0, "accept: %s", strerror(errno));
	len = sizeof(local);
	cr_assert_eq(getsockname(s, (struct sockaddr *)&local, &len), 0);
	cr_assert_eq(local.sin_addr.s_addr, be_ip(i), "accepted on %s",
		     fmt_sin(&local));
	close(s);
	close(c);
	return i;
}

Test(socklb, tcp_connect_reaches_backend_and_peer_is_vip)
{
	frontend(IPPROTO_TCP, 0, NBE);
	backends(SOCK_STREAM, NBE);
	tcp_connect_vip(NBE);
}

/* Echo one datagram on backend i back to its sender. */
static void udp_echo(int i)
{
	struct sockaddr_in from;
	socklen_t len = sizeof(from);
	char buf[64];
	ssize_t n;

	n = recvfrom(t.lis[i], buf, sizeof(buf), 0, (struct sockaddr *)&from,
		     &len);
	cr_assert_gt(n, 0, "backend %d recvfrom: %s", i, strerror(errno));
	cr_assert_eq(sendto(t.lis[i], buf, n, 0, (struct sockaddr *)&from, len),
		     n, "backend %d reply: %s", i, strerror(errno));
}

static void wait_readable(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };

	cr_assert_eq(poll(&p, 1, WAIT_MS), 1, "no reply within %d ms", WAIT_MS);
}

Test(socklb, udp_sendto_vip_reply_from_vip)
{
	struct sockaddr_in vip = sin4(VIP, SVC_PORT), from;
	socklen_t len = sizeof(from);
	char buf[16];
	int c, i;

	frontend(IPPROTO_UDP, 0, NBE);
	backends(SOCK_DGRAM, NBE);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_geq(c, 0);
	for (int round = 0; round < 5; round++) {
		cr_assert_eq(sendto(c, "ping", 4, 0, (struct sockaddr *)&vip,
				    sizeof(vip)),
			     4, "sendto %s: %s", fmt_sin(&vip),
			     strerror(errno));
		i = ready_backend(NBE);
		cr_assert_geq(i, 0, "no backend got the datagram");
		udp_echo(i);
		wait_readable(c);
		len = sizeof(from);
		cr_assert_eq(recvfrom(c, buf, sizeof(buf), 0,
				      (struct sockaddr *)&from, &len),
			     4, "recvfrom: %s", strerror(errno));
		cr_assert(from.sin_addr.s_addr == VIP &&
				  from.sin_port == vip.sin_port,
			  "reply from %s, want the frontend %s", fmt_sin(&from),
			  fmt_sin(&vip));
	}
	close(c);
}

/* A connected UDP socket: send, let the backend echo, receive. */
static int udp_roundtrip(int c, int n)
{
	char buf[16];
	int i;

	cr_assert_eq(send(c, "ping", 4, 0), 4, "send: %s", strerror(errno));
	i = ready_backend(n);
	cr_assert_geq(i, 0, "no backend got the datagram");
	udp_echo(i);
	wait_readable(c);
	cr_assert_eq(recv(c, buf, sizeof(buf), 0), 4, "recv: %s",
		     strerror(errno));
	return i;
}

Test(socklb, connected_udp_to_deleted_backend_is_destroyed)
{
	struct sockaddr_in vip = sin4(VIP, SVC_PORT), peer, direct;
	struct berth_fe_backend be[NBE];
	struct berth_frontend fe;
	socklen_t len = sizeof(peer);
	size_t freed = 0;
	char buf[16];
	int c, d, i, ret;

	if (!berth_socklb_can_destroy(t.sl)) {
		cr_assert_eq(berth_socklb_destroy_backend(t.sl, be_ip(0),
							  htons(BE_PORT),
							  IPPROTO_UDP),
			     -EOPNOTSUPP);
		cr_skip_test("bpf_sock_destroy not supported by this kernel");
	}
	frontend(IPPROTO_UDP, 0, 2);
	backends(SOCK_DGRAM, 2);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&vip, sizeof(vip)), 0,
		     "connect %s: %s", fmt_sin(&vip), strerror(errno));
	cr_assert_eq(getpeername(c, (struct sockaddr *)&peer, &len), 0);
	cr_assert_eq(peer.sin_addr.s_addr, VIP, "getpeername says %s",
		     fmt_sin(&peer));
	i = udp_roundtrip(c, 2);
	/* a socket aimed at the backend itself is none of the LB's business */
	direct = sin4(be_ip(i), BE_PORT);
	d = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_eq(connect(d, (struct sockaddr *)&direct, sizeof(direct)), 0);

	/* backend i leaves the frontend, then the maps */
	fx_frontend_init(&fe, be, VIP, SVC_PORT, IPPROTO_UDP, BE_BASE, BE_PORT,
			 2);
	fe.backends = &be[1 - i];
	fe.nbackends = 1;
	fx_sync(&fe, 1);
	cr_assert_eq(berth_lbmap_gc(fx.lb, NULL, NULL, &freed), 0);
	cr_assert_eq(freed, 1, "gc freed %zu backends", freed);
	cr_assert(!fx_backend_id(be_ip(i), BE_PORT),
		  "backend %d still in the map", i);

	ret = berth_socklb_destroy_backend(t.sl, be_ip(i), htons(BE_PORT),
					   IPPROTO_UDP);
	cr_assert_eq(ret, 1, "destroyed %d sockets, want 1", ret);
	cr_assert_eq(recv(c, buf, sizeof(buf), MSG_DONTWAIT), -1);
	cr_assert_eq(errno, ECONNABORTED, "recv after destroy: %s, want %s",
		     strerror(errno), strerror(ECONNABORTED));
	cr_assert_eq(send(c, "ping", 4, 0), -1,
		     "send on a destroyed socket worked");
	cr_assert_eq(send(d, "ping", 4, 0), 4,
		     "the directly connected socket broke: %s",
		     strerror(errno));
	wait_readable(t.lis[i]);
	cr_assert_eq(recv(t.lis[i], buf, sizeof(buf), 0), 4);
	/* connecting again lands on the backend that is left */
	cr_assert_eq(connect(c, (struct sockaddr *)&vip, sizeof(vip)), 0,
		     "connect again: %s", strerror(errno));
	cr_assert_eq(udp_roundtrip(c, 2), 1 - i);
	close(d);
	close(c);
}

Test(socklb, frontend_without_backends_refuses)
{
	frontend(IPPROTO_TCP, 0, 0);
	expect_connect_fails(SOCK_STREAM, VIP, SVC_PORT, ECONNREFUSED,
			     "frontend without backends");
}

Test(socklb, udp_frontend_without_backends_refuses)
{
	struct sockaddr_in vip = sin4(VIP, SVC_PORT);
	int c;

	frontend(IPPROTO_UDP, 0, 0);
	c = socket(AF_INET, SOCK_DGRAM, 0);
	cr_assert_eq(sendto(c, "x", 1, 0, (struct sockaddr *)&vip, sizeof(vip)),
		     -1, "sendto a frontend without backends worked");
	cr_assert_eq(errno, ECONNREFUSED, "sendto: %s, want %s",
		     strerror(errno), strerror(ECONNREFUSED));
	close(c);
	expect_connect_fails(SOCK_DGRAM, VIP, SVC_PORT, ECONNREFUSED,
			     "frontend without backends");
}

#define CONNECTS 300

static void spread(uint8_t flags)
{
	uint64_t counts[NBE] = {};
	double chi;

	frontend(IPPROTO_TCP, flags, NBE);
	backends(SOCK_STREAM, NBE);
	for (int k = 0; k < CONNECTS; k++)
		counts[tcp_connect_vip(NBE)]++;
	chi = fx_chi_square(counts, NBE);
	cr_log_info("%d connects: %lu %lu %lu, chi-square %.2f", CONNECTS,
		    counts[0], counts[1], counts[2], chi);
	cr_assert_lt(chi, fx_chi_square_critical(NBE),
		     "%d connects as %lu/%lu/%lu: not even (p < 0.001)",
		     CONNECTS, counts[0], counts[1], counts[2]);
}

Test(socklb, random_spreads_evenly)
{
	spread(0);
}

Test(socklb, maglev_spreads_evenly)
{
	spread(BERTH_SVC_F_MAGLEV);
}

Test(socklb, affinity_keeps_one_backend)
{
	int first;

	frontend(IPPROTO_TCP, BERTH_SVC_F_AFFINITY, NBE);
	backends(SOCK_STREAM, NBE);
	first = tcp_connect_vip(NBE);
	for (int k = 0; k < 50; k++)
		cr_assert_eq(tcp_connect_vip(NBE), first,
			     "connect %d left backend %d", k, first);
}

/* connect() to VIP in a child: its errno, or 0. */
static int child_connect_errno(bool own_netns)
{
	struct sockaddr_in vip = sin4(VIP, SVC_PORT);
	int status, c;
	pid_t pid;

	pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (!pid) {
		alarm(5);
		if (own_netns && unshare(CLONE_NEWNET))
			_exit(200);
		c = socket(AF_INET, SOCK_STREAM, 0);
		if (c < 0)
			_exit(201);
		_exit(connect(c, (struct sockaddr *)&vip, sizeof(vip)) ? errno :
									 0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status), "child died: status %#x", status);
	return WEXITSTATUS(status);
}

Test(socklb, other_netns_left_alone)
{
	frontend(IPPROTO_TCP, 0, NBE);
	backends(SOCK_STREAM, NBE);
	/* same cgroup, same netns: balanced */
	cr_assert_eq(child_connect_errno(false), 0);
	/* same cgroup, a pod's netns: no route to the VIP, untouched */
	cr_assert_eq(child_connect_errno(true), ENETUNREACH,
		     "connect from another netns was touched");
}

/* The link pinned as name in the node's pin dir; .id 0 if there is none. */
static struct bpf_link_info pinned_link(const char *name)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", fx.pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return info;
	cr_assert_eq(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	close(fd);
	return info;
}

Test(socklb, reattach_swaps_programs_in_place_and_detach_removes)
{
	struct bpf_link_info before, after;

	frontend(IPPROTO_TCP, 0, NBE);
	backends(SOCK_STREAM, NBE);
	before = pinned_link(BERTH_LINK_CONNECT4);
	cr_assert_neq(before.id, 0, "no pinned connect4 link");
	cr_assert_eq(berth_socklb_attach(fx.dp, t.dir), 0);
	after = pinned_link(BERTH_LINK_CONNECT4);
	cr_assert_eq(after.id, before.id, "a new link %u replaced %u: a gap",
		     after.id, before.id);
	cr_assert_neq(after.prog_id, before.prog_id,
		      "the program was not replaced");
	tcp_connect_vip(NBE);

	cr_assert_eq(berth_socklb_detach(fx.pin_dir), 0);
	cr_assert_eq(pinned_link(BERTH_LINK_CONNECT4).id, 0,
		     "link pin left after detach");
	expect_connect_fails(SOCK_STREAM, VIP, SVC_PORT, ENETUNREACH,
			     "the socket LB is detached");
}

/* An address on lo of the test's namespace, as a node IP would be. */
static void lo_alias(uint32_t ip)
{
	struct ifreq ifr = {};
	struct sockaddr_in a = sin4(ip, 0);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	cr_assert_geq(fd, 0);
	strcpy(ifr.ifr_name, "lo:1");
	memcpy(&ifr.ifr_addr, &a, sizeof(a));
	cr_assert_eq(ioctl(fd, SIOCSIFADDR, &ifr), 0, "add %s to lo: %s",
		     fmt_sin(&a), strerror(errno));
	close(fd);
}

#define NODE_IP ip4(192, 0, 2, 10)
#define NODE_PORT 30080

Test(socklb, nodeport_on_the_nodes_own_ip)
{
	struct sockaddr_in np = sin4(NODE_IP, NODE_PORT), other, peer;
	struct berth_fe_backend be[NBE];
	struct berth_frontend fe;
	socklen_t len = sizeof(peer);
	int c, l, s, i;

	lo_alias(NODE_IP);
	/* NodePort frontends are ordinary ones with vip = the node's IP */
	fx_frontend_init(&fe, be, NODE_IP, NODE_PORT, IPPROTO_TCP, BE_BASE,
			 BE_PORT, NBE);
	fx_sync(&fe, 1);
	backends(SOCK_STREAM, NBE);
	c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&np, sizeof(np)), 0,
		     "connect %s: %s", fmt_sin(&np), strerror(errno));
	cr_assert_eq(getpeername(c, (struct sockaddr *)&peer, &len), 0);
	cr_assert(peer.sin_addr.s_addr == NODE_IP &&
			  peer.sin_port == np.sin_port,
		  "getpeername says %s", fmt_sin(&peer));
	i = ready_backend(NBE);
	cr_assert_geq(i, 0, "no backend got the NodePort connection");
	s = accept(t.lis[i], NULL, NULL);
	cr_assert_geq(s, 0);
	close(s);
	close(c);

	/* another port of the node's IP is the node's own business */
	other = sin4(NODE_IP, NODE_PORT + 1);
	l = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(bind(l, (struct sockaddr *)&other, sizeof(other)), 0);
	cr_assert_eq(listen(l, 1), 0);
	c = socket(AF_INET, SOCK_STREAM, 0);
	cr_assert_eq(connect(c, (struct sockaddr *)&other, sizeof(other)), 0,
		     "connect %s: %s", fmt_sin(&other), strerror(errno));
	s = accept(l, NULL, NULL);
	cr_assert_geq(s, 0, "the node's own listener got nothing");
	cr_assert_eq(ready_backend_now(), -1, "a backend got it");
	close(s);
	close(c);
	close(l);
}

Test(socklb, attach_elsewhere_moves_the_links)
{
	static const char *const names[] = {
		BERTH_LINK_CONNECT4,
		BERTH_LINK_SENDMSG4,
		BERTH_LINK_RECVMSG4,
		BERTH_LINK_GETPEERNAME4,
	};
	struct stat st;

	frontend(IPPROTO_TCP, 0, NBE);
	backends(SOCK_STREAM, NBE);
	snprintf(t.sub, sizeof(t.sub), "%s/sub", t.dir);
	cr_assert_eq(mkdir(t.sub, 0755), 0, "mkdir %s: %s", t.sub,
		     strerror(errno));
	cr_assert_eq(berth_socklb_attach(fx.dp, t.sub), 0);
	cr_assert_eq(stat(t.sub, &st), 0);
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		cr_assert_eq(pinned_link(names[i]).cgroup.cgroup_id, st.st_ino,
			     "%s not on the new cgroup", names[i]);
	/* this process stayed in the parent: no socket LB for it any more */
	expect_connect_fails(SOCK_STREAM, VIP, SVC_PORT, ENETUNREACH,
			     "the socket LB moved to a child cgroup");
	/* and back */
	cr_assert_eq(berth_socklb_attach(fx.dp, t.dir), 0);
	tcp_connect_vip(NBE);
	cr_assert_neq(berth_socklb_attach(fx.dp, "/proc"), 0,
		      "attached to a directory that is no cgroup");
}

#define SOCKETS 30
#define DATAGRAMS 5

/* Like conntrack for a UDP flow: one socket's datagrams, one backend. */
Test(socklb, udp_socket_sticks_to_one_backend)
{
	struct sockaddr_in vip = sin4(VIP, SVC_PORT);
	uint64_t counts[NBE] = {};
	int c, first, i, used = 0;

	frontend(IPPROTO_UDP, 0, NBE);
	backends(SOCK_DGRAM, NBE);
	for (int k = 0; k < SOCKETS; k++) {
		c = socket(AF_INET, SOCK_DGRAM, 0);
		cr_assert_geq(c, 0);
		first = -1;
		for (int d = 0; d < DATAGRAMS; d++) {
			cr_assert_eq(sendto(c, "ping", 4, 0,
					    (struct sockaddr *)&vip,
					    sizeof(vip)),
				     4, "sendto: %s", strerror(errno));
			i = ready_backend(NBE);
			cr_assert_geq(i, 0, "no backend got the datagram");
			udp_echo(i);
			if (first < 0)
				first = i;
			cr_assert_eq(
				i, first,
				"socket %d: datagram %d went to backend %d, the first to %d",
				k, d, i, first);
		}
		counts[first]++;
		close(c);
	}
	for (i = 0; i < NBE; i++)
		used += counts[i] > 0;
	/* 30 sockets all on one of 3 backends: p = 3 / 3^30 */
	cr_assert_gt(used, 1, "every socket went to the same backend");
}
