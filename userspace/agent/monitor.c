// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Datapath events -> monitor.sock lines and Kubernetes Events: monitor.h. */
#define _GNU_SOURCE /* accept4 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <json-c/json.h>

#include <berth/abi/events.h>
#include <berth/abi/metrics.h>
#include <berth/kube.h>
#include <berth/log.h>
#include <berth/reason.h>

#include "monitor.h"

#define MAX_CLIENTS 16
#define POLL_MS 100
#define DEFAULT_EVENT_MS 5000
#define MAX_AGG 256 /* distinct drop pairs waiting for their Event */
#define EVENT_TIMEOUT_S 2
#define MAX_WRITES 10 /* Event writes per interval: the API server is shared */
#define LOST_CHECK_MS 1000 /* how often events_lost is read */
#define REQ_MAX 256 /* a client's request line; longer: ignored */

/* struct client.types */
#define WANT_DROP (1U << BERTH_EVENT_DROP)
#define WANT_TRACE (1U << BERTH_EVENT_TRACE)

/* A monitor.sock client: what it wants, and its request line so far. */
struct client {
	int fd;
	unsigned int types; /* WANT_* */
	bool asked; /* its request line came: no more reading */
	size_t len;
	char req[REQ_MAX];
};

/* One Kubernetes Event being aggregated: drops of one pair. */
struct agg {
	char ns[128], pod[128], uid[64]; /* the pod the Event is about */
	char msg[512]; /* also the key: who, to whom, proto, port, dir */
	char event_name[300]; /* created: the Event's name; "" not yet */
	unsigned long count, reported;
	time_t first, last;
	bool used;
};

struct berth_monitor {
	struct berth_monitor_opts opts;
	char node_name[254];
	char sock_path[PATH_MAX];
	int lfd;
	struct client clients[MAX_CLIENTS];
	size_t nclients;
	int trace_on; /* what events_cfg says: -1 unknown, 0, 1 */
	uint64_t lost[BERTH_EVENTS_LOST_KEYS]; /* events_lost at the last check */
	struct timespec next_lost;
	struct ring_buffer *rb;
	struct berth_kube *kube;
	struct agg aggs[MAX_AGG];
	struct timespec next_flush;
	pthread_t thread;
	volatile bool stop;
	bool started;
};

static const char *proto_name(uint8_t p, char *buf, size_t len)
{
	switch (p) {
	case IPPROTO_TCP:
		return "TCP";
	case IPPROTO_UDP:
		return "UDP";
	case IPPROTO_ICMP:
		return "ICMP";
	case IPPROTO_SCTP:
		return "SCTP";
	}
	snprintf(buf, len, "%u", p);
	return buf;
}

/* The record's time, a monotonic clock reading, as wall-clock text. */
static void event_time(uint64_t ts_ns, char *buf, size_t len)
{
	struct timespec mono, real;
	int64_t ns;
	time_t sec;
	struct tm tm;
	char s[32];

	clock_gettime(CLOCK_MONOTONIC, &mono);
	clock_gettime(CLOCK_REALTIME, &real);
	ns = (int64_t)real.tv_sec * 1000000000 + real.tv_nsec -
	     ((int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec -
	      (int64_t)ts_ns);
	sec = ns / 1000000000;
	gmtime_r(&sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%06ldZ", s, (long)(ns % 1000000000 / 1000));
}

static void pod_of(struct berth_monitor *m, uint32_t ip, char *name, size_t len,
		   char *uid, size_t uidlen)
{
	name[0] = '\0';
	if (uid)
		uid[0] = '\0';
	if (m->opts.pod_name &&
	    !m->opts.pod_name(m->opts.pod_ctx, ip, name, len, uid, uidlen))
		name[0] = '\0';
}

/* ---- monitor.sock ---- */

static int listen_sock(struct berth_monitor *m)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", m->sock_path) >=
	    (int)sizeof(sa.sun_path))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(m->sock_path);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    chmod(m->sock_path, 0600) || listen(fd, MAX_CLIENTS)) {
		int err = -errno;

		close(fd);
		return err;
	}
	m->lfd = fd;
	return 0;
}

static void accept_clients(struct berth_monitor *m)
{
	unsigned int types = WANT_DROP;
	int fd;

	if (m->opts.trace_always)
		types |= WANT_TRACE;
	while ((fd = accept4(m->lfd, NULL, NULL,
			     SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		if (m->nclients == MAX_CLIENTS) {
			close(fd);
			continue;
		}
		m->clients[m->nclients++] =
			(struct client){ .fd = fd, .types = types };
	}
}

static void drop_client(struct berth_monitor *m, size_t i)
{
	close(m->clients[i].fd);
	m->clients[i] = m->clients[--m->nclients];
}

/* {"types": ["drop", "trace"]}: what the client wants from now on. */
static void client_request(struct client *c)
{
	json_object *req = json_tokener_parse(c->req), *types;
	unsigned int want = 0;

	c->asked = true;
	if (!req || !json_object_object_get_ex(req, "types", &types) ||
	    !json_object_is_type(types, json_type_array)) {
		pr_debug(
			"monitor: a client's request is not {\"types\": [...]}");
		json_object_put(req);
		return;
	}
	for (size_t i = 0; i < json_object_array_length(types); i++) {
		const char *t = json_object_get_string(
			json_object_array_get_idx(types, i));

		if (t && !strcmp(t, "drop"))
			want |= WANT_DROP;
		else if (t && !strcmp(t, "trace"))
			want |= WANT_TRACE;
	}
	c->types = want;
	json_object_put(req);
}

/*
 * Read what a client sent: its request line, or its end (then it is
 * forgotten). false: it is gone.
 */
static bool read_client(struct client *c)
{
	char buf[REQ_MAX], *nl;
	ssize_t n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);

	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK &&
		       errno != EINTR))
		return false;
	if (n <= 0 || c->asked) /* later lines mean nothing */
		return true;
	if (c->len + n >= sizeof(c->req)) {
		c->asked = true; /* too long to be a request */
		return true;
	}
	memcpy(c->req + c->len, buf, n);
	c->len += n;
	c->req[c->len] = '\0';
	nl = strchr(c->req, '\n');
	if (nl) {
		*nl = '\0';
		client_request(c);
	}
	return true;
}

/* Requests and departures of the clients, without waiting. */
static void read_clients(struct berth_monitor *m)
{
	struct pollfd pfd[MAX_CLIENTS];

	for (size_t i = 0; i < m->nclients; i++)
		pfd[i] = (struct pollfd){ .fd = m->clients[i].fd,
					  .events = POLLIN };
	if (poll(pfd, m->nclients, 0) <= 0)
		return;
	/* backwards: drop_client moves the last client into slot i */
	for (size_t i = m->nclients; i-- > 0;)
		if (pfd[i].revents && !read_client(&m->clients[i]))
			drop_client(m, i);
}

/*
 * Trace records on while --trace-events or a client wants them; written
 * only when that changes (and once at start: an agent that died with it
 * on leaves it on).
 */
static void update_trace(struct berth_monitor *m)
{
	struct berth_events_cfg cfg = { 0 };
	uint32_t zero = 0;
	bool on = m->opts.trace_always;

	for (size_t i = 0; i < m->nclients && !on; i++)
		on = m->clients[i].types & WANT_TRACE;
	if (m->opts.events_cfg_fd < 0 || m->trace_on == (int)on)
		return;
	cfg.flags = on ? BERTH_EVENTS_F_TRACE : 0;
	if (bpf_map_update_elem(m->opts.events_cfg_fd, &zero, &cfg, BPF_ANY)) {
		pr_warn("monitor: trace %s: events_cfg: %s", on ? "on" : "off",
			strerror(errno));
		return;
	}
	pr_info("monitor: datapath trace events %s", on ? "on" : "off");
	m->trace_on = on;
}

/*
 * A line to every client that wants type (0: all). One that cannot take
 * it now loses the line (a slow reader must not stall the datapath's
 * consumer); a closed one is forgotten.
 */
static void broadcast(struct berth_monitor *m, unsigned int type,
		      const char *line, size_t len)
{
	accept_clients(m); /* a client that just connected gets it too */
	for (size_t i = 0; i < m->nclients;) {
		ssize_t n;

		if (type && !(m->clients[i].types & (1U << type))) {
			i++;
			continue;
		}
		n = send(m->clients[i].fd, line, len,
			 MSG_DONTWAIT | MSG_NOSIGNAL);
		if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
			drop_client(m, i);
			continue;
		}
		i++;
	}
}

/* ---- Kubernetes Events ---- */

static struct agg *agg_find(struct berth_monitor *m, const char *ns,
			    const char *pod, const char *msg)
{
	struct agg *free_slot = NULL, *oldest = NULL;

	for (int i = 0; i < MAX_AGG; i++) {
		struct agg *a = &m->aggs[i];

		if (!a->used) {
			free_slot = free_slot ? free_slot : a;
			continue;
		}
		if (!strcmp(a->msg, msg) && !strcmp(a->pod, pod) &&
		    !strcmp(a->ns, ns))
			return a;
		if (!oldest || a->last < oldest->last)
			oldest = a;
	}
	/* full: the pair quiet the longest gives its place */
	return free_slot ? free_slot : oldest;
}

/* A policy drop: counted toward the Event of the pod it concerns. */
static void agg_add(struct berth_monitor *m, const struct berth_event *ev,
		    const char *src_pod, const char *dst_pod, const char *uid,
		    const char *src, const char *dst, const char *proto)
{
	/* the destination if it is a pod, else the pod that sent it */
	bool on_dst = dst_pod[0] != '\0';
	const char *who = on_dst ? dst_pod : src_pod, *slash;
	char msg[512], ns[128];
	struct agg *a;

	slash = strchr(who, '/');
	if (!slash || (size_t)(slash - who) >= sizeof(ns))
		return;
	memcpy(ns, who, slash - who);
	ns[slash - who] = '\0';
	snprintf(
		msg, sizeof(msg),
		"%s %s%s%s%s -> %s%s%s%s port %u dropped by network policy (%s)",
		proto, src_pod[0] ? src_pod : src, src_pod[0] ? " (" : "",
		src_pod[0] ? src : "", src_pod[0] ? ")" : "",
		dst_pod[0] ? dst_pod : dst, dst_pod[0] ? " (" : "",
		dst_pod[0] ? dst : "", dst_pod[0] ? ")" : "", ntohs(ev->dport),
		ev->dir == BERTH_DIR_INGRESS ? "ingress" : "egress");
	a = agg_find(m, ns, slash + 1, msg);
	if (!a)
		return;
	if (!a->used || strcmp(a->msg, msg) || strcmp(a->pod, slash + 1) ||
	    strcmp(a->ns, ns)) {
		memset(a, 0, sizeof(*a));
		a->used = true;
		snprintf(a->ns, sizeof(a->ns), "%s", ns);
		snprintf(a->pod, sizeof(a->pod), "%s", slash + 1);
		snprintf(a->msg, sizeof(a->msg), "%s", msg);
		a->first = time(NULL);
	}
	/* the uid names the pod the Event is on: only the destination's */
	if (on_dst && uid[0])
		snprintf(a->uid, sizeof(a->uid), "%s", uid);
	a->count++;
	a->last = time(NULL);
}

static json_object *event_obj(const struct berth_monitor *m,
			      const struct agg *a)
{
	struct berth_kevent e = {
		.name = a->event_name,
		.ns = a->ns,
		.kind = "Pod",
		.obj_ns = a->ns,
		.obj_name = a->pod,
		.uid = a->uid,
		.reason = "PolicyDenied",
		.message = a->msg,
		.type = "Warning",
		.count = a->count,
		.first = a->first,
		.last = a->last,
		.component = "berth-agent",
		.host = m->node_name,
	};

	return berth_kube_event_json(&e);
}

/* Create the pair's Event, or bring its count and last time up to date. */
static int agg_report(struct berth_monitor *m, struct agg *a)
{
	char path[512];
	json_object *body;
	int st;

	if (!a->event_name[0]) {
		snprintf(a->event_name, sizeof(a->event_name), "%s.%lx%04x",
			 a->pod, (unsigned long)time(NULL),
			 (unsigned int)(rand() & 0xffff));
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events",
			 a->ns);
		body = event_obj(m, a);
		st = berth_kube_post(m->kube, path, body, NULL);
	} else {
		char last[32];

		berth_kube_time(last, a->last);
		snprintf(path, sizeof(path), "/api/v1/namespaces/%s/events/%s",
			 a->ns, a->event_name);
		body = json_object_new_object();
		json_object_object_add(body, "count",
				       json_object_new_int64(a->count));
		json_object_object_add(body, "lastTimestamp",
				       json_object_new_string(last));
		st = berth_kube_patch(m->kube, path, BERTH_KUBE_PATCH_MERGE,
				      body, NULL);
		if (st == 404) { /* deleted or expired: start over */
			a->event_name[0] = '\0';
			json_object_put(body);
			return agg_report(m, a);
		}
	}
	json_object_put(body);
	if (st < 200 || st >= 300) {
		pr_debug("monitor: event on %s/%s: %d", a->ns, a->pod, st);
		if (st == 409 || st < 0)
			a->event_name[0] = '\0';
		return -EIO;
	}
	a->reported = a->count;
	return 0;
}

static void flush_events(struct berth_monitor *m)
{
	int writes = 0;

	for (int i = 0; i < MAX_AGG && writes < MAX_WRITES; i++) {
		struct agg *a = &m->aggs[i];

		if (!a->used || a->count == a->reported)
			continue;
		agg_report(m, a);
		writes++;
	}
}

/* ---- the records ---- */

static int on_event(void *ctx, void *data, size_t len)
{
	struct berth_monitor *m = ctx;
	const struct berth_event *ev = data;
	char src[INET_ADDRSTRLEN], dst[INET_ADDRSTRLEN], t[48], pb[8];
	char src_pod[256], dst_pod[256], uid[64], line[1280];
	bool is_drop;
	const char *proto;
	int n;

	if (len < sizeof(*ev) ||
	    (ev->type != BERTH_EVENT_DROP && ev->type != BERTH_EVENT_TRACE))
		return 0;
	is_drop = ev->type == BERTH_EVENT_DROP;
	inet_ntop(AF_INET, &ev->saddr, src, sizeof(src));
	inet_ntop(AF_INET, &ev->daddr, dst, sizeof(dst));
	pod_of(m, ev->saddr, src_pod, sizeof(src_pod), NULL, 0);
	pod_of(m, ev->daddr, dst_pod, sizeof(dst_pod), uid, sizeof(uid));
	proto = proto_name(ev->proto, pb, sizeof(pb));
	event_time(ev->ts_ns, t, sizeof(t));
	n = snprintf(
		line, sizeof(line),
		"{\"time\":\"%s\",\"node\":\"%s\",\"type\":\"%s\",\"reason\":\"%s\",\"reason_code\":%u,\"proto\":\"%s\",\"src\":\"%s\",\"sport\":%u,\"dst\":\"%s\",\"dport\":%u,\"src_pod\":\"%s\",\"dst_pod\":\"%s\",\"ifindex\":%u,\"dir\":\"%s\",\"len\":%u}\n",
		t, m->node_name, is_drop ? "drop" : "trace",
		is_drop ? berth_reason_str(ev->reason) :
			  berth_trace_str(ev->reason),
		ev->reason, proto, src, ntohs(ev->sport), dst, ntohs(ev->dport),
		src_pod, dst_pod, ev->ifindex, berth_dir_str(ev->dir), ev->len);
	if (n > 0 && (size_t)n < sizeof(line))
		broadcast(m, ev->type, line, n);
	if (m->kube && is_drop && ev->reason == BERTH_DROP_POLICY &&
	    (src_pod[0] || dst_pod[0]))
		agg_add(m, ev, src_pod, dst_pod, uid, src, dst, proto);
	return 0;
}

/*
 * Records lost since the last check: a "lost" line per type that lost
 * some, if report (at start: what an earlier agent saw is not news).
 */
static void check_lost(struct berth_monitor *m, bool report)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *vals;
	char line[256], t[48];
	struct timespec now;

	if (m->opts.events_lost_fd < 0 || ncpu <= 0)
		return;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return;
	clock_gettime(CLOCK_MONOTONIC, &now);
	event_time((uint64_t)now.tv_sec * 1000000000 + now.tv_nsec, t,
		   sizeof(t));
	for (uint32_t type = BERTH_EVENT_DROP; type <= BERTH_EVENT_TRACE;
	     type++) {
		uint64_t sum = 0;
		int n;

		if (bpf_map_lookup_elem(m->opts.events_lost_fd, &type, vals))
			continue;
		for (int i = 0; i < ncpu; i++)
			sum += vals[i];
		if (sum <= m->lost[type] || !report) {
			m->lost[type] = sum;
			continue;
		}
		n = snprintf(
			line, sizeof(line),
			"{\"time\":\"%s\",\"node\":\"%s\",\"type\":\"lost\",\"lost_type\":\"%s\",\"count\":%llu}\n",
			t, m->node_name,
			type == BERTH_EVENT_DROP ? "drop" : "trace",
			(unsigned long long)(sum - m->lost[type]));
		m->lost[type] = sum;
		if (n > 0 && (size_t)n < sizeof(line))
			broadcast(m, 0, line, n);
	}
	free(vals);
}

static bool past(const struct timespec *t)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > t->tv_sec ||
	       (now.tv_sec == t->tv_sec && now.tv_nsec >= t->tv_nsec);
}

static void set_deadline(struct timespec *t, unsigned int ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += ms / 1000;
	t->tv_nsec += (long)(ms % 1000) * 1000000;
	if (t->tv_nsec >= 1000000000) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000;
	}
}

static void *monitor_thread(void *arg)
{
	struct berth_monitor *m = arg;
	unsigned int ms = m->opts.event_interval_ms ?: DEFAULT_EVENT_MS;

	while (!m->stop) {
		accept_clients(m);
		read_clients(m);
		update_trace(m);
		ring_buffer__poll(m->rb, POLL_MS);
		if (past(&m->next_lost)) {
			check_lost(m, true);
			set_deadline(&m->next_lost, LOST_CHECK_MS);
		}
		if (m->kube && past(&m->next_flush)) {
			flush_events(m);
			set_deadline(&m->next_flush, ms);
		}
	}
	return NULL;
}

int berth_monitor_start(const struct berth_monitor_opts *opts,
			struct berth_monitor **out)
{
	struct berth_monitor *m = calloc(1, sizeof(*m));
	sigset_t all, old;
	int err;

	if (!m)
		return -ENOMEM;
	m->opts = *opts;
	m->lfd = -1;
	m->trace_on = -1;
	snprintf(m->node_name, sizeof(m->node_name), "%s",
		 opts->node_name ? opts->node_name : "");
	m->opts.node_name = m->node_name;
	m->opts.root = NULL;
	m->opts.kubeconfig = NULL;
	snprintf(m->sock_path, sizeof(m->sock_path), "%s/monitor.sock",
		 opts->root);
	err = listen_sock(m);
	if (err) {
		pr_err("monitor: listen on %s: %s", m->sock_path,
		       strerror(-err));
		goto fail;
	}
	m->rb = ring_buffer__new(opts->events_fd, on_event, m, NULL);
	if (!m->rb) {
		err = -errno;
		pr_err("monitor: events ring buffer: %s", strerror(-err));
		goto fail;
	}
	check_lost(m, false);
	set_deadline(&m->next_lost, LOST_CHECK_MS);
	if (opts->kubeconfig && berth_kube_open(&m->kube, opts->kubeconfig))
		pr_warn("monitor: no Kubernetes Events (kubeconfig %s)",
			opts->kubeconfig);
	/* an API server that does not answer must not hold the records up */
	if (m->kube)
		berth_kube_set_timeout(m->kube, EVENT_TIMEOUT_S);
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&m->thread, NULL, monitor_thread, m);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("monitor: thread: %s", strerror(-err));
		goto fail;
	}
	m->started = true;
	*out = m;
	return 0;
fail:
	berth_monitor_stop(m);
	return err;
}

void berth_monitor_stop(struct berth_monitor *m)
{
	if (!m)
		return;
	/* what the last interval counted is not written: stopping must not
	 * wait on the API server */
	if (m->started) {
		m->stop = true;
		pthread_join(m->thread, NULL);
	}
	for (size_t i = 0; i < m->nclients; i++)
		close(m->clients[i].fd);
	m->nclients = 0;
	/* no reader any more: tracing would fill the ring buffer for nothing */
	if (m->trace_on == 1) {
		m->opts.trace_always = false;
		update_trace(m);
	}
	if (m->lfd >= 0) {
		close(m->lfd);
		unlink(m->sock_path);
	}
	ring_buffer__free(m->rb);
	berth_kube_free(m->kube);
	free(m);
}
