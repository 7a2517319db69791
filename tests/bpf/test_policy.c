// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * NetworkPolicy in the datapath (bpf/lib/policy.h): the lookup order of
 * abi/policy.h on real programs. Pod A (FX_CLIENT) and pod B are local;
 * peers are known by their ipcache identity; what a selected pod's entries
 * do not allow is dropped and counted, replies of allowed flows pass.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include <berth/abi/events.h>
#include <berth/abi/metrics.h>
#include <berth/abi/policy.h>
#include <berth/abi/route.h>

#include "fixture.h"

#define POD_A FX_CLIENT
#define POD_B ip4(10, 0, 1, 7)
#define NODE_IP ip4(192, 168, 1, 1)
#define OUTSIDE ip4(203, 0, 113, 9)
#define ID_A 1000
#define ID_B 2000
#define ID_BE 3000

static const uint8_t pod_b_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x07 };
static const uint8_t veth_b_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0xfe, 0x07 };
static const uint8_t pod_a_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x01, 0x05 };
static const uint8_t veth_a_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0xfe, 0x05 };

/* A local pod with its identity and BERTH_EP_F_* flags. */
static void endpoint_set(uint32_t ip, uint32_t ifindex, const uint8_t *mac,
			 const uint8_t *host_mac, uint32_t id, uint32_t flags)
{
	struct berth_endpoint_info ep = {
		.ifindex = ifindex,
		.identity = id,
		.flags = flags,
	};

	memcpy(ep.mac, mac, 6);
	memcpy(ep.host_mac, host_mac, 6);
	cr_assert_eq(bpf_map_update_elem(fx.dp->endpoints.fd, &ip, &ep, 0), 0,
		     "endpoints update: %s", strerror(errno));
}

static void ipcache_id(uint32_t ip, uint32_t prefixlen, uint32_t id,
		       uint8_t flags)
{
	struct berth_ipcache_key k = { .prefixlen = prefixlen, .ip = ip };
	struct berth_ipcache_val v = {
		.identity = id, .flags = flags | BERTH_IPCACHE_F_IDENTITY
	};

	cr_assert_eq(bpf_map_update_elem(fx.dp->ipcache.fd, &k, &v, 0), 0,
		     "ipcache update: %s", strerror(errno));
}

/*
 * An allow, given as the compiler's key (prefixlen as in abi/policy.h,
 * ranges: 80 + bits of the port), written in the maps' layout: a port or
 * range entry, then its head's bit added (as the agent's policy sync).
 */
static void allow(uint32_t ep_ip, uint8_t dir, uint32_t id, uint8_t proto,
		  uint16_t port, uint32_t prefixlen)
{
	struct berth_policy_key rk = { .prefixlen = prefixlen,
				       .ep_ip = ep_ip,
				       .identity = htonl(id),
				       .dir = dir,
				       .proto = proto,
				       .port = htons(port) };
	struct berth_policy_hkey hk = { .ep_ip = ep_ip,
					.identity = id,
					.dir = dir,
					.proto = proto,
					.port = htons(port) };
	struct berth_policy_val v = { .flags = BERTH_POLICY_F_ALLOW }, head;
	uint32_t bit;

	if (prefixlen <= BERTH_POLICY_PREFIX_ANY_PROTO) {
		bit = BERTH_POLICY_F_ALLOW;
	} else if (prefixlen <= BERTH_POLICY_PREFIX_ANY_PORT) {
		bit = BERTH_POLICY_F_ANY_PORT(berth_policy_proto_idx(proto));
	} else if (prefixlen >= BERTH_POLICY_PREFIX_FULL) {
		bit = BERTH_POLICY_F_PORTS(berth_policy_proto_idx(proto));
		cr_assert_eq(bpf_map_update_elem(fx.dp->policy.fd, &hk, &v, 0),
			     0, "policy update: %s", strerror(errno));
	} else {
		bit = BERTH_POLICY_F_RANGES(berth_policy_proto_idx(proto));
		cr_assert_eq(bpf_map_update_elem(fx.dp->policy_ranges.fd, &rk,
						 &v, 0),
			     0, "policy_ranges update: %s", strerror(errno));
	}
	hk.proto = 0;
	hk.port = 0;
	if (bpf_map_lookup_elem(fx.dp->policy.fd, &hk, &head))
		head = (struct berth_policy_val){ 0 };
	head.flags |= bit;
	cr_assert_eq(bpf_map_update_elem(fx.dp->policy.fd, &hk, &head, 0), 0,
		     "policy head update: %s", strerror(errno));
}

static void set_flags(uint32_t ip, uint32_t flags)
{
	struct berth_endpoint_info ep;

	cr_assert_eq(bpf_map_lookup_elem(fx.dp->endpoints.fd, &ip, &ep), 0);
	ep.flags = flags;
	cr_assert_eq(bpf_map_update_elem(fx.dp->endpoints.fd, &ip, &ep, 0), 0);
}

static void setup(void)
{
	struct berth_node_cfg cfg = { .node_ip = NODE_IP };

	fx_setup();
	fx_node_set(&cfg);
	endpoint_set(POD_A, 43, pod_a_mac, veth_a_mac, ID_A, 0);
	endpoint_set(POD_B, 42, pod_b_mac, veth_b_mac, ID_B, 0);
	fx_ipcache_add(ip4(10, 0, 1, 0), 24, 0,
		       BERTH_IPCACHE_F_LOCAL | BERTH_IPCACHE_F_POD);
	ipcache_id(POD_A, 32, ID_A,
		   BERTH_IPCACHE_F_LOCAL | BERTH_IPCACHE_F_POD);
	ipcache_id(POD_B, 32, ID_B,
		   BERTH_IPCACHE_F_LOCAL | BERTH_IPCACHE_F_POD);
	/* the node's own address: identity host (nodesync writes it) */
	{
		struct berth_ipcache_key k = { .prefixlen = 32, .ip = NODE_IP };
		struct berth_ipcache_val v = {
			.identity = BERTH_ID_HOST,
			.flags = BERTH_IPCACHE_F_NODE | BERTH_IPCACHE_F_LOCAL,
		};

		cr_assert_eq(bpf_map_update_elem(fx.dp->ipcache.fd, &k, &v, 0),
			     0);
	}
}

TestSuite(policy, .init = setup, .fini = fx_teardown);

static struct pkt_spec pkt(uint8_t proto, uint32_t saddr, uint16_t sport,
			   uint32_t daddr, uint16_t dport)
{
	struct pkt_spec s = fx_pkt(proto, sport, dport);

	s.saddr = saddr;
	s.daddr = daddr;
	if (proto == IPPROTO_ICMP) {
		s.icmp_type = 8;
		s.icmp_rest = 0x12340001;
	}
	return s;
}

static int run(int prog, const struct pkt_spec *s)
{
	static uint8_t in[PKT_MAX];
	static struct fx_out out;

	return fx_run(prog, in, pkt_build(in, s), &out);
}

/* Run s through prog and expect verdict want. */
static void expect(int prog, struct pkt_spec s, int want, const char *what)
{
	int got = run(prog, &s);

	cr_assert_eq(got, want, "%s: verdict %d, want %d", what, got, want);
}

#define PASS_LOCAL FX_TC_ACT_REDIRECT
#define DROP FX_TC_ACT_SHOT

Test(policy, allow_by_identity_and_port)
{
	uint64_t before = fx_metric(BERTH_DROP_POLICY, BERTH_DIR_INGRESS);

	set_flags(POD_B, BERTH_EP_F_INGRESS_ENFORCED);
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, IPPROTO_TCP, 80,
	      BERTH_POLICY_PREFIX_FULL);
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40000, POD_B, 80),
	       PASS_LOCAL, "A -> B:80 allowed");
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40001, POD_B, 81), DROP,
	       "A -> B:81 not allowed");
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_A, 40002, POD_B, 80), DROP,
	       "UDP A -> B:80 not allowed");
	/* another peer (identity not named): dropped */
	ipcache_id(ip4(10, 0, 1, 9), 32, 4242, BERTH_IPCACHE_F_POD);
	expect(fx.from_pod,
	       pkt(IPPROTO_TCP, ip4(10, 0, 1, 9), 40003, POD_B, 80), DROP,
	       "other identity -> B:80");
	cr_assert_eq(fx_metric(BERTH_DROP_POLICY, BERTH_DIR_INGRESS),
		     before + 3, "policy drops counted under their reason");
}

Test(policy, port_range_prefix)
{
	set_flags(POD_B, BERTH_EP_F_INGRESS_ENFORCED);
	/* 8000-8007: one prefix, 13 bits of the port fixed */
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, IPPROTO_TCP, 8000,
	      BERTH_POLICY_PREFIX_ANY_PORT + 13);
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40000, POD_B, 8000),
	       PASS_LOCAL, "range low end");
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40001, POD_B, 8007),
	       PASS_LOCAL, "range high end");
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40002, POD_B, 8008), DROP,
	       "past the range");
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40003, POD_B, 7999), DROP,
	       "before the range");
}

/* One head pointing to ports and ranges of two protocols at once. */
Test(policy, head_ports_and_ranges)
{
	set_flags(POD_B, BERTH_EP_F_INGRESS_ENFORCED);
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, IPPROTO_TCP, 80,
	      BERTH_POLICY_PREFIX_FULL);
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, IPPROTO_TCP, 9008,
	      BERTH_POLICY_PREFIX_ANY_PORT + 12); /* 9008-9023 */
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, IPPROTO_UDP, 53,
	      BERTH_POLICY_PREFIX_FULL);
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40000, POD_B, 80),
	       PASS_LOCAL, "TCP port entry");
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40001, POD_B, 9023),
	       PASS_LOCAL, "TCP range");
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_A, 40002, POD_B, 53),
	       PASS_LOCAL, "UDP port entry");
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_A, 40003, POD_B, 80), DROP,
	       "UDP on TCP's port");
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_A, 40004, POD_B, 9010), DROP,
	       "UDP in TCP's range");
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40005, POD_B, 53), DROP,
	       "TCP on UDP's port");
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40006, POD_B, 9024), DROP,
	       "TCP past the range");
}

Test(policy, any_port_any_proto_icmp)
{
	set_flags(POD_B, BERTH_EP_F_INGRESS_ENFORCED);
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, IPPROTO_UDP, 0,
	      BERTH_POLICY_PREFIX_ANY_PORT);
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_A, 40000, POD_B, 53),
	       PASS_LOCAL, "UDP any port");
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_A, 40001, POD_B, 65535),
	       PASS_LOCAL, "UDP any port, 65535");
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40002, POD_B, 53), DROP,
	       "TCP with UDP any port");
	expect(fx.from_pod, pkt(IPPROTO_ICMP, POD_A, 0, POD_B, 0), DROP,
	       "ping with a port entry only");
	/* a rule without ports: every protocol, ICMP too */
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, 0, 0,
	      BERTH_POLICY_PREFIX_ANY_PROTO);
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40003, POD_B, 22),
	       PASS_LOCAL, "TCP any proto");
	expect(fx.from_pod, pkt(IPPROTO_ICMP, POD_A, 0, POD_B, 0), PASS_LOCAL,
	       "ping any proto");
}

Test(policy, any_peer_entry)
{
	set_flags(POD_B, BERTH_EP_F_INGRESS_ENFORCED);
	allow(POD_B, BERTH_POLICY_INGRESS, BERTH_ID_ANY, IPPROTO_TCP, 443,
	      BERTH_POLICY_PREFIX_FULL);
	/* a peer outside the cluster: not in the ipcache (world) */
	expect(fx.to_pod, pkt(IPPROTO_TCP, OUTSIDE, 40000, POD_B, 443),
	       FX_TC_ACT_OK, "world -> B:443 (any peer)");
	expect(fx.to_pod, pkt(IPPROTO_TCP, OUTSIDE, 40001, POD_B, 444), DROP,
	       "world -> B:444");
	allow(POD_B, BERTH_POLICY_INGRESS, BERTH_ID_WORLD, IPPROTO_TCP, 444,
	      BERTH_POLICY_PREFIX_FULL);
	expect(fx.to_pod, pkt(IPPROTO_TCP, OUTSIDE, 40002, POD_B, 444),
	       FX_TC_ACT_OK, "world -> B:444 (world)");
}

Test(policy, enforced_or_not)
{
	uint64_t before;

	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40000, POD_B, 80),
	       PASS_LOCAL, "no policy: everything passes");
	set_flags(POD_B, BERTH_EP_F_EGRESS_ENFORCED);
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40001, POD_B, 80),
	       PASS_LOCAL, "B enforced for egress only: ingress passes");
	set_flags(POD_B, BERTH_EP_F_INGRESS_ENFORCED);
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40002, POD_B, 80), DROP,
	       "B enforced for ingress, nothing allowed");
	expect(fx.to_pod, pkt(IPPROTO_UDP, OUTSIDE, 40003, POD_B, 53), DROP,
	       "to_pod: world -> B");
	set_flags(POD_A, BERTH_EP_F_EGRESS_ENFORCED);
	set_flags(POD_B, 0);
	before = fx_metric(BERTH_DROP_POLICY, BERTH_DIR_EGRESS);
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40004, POD_B, 80), DROP,
	       "A enforced for egress, nothing allowed");
	cr_assert_eq(fx_metric(BERTH_DROP_POLICY, BERTH_DIR_EGRESS), before + 1,
		     "egress drop counted");
}

Test(policy, host_always_allowed)
{
	set_flags(POD_B,
		  BERTH_EP_F_INGRESS_ENFORCED | BERTH_EP_F_EGRESS_ENFORCED);
	expect(fx.to_pod, pkt(IPPROTO_TCP, NODE_IP, 40000, POD_B, 8080),
	       FX_TC_ACT_OK, "node -> B (probe)");
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_B, 8080, NODE_IP, 40000),
	       FX_TC_ACT_OK, "B -> node");
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_B, 40001, OUTSIDE, 53), DROP,
	       "B -> world still denied");
}

Test(policy, replies_pass)
{
	struct pkt_spec syn = pkt(IPPROTO_TCP, POD_A, 40000, POD_B, 80);
	struct pkt_spec reply = pkt(IPPROTO_TCP, POD_B, 80, POD_A, 40000);
	struct berth_ct_key k = { .saddr = POD_A,
				  .daddr = POD_B,
				  .sport = htons(40000),
				  .dport = htons(80),
				  .proto = IPPROTO_TCP,
				  .dir = BERTH_CT_POLICY };
	struct berth_ct_val v;

	/* both deny everything but A -> B:80 */
	set_flags(POD_A,
		  BERTH_EP_F_INGRESS_ENFORCED | BERTH_EP_F_EGRESS_ENFORCED);
	set_flags(POD_B,
		  BERTH_EP_F_INGRESS_ENFORCED | BERTH_EP_F_EGRESS_ENFORCED);
	allow(POD_A, BERTH_POLICY_EGRESS, ID_B, IPPROTO_TCP, 80,
	      BERTH_POLICY_PREFIX_FULL);
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, IPPROTO_TCP, 80,
	      BERTH_POLICY_PREFIX_FULL);
	expect(fx.from_pod, reply, DROP, "B -> A before any flow");
	expect(fx.from_pod, syn, PASS_LOCAL, "A -> B:80");
	cr_assert_eq(bpf_map_lookup_elem(fx.dp->ct.fd, &k, &v), 0,
		     "no policy conntrack entry");
	cr_assert_eq(v.flags & (BERTH_CT_F_POL_INGRESS | BERTH_CT_F_POL_EGRESS),
		     BERTH_CT_F_POL_INGRESS | BERTH_CT_F_POL_EGRESS,
		     "both sides judged: flags %#x", v.flags);
	reply.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
	expect(fx.from_pod, reply, PASS_LOCAL, "reply B -> A");
	syn.tcp_flags = PKT_TCP_ACK;
	expect(fx.from_pod, syn, PASS_LOCAL, "A -> B, later packet");
	/* the reverse connection is a new flow: denied both ways */
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_B, 40001, POD_A, 80), DROP,
	       "B -> A:80 new flow");
	/* another node's reply path: the reply delivered by to_pod */
	expect(fx.to_pod, reply, FX_TC_ACT_OK, "reply B -> A through to_pod");
}

/*
 * Enforced in one direction only: a flow it accepts is still recorded, so
 * its replies pass the other direction's check.
 */
Test(policy, reply_to_unenforced_side)
{
	set_flags(POD_B, BERTH_EP_F_EGRESS_ENFORCED);
	expect(fx.to_pod, pkt(IPPROTO_UDP, OUTSIDE, 5353, POD_B, 53),
	       FX_TC_ACT_OK, "world -> B (ingress not enforced)");
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_B, 53, OUTSIDE, 5353),
	       FX_TC_ACT_OK, "B's reply to world");
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_B, 53, OUTSIDE, 5354), DROP,
	       "B -> world, new flow");
}

Test(policy, egress_judged_after_dnat)
{
	uint32_t be = fx_backend_ip(0);

	fx_add_frontend(IPPROTO_TCP, 80, 8080, 1);
	ipcache_id(be, 32, ID_BE, BERTH_IPCACHE_F_POD);
	set_flags(POD_A, BERTH_EP_F_EGRESS_ENFORCED);
	/* the frontend's port names nothing real: dropped */
	allow(POD_A, BERTH_POLICY_EGRESS, ID_BE, IPPROTO_TCP, 80,
	      BERTH_POLICY_PREFIX_FULL);
	expect(fx.from_pod, fx_pkt(IPPROTO_TCP, 40000, 80), DROP,
	       "ClusterIP with the frontend's port allowed");
	allow(POD_A, BERTH_POLICY_EGRESS, ID_BE, IPPROTO_TCP, 8080,
	      BERTH_POLICY_PREFIX_FULL);
	{
		struct pkt_spec s = fx_pkt(IPPROTO_TCP, 40001, 80);
		uint16_t port;

		cr_assert_eq(fx_dnat(&s, &port), be,
			     "ClusterIP with the backend's port allowed");
		cr_assert_eq(port, 8080);
	}
}

static int on_event(void *ctx, void *data, size_t len)
{
	struct berth_event *out = ctx;

	if (len == sizeof(*out))
		memcpy(out, data, sizeof(*out));
	return 0;
}

/* A policy drop leaves a record in the events ring buffer: who, where. */
Test(policy, drop_event)
{
	struct berth_event ev = { 0 };
	struct ring_buffer *rb;
	int n;

	rb = ring_buffer__new(fx.dp->events.fd, on_event, &ev, NULL);
	cr_assert_not_null(rb, "ring_buffer__new: %s", strerror(errno));
	set_flags(POD_B, BERTH_EP_F_INGRESS_ENFORCED);
	expect(fx.from_pod, pkt(IPPROTO_UDP, POD_A, 40000, POD_B, 53), DROP,
	       "A -> B:53");
	n = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	cr_assert_eq(n, 1, "%d records, want 1", n);
	cr_assert_eq(ev.type, BERTH_EVENT_DROP);
	cr_assert_eq(ev.reason, BERTH_DROP_POLICY);
	cr_assert_eq(ev.dir, BERTH_DIR_INGRESS);
	cr_assert_eq(ev.proto, IPPROTO_UDP);
	cr_assert(ev.saddr == POD_A && ev.daddr == POD_B, "addresses");
	cr_assert(ev.sport == htons(40000) && ev.dport == htons(53), "ports");
	cr_assert_neq(ev.ts_ns, 0);
}

/* The backend GC's conntrack scan: a policy entry names no backend. */
Test(policy, ct_usage_skips_policy_entries)
{
	struct berth_ct_usage *u;
	size_t expired;

	set_flags(POD_B, BERTH_EP_F_INGRESS_ENFORCED);
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, IPPROTO_TCP, 80,
	      BERTH_POLICY_PREFIX_FULL);
	expect(fx.from_pod, pkt(IPPROTO_TCP, POD_A, 40000, POD_B, 80),
	       PASS_LOCAL, "A -> B:80");
	cr_assert_eq(berth_ct_usage_scan(fx.dp, &u, &expired), 0);
	cr_expect_not(berth_ct_usage_has(u, 0), "backend 0 counted as used");
	berth_ct_usage_free(u);
}

/* SCTP: judged by its ports like TCP and UDP. */
Test(policy, sctp_port)
{
	/* common header: ports, verification tag, checksum (not checked) */
	static const uint8_t hdr80[12] = { 0x9c, 0x40, 0x00, 80 };
	static const uint8_t hdr81[12] = { 0x9c, 0x40, 0x00, 81 };
	struct pkt_spec s = pkt(IPPROTO_TCP, POD_A, 0, POD_B, 0);

	set_flags(POD_B, BERTH_EP_F_INGRESS_ENFORCED);
	allow(POD_B, BERTH_POLICY_INGRESS, ID_A, IPPROTO_SCTP, 80,
	      BERTH_POLICY_PREFIX_FULL);
	s.proto = IPPROTO_SCTP;
	s.payload = hdr80;
	s.payload_len = sizeof(hdr80);
	expect(fx.from_pod, s, PASS_LOCAL, "SCTP A -> B:80");
	s.payload = hdr81;
	expect(fx.from_pod, s, DROP, "SCTP A -> B:81");
}
