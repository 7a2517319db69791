// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Load, pin, attach and detach the node's BPF programs (libbpf skeletons). */
#include <errno.h>
#include <limits.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <berth/abi/ct.h>
#include <berth/abi/lb.h>
#include <berth/abi/pins.h>
#include <berth/datapath.h>
#include <berth/fsutil.h>
#include <berth/log.h>

#include <linux/if_link.h>

#include <berth/abi/route.h>

#include "skel/from_pod.skel.h"
#include "skel/host.skel.h"
#include "skel/overlay.skel.h"
#include "skel/sock.skel.h"
#include "skel/to_pod.skel.h"
#include "skel/xdp_nodeport.skel.h"

/*
 * mkdir -p of a node's pin directory. Another node's unpin may remove the
 * shared parent (once empty) between our two mkdirs: then make it again.
 */
static int pin_dir_make(const char *pin_dir)
{
	int err = -ENOENT;

	for (int i = 0; i < 3 && err == -ENOENT; i++)
		err = berth_mkdir_p(pin_dir, 0700);
	return err;
}

/* berth's own pin root goes with its last node (rmdir: only if empty). */
static void pin_parent_remove(const char *pin_dir)
{
	size_t n = strlen(BERTH_BPFFS_ROOT);

	if (strncmp(pin_dir, BERTH_BPFFS_ROOT "/", n + 1) ||
	    strchr(pin_dir + n + 1, '/'))
		return; /* a --pin-dir elsewhere: its parent is not ours */
	if (rmdir(BERTH_BPFFS_ROOT) && errno != ENOTEMPTY && errno != ENOENT)
		pr_debug("remove %s: %s", BERTH_BPFFS_ROOT, strerror(errno));
}

#define BPF_FS_MAGIC 0xcafe4a11
#define BPFFS_MOUNT "/sys/fs/bpf"

/* In the mount namespace of PID 1? 1 yes, 0 no, -1 cannot tell. */
static int in_init_mntns(void)
{
	struct stat self, init;

	if (stat("/proc/self/ns/mnt", &self) || stat("/proc/1/ns/mnt", &init))
		return -1;
	return self.st_ino == init.st_ino && self.st_dev == init.st_dev;
}

int berth_bpffs_ensure(void)
{
	struct statfs st;

	if (statfs(BPFFS_MOUNT, &st) == 0 && st.f_type == BPF_FS_MAGIC)
		return 0;
	/*
	 * `ip netns exec` gives its command a private mount namespace with a
	 * fresh /sys: a bpffs mounted there dies with the agent, and so would
	 * every pin. Refuse rather than lose the maps on the next restart.
	 */
	switch (in_init_mntns()) {
	case 0:
		pr_err("%s is not bpffs in this mount namespace (ip netns exec?): pins would not outlive the agent; mount bpffs there or run the agent with nsenter --net=/run/netns/NAME",
		       BPFFS_MOUNT);
		return -ENOENT;
	case -1:
		pr_warn("mounting bpffs on %s: if this is a private mount namespace (ip netns exec), the pins die with the agent; prefer nsenter --net=/run/netns/NAME",
			BPFFS_MOUNT);
		break;
	}
	if (mount("bpf", BPFFS_MOUNT, "bpf", 0, "mode=0700")) {
		pr_err("mount bpffs on %s: %s", BPFFS_MOUNT, strerror(errno));
		return -errno;
	}
	pr_info("mounted bpffs on %s", BPFFS_MOUNT);
	return 0;
}

/*
 * libbpf's messages through berth's log. Creating clsact where it already
 * exists is expected (restarts), so the kernel's complaint about it is noise;
 * so is a device refusing native XDP, which attach_netdev reports itself.
 */
static char capture[65536];
static size_t capture_len;
static bool capturing;

static void capture_append(const char *msg)
{
	size_t len = strlen(msg);

	if (len >= sizeof(capture) - 1) {
		msg += len - (sizeof(capture) - 2);
		len = sizeof(capture) - 2;
	}
	if (capture_len + len + 1 >= sizeof(capture)) {
		/* keep the newest half */
		size_t keep = sizeof(capture) / 2;

		memmove(capture, capture + capture_len - keep, keep);
		capture_len = keep;
	}
	memcpy(capture + capture_len, msg, len);
	capture_len += len;
	capture[capture_len++] = '\n';
	capture[capture_len] = '\0';
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt,
			va_list ap)
{
	enum berth_log_level lvl = level == LIBBPF_WARN ? BERTH_LOG_WARN :
				   level == LIBBPF_INFO ? BERTH_LOG_INFO :
							  BERTH_LOG_DEBUG;
	char msg[1024];
	size_t len;

	if (lvl > berth_log_level && !capturing)
		return 0;
	vsnprintf(msg, sizeof(msg), fmt, ap);
	len = strlen(msg);
	if (len && msg[len - 1] == '\n')
		msg[len - 1] = '\0';
	if (capturing) {
		capture_append(msg);
		return 0;
	}
	if (strstr(msg, "Exclusivity flag on") ||
	    strstr(msg, "Parent Qdisc doesn't exist") ||
	    strstr(msg, "does not support XDP in native mode"))
		lvl = BERTH_LOG_DEBUG;
	berth_log(lvl, "libbpf: %s", msg);
	return 0;
}

void berth_libbpf_log_init(void)
{
	libbpf_set_print(libbpf_print);
}

int berth_dp_pin_dir(char *buf, size_t len, const char *node)
{
	int n = snprintf(buf, len, "%s/%s", BERTH_BPFFS_ROOT, node);

	if (n < 0 || (size_t)n >= len || !node[0] || strchr(node, '/'))
		return -EINVAL;
	return 0;
}

/*
 * A pinned map keeps its size across agent restarts: size the skeleton's map
 * from the pin so libbpf re-uses it instead of refusing a mismatch.
 */
static void size_map(struct bpf_map *map, const char *pin_dir, uint32_t want)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[PATH_MAX];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(map));
	fd = bpf_obj_get(path);
	if (fd >= 0 && !strncmp(bpf_map__name(map), "policy", 6) &&
	    !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	    (info.type != bpf_map__type(map) ||
	     info.key_size != bpf_map__key_size(map))) {
		/*
		 * A policy map of an older layout: its entries are derived
		 * (the policy sync rewrites them all), so start a new one.
		 */
		pr_info("map %s: pinned with another layout, replaced",
			bpf_map__name(map));
		close(fd);
		unlink(path);
		fd = -1;
	}
	if (fd >= 0) {
		if (!bpf_obj_get_info_by_fd(fd, &info, &len)) {
			if (want && want != info.max_entries)
				pr_warn("map %s: pinned with %u entries, keeping them (asked %u)",
					bpf_map__name(map), info.max_entries,
					want);
			want = info.max_entries;
		}
		close(fd);
	}
	if (want)
		bpf_map__set_max_entries(map, want);
}

#define SIZE_MAPS(skel, cfg)                                              \
	do {                                                              \
		size_map((skel)->maps.services, (cfg)->pin_dir,           \
			 (cfg)->max_services);                            \
		size_map((skel)->maps.backends, (cfg)->pin_dir,           \
			 (cfg)->max_backends);                            \
		size_map((skel)->maps.rev_nat, (cfg)->pin_dir,            \
			 (cfg)->max_rev_nat);                             \
		size_map((skel)->maps.affinity, (cfg)->pin_dir,           \
			 (cfg)->max_affinity);                            \
		size_map((skel)->maps.maglev, (cfg)->pin_dir,             \
			 (cfg)->max_maglev);                              \
		size_map((skel)->maps.ct, (cfg)->pin_dir, (cfg)->max_ct); \
		size_map((skel)->maps.metrics, (cfg)->pin_dir, 0);        \
		size_map((skel)->maps.endpoints, (cfg)->pin_dir, 0);      \
		size_map((skel)->maps.ipcache, (cfg)->pin_dir, 0);        \
		size_map((skel)->maps.nat, (cfg)->pin_dir, 0);            \
		size_map((skel)->maps.policy, (cfg)->pin_dir,             \
			 (cfg)->max_policy);                              \
		size_map((skel)->maps.policy_ranges, (cfg)->pin_dir, 0);  \
		size_map((skel)->maps.events, (cfg)->pin_dir, 0);         \
	} while (0)

/*
 * Open, size and load one skeleton into dp->field with the maps pinned
 * under dp->pin_dir (the first load pins them, the others re-use them).
 */
#define LOAD_SKEL(dp, field, name, cfg, opts)                             \
	({                                                                \
		int __err = 0;                                            \
		(dp)->field = name##_bpf__open_opts(opts);                \
		if (!(dp)->field) {                                       \
			__err = -errno;                                   \
			pr_err("open " #name ": %s", strerror(-__err));   \
		} else {                                                  \
			SIZE_MAPS((dp)->field, cfg);                      \
			__err = name##_bpf__load((dp)->field);            \
			if (__err)                                        \
				pr_err("load " #name " (pins in %s): %s", \
				       (dp)->pin_dir, strerror(-__err));  \
		}                                                         \
		__err;                                                    \
	})

static void init_maps(struct berth_dp *dp)
{
	struct from_pod_bpf *s = dp->from_pod;

	berth_map_init_fd(&dp->services, "services",
			  bpf_map__fd(s->maps.services));
	berth_map_init_fd(&dp->backends, "backends",
			  bpf_map__fd(s->maps.backends));
	berth_map_init_fd(&dp->rev_nat, "rev_nat",
			  bpf_map__fd(s->maps.rev_nat));
	berth_map_init_fd(&dp->affinity, "affinity",
			  bpf_map__fd(s->maps.affinity));
	berth_map_init_fd(&dp->maglev, "maglev", bpf_map__fd(s->maps.maglev));
	berth_map_init_fd(&dp->ct, "ct", bpf_map__fd(s->maps.ct));
	berth_map_init_fd(&dp->metrics, "metrics",
			  bpf_map__fd(s->maps.metrics));
	berth_map_init_fd(&dp->endpoints, "endpoints",
			  bpf_map__fd(s->maps.endpoints));
	berth_map_init_fd(&dp->ipcache, "ipcache",
			  bpf_map__fd(s->maps.ipcache));
	berth_map_init_fd(&dp->node, "node", bpf_map__fd(s->maps.node));
	berth_map_init_fd(&dp->nat, "nat", bpf_map__fd(s->maps.nat));
	berth_map_init_fd(&dp->policy, "policy", bpf_map__fd(s->maps.policy));
	berth_map_init_fd(&dp->policy_ranges, "policy_ranges",
			  bpf_map__fd(s->maps.policy_ranges));
	berth_map_init_fd(&dp->events, "events", bpf_map__fd(s->maps.events));
	berth_map_init_fd(&dp->events_cfg, "events_cfg",
			  bpf_map__fd(s->maps.events_cfg));
	berth_map_init_fd(&dp->events_lost, "events_lost",
			  bpf_map__fd(s->maps.events_lost));
}

int berth_dp_open(struct berth_dp **out, const struct berth_dp_config *cfg)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts);
	struct berth_dp *dp;
	int err;

	dp = calloc(1, sizeof(*dp));
	if (!dp)
		return -ENOMEM;
	if (snprintf(dp->pin_dir, sizeof(dp->pin_dir), "%s", cfg->pin_dir) >=
	    (int)sizeof(dp->pin_dir)) {
		err = -ENAMETOOLONG;
		goto err;
	}
	berth_libbpf_log_init();
	err = berth_bpffs_ensure();
	if (err)
		goto err;
	err = pin_dir_make(dp->pin_dir);
	if (err) {
		pr_err("create pin directory %s: %s", dp->pin_dir,
		       strerror(-err));
		goto err;
	}
	opts.pin_root_path = dp->pin_dir;

	/* from_pod first: it pins the maps every other program re-uses */
	err = LOAD_SKEL(dp, from_pod, from_pod, cfg, &opts);
	if (!err)
		err = LOAD_SKEL(dp, to_pod, to_pod, cfg, &opts);
	if (!err)
		err = LOAD_SKEL(dp, overlay, overlay, cfg, &opts);
	if (!err)
		err = LOAD_SKEL(dp, host, host, cfg, &opts);
	if (!err)
		err = LOAD_SKEL(dp, xdp, xdp_nodeport, cfg, &opts);
	if (err)
		goto err;
	init_maps(dp);
	*out = dp;
	return 0;
err:
	berth_dp_close(dp);
	return err;
}

void berth_dp_close(struct berth_dp *dp)
{
	if (!dp)
		return;
	xdp_nodeport_bpf__destroy(dp->xdp);
	host_bpf__destroy(dp->host);
	overlay_bpf__destroy(dp->overlay);
	to_pod_bpf__destroy(dp->to_pod);
	from_pod_bpf__destroy(dp->from_pod);
	free(dp);
}

int berth_dp_from_pod_fd(const struct berth_dp *dp)
{
	return bpf_program__fd(dp->from_pod->progs.from_pod);
}

int berth_dp_to_pod_fd(const struct berth_dp *dp)
{
	return bpf_program__fd(dp->to_pod->progs.to_pod);
}

int berth_dp_prog_fd(const struct berth_dp *dp, const char *name)
{
	const struct {
		const char *name;
		const struct bpf_program *prog;
	} progs[] = {
		{ "from_pod", dp->from_pod->progs.from_pod },
		{ "to_pod", dp->to_pod->progs.to_pod },
		{ "overlay_in", dp->overlay->progs.overlay_in },
		{ "overlay_out", dp->overlay->progs.overlay_out },
		{ "from_netdev", dp->host->progs.from_netdev },
		{ "to_netdev", dp->host->progs.to_netdev },
		{ "xdp_nodeport", dp->xdp->progs.xdp_nodeport },
	};

	for (size_t i = 0; i < sizeof(progs) / sizeof(progs[0]); i++) {
		if (!strcmp(progs[i].name, name))
			return bpf_program__fd(progs[i].prog);
	}
	return -ENOENT;
}

void berth_dp_lbmap_maps(struct berth_dp *dp, struct berth_lbmap_maps *out)
{
	memset(out, 0, sizeof(*out));
	out->services = &dp->services;
	out->backends = &dp->backends;
	out->rev_nat = &dp->rev_nat;
	out->affinity = &dp->affinity;
	/* lbmap writes and reads back the tables through the outer map */
	out->maglev = &dp->maglev;
	out->maglev_m = BERTH_MAGLEV_M;
}

static int tc_attach_one(int ifindex, enum bpf_tc_attach_point point,
			 int prog_fd, const char *ifname, const char *prog)
{
	DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
			    .attach_point = point);
	DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts, .handle = BERTH_TC_HANDLE,
			    .priority = BERTH_TC_PRIORITY, .prog_fd = prog_fd,
			    .flags = BPF_TC_F_REPLACE);
	int err;

	err = bpf_tc_hook_create(&hook);
	if (err && err != -EEXIST) {
		pr_err("create clsact on %s: %s", ifname, strerror(-err));
		return err;
	}
	err = bpf_tc_attach(&hook, &opts);
	if (err)
		pr_err("attach %s to %s: %s", prog, ifname, strerror(-err));
	return err;
}

int berth_dp_attach(struct berth_dp *dp, const char *ifname)
{
	int ifindex = if_nametoindex(ifname), err;

	if (!ifindex) {
		pr_err("attach to %s: %s", ifname, strerror(errno));
		return -ENODEV;
	}
	err = tc_attach_one(ifindex, BPF_TC_INGRESS, berth_dp_from_pod_fd(dp),
			    ifname, "from_pod");
	if (err)
		return err;
	return tc_attach_one(ifindex, BPF_TC_EGRESS, berth_dp_to_pod_fd(dp),
			     ifname, "to_pod");
}

/* Is the XDP program on ifindex (native mode) ours? 1 yes, 0 no/none. */
static int xdp_is_ours(int ifindex)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), id = 0;
	int fd, ours;

	if (bpf_xdp_query_id(ifindex, XDP_FLAGS_DRV_MODE, &id) || !id)
		return 0;
	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0)
		return 0;
	ours = !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	       !strcmp(info.name, "xdp_nodeport");
	close(fd);
	return ours;
}

static int xdp_detach(int ifindex)
{
	if (!xdp_is_ours(ifindex))
		return 0;
	return bpf_xdp_detach(ifindex, XDP_FLAGS_DRV_MODE, NULL);
}

int berth_dp_detach(int ifindex)
{
	enum bpf_tc_attach_point points[] = { BPF_TC_INGRESS, BPF_TC_EGRESS };
	int err, ret = 0;

	for (size_t i = 0; i < 2; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = points[i]);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts,
				    .handle = BERTH_TC_HANDLE,
				    .priority = BERTH_TC_PRIORITY);

		if (bpf_tc_query(&hook, &opts))
			continue; /* nothing of ours here */
		opts.prog_fd = opts.prog_id = opts.flags = 0;
		err = bpf_tc_detach(&hook, &opts);
		if (err && err != -ENOENT) {
			pr_warn("detach from ifindex %d: %s", ifindex,
				strerror(-err));
			ret = err;
		}
	}
	return ret;
}

int berth_dp_detach_all(void)
{
	struct if_nameindex *ifs = if_nameindex(), *i;
	int err, ret = 0;

	if (!ifs)
		return -errno;
	for (i = ifs; i->if_index; i++) {
		err = berth_dp_detach((int)i->if_index);
		if (err)
			ret = err;
		err = xdp_detach((int)i->if_index);
		if (err) {
			pr_warn("detach xdp_nodeport from %s: %s", i->if_name,
				strerror(-err));
			ret = err;
		}
	}
	if_freenameindex(ifs);
	return ret;
}

int berth_dp_unpin(const char *pin_dir)
{
	static const char *const names[] = {
		BERTH_MAP_SERVICES, BERTH_MAP_BACKENDS,	  BERTH_MAP_REV_NAT,
		BERTH_MAP_AFFINITY, BERTH_MAP_MAGLEV,	  BERTH_MAP_CT,
		BERTH_MAP_METRICS,  BERTH_MAP_ENDPOINTS,  BERTH_MAP_IPCACHE,
		BERTH_MAP_NODE,	    BERTH_MAP_NAT,	  BERTH_MAP_POLICY,
		BERTH_MAP_EVENTS,   BERTH_MAP_EVENTS_CFG, BERTH_MAP_EVENTS_LOST,
		BERTH_MAP_POLICY_RANGES,
	};
	char path[PATH_MAX];
	int ret = 0;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, names[i]);
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	if (rmdir(pin_dir) && errno != ENOENT)
		ret = -errno;
	else
		pin_parent_remove(pin_dir);
	return ret;
}

/* Live backend ids, sorted, from one pass over the ct map. */
struct berth_ct_usage {
	uint32_t *ids;
	size_t n;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

int berth_ct_usage_scan(struct berth_dp *dp, struct berth_ct_usage **out,
			size_t *expired_deleted)
{
	struct berth_ct_key key, next, stale, *prev = NULL;
	bool have_stale = false;
	struct berth_ct_usage *u;
	struct berth_ct_val val;
	struct timespec ts;
	size_t cap = 1024, expired = 0;
	uint32_t now;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	now = ts.tv_sec;
	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	u->ids = malloc(cap * sizeof(*u->ids));
	if (!u->ids) {
		free(u);
		return -ENOMEM;
	}
	/*
	 * An expired entry is deleted only once the walk has stepped past it:
	 * next_key of a deleted key starts over, which would make the walk
	 * quadratic in the number of expired entries.
	 */
	while (!bpf_map_get_next_key(dp->ct.fd, prev, &next)) {
		if (have_stale && !bpf_map_delete_elem(dp->ct.fd, &stale))
			expired++;
		have_stale = false;
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(dp->ct.fd, &key, &val))
			continue;
		if (val.lifetime < now) {
			stale = key;
			have_stale = true;
			continue;
		}
		/* a flow policy judged, or one from outside to a pod, names
		 * no backend */
		if (key.dir == BERTH_CT_POLICY || key.dir == BERTH_CT_INBOUND)
			continue;
		if (u->n == cap) {
			uint32_t *ids = realloc(u->ids, 2 * cap * sizeof(*ids));

			if (!ids) {
				berth_ct_usage_free(u);
				return -ENOMEM;
			}
			u->ids = ids;
			cap *= 2;
		}
		u->ids[u->n++] = val.backend_id;
	}
	if (have_stale && !bpf_map_delete_elem(dp->ct.fd, &stale))
		expired++;
	qsort(u->ids, u->n, sizeof(*u->ids), cmp_u32);
	if (expired_deleted)
		*expired_deleted = expired;
	*out = u;
	return 0;
}

bool berth_ct_usage_has(void *usage, uint32_t backend_id)
{
	struct berth_ct_usage *u = usage;

	return bsearch(&backend_id, u->ids, u->n, sizeof(*u->ids), cmp_u32);
}

void berth_ct_usage_free(struct berth_ct_usage *u)
{
	if (!u)
		return;
	free(u->ids);
	free(u);
}

/*
 * Load one program alone (its maps pinned under pin_dir) to learn whether
 * the verifier takes it and at what cost. On failure err gets the error
 * and log the verifier log's last lines.
 */
/*
 * Every program berth_dp_probe_prog can load, with the object file (as
 * embedded in its skeleton) that holds it. sock_destroy's iterator is left
 * out: it needs bpf_sock_destroy (6.5), and the socket LB does without it.
 */
static const struct {
	const char *prog;
	const void *(*elf)(size_t *sz);
} probe_objs[] = {
	{ "from_pod", from_pod_bpf__elf_bytes },
	{ "to_pod", to_pod_bpf__elf_bytes },
	{ "overlay_in", overlay_bpf__elf_bytes },
	{ "overlay_out", overlay_bpf__elf_bytes },
	{ "from_netdev", host_bpf__elf_bytes },
	{ "to_netdev", host_bpf__elf_bytes },
	{ "xdp_nodeport", xdp_nodeport_bpf__elf_bytes },
	{ "sock_connect4", sock_bpf__elf_bytes },
	{ "sock_sendmsg4", sock_bpf__elf_bytes },
	{ "sock_recvmsg4", sock_bpf__elf_bytes },
	{ "sock_getpeername4", sock_bpf__elf_bytes },
};

size_t berth_dp_probe_count(void)
{
	return sizeof(probe_objs) / sizeof(probe_objs[0]);
}

const char *berth_dp_probe_name(size_t i)
{
	return i < berth_dp_probe_count() ? probe_objs[i].prog : NULL;
}

static int probe_open(const char *prog, const struct bpf_object_open_opts *opts,
		      struct bpf_object **obj)
{
	const void *elf;
	size_t sz;

	for (size_t i = 0; i < berth_dp_probe_count(); i++) {
		if (strcmp(probe_objs[i].prog, prog))
			continue;
		elf = probe_objs[i].elf(&sz);
		*obj = bpf_object__open_mem(elf, sz, opts);
		return *obj ? 0 : -errno;
	}
	return -ENOENT;
}

int berth_dp_probe_prog(const char *pin_dir, const char *prog, uint32_t *insns,
			char *log, size_t loglen)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	struct bpf_object *obj = NULL;
	struct bpf_program *p;
	int err, fd = -1;

	*insns = 0;
	log[0] = '\0';
	err = pin_dir_make(pin_dir);
	if (err)
		return err;
	berth_libbpf_log_init();
	capture_len = 0;
	capture[0] = '\0';
	capturing = true;
	err = probe_open(prog, &opts, &obj);
	if (!err)
		err = bpf_object__load(obj);
	if (!err) {
		p = bpf_object__find_program_by_name(obj, prog);
		fd = p ? bpf_program__fd(p) : -1;
		if (fd < 0)
			err = -ENOENT;
	}
	capturing = false;
	if (!err && !bpf_obj_get_info_by_fd(fd, &info, &len))
		*insns = info.verified_insns;
	if (err)
		snprintf(log, loglen, "%s", capture);
	/* the socket LB's maps too, which berth_dp_unpin does not know */
	if (obj)
		bpf_object__unpin_maps(obj, NULL);
	bpf_object__close(obj);
	berth_dp_unpin(pin_dir);
	return err;
}

static int attach_pair(struct berth_dp *dp, const char *ifname,
		       const char *ingress, const char *egress)
{
	int ifindex = if_nametoindex(ifname), err;

	if (!ifindex) {
		pr_err("attach to %s: %s", ifname, strerror(errno));
		return -ENODEV;
	}
	err = tc_attach_one(ifindex, BPF_TC_INGRESS,
			    berth_dp_prog_fd(dp, ingress), ifname, ingress);
	if (err)
		return err;
	return tc_attach_one(ifindex, BPF_TC_EGRESS,
			     berth_dp_prog_fd(dp, egress), ifname, egress);
}

int berth_dp_attach_overlay(struct berth_dp *dp, const char *ifname)
{
	return attach_pair(dp, ifname, "overlay_in", "overlay_out");
}

/* Keep BERTH_NODE_F_XDP in the node map in step with what is attached. */
static int node_flag_xdp(struct berth_dp *dp, bool on)
{
	struct berth_node_cfg cfg;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(dp->node.fd, &zero, &cfg))
		return -errno;
	if (!!(cfg.flags & BERTH_NODE_F_XDP) == on)
		return 0;
	cfg.flags = on ? cfg.flags | BERTH_NODE_F_XDP :
			 cfg.flags & ~BERTH_NODE_F_XDP;
	return bpf_map_update_elem(dp->node.fd, &zero, &cfg, BPF_ANY) ? -errno :
									0;
}

/*
 * Native XDP through netlink: replacing a program there is atomic, so an
 * agent restart leaves no window without NodePort. (A bpf_link would go
 * with the process unless pinned, and cannot take over a netlink program.)
 */
static int xdp_attach(struct berth_dp *dp, int ifindex, const char *ifname,
		      bool required)
{
	int err = bpf_xdp_attach(ifindex, berth_dp_prog_fd(dp, "xdp_nodeport"),
				 XDP_FLAGS_DRV_MODE, NULL);

	if (err) {
		if (required)
			pr_err("attach xdp_nodeport (native XDP) to %s: %s",
			       ifname, strerror(-err));
		else
			pr_info("%s takes no native XDP (%s): NodePort on tc only",
				ifname, strerror(-err));
	}
	return err;
}

int berth_dp_attach_netdev(struct berth_dp *dp, const char *ifname,
			   enum berth_nodeport_accel accel,
			   const char **xdp_mode)
{
	int ifindex = if_nametoindex(ifname), err;
	bool xdp = false;

	if (xdp_mode)
		*xdp_mode = "none";
	if (!ifindex) {
		pr_err("attach to %s: %s", ifname, strerror(errno));
		return -ENODEV;
	}
	/* tc first: with XDP in front, tc gets what XDP passes */
	err = attach_pair(dp, ifname, "from_netdev", "to_netdev");
	if (err)
		return err;
	switch (accel) {
	case BERTH_NODEPORT_TC:
		err = xdp_detach(ifindex);
		break;
	case BERTH_NODEPORT_XDP:
		err = xdp_attach(dp, ifindex, ifname, true);
		xdp = !err;
		break;
	case BERTH_NODEPORT_AUTO:
		xdp = !xdp_attach(dp, ifindex, ifname, false);
		err = xdp ? 0 : xdp_detach(ifindex);
		break;
	default:
		return -EINVAL;
	}
	if (err)
		return err;
	if (xdp_mode)
		*xdp_mode = xdp ? "native" : "none";
	err = node_flag_xdp(dp, xdp);
	if (err)
		pr_warn("node map: XDP flag not updated: %s", strerror(-err));
	return 0;
}
