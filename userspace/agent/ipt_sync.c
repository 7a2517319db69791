// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Applies ipt_render's text with iptables-nft-restore, keeps the jumps from
 * the built-in chains and flushes UDP conntrack of gone endpoints
 * (ipt_sync.h).
 */
#define _GNU_SOURCE /* pipe2 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <berth/abi/route.h>
#include <berth/log.h>

#include "ipt_sync.h"

#define IPT berth_ipt_bin(BERTH_IPT_TOOL_IPTABLES)
#define IPT_RESTORE berth_ipt_bin(BERTH_IPT_TOOL_RESTORE)
#define IPT_SAVE berth_ipt_bin(BERTH_IPT_TOOL_SAVE)
#define MAX_CHAINS 65536 /* of ours in the kernel: bounds a listing */

static enum berth_ipt_backend backend; /* set before any thread runs */

void berth_ipt_set_backend(enum berth_ipt_backend b)
{
	backend = b;
}

int berth_ipt_parse_backend(const char *s, enum berth_ipt_backend *out)
{
	if (!strcmp(s, "nft"))
		*out = BERTH_IPT_NFT;
	else if (!strcmp(s, "legacy"))
		*out = BERTH_IPT_LEGACY;
	else
		return -EINVAL;
	return 0;
}

const char *berth_ipt_bin(enum berth_ipt_tool t)
{
	static const char *const bins[2][3] = {
		{ "iptables-nft", "iptables-nft-restore", "iptables-nft-save" },
		{ "iptables-legacy", "iptables-legacy-restore",
		  "iptables-legacy-save" },
	};

	return bins[backend == BERTH_IPT_LEGACY][t];
}

/* A jump from a built-in chain into ours; the rule after the chain name. */
struct jump {
	const char *table, *chain;
	const char *rule[12]; /* NULL-terminated */
};

static const struct jump jumps[] = {
	{ "nat",
	  "PREROUTING",
	  { "-m", "comment", "--comment", "berth service portals", "-j",
	    "BERTH-SERVICES" } },
	{ "nat",
	  "OUTPUT",
	  { "-m", "comment", "--comment", "berth service portals", "-j",
	    "BERTH-SERVICES" } },
	{ "nat",
	  "POSTROUTING",
	  { "-m", "comment", "--comment", "berth postrouting rules", "-j",
	    "BERTH-POSTROUTING" } },
	{ "filter",
	  "INPUT",
	  { "-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment",
	    "berth externally-visible service portals", "-j",
	    "BERTH-EXTERNAL-SERVICES" } },
	{ "filter",
	  "FORWARD",
	  { "-m", "comment", "--comment", "berth forwarding rules", "-j",
	    "BERTH-FORWARD" } },
	{ "filter",
	  "FORWARD",
	  { "-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment",
	    "berth service portals", "-j", "BERTH-SERVICES" } },
	{ "filter",
	  "FORWARD",
	  { "-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment",
	    "berth externally-visible service portals", "-j",
	    "BERTH-EXTERNAL-SERVICES" } },
	{ "filter",
	  "OUTPUT",
	  { "-m", "conntrack", "--ctstate", "NEW", "-m", "comment", "--comment",
	    "berth service portals", "-j", "BERTH-SERVICES" } },
};

/* ipt_route's pod masquerade (berth_ipt_pod_masquerade) */
static const struct jump pod_masq_jump = { "nat",
					   "POSTROUTING",
					   { "-m", "comment", "--comment",
					     "berth pod masquerade", "-j",
					     "BERTH-POD-MASQ" } };

/* ipt_netpol's NetworkPolicy chain, first in FORWARD */
static const struct jump policy_jump = { "filter",
					 "FORWARD",
					 { "-m", "comment", "--comment",
					   "berth network policy", "-j",
					   "BERTH-POLICY" } };

/* A UDP frontend's endpoints, to see which ones left. */
struct udp_fe {
	uint32_t vip;
	uint16_t port;
	uint32_t *ips;
	size_t n;
};

struct berth_ipt_sync {
	struct berth_ipt_sync_opts opts;
	struct berth_ipt_render *r;
	bool full_wanted;
	struct timespec last_check; /* CLOCK_MONOTONIC; 0: never */
	struct udp_fe *udp; /* after the last good sync */
	size_t nudp;
	bool ct_missing_logged;
};

/* ---- running a tool ---- */

static long ms_since(const struct timespec *t0)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (t.tv_sec - t0->tv_sec) * 1000 +
	       (t.tv_nsec - t0->tv_nsec) / 1000000;
}

static int buf_add(char **b, size_t *len, const char *d, size_t n)
{
	char *nb = realloc(*b, *len + n + 1);

	if (!nb)
		return -ENOMEM;
	memcpy(nb + *len, d, n);
	*len += n;
	nb[*len] = '\0';
	*b = nb;
	return 0;
}

static pid_t spawn(const char *const *argv, int fds[3])
{
	int p[3][2] = { { -1, -1 }, { -1, -1 }, { -1, -1 } };
	pid_t pid;

	for (int i = 0; i < 3; i++)
		if (pipe2(p[i], O_CLOEXEC))
			goto fail;
	pid = fork();
	if (pid < 0)
		goto fail;
	if (!pid) {
		sigset_t none;

		/* the agent blocks signals for its signalfd: not the tool */
		sigemptyset(&none);
		sigprocmask(SIG_SETMASK, &none, NULL);
		dup2(p[0][0], 0);
		dup2(p[1][1], 1);
		dup2(p[2][1], 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	fds[0] = p[0][1];
	fds[1] = p[1][0];
	fds[2] = p[2][0];
	close(p[0][0]);
	close(p[1][1]);
	close(p[2][1]);
	return pid;
fail:
	for (int i = 0; i < 3; i++) {
		if (p[i][0] >= 0)
			close(p[i][0]);
		if (p[i][1] >= 0)
			close(p[i][1]);
	}
	return -errno;
}

/* Feed stdin, drain stdout/stderr until both close or time runs out. */
static int pump(int fds[3], const char *in, char **out, size_t *olen,
		char **errb, size_t *elen)
{
	size_t inlen = in ? strlen(in) : 0, off = 0;
	struct timespec t0;
	char buf[4096];
	int open_out = 2, err = 0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	fcntl(fds[0], F_SETFL, O_NONBLOCK);
	if (!inlen) {
		close(fds[0]);
		fds[0] = -1;
	}
	while (open_out) {
		struct pollfd pf[3] = {
			{ .fd = fds[0], .events = POLLOUT },
			{ .fd = fds[1], .events = POLLIN },
			{ .fd = fds[2], .events = POLLIN },
		};
		long left = BERTH_IPT_EXEC_TIMEOUT_MS - ms_since(&t0);

		if (left <= 0)
			return -ETIMEDOUT;
		if (poll(pf, 3, left) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (fds[0] >= 0 && (pf[0].revents & (POLLOUT | POLLERR))) {
			ssize_t n = write(fds[0], in + off, inlen - off);

			if (n > 0)
				off += n;
			if (n < 0 || off == inlen) {
				close(fds[0]);
				fds[0] = -1;
			}
		}
		for (int i = 1; i < 3; i++) {
			ssize_t n;

			if (fds[i] < 0 || !(pf[i].revents & (POLLIN | POLLHUP)))
				continue;
			n = read(fds[i], buf, sizeof(buf));
			if (n <= 0) {
				close(fds[i]);
				fds[i] = -1;
				open_out--;
				continue;
			}
			err = i == 1 ? buf_add(out, olen, buf, n) :
				       buf_add(errb, elen, buf, n);
			if (err)
				return err;
		}
	}
	return 0;
}

int berth_ipt_exec(const char *const *argv, const char *in, char **out,
		   char *err, size_t errlen)
{
	char *o = NULL, *e = NULL;
	size_t olen = 0, elen = 0;
	int fds[3], status = 0, ret;
	pid_t pid;

	if (errlen)
		err[0] = '\0';
	pid = spawn(argv, fds);
	if (pid < 0) {
		snprintf(err, errlen, "run %s: %s", argv[0], strerror(-pid));
		return pid;
	}
	ret = pump(fds, in, &o, &olen, &e, &elen);
	for (int i = 0; i < 3; i++)
		if (fds[i] >= 0)
			close(fds[i]);
	if (ret)
		kill(pid, SIGKILL);
	pid_t w;

	while ((w = waitpid(pid, &status, 0)) < 0 && errno == EINTR)
		;
	if (!ret && w < 0)
		ret = -errno; /* someone else reaped it: its result is lost */
	else if (!ret)
		ret = WIFEXITED(status) ? WEXITSTATUS(status) : -EINTR;
	if (ret == 127)
		ret = -ENOENT; /* exec failed */
	if (errlen && e)
		snprintf(err, errlen, "%.*s", (int)strcspn(e, "\n"), e);
	else if (ret < 0)
		snprintf(err, errlen, "%s: %s", argv[0], strerror(-ret));
	free(e);
	if (out)
		*out = o;
	else
		free(o);
	return ret;
}

/* ---- the kernel's view ---- */

/* BERTH- chain names declared in `iptables-save -t table`. */
static int kchain_cmp(const void *a, const void *b)
{
	return strcmp(((const struct berth_ipt_kchain *)a)->name,
		      ((const struct berth_ipt_kchain *)b)->name);
}

static struct berth_ipt_kchain *
kchain_find(struct berth_ipt_kchain *v, size_t n, const char *name, size_t len)
{
	struct berth_ipt_kchain key = { 0 };

	snprintf(key.name, sizeof(key.name), "%.*s", (int)len, name);
	return n ? bsearch(&key, v, n, sizeof(*v), kchain_cmp) : NULL;
}

/* The table's BERTH- chains with their rule counts, sorted by name
 * (`iptables-save -t table`: ":NAME ..." declares, "-A NAME ..." adds). */
int berth_ipt_list_chains(const char *table, struct berth_ipt_kchain **out,
			  size_t *n)
{
	const char *argv[] = { IPT_SAVE, "-t", table, NULL };
	char err[256], *text = NULL;
	struct berth_ipt_kchain *v = NULL, *k;
	size_t cnt = 0;
	int ret;

	ret = berth_ipt_exec(argv, NULL, &text, err, sizeof(err));
	if (ret) {
		pr_warn("%s -t %s: %s", IPT_SAVE, table, err);
		free(text);
		return ret < 0 ? ret : -EIO;
	}
	/* the declarations, sorted; then a pass counting the rules */
	for (char *l = text; l && *l && cnt < MAX_CHAINS;) {
		size_t len = strcspn(l, "\n");

		if (!strncmp(l, ":BERTH-", 7)) {
			k = realloc(v, (cnt + 1) * sizeof(*v));
			if (!k) {
				ret = -ENOMEM;
				break;
			}
			v = k;
			snprintf(v[cnt].name, sizeof(v[cnt].name), "%.*s",
				 (int)strcspn(l + 1, " \n"), l + 1);
			v[cnt++].rules = 0;
		}
		l += len + (l[len] == '\n');
	}
	if (cnt)
		qsort(v, cnt, sizeof(*v), kchain_cmp);
	for (char *l = text; !ret && l && *l;) {
		size_t len = strcspn(l, "\n");

		if (!strncmp(l, "-A BERTH-", 9)) {
			k = kchain_find(v, cnt, l + 3, strcspn(l + 3, " \n"));
			if (k)
				k->rules++;
		}
		l += len + (l[len] == '\n');
	}
	free(text);
	if (ret) {
		free(v);
		return ret;
	}
	*out = v;
	*n = cnt;
	return 0;
}

/* iptables -w -t T OP CHAIN rule... */
static int jump_op(const struct jump *j, const char *op, char *err,
		   size_t errlen)
{
	const char *argv[24] = { IPT, "-w", "-t", j->table, op, j->chain };
	int n = 6;

	for (int i = 0; j->rule[i]; i++)
		argv[n++] = j->rule[i];
	argv[n] = NULL;
	return berth_ipt_exec(argv, NULL, NULL, err, errlen);
}

/* The rule, appended unless -C finds it. */
static int ensure_rule(const struct jump *j)
{
	char err[256];
	int ret;

	if (!jump_op(j, "-C", err, sizeof(err)))
		return 0;
	ret = jump_op(j, "-A", err, sizeof(err));
	if (ret)
		pr_err("%s -t %s -A %s: %s", IPT, j->table, j->chain, err);
	return ret < 0 ? ret : ret ? -EIO : 0;
}

int berth_ipt_pod_masquerade(const char *cidr)
{
	const char *argv[] = { IPT, "-w", "-t", "nat", "-N", "BERTH-POD-MASQ",
			       NULL };
	const struct jump masq = { "nat",
				   "BERTH-POD-MASQ",
				   { "-s", cidr, "!", "-d", cidr, "!", "-o",
				     BERTH_TUNNEL_DEV, "-j", "MASQUERADE" } };
	char err[256];

	berth_ipt_exec(argv, NULL, NULL, err, sizeof(err)); /* may exist */
	return ensure_rule(&masq) ?: ensure_rule(&pod_masq_jump);
}

int berth_ipt_policy_jump(void)
{
	char err[256];
	int ret;

	if (!jump_op(&policy_jump, "-C", err, sizeof(err)))
		return 0;
	ret = jump_op(&policy_jump, "-I", err, sizeof(err));
	if (ret)
		pr_err("%s -I FORWARD -j BERTH-POLICY: %s", IPT, err);
	return ret < 0 ? ret : ret ? -EIO : 0;
}

/* The berth- ipsets (ipt_policy.h), for deleting what is no longer used. */
int berth_ipt_list_sets(char ***out, size_t *n)
{
	const char *argv[] = { "ipset", "list", "-n", NULL };
	char err[256], *text = NULL, **v = NULL;
	size_t cnt = 0;
	int ret = berth_ipt_exec(argv, NULL, &text, err, sizeof(err));

	if (ret) {
		free(text);
		return ret < 0 ? ret : -EIO;
	}
	/* no output at all (no sets) leaves text NULL */
	for (char *l = text; l && *l;) {
		size_t len = strcspn(l, "\n");
		char **nv;

		if (!strncmp(l, "berth-", 6)) {
			nv = realloc(v, (cnt + 1) * sizeof(*v));
			if (!nv || !(nv[cnt] = strndup(l, len))) {
				free(nv ? nv : v);
				free(text);
				return -ENOMEM;
			}
			v = nv;
			cnt++;
		}
		l += len + (l[len] == '\n');
	}
	free(text);
	*out = v;
	*n = cnt;
	return 0;
}

static int ensure_jumps(unsigned int *added)
{
	char err[256];
	int ret;

	for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++) {
		if (!jump_op(&jumps[i], "-C", err, sizeof(err)))
			continue;
		ret = jump_op(&jumps[i], "-I", err, sizeof(err));
		if (ret) {
			pr_err("%s -t %s -I %s (jump %zu): %s", IPT,
			       jumps[i].table, jumps[i].chain, i, err);
			return ret < 0 ? ret : -EIO;
		}
		(*added)++;
	}
	return 0;
}

/* ---- conntrack of gone UDP endpoints ---- */

static void udp_free(struct udp_fe *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].ips);
	free(v);
}

static int udp_snapshot(const struct berth_service_set *set,
			struct udp_fe **out, size_t *nout)
{
	struct udp_fe *v = calloc(set->n ? set->n : 1, sizeof(*v));
	size_t n = 0;

	if (!v)
		return -ENOMEM;
	for (size_t i = 0; i < set->n; i++) {
		const struct berth_service *s = &set->svcs[i];

		if (s->ports[0].proto != IPPROTO_UDP)
			continue;
		v[n].vip = s->cluster_ip;
		v[n].port = s->ports[0].port;
		v[n].ips = calloc(s->nendpoints ? s->nendpoints : 1,
				  sizeof(uint32_t));
		if (!v[n].ips) {
			udp_free(v, n);
			return -ENOMEM;
		}
		for (size_t k = 0; k < s->nendpoints; k++)
			if (!s->endpoints[k].terminating)
				v[n].ips[v[n].n++] = s->endpoints[k].ip;
		n++;
	}
	*out = v;
	*nout = n;
	return 0;
}

static const struct udp_fe *udp_find(const struct udp_fe *v, size_t n,
				     uint32_t vip, uint16_t port)
{
	for (size_t i = 0; i < n; i++)
		if (v[i].vip == vip && v[i].port == port)
			return &v[i];
	return NULL;
}

static bool has_ip(const struct udp_fe *v, size_t n, uint32_t vip,
		   uint16_t port, uint32_t ip)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].vip != vip || v[i].port != port)
			continue;
		for (size_t k = 0; k < v[i].n; k++)
			if (v[i].ips[k] == ip)
				return true;
	}
	return false;
}

static void ct_delete(struct berth_ipt_sync *s, uint32_t vip, uint16_t port,
		      uint32_t ip, unsigned int *count)
{
	char v[INET_ADDRSTRLEN], e[INET_ADDRSTRLEN], p[8], err[256];
	const char *argv[] = {
		"conntrack",	   "-D", "-p",		"udp", "--orig-dst", v,
		"--orig-port-dst", p,	 "--reply-src", e,     NULL
	};
	int ret;

	inet_ntop(AF_INET, &vip, v, sizeof(v));
	inet_ntop(AF_INET, &ip, e, sizeof(e));
	snprintf(p, sizeof(p), "%u", port);
	if (!ip)
		argv[8] = NULL; /* every flow to the frontend */
	ret = berth_ipt_exec(argv, NULL, NULL, err, sizeof(err));
	if (ret == -ENOENT && !s->ct_missing_logged) {
		pr_warn("conntrack tool not installed: UDP flows to removed endpoints stay until they time out");
		s->ct_missing_logged = true;
	}
	/* exit 1: no flow matched, the usual case */
	if (ret >= 0)
		(*count)++;
	pr_debug("conntrack -D udp %s:%s -> %s: %d %s", v, p, e, ret, err);
}

static void flush_udp(struct berth_ipt_sync *s,
		      const struct berth_service_set *set, unsigned int *count)
{
	struct udp_fe *now = NULL;
	size_t n = 0;

	if (udp_snapshot(set, &now, &n))
		return; /* next time: the old snapshot stays */
	for (size_t i = 0; i < s->nudp; i++)
		for (size_t k = 0; k < s->udp[i].n; k++)
			if (!has_ip(now, n, s->udp[i].vip, s->udp[i].port,
				    s->udp[i].ips[k]))
				ct_delete(s, s->udp[i].vip, s->udp[i].port,
					  s->udp[i].ips[k], count);
	/* a frontend that had no endpoint gets one: datagrams sent while it
	 * had none made conntrack entries without DNAT, which would keep
	 * the client's flow from ever being translated */
	for (size_t i = 0; i < n; i++) {
		const struct udp_fe *old =
			udp_find(s->udp, s->nudp, now[i].vip, now[i].port);

		if (old && !old->n && now[i].n)
			ct_delete(s, now[i].vip, now[i].port, 0, count);
	}
	udp_free(s->udp, s->nudp);
	s->udp = now;
	s->nudp = n;
}

/* ---- sync ---- */

/* What a sync writes: the chains that changed, those plus the ones the
 * kernel lost or holds otherwise (the periodic check), or every chain. */
enum sync_kind { SYNC_PARTIAL, SYNC_CHECK, SYNC_FULL };

static int restore_once(struct berth_ipt_sync *s,
			const struct berth_service_set *set,
			enum sync_kind kind, struct berth_ipt_sync_stats *st,
			char *err, size_t errlen)
{
	const struct berth_ipt_config cfg = { .node_ip = s->opts.node_ip };
	const char *argv[] = { IPT_RESTORE, "-w", "--noflush", NULL };
	struct berth_ipt_kchain *kernel = NULL;
	size_t nkernel = 0;
	char *text = NULL;
	int ret;

	if (kind != SYNC_PARTIAL &&
	    berth_ipt_list_chains("nat", &kernel, &nkernel))
		pr_warn("sync without the kernel's chain list: stale chains of an earlier run may stay");
	if (kind == SYNC_CHECK)
		st->repaired = berth_ipt_render_verify(s->r, kernel, nkernel);
	ret = berth_ipt_render(s->r, &cfg, set, kind == SYNC_FULL, kernel,
			       nkernel, &text, &st->render);
	free(kernel);
	if (ret) {
		snprintf(err, errlen, "render rules: %s", strerror(-ret));
		return ret;
	}
	st->restores++;
	ret = berth_ipt_exec(argv, text, NULL, err, errlen);
	if (ret > 0) {
		pr_debug("rejected rules:\n%s", text);
		ret = -EIO;
	}
	free(text);
	berth_ipt_render_done(s->r, !ret);
	return ret;
}

int berth_ipt_sync_apply(struct berth_ipt_sync *s,
			 const struct berth_service_set *set,
			 struct berth_ipt_sync_stats *st, char *err,
			 size_t errlen)
{
	enum sync_kind kind = s->full_wanted		     ? SYNC_FULL :
			      !berth_ipt_sync_full_due_ms(s) ? SYNC_CHECK :
							       SYNC_PARTIAL;
	int ret;

	memset(st, 0, sizeof(*st));
	ret = restore_once(s, set, kind, st, err, errlen);
	if (ret && kind != SYNC_FULL) {
		pr_warn("%s failed (%s): retrying as a full sync", IPT_RESTORE,
			err);
		kind = SYNC_FULL;
		ret = restore_once(s, set, kind, st, err, errlen);
	}
	st->full = kind == SYNC_FULL;
	st->checked = kind != SYNC_PARTIAL;
	if (ret)
		return ret;
	if (kind != SYNC_PARTIAL) {
		ret = ensure_jumps(&st->jumps_added);
		if (ret) {
			snprintf(err, errlen,
				 "jumps from the built-in chains: %s",
				 strerror(-ret));
			berth_ipt_render_done(s->r, false);
			return ret;
		}
		s->full_wanted = false;
		clock_gettime(CLOCK_MONOTONIC, &s->last_check);
	}
	flush_udp(s, set, &st->ct_flushed);
	return 0;
}

void berth_ipt_sync_request_full(struct berth_ipt_sync *s)
{
	s->full_wanted = true;
}

long berth_ipt_sync_full_due_ms(const struct berth_ipt_sync *s)
{
	long left;

	if (s->full_wanted || !s->last_check.tv_sec)
		return 0;
	left = (long)s->opts.full_sync_s * 1000 - ms_since(&s->last_check);
	return left > 0 ? left : 0;
}

int berth_ipt_sync_new(const struct berth_ipt_sync_opts *opts,
		       struct berth_ipt_sync **out)
{
	const char *argv[] = { IPT_RESTORE, "--version", NULL };
	struct berth_ipt_sync *s;
	char err[256];
	int ret;

	ret = berth_ipt_exec(argv, NULL, NULL, err, sizeof(err));
	if (ret) {
		pr_err("%s: %s", IPT_RESTORE,
		       ret == -ENOENT ? "not installed (Debian: iptables)" :
					err);
		return ret < 0 ? ret : -EIO;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->opts = *opts;
	if (!s->opts.full_sync_s)
		s->opts.full_sync_s = BERTH_IPT_FULL_SYNC_S;
	s->full_wanted = true;
	ret = berth_ipt_render_new(&s->r);
	if (ret) {
		free(s);
		return ret;
	}
	*out = s;
	return 0;
}

void berth_ipt_sync_free(struct berth_ipt_sync *s)
{
	if (!s)
		return;
	berth_ipt_render_free(s->r);
	udp_free(s->udp, s->nudp);
	free(s);
}

/* Flush and delete every BERTH- chain of a table in one restore. */
static int remove_chains(const char *table)
{
	const char *argv[] = { IPT_RESTORE, "-w", "--noflush", NULL };
	struct berth_ipt_kchain *names = NULL;
	char *text = NULL, err[256];
	size_t n = 0, len = 0;
	FILE *f;
	int ret;

	ret = berth_ipt_list_chains(table, &names, &n);
	if (ret || !n) {
		free(names);
		return ret;
	}
	f = open_memstream(&text, &len);
	if (!f) {
		free(names);
		return -ENOMEM;
	}
	fprintf(f, "*%s\n", table);
	for (size_t i = 0; i < n; i++)
		fprintf(f, ":%s - [0:0]\n", names[i].name);
	for (size_t i = 0; i < n; i++)
		fprintf(f, "-X %s\n", names[i].name);
	fprintf(f, "COMMIT\n");
	fclose(f);
	ret = berth_ipt_exec(argv, text, NULL, err, sizeof(err));
	if (ret)
		pr_err("remove %s chains: %s", table, err);
	free(text);
	free(names);
	return ret < 0 ? ret : ret ? -EIO : 0;
}

static int uninstall_backend(void)
{
	char err[256];
	int ret;

	for (size_t i = 0; i < sizeof(jumps) / sizeof(jumps[0]); i++)
		/* bounded: a rule inserted twice by hand goes too */
		for (int k = 0;
		     k < 16 && !jump_op(&jumps[i], "-C", err, sizeof(err)); k++)
			jump_op(&jumps[i], "-D", err, sizeof(err));
	for (int k = 0;
	     k < 16 && !jump_op(&pod_masq_jump, "-C", err, sizeof(err)); k++)
		jump_op(&pod_masq_jump, "-D", err, sizeof(err));
	for (int k = 0;
	     k < 16 && !jump_op(&policy_jump, "-C", err, sizeof(err)); k++)
		jump_op(&policy_jump, "-D", err, sizeof(err));
	ret = remove_chains("nat");
	return remove_chains("filter") ?: ret;
}

int berth_ipt_uninstall(void)
{
	enum berth_ipt_backend was = backend;
	int err;

	char **sets = NULL, e[256];
	size_t n = 0;

	backend = BERTH_IPT_NFT;
	err = uninstall_backend();
	backend = BERTH_IPT_LEGACY;
	err = uninstall_backend() ?: err;
	backend = was;
	/* the sets, once no rule names them */
	if (!berth_ipt_list_sets(&sets, &n)) {
		for (size_t i = 0; i < n; i++) {
			const char *argv[] = { "ipset", "destroy", sets[i],
					       NULL };

			berth_ipt_exec(argv, NULL, NULL, e, sizeof(e));
			free(sets[i]);
		}
		free(sets);
	}
	return err;
}
