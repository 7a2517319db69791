// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The events ring buffer (bpf/lib/events.h): every drop leaves a record
 * with its reason, device, tuple and size; forwarded packets leave trace
 * records only while events_cfg turns tracing on; records that find the
 * buffer full are counted in events_lost.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include <berth/abi/events.h>
#include <berth/abi/metrics.h>

#include "fixture.h"

#define SVC_PORT 80
#define BE_PORT 8080
#define CLIENT_PORT 41000
#define LO_IFINDEX 1 /* BPF_PROG_TEST_RUN runs tc programs on lo */
#define ETH_HLEN_TEST 14 /* where the IPv4 header starts */
#define MAX_RECS 8192 /* more than the ring buffer holds (abi/events.h) */

static void setup(void)
{
	fx_setup();
	fx_add_frontend(IPPROTO_UDP, SVC_PORT, BE_PORT, 2);
}

TestSuite(events, .init = setup, .fini = fx_teardown);

struct recs {
	struct berth_event ev[MAX_RECS];
	size_t n;
};

static int on_record(void *ctx, void *data, size_t len)
{
	struct recs *r = ctx;

	cr_assert_eq(len, sizeof(struct berth_event), "record of %zu bytes",
		     len);
	if (r->n < MAX_RECS)
		memcpy(&r->ev[r->n++], data, sizeof(struct berth_event));
	return 0;
}

/* Every record waiting in the ring buffer, taken out of it. */
static void consume(struct recs *r)
{
	struct ring_buffer *rb;
	int n;

	r->n = 0;
	rb = ring_buffer__new(fx.dp->events.fd, on_record, r, NULL);
	cr_assert_not_null(rb, "ring_buffer__new: %s", strerror(errno));
	n = ring_buffer__consume(rb);
	ring_buffer__free(rb);
	cr_assert_geq(n, 0, "ring_buffer__consume: %d", n);
}

/* Run from_pod once on lo; returns its verdict and the frame's length. */
static int run(int prog, const struct pkt_spec *s, size_t *len)
{
	static uint8_t in[PKT_MAX];
	static struct fx_out out;

	*len = pkt_build(in, s);
	return fx_run_dev(prog, in, *len, LO_IFINDEX, &out);
}

static void set_trace(bool on)
{
	struct berth_events_cfg cfg = { .flags = on ? BERTH_EVENTS_F_TRACE :
						      0 };
	uint32_t zero = 0;

	cr_assert_eq(bpf_map_update_elem(fx.dp->events_cfg.fd, &zero, &cfg, 0),
		     0, "events_cfg: %s", strerror(errno));
}

static uint64_t lost(uint32_t type)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[ncpu > 0 ? ncpu : 1], sum = 0;

	cr_assert_gt(ncpu, 0);
	cr_assert_eq(bpf_map_lookup_elem(fx.dp->events_lost.fd, &type, vals), 0,
		     "events_lost: %s", strerror(errno));
	for (int i = 0; i < ncpu; i++)
		sum += vals[i];
	return sum;
}

static void expect_tuple(const struct berth_event *ev, const struct pkt_spec *s,
			 size_t len)
{
	cr_assert_eq(ev->proto, s->proto, "proto %u", ev->proto);
	cr_assert(ev->saddr == s->saddr && ev->daddr == s->daddr,
		  "addresses %s -> %s", pkt_ntoa(ev->saddr),
		  pkt_ntoa(ev->daddr));
	cr_assert(ev->sport == htons(s->sport) && ev->dport == htons(s->dport),
		  "ports %u -> %u", ntohs(ev->sport), ntohs(ev->dport));
	cr_assert_eq(ev->len, len, "len %u, frame %zu", ev->len, len);
	cr_assert_eq(ev->ifindex, LO_IFINDEX, "ifindex %u", ev->ifindex);
	cr_assert_neq(ev->ts_ns, 0);
}

/*
 * A drop of a reason other than policy: the first fragment of a datagram
 * to a frontend (only it carries ports; the rest could not follow it).
 */
Test(events, fragment_drop_record)
{
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, CLIENT_PORT, SVC_PORT);
	struct recs *r = calloc(1, sizeof(*r));
	size_t len;

	cr_assert_not_null(r);
	s.frag_off = 0x2000; /* MF, offset 0 */
	cr_assert_eq(run(fx.from_pod, &s, &len), FX_TC_ACT_SHOT,
		     "a fragment to a frontend is dropped");
	cr_assert_eq(fx_metric(BERTH_DROP_FRAG, BERTH_DIR_EGRESS), 1);
	consume(r);
	cr_assert_eq(r->n, 1, "%zu records, want 1", r->n);
	cr_assert_eq(r->ev[0].type, BERTH_EVENT_DROP);
	cr_assert_eq(r->ev[0].reason, BERTH_DROP_FRAG, "reason %u",
		     r->ev[0].reason);
	cr_assert_eq(r->ev[0].dir, BERTH_DIR_EGRESS);
	expect_tuple(&r->ev[0], &s, len);
	free(r);
}

/* A Service without endpoints: the packet is turned into a refusal. */
Test(events, no_service_record)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, CLIENT_PORT, 81);
	struct berth_frontend fe;
	struct recs *r = calloc(1, sizeof(*r));
	size_t len;

	FX_NEED(skb_change_tail);
	cr_assert_not_null(r);
	fx_frontend_init(&fe, NULL, FX_VIP, 81, IPPROTO_TCP, 0, 0, 0);
	fx_sync(&fe, 1);
	run(fx.from_pod, &s, &len);
	cr_assert_eq(fx_metric(BERTH_DROP_NO_SERVICE, BERTH_DIR_EGRESS), 1);
	consume(r);
	cr_assert_eq(r->n, 1, "%zu records, want 1", r->n);
	cr_assert_eq(r->ev[0].type, BERTH_EVENT_DROP);
	cr_assert_eq(r->ev[0].reason, BERTH_DROP_NO_SERVICE);
	/* the packet as it came, before it became the reset */
	expect_tuple(&r->ev[0], &s, len);
	free(r);
}

/* A malformed packet: no tuple to report, but reason, device and size. */
Test(events, invalid_record)
{
	struct pkt_spec s = fx_pkt(IPPROTO_TCP, CLIENT_PORT, SVC_PORT);
	static uint8_t in[PKT_MAX];
	struct fx_out out;
	struct recs *r = calloc(1, sizeof(*r));
	size_t len = pkt_build(in, &s);

	cr_assert_not_null(r);
	in[ETH_HLEN_TEST] = 0x44; /* IHL 4: shorter than the header itself */
	cr_assert_eq(fx_run_dev(fx.from_pod, in, len, LO_IFINDEX, &out),
		     FX_TC_ACT_SHOT);
	consume(r);
	cr_assert_eq(r->n, 1, "%zu records, want 1", r->n);
	cr_assert_eq(r->ev[0].reason, BERTH_DROP_INVALID);
	cr_assert_eq(r->ev[0].len, len);
	free(r);
}

/* Forwarded packets: no record while tracing is off, one while it is on. */
Test(events, trace_only_when_on)
{
	/* not a frontend, no endpoints or ipcache: to the host stack */
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, CLIENT_PORT, 9999);
	struct recs *r = calloc(1, sizeof(*r));
	size_t len;

	cr_assert_not_null(r);
	s.daddr = ip4(192, 0, 2, 1);
	cr_assert_eq(run(fx.from_pod, &s, &len), FX_TC_ACT_OK);
	cr_assert_eq(run(fx.to_pod, &s, &len), FX_TC_ACT_OK);
	consume(r);
	cr_assert_eq(r->n, 0, "trace off (default): %zu records", r->n);

	set_trace(true);
	cr_assert_eq(run(fx.from_pod, &s, &len), FX_TC_ACT_OK);
	cr_assert_eq(run(fx.to_pod, &s, &len), FX_TC_ACT_OK);
	consume(r);
	cr_assert_eq(r->n, 2, "trace on: %zu records, want 2", r->n);
	cr_assert_eq(r->ev[0].type, BERTH_EVENT_TRACE);
	cr_assert_eq(r->ev[0].reason, BERTH_TRACE_TO_STACK);
	cr_assert_eq(r->ev[0].dir, BERTH_DIR_EGRESS);
	expect_tuple(&r->ev[0], &s, len);
	cr_assert_eq(r->ev[1].type, BERTH_EVENT_TRACE);
	cr_assert_eq(r->ev[1].reason, BERTH_TRACE_TO_POD);
	cr_assert_eq(r->ev[1].dir, BERTH_DIR_INGRESS);

	set_trace(false);
	cr_assert_eq(run(fx.from_pod, &s, &len), FX_TC_ACT_OK);
	consume(r);
	cr_assert_eq(r->n, 0, "trace off again: %zu records", r->n);
	free(r);
}

/* A full ring buffer: what does not fit is counted, nothing vanishes. */
Test(events, lost_when_full)
{
	struct pkt_spec s = fx_pkt(IPPROTO_UDP, CLIENT_PORT, SVC_PORT);
	struct recs *r = calloc(1, sizeof(*r));
	uint32_t runs = BERTH_EVENTS_SIZE / sizeof(struct berth_event) + 100;
	size_t len;

	cr_assert_not_null(r);
	s.frag_off = 0x2000;
	for (uint32_t i = 0; i < runs; i++)
		cr_assert_eq(run(fx.from_pod, &s, &len), FX_TC_ACT_SHOT);
	cr_assert_gt(lost(BERTH_EVENT_DROP), 0, "nothing lost");
	consume(r);
	cr_assert_eq(r->n + lost(BERTH_EVENT_DROP), runs,
		     "%zu records + %lu lost, %u drops", r->n,
		     (unsigned long)lost(BERTH_EVENT_DROP), runs);
	cr_assert_eq(lost(BERTH_EVENT_TRACE), 0);
	free(r);
}
