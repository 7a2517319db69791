// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The Node object, its status and its Lease, kept fresh by one thread. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <berth/kube.h>
#include <berth/log.h>

#include "node.h"

#define NODE_STACK (256 * 1024)
#define KUBELET_VERSION "v1.30.0-berth"
#define MEM_PRESSURE_KI (100 * 1024) /* MemAvailable below 100 Mi */
#define DISK_PRESSURE_PCT 10 /* free space below 10 % of root's fs */

struct berth_node {
	struct berth_kube *k;
	struct berth_node_opts opts;
	char name[256];
	char root[4096];
	char ip[64];
	char pod_cidr[64];
	char runtime_version[64];
	bool registered;
	bool kicked;
	bool stop;
	json_object *lease; /* last Lease seen, for PUT */
	/* condition status and when it last changed */
	struct {
		const char *type;
		bool status;
		long since;
	} cond[4];
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
};

static const char *const cond_types[] = { "Ready", "MemoryPressure",
					  "DiskPressure", "PIDPressure" };

int berth_node_first_ip(char *buf, size_t len)
{
	struct ifaddrs *ifs, *i;
	int ret = -ENOENT;

	if (getifaddrs(&ifs))
		return -errno;
	for (i = ifs; i; i = i->ifa_next) {
		struct sockaddr_in *sin = (struct sockaddr_in *)i->ifa_addr;

		if (!sin || sin->sin_family != AF_INET)
			continue;
		if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127)
			continue;
		inet_ntop(AF_INET, &sin->sin_addr, buf, len);
		ret = 0;
		break;
	}
	freeifaddrs(ifs);
	return ret;
}

static long read_long(const char *path)
{
	FILE *f = fopen(path, "r");
	long v = -1;

	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

void berth_node_cpu(char *buf, size_t len)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	long quota = read_long("/sys/fs/cgroup/cpu/cpu.cfs_quota_us");
	long period = read_long("/sys/fs/cgroup/cpu/cpu.cfs_period_us");

	if (quota <= 0 || period <= 0) {
		/* cgroup v2: "max 100000" or "<quota> <period>" */
		FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");

		if (f) {
			if (fscanf(f, "%ld %ld", &quota, &period) != 2)
				quota = -1;
			fclose(f);
		}
	}
	if (quota > 0 && period > 0 && quota * 1000 / period < n * 1000) {
		snprintf(buf, len, "%ldm", quota * 1000 / period);
		return;
	}
	snprintf(buf, len, "%ld", n > 0 ? n : 1);
}

/* memory in KiB: the machine, or the cgroup's limit if lower */
static unsigned long long mem_ki(void)
{
	struct sysinfo si;
	unsigned long long total = 0;
	long lim = read_long("/sys/fs/cgroup/memory/memory.limit_in_bytes");

	if (!sysinfo(&si))
		total = (unsigned long long)si.totalram * si.mem_unit / 1024;
	if (lim > 0 && (unsigned long long)lim / 1024 < total)
		total = lim / 1024;
	return total;
}

static long mem_available_ki(void)
{
	FILE *f = fopen("/proc/meminfo", "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "MemAvailable: %ld kB", &v) == 1)
			break;
	fclose(f);
	return v;
}

static bool pid_pressure(void)
{
	long max = read_long("/proc/sys/kernel/pid_max");
	FILE *f = fopen("/proc/loadavg", "r");
	long running, total = 0;
	double a, b, c;

	if (f) {
		if (fscanf(f, "%lf %lf %lf %ld/%ld", &a, &b, &c, &running,
			   &total) != 5)
			total = 0;
		fclose(f);
	}
	return max > 0 && total > max * 9 / 10;
}

static void os_image(char *buf, size_t len)
{
	FILE *f = fopen("/etc/os-release", "r");
	char line[256];

	snprintf(buf, len, "Linux");
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (!strncmp(line, "PRETTY_NAME=", 12)) {
			char *v = line + 12, *e;

			if (*v == '"')
				v++;
			e = v + strcspn(v, "\"\n");
			*e = 0;
			snprintf(buf, len, "%s", v);
			break;
		}
	}
	fclose(f);
}

static void read_line(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");

	buf[0] = 0;
	if (!f)
		return;
	if (fgets(buf, len, f))
		buf[strcspn(buf, "\n")] = 0;
	fclose(f);
}

static void runc_version(char *buf, size_t len)
{
	FILE *p = popen("runc --version 2>/dev/null", "r");
	char line[128], v[64] = "unknown";

	if (p) {
		while (fgets(line, sizeof(line), p))
			if (sscanf(line, "runc version %63s", v) == 1)
				break;
		pclose(p);
	}
	snprintf(buf, len, "runc://%s", v);
}

static const char *go_arch(const char *m)
{
	if (!strcmp(m, "x86_64"))
		return "amd64";
	if (!strcmp(m, "aarch64"))
		return "arm64";
	if (!strncmp(m, "arm", 3))
		return "arm";
	return m;
}

static void add_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v));
}

static json_object *resources(const char *root)
{
	json_object *r = json_object_new_object();
	struct statvfs sv;
	char buf[64];

	berth_node_cpu(buf, sizeof(buf));
	add_str(r, "cpu", buf);
	snprintf(buf, sizeof(buf), "%lluKi", mem_ki());
	add_str(r, "memory", buf);
	snprintf(buf, sizeof(buf), "%d", BERTH_NODE_MAX_PODS);
	add_str(r, "pods", buf);
	if (!statvfs(root && *root ? root : "/", &sv)) {
		snprintf(buf, sizeof(buf), "%lluKi",
			 (unsigned long long)sv.f_blocks * sv.f_frsize / 1024);
		add_str(r, "ephemeral-storage", buf);
	}
	return r;
}

static json_object *node_info(const char *runtime_version)
{
	json_object *ni = json_object_new_object();
	struct utsname u;
	char buf[256];

	uname(&u);
	add_str(ni, "kernelVersion", u.release);
	os_image(buf, sizeof(buf));
	add_str(ni, "osImage", buf);
	add_str(ni, "operatingSystem", "linux");
	add_str(ni, "architecture", go_arch(u.machine));
	add_str(ni, "containerRuntimeVersion", runtime_version);
	add_str(ni, "kubeletVersion", KUBELET_VERSION);
	add_str(ni, "kubeProxyVersion", KUBELET_VERSION);
	read_line("/etc/machine-id", buf, sizeof(buf));
	add_str(ni, "machineID", buf);
	read_line("/proc/sys/kernel/random/boot_id", buf, sizeof(buf));
	add_str(ni, "bootID", buf);
	add_str(ni, "systemUUID", "");
	return ni;
}

static json_object *addresses(const char *name, const char *ip)
{
	json_object *a = json_object_new_array(), *e;

	if (ip && *ip) {
		e = json_object_new_object();
		add_str(e, "type", "InternalIP");
		add_str(e, "address", ip);
		json_object_array_add(a, e);
	}
	e = json_object_new_object();
	add_str(e, "type", "Hostname");
	add_str(e, "address", name);
	json_object_array_add(a, e);
	return a;
}

static json_object *metadata(const struct berth_node_opts *opts)
{
	json_object *md = json_object_new_object();
	json_object *labels = json_object_new_object();
	struct utsname u;

	uname(&u);
	add_str(labels, "kubernetes.io/hostname", opts->name);
	add_str(labels, "kubernetes.io/os", "linux");
	add_str(labels, "kubernetes.io/arch", go_arch(u.machine));
	add_str(labels, "beta.kubernetes.io/os", "linux");
	add_str(labels, "beta.kubernetes.io/arch", go_arch(u.machine));
	add_str(md, "name", opts->name);
	json_object_object_add(md, "labels", labels);
	return md;
}

static void evaluate(struct berth_node *n)
{
	long avail = mem_available_ki();
	struct statvfs sv;
	bool now[4];
	long t = time(NULL);

	now[0] = true;
	now[1] = avail >= 0 && avail < MEM_PRESSURE_KI;
	now[2] = !statvfs(n->root[0] ? n->root : "/", &sv) && sv.f_blocks &&
		 sv.f_bavail * 100 / sv.f_blocks < DISK_PRESSURE_PCT;
	now[3] = pid_pressure();
	for (int i = 0; i < 4; i++) {
		if (!n->cond[i].since || n->cond[i].status != now[i]) {
			n->cond[i].status = now[i];
			n->cond[i].since = t;
		}
	}
}

static json_object *conditions(struct berth_node *n)
{
	static const char *const reasons[4][2] = {
		{ "KubeletNotReady", "KubeletReady" },
		{ "KubeletHasSufficientMemory", "KubeletHasInsufficientMemory" },
		{ "KubeletHasNoDiskPressure", "KubeletHasDiskPressure" },
		{ "KubeletHasSufficientPID", "KubeletHasInsufficientPID" },
	};
	static const char *const messages[4][2] = {
		{ "kubelet is not ready", "kubelet is posting ready status" },
		{ "kubelet has sufficient memory available",
		  "kubelet has insufficient memory available" },
		{ "kubelet has no disk pressure", "kubelet has disk pressure" },
		{ "kubelet has sufficient PID available",
		  "kubelet has insufficient PID available" },
	};
	json_object *a = json_object_new_array();
	char now[32], since[32];

	berth_kube_time(now, 0);
	for (int i = 0; i < 4; i++) {
		json_object *c = json_object_new_object();
		bool s = n->cond[i].status;

		berth_kube_time(since, n->cond[i].since);
		add_str(c, "type", cond_types[i]);
		add_str(c, "status", s ? "True" : "False");
		add_str(c, "reason", reasons[i][s]);
		add_str(c, "message", messages[i][s]);
		add_str(c, "lastHeartbeatTime", now);
		add_str(c, "lastTransitionTime", since);
		json_object_array_add(a, c);
	}
	return a;
}

static json_object *status(struct berth_node *n, bool with_conditions)
{
	json_object *st = json_object_new_object(), *de, *ke;

	json_object_object_add(st, "capacity", resources(n->root));
	json_object_object_add(st, "allocatable", resources(n->root));
	json_object_object_add(st, "addresses", addresses(n->name, n->ip));
	json_object_object_add(st, "nodeInfo", node_info(n->runtime_version));
	de = json_object_new_object();
	ke = json_object_new_object();
	json_object_object_add(ke, "Port",
			       json_object_new_int(n->opts.kubelet_port));
	json_object_object_add(de, "kubeletEndpoint", ke);
	json_object_object_add(st, "daemonEndpoints", de);
	if (with_conditions)
		json_object_object_add(st, "conditions", conditions(n));
	return st;
}

json_object *berth_node_object(const struct berth_node_opts *opts,
			       const char *ip)
{
	struct berth_node n = { .opts = *opts };
	json_object *o = json_object_new_object();

	snprintf(n.name, sizeof(n.name), "%s", opts->name);
	snprintf(n.root, sizeof(n.root), "%s", opts->root ? opts->root : "/");
	snprintf(n.ip, sizeof(n.ip), "%s", ip ? ip : "");
	snprintf(n.runtime_version, sizeof(n.runtime_version), "runc://test");
	evaluate(&n);
	add_str(o, "apiVersion", "v1");
	add_str(o, "kind", "Node");
	json_object_object_add(o, "metadata", metadata(opts));
	json_object_object_add(o, "spec", json_object_new_object());
	json_object_object_add(o, "status", status(&n, true));
	return o;
}

static void note_pod_cidr(struct berth_node *n, json_object *node)
{
	json_object *spec, *cidr;
	bool first = false;

	if (!json_object_object_get_ex(node, "spec", &spec) ||
	    !json_object_object_get_ex(spec, "podCIDR", &cidr) ||
	    !json_object_get_string_len(cidr))
		return;
	pthread_mutex_lock(&n->lock);
	if (strcmp(n->pod_cidr, json_object_get_string(cidr))) {
		first = !n->pod_cidr[0];
		if (!first)
			pr_warn("node %s: podCIDR changed from %s to %s; pods keep their addresses",
				n->name, n->pod_cidr,
				json_object_get_string(cidr));
		snprintf(n->pod_cidr, sizeof(n->pod_cidr), "%s",
			 json_object_get_string(cidr));
		pthread_cond_broadcast(&n->wake);
	}
	pthread_mutex_unlock(&n->lock);
	if (first) {
		pr_info("node %s: podCIDR %s", n->name, n->pod_cidr);
		if (n->opts.pod_cidr_cb)
			n->opts.pod_cidr_cb(n->pod_cidr, n->opts.arg);
	}
}

/* create the Node, or take over the one that exists: our labels win */
static int node_register(struct berth_node *n)
{
	json_object *o, *out = NULL, *patch;
	char path[512], m[256];
	int st;

	o = json_object_new_object();
	add_str(o, "apiVersion", "v1");
	add_str(o, "kind", "Node");
	json_object_object_add(o, "metadata", metadata(&n->opts));
	json_object_object_add(o, "spec", json_object_new_object());
	st = berth_kube_post(n->k, "/api/v1/nodes", o, &out);
	json_object_put(o);
	if (st == 409) {
		json_object_put(out);
		out = NULL;
		patch = json_object_new_object();
		json_object_object_add(patch, "metadata", metadata(&n->opts));
		snprintf(path, sizeof(path), "/api/v1/nodes/%s", n->name);
		st = berth_kube_patch(n->k, path, BERTH_KUBE_PATCH_MERGE, patch,
				      &out);
		json_object_put(patch);
		if (st == 200)
			pr_info("node %s: took over the existing Node", n->name);
	} else if (st == 201 || st == 200) {
		pr_info("node %s: registered", n->name);
	}
	if (st != 200 && st != 201) {
		pr_warn("node %s: register: %s", n->name,
			berth_kube_status_message(out, st, m, sizeof(m)));
		json_object_put(out);
		return st < 0 ? st : -EIO;
	}
	note_pod_cidr(n, out);
	json_object_put(out);
	n->registered = true;
	return 0;
}

static int node_update_status(struct berth_node *n)
{
	json_object *patch = json_object_new_object(), *out = NULL;
	char path[512], m[256];
	int st;

	evaluate(n);
	json_object_object_add(patch, "status", status(n, true));
	snprintf(path, sizeof(path), "/api/v1/nodes/%s/status", n->name);
	st = berth_kube_patch(n->k, path, BERTH_KUBE_PATCH_STRATEGIC, patch,
			      &out);
	json_object_put(patch);
	if (st == 404) {
		pr_warn("node %s: the Node is gone, registering again", n->name);
		n->registered = false;
	} else if (st != 200) {
		pr_warn("node %s: update status: %s", n->name,
			berth_kube_status_message(out, st, m, sizeof(m)));
	} else {
		note_pod_cidr(n, out);
	}
	json_object_put(out);
	return st == 200 ? 0 : -EIO;
}

static int lease_renew(struct berth_node *n)
{
	char path[512], now[64], m[256];
	json_object *l = n->lease, *spec, *out = NULL;
	int st;

	snprintf(path, sizeof(path),
		 "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/%s",
		 n->name);
	berth_kube_micro_time(now, sizeof(now));
	if (!l) {
		st = berth_kube_get(n->k, path, &l);
		if (st != 200) {
			json_object_put(l);
			l = NULL;
		}
	}
	if (l) {
		if (!json_object_object_get_ex(l, "spec", &spec)) {
			spec = json_object_new_object();
			json_object_object_add(l, "spec", spec);
		}
		add_str(spec, "holderIdentity", n->name);
		json_object_object_add(spec, "leaseDurationSeconds",
				       json_object_new_int(BERTH_NODE_LEASE_S));
		add_str(spec, "renewTime", now);
		st = berth_kube_put(n->k, path, l, &out);
	} else {
		json_object *md = json_object_new_object();

		l = json_object_new_object();
		add_str(l, "apiVersion", "coordination.k8s.io/v1");
		add_str(l, "kind", "Lease");
		add_str(md, "name", n->name);
		add_str(md, "namespace", "kube-node-lease");
		json_object_object_add(l, "metadata", md);
		spec = json_object_new_object();
		add_str(spec, "holderIdentity", n->name);
		json_object_object_add(spec, "leaseDurationSeconds",
				       json_object_new_int(BERTH_NODE_LEASE_S));
		add_str(spec, "acquireTime", now);
		add_str(spec, "renewTime", now);
		json_object_object_add(l, "spec", spec);
		st = berth_kube_post(
			n->k,
			"/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
			l, &out);
	}
	json_object_put(l);
	n->lease = NULL;
	if (st == 200 || st == 201) {
		n->lease = out; /* carries the new resourceVersion */
		return 0;
	}
	pr_warn("node %s: renew lease: %s", n->name,
		berth_kube_status_message(out, st, m, sizeof(m)));
	json_object_put(out);
	return -EIO;
}

static void *node_main(void *arg)
{
	struct berth_node *n = arg;
	unsigned int period = n->opts.renew_s ? n->opts.renew_s :
						BERTH_NODE_RENEW_S;

	pthread_mutex_lock(&n->lock);
	while (!n->stop) {
		struct timespec until;
		bool ok;

		pthread_mutex_unlock(&n->lock);
		ok = n->registered || !node_register(n);
		if (ok) {
			node_update_status(n);
			lease_renew(n);
		}
		pthread_mutex_lock(&n->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		/* poll faster until registered and given a podCIDR */
		until.tv_sec += ok && n->pod_cidr[0] ? period : 1;
		while (!n->stop && !n->kicked &&
		       pthread_cond_timedwait(&n->wake, &n->lock, &until) !=
			       ETIMEDOUT)
			;
		n->kicked = false;
	}
	pthread_mutex_unlock(&n->lock);
	return NULL;
}

int berth_node_start(struct berth_kube *k, const struct berth_node_opts *opts,
		     struct berth_node **out)
{
	struct berth_node *n;
	pthread_attr_t attr;
	int ret;

	if (!opts->name || !*opts->name)
		return -EINVAL;
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->k = k;
	n->opts = *opts;
	snprintf(n->name, sizeof(n->name), "%s", opts->name);
	snprintf(n->root, sizeof(n->root), "%s", opts->root ? opts->root : "/");
	n->opts.name = n->name;
	if (opts->ip && *opts->ip) {
		snprintf(n->ip, sizeof(n->ip), "%s", opts->ip);
	} else if (berth_node_first_ip(n->ip, sizeof(n->ip))) {
		pr_warn("node %s: no IPv4 address in this netns and no --node-ip: the Node has no InternalIP",
			n->name);
		n->ip[0] = 0;
	}
	runc_version(n->runtime_version, sizeof(n->runtime_version));
	pthread_mutex_init(&n->lock, NULL);
	pthread_cond_init(&n->wake, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, NODE_STACK);
	ret = -pthread_create(&n->thread, &attr, node_main, n);
	pthread_attr_destroy(&attr);
	if (ret) {
		free(n);
		return ret;
	}
	*out = n;
	return 0;
}

void berth_node_stop(struct berth_node *n)
{
	if (!n)
		return;
	pthread_mutex_lock(&n->lock);
	n->stop = true;
	pthread_cond_broadcast(&n->wake);
	pthread_mutex_unlock(&n->lock);
	pthread_join(n->thread, NULL);
	json_object_put(n->lease);
	pthread_mutex_destroy(&n->lock);
	pthread_cond_destroy(&n->wake);
	free(n);
}

int berth_node_pod_cidr(struct berth_node *n, char *buf, size_t len,
			int timeout_ms)
{
	struct timespec until;
	int ret = 0;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += timeout_ms / 1000;
	until.tv_nsec += (timeout_ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&n->lock);
	while (!n->pod_cidr[0] && !n->stop && !ret)
		if (pthread_cond_timedwait(&n->wake, &n->lock, &until) ==
		    ETIMEDOUT)
			ret = -ETIMEDOUT;
	if (n->pod_cidr[0]) {
		snprintf(buf, len, "%s", n->pod_cidr);
		ret = 0;
	} else if (!ret) {
		ret = -ECANCELED;
	}
	pthread_mutex_unlock(&n->lock);
	return ret;
}

const char *berth_node_ip(struct berth_node *n)
{
	return n->ip;
}

void berth_node_kick(struct berth_node *n)
{
	pthread_mutex_lock(&n->lock);
	n->kicked = true;
	pthread_cond_broadcast(&n->wake);
	pthread_mutex_unlock(&n->lock);
}
