// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pod logs in the CRI format ("<RFC3339Nano> stdout|stderr F|P <text>"),
 * rotated by size, the reader behind kubectl logs, and the shim that holds a
 * container's stdio and records its exit while the agent comes and goes.
 */
#define _GNU_SOURCE
/* paths are bounded by PATH_MAX where made; a cut one fails to open */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <berth/log.h>

#include "runtime_int.h"

#define SHIM_DRAIN_MS 2000 /* after the container's init exits, wait this for EOF */

struct berth_log_writer {
	char *path;
	int fd;
	uint64_t size, max_size;
	unsigned int max_files;
	char *pend[3]; /* per stream: a line not yet ended */
	size_t npend[3];
};

int berth_log_path(struct berth_runtime *rt, const char *ns, const char *pod_name,
		   const char *uid, const char *container, unsigned int attempt, char *buf,
		   size_t len)
{
	int n = snprintf(buf, len, "%s/%s_%s_%s/%s/%u.log", rt->log_dir, ns, pod_name, uid,
			 container, attempt);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int writer_reopen(struct berth_log_writer *w)
{
	struct stat st;

	w->fd = open(w->path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
	if (w->fd < 0)
		return -errno;
	w->size = fstat(w->fd, &st) ? 0 : st.st_size;
	return 0;
}

int berth_log_writer_open(const char *path, uint64_t max_size, unsigned int max_files,
			  struct berth_log_writer **out)
{
	struct berth_log_writer *w = calloc(1, sizeof(*w));
	char *dir;
	int ret;

	if (!w)
		return -ENOMEM;
	w->path = strdup(path);
	w->max_size = max_size ? max_size : 10 << 20;
	w->max_files = max_files ? max_files : 5;
	dir = strdup(path);
	if (!w->path || !dir) {
		free(dir);
		berth_log_writer_close(w);
		return -ENOMEM;
	}
	*strrchr(dir, '/') = 0;
	berth_mkdir_p(dir, 0755);
	free(dir);
	ret = writer_reopen(w);
	if (ret) {
		berth_log_writer_close(w);
		return ret;
	}
	*out = w;
	return 0;
}

static void writer_rotate(struct berth_log_writer *w)
{
	char from[PATH_MAX], to[PATH_MAX];

	close(w->fd);
	for (unsigned int k = w->max_files; k >= 1; k--) {
		snprintf(to, sizeof(to), "%s.%u", w->path, k);
		if (k == 1)
			snprintf(from, sizeof(from), "%s", w->path);
		else
			snprintf(from, sizeof(from), "%s.%u", w->path, k - 1);
		rename(from, to);
	}
	if (writer_reopen(w))
		w->fd = -1;
}

static void fmt_time(char *buf, size_t len, const struct timespec *ts)
{
	struct tm tm;
	char s[32];

	gmtime_r(&ts->tv_sec, &tm);
	strftime(s, sizeof(s), "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(buf, len, "%s.%09ldZ", s, ts->tv_nsec);
}

static int emit(struct berth_log_writer *w, int stream, char tag, const char *a, size_t na,
		const char *b, size_t nb)
{
	struct timespec now;
	char head[80];
	size_t hn, n;
	char *rec;
	ssize_t r;

	clock_gettime(CLOCK_REALTIME, &now);
	fmt_time(head, sizeof(head), &now);
	hn = strlen(head);
	hn += snprintf(head + hn, sizeof(head) - hn, " %s %c ",
		       stream == BERTH_LOG_STDERR ? "stderr" : "stdout", tag);
	n = hn + na + nb + 1;
	rec = malloc(n);
	if (!rec)
		return -ENOMEM;
	memcpy(rec, head, hn);
	memcpy(rec + hn, a, na);
	memcpy(rec + hn + na, b, nb);
	rec[n - 1] = '\n';
	if (w->size && w->size + n > w->max_size)
		writer_rotate(w);
	if (w->fd < 0) {
		free(rec);
		return -EIO;
	}
	r = write(w->fd, rec, n); /* one write: records never interleave */
	free(rec);
	if (r < 0)
		return -errno;
	w->size += r;
	return 0;
}

int berth_log_writer_write(struct berth_log_writer *w, int stream, const char *buf, size_t n)
{
	int s = stream == BERTH_LOG_STDERR ? 2 : 1;
	int ret = 0;

	while (n) {
		const char *nl = memchr(buf, '\n', n);
		size_t take = nl ? (size_t)(nl - buf) : n;
		size_t room = BERTH_LOG_MAX_LINE - w->npend[s];

		if (take >= room) { /* a long line: a P record of max size */
			ret = emit(w, stream, 'P', w->pend[s], w->npend[s], buf, room);
			w->npend[s] = 0;
			buf += room;
			n -= room;
			if (ret)
				return ret;
			continue;
		}
		if (nl) {
			size_t np = w->npend[s];

			if (take && buf[take - 1] == '\r')
				take--; /* CRLF lines keep no CR */
			w->npend[s] = 0;
			ret = emit(w, stream, 'F', w->pend[s], np, buf, take);
			n -= nl + 1 - buf;
			buf = nl + 1;
			if (ret)
				return ret;
			continue;
		}
		if (!w->pend[s] && !(w->pend[s] = malloc(BERTH_LOG_MAX_LINE)))
			return -ENOMEM;
		memcpy(w->pend[s] + w->npend[s], buf, n);
		w->npend[s] += n;
		n = 0;
	}
	return 0;
}

int berth_log_writer_flush(struct berth_log_writer *w)
{
	int ret = 0;

	for (int s = 1; s <= 2; s++) {
		if (!w->npend[s])
			continue;
		/* an unended last line: written whole (kubelet writes it as F too) */
		ret = emit(w, s, 'F', w->pend[s], w->npend[s], "", 0);
		w->npend[s] = 0;
	}
	return ret;
}

void berth_log_writer_close(struct berth_log_writer *w)
{
	if (!w)
		return;
	if (w->fd >= 0)
		berth_log_writer_flush(w);
	if (w->fd > 0)
		close(w->fd);
	free(w->pend[1]);
	free(w->pend[2]);
	free(w->path);
	free(w);
}

/* ---- reader ---- */

struct line {
	char *text; /* with "\n"; with the timestamp prefix if asked */
	size_t n;
};

struct reader {
	const struct berth_log_read_opts *o;
	char *part[3]; /* P fragments waiting for their F */
	size_t npart[3];
	char ts[3][40];
	struct line *lines; /* tail: kept; else written at once */
	size_t nlines, cap;
	int (*out)(void *arg, const char *buf, size_t n);
	void *arg;
	int64_t written;
	bool keep; /* keep lines (for tail) instead of writing them */
};

static int64_t parse_ts(const char *s)
{
	struct tm tm = { 0 };
	char *end = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	int64_t ns = 0, mul = 100000000;

	if (!end)
		return 0;
	if (*end == '.')
		for (end++; *end >= '0' && *end <= '9'; end++, mul /= 10)
			ns += (*end - '0') * mul;
	return (int64_t)timegm(&tm) * 1000000000 + ns;
}

static int reader_line(struct reader *r, const char *ts, const char *text, size_t n)
{
	const struct berth_log_read_opts *o = r->o;
	size_t tn = o->timestamps ? strlen(ts) + 1 : 0;
	char *buf = malloc(tn + n + 1);
	int ret = 0;

	if (!buf)
		return -ENOMEM;
	if (tn) {
		memcpy(buf, ts, tn - 1);
		buf[tn - 1] = ' ';
	}
	memcpy(buf + tn, text, n);
	buf[tn + n] = '\n';
	if (o->since_ns && parse_ts(ts) < o->since_ns) {
		free(buf);
		return 0;
	}
	if (r->keep) {
		if (r->nlines == r->cap) {
			r->cap = r->cap ? r->cap * 2 : 256;
			r->lines = realloc(r->lines, r->cap * sizeof(*r->lines));
			if (!r->lines)
				abort();
		}
		r->lines[r->nlines++] = (struct line){ buf, tn + n + 1 };
		return 0;
	}
	size_t len = tn + n + 1;
	if (o->limit_bytes && r->written + (int64_t)len > o->limit_bytes)
		len = o->limit_bytes - r->written;
	if (len)
		ret = r->out(r->arg, buf, len);
	r->written += len;
	free(buf);
	if (!ret && o->limit_bytes && r->written >= o->limit_bytes)
		ret = 1;
	return ret;
}

/* one record "TS STREAM TAG TEXT" (no newline) */
static int reader_record(struct reader *r, const char *rec, size_t n)
{
	const char *p = rec, *end = rec + n, *sp1, *sp2, *sp3;
	int s;

	if (!(sp1 = memchr(p, ' ', n)) || !(sp2 = memchr(sp1 + 1, ' ', end - sp1 - 1)))
		return 0; /* not a record: skipped */
	sp3 = memchr(sp2 + 1, ' ', end - sp2 - 1);
	if (!sp3)
		sp3 = end;
	s = !strncmp(sp1 + 1, "stderr", 6) ? 2 : 1;
	char ts[40];
	snprintf(ts, sizeof(ts), "%.*s", (int)(sp1 - p), p);
	const char *text = sp3 < end ? sp3 + 1 : end;
	size_t tn = end - text;
	bool partial = sp2[1] == 'P';

	if (partial || r->npart[s]) {
		char *t = realloc(r->part[s], r->npart[s] + tn + 1);

		if (!t)
			return -ENOMEM;
		if (!r->npart[s])
			snprintf(r->ts[s], sizeof(r->ts[s]), "%s", ts);
		r->part[s] = t;
		memcpy(t + r->npart[s], text, tn);
		r->npart[s] += tn;
		if (partial)
			return 0;
		size_t total = r->npart[s];
		r->npart[s] = 0;
		return reader_line(r, r->ts[s], r->part[s], total);
	}
	return reader_line(r, ts, text, tn);
}

/* feed bytes from a file; *carry holds an incomplete record between calls */
static int reader_feed(struct reader *r, char **carry, size_t *ncarry, const char *buf, size_t n)
{
	int ret;

	while (n) {
		const char *nl = memchr(buf, '\n', n);

		if (!nl) {
			char *t = realloc(*carry, *ncarry + n);

			if (!t)
				return -ENOMEM;
			memcpy(t + *ncarry, buf, n);
			*carry = t;
			*ncarry += n;
			return 0;
		}
		size_t take = nl - buf;
		if (*ncarry) {
			char *t = realloc(*carry, *ncarry + take);

			if (!t)
				return -ENOMEM;
			memcpy(t + *ncarry, buf, take);
			*carry = t;
			ret = reader_record(r, t, *ncarry + take);
			*ncarry = 0;
		} else {
			ret = reader_record(r, buf, take);
		}
		if (ret)
			return ret;
		n -= take + 1;
		buf = nl + 1;
	}
	return 0;
}

static int reader_fd(struct reader *r, int fd, char **carry, size_t *ncarry)
{
	char buf[65536];
	ssize_t n;
	int ret;

	while ((n = read(fd, buf, sizeof(buf))) > 0)
		if ((ret = reader_feed(r, carry, ncarry, buf, n)))
			return ret;
	return n < 0 ? -errno : 0;
}

int berth_log_read(const char *path, const struct berth_log_read_opts *opts,
		   int (*out)(void *arg, const char *buf, size_t n), void *arg)
{
	struct reader r = { .o = opts, .out = out, .arg = arg };
	char rot[PATH_MAX], *carry = NULL;
	size_t ncarry = 0;
	unsigned int k, nrot = 0;
	struct stat st, st2;
	int fd, ret = 0;

	r.keep = opts->tail >= 0;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	/* tail reaches into rotated files, oldest first */
	if (r.keep) {
		for (nrot = 1;; nrot++) {
			snprintf(rot, sizeof(rot), "%s.%u", path, nrot);
			if (access(rot, R_OK))
				break;
		}
		for (k = nrot - 1; k >= 1 && !ret; k--) {
			int rfd;

			snprintf(rot, sizeof(rot), "%s.%u", path, k);
			if ((rfd = open(rot, O_RDONLY | O_CLOEXEC)) < 0)
				continue;
			ret = reader_fd(&r, rfd, &carry, &ncarry);
			close(rfd);
			ncarry = 0;
		}
	}
	if (!ret)
		ret = reader_fd(&r, fd, &carry, &ncarry);
	if (r.keep) {
		size_t from = r.nlines > (size_t)opts->tail ? r.nlines - opts->tail : 0;

		r.keep = false;
		for (size_t i = 0; i < r.nlines; i++) {
			if (!ret && i >= from) {
				size_t len = r.lines[i].n;

				if (opts->limit_bytes && r.written + (int64_t)len > opts->limit_bytes)
					len = opts->limit_bytes - r.written;
				if (len)
					ret = out(arg, r.lines[i].text, len);
				r.written += len;
				if (!ret && opts->limit_bytes && r.written >= opts->limit_bytes)
					ret = 1;
			}
			free(r.lines[i].text);
		}
		free(r.lines);
	}
	while (opts->follow && !ret) {
		ret = reader_fd(&r, fd, &carry, &ncarry);
		if (ret)
			break;
		/* rotated under us: finish the old file, go on with the new one */
		if (!stat(path, &st) && !fstat(fd, &st2) && st.st_ino != st2.st_ino) {
			int nfd = open(path, O_RDONLY | O_CLOEXEC);

			if (nfd >= 0) {
				ret = reader_fd(&r, fd, &carry, &ncarry);
				close(fd);
				fd = nfd;
				continue;
			}
		}
		if (opts->alive && !opts->alive(arg)) {
			ret = reader_fd(&r, fd, &carry, &ncarry); /* the last words */
			break;
		}
		usleep(200 * 1000);
	}
	close(fd);
	free(carry);
	free(r.part[1]);
	free(r.part[2]);
	return ret > 0 ? 0 : ret;
}

/* ---- shim ---- */

/* run argv with stdout/stderr to fds (or /dev/null), wait; errors collected */
static int shim_run(char *const argv[], int out, int errfd)
{
	sigset_t none;
	pid_t pid;
	int st;

	pid = fork();
	if (pid < 0)
		return -errno;
	if (pid == 0) {
		int nul = open("/dev/null", O_RDWR);

		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(nul, 0);
		dup2(out >= 0 ? out : nul, 1);
		dup2(errfd >= 0 ? errfd : nul, 2);
		execvp(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void shim_record(const char *bundle, const char *file, struct json_object *o)
{
	char path[PATH_MAX];
	const char *s = json_object_to_json_string(o);

	snprintf(path, sizeof(path), "%s/%s", bundle, file);
	rt_write_file(path, s, strlen(s), 0644);
	json_object_put(o);
}

/* the memory cgroup's OOM kill counter of the container */
static long oom_kills(const char *cgpath)
{
	char path[PATH_MAX], *s, *p;
	long n = 0;

	snprintf(path, sizeof(path), "/sys/fs/cgroup/memory%s/memory.oom_control", cgpath);
	if (!(s = rt_read_file(path, NULL)))
		return 0;
	if ((p = strstr(s, "oom_kill ")))
		n = strtol(p + 9, NULL, 10);
	free(s);
	return n;
}

/* read what is in fd now (non-blocking) into buf */
static void slurp(int fd, char *buf, size_t len)
{
	size_t n = strlen(buf);
	ssize_t r;

	fcntl(fd, F_SETFL, O_NONBLOCK);
	while (n + 1 < len && (r = read(fd, buf + n, len - n - 1)) > 0)
		n += r;
	buf[n] = 0;
	while (n && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = 0;
}

struct shim_args {
	const char *runc, *runc_root, *bundle, *id, *log, *cgroup, *overlay;
	uint64_t log_max;
	unsigned int log_files;
	int sync_fd;
};

static void shim_fail(struct shim_args *a, const char *msg)
{
	dprintf(a->sync_fd, "error %s\n", msg);
	close(a->sync_fd);
}

/*
 * The container's overlay rootfs, mounted in a mount namespace of the
 * shim's own: runc runs in it, the container's namespace is copied from
 * it, and the mount goes when the shim and the container have gone. The
 * node's mount table, which every runc start reads whole, stays without
 * it. "/" becomes a slave first, so the mount does not propagate back
 * (runc makes the container's tree rslave in any case).
 */
static int shim_mount_rootfs(struct shim_args *a, char *msg, size_t len)
{
	char target[PATH_MAX];

	snprintf(target, sizeof(target), "%s/rootfs", a->bundle);
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_SLAVE, NULL)) {
		snprintf(msg, len, "shim: own mount namespace: %s", strerror(errno));
		return -1;
	}
	if (mount("overlay", target, "overlay", 0, a->overlay)) {
		snprintf(msg, len, "mount overlay rootfs %s: %s", target, strerror(errno));
		return -1;
	}
	return 0;
}

static int shim_serve(struct shim_args *a)
{
	int outp[2], errp[2], sfd, ret;
	char pidfile[PATH_MAX], msg[2048] = "", *s;
	struct berth_log_writer *w = NULL;
	pid_t init = 0;
	int status = -1;
	sigset_t mask;

	sigemptyset(&mask);
	sigaddset(&mask, SIGCHLD);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	sfd = signalfd(-1, &mask, SFD_CLOEXEC | SFD_NONBLOCK);
	if (pipe2(outp, O_CLOEXEC) || pipe2(errp, O_CLOEXEC) || sfd < 0) {
		shim_fail(a, "shim: pipes");
		return 1;
	}
	ret = berth_log_writer_open(a->log, a->log_max, a->log_files, &w);
	if (ret) {
		snprintf(msg, sizeof(msg), "open log %s: %s", a->log, strerror(-ret));
		shim_fail(a, msg);
		return 1;
	}
	if (a->overlay && shim_mount_rootfs(a, msg, sizeof(msg))) {
		shim_fail(a, msg);
		berth_log_writer_close(w);
		return 1;
	}
	snprintf(pidfile, sizeof(pidfile), "%s/init.pid", a->bundle);
	char runclog[PATH_MAX];
	snprintf(runclog, sizeof(runclog), "%s/runc.log", a->bundle);
	/* runc run --detach: create and start in one runc process (a Go
	 * program's start-up is most of what a runc call costs); runc passes
	 * its stdio, the pipes, to the container */
	char *run[] = { (char *)a->runc, "--root", (char *)a->runc_root, "--log", runclog,
			"run", "--detach", "--bundle", (char *)a->bundle, "--pid-file", pidfile,
			(char *)a->id, NULL };
	ret = shim_run(run, outp[1], errp[1]);
	close(outp[1]);
	close(errp[1]);
	if (ret) {
		slurp(errp[0], msg, sizeof(msg));
		if (!*msg)
			snprintf(msg, sizeof(msg), "runc run exited %d", ret);
		char *del[] = { (char *)a->runc, "--root", (char *)a->runc_root, "delete",
				"-f", (char *)a->id, NULL };
		shim_run(del, -1, -1);
		shim_fail(a, msg);
		return 1;
	}
	if ((s = rt_read_file(pidfile, NULL))) {
		init = atoi(s);
		free(s);
	}
	struct json_object *rec = json_object_new_object();
	json_object_object_add(rec, "shimPid", json_object_new_int(getpid()));
	json_object_object_add(rec, "pid", json_object_new_int(init));
	json_object_object_add(rec, "startedAt", json_object_new_int64(now_ns()));
	shim_record(a->bundle, "shim.json", rec);
	dprintf(a->sync_fd, "ok %d\n", init);
	close(a->sync_fd);

	struct pollfd pf[3] = { { outp[0], POLLIN, 0 }, { errp[0], POLLIN, 0 }, { sfd, POLLIN, 0 } };
	int open_pipes = 2;
	int64_t deadline = 0;
	char buf[65536];
	while (open_pipes || status < 0) {
		int to = -1;

		if (status >= 0) {
			int64_t left = (deadline - now_ns()) / 1000000;

			if (left <= 0)
				break;
			to = left;
		}
		if (poll(pf, 3, to) < 0 && errno != EINTR)
			break;
		for (int i = 0; i < 2; i++) {
			if (!pf[i].revents)
				continue;
			ssize_t n = read(pf[i].fd, buf, sizeof(buf));

			if (n > 0) {
				berth_log_writer_write(w, i ? BERTH_LOG_STDERR : BERTH_LOG_STDOUT,
						       buf, n);
			} else if (n == 0 || (errno != EINTR && errno != EAGAIN)) {
				close(pf[i].fd);
				pf[i].fd = -1;
				open_pipes--;
			}
		}
		if (pf[2].revents) {
			struct signalfd_siginfo si;
			int st;
			pid_t p;

			while (read(sfd, &si, sizeof(si)) > 0)
				;
			while ((p = waitpid(-1, &st, WNOHANG)) > 0) {
				if (p == init) {
					status = st;
					deadline = now_ns() + SHIM_DRAIN_MS * 1000000LL;
				}
			}
			if (p < 0 && errno == ECHILD && status < 0) {
				status = 255 << 8; /* lost: report as an error exit */
				deadline = now_ns() + SHIM_DRAIN_MS * 1000000LL;
			}
		}
	}
	berth_log_writer_close(w);
	rec = json_object_new_object();
	int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	json_object_object_add(rec, "exitCode", json_object_new_int(code));
	json_object_object_add(rec, "signal",
			       json_object_new_int(WIFSIGNALED(status) ? WTERMSIG(status) : 0));
	json_object_object_add(rec, "oomKilled",
			       json_object_new_boolean(a->cgroup && oom_kills(a->cgroup) > 0));
	json_object_object_add(rec, "finishedAt", json_object_new_int64(now_ns()));
	shim_record(a->bundle, "exit.json", rec);
	return 0;
}

int berth_shim_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "runc", 1, 0, 'r' },	  { "runc-root", 1, 0, 'R' }, { "bundle", 1, 0, 'b' },
		{ "id", 1, 0, 'i' },	  { "log", 1, 0, 'l' },	      { "log-max-size", 1, 0, 's' },
		{ "log-max-files", 1, 0, 'n' }, { "cgroup", 1, 0, 'c' },
		{ "sync-fd", 1, 0, 'f' }, { "overlay", 1, 0, 'o' }, { 0 },
	};
	struct shim_args a = { .sync_fd = -1 };
	int c;
	pid_t pid;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': a.runc = optarg; break;
		case 'R': a.runc_root = optarg; break;
		case 'b': a.bundle = optarg; break;
		case 'i': a.id = optarg; break;
		case 'l': a.log = optarg; break;
		case 's': a.log_max = strtoull(optarg, NULL, 10); break;
		case 'n': a.log_files = strtoul(optarg, NULL, 10); break;
		case 'c': a.cgroup = optarg; break;
		case 'f': a.sync_fd = atoi(optarg); break;
		case 'o': a.overlay = optarg; break;
		default: return 2;
		}
	}
	if (!a.runc || !a.runc_root || !a.bundle || !a.id || !a.log || a.sync_fd < 0) {
		fprintf(stderr, "berth-agent shim: started by the runtime, not by hand\n");
		return 2;
	}
	/* detach: the intermediate exits so the runtime reaps it at once */
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid > 0)
		_exit(0);
	setsid();
	fcntl(a.sync_fd, F_SETFD, FD_CLOEXEC);
	prctl(PR_SET_CHILD_SUBREAPER, 1);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTERM, SIG_IGN); /* the container ends the shim, nothing else */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	char sl[PATH_MAX];
	snprintf(sl, sizeof(sl), "%s/shim.log", a.bundle);
	int lf = open(sl, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	int nul = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (nul >= 0)
		dup2(nul, 0);
	if (lf >= 0) {
		dup2(lf, 1);
		dup2(lf, 2);
	}
	return shim_serve(&a);
}
