// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * connlat: TCP connection set-up latency (TCP_CRR-style) without an
 * interpreter in the way, for bench/dataplanes.py.
 *
 *   connlat client [--netns NS] HOST PORT [options]   N x (socket, connect,
 *       send 1 byte, read 1 byte, close), JSON percentiles on stdout
 *   connlat serve [--netns NS] PORT [--ready FILE]    accept/echo loop
 *
 * Both enter a network namespace by name (/run/netns/NS) or by path first,
 * so the bench needs no `ip netns exec` (one fork+exec less, nothing in the
 * timed loop). The server also answers the one-byte request '?' with the
 * number of echo connections it served per peer address (connlat stats),
 * so the bench can check that the connections it timed reached it.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 1000000 /* samples are kept in memory: 8 MB at most */
#define MAX_TIME_S 600 /* no run may take longer, whatever it is asked */
#define MAX_PEERS 64 /* distinct client addresses the server counts */
#define ECHO_BYTE 'x'
#define STATS_BYTE '?' /* the server answers with its counts, as text */

struct client_opts {
	struct sockaddr_in dst;
	long count; /* timed connections */
	long warmup; /* untimed ones first (neighbour entries, caches) */
	int timeout_ms; /* per step: connect, send, read */
	int time_limit_s; /* the whole run */
	unsigned int sport_base; /* 0: the kernel picks the source port */
	unsigned int sport_count;
	bool rst; /* close with RST (SO_LINGER 0): no TIME_WAIT left */
};

struct sample {
	uint64_t connect_ns; /* socket() to connect done */
	uint64_t echo_ns; /* the byte sent to its echo read */
	uint64_t close_ns; /* close() alone: sends the FIN */
	uint64_t crr_ns; /* socket() to close() returned */
};

struct client_result {
	struct sample *s;
	long n; /* successful, timed */
	long errors;
	long timeouts;
	char first_error[160];
};

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + ts.tv_nsec;
}

/* NS is a name under /run/netns or, with a '/', a path (/proc/PID/ns/net) */
static int enter_netns(const char *ns)
{
	char path[256];
	int fd, err = 0;

	if (strchr(ns, '/'))
		snprintf(path, sizeof(path), "%s", ns);
	else
		snprintf(path, sizeof(path), "/run/netns/%s", ns);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (setns(fd, CLONE_NEWNET))
		err = -errno;
	close(fd);
	return err;
}

/* Wait for EV on FD until DEADLINE (ns); -ETIMEDOUT past it */
static int wait_fd(int fd, short ev, uint64_t deadline)
{
	struct pollfd p = { .fd = fd, .events = ev };
	uint64_t t = now_ns();
	int r;

	if (t >= deadline)
		return -ETIMEDOUT;
	r = poll(&p, 1, (int)((deadline - t + 999999) / 1000000));
	if (r < 0)
		return -errno;
	return r ? 0 : -ETIMEDOUT;
}

static int bind_sport(int fd, unsigned int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int one = 1;

	/* our own earlier connection from this port may sit in TIME_WAIT */
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		return -errno;
	return bind(fd, (struct sockaddr *)&a, sizeof(a)) ? -errno : 0;
}

static int nb_connect(int fd, const struct sockaddr_in *dst, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;
	socklen_t len = sizeof(int);
	int err, soerr = 0;

	if (!connect(fd, (const struct sockaddr *)dst, sizeof(*dst)))
		return 0;
	if (errno != EINPROGRESS)
		return -errno;
	err = wait_fd(fd, POLLOUT, deadline);
	if (err)
		return err;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len))
		return -errno;
	return -soerr;
}

/* One byte there and back; the answer must be the byte sent */
static int exchange(int fd, char out, char *in, int timeout_ms)
{
	uint64_t deadline = now_ns() + (uint64_t)timeout_ms * 1000000;
	ssize_t r;
	int err;

	if (send(fd, &out, 1, MSG_NOSIGNAL) != 1)
		return errno ? -errno : -EIO;
	for (;;) {
		r = recv(fd, in, 1, 0);
		if (r == 1)
			return 0;
		if (r == 0)
			return -ECONNRESET; /* closed without an answer */
		if (errno != EAGAIN && errno != EINTR)
			return -errno;
		err = wait_fd(fd, POLLIN, deadline);
		if (err)
			return err;
	}
}

static void set_rst_close(int fd)
{
	struct linger l = { .l_onoff = 1, .l_linger = 0 };

	setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof(l));
}

/* One connection, timed; -errno with WHAT naming the step that failed */
static int one_conn(const struct client_opts *o, long i, struct sample *s,
		    const char **what)
{
	uint64_t t0 = now_ns(), t1, t2;
	char in = 0;
	int fd, err;

	*what = "socket";
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	err = 0;
	if (o->sport_base) {
		*what = "bind";
		err = bind_sport(fd, o->sport_base + i % o->sport_count);
	}
	if (!err) {
		*what = "connect";
		err = nb_connect(fd, &o->dst, o->timeout_ms);
	}
	t1 = now_ns();
	if (!err) {
		*what = "echo";
		err = exchange(fd, ECHO_BYTE, &in, o->timeout_ms);
		if (!err && in != ECHO_BYTE)
			err = -EPROTO;
	}
	t2 = now_ns();
	if (o->rst)
		set_rst_close(fd);
	close(fd);
	s->connect_ns = t1 - t0;
	s->echo_ns = t2 - t1;
	s->crr_ns = now_ns() - t0;
	s->close_ns = s->crr_ns - (t2 - t0);
	return err;
}

static void note_error(struct client_result *r, long i, const char *what,
		       int err)
{
	if (err == -ETIMEDOUT)
		r->timeouts++;
	r->errors++;
	if (!r->first_error[0])
		snprintf(r->first_error, sizeof(r->first_error),
			 "connection %ld: %s: %s", i, what, strerror(-err));
}

static int run_client(const struct client_opts *o, struct client_result *r)
{
	uint64_t end = now_ns() + (uint64_t)o->time_limit_s * 1000000000ull;
	struct sample s;
	const char *what;
	long i;
	int err;

	r->s = calloc(o->count, sizeof(*r->s));
	if (!r->s)
		return -ENOMEM;
	for (i = 0; i < o->warmup + o->count && now_ns() < end; i++) {
		err = one_conn(o, i, &s, &what);
		if (i < o->warmup)
			continue;
		if (err)
			note_error(r, i - o->warmup, what, err);
		else
			r->s[r->n++] = s;
	}
	return 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* Nearest-rank percentile of the sorted V[N], in microseconds */
static double pct_us(const uint64_t *v, long n, double q)
{
	long k = (long)(q * n + 0.999999);

	if (k < 1)
		k = 1;
	return v[(k > n ? n : k) - 1] / 1000.0;
}

static void print_stats(const char *name, uint64_t *v, long n)
{
	double sum = 0;
	long i;

	qsort(v, n, sizeof(*v), cmp_u64);
	for (i = 0; i < n; i++)
		sum += v[i];
	printf("\"%s\": {\"p50_us\": %.1f, \"p90_us\": %.1f, \"p99_us\": %.1f, "
	       "\"min_us\": %.1f, \"max_us\": %.1f, \"mean_us\": %.1f}",
	       name, pct_us(v, n, 0.5), pct_us(v, n, 0.9), pct_us(v, n, 0.99),
	       v[0] / 1000.0, v[n - 1] / 1000.0, sum / n / 1000.0);
}

static const struct {
	const char *name;
	size_t off;
} fields[] = {
	{ "crr", offsetof(struct sample, crr_ns) },
	{ "connect", offsetof(struct sample, connect_ns) },
	{ "echo", offsetof(struct sample, echo_ns) },
	{ "close", offsetof(struct sample, close_ns) },
};

static void print_result(const struct client_opts *o, struct client_result *r)
{
	uint64_t *v = malloc(sizeof(*v) * (r->n ? r->n : 1));
	size_t f;
	long i;

	printf("{\"target\": \"%s:%u\", \"asked\": %ld, \"warmup\": %ld, "
	       "\"count\": %ld, \"errors\": %ld, \"timeouts\": %ld",
	       inet_ntoa(o->dst.sin_addr), ntohs(o->dst.sin_port), o->count,
	       o->warmup, r->n, r->errors, r->timeouts);
	if (r->first_error[0])
		printf(", \"first_error\": \"%s\"", r->first_error);
	for (f = 0; v && r->n && f < sizeof(fields) / sizeof(fields[0]); f++) {
		for (i = 0; i < r->n; i++)
			v[i] = *(uint64_t *)((char *)&r->s[i] + fields[f].off);
		printf(", ");
		print_stats(fields[f].name, v, r->n);
	}
	printf("}\n");
	free(v);
}

static int parse_dst(const char *host, const char *port, struct sockaddr_in *a)
{
	char *end;
	long p = strtol(port, &end, 10);

	a->sin_family = AF_INET;
	if (*end || p < 1 || p > 65535)
		return -EINVAL;
	a->sin_port = htons(p);
	return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -EINVAL;
}

static long num_arg(const char *s, long lo, long hi, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || !*s || v < lo || v > hi) {
		fprintf(stderr,
			"connlat: %s: '%s' is not a number in %ld..%ld\n", what,
			s, lo, hi);
		exit(2);
	}
	return v;
}

static void usage(void)
{
	fprintf(stderr,
		"usage: connlat client [--netns NS] HOST PORT [-n COUNT] [--warmup W]\n"
		"                      [--timeout-ms MS] [--time-limit S]\n"
		"                      [--sport-base P --sport-count K] [--rst]\n"
		"       connlat serve [--netns NS] PORT [--ready FILE]\n"
		"       connlat stats [--netns NS] HOST PORT\n"
		"NS: a name under /run/netns or a path. Limits: COUNT <= %d, S <= %d.\n",
		MAX_CONNS, MAX_TIME_S);
	exit(2);
}

static const struct option client_longopts[] = {
	{ "netns", required_argument, NULL, 'N' },
	{ "count", required_argument, NULL, 'n' },
	{ "warmup", required_argument, NULL, 'w' },
	{ "timeout-ms", required_argument, NULL, 't' },
	{ "time-limit", required_argument, NULL, 'T' },
	{ "sport-base", required_argument, NULL, 'b' },
	{ "sport-count", required_argument, NULL, 'k' },
	{ "rst", no_argument, NULL, 'r' },
	{ "ready", required_argument, NULL, 'R' },
	{}
};

struct args {
	struct client_opts c;
	const char *netns;
	const char *ready;
};

static void parse_opts(int argc, char **argv, struct args *a)
{
	int opt;

	while ((opt = getopt_long(argc, argv, "n:", client_longopts, NULL)) !=
	       -1) {
		switch (opt) {
		case 'N':
			a->netns = optarg;
			break;
		case 'n':
			a->c.count = num_arg(optarg, 1, MAX_CONNS, "count");
			break;
		case 'w':
			a->c.warmup = num_arg(optarg, 0, MAX_CONNS, "warmup");
			break;
		case 't':
			a->c.timeout_ms =
				num_arg(optarg, 1, 60000, "timeout-ms");
			break;
		case 'T':
			a->c.time_limit_s =
				num_arg(optarg, 1, MAX_TIME_S, "time-limit");
			break;
		case 'b':
			a->c.sport_base =
				num_arg(optarg, 1024, 65535, "sport-base");
			break;
		case 'k':
			a->c.sport_count =
				num_arg(optarg, 1, 64512, "sport-count");
			break;
		case 'r':
			a->c.rst = true;
			break;
		case 'R':
			a->ready = optarg;
			break;
		default:
			usage();
		}
	}
	if (a->c.sport_base && a->c.sport_base + a->c.sport_count - 1 > 65535) {
		fprintf(stderr, "connlat: source ports %u+%u pass 65535\n",
			a->c.sport_base, a->c.sport_count);
		exit(2);
	}
}

static void enter_or_die(const char *ns)
{
	int err;

	if (!ns)
		return;
	err = enter_netns(ns);
	if (err) {
		fprintf(stderr, "connlat: enter netns %s: %s\n", ns,
			strerror(-err));
		exit(1);
	}
}

static int cmd_client(int argc, char **argv)
{
	struct args a = { .c = { .count = 1000,
				 .timeout_ms = 2000,
				 .time_limit_s = 60,
				 .sport_count = 1 } };
	struct client_result r = {};
	int err;

	parse_opts(argc, argv, &a);
	if (argc - optind != 2 ||
	    parse_dst(argv[optind], argv[optind + 1], &a.c.dst))
		usage();
	enter_or_die(a.netns);
	err = run_client(&a.c, &r);
	if (err) {
		fprintf(stderr, "connlat: %s\n", strerror(-err));
		return 1;
	}
	print_result(&a.c, &r);
	free(r.s);
	return r.n ? 0 : 1;
}

/* ---- server -------------------------------------------------------- */

struct peer_count {
	struct in_addr addr;
	unsigned long n;
};

struct server {
	int lfd;
	struct peer_count peers[MAX_PEERS];
	int npeers;
	unsigned long served; /* echo connections, stats requests not counted */
};

static void count_peer(struct server *s, struct in_addr a)
{
	int i;

	s->served++;
	for (i = 0; i < s->npeers; i++) {
		if (s->peers[i].addr.s_addr == a.s_addr) {
			s->peers[i].n++;
			return;
		}
	}
	if (s->npeers < MAX_PEERS)
		s->peers[s->npeers++] = (struct peer_count){ a, 1 };
}

/* The counts as JSON, for the '?' request */
static void send_stats(const struct server *s, int fd)
{
	char buf[4096];
	int len, i;

	len = snprintf(buf, sizeof(buf), "{\"served\": %lu, \"peers\": {",
		       s->served);
	for (i = 0; i < s->npeers && len < (int)sizeof(buf) - 64; i++)
		len += snprintf(buf + len, sizeof(buf) - len, "%s\"%s\": %lu",
				i ? ", " : "", inet_ntoa(s->peers[i].addr),
				s->peers[i].n);
	len += snprintf(buf + len, sizeof(buf) - len, "}}\n");
	if (send(fd, buf, len, MSG_NOSIGNAL) < 0)
		perror("connlat: send stats");
}

/*
 * One client at a time: the bench's client is sequential, and a single
 * thread keeps the server's own cost small and steady. A client that
 * sends nothing is dropped after 2 s so it cannot stall the loop.
 */
static void serve_one(struct server *s, int fd, struct in_addr peer)
{
	struct timeval tv = { .tv_sec = 2 };
	char c;

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (recv(fd, &c, 1, 0) != 1)
		return;
	if (c == STATS_BYTE) {
		send_stats(s, fd);
	} else {
		count_peer(s, peer);
		if (send(fd, &c, 1, MSG_NOSIGNAL) != 1)
			return;
	}
	/* wait for the client's close, so it is the side in TIME_WAIT */
	recv(fd, &c, 1, 0);
}

static int listen_on(int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET,
				 .sin_port = htons(port) };
	int fd, one = 1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 128)) {
		int err = -errno;

		close(fd);
		return err;
	}
	return fd;
}

static int write_ready(const char *path)
{
	char tmp[512];
	FILE *f;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	f = fopen(tmp, "w");
	if (!f)
		return -errno;
	fprintf(f, "%d\n", getpid());
	if (fclose(f))
		return -errno;
	return rename(tmp, path) ? -errno : 0;
}

static int cmd_serve(int argc, char **argv)
{
	struct args a = {};
	struct server s = {};
	struct sockaddr_in peer;
	socklen_t len;
	int fd;

	parse_opts(argc, argv, &a);
	if (argc - optind != 1)
		usage();
	enter_or_die(a.netns);
	s.lfd = listen_on(num_arg(argv[optind], 1, 65535, "port"));
	if (s.lfd < 0 || (a.ready && write_ready(a.ready))) {
		fprintf(stderr, "connlat: listen on %s: %s\n", argv[optind],
			strerror(s.lfd < 0 ? -s.lfd : errno));
		return 1;
	}
	signal(SIGPIPE, SIG_IGN);
	for (;;) {
		len = sizeof(peer);
		fd = accept4(s.lfd, (struct sockaddr *)&peer, &len,
			     SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			perror("connlat: accept");
			return 1;
		}
		serve_one(&s, fd, peer.sin_addr);
		close(fd);
	}
}

/* ---- stats: ask a server for its counts ---------------------------- */

static int cmd_stats(int argc, char **argv)
{
	struct args a = {};
	char buf[4096];
	ssize_t n, got = 0;
	int fd, err;

	parse_opts(argc, argv, &a);
	if (argc - optind != 2 ||
	    parse_dst(argv[optind], argv[optind + 1], &a.c.dst))
		usage();
	enter_or_die(a.netns);
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 1;
	err = nb_connect(fd, &a.c.dst, 2000);
	if (!err && send(fd, (char[]){ STATS_BYTE }, 1, MSG_NOSIGNAL) != 1)
		err = -errno;
	/* one line of JSON, then the server waits for our close */
	while (!err && got < (ssize_t)sizeof(buf) - 1) {
		n = recv(fd, buf + got, sizeof(buf) - 1 - got, 0);
		if (n > 0) {
			got += n;
			if (buf[got - 1] == '\n')
				break;
		} else if (n == 0) {
			err = -ECONNRESET;
		} else if (errno == EAGAIN) {
			err = wait_fd(fd, POLLIN, now_ns() + 2000000000ull);
		} else {
			err = -errno;
		}
	}
	close(fd);
	if (err) {
		fprintf(stderr, "connlat: stats from %s:%s: %s\n", argv[optind],
			argv[optind + 1], strerror(-err));
		return 1;
	}
	fwrite(buf, 1, got, stdout);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc < 2)
		usage();
	if (!strcmp(argv[1], "client"))
		return cmd_client(argc - 1, argv + 1);
	if (!strcmp(argv[1], "serve"))
		return cmd_serve(argc - 1, argv + 1);
	if (!strcmp(argv[1], "stats"))
		return cmd_stats(argc - 1, argv + 1);
	usage();
	return 2;
}
