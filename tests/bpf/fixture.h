/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * A datapath of its own for each BPF test: loaded and pinned under a pin
 * directory no other test uses, filled through the map sync, packets run
 * with BPF_PROG_TEST_RUN, everything removed in the suite's .fini.
 */
#ifndef BERTH_TEST_FIXTURE_H
#define BERTH_TEST_FIXTURE_H

#include <stddef.h>
#include <stdint.h>

#include <berth/abi/ct.h>
#include <berth/datapath.h>
#include <berth/features.h>
#include <berth/lbmap.h>

#include "pkt.h"

/* The addresses most tests use: a pod, a Service, its backends' /24. */
#define FX_CLIENT ip4(10, 0, 1, 5)
#define FX_VIP ip4(10, 96, 0, 10)
#define FX_BE_NET ip4(10, 0, 2, 0)

/* tc verdicts (linux/pkt_cls.h) */
#define FX_TC_ACT_OK 0
#define FX_TC_ACT_SHOT 2
#define FX_TC_ACT_REDIRECT 7
/* XDP verdicts (linux/bpf.h) */
#define FX_XDP_PASS 2
#define FX_XDP_TX 3

struct fx {
	struct berth_dp *dp;
	struct berth_lbmap *lb;
	char pin_dir[256];
	int from_pod; /* program fds */
	int to_pod;
	int overlay_in;
	int overlay_out;
	int from_netdev;
	int to_netdev;
	int xdp;
};

/* The one datapath of the running test (criterion runs each in a process). */
extern struct fx fx;

/*
 * A failed assertion in a criterion .init skips the suite's .fini: the
 * helpers setups call remove what they pinned before they fail.
 */
#define FX_REQUIRE(cond, ...)                        \
	do {                                         \
		if (!(cond)) {                       \
			fx_teardown();               \
			cr_assert_fail(__VA_ARGS__); \
		}                                    \
	} while (0)

/*
 * Load a datapath into fx; cfg gives map sizes (pin_dir is ignored). This
 * and fx_sync clean up before they fail, so a suite's .init may use them.
 */
void fx_open(const struct berth_dp_config *cfg);
/* Criterion .init / .fini: default map sizes; close and unpin. */
void fx_setup(void);
void fx_teardown(void);

/* Make the maps hold exactly these frontends (asserts success). */
void fx_sync(const struct berth_frontend *fe, size_t n);
/* Mark fe's backend ip terminating and sync fe alone. */
void fx_set_terminating(struct berth_frontend *fe, uint32_t ip);

/* The result of one program run. */
struct fx_out {
	int ret; /* the program's verdict */
	uint32_t len;
	uint8_t buf[PKT_MAX];
};

/* Run prog once over a frame (asserts the syscall worked); returns ret. */
int fx_run(int prog_fd, const uint8_t *in, size_t len, struct fx_out *out);

/*
 * Run a frame through from_pod, expect TC_ACT_OK, and return the backend it
 * was sent to (its daddr); *port gets its dport (host order) if port.
 */
uint32_t fx_dnat(const struct pkt_spec *s, uint16_t *port);

/* Packets counted under {reason, dir}, summed over CPUs. */
uint64_t fx_metric(uint8_t reason, uint8_t dir);

/* The id the backends map gives ip:port (host-order port); 0 if none. */
uint32_t fx_backend_id(uint32_t ip, uint16_t port);

/* Backend i (from 0) of fx_add_frontend, and the index of a backend ip. */
uint32_t fx_backend_ip(uint32_t i);
uint32_t fx_backend_index(uint32_t ip);

/* FX_VIP:port (host order) with n backends FX_BE_NET+1.. on be_port. */
void fx_add_frontend(uint8_t proto, uint16_t port, uint16_t be_port, size_t n);

/* A packet FX_CLIENT:sport -> FX_VIP:dport (host order); TCP as a SYN. */
struct pkt_spec fx_pkt(uint8_t proto, uint16_t sport, uint16_t dport);

/* A backend's reply from backend:sport to FX_CLIENT:dport (an ACK). */
struct pkt_spec fx_reply(uint8_t proto, uint32_t backend, uint16_t sport,
			 uint16_t dport);

/*
 * Run reply through to_pod and expect it exactly, but from FX_VIP:svc_port
 * (host order) instead of the backend, checksums right.
 */
void fx_expect_rev_nat(struct pkt_spec reply, uint16_t svc_port);

/* The conntrack key of FX_CLIENT:sport -> daddr:dport (host-order ports). */
struct berth_ct_key fx_ct_key(uint8_t proto, uint8_t dir, uint32_t daddr,
			      uint16_t sport, uint16_t dport);
/* Its entry; fails the test if there is none. */
struct berth_ct_val fx_ct_get(const struct berth_ct_key *k);

/*
 * fe: vip:port (host order) with the n backends be[], ip_base+1 ..
 * ip_base+n (network order) on be_port, none terminating.
 */
void fx_frontend_init(struct berth_frontend *fe, struct berth_fe_backend *be,
		      uint32_t vip, uint16_t port, uint8_t proto,
		      uint32_t ip_base, uint16_t be_port, size_t n);

/* Fail unless the program's output is exactly want[0..len). */
void fx_expect_frame(const struct fx_out *out, const uint8_t *want, size_t len,
		     const char *what);

/* Fail unless prog passes the frame (TC_ACT_OK) byte for byte. */
void fx_expect_untouched(int prog, const uint8_t *frame, size_t len,
			 const char *what);
void fx_expect_spec_untouched(int prog, const struct pkt_spec *s,
			      const char *what);

/* Fail unless xdp_nodeport passes the frame (XDP_PASS) byte for byte. */
void fx_expect_spec_untouched_xdp(const struct pkt_spec *s, const char *what);

/* Fail unless every checksum of the output frame is right. */
void fx_expect_csums(const struct fx_out *out, const char *what);

/* The i-th of up to 2^26 distinct client flows (sources in 10.16/12). */
struct pkt_spec fx_flow(uint32_t i, uint8_t proto, uint32_t vip, uint16_t port);

/*
 * Pearson's chi-square of counts[0..n) against a uniform spread, and the
 * statistic's critical value at p = 0.001 for n - 1 degrees of freedom.
 */
double fx_chi_square(const uint64_t *counts, size_t n);
double fx_chi_square_critical(size_t n);

/*
 * Skip the running test, naming the feature, when the kernel lacks it
 * (feature names as in struct berth_features). Probed, never by version.
 */
#define FX_NEED(feature) \
	fx_need(#feature, offsetof(struct berth_features, feature))
void fx_need(const char *name, size_t offset);

/* Routing maps: a local pod, a CIDR in the ipcache, the node's config. */
void fx_endpoint_add(uint32_t ip, uint32_t ifindex, const uint8_t *mac,
		     const uint8_t *host_mac);
void fx_ipcache_add(uint32_t ip, uint32_t prefixlen, uint32_t tunnel_ip,
		    uint8_t flags);
struct berth_node_cfg;
void fx_node_set(const struct berth_node_cfg *cfg);
/* The nat entry of k, or fail the test. */
struct berth_nat_val;
struct berth_nat_val fx_nat_get(const struct berth_ct_key *k);

/* Run an XDP program once (ingress_ifindex 0: none given). */
int fx_run_xdp(int prog_fd, const uint8_t *in, size_t len, uint32_t ifindex,
	       struct fx_out *out);
/* Run a tc program once with skb->ifindex and ingress_ifindex set. */
int fx_run_dev(int prog_fd, const uint8_t *in, size_t len, uint32_t ifindex,
	       struct fx_out *out);

/* Monotonic clock in ns, the clock of bpf_ktime_get_ns(). */
uint64_t fx_now_ns(void);

#endif
