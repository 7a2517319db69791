// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The per-test datapath of the BPF tests and the helpers every file uses. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <criterion/criterion.h>

#include <berth/abi/lb.h>
#include <berth/abi/metrics.h>
#include <berth/abi/pins.h>
#include <berth/abi/route.h>

#include "fixture.h"

struct fx fx = { .from_pod = -1, .to_pod = -1 };

/* The program named name of the loaded datapath, or fail. */
static int prog_fd(const char *name)
{
	int fd = berth_dp_prog_fd(fx.dp, name);

	if (fd < 0) {
		fx_teardown();
		cr_assert_fail("no program %s: %d", name, fd);
	}
	return fd;
}

void fx_open(const struct berth_dp_config *sizes)
{
	static unsigned int seq;
	struct berth_dp_config cfg = {};
	struct berth_lbmap_maps maps;
	char node[64];
	int err;

	if (sizes)
		cfg = *sizes;
	snprintf(node, sizeof(node), "test-%d-%u", (int)getpid(), seq++);
	err = berth_dp_pin_dir(fx.pin_dir, sizeof(fx.pin_dir), node);
	cr_assert_eq(err, 0, "pin dir for %s: %d", node, err);
	cfg.pin_dir = fx.pin_dir;
	err = berth_dp_open(&fx.dp, &cfg);
	FX_REQUIRE(!err, "berth_dp_open(node %s): %s", node, strerror(-err));
	fx.from_pod = berth_dp_from_pod_fd(fx.dp);
	fx.to_pod = berth_dp_to_pod_fd(fx.dp);
	fx.overlay_in = prog_fd("overlay_in");
	fx.overlay_out = prog_fd("overlay_out");
	fx.from_netdev = prog_fd("from_netdev");
	fx.to_netdev = prog_fd("to_netdev");
	fx.xdp = prog_fd("xdp_nodeport");
	berth_dp_lbmap_maps(fx.dp, &maps);
	err = berth_lbmap_open(&fx.lb, &maps);
	FX_REQUIRE(!err, "berth_lbmap_open: %s", strerror(-err));
}

void fx_setup(void)
{
	fx_open(NULL);
}

void fx_teardown(void)
{
	berth_lbmap_free(fx.lb);
	fx.lb = NULL;
	berth_dp_close(fx.dp);
	fx.dp = NULL;
	if (fx.pin_dir[0]) {
		berth_dp_unpin(fx.pin_dir);
		fx.pin_dir[0] = '\0';
	}
}

/*
 * Once every test is done, the common pin root goes too unless another
 * node is pinned there (then rmdir fails). Not per test: a test making its
 * pin directory would race with another removing the root.
 */
ReportHook(POST_ALL)(struct criterion_global_stats *stats)
{
	(void)stats;
	rmdir(BERTH_BPFFS_ROOT);
}

void fx_sync(const struct berth_frontend *fe, size_t n)
{
	struct berth_sync_stats st;
	char err[256] = "";
	int ret;

	ret = berth_lbmap_sync(fx.lb, fe, n, &st, err, sizeof(err));
	FX_REQUIRE(!ret, "berth_lbmap_sync: %s (%s)", strerror(-ret), err);
}

void fx_set_terminating(struct berth_frontend *fe, uint32_t ip)
{
	for (size_t i = 0; i < fe->nbackends; i++) {
		if (fe->backends[i].ip == ip)
			fe->backends[i].terminating = true;
	}
	fx_sync(fe, 1);
}

/* One BPF_PROG_TEST_RUN with an optional context (asserts the syscall). */
static int run(int prog_fd, const uint8_t *in, size_t len, void *ctx,
	       size_t ctx_len, struct fx_out *out)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = in, .data_size_in = len,
		    .data_out = out->buf, .data_size_out = sizeof(out->buf),
		    .ctx_in = ctx, .ctx_size_in = ctx_len, .repeat = 1);
	int err;

	err = bpf_prog_test_run_opts(prog_fd, &opts);
	cr_assert_eq(err, 0, "BPF_PROG_TEST_RUN: %s", strerror(-err));
	out->ret = opts.retval;
	out->len = opts.data_size_out;
	return out->ret;
}

int fx_run(int prog_fd, const uint8_t *in, size_t len, struct fx_out *out)
{
	return run(prog_fd, in, len, NULL, 0, out);
}

uint32_t fx_dnat(const struct pkt_spec *s, uint16_t *port)
{
	static uint8_t in[PKT_MAX];
	static struct fx_out out;
	struct pkt_view v;
	size_t len = pkt_build(in, s);

	fx_run(fx.from_pod, in, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "from_pod verdict %d, want OK",
		     out.ret);
	cr_assert_eq(out.len, len, "from_pod changed the length");
	fx_expect_csums(&out, "after DNAT");
	cr_assert_eq(pkt_parse(out.buf, out.len, &v), 0, "parse DNAT output");
	if (port)
		*port = v.dport;
	return v.daddr;
}

uint64_t fx_metric(uint8_t reason, uint8_t dir)
{
	struct berth_metrics_key key = { .reason = reason, .dir = dir };
	int ncpu = libbpf_num_possible_cpus();
	struct berth_metrics_val *vals;
	uint64_t sum = 0;

	cr_assert_gt(ncpu, 0, "libbpf_num_possible_cpus: %d", ncpu);
	/* per-CPU values come one per possible CPU, each rounded up to 8 */
	vals = calloc(ncpu, sizeof(*vals));
	cr_assert_not_null(vals, "calloc");
	if (!bpf_map_lookup_elem(fx.dp->metrics.fd, &key, vals)) {
		for (int i = 0; i < ncpu; i++)
			sum += vals[i].packets;
	} else {
		cr_assert_eq(errno, ENOENT, "metrics lookup: %s",
			     strerror(errno));
	}
	free(vals);
	return sum;
}

uint32_t fx_backend_id(uint32_t ip, uint16_t port)
{
	uint32_t key, next, *prev = NULL;
	struct berth_backend be;

	while (!bpf_map_get_next_key(fx.dp->backends.fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fx.dp->backends.fd, &key, &be))
			continue;
		if (be.ip == ip && be.port == htons(port))
			return key;
	}
	return 0;
}

void fx_frontend_init(struct berth_frontend *fe, struct berth_fe_backend *be,
		      uint32_t vip, uint16_t port, uint8_t proto,
		      uint32_t ip_base, uint16_t be_port, size_t n)
{
	memset(fe, 0, sizeof(*fe));
	for (size_t i = 0; i < n; i++) {
		be[i].ip = htonl(ntohl(ip_base) + i + 1);
		be[i].port = htons(be_port);
		be[i].terminating = false;
	}
	fe->vip = vip;
	fe->port = htons(port);
	fe->proto = proto;
	fe->backends = be;
	fe->nbackends = n;
}

void fx_expect_frame(const struct fx_out *out, const uint8_t *want, size_t len,
		     const char *what)
{
	cr_assert_eq(out->len, len, "%s: %u bytes, want %zu", what, out->len,
		     len);
	for (size_t i = 0; i < len; i++)
		cr_assert_eq(out->buf[i], want[i],
			     "%s: byte %zu is %#04x, want %#04x", what, i,
			     out->buf[i], want[i]);
}

void fx_expect_untouched(int prog, const uint8_t *frame, size_t len,
			 const char *what)
{
	static struct fx_out out;

	fx_run(prog, frame, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "%s via %s: verdict %d, want OK",
		     what, prog == fx.to_pod ? "to_pod" : "from_pod", out.ret);
	fx_expect_frame(&out, frame, len, what);
}

void fx_expect_spec_untouched(int prog, const struct pkt_spec *s,
			      const char *what)
{
	static uint8_t frame[PKT_MAX];

	fx_expect_untouched(prog, frame, pkt_build(frame, s), what);
}

void fx_expect_spec_untouched_xdp(const struct pkt_spec *s, const char *what)
{
	static uint8_t frame[PKT_MAX];
	static struct fx_out out;
	size_t len = pkt_build(frame, s);

	fx_run_xdp(fx.xdp, frame, len, 0, &out);
	cr_assert_eq(out.ret, FX_XDP_PASS, "%s via xdp: verdict %d, want PASS",
		     what, out.ret);
	fx_expect_frame(&out, frame, len, what);
}

void fx_expect_csums(const struct fx_out *out, const char *what)
{
	const char *bad = pkt_csum_error(out->buf, out->len);

	cr_assert_null(bad, "%s: %s wrong", what, bad);
}

struct pkt_spec fx_flow(uint32_t i, uint8_t proto, uint32_t vip, uint16_t port)
{
	struct pkt_spec s = fx_pkt(proto, 20000 + i % 64, port);

	s.saddr = htonl(0x0a100000 | i / 64);
	s.daddr = vip;
	return s;
}

double fx_chi_square(const uint64_t *counts, size_t n)
{
	double total = 0, expect, chi = 0;

	for (size_t i = 0; i < n; i++)
		total += counts[i];
	expect = total / n;
	for (size_t i = 0; i < n; i++)
		chi += (counts[i] - expect) * (counts[i] - expect) / expect;
	return chi;
}

double fx_chi_square_critical(size_t n)
{
	/* upper 0.1% points of chi-square, df = 1..10 */
	static const double crit[] = { 10.828, 13.816, 16.266, 18.467, 20.515,
				       22.458, 24.322, 26.124, 27.877, 29.588 };

	cr_assert(n >= 2 && n - 1 <= sizeof(crit) / sizeof(crit[0]),
		  "no critical value for %zu bins", n);
	return crit[n - 2];
}

uint32_t fx_backend_ip(uint32_t i)
{
	return htonl(ntohl(FX_BE_NET) + 1 + i);
}

uint32_t fx_backend_index(uint32_t ip)
{
	return ntohl(ip) - ntohl(FX_BE_NET) - 1;
}

void fx_add_frontend(uint8_t proto, uint16_t port, uint16_t be_port, size_t n)
{
	struct berth_fe_backend be[64];
	struct berth_frontend fe;

	cr_assert_leq(n, sizeof(be) / sizeof(be[0]), "too many backends");
	fx_frontend_init(&fe, be, FX_VIP, port, proto, FX_BE_NET, be_port, n);
	fx_sync(&fe, 1);
}

struct pkt_spec fx_pkt(uint8_t proto, uint16_t sport, uint16_t dport)
{
	return (struct pkt_spec){
		.saddr = FX_CLIENT,
		.daddr = FX_VIP,
		.proto = proto,
		.sport = sport,
		.dport = dport,
		.tcp_flags = PKT_TCP_SYN,
	};
}

struct pkt_spec fx_reply(uint8_t proto, uint32_t backend, uint16_t sport,
			 uint16_t dport)
{
	return (struct pkt_spec){
		.smac = pkt_host_mac,
		.dmac = pkt_client_mac,
		.saddr = backend,
		.daddr = FX_CLIENT,
		.proto = proto,
		.sport = sport,
		.dport = dport,
		.tcp_flags = PKT_TCP_ACK,
	};
}

void fx_expect_rev_nat(struct pkt_spec reply, uint16_t svc_port)
{
	static uint8_t in[PKT_MAX], want[PKT_MAX];
	static struct fx_out out;
	size_t len = pkt_build(in, &reply);

	fx_run(fx.to_pod, in, len, &out);
	cr_assert_eq(out.ret, FX_TC_ACT_OK, "to_pod verdict %d, want OK",
		     out.ret);
	fx_expect_csums(&out, "reply after reverse NAT");
	reply.saddr = FX_VIP;
	reply.sport = svc_port;
	pkt_build(want, &reply);
	fx_expect_frame(&out, want, len, "reply after reverse NAT");
}

struct berth_ct_key fx_ct_key(uint8_t proto, uint8_t dir, uint32_t daddr,
			      uint16_t sport, uint16_t dport)
{
	return (struct berth_ct_key){
		.saddr = FX_CLIENT,
		.daddr = daddr,
		.sport = htons(sport),
		.dport = htons(dport),
		.proto = proto,
		.dir = dir,
	};
}

struct berth_ct_val fx_ct_get(const struct berth_ct_key *k)
{
	struct berth_ct_val v;

	cr_assert_eq(bpf_map_lookup_elem(fx.dp->ct.fd, k, &v), 0,
		     "no conntrack entry (dir %u) for %s:%u -> %s:%u", k->dir,
		     pkt_ntoa(k->saddr), ntohs(k->sport), pkt_ntoa(k->daddr),
		     ntohs(k->dport));
	return v;
}

void fx_endpoint_add(uint32_t ip, uint32_t ifindex, const uint8_t *mac,
		     const uint8_t *host_mac)
{
	struct berth_endpoint_info ep = { .ifindex = ifindex };

	memcpy(ep.mac, mac, 6);
	memcpy(ep.host_mac, host_mac, 6);
	cr_assert_eq(bpf_map_update_elem(fx.dp->endpoints.fd, &ip, &ep, 0), 0,
		     "endpoints update: %s", strerror(errno));
}

void fx_ipcache_add(uint32_t ip, uint32_t prefixlen, uint32_t tunnel_ip,
		    uint8_t flags)
{
	struct berth_ipcache_key k = { .prefixlen = prefixlen, .ip = ip };
	struct berth_ipcache_val v = { .tunnel_ip = tunnel_ip, .flags = flags };

	cr_assert_eq(bpf_map_update_elem(fx.dp->ipcache.fd, &k, &v, 0), 0,
		     "ipcache update: %s", strerror(errno));
}

void fx_node_set(const struct berth_node_cfg *cfg)
{
	uint32_t zero = 0;

	cr_assert_eq(bpf_map_update_elem(fx.dp->node.fd, &zero, cfg, 0), 0,
		     "node update: %s", strerror(errno));
}

struct berth_nat_val fx_nat_get(const struct berth_ct_key *k)
{
	struct berth_nat_val v;

	cr_assert_eq(bpf_map_lookup_elem(fx.dp->nat.fd, k, &v), 0,
		     "no nat entry (dir %u) for %s:%u -> %s:%u", k->dir,
		     pkt_ntoa(k->saddr), ntohs(k->sport), pkt_ntoa(k->daddr),
		     ntohs(k->dport));
	return v;
}

int fx_run_xdp(int prog_fd, const uint8_t *in, size_t len, uint32_t ifindex,
	       struct fx_out *out)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = ifindex };

	return run(prog_fd, in, len, ifindex ? &ctx : NULL,
		   ifindex ? sizeof(ctx) : 0, out);
}

int fx_run_dev(int prog_fd, const uint8_t *in, size_t len, uint32_t ifindex,
	       struct fx_out *out)
{
	struct __sk_buff ctx = { .ifindex = ifindex,
				 .ingress_ifindex = ifindex };

	return run(prog_fd, in, len, &ctx, sizeof(ctx), out);
}

uint64_t fx_now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

void fx_need(const char *name, size_t offset)
{
	struct berth_features f;

	berth_features_probe(&f);
	if (!*(bool *)((char *)&f + offset))
		cr_skip_test("kernel %s lacks %s", f.kernel, name);
}
