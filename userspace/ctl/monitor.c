// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berthctl monitor: the agent's drop and trace events, as `cilium monitor`
 * shows them. The agent serves them on <root>/monitor.sock, one JSON
 * object per line: time, node, type ("drop"|"trace"), reason, reason_code,
 * proto, src, sport, dst, dport, src_pod, dst_pod ("ns/name" or ""),
 * ifindex, dir, len; and "lost" lines (lost_type, count) when the
 * datapath's ring buffer was full. This side says which types it wants
 * (the agent turns the datapath's trace records on while a client wants
 * them: userspace/agent/monitor.h), then filters and prints.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "ctl.h"

#define DEFAULT_ROOT "/var/lib/berth" /* berth-agent's --root default */
#define MONITOR_SOCK "monitor.sock"
#define LINE_MAX_LEN (64 * 1024) /* longer lines are not events */
#define REASON_POLICY 11 /* BERTH_DROP_POLICY (abi/metrics.h) */

struct filter {
	const char *node, *pod, *reason, *type;
	bool json;
	long count; /* stop after this many shown, 0: never */
};

static void monitor_usage(FILE *f)
{
	fprintf(f,
		"usage: berthctl monitor [--root DIR | --socket PATH] [--node NAME]\n"
		"                        [--pod NS/NAME] [--reason R]\n"
		"                        [--type drop|trace|policy] [--count N] [-o json]\n"
		"  --root    the agent's --root (default " DEFAULT_ROOT
		"): its " MONITOR_SOCK "\n"
		"  --node    events of that node only (events that name their node)\n"
		"  --pod     events from or to the pod (NAME alone: any namespace)\n"
		"  --reason  the reason's name or trace point (case-insensitive),\n"
		"            or its code\n"
		"  --type    drop: drops of any reason; policy: NetworkPolicy drops;\n"
		"            trace: forwarded packets (the node traces while such a\n"
		"            client is connected); default: drops and traces\n");
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    json_object_is_type(v, json_type_null))
		return "";
	return json_object_get_string(v);
}

static bool pod_matches(const char *want, const char *pod)
{
	const char *slash;

	if (!*pod)
		return false;
	if (strchr(want, '/'))
		return !strcmp(want, pod);
	slash = strchr(pod, '/');
	return !strcmp(want, slash ? slash + 1 : pod);
}

static bool reason_matches(const char *want, json_object *ev)
{
	char *end;
	long code = strtol(want, &end, 10);

	if (*want && !*end)
		return code == strtol(jstr(ev, "reason_code"), NULL, 10);
	return !strcasecmp(want, jstr(ev, "reason"));
}

static bool type_matches(const char *want, json_object *ev)
{
	if (!strcmp(want, "policy"))
		return !strcmp(jstr(ev, "type"), "drop") &&
		       strtol(jstr(ev, "reason_code"), NULL, 10) ==
			       REASON_POLICY;
	return !strcasecmp(want, jstr(ev, "type"));
}

static bool wanted(const struct filter *f, json_object *ev)
{
	const char *node = jstr(ev, "node");

	/* the stream lost records: whatever was asked for may be among them */
	if (!strcmp(jstr(ev, "type"), "lost"))
		return !f->node || !*node || !strcmp(f->node, node);
	if (f->type && !type_matches(f->type, ev))
		return false;
	if (f->node && *node && strcmp(f->node, node))
		return false;
	if (f->pod && !pod_matches(f->pod, jstr(ev, "src_pod")) &&
	    !pod_matches(f->pod, jstr(ev, "dst_pod")))
		return false;
	return !f->reason || reason_matches(f->reason, ev);
}

/* "time" as the agent sends it: RFC 3339 text, or ns since the epoch */
static void ev_time(json_object *ev, char *buf, size_t len)
{
	json_object *t;

	if (json_object_object_get_ex(ev, "time", &t) &&
	    json_object_is_type(t, json_type_int)) {
		long long ns = json_object_get_int64(t);
		time_t s = ns / 1000000000LL;
		struct tm tm;
		char hms[16];

		gmtime_r(&s, &tm);
		strftime(hms, sizeof(hms), "%H:%M:%S", &tm);
		snprintf(buf, len, "%s.%06lld", hms, ns / 1000 % 1000000);
		return;
	}
	snprintf(buf, len, "%s", jstr(ev, "time"));
}

static void endpoint(char *buf, size_t len, const char *ip, const char *port,
		     const char *pod)
{
	if (*port && strcmp(port, "0"))
		snprintf(buf, len, "%s:%s", ip, port);
	else
		snprintf(buf, len, "%s", ip);
	if (*pod)
		snprintf(buf + strlen(buf), len - strlen(buf), " (%s)", pod);
}

static void print_event(json_object *ev)
{
	char t[64], src[160], dst[160];
	bool drop = !strcmp(jstr(ev, "type"), "drop");

	ev_time(ev, t, sizeof(t));
	if (!strcmp(jstr(ev, "type"), "lost")) {
		printf("%s !! lost %s %s events (the node's ring buffer was full)\n",
		       t, jstr(ev, "count"), jstr(ev, "lost_type"));
		return;
	}
	endpoint(src, sizeof(src), jstr(ev, "src"), jstr(ev, "sport"),
		 jstr(ev, "src_pod"));
	endpoint(dst, sizeof(dst), jstr(ev, "dst"), jstr(ev, "dport"),
		 jstr(ev, "dst_pod"));
	printf("%s %s%s%s%s %s %s -> %s ifindex %s %s", t,
	       drop ? "xx drop" : "-> trace", *jstr(ev, "reason") ? " (" : "",
	       jstr(ev, "reason"), *jstr(ev, "reason") ? ")" : "",
	       jstr(ev, "proto"), src, dst, jstr(ev, "ifindex"),
	       jstr(ev, "dir"));
	if (*jstr(ev, "len"))
		printf(" len %s", jstr(ev, "len"));
	putchar('\n');
}

/* one line of the stream; returns 1 when --count is reached */
static int handle_line(const struct filter *f, const char *line, long *shown)
{
	json_object *ev = json_tokener_parse(line);

	if (!ev || !json_object_is_type(ev, json_type_object)) {
		fprintf(stderr,
			"berthctl monitor: skipping a malformed event\n");
		json_object_put(ev);
		return 0;
	}
	if (wanted(f, ev)) {
		if (f->json)
			puts(json_object_to_json_string_ext(
				ev, JSON_C_TO_STRING_PLAIN |
					    JSON_C_TO_STRING_NOSLASHESCAPE));
		else
			print_event(ev);
		fflush(stdout);
		(*shown)++;
	}
	json_object_put(ev);
	return f->count && *shown >= f->count;
}

static int stream(int fd, const struct filter *f)
{
	char *buf = malloc(LINE_MAX_LEN + 1);
	size_t len = 0;
	long shown = 0;
	bool skipping = false; /* the rest of an over-long line */

	if (!buf)
		return ctl_err("out of memory");
	for (;;) {
		ssize_t n = read(fd, buf + len, LINE_MAX_LEN - len);
		char *start = buf, *nl;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		len += n;
		while ((nl = memchr(start, '\n', buf + len - start))) {
			*nl = 0;
			if (!skipping && nl > start &&
			    handle_line(f, start, &shown)) {
				free(buf);
				return CTL_OK;
			}
			skipping = false;
			start = nl + 1;
		}
		len -= start - buf;
		memmove(buf, start, len);
		if (len == LINE_MAX_LEN) {
			fprintf(stderr,
				"berthctl monitor: skipping a line over %d bytes\n",
				LINE_MAX_LEN);
			len = 0;
			skipping = true;
		}
	}
	free(buf);
	return CTL_OK;
}

static int connect_sock(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sa.sun_path)) {
		ctl_err("socket path too long: %s", path);
		return -1;
	}
	strcpy(sa.sun_path, path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		ctl_err("connect %s: %s (is berth-agent running with this --root?)",
			path, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
}

/*
 * Tell the agent which records to send: only a trace client costs
 * tracing. An agent that went away already shows as the stream's end.
 */
static void request(int fd, const char *type)
{
	const char *req = "{\"types\":[\"drop\",\"trace\"]}\n";

	if (type && strcmp(type, "trace"))
		req = "{\"types\":[\"drop\"]}\n";
	else if (type)
		req = "{\"types\":[\"trace\"]}\n";
	if (send(fd, req, strlen(req), MSG_NOSIGNAL) < 0)
		fprintf(stderr, "berthctl monitor: request not sent: %s\n",
			strerror(errno));
}

int cmd_monitor(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "root", required_argument, NULL, 'r' },
		{ "socket", required_argument, NULL, 's' },
		{ "node", required_argument, NULL, 'N' },
		{ "pod", required_argument, NULL, 'p' },
		{ "reason", required_argument, NULL, 'R' },
		{ "type", required_argument, NULL, 't' },
		{ "count", required_argument, NULL, 'c' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *root = DEFAULT_ROOT, *sock = NULL;
	struct filter f = { 0 };
	char path[4096], *end;
	int opt, fd, ret;

	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (opt) {
		case 'r':
			root = optarg;
			break;
		case 's':
			sock = optarg;
			break;
		case 'N':
			f.node = optarg;
			break;
		case 'p':
			f.pod = optarg;
			break;
		case 'R':
			f.reason = optarg;
			break;
		case 't':
			if (strcmp(optarg, "drop") && strcmp(optarg, "trace") &&
			    strcmp(optarg, "policy")) {
				fprintf(stderr,
					"error: --type: drop, trace or policy\n");
				return CTL_USAGE;
			}
			f.type = optarg;
			break;
		case 'c':
			f.count = strtol(optarg, &end, 10);
			if (!*optarg || *end || f.count < 1) {
				fprintf(stderr,
					"error: --count: a positive number\n");
				return CTL_USAGE;
			}
			break;
		case 'o':
			if (strcmp(optarg, "json")) {
				fprintf(stderr, "error: -o: only json\n");
				return CTL_USAGE;
			}
			f.json = true;
			break;
		case 'h':
			monitor_usage(stdout);
			return CTL_OK;
		default:
			monitor_usage(stderr);
			return CTL_USAGE;
		}
	}
	if (optind != argc) {
		monitor_usage(stderr);
		return CTL_USAGE;
	}
	if (!sock) {
		snprintf(path, sizeof(path), "%s/%s", root, MONITOR_SOCK);
		sock = path;
	}
	fd = connect_sock(sock);
	if (fd < 0)
		return CTL_ERR;
	request(fd, f.type);
	ret = stream(fd, &f);
	close(fd);
	return ret;
}
