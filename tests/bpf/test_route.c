// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * from_pod routing: a pod of this node gets the packet straight (redirect to
 * the veth's peer: MACs, TTL, checksums rewritten as a router would), a pod
 * of another node through the tunnel, everything else the host stack; with
 * no routing configured, every packet passes as before.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <criterion/criterion.h>

#include <berth/abi/metrics.h>
#include <berth/abi/route.h>

#include "fixture.h"

#define POD_B ip4(10, 0, 1, 7)
#define POD_B_IFINDEX 42
#define REMOTE_POD ip4(10, 0, 2, 9)
#define REMOTE_NODE ip4(192, 168, 1, 2)
#define TUNNEL_IFINDEX 77
#define SVC_PORT 80
#define BE_PORT 8080

static const uint8_t pod_b_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x07 };
static const uint8_t veth_b_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0xfe, 0x07 };
static const uint8_t pod_a_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x05 };
static const uint8_t veth_a_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0xfe, 0x05 };
static const uint8_t tunnel_mac[6] = { 0x02, 0xbe, 0x27, 0x00, 0x00, 0x01 };
static const uint8_t netdev_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x77, 0x01 };

static void setup(void)
{
	struct berth_node_cfg cfg = {
		.node_ip = ip4(192, 168, 1, 1),
		.tunnel_ifindex = TUNNEL_IFINDEX,
	};

	fx_setup();
	memcpy(cfg.tunnel_mac, tunnel_mac, 6);
	memcpy(cfg.netdev_mac, netdev_mac, 6);
	fx_node_set(&cfg);
	fx_endpoint_add(POD_B, POD_B_IFINDEX, pod_b_mac, veth_b_mac);
	fx_endpoint_add(FX_CLIENT, POD_B_IFINDEX + 1, pod_a_mac, veth_a_mac);
	/* this node's pods, and another node's */
	fx_ipcache_add(ip4(10, 0, 1, 0), 24, 0,
		       BERTH_IPCACHE_F_LOCAL | BERTH_IPCACHE_F_POD);
	fx_ipcache_add(ip4(10, 0, 2, 0), 24, REMOTE_NODE, BERTH_IPCACHE_F_POD);
}

TestSuite(route, .init = setup, .fini = fx_teardown);

/* Run s through prog; expect a redirect and exactly want (checksums right). */
static void expect_redirect(int prog, const struct pkt_spec *s,
			    const struct pkt_spec *want, const char *what)
{
	static uint8_t in[PKT_MAX], exp[PKT_MAX];
	static struct fx_out out;
	size_t len = pkt_build(in, s);

	fx_run(prog, in, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT,
		     "%s: verdict %d, want REDIRECT", what, out.ret);
	fx_expect_csums(&out, what);
	fx_expect_frame(&out, exp, pkt_build(exp, want), what);
}

/* s as a router hands it to pod B: its MACs, one hop less. */
static struct pkt_spec to_pod_b(struct pkt_spec s)
{
	s.dmac = pod_b_mac;
	s.smac = veth_b_mac;
	s.ttl = (s.ttl ? s.ttl : 64) - 1;
	return s;
}

/* s as a router hands it to pod A (FX_CLIENT). */
static struct pkt_spec to_pod_a(struct pkt_spec s)
{
	s.dmac = pod_a_mac;
	s.smac = veth_a_mac;
	s.ttl = (s.ttl ? s.ttl : 64) - 1;
	return s;
}

Test(route, local_pod_tcp)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40000, 5000), want;

	s.daddr = POD_B;
	want = to_pod_b(s);
	expect_redirect(fx.from_pod, &s, &want, "TCP to a local pod");
}

Test(route, local_pod_udp_and_icmp)
{
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, 40000, 53), want;

	s.daddr = POD_B;
	s.payload = "query";
	s.payload_len = 5;
	s.ttl = 17;
	want = to_pod_b(s);
	expect_redirect(fx.from_pod, &s, &want, "UDP to a local pod");
	s.proto = IPPROTO_ICMP;
	s.icmp_type = 8; /* echo request */
	s.icmp_rest = 0x12340001;
	want = to_pod_b(s);
	expect_redirect(fx.from_pod, &s, &want, "ping to a local pod");
}

Test(route, ttl_expires)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40000, 5000);
	uint8_t in[PKT_MAX];
	struct fx_out out;
	uint64_t before = fx_metric(BERTH_DROP_TTL, BERTH_DIR_EGRESS);

	s.daddr = POD_B;
	s.ttl = 1;
	fx_run(fx.from_pod, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_SHOT, "TTL 1: verdict %d, want SHOT",
		     out.ret);
	cr_assert_eq(fx_metric(BERTH_DROP_TTL, BERTH_DIR_EGRESS), before + 1,
		     "TTL drop not counted");
}

/*
 * The tunnel: bpf_skb_set_tunnel_key works under BPF_PROG_TEST_RUN, the
 * redirect itself does not happen there (tests/bpf/route_netns.sh sends
 * real packets through it). Here: the verdict and the inner frame.
 */
Test(route, remote_pod_tunnel)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40000, 5000), want;

	s.daddr = REMOTE_POD;
	want = s;
	/* to the shared tunnel MAC, from this node's (VXLAN drops its own) */
	want.dmac = tunnel_mac;
	want.smac = netdev_mac;
	expect_redirect(fx.from_pod, &s, &want, "TCP to a remote pod");
}

Test(route, no_tunnel_device)
{
	struct berth_node_cfg cfg = { .node_ip = ip4(192, 168, 1, 1) };
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40000, 5000);
	uint8_t in[PKT_MAX];
	struct fx_out out;

	fx_node_set(&cfg);
	s.daddr = REMOTE_POD;
	fx_run(fx.from_pod, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_SHOT, "verdict %d, want SHOT", out.ret);
	cr_assert_eq(fx_metric(BERTH_DROP_NO_ROUTE, BERTH_DIR_EGRESS), 1,
		     "no-route drop not counted");
}

Test(route, host_stack)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40000, 443);

	s.daddr = ip4(1, 1, 1, 1);
	fx_expect_spec_untouched(fx.from_pod, &s, "TCP outside the cluster");
	s.daddr = ip4(192, 168, 1, 1);
	fx_expect_spec_untouched(fx.from_pod, &s, "TCP to the node");
	/* a local pod address no endpoint holds (yet): the host decides */
	s.daddr = ip4(10, 0, 1, 99);
	fx_expect_spec_untouched(fx.from_pod, &s, "TCP to an unknown pod");
}

/*
 * ClusterIP with a backend on this node: DNAT and delivery in one go, and
 * the reply reverse-NATed and delivered back by from_pod on the backend's
 * veth (to_pod is never crossed on this path).
 */
Test(route, clusterip_local_backend_and_reply)
{
	struct berth_fe_backend be[1];
	struct berth_frontend fe;
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40001, SVC_PORT), want, rep;

	fx_frontend_init(&fe, be, FX_VIP, SVC_PORT, IPPROTO_TCP,
			 ip4(10, 0, 1, 6), BE_PORT, 1); /* backend 10.0.1.7 */
	fx_sync(&fe, 1);
	want = to_pod_b(s);
	want.daddr = POD_B;
	want.dport = BE_PORT;
	expect_redirect(fx.from_pod, &s, &want, "ClusterIP to a local backend");

	rep = fx_reply(IPPROTO_TCP, POD_B, BE_PORT, 40001);
	rep.smac = pod_b_mac;
	rep.dmac = veth_b_mac;
	want = to_pod_a(rep);
	want.saddr = FX_VIP;
	want.sport = SVC_PORT;
	expect_redirect(fx.from_pod, &rep, &want, "reply to the local client");
}

/*
 * Hairpin: the client is the Service's only backend. After DNAT it would get
 * a packet from its own address (a martian), so the source becomes the
 * hairpin address; the reply gets the frontend as source and the pod as
 * destination back.
 */
static void hairpin_case(uint8_t proto)
{
	struct berth_fe_backend be[1];
	struct berth_frontend fe;
	struct pkt_spec s = fx_pkt(proto, 40002, SVC_PORT), want, rep;
	uint32_t hairpin = htonl(BERTH_HAIRPIN_IP_HOST);

	fx_frontend_init(&fe, be, FX_VIP, SVC_PORT, proto, ip4(10, 0, 1, 4),
			 BE_PORT, 1); /* backend 10.0.1.5: the client */
	fx_sync(&fe, 1);
	s.smac = pod_a_mac;
	s.dmac = veth_a_mac;
	want = to_pod_a(s);
	want.saddr = hairpin;
	want.daddr = FX_CLIENT;
	want.dport = BE_PORT;
	expect_redirect(fx.from_pod, &s, &want, "hairpin request");

	rep = fx_reply(proto, FX_CLIENT, BE_PORT, 40002);
	rep.daddr = hairpin;
	rep.smac = pod_a_mac;
	rep.dmac = veth_a_mac;
	want = to_pod_a(rep);
	want.saddr = FX_VIP;
	want.sport = SVC_PORT;
	want.daddr = FX_CLIENT;
	expect_redirect(fx.from_pod, &rep, &want, "hairpin reply");
}

Test(route, hairpin_tcp)
{
	hairpin_case(IPPROTO_TCP);
}

Test(route, hairpin_udp)
{
	hairpin_case(IPPROTO_UDP);
}

/* Decapsulated traffic to a local pod goes straight in, replies reversed. */
Test(route, overlay_in_local_pod)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40000, 5000), want;

	s.saddr = REMOTE_POD;
	s.daddr = POD_B;
	s.smac = tunnel_mac;
	s.dmac = tunnel_mac;
	want = to_pod_b(s);
	expect_redirect(fx.overlay_in, &s, &want, "from the tunnel to a pod");
	/* to the host: passed on, untouched */
	s.daddr = ip4(192, 168, 1, 1);
	fx_expect_spec_untouched(fx.overlay_in, &s,
				 "from the tunnel to the host");
}

Test(route, overlay_out_sets_tunnel)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40000, 5000);
	uint8_t in[PKT_MAX];
	struct fx_out out;

	/* what the host stack routed into the tunnel, to a remote pod */
	s.saddr = ip4(192, 168, 1, 1);
	s.daddr = REMOTE_POD;
	s.smac = tunnel_mac;
	s.dmac = tunnel_mac;
	fx_run(fx.overlay_out, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "verdict %d, want OK", out.ret);
	cr_assert_eq(memcmp(out.buf + 6, netdev_mac, 6), 0,
		     "inner source MAC is still the shared tunnel MAC");
	/* no node owns it: dropped, not sent into the void */
	s.daddr = ip4(10, 9, 9, 9);
	fx_run(fx.overlay_out, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_SHOT, "verdict %d, want SHOT", out.ret);
	cr_assert_eq(fx_metric(BERTH_DROP_NO_ROUTE, BERTH_DIR_OVERLAY), 1,
		     "no-route drop not counted");
}

/*
 * Neighbour discovery and the like from the device itself: passed (the
 * device drops what has no tunnel key), not counted as berth's drops.
 */
Test(route, overlay_out_not_ipv4_uncounted)
{
	uint8_t in[PKT_MAX];
	size_t len = pkt_build_l2(in, PKT_ETH_P_IPV6, 72);

	fx_expect_untouched(fx.overlay_out, in, len, "IPv6 into the tunnel");
	cr_assert_eq(fx_metric(BERTH_DROP_NO_ROUTE, BERTH_DIR_OVERLAY), 0,
		     "IPv6 counted as a no-route drop");
}
