/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The BPF datapath of one node: load the skeletons with maps pinned under
 * the node's pin directory, attach them to pod veths with tc, detach.
 */
#ifndef BERTH_DATAPATH_H
#define BERTH_DATAPATH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <berth/lbmap.h>
#include <berth/mapops.h>

struct berth_dp_config {
	/* pin directory, e.g. /sys/fs/bpf/berth/<node>; created if missing */
	const char *pin_dir;
	/* map sizes for maps not pinned yet (0: default); pinned maps keep theirs */
	uint32_t max_services;
	uint32_t max_backends;
	uint32_t max_rev_nat;
	uint32_t max_affinity;
	uint32_t max_maglev;
	uint32_t max_ct;
	uint32_t max_policy; /* policy map (abi/policy.h) entries */
};

struct from_pod_bpf;
struct to_pod_bpf;
struct overlay_bpf;
struct host_bpf;
struct xdp_nodeport_bpf;

struct berth_dp {
	struct from_pod_bpf *from_pod;
	struct to_pod_bpf *to_pod;
	struct overlay_bpf *overlay;
	struct host_bpf *host;
	struct xdp_nodeport_bpf *xdp;
	char pin_dir[256];
	/* the pinned maps, for the map sync and inspection */
	struct berth_map services;
	struct berth_map backends;
	struct berth_map rev_nat;
	struct berth_map affinity;
	struct berth_map maglev;
	struct berth_map ct;
	struct berth_map metrics;
	/* routing and node NAT (include/berth/abi/route.h) */
	struct berth_map endpoints;
	struct berth_map ipcache;
	struct berth_map node;
	struct berth_map nat;
	/* NetworkPolicy allows (include/berth/abi/policy.h) */
	struct berth_map policy;
	struct berth_map policy_ranges; /* endPort ranges */
	/* drop and trace notifications (abi/events.h): a ring buffer, fd only */
	struct berth_map events;
	struct berth_map events_cfg; /* trace on/off */
	struct berth_map events_lost; /* per-CPU: records lost, by type */
};

/* Route libbpf's messages through berth's log. */
void berth_libbpf_log_init(void);

/* Mount bpffs on /sys/fs/bpf if nothing is mounted there. */
int berth_bpffs_ensure(void);

/* The pin directory of a node: BERTH_BPFFS_ROOT/<node>. */
int berth_dp_pin_dir(char *buf, size_t len, const char *node);

/* Load (re-using pinned maps) and pin. Errors are logged with the cause. */
int berth_dp_open(struct berth_dp **out, const struct berth_dp_config *cfg);
/* Close fds and free; programs stay attached and maps stay pinned. */
void berth_dp_close(struct berth_dp *dp);

int berth_dp_from_pod_fd(const struct berth_dp *dp);
int berth_dp_to_pod_fd(const struct berth_dp *dp);
/*
 * Any program by name: "from_pod", "to_pod", "overlay_in", "overlay_out",
 * "from_netdev", "to_netdev", "xdp_nodeport". -ENOENT for another name.
 */
int berth_dp_prog_fd(const struct berth_dp *dp, const char *name);

/* The maps the map sync writes. */
void berth_dp_lbmap_maps(struct berth_dp *dp, struct berth_lbmap_maps *out);

/*
 * Attach from_pod to tc ingress and to_pod to tc egress of ifname (clsact),
 * replacing berth's earlier filters there atomically.
 */
int berth_dp_attach(struct berth_dp *dp, const char *ifname);
/*
 * The node's devices. berth_dp_attach_overlay: overlay programs on tc
 * ingress/egress of the VXLAN device (BERTH_TUNNEL_DEV). berth_dp_attach_netdev:
 * host programs on tc ingress/egress of the underlay device, and with
 * mode BERTH_NODEPORT_XDP/AUTO xdp_nodeport on it too (native XDP only,
 * through netlink: a restarted agent replaces it with no gap); *xdp_mode
 * says what was attached ("native" or "none": tc only), for the log and
 * metrics, and BERTH_NODE_F_XDP in the node map follows it. The node map
 * must hold the devices' ifindexes first.
 */
enum berth_nodeport_accel {
	BERTH_NODEPORT_AUTO = 0, /* XDP if the device takes it, else tc */
	BERTH_NODEPORT_TC, /* tc only */
	BERTH_NODEPORT_XDP, /* XDP required: fail if the device refuses */
};
int berth_dp_attach_overlay(struct berth_dp *dp, const char *ifname);
int berth_dp_attach_netdev(struct berth_dp *dp, const char *ifname,
			   enum berth_nodeport_accel accel,
			   const char **xdp_mode);

/*
 * Remove berth's filters from one device / every device of this netns;
 * berth_dp_detach_all also removes xdp_nodeport wherever it is attached.
 */
int berth_dp_detach(int ifindex);
int berth_dp_detach_all(void);
/* Remove a node's pinned maps and its pin directory. */
int berth_dp_unpin(const char *pin_dir);

/*
 * Load program prog (a name berth_dp_probe_name gives) alone, maps pinned in pin_dir
 * (removed after): *insns is what the verifier processed; on failure log
 * holds libbpf's and the verifier's messages.
 */
int berth_dp_probe_prog(const char *pin_dir, const char *prog, uint32_t *insns,
			char *log, size_t loglen);
/* The programs berth_dp_probe_prog knows: names 0 .. count - 1. */
size_t berth_dp_probe_count(void);
const char *berth_dp_probe_name(size_t i);

/* Is a backend referenced by a live conntrack entry? (for berth_lbmap_gc) */
struct berth_ct_usage;
int berth_ct_usage_scan(struct berth_dp *dp, struct berth_ct_usage **out,
			size_t *expired_deleted);
bool berth_ct_usage_has(void *usage, uint32_t backend_id);
void berth_ct_usage_free(struct berth_ct_usage *u);

#endif
