// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The NodePort fast path in XDP and the FIB-routed tc path. Each test runs
 * in a network namespace of its own (criterion runs a test per process):
 * an underlay veth with the node's address and permanent neighbours, so
 * bpf_fib_lookup answers as on a real node. Nothing touches this machine's
 * own network; the namespace goes with the test's process.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <criterion/criterion.h>

#include <berth/abi/metrics.h>
#include <berth/abi/route.h>
#include <berth/csum.h>

#include "fixture.h"

#define NODE_IP ip4(192, 168, 1, 1)
#define REMOTE_NODE ip4(192, 168, 1, 2)
#define CLIENT ip4(192, 168, 1, 9)
#define LOCAL_BE ip4(10, 0, 1, 7)
#define REMOTE_BE ip4(10, 0, 2, 9)
#define NODEPORT 30080
#define BE_PORT 8080
#define CPORT 40000
#define OUTER 50 /* outer Ethernet + IPv4 + UDP + VXLAN */
#define VNI 4242 /* the node's --vxlan-vni */

static const uint8_t remote_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x02 };
static const uint8_t client_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0x09 };
static const uint8_t tunnel_mac[6] = { 0x02, 0xbe, 0x27, 0x00, 0x00, 0x01 };
static const uint8_t pod_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x07 };
static const uint8_t veth_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0xfe, 0x07 };

static unsigned int underlay; /* ifindex of u0 */
static const uint8_t underlay_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x01 };

static void sh(const char *cmd)
{
	int rc = system(cmd);

	FX_REQUIRE(rc == 0, "`%s` failed (%d)", cmd, rc);
}

/* A private netns with the underlay u0 (192.168.1.1/24) and its neighbours. */
static void netns_underlay(void)
{
	FX_REQUIRE(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %m");
	/* a node forwards (bpf_fib_lookup refuses otherwise) */
	sh("sysctl -qw net.ipv4.ip_forward=1 && "
	   "ip link add u0 type veth peer name u1 && "
	   "ip link set u0 address 02:00:00:00:01:01 && "
	   "ip addr add 192.168.1.1/24 dev u0 && ip link set u0 up && "
	   "ip link set u1 up && "
	   "ip neigh replace 192.168.1.2 lladdr 02:00:00:00:02:02 dev u0 nud permanent && "
	   "ip neigh replace 192.168.1.9 lladdr 02:00:00:00:02:09 dev u0 nud permanent");
	underlay = if_nametoindex("u0");
	FX_REQUIRE(underlay, "no u0 in the test's netns");
}

static void setup(void)
{
	struct berth_node_cfg cfg = {
		.node_ip = NODE_IP,
		.tunnel_ifindex = 77,
		.tunnel_mac = { 0x02, 0xbe, 0x27, 0x00, 0x00, 0x01 },
		.vni = VNI,
	};
	struct berth_fe_backend be[1];
	struct berth_frontend fe;

	fx_setup();
	netns_underlay();
	cfg.netdev_ifindex = underlay;
	memcpy(cfg.netdev_mac, underlay_mac, 6);
	fx_node_set(&cfg);
	fx_endpoint_add(LOCAL_BE, 42, pod_mac, veth_mac);
	fx_ipcache_add(ip4(10, 0, 1, 0), 24, 0,
		       BERTH_IPCACHE_F_LOCAL | BERTH_IPCACHE_F_POD);
	fx_ipcache_add(ip4(10, 0, 2, 0), 24, REMOTE_NODE, BERTH_IPCACHE_F_POD);
	fx_frontend_init(&fe, be, NODE_IP, NODEPORT, IPPROTO_TCP,
			 ip4(10, 0, 2, 8), BE_PORT, 1);
	fx_sync(&fe, 1);
}

TestSuite(xdp, .init = setup, .fini = fx_teardown);

/* The NodePort's one backend on this node instead. */
static void backend_local(void)
{
	struct berth_fe_backend be[1];
	struct berth_frontend fe;

	fx_frontend_init(&fe, be, NODE_IP, NODEPORT, IPPROTO_TCP,
			 ip4(10, 0, 1, 6), BE_PORT, 1);
	fx_sync(&fe, 1);
}

static struct pkt_spec from_client(void)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, CPORT, NODEPORT);

	s.saddr = CLIENT;
	s.daddr = NODE_IP;
	s.smac = client_mac;
	s.dmac = underlay_mac;
	s.payload = "GET / HTTP/1.0\r\n\r\n";
	s.payload_len = 18;
	return s;
}

/* The outer headers XDP put in front: addresses, lengths, checksum. */
static void expect_outer(const uint8_t *o, size_t len)
{
	const uint8_t *ip = o + 14, *udp = ip + 20, *vx = udp + 8;
	uint32_t a;

	cr_assert_eq(memcmp(o, remote_mac, 6), 0,
		     "outer dst MAC not the next hop's");
	cr_assert_eq(memcmp(o + 6, underlay_mac, 6), 0,
		     "outer src MAC not u0's");
	cr_assert_eq(pkt_get16(o + 12), PKT_ETH_P_IP, "outer ethertype");
	cr_assert_eq(ip[0], 0x45, "outer version/ihl %#x", ip[0]);
	cr_assert_eq(pkt_get16(ip + 2), len - 14, "outer IP length");
	cr_assert_eq(ip[9], IPPROTO_UDP, "outer protocol");
	cr_assert_gt(ip[8], 1, "outer TTL");
	cr_assert_eq(berth_csum(ip, 20), 0, "outer IP checksum wrong");
	memcpy(&a, ip + 12, 4);
	cr_assert_eq(a, NODE_IP, "outer source %s", pkt_ntoa(a));
	memcpy(&a, ip + 16, 4);
	cr_assert_eq(a, REMOTE_NODE, "outer destination %s", pkt_ntoa(a));
	cr_assert_eq(pkt_get16(udp + 2), BERTH_VXLAN_PORT, "UDP port");
	cr_assert_geq(pkt_get16(udp), 49152, "UDP source port %u",
		      pkt_get16(udp));
	cr_assert_eq(pkt_get16(udp + 4), len - 14 - 20, "UDP length");
	cr_assert_eq(pkt_get16(udp + 6), 0, "UDP checksum (none)");
	cr_assert_eq(pkt_get32(vx), 0x08000000, "VXLAN flags");
	cr_assert_eq(pkt_get32(vx + 4), VNI << 8, "VXLAN VNI %u, want %u",
		     pkt_get32(vx + 4) >> 8, VNI);
}

/*
 * The backend's reply rep, run through prog, leaves by the FIB toward the
 * client, from the NodePort frontend, with checksums intact.
 */
static void expect_reply_to_client(int prog, const struct pkt_spec *rep)
{
	static uint8_t in[PKT_MAX], exp[PKT_MAX];
	static struct fx_out out;
	struct pkt_spec want = *rep;

	want.saddr = NODE_IP;
	want.sport = NODEPORT;
	want.daddr = CLIENT;
	want.dmac = client_mac;
	want.smac = underlay_mac;
	want.ttl = 63;
	fx_run(prog, in, pkt_build(in, rep), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT, "verdict %d, want REDIRECT",
		     out.ret);
	fx_expect_csums(&out, "reply");
	fx_expect_frame(&out, exp, pkt_build(exp, &want), "reply by the FIB");
}

Test(xdp, nodeport_remote_encapsulated)
{
	struct pkt_spec s = from_client(), want;
	static uint8_t in[PKT_MAX], exp[PKT_MAX];
	static struct fx_out out;
	size_t len = pkt_build(in, &s), wlen;
	const char *bad;

	fx_run_xdp(fx.xdp, in, len, underlay, &out);
	cr_assert_eq(out.ret, FX_XDP_TX, "verdict %d, want XDP_TX", out.ret);
	cr_assert_eq(out.len, len + OUTER, "%u bytes, want %zu", out.len,
		     len + OUTER);
	expect_outer(out.buf, out.len);
	cr_assert_eq(fx_metric(0, BERTH_DIR_XDP), 1, "XDP forward not counted");
	want = s;
	want.daddr = REMOTE_BE;
	want.dport = BE_PORT;
	want.saddr = NODE_IP;
	want.dmac = tunnel_mac;
	want.smac = underlay_mac;
	wlen = pkt_build(exp, &want);
	bad = pkt_csum_error(out.buf + OUTER, out.len - OUTER);
	cr_assert_null(bad, "inner %s wrong", bad);
	for (size_t i = 0; i < wlen; i++)
		cr_assert_eq(out.buf[OUTER + i], exp[i],
			     "inner byte %zu is %#04x, want %#04x", i,
			     out.buf[OUTER + i], exp[i]);

	/* tc continues the flow XDP started: same backend, same port */
	s.tcp_flags = PKT_TCP_ACK;
	want.tcp_flags = PKT_TCP_ACK;
	len = pkt_build(in, &s);
	fx_run_dev(fx.from_netdev, in, len, underlay, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT, "tc verdict %d", out.ret);
	fx_expect_frame(&out, exp, pkt_build(exp, &want), "tc, same flow");
}

/*
 * bench/net's NodePort flood: trafgen's frame (UDP without a checksum, DF,
 * 60 bytes) over and over, one 5-tuple. Every copy leaves encapsulated with
 * the same SNAT port, the checksum still none, lengths grown by exactly the
 * tunnel header; so when the flood did not arrive, XDP was not the reason
 * (the underlay veth's XDP_TX was: tests/e2e/cluster.py wire_xdp).
 */
Test(xdp, nodeport_udp_flood_one_flow)
{
	static const char fill[18] = "aaaaaaaaaaaaaaaaaa";
	struct pkt_spec s = from_client(), want;
	static uint8_t in[PKT_MAX], exp[PKT_MAX];
	static struct fx_out out;
	struct berth_fe_backend be[1];
	struct berth_frontend fe;
	size_t len, wlen;
	const int n = 1000;

	fx_frontend_init(&fe, be, NODE_IP, NODEPORT, IPPROTO_UDP,
			 ip4(10, 0, 2, 8), BE_PORT, 1);
	fx_sync(&fe, 1);
	s.proto = IPPROTO_UDP;
	s.udp_no_csum = true;
	s.frag_off = PKT_IP_DF;
	s.payload = fill;
	s.payload_len = sizeof(fill);
	len = pkt_build(in, &s);
	cr_assert_eq(len, 60, "trafgen's frame is 60 bytes, not %zu", len);
	want = s;
	want.daddr = REMOTE_BE;
	want.dport = BE_PORT;
	want.saddr = NODE_IP;
	want.dmac = tunnel_mac;
	want.smac = underlay_mac;
	wlen = pkt_build(exp, &want);
	for (int i = 0; i < n; i++) {
		fx_run_xdp(fx.xdp, in, len, underlay, &out);
		cr_assert_eq(out.ret, FX_XDP_TX, "copy %d: verdict %d", i,
			     out.ret);
		cr_assert_eq(out.len, len + OUTER, "copy %d: %u bytes", i,
			     out.len);
		expect_outer(out.buf, out.len);
		/* the same SNAT port each time, the checksum still none */
		cr_assert_eq(memcmp(out.buf + OUTER, exp, wlen), 0,
			     "copy %d: inner frame differs", i);
	}
	cr_assert_eq(fx_metric(0, BERTH_DIR_XDP), n, "XDP forwards counted");
}

Test(xdp, nodeport_reply_routed_by_fib)
{
	struct pkt_spec s = from_client(), rep;
	static uint8_t in[PKT_MAX];
	static struct fx_out out;

	fx_run_xdp(fx.xdp, in, pkt_build(in, &s), underlay, &out);
	cr_assert_eq(out.ret, FX_XDP_TX, "verdict %d, want XDP_TX", out.ret);
	/* the backend's answer out of the tunnel, back to the client */
	rep = fx_reply(IPPROTO_TCP, REMOTE_BE, BE_PORT, CPORT);
	rep.daddr = NODE_IP;
	rep.smac = tunnel_mac;
	rep.dmac = tunnel_mac;
	expect_reply_to_client(fx.overlay_in, &rep);
}

Test(xdp, local_backend_left_to_tc)
{
	struct pkt_spec s = from_client(), want;
	static uint8_t in[PKT_MAX], exp[PKT_MAX];
	static struct fx_out out;
	size_t len = pkt_build(in, &s);

	backend_local();
	fx_run_xdp(fx.xdp, in, len, underlay, &out);
	cr_assert_eq(out.ret, FX_XDP_PASS, "verdict %d, want XDP_PASS",
		     out.ret);
	fx_expect_frame(&out, in, len, "passed untouched");
	fx_run_dev(fx.from_netdev, in, len, underlay, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT, "tc verdict %d", out.ret);
	want = s;
	want.daddr = LOCAL_BE;
	want.dport = BE_PORT;
	want.dmac = pod_mac;
	want.smac = veth_mac;
	want.ttl = 63;
	fx_expect_frame(&out, exp, pkt_build(exp, &want), "tc delivery");
}

Test(xdp, not_nodeport_passes)
{
	struct pkt_spec s = from_client();
	uint8_t in[PKT_MAX];
	struct fx_out out;
	size_t len;

	s.dport = 22;
	len = pkt_build(in, &s);
	fx_run_xdp(fx.xdp, in, len, underlay, &out);
	cr_assert_eq(out.ret, FX_XDP_PASS, "verdict %d", out.ret);
	fx_expect_frame(&out, in, len, "ssh");
	len = pkt_build_l2(in, PKT_ETH_P_ARP, 28);
	fx_run_xdp(fx.xdp, in, len, underlay, &out);
	cr_assert_eq(out.ret, FX_XDP_PASS, "ARP verdict %d", out.ret);
	fx_expect_frame(&out, in, len, "ARP");
}

/*
 * The reply to a NodePort client from a local backend leaves by the FIB:
 * from node_ip, the host stack would drop it as a martian.
 */
Test(xdp, nodeport_local_reply_by_fib)
{
	struct pkt_spec s = from_client(), rep;
	static uint8_t in[PKT_MAX];
	static struct fx_out out;

	backend_local();
	fx_run_dev(fx.from_netdev, in, pkt_build(in, &s), underlay, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT, "tc verdict %d", out.ret);
	rep = fx_reply(IPPROTO_TCP, LOCAL_BE, BE_PORT, CPORT);
	rep.daddr = CLIENT;
	rep.smac = pod_mac;
	rep.dmac = veth_mac;
	expect_reply_to_client(fx.from_pod, &rep);
}
