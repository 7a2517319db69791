// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * lb-bench: ns per packet of an established flow through from_pod with
 * 10 to 100,000 Services of 10 backends (BPF_PROG_TEST_RUN), and the wall
 * time of the map sync for 10,000 Services: all at once and one change.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <berth/abi/ct.h>
#include <berth/abi/pins.h>
#include <berth/csum.h>
#include <berth/datapath.h>
#include <berth/lbmap.h>
#include <berth/log.h>

#define NBE 10 /* backends per Service */
#define SVC_PORT 80
#define BE_PORT 8080
#define CLIENT_PORT 40000
#define REPEAT 1000000 /* runs per measurement; even, see measure_pair() */
#define MEASURED 16 /* Services measured per size */
#define SYNC_SERVICES 10000
#define SYNC_ROUNDS 9 /* one-change syncs; the median is reported */
#define ESTABLISH_TRIES 1000
#define TC_ACT_OK 0

/* goals (criterion 2.4) */
#define GOAL_RATIO 1.10
#define GOAL_FULL_SYNC_MS 1000.0
#define GOAL_ONE_CHANGE_MS 5.0

static const size_t sizes[] = { 10, 1000, 10000, 100000 };
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

struct bench {
	struct berth_dp *dp;
	struct berth_lbmap *lb;
	char pin_dir[256];
	struct berth_frontend *fe;
	struct berth_fe_backend *be;
	size_t n;
};

static uint32_t client_ip(void)
{
	return htonl(0x0a000105); /* 10.0.1.5 */
}

/* Service i: 10.96.0.0 + i; its backend j: 10.128.0.0 + 10 i + j. */
static uint32_t vip_of(size_t i)
{
	return htonl(0x0a600000 + i);
}

static uint32_t backend_of(size_t i, size_t j)
{
	return htonl(0x0a800000 + i * NBE + j);
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int frontends_make(struct bench *b, size_t n)
{
	b->fe = calloc(n, sizeof(*b->fe));
	b->be = calloc(n * NBE, sizeof(*b->be));
	if (!b->fe || !b->be)
		return -ENOMEM;
	b->n = n;
	for (size_t i = 0; i < n; i++) {
		for (size_t j = 0; j < NBE; j++) {
			b->be[i * NBE + j].ip = backend_of(i, j);
			b->be[i * NBE + j].port = htons(BE_PORT);
		}
		b->fe[i].vip = vip_of(i);
		b->fe[i].port = htons(SVC_PORT);
		b->fe[i].proto = IPPROTO_TCP;
		b->fe[i].backends = &b->be[i * NBE];
		b->fe[i].nbackends = NBE;
	}
	return 0;
}

/* A fresh datapath sized for services, pinned where nothing else is. */
static int bench_open(struct bench *b, size_t services)
{
	struct berth_dp_config cfg = {
		.max_services = services * (NBE + 1) + 64,
		.max_backends = services * NBE + 1024,
		.max_rev_nat = services + 64,
	};
	struct berth_lbmap_maps maps;
	char node[64];
	int err;

	memset(b, 0, sizeof(*b));
	snprintf(node, sizeof(node), "bench-%d-%zu", (int)getpid(), services);
	err = berth_dp_pin_dir(b->pin_dir, sizeof(b->pin_dir), node);
	if (err)
		return err;
	cfg.pin_dir = b->pin_dir;
	err = berth_dp_open(&b->dp, &cfg);
	if (err)
		return err;
	berth_dp_lbmap_maps(b->dp, &maps);
	err = berth_lbmap_open(&b->lb, &maps);
	if (err)
		return err;
	return frontends_make(b, services);
}

static void bench_close(struct bench *b)
{
	berth_lbmap_free(b->lb);
	berth_dp_close(b->dp);
	if (b->pin_dir[0])
		berth_dp_unpin(b->pin_dir);
	free(b->fe);
	free(b->be);
	memset(b, 0, sizeof(*b));
}

static int sync_all(struct bench *b)
{
	struct berth_sync_stats st;
	char err[256] = "";
	int ret;

	ret = berth_lbmap_sync(b->lb, b->fe, b->n, &st, err, sizeof(err));
	if (ret)
		pr_err("sync of %zu services: %s (%s)", b->n, strerror(-ret),
		       err);
	return ret;
}

/* An established segment (ACK) from the client to Service i. */
static size_t build_pkt(uint8_t *buf, size_t cap, size_t i)
{
	struct berth_pkt p = {
		.eth = true,
		.src_mac = { 0x02, 0, 0, 0, 0, 0x01 },
		.dst_mac = { 0x02, 0, 0, 0, 0, 0xfe },
		.saddr = client_ip(),
		.daddr = vip_of(i),
		.proto = IPPROTO_TCP,
		.sport = CLIENT_PORT,
		.dport = SVC_PORT,
		.tcp_flags = 0x10, /* ACK */
		.seq = 1,
		.ack_seq = 1,
	};

	return berth_pkt_build(buf, cap, &p);
}

static void ct_forget(struct bench *b, uint32_t vip, uint32_t be,
		      uint16_t be_port)
{
	struct berth_ct_key k = {
		.saddr = client_ip(),
		.daddr = vip,
		.sport = htons(CLIENT_PORT),
		.dport = htons(SVC_PORT),
		.proto = IPPROTO_TCP,
		.dir = BERTH_CT_SERVICE,
	};

	bpf_map_delete_elem(b->dp->ct.fd, &k);
	k.daddr = be;
	k.dport = be_port;
	k.dir = BERTH_CT_EGRESS;
	bpf_map_delete_elem(b->dp->ct.fd, &k);
}

/* Open the flow to Service i on the backend that is want:SVC_PORT. */
static int establish(struct bench *b, size_t i, uint32_t want)
{
	uint8_t pkt[128], out[128];
	size_t len = build_pkt(pkt, sizeof(pkt), i);
	uint32_t daddr;
	uint16_t dport;
	int err;

	for (int t = 0; t < ESTABLISH_TRIES; t++) {
		LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt,
			    .data_size_in = len, .data_out = out,
			    .data_size_out = sizeof(out), .repeat = 1);

		err = bpf_prog_test_run_opts(berth_dp_from_pod_fd(b->dp), &o);
		if (err)
			return err;
		memcpy(&daddr, out + 14 + 16, 4);
		memcpy(&dport, out + 14 + 20 + 2, 2);
		if (daddr == want && dport == htons(SVC_PORT))
			return 0;
		/* random choice went elsewhere: forget the flow, try again */
		ct_forget(b, vip_of(i), daddr, dport);
	}
	return -EAGAIN;
}

/*
 * BPF_PROG_TEST_RUN runs the program `repeat` times over one skb, so from
 * the second run a DNAT'd packet would be to a backend and pass untouched.
 * Services a and c are made each other's backend (their flows pinned to
 * it), so every run is a full established-flow DNAT: a -> c -> a -> ...
 * After an even number of runs the packet must be back as it was sent.
 */
static int measure_pair(struct bench *b, size_t a, size_t c, double *ns)
{
	uint8_t pkt[128], out[128];
	size_t len = build_pkt(pkt, sizeof(pkt), a);
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = pkt, .data_size_in = len,
		    .data_out = out, .data_size_out = sizeof(out),
		    .repeat = REPEAT);
	int err;

	err = establish(b, a, vip_of(c));
	err = err ?: establish(b, c, vip_of(a));
	if (err) {
		pr_err("establish flows to services %zu and %zu: %s", a, c,
		       strerror(-err));
		return err;
	}
	/* a shorter first pass warms caches and branch predictors up */
	for (int pass = 0; pass < 2 && !err; pass++) {
		o.repeat = pass ? REPEAT : REPEAT / 10;
		o.data_size_out = sizeof(out);
		err = bpf_prog_test_run_opts(berth_dp_from_pod_fd(b->dp), &o);
	}
	if (err) {
		pr_err("BPF_PROG_TEST_RUN: %s", strerror(-err));
		return err;
	}
	if (o.retval != TC_ACT_OK || o.data_size_out != len ||
	    memcmp(out, pkt, len)) {
		pr_err("services %zu/%zu: verdict %u, packet not translated on every run",
		       a, c, o.retval);
		return -EPROTO;
	}
	*ns = o.duration;
	return 0;
}

/* Mean ns per packet over MEASURED Services spread over the map. */
static int bench_size(size_t services, double *ns_per_pkt)
{
	size_t m = services < MEASURED ? services : MEASURED, idx[MEASURED];
	double sum = 0, ns;
	struct bench b;
	int err;

	m &= ~(size_t)1;
	err = bench_open(&b, services);
	if (err)
		goto out;
	for (size_t k = 0; k < m; k++)
		idx[k] = k * services / m;
	/* pair 2k with 2k + 1: each one's first backend is the other */
	for (size_t k = 0; k < m; k += 2) {
		b.be[idx[k] * NBE].ip = vip_of(idx[k + 1]);
		b.be[idx[k] * NBE].port = htons(SVC_PORT);
		b.be[idx[k + 1] * NBE].ip = vip_of(idx[k]);
		b.be[idx[k + 1] * NBE].port = htons(SVC_PORT);
	}
	pr_info("%zu services: sync", services);
	err = sync_all(&b);
	if (err)
		goto out;
	pr_info("%zu services: %zu x %d runs", services, m / 2, REPEAT);
	for (size_t k = 0; k < m; k += 2) {
		err = measure_pair(&b, idx[k], idx[k + 1], &ns);
		if (err)
			goto out;
		sum += ns;
	}
	*ns_per_pkt = sum / (m / 2);
out:
	bench_close(&b);
	return err;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

/* Wall time of a full sync into empty maps, and of one-Service changes. */
static int bench_sync(double *full_ms, double *one_ms)
{
	double t[SYNC_ROUNDS], t0;
	struct bench b;
	size_t k;
	int err;

	err = bench_open(&b, SYNC_SERVICES);
	if (err)
		goto out;
	t0 = now_ms();
	err = sync_all(&b);
	*full_ms = now_ms() - t0;
	if (err)
		goto out;
	for (int r = 0; r < SYNC_ROUNDS; r++) {
		/* one backend of one Service is replaced by a new one */
		k = (size_t)r * 1009 % SYNC_SERVICES;
		b.fe[k].backends[r % NBE].ip = htonl(0x0ac80000 + r);
		t0 = now_ms();
		err = sync_all(&b);
		t[r] = now_ms() - t0;
		if (err)
			goto out;
	}
	qsort(t, SYNC_ROUNDS, sizeof(t[0]), cmp_double);
	*one_ms = t[SYNC_ROUNDS / 2];
out:
	bench_close(&b);
	return err;
}

static const char *verdict(int ok)
{
	return ok ? "met" : "MISSED";
}

static void print_table(const double *ns, double ratio, double full_ms,
			double one_ms)
{
	printf("from_pod, established TCP flow: mean ns/packet of up to %d Services,\n"
	       "BPF_PROG_TEST_RUN x %d each\n\n",
	       MEASURED, REPEAT);
	printf("%10s %10s %10s\n", "services", "backends", "ns/pkt");
	for (size_t s = 0; s < NSIZES; s++)
		printf("%10zu %10zu %10.1f\n", sizes[s], sizes[s] * NBE, ns[s]);
	printf("\n%-36s %10s %10s  %s\n", "goal", "value", "limit", "");
	printf("%-36s %9.3fx %9.2fx  %s\n", "ns/pkt 100000 vs 10 Services",
	       ratio, GOAL_RATIO, verdict(ratio <= GOAL_RATIO));
	printf("%-36s %7.1f ms %7.0f ms  %s\n",
	       "sync 10000 Services x 10, full", full_ms, GOAL_FULL_SYNC_MS,
	       verdict(full_ms <= GOAL_FULL_SYNC_MS));
	printf("%-36s %7.2f ms %7.0f ms  %s\n",
	       "sync 10000 Services x 10, one change", one_ms,
	       GOAL_ONE_CHANGE_MS, verdict(one_ms <= GOAL_ONE_CHANGE_MS));
}

static int write_json(const char *path, const double *ns, double ratio,
		      double full_ms, double one_ms)
{
	FILE *f = fopen(path, "w");

	if (!f) {
		pr_err("open %s: %s", path, strerror(errno));
		return -errno;
	}
	fprintf(f, "{\"ns_per_pkt\": {");
	for (size_t s = 0; s < NSIZES; s++)
		fprintf(f, "%s\"%zu\": %.1f", s ? ", " : "", sizes[s], ns[s]);
	fprintf(f,
		"}, \"ratio_100000_vs_10\": %.3f, \"sync\": "
		"{\"full_10000x10_ms\": %.1f, \"one_change_10000x10_ms\": %.3f}}\n",
		ratio, full_ms, one_ms);
	if (fclose(f)) {
		pr_err("write %s: %s", path, strerror(errno));
		return -errno;
	}
	return 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: lb-bench [--json FILE]\n"
		"Measure from_pod per-packet cost and map sync time (root).\n");
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", required_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{},
	};
	const char *json = NULL;
	double ns[NSIZES], ratio, full_ms = 0, one_ms = 0;
	int c, err = 0;

	while ((c = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
		switch (c) {
		case 'j':
			json = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	for (size_t s = 0; s < NSIZES && !err; s++) {
		err = bench_size(sizes[s], &ns[s]);
		if (err)
			pr_err("bench with %zu services: %s", sizes[s],
			       strerror(-err));
	}
	if (!err) {
		err = bench_sync(&full_ms, &one_ms);
		if (err)
			pr_err("sync bench: %s", strerror(-err));
	}
	/* the common pin root goes too unless another node is pinned there */
	rmdir(BERTH_BPFFS_ROOT);
	if (err)
		return 1;
	ratio = ns[NSIZES - 1] / ns[0];
	print_table(ns, ratio, full_ms, one_ms);
	if (json && write_json(json, ns, ratio, full_ms, one_ms))
		return 1;
	return 0;
}
