// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* berth-agent's metrics (metrics.h): counters, scrape-time readers, health. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <berth/abi/events.h>
#include <berth/abi/metrics.h>
#include <berth/abi/pins.h>
#include <berth/datapath.h>
#include <berth/log.h>
#include <berth/prom.h>
#include <berth/reason.h>

#include "metrics.h"
#include "podmgr.h"

#define MAX_CHECKS 8
#define MAX_MAP_KEY 256 /* larger keys are not counted */

struct check {
	char name[32];
	bool ok;
	char why[128];
};

static struct {
	struct berth_prom_registry *reg;
	struct berth_prom_metric *sync_latency, *syncs, *sync_writes;
	struct berth_prom_metric *map_entries, *map_max, *map_pressure;
	struct berth_prom_metric *drop_pkts, *drop_bytes, *fwd_pkts, *fwd_bytes;
	struct berth_prom_metric *pods, *probes, *restarts, *events_lost, *policy_full;
	struct berth_prom_metric *policy_applied;
	pthread_mutex_t lock; /* node, pm, checks */
	char node[128];
	struct berth_podmgr *pm;
	struct check checks[MAX_CHECKS];
	size_t nchecks;
} M = { .lock = PTHREAD_MUTEX_INITIALIZER };

static pthread_once_t once = PTHREAD_ONCE_INIT;

/* Service change to maps written: a debounced sync lands in 10-500 ms */
static const double sync_buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025,
				       0.05,  0.1,    0.25,  0.5,  1,
				       2.5,   5,      10,    30,   60 };

static void collect(void *ctx);

static void init(void)
{
	static const char *const result[] = { "result", NULL };
	static const char *const map[] = { "map", NULL };
	static const char *const drop[] = { "reason", "direction", NULL };
	static const char *const dir[] = { "direction", NULL };
	static const char *const phase[] = { "phase", NULL };
	static const char *const probe[] = { "probe_type", "result", NULL };
	static const char *const type[] = { "type", NULL };
	struct berth_prom_registry *r = berth_prom_registry_new();

	if (!r)
		return;
	M.sync_latency = berth_prom_histogram(
		r, "berth_agent_sync_duration_seconds",
		"Seconds from the first Service or EndpointSlice change a proxy sync covers to the BPF maps written.",
		NULL, sync_buckets,
		sizeof(sync_buckets) / sizeof(sync_buckets[0]));
	M.syncs = berth_prom_counter(
		r, "berth_agent_syncs_total",
		"Proxy syncs of the service maps, by result.", result);
	M.sync_writes = berth_prom_counter(
		r, "berth_agent_sync_map_writes_total",
		"Map entries written or deleted by proxy syncs.", NULL);
	M.map_entries = berth_prom_gauge(
		r, "berth_agent_bpf_map_entries",
		"Entries in each of the node's pinned BPF maps (counted at scrape time).",
		map);
	M.map_max = berth_prom_gauge(
		r, "berth_agent_bpf_map_max_entries",
		"max_entries of each of the node's pinned BPF maps.", map);
	M.map_pressure = berth_prom_gauge(
		r, "berth_agent_bpf_map_pressure",
		"Fill of each pinned BPF map: entries / max_entries.", map);
	M.drop_pkts = berth_prom_counter(
		r, "berth_agent_drop_packets_total",
		"Packets the datapath dropped (or rejected), by reason and direction.",
		drop);
	M.drop_bytes = berth_prom_counter(
		r, "berth_agent_drop_bytes_total",
		"Bytes the datapath dropped (or rejected), by reason and direction.",
		drop);
	M.fwd_pkts = berth_prom_counter(
		r, "berth_agent_forward_packets_total",
		"Packets the datapath translated and passed on, by direction.",
		dir);
	M.fwd_bytes = berth_prom_counter(
		r, "berth_agent_forward_bytes_total",
		"Bytes the datapath translated and passed on, by direction.",
		dir);
	M.pods = berth_prom_gauge(
		r, "berth_agent_pods",
		"Pods on this node by the phase last reported.", phase);
	M.probes = berth_prom_counter(
		r, "prober_probe_total",
		"Container probe attempts by type (Liveness, Readiness, Startup) and result (successful, failed).",
		probe);
	M.events_lost = berth_prom_counter(
		r, "berth_agent_monitor_events_lost_total",
		"Datapath drop and trace records lost to a full events ring buffer, by type.",
		type);
	M.policy_full = berth_prom_gauge(
		r, "berth_agent_policy_map_full",
		"1 while the NetworkPolicy maps are too small for the policy (the one enforced before stays); see --policy-map-entries.",
		NULL);
	M.policy_applied = berth_prom_gauge(
		r, "berth_agent_policy_last_applied_timestamp_seconds",
		"When the policy maps last took a newer NetworkPolicy resourceVersion (Unix time; the agent log names the version).",
		NULL);
	M.restarts = berth_prom_counter(
		r, "berth_agent_container_restarts_total",
		"Containers started again after they had run.", NULL);
	berth_prom_collector(r, collect, NULL);
	if (berth_prom_process_metrics(r))
		pr_warn("metrics: no process metrics");
	M.reg = r;
}

static bool ready(void)
{
	pthread_once(&once, init);
	return M.reg != NULL;
}

void berth_agent_metrics_set_node(const char *node)
{
	pthread_mutex_lock(&M.lock);
	snprintf(M.node, sizeof(M.node), "%s", node ? node : "");
	pthread_mutex_unlock(&M.lock);
}

void berth_agent_metrics_set_podmgr(struct berth_podmgr *pm)
{
	pthread_mutex_lock(&M.lock);
	M.pm = pm;
	pthread_mutex_unlock(&M.lock);
}

void berth_agent_metrics_sync(bool ok, double latency_s, unsigned long writes)
{
	const char *lv[] = { ok ? "success" : "error" };

	if (!ready())
		return;
	berth_prom_inc(berth_prom_child(M.syncs, lv));
	if (!ok)
		return;
	berth_prom_observe(berth_prom_child(M.sync_latency, NULL), latency_s);
	berth_prom_add(berth_prom_child(M.sync_writes, NULL), writes);
}

void berth_agent_metrics_probe(const char *probe_type, bool ok)
{
	const char *lv[] = { probe_type, ok ? "successful" : "failed" };

	if (ready())
		berth_prom_inc(berth_prom_child(M.probes, lv));
}

void berth_agent_metrics_policy_full(bool full)
{
	if (ready())
		berth_prom_set(berth_prom_child(M.policy_full, NULL), full);
}

void berth_agent_metrics_policy_applied(double t)
{
	if (ready())
		berth_prom_set(berth_prom_child(M.policy_applied, NULL), t);
}

void berth_agent_metrics_restart(void)
{
	if (ready())
		berth_prom_inc(berth_prom_child(M.restarts, NULL));
}

void berth_agent_health_set(const char *check, bool ok, const char *why)
{
	struct check *c = NULL;
	size_t i;

	pthread_mutex_lock(&M.lock);
	for (i = 0; i < M.nchecks; i++)
		if (!strcmp(M.checks[i].name, check))
			c = &M.checks[i];
	if (!c && M.nchecks < MAX_CHECKS) {
		c = &M.checks[M.nchecks++];
		snprintf(c->name, sizeof(c->name), "%s", check);
	}
	if (c) {
		if (c->ok != ok)
			pr_debug("readyz: %s %s%s%s", check,
				 ok ? "ok" : "failed", why && *why ? ": " : "",
				 why ? why : "");
		c->ok = ok;
		snprintf(c->why, sizeof(c->why), "%s", why ? why : "");
	}
	pthread_mutex_unlock(&M.lock);
}

/* ---- scrape time ---- */

/* Keys of a hash-like map, at most max_entries (+ slack for churn). */
static double count_keys(int fd, const struct bpf_map_info *info)
{
	char key[MAX_MAP_KEY], next[MAX_MAP_KEY];
	uint64_t n = 0, bound = (uint64_t)info->max_entries + 64;
	void *prev = NULL;

	while (n < bound && !bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, info->key_size);
		prev = key;
		n++;
	}
	return (double)n;
}

/* Maps whose entries can be counted by walking keys. */
static bool countable(const struct bpf_map_info *info)
{
	switch (info->type) {
	case BPF_MAP_TYPE_HASH:
	case BPF_MAP_TYPE_PERCPU_HASH:
	case BPF_MAP_TYPE_LRU_HASH:
	case BPF_MAP_TYPE_LRU_PERCPU_HASH:
	case BPF_MAP_TYPE_LPM_TRIE:
	case BPF_MAP_TYPE_HASH_OF_MAPS:
		return info->key_size <= MAX_MAP_KEY && info->max_entries;
	default: /* arrays are always full, ring buffers have no entries */
		return false;
	}
}

/* A pin may also be a program or link: only a map's fdinfo has map_type. */
static bool is_map(int fd)
{
	char path[64], line[128];
	bool map = false;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!map && fgets(line, sizeof(line), f))
		map = !strncmp(line, "map_type:", 9);
	fclose(f);
	return map;
}

static void collect_map(const char *dir, const char *name)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	const char *lv[] = { name };
	char path[600];
	double n;
	int fd;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return;
	if (is_map(fd) && !bpf_obj_get_info_by_fd(fd, &info, &len) &&
	    countable(&info)) {
		n = count_keys(fd, &info);
		berth_prom_set(berth_prom_child(M.map_entries, lv), n);
		berth_prom_set(berth_prom_child(M.map_max, lv),
			       info.max_entries);
		berth_prom_set(berth_prom_child(M.map_pressure, lv),
			       n / info.max_entries);
	}
	close(fd);
}

/* The metrics map: per-CPU {packets, bytes} summed over the CPUs. */
static void collect_drops(const char *dir)
{
	struct berth_metrics_key key, next, *prev = NULL;
	struct berth_metrics_val *vals;
	int ncpu = libbpf_num_possible_cpus(), fd, i, n = 0;
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, BERTH_MAP_METRICS);
	fd = bpf_obj_get(path);
	if (fd < 0 || ncpu <= 0)
		goto out;
	vals = calloc(ncpu, sizeof(*vals));
	/* {reason, dir} keys: a few hundred at most */
	while (vals && n++ < 4096 && !bpf_map_get_next_key(fd, prev, &next)) {
		uint64_t pkts = 0, bytes = 0;
		const char *lv[] = { berth_reason_str(next.reason),
				     berth_dir_str(next.dir) };
		const char *dv[] = { berth_dir_str(next.dir) };

		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, vals))
			continue;
		for (i = 0; i < ncpu; i++) {
			pkts += vals[i].packets;
			bytes += vals[i].bytes;
		}
		if (key.reason == BERTH_REASON_FORWARD) {
			berth_prom_set(berth_prom_child(M.fwd_pkts, dv), pkts);
			berth_prom_set(berth_prom_child(M.fwd_bytes, dv),
				       bytes);
		} else {
			berth_prom_set(berth_prom_child(M.drop_pkts, lv), pkts);
			berth_prom_set(berth_prom_child(M.drop_bytes, lv),
				       bytes);
		}
	}
	free(vals);
out:
	if (fd >= 0)
		close(fd);
}

/* events_lost: per-CPU counts of records a full ring buffer refused */
static void collect_lost(const char *dir)
{
	static const char *const names[] = {
		[BERTH_EVENT_DROP] = "drop", [BERTH_EVENT_TRACE] = "trace"
	};
	int ncpu = libbpf_num_possible_cpus(), fd;
	uint64_t *vals = NULL;
	char path[600];

	snprintf(path, sizeof(path), "%s/%s", dir, BERTH_MAP_EVENTS_LOST);
	fd = bpf_obj_get(path);
	if (fd < 0 || ncpu <= 0 || !(vals = calloc(ncpu, sizeof(*vals))))
		goto out;
	for (uint32_t t = BERTH_EVENT_DROP; t <= BERTH_EVENT_TRACE; t++) {
		const char *lv[] = { names[t] };
		uint64_t sum = 0;

		if (bpf_map_lookup_elem(fd, &t, vals))
			continue;
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
		berth_prom_set(berth_prom_child(M.events_lost, lv), sum);
	}
out:
	free(vals);
	if (fd >= 0)
		close(fd);
}

static void collect_maps(const char *node)
{
	struct dirent *e;
	char dir[300];
	DIR *d;

	if (!node[0] || berth_dp_pin_dir(dir, sizeof(dir), node))
		return;
	d = opendir(dir);
	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			collect_map(dir, e->d_name);
	closedir(d);
	collect_drops(dir);
	collect_lost(dir);
}

struct phase_count {
	const char *phase;
	double n;
};

static void count_phase(const char *phase, void *arg)
{
	struct phase_count *pc = arg;

	for (; pc->phase; pc++)
		if (!strcmp(pc->phase, phase))
			pc->n++;
}

static void collect(void *ctx)
{
	struct phase_count pc[] = { { "Pending" },   { "Running" },
				    { "Succeeded" }, { "Failed" },
				    { "Unknown" },   { NULL } };
	char node[sizeof(M.node)];
	struct berth_podmgr *pm;

	(void)ctx;
	pthread_mutex_lock(&M.lock);
	snprintf(node, sizeof(node), "%s", M.node);
	pm = M.pm;
	pthread_mutex_unlock(&M.lock);
	collect_maps(node);
	if (!pm)
		return;
	/* every phase, so a phase that emptied shows 0 */
	berth_podmgr_phases(pm, count_phase, pc);
	for (size_t i = 0; pc[i].phase; i++) {
		const char *lv[] = { pc[i].phase };

		berth_prom_set(berth_prom_child(M.pods, lv), pc[i].n);
	}
}

/* ---- HTTP ---- */

static int text(char **body, size_t *len, const char **ctype, int code,
		const char *s)
{
	*body = strdup(s);
	*len = *body ? strlen(s) : 0;
	*ctype = "text/plain; charset=utf-8";
	return *body ? code : 500;
}

/* /readyz: every declared check; /healthz and /livez: the process answers */
static int health(const char *ep, bool verbose, char **body, size_t *len,
		  const char **ctype)
{
	bool failed = false, all = !strcmp(ep, "readyz");
	char *out = NULL;
	size_t olen = 0, i;
	FILE *f = open_memstream(&out, &olen);

	if (!f)
		return text(body, len, ctype, 500, "out of memory");
	fprintf(f, "[+]ping ok\n");
	pthread_mutex_lock(&M.lock);
	/* the modules declare their checks as they start: none yet, not ready */
	if (all && !M.nchecks) {
		failed = true;
		fprintf(f, "[-]startup failed: still starting\n");
	}
	for (i = 0; all && i < M.nchecks; i++) {
		struct check *c = &M.checks[i];

		if (c->ok) {
			fprintf(f, "[+]%s ok\n", c->name);
			continue;
		}
		failed = true;
		fprintf(f, "[-]%s failed: %s\n", c->name,
			c->why[0] ? c->why : "not yet");
	}
	pthread_mutex_unlock(&M.lock);
	fprintf(f, "%s check %s\n", ep, failed ? "failed" : "passed");
	fclose(f);
	if (!out)
		return text(body, len, ctype, 500, "out of memory");
	if (!failed && !verbose) {
		free(out);
		return text(body, len, ctype, 200, "ok");
	}
	*body = out;
	*len = olen;
	*ctype = "text/plain; charset=utf-8";
	return failed ? 500 : 200;
}

int berth_agent_http(const char *url, bool verbose, char **body, size_t *len,
		     const char **ctype)
{
	int err;

	if (!strcmp(url, "/healthz") || !strcmp(url, "/livez") ||
	    !strcmp(url, "/readyz"))
		return health(url + 1, verbose, body, len, ctype);
	if (strcmp(url, "/metrics"))
		return 0;
	err = ready() ? berth_prom_render_buf(M.reg, body, len) : -ENOMEM;
	if (err)
		return text(body, len, ctype, 500, strerror(-err));
	*ctype = BERTH_PROM_CONTENT_TYPE;
	return 200;
}
