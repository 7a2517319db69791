// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berth-agent: the node agent. Loads the datapath, attaches it to pod veths
 * and keeps the service maps equal to the Services it is given.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <malloc.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <berth/abi/route.h>
#include <berth/datapath.h>
#include <berth/features.h>
#include <berth/lbmap.h>
#include <berth/log.h>
#include <berth/service.h>
#include <berth/socklb.h>

#include "endpoint.h"
#include "ipt_netpol.h" /* iptables dataplane: NetworkPolicy */
#include "ipt_route.h" /* iptables dataplane: kernel VXLAN routing */
#include "ipt_sync.h" /* iptables dataplane: Service rules */
#include "kubelet.h"
#include "nodecert.h" /* TLS bootstrap of the node certificate */
#include "monitor.h" /* events ring buffer -> monitor.sock, Events */
#include "policyagent.h" /* NetworkPolicy into the policy maps */
#include "proxy.h" /* kube-proxy role */
#include "routing.h" /* tunnel, node map, Node routes */
#include "image.h"
#include "runtime.h"
#include "status.h"

#define MAX_IFACES 256

/* --dataplane: auto tries BPF and falls back to iptables */
enum dataplane { DP_BPF, DP_IPTABLES, DP_AUTO };

struct agent {
	const char *node;
	const char *root;
	const char *services_path;
	const char *ifaces[MAX_IFACES];
	int nifaces;
	unsigned int gc_interval; /* s */
	struct berth_dp_config dp_cfg;
	struct berth_dp *dp;
	struct berth_socklb *socklb; /* --cgroup: destroys stale UDP sockets */
	struct berth_lbmap *lb;
	struct berth_status status;
	/* CNI endpoint socket (--cni-socket, --pod-cidr) */
	const char *cni_socket;
	const char *pod_cidr;
	struct berth_endpoint_server *eps;
	/* kubelet (--server KUBECONFIG) */
	struct berth_kubelet_opts kopts;
	struct berth_kubelet *kubelet;
	/* TLS bootstrap: --bootstrap-kubeconfig, --kubeconfig (nodecert.h) */
	const char *bootstrap_kubeconfig;
	const char *node_kubeconfig;
	struct berth_nodecert *nodecert;
	/* kube-proxy (with --server, or --proxy-server alone): proxy.h */
	const char *proxy_server;
	struct berth_proxy *proxy;
	char kube_pod_cidr[64];
	/* cluster networking (kubelet mode): routing.h */
	struct berth_routing_opts ropts;
	struct berth_routing *routing;
	const char *cgroup; /* --cgroup: socket LB hook point */
	/* NetworkPolicy (kubelet mode): policyagent.h */
	struct berth_policyagent *policy;
	struct berth_monitor *monitor;
	bool trace_events; /* --trace-events: trace records with no client */
	/* iptables dataplane (--dataplane iptables, or auto without BPF) */
	enum dataplane mode;
	unsigned int ipt_sync_s; /* --iptables-sync-period: check period */
	struct berth_ipt_sync *ipt;
	struct berth_iptroute *iroute;
	struct berth_iptnetpol *netpol;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: berth-agent --node-name NAME [--root DIR] [--services FILE]\n"
		"                   [--interface IF]... [--gc-interval S]\n"
		"                   [--max-services N] [--max-backends N] [--max-ct N]\n"
		"                   [--policy-map-entries N] (NetworkPolicy allows; 65536)\n"
		"                   [--once] [--log-level error|warn|info|debug]\n"
		"                   [--cni-socket PATH] [--pod-cidr CIDR]\n"
		"                   [--server KUBECONFIG|URL [--node-ip IP]\n"
		"                    [--static-pods DIR] [--kubelet-port PORT]\n"
		"                    [--cni-bin-dir DIR] [--cni-conf-dir DIR]\n"
		"                    [--pod-log-dir DIR]]\n"
		"                   [--kubeconfig FILE [--bootstrap-kubeconfig FILE]]\n"
		"                    (a node certificate in FILE, made with the\n"
		"                     bootstrap token if missing; used as --server)\n"
		"                   [--proxy-server KUBECONFIG|URL] (kube-proxy only)\n"
		"                   [--dataplane bpf|iptables|auto]\n"
		"                   [--iptables-sync-period S]\n"
		"                   [--iptables-backend nft|legacy]\n"
		"                   [--device IF] [--nodeport-accel auto|tc|xdp]\n"
		"                   [--vxlan-vni N]\n"
		"                   [--masquerade=true|false]\n"
		"                   [--service-node-port-range MIN-MAX] [--cgroup PATH]\n"
		"                   [--trace-events]\n"
		"       berth-agent --node-name NAME --uninstall\n"
		"\n"
		"Loads berth's BPF datapath (maps pinned in /sys/fs/bpf/berth/NAME),\n"
		"attaches it to each --interface (tc ingress: from_pod, egress: to_pod)\n"
		"and keeps the service maps equal to FILE, re-read when it changes or\n"
		"on SIGHUP. Stopping the agent leaves the datapath working; --uninstall\n"
		"detaches every berth filter in this netns, removes the pins and the\n"
		"tunnel device.\n"
		"\n"
		"With --server the node joins a cluster: the VXLAN device\n" BERTH_TUNNEL_DEV
		" (MTU of the underlay - 50, also the pods' MTU)\n"
		"is created, other nodes' pod CIDRs are routed through it, and\n"
		"NodePort Services are served on the underlay device: the one\n"
		"holding --node-ip, or --device IF.\n"
		"  --nodeport-accel  auto: XDP if the device takes it, else tc (default);\n"
		"                    tc: tc only; xdp: XDP or fail\n"
		"  --vxlan-vni N     the cluster's VXLAN network id, the same on every\n"
		"                    node (1-16777215, default 1)\n"
		"  --masquerade      SNAT pod traffic leaving the cluster to the node IP\n"
		"                    (default true)\n"
		"  --service-node-port-range  NodePort range (default 30000-32767)\n"
		"  --cgroup PATH     cgroup v2 where socket-level Service LB is attached\n"
		"  --trace-events    trace records for every forwarded packet on\n"
		"                    monitor.sock even with no `berthctl monitor\n"
		"                    --type trace` connected (costs datapath time)\n"
		"  --dataplane       bpf: the BPF datapath or exit saying why (default);\n"
		"                    iptables: no BPF at all: Services as iptables-nft\n"
		"                    rules, pods routed by the kernel over classic VXLAN;\n"
		"                    auto: bpf, or iptables when BPF cannot load\n"
		"  --iptables-sync-period  seconds between checks of the kernel's rules:\n"
		"                    a chain gone or changed is rewritten, missing jumps\n"
		"                    put back (default 60); SIGHUP: a full sync now\n"
		"  --iptables-backend  nft (default, Debian's iptables) or legacy (much\n"
		"                    faster iptables-restore with 10,000s of Services)\n");
}

static int parse_u32(const char *s, const char *what, uint32_t *out)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || *end || end == s || v > UINT32_MAX || s[0] == '-') {
		fprintf(stderr, "berth-agent: %s: '%s' is not a number\n", what,
			s);
		return -1;
	}
	*out = v;
	return 0;
}

static int parse_level(const char *s)
{
	static const char *const names[] = { "error", "warn", "info", "debug" };

	for (int i = 0; i < 4; i++) {
		if (!strcmp(s, names[i])) {
			berth_log_level = i;
			return 0;
		}
	}
	fprintf(stderr, "berth-agent: --log-level: unknown level '%s'\n", s);
	return -1;
}

static int parse_accel(const char *s, enum berth_nodeport_accel *out)
{
	if (!strcmp(s, "auto"))
		*out = BERTH_NODEPORT_AUTO;
	else if (!strcmp(s, "tc"))
		*out = BERTH_NODEPORT_TC;
	else if (!strcmp(s, "xdp"))
		*out = BERTH_NODEPORT_XDP;
	else {
		fprintf(stderr,
			"berth-agent: --nodeport-accel: '%s' is not auto, tc or xdp\n",
			s);
		return -1;
	}
	return 0;
}

static int parse_dataplane(const char *s, enum dataplane *out)
{
	static const char *const names[] = { "bpf", "iptables", "auto" };

	for (int i = 0; i < 3; i++) {
		if (!strcmp(s, names[i])) {
			*out = i;
			return 0;
		}
	}
	fprintf(stderr,
		"berth-agent: --dataplane: '%s' is not bpf, iptables or auto\n",
		s);
	return -1;
}

static int parse_bool(const char *s, const char *what, bool *out)
{
	if (!strcmp(s, "true") || !strcmp(s, "1"))
		*out = true;
	else if (!strcmp(s, "false") || !strcmp(s, "0"))
		*out = false;
	else {
		fprintf(stderr, "berth-agent: %s: '%s' is not true or false\n",
			what, s);
		return -1;
	}
	return 0;
}

/* Apply the Service file. The maps change only when the file is valid. */
static int agent_sync(struct agent *a)
{
	struct berth_service_set set = { 0 };
	struct berth_frontend *fe = NULL;
	struct berth_sync_stats st = { 0 };
	struct timespec t0, t1;
	char err[512] = "";
	size_t n = 0;
	int ret;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	ret = berth_svcfile_load(a->services_path, &set, err, sizeof(err));
	if (ret)
		goto out;
	ret = berth_services_to_frontends(&set, &fe, &n);
	if (ret) {
		snprintf(err, sizeof(err), "%s: %s", a->services_path,
			 strerror(-ret));
		goto out;
	}
	if (a->ipt) {
		struct berth_ipt_sync_stats is;

		ret = berth_ipt_sync_apply(a->ipt, &set, &is, err, sizeof(err));
		st.writes = is.restores;
	} else {
		ret = berth_lbmap_sync(a->lb, fe, n, &st, err, sizeof(err));
	}
out:
	clock_gettime(CLOCK_MONOTONIC, &t1);
	a->status.seq++;
	a->status.ok = ret == 0;
	snprintf(a->status.error, sizeof(a->status.error), "%s",
		 ret ? err : "");
	a->status.services = set.n;
	a->status.frontends = n;
	a->status.writes = st.writes;
	a->status.duration_us = (t1.tv_sec - t0.tv_sec) * 1000000 +
				(t1.tv_nsec - t0.tv_nsec) / 1000;
	if (ret)
		pr_err("sync %s failed, maps unchanged: %s", a->services_path,
		       err);
	else
		pr_info("sync %s: %zu services, %zu frontends, %lu map writes in %lu us",
			a->services_path, set.n, n, (unsigned long)st.writes,
			(unsigned long)a->status.duration_us);
	berth_status_write(a->root, &a->status);
	berth_frontends_free(fe, n);
	berth_service_set_free(&set);
	return ret;
}

/* A backend left every Service: UDP sockets the socket LB connected to it go. */
static void socklb_backend_gone(void *ctx, uint32_t ip, uint16_t port,
				uint8_t proto)
{
	char addr[INET_ADDRSTRLEN];
	int n;

	if (proto != IPPROTO_UDP)
		return;
	n = berth_socklb_destroy_backend(ctx, ip, port, proto);
	inet_ntop(AF_INET, &ip, addr, sizeof(addr));
	if (n < 0)
		pr_warn("socket LB: destroy sockets to %s:%u: %s", addr,
			ntohs(port), strerror(-n));
	else if (n)
		pr_info("socket LB: %d UDP sockets to %s:%u destroyed", n,
			addr, ntohs(port));
}

/* Free backends no frontend and no live flow uses any more. */
static void agent_gc(struct agent *a)
{
	struct berth_ct_usage *usage;
	size_t expired = 0, freed = 0;
	int err;

	err = berth_ct_usage_scan(a->dp, &usage, &expired);
	if (err) {
		pr_warn("gc: scan ct: %s", strerror(-err));
		return;
	}
	berth_proxy_lock(a->proxy); /* the proxy writes a->lb too */
	err = berth_lbmap_gc(a->lb, berth_ct_usage_has, usage, &freed);
	berth_proxy_unlock(a->proxy);
	berth_ct_usage_free(usage);
	if (err)
		pr_warn("gc: %s", strerror(-err));
	if (freed || expired)
		pr_info("gc: %zu expired flows, %zu unused backends freed",
			expired, freed);
}

static int watch_file(const char *path, char *name, size_t len)
{
	char dir[PATH_MAX], base[PATH_MAX];
	int fd;

	snprintf(dir, sizeof(dir), "%s", path);
	snprintf(base, sizeof(base), "%s", path);
	snprintf(name, len, "%s", basename(base));
	fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* the directory, so an atomic replace (rename over) is seen too */
	if (inotify_add_watch(fd, dirname(dir),
			      IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE) < 0) {
		close(fd);
		return -errno;
	}
	return fd;
}

static bool file_changed(int fd, const char *name)
{
	char buf[4096]
		__attribute__((aligned(__alignof__(struct inotify_event))));
	bool changed = false;
	ssize_t len;

	while ((len = read(fd, buf, sizeof(buf))) > 0) {
		for (char *p = buf; p < buf + len;) {
			struct inotify_event *ev = (struct inotify_event *)p;

			if (ev->len && !strcmp(ev->name, name))
				changed = true;
			p += sizeof(*ev) + ev->len;
		}
	}
	return changed;
}

static int agent_loop(struct agent *a)
{
	struct itimerspec its = { 0 };
	char name[NAME_MAX + 1];
	struct pollfd pfd[3];
	struct signalfd_siginfo si;
	sigset_t mask;
	int sfd, ifd = -1, tfd, n = 0;

	sigemptyset(&mask);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGINT);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC);
	tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
	if (sfd < 0 || tfd < 0) {
		pr_err("signalfd/timerfd: %s", strerror(errno));
		return 1;
	}
	/* iptables: no BPF to collect; the timer drives full syncs */
	its.it_value.tv_sec = a->ipt ? 1 : a->gc_interval;
	its.it_interval.tv_sec = a->ipt ? 1 : a->gc_interval;
	timerfd_settime(tfd, 0, &its, NULL);
	pfd[n++] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pfd[n++] = (struct pollfd){ .fd = tfd, .events = POLLIN };
	if (a->services_path) {
		ifd = watch_file(a->services_path, name, sizeof(name));
		if (ifd < 0) {
			pr_err("watch %s: %s", a->services_path,
			       strerror(-ifd));
			return 1;
		}
		pfd[n++] = (struct pollfd){ .fd = ifd, .events = POLLIN };
	}

	for (;;) {
		if (poll(pfd, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[0].revents & POLLIN) {
			if (read(sfd, &si, sizeof(si)) != sizeof(si))
				continue;
			if (si.ssi_signo != SIGHUP) {
				pr_info("signal %d: exiting, datapath stays in place",
					si.ssi_signo);
				return 0;
			}
			/* iptables, on demand: rewrite every chain (the
			 * proxy's thread owns a->ipt while it runs) */
			if (a->ipt && a->proxy)
				berth_proxy_resync(a->proxy);
			else if (a->ipt)
				berth_ipt_sync_request_full(a->ipt);
			if (a->services_path)
				agent_sync(a);
		}
		if (pfd[1].revents & POLLIN) {
			uint64_t ticks;

			if (read(tfd, &ticks, sizeof(ticks)) != sizeof(ticks))
				continue;
			if (!a->ipt)
				agent_gc(a);
			else if (a->services_path &&
				 !berth_ipt_sync_full_due_ms(a->ipt))
				agent_sync(a); /* the periodic full sync */
		}
		if (ifd >= 0 && (pfd[2].revents & POLLIN) &&
		    file_changed(ifd, name))
			agent_sync(a);
	}
}

/*
 * What the kernel offers decides the paths taken: today tc programs on
 * clsact (tcx needs libbpf 1.3), REJECT replies built in place. Written to
 * ROOT/features.json for tools and tests.
 */
static int probe_features(struct agent *a)
{
	struct berth_features f;
	char path[PATH_MAX];
	FILE *out;

	berth_features_probe(&f);
	berth_features_log(&f);
	snprintf(path, sizeof(path), "%s/features.json", a->root);
	out = fopen(path, "w");
	if (out) {
		berth_features_json(&f, out);
		fputc('\n', out);
		fclose(out);
	}
	if (!f.sched_cls || !f.lru_hash || !f.hash_of_maps || !f.percpu_hash) {
		pr_err("kernel %s lacks what the datapath needs (tc programs, LRU hash, hash of maps, per-CPU hash): see %s",
		       f.kernel, path);
		return -1;
	}
	if (!f.skb_change_tail)
		pr_warn("no bpf_skb_change_tail: Services without endpoints drop instead of rejecting");
	pr_info("attach mode: tc clsact%s", f.tcx && !f.tcx_libbpf ?
			" (kernel has tcx, this libbpf does not)" : "");
	return 0;
}

static volatile sig_atomic_t stopping;

static void on_stop(int sig)
{
	(void)sig;
	stopping = 1;
}

/* The endpoint socket hands out addresses from the podCIDR the server's
 * node IPAM gives this Node: wait for it (a signal ends the wait). */
static int wait_pod_cidr(struct agent *a)
{
	struct sigaction sa = { .sa_handler = on_stop }, old_int, old_term;
	int err;

	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	pr_info("waiting for the server to give node %s a podCIDR", a->node);
	do
		err = berth_kubelet_pod_cidr(a->kubelet, a->kube_pod_cidr,
					     sizeof(a->kube_pod_cidr), 1000);
	while (err == -ETIMEDOUT && !stopping);
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	if (err)
		pr_info("stopped before the node got a podCIDR");
	return err;
}

static int uninstall(const char *node)
{
	char pin_dir[256];
	int err;

	if (berth_dp_pin_dir(pin_dir, sizeof(pin_dir), node)) {
		fprintf(stderr, "berth-agent: bad node name '%s'\n", node);
		return 1;
	}
	err = berth_dp_detach_all();
	if (err)
		pr_warn("detach: %s", strerror(-err));
	/* the socket LB's link pins live in the pin dir: before unpin */
	err = berth_socklb_detach(pin_dir);
	if (err)
		pr_warn("socket LB detach: %s", strerror(-err));
	err = berth_routing_uninstall();
	if (err)
		pr_warn("remove %s: %s", BERTH_TUNNEL_DEV, strerror(-err));
	err = berth_ipt_uninstall();
	if (err)
		pr_warn("remove iptables rules: %s", strerror(-err));
	err = berth_dp_unpin(pin_dir);
	if (err) {
		pr_err("remove pins in %s: %s", pin_dir, strerror(-err));
		return 1;
	}
	pr_info("detached berth filters and removed %s", pin_dir);
	return 0;
}

/* ---- --dataplane iptables: no BPF program, map or pin ---- */

static int ipt_start_services(struct agent *a)
{
	/* kube-proxy alone (--proxy-server) serves NodePorts on --node-ip */
	const char *node_ip = a->iroute ? berth_iptroute_node_ip(a->iroute) :
					  a->kopts.node_ip;
	struct berth_ipt_sync_opts o = { .full_sync_s = a->ipt_sync_s };
	struct in_addr ip = { 0 };

	if (node_ip && inet_pton(AF_INET, node_ip, &ip) != 1) {
		pr_err("--node-ip '%s' is not an IPv4 address", node_ip);
		return -1;
	}
	o.node_ip = ip.s_addr;
	if (berth_ipt_sync_new(&o, &a->ipt))
		return -1;
	if ((a->proxy_server || a->kopts.kubeconfig) && !a->services_path) {
		struct berth_proxy_opts popts = {
			.kubeconfig = a->proxy_server ? a->proxy_server :
							a->kopts.kubeconfig,
			.node_name = a->node,
			.root = a->root,
			.node_ip = node_ip,
			.ipt = a->ipt,
		};

		if (berth_proxy_start(&popts, &a->proxy))
			return -1;
	}
	return 0;
}

static int ipt_start_node(struct agent *a)
{
	struct berth_iptroute_opts ro = {
		.kubeconfig = a->kopts.kubeconfig,
		.node_name = a->node,
		.node_ip = a->kopts.node_ip,
		.device = a->ropts.device,
		.masquerade = a->ropts.masquerade,
		.vni = a->ropts.vni,
		.full_sync_s = a->ipt_sync_s,
	};

	if (berth_iptroute_start(&ro, &a->iroute))
		return -1;
	a->kopts.node_name = a->node;
	a->kopts.root = a->root;
	a->kopts.cni_socket = a->cni_socket;
	if (berth_kubelet_start(&a->kopts, &a->kubelet))
		return -1;
	if (!a->pod_cidr) {
		if (wait_pod_cidr(a))
			return -1;
		a->pod_cidr = a->kube_pod_cidr;
	}
	return berth_iptroute_set_pod_cidr(a->iroute, a->pod_cidr) ? -1 : 0;
}

/* NetworkPolicy as ipsets and filter chains (kubelet mode) */
static int ipt_start_netpol(struct agent *a)
{
	struct berth_iptnetpol_opts o = {
		.kubeconfig = a->kopts.kubeconfig,
		.node_name = a->node,
		.node_ip = berth_iptroute_node_ip(a->iroute),
		.full_sync_s = a->ipt_sync_s,
	};

	return berth_iptnetpol_start(&o, &a->netpol) ? -1 : 0;
}

static int run_iptables(struct agent *a, bool once)
{
	sigset_t hup;
	int ret = 1;

	/* SIGHUP (a full sync) is for agent_loop's signalfd: threads started
	 * before it must not take it, or its default action ends the agent */
	sigemptyset(&hup);
	sigaddset(&hup, SIGHUP);
	sigprocmask(SIG_BLOCK, &hup, NULL);
	pr_info("dataplane: iptables (iptables-nft rules, kernel routing; no BPF)");
	if (a->nifaces || a->cgroup)
		pr_warn("--interface and --cgroup attach BPF programs: ignored with the iptables dataplane");
	if (a->kopts.kubeconfig && (ipt_start_node(a) || ipt_start_netpol(a)))
		goto out;
	if (a->cni_socket || a->pod_cidr) {
		/* berth-cni's /32 routes and neighbours on the host veths
		 * are all a pod needs: nothing to attach */
		struct berth_endpoint_config ecfg = {
			.root = a->root,
			.socket_path = a->cni_socket,
			.pod_cidr = a->pod_cidr,
			.mtu = a->iroute ? berth_iptroute_pod_mtu(a->iroute) :
					   0,
		};

		if (berth_endpoint_server_start(&ecfg, &a->eps))
			goto out;
	}
	if (ipt_start_services(a))
		goto out;
	if (a->services_path && agent_sync(a) && once)
		goto out;
	ret = once ? 0 : agent_loop(a);
out:
	berth_kubelet_stop(a->kubelet);
	berth_endpoint_server_stop(a->eps);
	berth_proxy_stop(a->proxy);
	berth_iptnetpol_stop(a->netpol);
	berth_iptroute_stop(a->iroute);
	berth_ipt_sync_free(a->ipt);
	return ret;
}

/*
 * NetworkPolicy: identities, endpoint flags and policy entries written into
 * this datapath's maps from the API server's objects.
 */
static int start_policy(struct agent *a)
{
	struct berth_policyagent_opts o = {
		.kubeconfig = a->kopts.kubeconfig,
		.node_name = a->node,
		.root = a->root,
		.maps = { .policy = &a->dp->policy,
			  .endpoints = &a->dp->endpoints,
			  .ipcache = &a->dp->ipcache,
			  .policy_ranges = &a->dp->policy_ranges },
	};

	return berth_policyagent_start(&o, &a->policy);
}

/* ADD of a pod of this node: its policy in the maps before it runs */
static void endpoint_added(void *ctx, const struct berth_cni_endpoint *ep)
{
	struct agent *a = ctx;
	int err;

	if (!a->policy || !ep->pod_name[0])
		return;
	err = berth_policyagent_local_pod(a->policy, ep->pod_namespace,
					  ep->pod_name, ep->ip, 2000);
	if (err)
		pr_warn("pod %s/%s (%s): network policy not judged before its start (%s): judged once the API shows it",
			ep->pod_namespace, ep->pod_name, ep->ip,
			strerror(-err));
}

static bool monitor_pod_name(void *ctx, uint32_t ip, char *name, size_t len,
			     char *uid, size_t uidlen)
{
	struct agent *a = ctx;

	return berth_policyagent_pod(a->policy, ip, name, len, uid, uidlen);
}

/*
 * Drop notifications: <root>/monitor.sock, and Kubernetes Events in
 * kubelet mode. Without it the datapath runs the same, so a failure to
 * start is only logged.
 */
static void start_monitor(struct agent *a)
{
	struct berth_monitor_opts o = {
		.events_fd = a->dp->events.fd,
		.root = a->root,
		.kubeconfig = a->kopts.kubeconfig,
		.node_name = a->node,
		.pod_name = monitor_pod_name,
		.pod_ctx = a,
		.events_cfg_fd = a->dp->events_cfg.fd,
		.events_lost_fd = a->dp->events_lost.fd,
		.trace_always = a->trace_events,
	};

	if (berth_monitor_start(&o, &a->monitor))
		pr_warn("monitor: not started: no drop events on %s/monitor.sock",
			a->root);
}

/*
 * --kubeconfig: make sure it holds a live certificate for this node
 * (through the bootstrap kubeconfig if need be) and keep it renewed.
 */
static int node_credentials(struct agent *a)
{
	char err[512];
	int ret;

	if (a->bootstrap_kubeconfig && !a->node_kubeconfig) {
		pr_err("--bootstrap-kubeconfig needs --kubeconfig (where the node's certificate goes)");
		return -EINVAL;
	}
	if (!a->node_kubeconfig)
		return 0;
	ret = berth_nodecert_ensure(a->bootstrap_kubeconfig,
				    a->node_kubeconfig, a->node, err,
				    sizeof(err));
	if (ret) {
		pr_err("node certificate: %s", err);
		return ret;
	}
	ret = berth_nodecert_start(a->bootstrap_kubeconfig,
				   a->node_kubeconfig, a->node, &a->nodecert);
	if (ret)
		pr_err("node certificate renewal: %s", strerror(-ret));
	return ret;
}

/*
 * glibc's per-thread cache (tcache) holds up to 7 freed chunks of every
 * small size in each thread, counted as in use: with a worker thread per
 * pod that was ~40 KB per idle pod (4 MB with 110). Only the environment
 * at start-up turns it off, so the agent execs itself once with it set.
 * The agent's few allocations a second do not need it.
 */
static void malloc_no_tcache(char **argv)
{
	static const char set[] = "glibc.malloc.tcache_count=0";
	const char *t = getenv("GLIBC_TUNABLES");
	size_t len = (t ? strlen(t) + 1 : 0) + sizeof(set);
	char *v;

	if (t && strstr(t, "glibc.malloc.tcache_count="))
		return; /* done, or the operator chose */
	v = malloc(len);
	if (!v)
		return;
	snprintf(v, len, "%s%s%s", t ? t : "", t ? ":" : "", set);
	setenv("GLIBC_TUNABLES", v, 1);
	free(v);
	execv("/proc/self/exe", argv);
	pr_warn("re-exec without the malloc thread cache: %s", strerror(errno));
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "node-name", required_argument, NULL, 'n' },
		{ "root", required_argument, NULL, 'r' },
		{ "services", required_argument, NULL, 's' },
		{ "interface", required_argument, NULL, 'i' },
		{ "gc-interval", required_argument, NULL, 'g' },
		{ "max-services", required_argument, NULL, 'S' },
		{ "max-backends", required_argument, NULL, 'B' },
		{ "max-ct", required_argument, NULL, 'C' },
		{ "policy-map-entries", required_argument, NULL, 0x120 },
		{ "log-level", required_argument, NULL, 'l' },
		{ "once", no_argument, NULL, 'o' },
		{ "uninstall", no_argument, NULL, 'u' },
		{ "cni-socket", required_argument, NULL, 'E' },
		{ "pod-cidr", required_argument, NULL, 'P' },
		{ "server", required_argument, NULL, 'K' },
		{ "node-ip", required_argument, NULL, 'N' },
		{ "static-pods", required_argument, NULL, 'T' },
		{ "kubelet-port", required_argument, NULL, 'O' },
		{ "cni-bin-dir", required_argument, NULL, 'Y' },
		{ "cni-conf-dir", required_argument, NULL, 'Z' },
		{ "pod-log-dir", required_argument, NULL, 'V' },
		{ "proxy-server", required_argument, NULL, 0x100 },
		{ "dataplane", required_argument, NULL, 0x101 },
		{ "device", required_argument, NULL, 0x102 },
		{ "nodeport-accel", required_argument, NULL, 0x103 },
		{ "vxlan-vni", required_argument, NULL, 0x109 },
		{ "masquerade", required_argument, NULL, 0x104 },
		{ "service-node-port-range", required_argument, NULL, 0x105 },
		{ "cgroup", required_argument, NULL, 0x106 },
		{ "trace-events", no_argument, NULL, 0x10a },
		{ "iptables-sync-period", required_argument, NULL, 0x107 },
		{ "iptables-backend", required_argument, NULL, 0x108 },
		{ "kubeconfig", required_argument, NULL, 0x110 },
		{ "bootstrap-kubeconfig", required_argument, NULL, 0x111 },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	struct agent a = { .root = "/var/lib/berth",
			   .gc_interval = 30,
			   .ropts = { .masquerade = true,
				      .vni = BERTH_VXLAN_VNI_DEFAULT } };
	struct berth_lbmap_maps maps;
	bool once = false, do_uninstall = false;
	char pin_dir[256];
	int c, err, ret = 1;

	if (argc > 1 && !strcmp(argv[1], "image"))
		return berth_image_cli(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "shim"))
		return berth_shim_main(argc - 1, argv + 1);
	if (argc > 1 && !strcmp(argv[1], "runtime"))
		return berth_runtime_cli(argc - 1, argv + 1);
	/* one worker thread per pod: glibc would give them up to 8 malloc
	 * arenas per CPU, each keeping its own free pages; two are plenty
	 * for the agent's little allocation traffic */
	mallopt(M_ARENA_MAX, 2);
	malloc_no_tcache(argv);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			a.node = optarg;
			break;
		case 'r':
			a.root = optarg;
			break;
		case 's':
			a.services_path = optarg;
			break;
		case 'i':
			if (a.nifaces == MAX_IFACES) {
				fprintf(stderr,
					"berth-agent: more than %d interfaces\n",
					MAX_IFACES);
				return 2;
			}
			a.ifaces[a.nifaces++] = optarg;
			break;
		case 'g':
			if (parse_u32(optarg, "--gc-interval",
				      &a.gc_interval) ||
			    !a.gc_interval)
				return 2;
			break;
		case 'S':
			if (parse_u32(optarg, "--max-services",
				      &a.dp_cfg.max_services))
				return 2;
			break;
		case 'B':
			if (parse_u32(optarg, "--max-backends",
				      &a.dp_cfg.max_backends))
				return 2;
			break;
		case 'C':
			if (parse_u32(optarg, "--max-ct", &a.dp_cfg.max_ct))
				return 2;
			break;
		case 0x120:
			if (parse_u32(optarg, "--policy-map-entries",
				      &a.dp_cfg.max_policy))
				return 2;
			if (!a.dp_cfg.max_policy) {
				fprintf(stderr,
					"berth-agent: --policy-map-entries: must be at least 1\n");
				return 2;
			}
			break;
		case 'l':
			if (parse_level(optarg))
				return 2;
			break;
		case 'o':
			once = true;
			break;
		case 'u':
			do_uninstall = true;
			break;
		case 'E': /* berth-cni endpoint socket, see endpoint.h */
			a.cni_socket = optarg;
			break;
		case 'P':
			a.pod_cidr = optarg;
			break;
		case 'K': /* kubelet mode, see kubelet.h */
			a.kopts.kubeconfig = optarg;
			break;
		case 'N':
			a.kopts.node_ip = optarg;
			break;
		case 'T':
			a.kopts.static_pods = optarg;
			break;
		case 'O': {
			uint32_t port;

			if (parse_u32(optarg, "--kubelet-port", &port) ||
			    port > 65535)
				return 2;
			a.kopts.kubelet_port = port;
			break;
		}
		case 'Y':
			a.kopts.cni_bin_dir = optarg;
			break;
		case 'Z':
			a.kopts.cni_conf_dir = optarg;
			break;
		case 0x110: /* the node's own credentials, nodecert.h */
			a.node_kubeconfig = optarg;
			a.kopts.kubeconfig = optarg;
			break;
		case 0x111:
			a.bootstrap_kubeconfig = optarg;
			break;
		case 0x100: /* kube-proxy only, see proxy.h */
			a.proxy_server = optarg;
			break;
		case 0x101:
			if (parse_dataplane(optarg, &a.mode))
				return 2;
			break;
		case 0x108: {
			enum berth_ipt_backend b;

			if (berth_ipt_parse_backend(optarg, &b)) {
				fprintf(stderr,
					"berth-agent: --iptables-backend: '%s' is not nft or legacy\n",
					optarg);
				return 2;
			}
			berth_ipt_set_backend(b);
			break;
		}
		case 0x107:
			if (parse_u32(optarg, "--iptables-sync-period",
				      &a.ipt_sync_s) ||
			    !a.ipt_sync_s)
				return 2;
			break;
		case 'V':
			a.kopts.pod_log_dir = optarg;
			break;
		case 0x102:
			a.ropts.device = optarg;
			break;
		case 0x103:
			if (parse_accel(optarg, &a.ropts.accel))
				return 2;
			break;
		case 0x109:
			if (parse_u32(optarg, "--vxlan-vni", &a.ropts.vni) ||
			    !a.ropts.vni || a.ropts.vni > BERTH_VXLAN_VNI_MAX) {
				fprintf(stderr,
					"berth-agent: --vxlan-vni: '%s' is not 1-%u\n",
					optarg, BERTH_VXLAN_VNI_MAX);
				return 2;
			}
			break;
		case 0x104:
			if (parse_bool(optarg, "--masquerade",
				       &a.ropts.masquerade))
				return 2;
			break;
		case 0x105:
			if (berth_parse_port_range(optarg,
						   &a.ropts.nodeport_min,
						   &a.ropts.nodeport_max)) {
				fprintf(stderr,
					"berth-agent: --service-node-port-range: '%s' is not MIN-MAX\n",
					optarg);
				return 2;
			}
			break;
		case 0x106:
			a.cgroup = optarg;
			break;
		case 0x10a:
			a.trace_events = true;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (!a.node || optind != argc) {
		fprintf(stderr, "berth-agent: %s\n",
			a.node ? "unexpected argument" :
				 "--node-name is required");
		usage(stderr);
		return 2;
	}
	berth_libbpf_log_init();
	if (do_uninstall)
		return uninstall(a.node);
	if (berth_dp_pin_dir(pin_dir, sizeof(pin_dir), a.node)) {
		fprintf(stderr, "berth-agent: bad node name '%s'\n", a.node);
		return 2;
	}
	err = berth_status_init(a.root);
	if (err) {
		pr_err("create root %s: %s", a.root, strerror(-err));
		return 1;
	}
	if (node_credentials(&a))
		return 1;
	if (a.mode != DP_IPTABLES) {
		a.dp_cfg.pin_dir = pin_dir;
		/* rev_nat holds one entry per frontend: as many as services */
		a.dp_cfg.max_rev_nat = a.dp_cfg.max_services;
		err = probe_features(&a) ? -EOPNOTSUPP :
					   berth_dp_open(&a.dp, &a.dp_cfg);
		if (err && a.mode == DP_BPF) {
			pr_err("BPF datapath: %s (see above; --dataplane iptables or auto runs without BPF)",
			       strerror(-err));
			return 1;
		}
		if (err) {
			pr_warn("--dataplane auto: BPF datapath unavailable (%s, see above): falling back to iptables",
				strerror(-err));
			berth_dp_unpin(pin_dir);
			a.mode = DP_IPTABLES;
		}
	}
	if (a.mode == DP_IPTABLES)
		return run_iptables(&a, once);
	for (int i = 0; i < a.nifaces; i++) {
		if (berth_dp_attach(a.dp, a.ifaces[i]))
			goto out;
		pr_info("attached from_pod/to_pod to %s", a.ifaces[i]);
	}
	if (a.cgroup && berth_socklb_attach(a.dp, a.cgroup))
		goto out;
	if (a.kopts.kubeconfig) {
		a.ropts.kubeconfig = a.kopts.kubeconfig;
		a.ropts.node_name = a.node;
		a.ropts.node_ip = a.kopts.node_ip;
		a.ropts.root = a.root;
		a.ropts.dp = a.dp;
		if (berth_routing_start(&a.ropts, &a.routing))
			goto out;
		a.kopts.node_name = a.node;
		a.kopts.root = a.root;
		a.kopts.cni_socket = a.cni_socket;
		if (berth_kubelet_start(&a.kopts, &a.kubelet))
			goto out;
		if (!a.pod_cidr) {
			if (wait_pod_cidr(&a))
				goto out;
			a.pod_cidr = a.kube_pod_cidr;
		}
	}
	/* before the endpoint server: an ADD waits for its pod's policy */
	if (a.kopts.kubeconfig && start_policy(&a))
		goto out;
	if (a.cni_socket || a.pod_cidr) {
		struct berth_endpoint_config ecfg = {
			.root = a.root,
			.socket_path = a.cni_socket,
			.pod_cidr = a.pod_cidr,
			.ops = berth_endpoint_dp_ops(a.dp),
			.endpoints = &a.dp->endpoints,
			.mtu = a.routing ? berth_routing_pod_mtu(a.routing) : 0,
			.added = endpoint_added,
			.added_ctx = &a,
		};

		if (berth_endpoint_server_start(&ecfg, &a.eps))
			goto out;
	}
	start_monitor(&a);
	berth_dp_lbmap_maps(a.dp, &maps);
	if (a.cgroup && !berth_socklb_open(&a.socklb, a.dp->pin_dir) &&
	    berth_socklb_can_destroy(a.socklb)) {
		maps.backend_gone = socklb_backend_gone;
		maps.backend_gone_ctx = a.socklb;
	}
	err = berth_lbmap_open(&a.lb, &maps);
	if (err) {
		pr_err("read service maps in %s: %s", pin_dir, strerror(-err));
		goto out;
	}
	/* kube-proxy: Services from the API server, unless --services */
	if ((a.proxy_server || a.kopts.kubeconfig) && !a.services_path) {
		struct berth_proxy_opts popts = {
			.kubeconfig = a.proxy_server ? a.proxy_server :
						       a.kopts.kubeconfig,
			.node_name = a.node,
			.root = a.root,
			.lb = a.lb,
			.node_ip = a.routing ?
					   berth_routing_node_ip(a.routing) :
					   NULL,
			.xdp_mode = a.routing ?
					    berth_routing_xdp_mode(a.routing) :
					    NULL,
		};

		if (berth_proxy_start(&popts, &a.proxy))
			goto out;
	}
	if (a.services_path && agent_sync(&a) && once)
		goto out;
	if (once) {
		ret = 0;
		goto out;
	}
	ret = agent_loop(&a);
out:
	berth_nodecert_stop(a.nodecert);
	berth_monitor_stop(a.monitor);
	berth_policyagent_stop(a.policy);
	berth_kubelet_stop(a.kubelet);
	berth_endpoint_server_stop(a.eps);
	berth_proxy_stop(a.proxy);
	berth_routing_stop(a.routing);
	berth_lbmap_free(a.lb);
	berth_socklb_close(a.socklb);
	berth_dp_close(a.dp);
	return ret;
}
