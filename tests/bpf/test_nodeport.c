// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The underlay device's programs: NodePort to a local backend (DNAT only,
 * client address kept, the reply reversed by from_pod), to a remote one
 * (DNAT + SNAT to the node, both nat entries, tunnel; the reply reversed by
 * overlay_in), SNAT port collisions, masquerade out and back (ping too, the
 * echo id as the port), ICMP errors about SNATed flows translated back, and
 * a NodePort without endpoints rejected.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include <bpf/bpf.h>
#include <criterion/criterion.h>

#include <berth/abi/lb.h>
#include <berth/abi/metrics.h>
#include <berth/abi/route.h>

#include "fixture.h"

#define NODE_IP ip4(192, 168, 1, 1)
#define REMOTE_NODE ip4(192, 168, 1, 2)
#define CLIENT ip4(172, 16, 0, 9)
#define CLIENT2 ip4(172, 16, 0, 10)
#define LOCAL_BE ip4(10, 0, 1, 7)
#define REMOTE_BE ip4(10, 0, 2, 9)
#define NODEPORT 30080
#define NODEPORT_EMPTY 30081
#define BE_PORT 8080
#define CPORT 40000
#define SNAT_MIN 32768
#define SNAT_MAX 60999

static const uint8_t pod_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x07 };
static const uint8_t veth_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0xfe, 0x07 };
static const uint8_t tunnel_mac[6] = { 0x02, 0xbe, 0x27, 0x00, 0x00, 0x01 };
static const uint8_t netdev_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x77, 0x01 };

/* The node: a tunnel device, no underlay device (fib_out passes to the host). */
static struct berth_node_cfg node_cfg(void)
{
	return (struct berth_node_cfg){
		.node_ip = NODE_IP,
		.tunnel_ifindex = 77,
		.nodeport_min = BERTH_NODEPORT_MIN,
		.nodeport_max = BERTH_NODEPORT_MAX,
		.snat_port_min = SNAT_MIN,
		.snat_port_max = SNAT_MAX,
		.tunnel_mac = { 0x02, 0xbe, 0x27, 0x00, 0x00, 0x01 },
		.netdev_mac = { 0x02, 0x00, 0x00, 0x00, 0x77, 0x01 },
	};
}

/* One NodePort frontend with one backend at be_ip. */
static void nodeport_to(uint32_t be_ip)
{
	struct berth_fe_backend be[1];
	struct berth_frontend fe[2];

	fx_frontend_init(&fe[0], be, NODE_IP, NODEPORT, IPPROTO_TCP,
			 htonl(ntohl(be_ip) - 1), BE_PORT, 1);
	fx_frontend_init(&fe[1], NULL, NODE_IP, NODEPORT_EMPTY, IPPROTO_TCP, 0,
			 0, 0);
	fx_sync(fe, 2);
}

static void setup(void)
{
	struct berth_node_cfg cfg = node_cfg();

	fx_setup();
	fx_node_set(&cfg);
	fx_endpoint_add(LOCAL_BE, 42, pod_mac, veth_mac);
	fx_ipcache_add(ip4(10, 0, 1, 0), 24, 0,
		       BERTH_IPCACHE_F_LOCAL | BERTH_IPCACHE_F_POD);
	fx_ipcache_add(ip4(10, 0, 2, 0), 24, REMOTE_NODE, BERTH_IPCACHE_F_POD);
	fx_ipcache_add(REMOTE_NODE, 32, 0, BERTH_IPCACHE_F_NODE);
}

TestSuite(nodeport, .init = setup, .fini = fx_teardown);

static struct pkt_spec from_client(uint32_t client, uint16_t dport)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, CPORT, dport);

	s.saddr = client;
	s.daddr = NODE_IP;
	return s;
}

/* s as a router hands it to the local pod: its MACs, one hop less. */
static struct pkt_spec to_local_pod(struct pkt_spec s)
{
	s.dmac = pod_mac;
	s.smac = veth_mac;
	s.ttl = (s.ttl ? s.ttl : 64) - 1;
	return s;
}

/* Run s through prog, expect verdict and exactly want, checksums right. */
static void expect_out(int prog, const struct pkt_spec *s, int verdict,
		       const struct pkt_spec *want, const char *what)
{
	static uint8_t in[PKT_MAX], exp[PKT_MAX];
	static struct fx_out out;
	size_t len = pkt_build(in, s);

	fx_run(prog, in, len, &out);
	cr_assert_eq(out.ret, verdict, "%s: verdict %d, want %d", what, out.ret,
		     verdict);
	fx_expect_csums(&out, what);
	fx_expect_frame(&out, exp, pkt_build(exp, want), what);
}

/* The nat entries of a flow SNATed as node:port toward backend. */
static void expect_nat(uint32_t client, uint32_t backend, uint16_t be_port,
		       uint16_t port, uint32_t rev_nat_id)
{
	struct berth_ct_key out = { .saddr = client,
				    .daddr = backend,
				    .sport = htons(CPORT),
				    .dport = htons(be_port),
				    .proto = IPPROTO_TCP,
				    .dir = BERTH_NAT_OUT };
	struct berth_ct_key in = { .saddr = backend,
				   .daddr = NODE_IP,
				   .sport = htons(be_port),
				   .dport = htons(port),
				   .proto = IPPROTO_TCP,
				   .dir = BERTH_NAT_IN };
	struct berth_nat_val v;

	v = fx_nat_get(&out);
	cr_assert(v.addr == NODE_IP && v.port == htons(port),
		  "OUT says %s:%u, want node:%u", pkt_ntoa(v.addr),
		  ntohs(v.port), port);
	cr_assert_eq(v.rev_nat_id, rev_nat_id, "OUT rev_nat id %u, want %u",
		     v.rev_nat_id, rev_nat_id);
	v = fx_nat_get(&in);
	cr_assert(v.addr == client && v.port == htons(CPORT),
		  "IN says %s:%u, want the client", pkt_ntoa(v.addr),
		  ntohs(v.port));
}

static uint32_t nodeport_rev_nat_id(void)
{
	struct berth_svc_key k = { .vip = NODE_IP,
				   .dport = htons(NODEPORT),
				   .proto = IPPROTO_TCP };
	struct berth_svc_val v;

	cr_assert_eq(bpf_map_lookup_elem(fx.dp->services.fd, &k, &v), 0,
		     "NodePort frontend missing");
	return v.rev_nat_id;
}

Test(nodeport, local_backend_keeps_client)
{
	struct pkt_spec s = from_client(CLIENT, NODEPORT), want, rep;

	nodeport_to(LOCAL_BE);
	want = s;
	want.daddr = LOCAL_BE;
	want.dport = BE_PORT;
	want = to_local_pod(want);
	expect_out(fx.from_netdev, &s, FX_TC_ACT_REDIRECT, &want,
		   "NodePort to a local backend");

	/* the backend answers the client itself: from_pod restores the frontend */
	rep = fx_reply(IPPROTO_TCP, LOCAL_BE, BE_PORT, CPORT);
	rep.daddr = CLIENT;
	want = rep;
	want.saddr = NODE_IP;
	want.sport = NODEPORT;
	expect_out(fx.from_pod, &rep, FX_TC_ACT_OK, &want,
		   "reply to the NodePort client");
}

Test(nodeport, remote_backend_snat)
{
	struct pkt_spec s = from_client(CLIENT, NODEPORT), want, rep;

	nodeport_to(REMOTE_BE);
	want = s;
	want.daddr = REMOTE_BE;
	want.dport = BE_PORT;
	want.saddr = NODE_IP; /* the client's port is free: kept */
	want.dmac = tunnel_mac;
	want.smac = netdev_mac;
	expect_out(fx.from_netdev, &s, FX_TC_ACT_REDIRECT, &want,
		   "NodePort to a remote backend");
	expect_nat(CLIENT, REMOTE_BE, BE_PORT, CPORT, nodeport_rev_nat_id());
	/* the next segment of the flow takes the same way */
	s.tcp_flags = PKT_TCP_ACK;
	want.tcp_flags = PKT_TCP_ACK;
	expect_out(fx.from_netdev, &s, FX_TC_ACT_REDIRECT, &want,
		   "NodePort flow, second segment");

	/*
	 * The reply comes back through the tunnel; no underlay device in the
	 * node map here, so after the rewrite it goes to the host stack.
	 */
	rep = fx_reply(IPPROTO_TCP, REMOTE_BE, BE_PORT, CPORT);
	rep.daddr = NODE_IP;
	want = rep;
	want.saddr = NODE_IP;
	want.sport = NODEPORT;
	want.daddr = CLIENT;
	expect_out(fx.overlay_in, &rep, FX_TC_ACT_OK, &want,
		   "reply reversed by overlay_in");
}

Test(nodeport, port_collision_takes_another)
{
	struct pkt_spec s = from_client(CLIENT, NODEPORT);
	uint8_t in[PKT_MAX];
	struct fx_out out;
	struct pkt_view v;

	nodeport_to(REMOTE_BE);
	fx_run(fx.from_netdev, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT, "first client: verdict %d",
		     out.ret);
	/* a second client with the same source port, to the same backend */
	s = from_client(CLIENT2, NODEPORT);
	fx_run(fx.from_netdev, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT, "second client: verdict %d",
		     out.ret);
	fx_expect_csums(&out, "second client");
	cr_assert_eq(pkt_parse(out.buf, out.len, &v), 0, "parse");
	cr_assert(v.saddr == NODE_IP, "source %s, want the node",
		  pkt_ntoa(v.saddr));
	cr_assert_neq(v.sport, CPORT, "second client got the taken port");
	cr_assert(v.sport >= SNAT_MIN && v.sport <= SNAT_MAX,
		  "port %u outside the SNAT range", v.sport);
	expect_nat(CLIENT2, REMOTE_BE, BE_PORT, v.sport, nodeport_rev_nat_id());
	expect_nat(CLIENT, REMOTE_BE, BE_PORT, CPORT, nodeport_rev_nat_id());
}

Test(nodeport, no_free_port_dropped)
{
	struct berth_node_cfg cfg = node_cfg();
	struct pkt_spec s = from_client(CLIENT, NODEPORT);
	uint8_t in[PKT_MAX];
	struct fx_out out;

	/* a range of one port, taken by the first client */
	cfg.snat_port_min = cfg.snat_port_max = CPORT;
	fx_node_set(&cfg);
	nodeport_to(REMOTE_BE);
	fx_run(fx.from_netdev, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT, "first: verdict %d", out.ret);
	s = from_client(CLIENT2, NODEPORT);
	fx_run(fx.from_netdev, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_SHOT, "second: verdict %d, want SHOT",
		     out.ret);
	cr_assert_eq(fx_metric(BERTH_DROP_NAT_NO_PORT, BERTH_DIR_NETDEV), 1,
		     "BERTH_DROP_NAT_NO_PORT not counted");
}

Test(nodeport, no_endpoints_rejected)
{
	struct pkt_spec s = from_client(CLIENT, NODEPORT_EMPTY);
	uint8_t in[PKT_MAX];
	struct fx_out out;
	struct pkt_view v;

	FX_NEED(skb_change_tail);
	nodeport_to(REMOTE_BE);
	/* XDP leaves it to tc, which answers with a RST */
	fx_expect_spec_untouched_xdp(&s, "NodePort without endpoints");
	fx_run(fx.from_netdev, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT, "verdict %d, want REDIRECT",
		     out.ret);
	fx_expect_csums(&out, "RST");
	cr_assert_eq(pkt_parse(out.buf, out.len, &v), 0, "parse");
	cr_assert(v.proto == IPPROTO_TCP && (v.tcp_flags & PKT_TCP_RST),
		  "no RST (proto %u flags %#x)", v.proto, v.tcp_flags);
	cr_assert(v.saddr == NODE_IP && v.daddr == CLIENT &&
			  v.sport == NODEPORT_EMPTY && v.dport == CPORT,
		  "RST not from the NodePort to the client");
	cr_assert_eq(fx_metric(BERTH_DROP_NO_SERVICE, BERTH_DIR_NETDEV), 1,
		     "BERTH_DROP_NO_SERVICE not counted");
}

Test(nodeport, not_ours_untouched)
{
	struct pkt_spec s = from_client(CLIENT, NODEPORT + 100);

	nodeport_to(REMOTE_BE);
	fx_expect_spec_untouched(fx.from_netdev, &s, "no such NodePort");
	fx_expect_spec_untouched_xdp(&s, "no such NodePort");
	s = from_client(CLIENT, 22);
	fx_expect_spec_untouched(fx.from_netdev, &s, "ssh to the node");
	fx_expect_spec_untouched_xdp(&s, "ssh to the node");
	s = from_client(CLIENT, NODEPORT);
	s.daddr = ip4(192, 168, 1, 50);
	fx_expect_spec_untouched(fx.from_netdev, &s, "another host's port");
	fx_expect_spec_untouched_xdp(&s, "another host's port");
}

Test(nodeport, masquerade_out_and_back)
{
	struct berth_node_cfg cfg = node_cfg();
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, CPORT, 53), want, rep;

	cfg.flags = BERTH_NODE_F_MASQUERADE;
	fx_node_set(&cfg);
	s.saddr = LOCAL_BE;
	s.daddr = ip4(8, 8, 8, 8);
	s.payload = "query";
	s.payload_len = 5;
	want = s;
	want.saddr = NODE_IP;
	expect_out(fx.to_netdev, &s, FX_TC_ACT_OK, &want, "masquerade out");
	{
		struct berth_ct_key in = { .saddr = s.daddr,
					   .daddr = NODE_IP,
					   .sport = htons(53),
					   .dport = htons(CPORT),
					   .proto = IPPROTO_UDP,
					   .dir = BERTH_NAT_IN };
		struct berth_nat_val v = fx_nat_get(&in);

		cr_assert(v.addr == LOCAL_BE && v.port == htons(CPORT) &&
				  !v.rev_nat_id,
			  "IN entry does not name the pod");
	}

	rep = s;
	rep.saddr = s.daddr;
	rep.daddr = NODE_IP;
	rep.sport = 53;
	rep.dport = CPORT;
	want = rep;
	want.daddr = LOCAL_BE;
	want = to_local_pod(want);
	expect_out(fx.from_netdev, &rep, FX_TC_ACT_REDIRECT, &want,
		   "masquerade reply to the pod");
}

Test(nodeport, masquerade_only_when_asked)
{
	struct berth_node_cfg cfg = node_cfg();
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, CPORT, 443);

	s.saddr = LOCAL_BE;
	s.daddr = ip4(1, 1, 1, 1);
	fx_expect_spec_untouched(fx.to_netdev, &s, "masquerade off");
	cfg.flags = BERTH_NODE_F_MASQUERADE;
	fx_node_set(&cfg);
	s.daddr = REMOTE_NODE;
	fx_expect_spec_untouched(fx.to_netdev, &s, "to another node");
	s.daddr = REMOTE_BE;
	fx_expect_spec_untouched(fx.to_netdev, &s, "to a remote pod");
	s.daddr = ip4(1, 1, 1, 1);
	s.saddr = NODE_IP;
	fx_expect_spec_untouched(fx.to_netdev, &s, "the node's own traffic");
}

/*
 * A client outside the cluster connecting straight to a pod's address
 * (routed through the node): the pod's replies keep its address, where a
 * connection the pod opened to the same place is masqueraded.
 */
Test(nodeport, inbound_to_pod_replies_not_masqueraded)
{
	struct berth_node_cfg cfg = node_cfg();
	struct pkt_spec in, rep, want;
	uint8_t proto;

	cfg.flags = BERTH_NODE_F_MASQUERADE;
	fx_node_set(&cfg);
	for (int i = 0; i < 2; i++) {
		proto = i ? IPPROTO_UDP : IPPROTO_TCP;
		in = fx_pkt(proto, CPORT, BE_PORT);
		in.saddr = CLIENT;
		in.daddr = LOCAL_BE;
		fx_expect_spec_untouched(
			fx.from_netdev, &in,
			"outside to a pod, for the host stack");
		rep = fx_reply(proto, LOCAL_BE, BE_PORT, CPORT);
		rep.daddr = CLIENT;
		fx_expect_spec_untouched(fx.to_netdev, &rep,
					 "the pod's reply keeps its address");
		/* the same pod opening its own connection is masqueraded */
		rep.sport = BE_PORT + 1;
		want = rep;
		want.saddr = NODE_IP;
		expect_out(fx.to_netdev, &rep, FX_TC_ACT_OK, &want,
			   "the pod's own connection out");
	}
	/* masquerade off: nothing recorded, nothing rewritten */
	fx_node_set(&(struct berth_node_cfg){ .node_ip = NODE_IP });
	in = fx_pkt(IPPROTO_TCP, CPORT + 1, BE_PORT);
	in.saddr = CLIENT;
	in.daddr = LOCAL_BE;
	fx_expect_spec_untouched(fx.from_netdev, &in, "masquerade off");
}

#define PING_ID 0x1234
#define ROUTER ip4(172, 16, 0, 1)

static void masquerade_on(void)
{
	struct berth_node_cfg cfg = node_cfg();

	cfg.flags = BERTH_NODE_F_MASQUERADE;
	fx_node_set(&cfg);
}

/* A pod's echo request leaves from the node (id as the port), the reply returns. */
Test(nodeport, masquerade_ping)
{
	struct pkt_spec s = {
		.saddr = LOCAL_BE,
		.daddr = ip4(8, 8, 8, 8),
		.proto = IPPROTO_ICMP,
		.icmp_type = 8,
		.icmp_rest = PING_ID << 16 | 1,
		.payload = "ping data",
		.payload_len = 9,
	}, want, rep;

	masquerade_on();
	want = s;
	want.saddr = NODE_IP;
	expect_out(fx.to_netdev, &s, FX_TC_ACT_OK, &want, "echo masqueraded");

	rep = s;
	rep.saddr = s.daddr;
	rep.daddr = NODE_IP;
	rep.icmp_type = 0;
	want = rep;
	want.daddr = LOCAL_BE;
	want = to_local_pod(want);
	expect_out(fx.from_netdev, &rep, FX_TC_ACT_REDIRECT, &want,
		   "echo reply to the pod");
	/* a reply nobody asked for is the host's */
	rep.icmp_rest = (PING_ID + 1) << 16 | 1;
	fx_expect_spec_untouched(fx.from_netdev, &rep, "unknown echo id");
}

/* Two pods pinging with one id: the second leaves with another. */
Test(nodeport, masquerade_ping_id_collision)
{
	struct pkt_spec s = {
		.saddr = LOCAL_BE,
		.daddr = ip4(8, 8, 8, 8),
		.proto = IPPROTO_ICMP,
		.icmp_type = 8,
		.icmp_rest = PING_ID << 16 | 1,
	};
	uint8_t in[PKT_MAX];
	struct fx_out out;
	struct pkt_view v;

	masquerade_on();
	fx_run(fx.to_netdev, in, pkt_build(in, &s), &out);
	s.saddr = ip4(10, 0, 1, 8);
	fx_run(fx.to_netdev, in, pkt_build(in, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "verdict %d", out.ret);
	fx_expect_csums(&out, "second pod's echo");
	cr_assert_eq(pkt_parse(out.buf, out.len, &v), 0, "unparsable output");
	cr_assert_eq(v.saddr, NODE_IP, "not masqueraded");
	cr_assert_neq(pkt_get16(out.buf + v.l4 + 4), PING_ID,
		      "second pod kept the id the first one holds");
}

/*
 * An ICMP error from `from` to the node quoting the first quote_len bytes
 * of the IP packet in frame (an Ethernet frame as built by pkt_build).
 */
static struct pkt_spec icmp_error_about(uint32_t from, uint32_t to,
					const uint8_t *frame, size_t quote_len)
{
	return (struct pkt_spec){
		.saddr = from,
		.daddr = to,
		.proto = IPPROTO_ICMP,
		.icmp_type = 3, /* destination unreachable */
		.icmp_code = 3, /* port */
		.payload = frame + PKT_ETH_LEN,
		.payload_len = quote_len,
	};
}

/* A router's error about a masqueraded UDP flow reaches the pod about its own packet. */
Test(nodeport, masquerade_icmp_error)
{
	static uint8_t sent[PKT_MAX], orig[PKT_MAX];
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, CPORT, 53), want, err;
	struct fx_out out;

	masquerade_on();
	s.saddr = LOCAL_BE;
	s.daddr = ip4(8, 8, 8, 8);
	s.payload = "query";
	s.payload_len = 5;
	pkt_build(orig, &s);
	fx_run(fx.to_netdev, orig, pkt_build(sent, &s), &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "masquerade verdict %d", out.ret);
	memcpy(sent, out.buf, out.len);

	err = icmp_error_about(ROUTER, NODE_IP, sent, 20 + 8 + 5);
	want = icmp_error_about(ROUTER, LOCAL_BE, orig, 20 + 8 + 5);
	want = to_local_pod(want);
	expect_out(fx.from_netdev, &err, FX_TC_ACT_REDIRECT, &want,
		   "error about a masqueraded flow");
}

/*
 * The remote backend of a NodePort flow refuses it: the client gets an
 * error from the frontend quoting client -> frontend.
 */
Test(nodeport, nodeport_snat_icmp_error)
{
	static uint8_t sent[PKT_MAX], orig[PKT_MAX];
	struct pkt_spec s = from_client(CLIENT, NODEPORT), want, err;
	struct fx_out out;
	size_t len;

	nodeport_to(REMOTE_BE);
	len = pkt_build(orig, &s);
	fx_run(fx.from_netdev, orig, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_REDIRECT, "NodePort verdict %d",
		     out.ret);
	memcpy(sent, out.buf, out.len);

	/* the whole TCP header quoted: its checksum is translated too */
	err = icmp_error_about(REMOTE_BE, NODE_IP, sent, len - PKT_ETH_LEN);
	want = icmp_error_about(NODE_IP, CLIENT, orig, len - PKT_ETH_LEN);
	expect_out(fx.overlay_in, &err, FX_TC_ACT_OK, &want,
		   "backend's error, through the tunnel");
}
