// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * to_pod reverse NAT: a backend's reply to a balanced flow reaches the
 * client from the frontend's address and port, checksums right; a packet
 * of no balanced flow passes byte for byte.
 */
#include <netinet/in.h>

#include <criterion/criterion.h>

#include <berth/abi/ct.h>

#include "fixture.h"

#define SVC_PORT 443
#define BE_PORT 8443
#define NBE 4

TestSuite(revnat, .init = fx_setup, .fini = fx_teardown);

static const char body[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
/* Router Alert: 4 bytes, ihl 6 */
static const uint8_t ip_opts_ra[4] = { 148, 4, 0, 0 };

static void add_frontend(uint8_t proto)
{
	fx_add_frontend(proto, SVC_PORT, BE_PORT, NBE);
}

static struct pkt_spec request(uint8_t proto, uint16_t sport)
{
	struct pkt_spec s = fx_pkt(proto, sport, SVC_PORT);

	s.seq = 1000;
	return s;
}

/* The backend's answer to req, once req was sent to backend. */
static struct pkt_spec reply_from(const struct pkt_spec *req, uint32_t backend)
{
	struct pkt_spec s = fx_reply(req->proto, backend, BE_PORT, req->sport);

	s.tcp_flags = PKT_TCP_SYN | PKT_TCP_ACK;
	s.seq = 0xdeadbeef;
	s.ack = req->seq + 1;
	s.payload = body;
	s.payload_len = sizeof(body) - 1;
	return s;
}

static void expect_rev_nat(struct pkt_spec reply)
{
	fx_expect_rev_nat(reply, SVC_PORT);
}

Test(revnat, tcp_reply_from_frontend)
{
	struct pkt_spec req = request(IPPROTO_TCP, 41000);
	struct berth_ct_key key;
	struct berth_ct_val val;
	uint32_t be;

	add_frontend(IPPROTO_TCP);
	be = fx_dnat(&req, NULL);
	expect_rev_nat(reply_from(&req, be));
	key = fx_ct_key(IPPROTO_TCP, BERTH_CT_EGRESS, be, 41000, BE_PORT);
	val = fx_ct_get(&key);
	cr_assert(val.flags & BERTH_CT_F_SEEN_REPLY,
		  "EGRESS entry does not record the reply (flags %#x)",
		  val.flags);
}

Test(revnat, udp_reply_from_frontend)
{
	struct pkt_spec req = request(IPPROTO_UDP, 41001), rep;
	uint32_t be;

	add_frontend(IPPROTO_UDP);
	be = fx_dnat(&req, NULL);
	rep = reply_from(&req, be);
	expect_rev_nat(rep);
	rep.payload_len = 3; /* odd */
	expect_rev_nat(rep);
	rep.udp_no_csum = true; /* and "no checksum" stays so */
	expect_rev_nat(rep);
}

Test(revnat, reply_with_ip_options)
{
	struct pkt_spec req = request(IPPROTO_TCP, 41002), rep;

	add_frontend(IPPROTO_TCP);
	rep = reply_from(&req, fx_dnat(&req, NULL));
	rep.ip_opts = ip_opts_ra;
	rep.ip_opts_len = sizeof(ip_opts_ra);
	expect_rev_nat(rep);
}

Test(revnat, every_flow_finds_its_frontend)
{
	struct pkt_spec req;

	add_frontend(IPPROTO_TCP);
	for (uint16_t sport = 42000; sport < 42064; sport++) {
		req = request(IPPROTO_TCP, sport);
		expect_rev_nat(reply_from(&req, fx_dnat(&req, NULL)));
	}
}

Test(revnat, unrelated_untouched)
{
	struct pkt_spec req = request(IPPROTO_TCP, 41003), rep;
	uint32_t be;

	add_frontend(IPPROTO_TCP);
	be = fx_dnat(&req, NULL);
	rep = reply_from(&req, be);

	/* another client port, another backend port, another source */
	rep.dport = 41004;
	fx_expect_spec_untouched(fx.to_pod, &rep, "no reply of a flow");
	rep = reply_from(&req, be);
	rep.sport = BE_PORT + 1;
	fx_expect_spec_untouched(fx.to_pod, &rep, "no reply of a flow");
	rep = reply_from(&req, be);
	rep.saddr = ip4(10, 0, 9, 9);
	fx_expect_spec_untouched(fx.to_pod, &rep, "no reply of a flow");
	/* the same ports over UDP belong to no flow */
	rep = reply_from(&req, be);
	rep.proto = IPPROTO_UDP;
	fx_expect_spec_untouched(fx.to_pod, &rep, "no reply of a flow");
	/* the client's own request is not a reply */
	fx_expect_spec_untouched(fx.to_pod, &req, "request");
}
