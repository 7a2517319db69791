// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The runtime handle, pod sandboxes (namespaces bound under ROOT) and the
 * runc driver: bundles, the shim, state from its records, stop, exec.
 */
#define _GNU_SOURCE
/* paths are bounded by PATH_MAX where made; a cut one fails to open */
#pragma GCC diagnostic ignored "-Wformat-truncation"
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <berth/fsutil.h>
#include <berth/log.h>

#include "runtime_int.h"

#define STOP_KILL_WAIT_MS 10000 /* after SIGKILL, how long to wait for the exit */
#define SANDBOX_STACK (64 * 1024)
#define START_TIMEOUT_MS 60000 /* runc create + start under the shim */

static int remove_at(int dfd, const char *name, dev_t dev)
{
	struct stat st;
	int fd, ret = 0;
	DIR *d;
	struct dirent *de;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW))
		return errno == ENOENT ? 0 : -errno;
	if (!S_ISDIR(st.st_mode))
		return unlinkat(dfd, name, 0) && errno != ENOENT ? -errno : 0;
	if (st.st_dev != dev)
		return -EBUSY; /* a mount point: never delete through it */
	fd = openat(dfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0 || !(d = fdopendir(fd))) {
		if (fd >= 0)
			close(fd);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		int r = remove_at(dirfd(d), de->d_name, dev);

		if (r && !ret)
			ret = r;
	}
	closedir(d);
	if (!ret && unlinkat(dfd, name, AT_REMOVEDIR) && errno != ENOENT)
		ret = -errno;
	return ret;
}

int rt_remove_tree(const char *path)
{
	struct stat st;

	if (lstat(path, &st))
		return errno == ENOENT ? 0 : -errno;
	return remove_at(AT_FDCWD, path, st.st_dev);
}

/* ---- the handle ---- */

static char **strv_dup(const char *const *v)
{
	size_t n = 0;
	char **o;

	while (v && v[n])
		n++;
	o = calloc(n + 1, sizeof(*o));
	for (size_t i = 0; o && i < n; i++)
		o[i] = strdup(v[i]);
	return o;
}

void berth_strv_free(char **v)
{
	for (size_t i = 0; v && v[i]; i++)
		free(v[i]);
	free(v);
}

/*
 * name's path from PATH, once: the shim and every runc call would search
 * it again (a dozen failed execs per container with a long PATH). NULL:
 * not found, the exec reports it.
 */
static char *path_lookup(const char *name)
{
	const char *p = getenv("PATH");
	char buf[PATH_MAX];

	if (strchr(name, '/') || !p)
		return NULL;
	while (*p) {
		size_t n = strcspn(p, ":");

		if (n &&
		    snprintf(buf, sizeof(buf), "%.*s/%s", (int)n, p, name) <
			    (int)sizeof(buf) &&
		    !access(buf, X_OK))
			return strdup(buf);
		p += n + (p[n] == ':');
	}
	return NULL;
}

int berth_runtime_open(const struct berth_runtime_opts *opts, struct berth_runtime **out)
{
	struct berth_runtime *rt;
	char path[PATH_MAX];
	int ret;

	if (!opts || !opts->root || opts->root[0] != '/')
		return -EINVAL;
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		return -ENOMEM;
	rt->root = strdup(opts->root);
	rt->runc = path_lookup(opts->runc ? opts->runc : "runc");
	if (!rt->runc)
		rt->runc = strdup(opts->runc ? opts->runc : "runc");
	rt->log_dir = strdup(opts->log_dir ? opts->log_dir : "/var/log/pods");
	rt->cgroup_parent = strdup(opts->cgroup_parent ? opts->cgroup_parent : "/berth");
	rt->shim = strdup(opts->shim ? opts->shim : "/proc/self/exe");
	rt->log_max_size = opts->log_max_size ? opts->log_max_size : 10 << 20;
	rt->log_max_files = opts->log_max_files ? opts->log_max_files : 5;
	rt->dns_servers = strv_dup(opts->dns_servers);
	rt->dns_searches = strv_dup(opts->dns_searches);
	/* /proc/self/exe would be the agent at exec time: resolve it now */
	if (!strcmp(rt->shim, "/proc/self/exe")) {
		ssize_t n = readlink("/proc/self/exe", path, sizeof(path) - 1);

		if (n > 0) {
			char *slash;

			path[n] = 0;
			free(rt->shim);
			rt->shim = strdup(path);
			/* the lean shim next to the agent, if installed: it starts
			 * in a tenth of the time of the agent's binary (no curl,
			 * TLS, libbpf, ... to load) and takes a third of its memory */
			slash = strrchr(path, '/');
			if (slash && (size_t)(slash - path) + sizeof("/berth-shim") <= sizeof(path)) {
				strcpy(slash, "/berth-shim");
				if (!access(path, X_OK)) {
					free(rt->shim);
					rt->shim = strdup(path);
				}
			}
		}
	}
	for (const char *sub = "pods\0netns\0runc\0"; *sub; sub += strlen(sub) + 1) {
		snprintf(path, sizeof(path), "%s/%s", rt->root, sub);
		ret = berth_mkdir_p(path, 0711);
		if (ret) {
			pr_err("runtime: make %s: %s", path, strerror(-ret));
			berth_runtime_close(rt);
			return ret;
		}
	}
	*out = rt;
	return 0;
}

void berth_runtime_close(struct berth_runtime *rt)
{
	if (!rt)
		return;
	free(rt->root);
	free(rt->runc);
	free(rt->log_dir);
	free(rt->cgroup_parent);
	free(rt->shim);
	berth_strv_free(rt->dns_servers);
	berth_strv_free(rt->dns_searches);
	free(rt);
}

const char *berth_runtime_root(const struct berth_runtime *rt)
{
	return rt->root;
}

static bool valid_part(const char *s)
{
	if (!s || !*s || strlen(s) > 128)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '.'))
			return false;
	return true;
}

int rt_pod_dir(struct berth_runtime *rt, const char *uid, char *buf, size_t len)
{
	if (!valid_part(uid))
		return -EINVAL;
	return (size_t)snprintf(buf, len, "%s/pods/%s", rt->root, uid) >= len ? -ENAMETOOLONG
									      : 0;
}

int rt_cgroups_path(struct berth_runtime *rt, const char *uid, const char *id, char *buf,
		    size_t len)
{
	return (size_t)snprintf(buf, len, "%s/pod%s/%s", rt->cgroup_parent, uid, id) >= len
		       ? -ENAMETOOLONG
		       : 0;
}

int berth_container_id(const char *uid, const char *name, unsigned int attempt, char *buf,
		       size_t len)
{
	if (!valid_part(uid) || !valid_part(name))
		return -EINVAL;
	return (size_t)snprintf(buf, len, "%s_%s_%u", uid, name, attempt) >= len ? -ENAMETOOLONG
										 : 0;
}

int berth_container_dir(struct berth_runtime *rt, const char *uid, const char *name,
			unsigned int attempt, char *buf, size_t len)
{
	if (!valid_part(uid) || !valid_part(name))
		return -EINVAL;
	return (size_t)snprintf(buf, len, "%s/pods/%s/containers/%s/%u", rt->root, uid, name,
				attempt) >= len
		       ? -ENAMETOOLONG
		       : 0;
}

/* id "<uid>_<name>_<attempt>" → its bundle dir */
static int id_dir(struct berth_runtime *rt, const char *id, char *uid, char *name,
		  unsigned int *attempt, char *dir, size_t len)
{
	const char *a = strchr(id, '_'), *b = a ? strrchr(id, '_') : NULL;
	char u[64], n[256];

	if (!a || b == a || a - id >= (long)sizeof(u) || b - a - 1 >= (long)sizeof(n))
		return -EINVAL;
	snprintf(u, sizeof(u), "%.*s", (int)(a - id), id);
	snprintf(n, sizeof(n), "%.*s", (int)(b - a - 1), a + 1);
	if (uid)
		strcpy(uid, u);
	if (name)
		strcpy(name, n);
	if (attempt)
		*attempt = strtoul(b + 1, NULL, 10);
	return berth_container_dir(rt, u, n, strtoul(b + 1, NULL, 10), dir, len);
}

/* ---- running commands ---- */

/* run argv; out (may be NULL) gets stdout+stderr; killed after timeout_ms.
 * Returns the exit status (128+sig), or -errno / -ETIMEDOUT. */
int rt_spawn(pid_t *pid, char *const argv[], int in, int out, int errfd, int keep)
{
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	sigset_t none;
	int e;

	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&at);
	sigemptyset(&none);
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK);
	if (in >= 0)
		posix_spawn_file_actions_adddup2(&fa, in, 0);
	else
		posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	if (out >= 0)
		posix_spawn_file_actions_adddup2(&fa, out, 1);
	if (errfd >= 0)
		posix_spawn_file_actions_adddup2(&fa, errfd, 2);
	if (keep >= 0) /* the same fd: its close-on-exec flag is cleared */
		posix_spawn_file_actions_adddup2(&fa, keep, keep);
	e = posix_spawnp(pid, argv[0], &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	return -e;
}

static int run_cmd(char *const argv[], char *out, size_t outlen, unsigned int timeout_ms,
		   const char *kill_pidfile)
{
	int p[2], st, ret;
	size_t n = 0;
	pid_t pid;
	struct timespec t0, t;
	bool timed_out = false;

	if (pipe2(p, O_CLOEXEC))
		return -errno;
	ret = rt_spawn(&pid, argv, -1, p[1], p[1], -1);
	if (ret) {
		close(p[0]);
		close(p[1]);
		return ret;
	}
	close(p[1]);
	if (out && outlen)
		out[0] = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (;;) {
		struct pollfd pf = { p[0], POLLIN, 0 };
		int to = -1;

		if (timeout_ms) {
			clock_gettime(CLOCK_MONOTONIC, &t);
			long el = (t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000;

			to = el >= timeout_ms ? 0 : (int)(timeout_ms - el);
		}
		int r = poll(&pf, 1, to);
		if (r == 0) {
			timed_out = true;
			break;
		}
		if (r < 0 && errno == EINTR)
			continue;
		char buf[4096];
		ssize_t k = read(p[0], buf, sizeof(buf));
		if (k <= 0)
			break;
		if (out && n + 1 < outlen) {
			size_t c = (size_t)k < outlen - n - 1 ? (size_t)k : outlen - n - 1;

			memcpy(out + n, buf, c);
			n += c;
			out[n] = 0;
		}
	}
	if (timed_out) {
		char *s = kill_pidfile ? rt_read_file(kill_pidfile, NULL) : NULL;

		if (s && atoi(s) > 0)
			kill(atoi(s), SIGKILL);
		free(s);
		kill(pid, SIGKILL);
	}
	close(p[0]);
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -errno;
	if (timed_out)
		return -ETIMEDOUT;
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int runc(struct berth_runtime *rt, char *out, size_t outlen, const char *cmd,
		const char *id, const char *arg)
{
	char root[PATH_MAX];
	char *argv[8] = { rt->runc, "--root", root, (char *)cmd, NULL };
	int i = 4;

	snprintf(root, sizeof(root), "%s/runc", rt->root);
	if (arg && !strcmp(cmd, "delete"))
		argv[i++] = (char *)arg;
	argv[i++] = (char *)id;
	if (arg && strcmp(cmd, "delete"))
		argv[i++] = (char *)arg;
	argv[i] = NULL;
	return run_cmd(argv, out, outlen, 30000, NULL);
}

/* ---- sandbox ---- */

/* hostname, hosts and resolv.conf; only hosts names the IP (hosts_only:
 * the IP came, the others stay as they are: each write is a new inode) */
static int write_pod_files(struct berth_runtime *rt, struct json_object *pod,
			   const char *dir, const char *ip, bool hosts_only)
{
	const char *name = rt_path_str(pod, "metadata.name");
	const char *host = rt_path_str(pod, "spec.hostname");
	const char *sub = rt_path_str(pod, "spec.subdomain");
	const char *ns = rt_path_str(pod, "metadata.namespace");
	char path[PATH_MAX], *buf = NULL;
	int ret;

	if (!host)
		host = name;
	if (!host)
		host = "pod";
	snprintf(path, sizeof(path), "%s/hostname", dir);
	if (!hosts_only && asprintf(&buf, "%s\n", host) < 0)
		return -ENOMEM;
	ret = hosts_only ? 0 : rt_write_file(path, buf, strlen(buf), 0644);
	free(buf);
	buf = NULL;
	if (ret)
		return ret;
	char fq[512] = "";
	if (sub && *sub)
		snprintf(fq, sizeof(fq), "%s.%s.%s.svc.cluster.local ", host, sub, ns ? ns : "default");
	if (asprintf(&buf,
		     "# Kubernetes-managed hosts file (berth).\n127.0.0.1\tlocalhost\n"
		     "::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\n"
		     "fe00::1\tip6-allnodes\nfe00::2\tip6-allrouters\n%s%s%s\t%s%s\n",
		     ip ? ip : "", ip ? "" : "# no IP yet", "", fq, ip ? host : "") < 0)
		return -ENOMEM;
	snprintf(path, sizeof(path), "%s/hosts", dir);
	ret = rt_write_file(path, buf, strlen(buf), 0644);
	free(buf);
	if (ret || hosts_only)
		return ret;
	snprintf(path, sizeof(path), "%s/resolv.conf", dir);
	if (rt->dns_servers && rt->dns_servers[0]) {
		char rc[4096];
		size_t n = 0;

		if (rt->dns_searches && rt->dns_searches[0]) {
			n += snprintf(rc + n, sizeof(rc) - n, "search");
			for (char **s = rt->dns_searches; *s && n < sizeof(rc); s++)
				n += snprintf(rc + n, sizeof(rc) - n, " %s", *s);
			n += snprintf(rc + n, sizeof(rc) - n, "\n");
		}
		for (char **s = rt->dns_servers; *s && n < sizeof(rc); s++)
			n += snprintf(rc + n, sizeof(rc) - n, "nameserver %s\n", *s);
		n += snprintf(rc + n, sizeof(rc) - n, "options ndots:5\n");
		return rt_write_file(path, rc, strlen(rc), 0644);
	}
	size_t n;
	char *host_rc = rt_read_file("/etc/resolv.conf", &n);
	ret = rt_write_file(path, host_rc ? host_rc : "", host_rc ? n : 0, 0644);
	free(host_rc);
	return ret;
}

static bool is_mounted_ns(const char *path)
{
	struct stat st;

	/* a bound namespace file sits on nsfs, a different device */
	struct stat dst;
	char dir[PATH_MAX];

	snprintf(dir, sizeof(dir), "%s", path);
	char *sl = strrchr(dir, '/');
	if (!sl)
		return false;
	*sl = 0;
	return !stat(path, &st) && !stat(dir, &dst) && st.st_dev != dst.st_dev;
}

static int touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_CLOEXEC, 0444);

	if (fd < 0)
		return -errno;
	close(fd);
	return 0;
}

/* the child: new namespaces, bound onto the files, lo up; _exit status */
static int sandbox_child(const char *net, const char *ipc, const char *uts, const char *host)
{
	int flags = CLONE_NEWIPC | CLONE_NEWUTS | (net ? CLONE_NEWNET : 0);

	if (unshare(flags))
		return 1;
	if (sethostname(host, strlen(host)))
		return 2;
	if (net) {
		struct ifreq ifr = { 0 };
		int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

		strcpy(ifr.ifr_name, "lo");
		if (s >= 0 && !ioctl(s, SIOCGIFFLAGS, &ifr)) {
			ifr.ifr_flags |= IFF_UP;
			ioctl(s, SIOCSIFFLAGS, &ifr);
		}
		if (s >= 0)
			close(s);
		if (mount("/proc/self/ns/net", net, NULL, MS_BIND, NULL))
			return 3;
	}
	if (mount("/proc/self/ns/ipc", ipc, NULL, MS_BIND, NULL))
		return 4;
	if (mount("/proc/self/ns/uts", uts, NULL, MS_BIND, NULL))
		return 5;
	return 0;
}

struct sandbox_args {
	const char *net, *ipc, *uts, *host;
};

static int sandbox_clone_main(void *arg)
{
	struct sandbox_args *a = arg;

	return sandbox_child(a->net, a->ipc, a->uts, a->host);
}

int berth_sandbox_create(struct berth_runtime *rt, struct json_object *pod,
			 struct berth_sandbox *out, char *err, size_t errlen)
{
	const char *uid = rt_path_str(pod, "metadata.uid");
	const char *host = rt_path_str(pod, "spec.hostname");
	struct json_object *hn = rt_path(pod, "spec.hostNetwork");
	char dir[PATH_MAX], net[PATH_MAX], ipc[PATH_MAX], uts[PATH_MAX];
	bool host_net = hn && json_object_get_boolean(hn);
	int ret, st;
	pid_t pid;

	memset(out, 0, sizeof(*out));
	if (!uid || rt_pod_dir(rt, uid, dir, sizeof(dir)))
		return rt_err(err, errlen, -EINVAL, "sandbox: pod without a valid metadata.uid");
	if (!host)
		host = rt_path_str(pod, "metadata.name");
	if (!host)
		host = "pod";
	snprintf(out->uid, sizeof(out->uid), "%s", uid);
	out->host_network = host_net;
	snprintf(net, sizeof(net), "%s/netns/%s", rt->root, uid);
	snprintf(ipc, sizeof(ipc), "%s/ns/ipc", dir);
	snprintf(uts, sizeof(uts), "%s/ns/uts", dir);
	snprintf(out->netns_path, sizeof(out->netns_path), "%s", host_net ? "" : net);
	snprintf(net, sizeof(net), "%s/ns", dir);
	if ((ret = berth_mkdir_p(net, 0711)))
		return rt_err(err, errlen, ret, "sandbox: make %s: %s", net, strerror(-ret));
	snprintf(net, sizeof(net), "%s/netns/%s", rt->root, uid);
	/* identity for clean-up of pods deleted while the agent was down */
	struct json_object *id = json_object_new_object();
	json_object_object_add(id, "uid", json_object_new_string(uid));
	json_object_object_add(id, "name", json_object_new_string(rt_path_str(pod, "metadata.name") ?: ""));
	json_object_object_add(id, "namespace",
			       json_object_new_string(rt_path_str(pod, "metadata.namespace") ?: "default"));
	json_object_object_add(id, "hostNetwork", json_object_new_boolean(host_net));
	const char *s = json_object_to_json_string(id);
	char p[PATH_MAX];
	snprintf(p, sizeof(p), "%s/pod.json", dir);
	ret = rt_write_file(p, s, strlen(s), 0644);
	json_object_put(id);
	if (!ret)
		ret = write_pod_files(rt, pod, dir,
				      rt_path_str(pod, "status.podIP"), false);
	if (ret)
		return rt_err(err, errlen, ret, "sandbox: write pod files in %s: %s", dir,
			      strerror(-ret));
	if (is_mounted_ns(uts) && (host_net || is_mounted_ns(net)))
		return 0; /* there already (agent restart) */
	if ((!host_net && (ret = touch(net))) || (ret = touch(ipc)) || (ret = touch(uts)))
		return rt_err(err, errlen, ret, "sandbox: create namespace files: %s",
			      strerror(-ret));
	/* a vfork-like child sharing our memory (no copy of the agent's
	 * page tables); it makes the namespaces, pins them and exits */
	{
		struct sandbox_args a = { host_net ? NULL : net, ipc, uts, host };
		char *stack = malloc(SANDBOX_STACK);

		if (!stack)
			return rt_err(err, errlen, -ENOMEM, "sandbox: no memory");
		pid = clone(sandbox_clone_main, stack + SANDBOX_STACK,
			    CLONE_VM | CLONE_VFORK | SIGCHLD, &a);
		ret = -errno;
		free(stack);
		if (pid < 0)
			return rt_err(err, errlen, ret, "sandbox: clone: %s", strerror(-ret));
	}
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			break;
	if (!WIFEXITED(st) || WEXITSTATUS(st)) {
		berth_sandbox_destroy(rt, uid);
		return rt_err(err, errlen, -EPERM, "sandbox: namespaces for pod %s: step %d failed",
			      uid, WIFEXITED(st) ? WEXITSTATUS(st) : -1);
	}
	return 0;
}

int berth_sandbox_set_ip(struct berth_runtime *rt, struct json_object *pod, const char *ip)
{
	const char *uid = rt_path_str(pod, "metadata.uid");
	char dir[PATH_MAX];

	if (!uid || rt_pod_dir(rt, uid, dir, sizeof(dir)))
		return -EINVAL;
	return write_pod_files(rt, pod, dir, ip, true);
}

static void unbind(const char *path)
{
	if (umount2(path, MNT_DETACH) && errno != EINVAL && errno != ENOENT)
		pr_warn("sandbox: unmount %s: %s", path, strerror(errno));
	unlink(path);
}

int berth_sandbox_destroy(struct berth_runtime *rt, const char *uid)
{
	char dir[PATH_MAX], p[PATH_MAX];
	int ret;

	if (rt_pod_dir(rt, uid, dir, sizeof(dir)))
		return -EINVAL;
	snprintf(p, sizeof(p), "%s/netns/%s", rt->root, uid);
	unbind(p);
	snprintf(p, sizeof(p), "%s/ns/ipc", dir);
	unbind(p);
	snprintf(p, sizeof(p), "%s/ns/uts", dir);
	unbind(p);
	berth_volumes_teardown(rt, uid);
	ret = rt_remove_tree(dir);
	/*
	 * The pod's cgroup in every hierarchy mounted here (containers' own are
	 * removed by runc delete); on a unified (v2) mount the root is one.
	 */
	snprintf(p, sizeof(p), "/sys/fs/cgroup%s/pod%s", rt->cgroup_parent, uid);
	rmdir(p);
	DIR *cg = opendir("/sys/fs/cgroup");
	struct dirent *de;

	while (cg && (de = readdir(cg))) {
		if (de->d_name[0] == '.')
			continue;
		snprintf(p, sizeof(p), "/sys/fs/cgroup/%s%s/pod%s", de->d_name,
			 rt->cgroup_parent, uid);
		rmdir(p);
	}
	if (cg)
		closedir(cg);
	if (ret)
		pr_warn("sandbox: remove %s: %s", dir, strerror(-ret));
	return ret;
}

int berth_sandbox_list(struct berth_runtime *rt, char ***uids)
{
	char path[PATH_MAX];
	struct dirent *de;
	size_t n = 0;
	char **v = calloc(1, sizeof(*v));
	DIR *d;

	snprintf(path, sizeof(path), "%s/pods", rt->root);
	if (!v || !(d = opendir(path))) {
		free(v);
		return -errno;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char **t = realloc(v, (n + 2) * sizeof(*v));

		if (!t)
			break;
		v = t;
		v[n++] = strdup(de->d_name);
		v[n] = NULL;
	}
	closedir(d);
	*uids = v;
	return 0;
}

/* ---- containers ---- */

int berth_container_create_start(struct berth_runtime *rt,
				 const struct berth_container_spec *spec, char *id, char *err,
				 size_t errlen)
{
	const char *uid = rt_path_str(spec->pod, "metadata.uid");
	const char *name = rt_str(spec->container, "name");
	const char *ns = rt_path_str(spec->pod, "metadata.namespace");
	const char *pname = rt_path_str(spec->pod, "metadata.name");
	char bundle[PATH_MAX], path[PATH_MAX], logp[PATH_MAX], cg[PATH_MAX], root[PATH_MAX];
	struct json_object *cfg = NULL;
	int ret, sp[2], st;
	pid_t pid;

	if (!uid || !name)
		return rt_err(err, errlen, -EINVAL, "pod without uid or container without name");
	if ((ret = berth_container_id(uid, name, spec->attempt, id, BERTH_CONTAINER_ID_MAX)) ||
	    (ret = berth_container_dir(rt, uid, name, spec->attempt, bundle, sizeof(bundle))) ||
	    (ret = rt_cgroups_path(rt, uid, id, cg, sizeof(cg))) ||
	    (ret = berth_log_path(rt, ns ? ns : "default", pname ? pname : "", uid, name,
				  spec->attempt, logp, sizeof(logp))))
		return rt_err(err, errlen, ret, "container %s: bad name or path too long", name);
	if ((ret = berth_mkdir_p(bundle, 0711)))
		return rt_err(err, errlen, ret, "make bundle %s: %s", bundle, strerror(-ret));
	snprintf(path, sizeof(path), "%s/exit.json", bundle);
	if (!access(path, F_OK))
		return rt_err(err, errlen, -EEXIST, "container %s already ran (attempt %u)", id,
			      spec->attempt);
	ret = berth_oci_config(rt, spec, &cfg, err, errlen);
	if (ret)
		return ret;
	const char *s = json_object_to_json_string_ext(cfg, JSON_C_TO_STRING_PRETTY |
								    JSON_C_TO_STRING_NOSLASHESCAPE);
	snprintf(path, sizeof(path), "%s/config.json", bundle);
	ret = rt_write_file(path, s, strlen(s), 0600);
	json_object_put(cfg);
	if (ret)
		return rt_err(err, errlen, ret, "write %s: %s", path, strerror(-ret));
	snprintf(path, sizeof(path), "%s/termination-log", bundle);
	if ((ret = touch(path)) || chmod(path, 0666))
		return rt_err(err, errlen, ret ?: -errno, "create %s", path);
	snprintf(path, sizeof(path), "%s/log", bundle);
	unlink(path);
	if (symlink(logp, path))
		pr_warn("runtime: link %s: %s", path, strerror(errno));

	if (pipe2(sp, O_CLOEXEC))
		return rt_err(err, errlen, -errno, "pipe: %s", strerror(errno));
	snprintf(root, sizeof(root), "%s/runc", rt->root);
	{
		char fd[16], max[32], files[16];
		char *argv[] = { rt->shim, "shim", "--runc", rt->runc, "--runc-root", root,
				 "--bundle", bundle, "--id", id, "--log", logp,
				 "--log-max-size", max, "--log-max-files", files,
				 "--cgroup", cg, "--sync-fd", fd, NULL, NULL, NULL };

		if (spec->rootfs_overlay && *spec->rootfs_overlay) {
			size_t end = sizeof(argv) / sizeof(argv[0]) - 3;

			argv[end] = "--overlay";
			argv[end + 1] = (char *)spec->rootfs_overlay;
		}

		snprintf(fd, sizeof(fd), "%d", sp[1]);
		snprintf(max, sizeof(max), "%llu", (unsigned long long)rt->log_max_size);
		snprintf(files, sizeof(files), "%u", rt->log_max_files);
		ret = rt_spawn(&pid, argv, -1, -1, -1, sp[1]);
		if (ret) {
			close(sp[0]);
			close(sp[1]);
			return rt_err(err, errlen, ret, "start shim %s: %s", rt->shim,
				      strerror(-ret));
		}
	}
	close(sp[1]);
	while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
		;
	char msg[2048];
	size_t n = 0;
	struct pollfd pf = { sp[0], POLLIN, 0 };
	msg[0] = 0;
	while (n + 1 < sizeof(msg) && poll(&pf, 1, START_TIMEOUT_MS) > 0) {
		ssize_t r = read(sp[0], msg + n, sizeof(msg) - n - 1);

		if (r <= 0)
			break;
		n += r;
		msg[n] = 0;
		if (memchr(msg, '\n', n))
			break;
	}
	close(sp[0]);
	if (!strncmp(msg, "ok ", 3))
		return 0;
	if (n && msg[n - 1] == '\n')
		msg[n - 1] = 0;
	if (!strncmp(msg, "error ", 6))
		return rt_err(err, errlen, -EIO, "%s", msg + 6);
	return rt_err(err, errlen, -EIO, "shim %s for %s did not start it%s%s", rt->shim, id,
		      n ? ": " : "", msg);
}

const char *berth_container_status_name(enum berth_container_status s)
{
	switch (s) {
	case BERTH_CONTAINER_CREATED: return "created";
	case BERTH_CONTAINER_RUNNING: return "running";
	case BERTH_CONTAINER_EXITED: return "exited";
	default: return "unknown";
	}
}

static void ns_to_ts(int64_t ns, struct timespec *ts)
{
	ts->tv_sec = ns / 1000000000;
	ts->tv_nsec = ns % 1000000000;
}

static int64_t jint(struct json_object *o, const char *key)
{
	struct json_object *v = rt_obj(o, key);

	return v ? json_object_get_int64(v) : 0;
}

static bool pid_alive(pid_t pid)
{
	char path[64], *s;
	bool zombie;

	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	s = rt_read_file(path, NULL);
	zombie = s && strstr(s, ") Z ");
	free(s);
	return !zombie;
}

int berth_container_state(struct berth_runtime *rt, const char *id,
			  struct berth_container_state *out)
{
	char dir[PATH_MAX], path[PATH_MAX], lp[PATH_MAX];
	struct json_object *shim = NULL, *ex = NULL;
	struct stat st;
	char *s;
	int ret;

	memset(out, 0, sizeof(*out));
	ret = id_dir(rt, id, out->pod_uid, out->name, &out->attempt, dir, sizeof(dir));
	if (ret)
		return ret;
	snprintf(out->id, sizeof(out->id), "%s", id);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	if (stat(path, &st))
		return -ENOENT;
	out->created_at = st.st_mtim;
	snprintf(path, sizeof(path), "%s/log", dir);
	ssize_t n = readlink(path, lp, sizeof(lp) - 1);
	if (n > 0) {
		lp[n] = 0;
		snprintf(out->log_path, sizeof(out->log_path), "%s", lp);
	}
	snprintf(path, sizeof(path), "%s/shim.json", dir);
	if ((s = rt_read_file(path, NULL))) {
		shim = json_tokener_parse(s);
		free(s);
	}
	snprintf(path, sizeof(path), "%s/exit.json", dir);
	if ((s = rt_read_file(path, NULL))) {
		ex = json_tokener_parse(s);
		free(s);
	}
	if (shim) {
		out->pid = jint(shim, "pid");
		ns_to_ts(jint(shim, "startedAt"), &out->started_at);
	}
	if (ex) {
		out->status = BERTH_CONTAINER_EXITED;
		out->pid = 0;
		out->exit_code = jint(ex, "exitCode");
		out->signal = jint(ex, "signal");
		out->oom_killed = json_object_get_boolean(rt_obj(ex, "oomKilled"));
		ns_to_ts(jint(ex, "finishedAt"), &out->finished_at);
	} else if (shim && pid_alive(jint(shim, "shimPid"))) {
		out->status = BERTH_CONTAINER_RUNNING;
	} else if (shim) {
		/* the shim is gone without a record: ask runc */
		char o[4096];
		struct json_object *rs;

		ret = runc(rt, o, sizeof(o), "state", id, NULL);
		rs = ret == 0 ? json_tokener_parse(o) : NULL;
		const char *status = rt_str(rs, "status");
		if (status && !strcmp(status, "running")) {
			out->status = BERTH_CONTAINER_RUNNING;
		} else {
			out->status = BERTH_CONTAINER_EXITED;
			out->exit_code = 255;
			snprintf(out->message, sizeof(out->message),
				 "the container's shim died; exit code unknown");
			clock_gettime(CLOCK_REALTIME, &out->finished_at);
		}
		json_object_put(rs);
	} else {
		out->status = BERTH_CONTAINER_CREATED;
	}
	if (out->status == BERTH_CONTAINER_EXITED) {
		const char *r = out->oom_killed ? "OOMKilled" : out->exit_code ? "Error" : "Completed";

		snprintf(out->reason, sizeof(out->reason), "%s", r);
		snprintf(path, sizeof(path), "%s/termination-log", dir);
		if (!out->message[0] && (s = rt_read_file(path, NULL))) {
			size_t l = strlen(s);
			const char *t = l >= sizeof(out->message) ? s + l - sizeof(out->message) + 1 : s;

			snprintf(out->message, sizeof(out->message), "%s", t);
			free(s);
		}
	}
	json_object_put(shim);
	json_object_put(ex);
	return 0;
}

int berth_container_list(struct berth_runtime *rt, struct berth_container_state **out,
			 size_t *np)
{
	char **uids = NULL, path[PATH_MAX];
	struct berth_container_state *v = NULL;
	size_t n = 0;
	int ret;

	ret = berth_sandbox_list(rt, &uids);
	if (ret)
		return ret;
	for (char **u = uids; *u; u++) {
		DIR *cd, *ad;
		struct dirent *c, *a;

		snprintf(path, sizeof(path), "%s/pods/%s/containers", rt->root, *u);
		if (!(cd = opendir(path)))
			continue;
		while ((c = readdir(cd))) {
			if (c->d_name[0] == '.')
				continue;
			snprintf(path, sizeof(path), "%s/pods/%s/containers/%s", rt->root, *u,
				 c->d_name);
			if (!(ad = opendir(path)))
				continue;
			while ((a = readdir(ad))) {
				char id[BERTH_CONTAINER_ID_MAX];
				struct berth_container_state *t;

				if (a->d_name[0] == '.' ||
				    berth_container_id(*u, c->d_name, strtoul(a->d_name, NULL, 10),
						       id, sizeof(id)))
					continue;
				t = realloc(v, (n + 1) * sizeof(*v));
				if (!t)
					break;
				v = t;
				if (!berth_container_state(rt, id, &v[n]))
					n++;
			}
			closedir(ad);
		}
		closedir(cd);
	}
	berth_strv_free(uids);
	*out = v;
	*np = n;
	return 0;
}

int berth_container_kill(struct berth_runtime *rt, const char *id, int sig)
{
	char o[1024], s[16];
	int ret;

	snprintf(s, sizeof(s), "%d", sig);
	ret = runc(rt, o, sizeof(o), "kill", id, s);
	if (ret > 0) {
		if (strstr(o, "not running") || strstr(o, "process already finished"))
			return -ESRCH;
		pr_warn("runtime: runc kill %s %d: %s", id, sig, o);
		return -EIO;
	}
	return ret;
}

static int wait_exited(struct berth_runtime *rt, const char *id, long ms)
{
	struct berth_container_state st;

	for (long t = 0;; t += 50) {
		if (berth_container_state(rt, id, &st))
			return -ENOENT;
		if (st.status != BERTH_CONTAINER_RUNNING)
			return 0;
		if (t >= ms)
			return -ETIMEDOUT;
		usleep(50 * 1000);
	}
}

int berth_container_stop(struct berth_runtime *rt, const char *id, unsigned int grace_s)
{
	int ret;

	ret = wait_exited(rt, id, 0);
	if (ret != -ETIMEDOUT)
		return ret;
	berth_container_kill(rt, id, SIGTERM);
	if (!wait_exited(rt, id, (long)grace_s * 1000))
		return 0;
	berth_container_kill(rt, id, SIGKILL);
	return wait_exited(rt, id, STOP_KILL_WAIT_MS);
}

int berth_container_remove(struct berth_runtime *rt, const char *id)
{
	char dir[PATH_MAX], o[1024], path[PATH_MAX];
	int ret;

	ret = id_dir(rt, id, NULL, NULL, NULL, dir, sizeof(dir));
	if (ret)
		return ret;
	ret = runc(rt, o, sizeof(o), "delete", id, "-f");
	if (ret > 0 && !strstr(o, "does not exist") && !strstr(o, "not exist"))
		pr_warn("runtime: runc delete %s: %s", id, o);
	/* a rootfs still mounted (not released) is unmounted here */
	snprintf(path, sizeof(path), "%s/rootfs", dir);
	umount2(path, MNT_DETACH);
	ret = rt_remove_tree(dir);
	if (ret)
		pr_warn("runtime: remove bundle %s: %s", dir, strerror(-ret));
	return ret;
}

int berth_container_exec(struct berth_runtime *rt, const char *id, const char *const *argv,
			 unsigned int timeout_ms, int *exit_code, char *out, size_t outlen)
{
	char root[PATH_MAX], pidf[PATH_MAX], dir[PATH_MAX];
	const char *args[512];
	size_t n = 0;
	int ret;

	ret = id_dir(rt, id, NULL, NULL, NULL, dir, sizeof(dir));
	if (ret)
		return ret;
	snprintf(root, sizeof(root), "%s/runc", rt->root);
	snprintf(pidf, sizeof(pidf), "%s/exec.%d.%lx.pid", dir, getpid(), (long)gettid());
	args[n++] = rt->runc;
	args[n++] = "--root";
	args[n++] = root;
	args[n++] = "exec";
	args[n++] = "--pid-file";
	args[n++] = pidf;
	args[n++] = id;
	for (; *argv && n < 510; argv++)
		args[n++] = *argv;
	args[n] = NULL;
	ret = run_cmd((char *const *)args, out, outlen, timeout_ms, pidf);
	unlink(pidf);
	if (ret < 0)
		return ret;
	*exit_code = ret;
	return 0;
}

/* ---- `berth-agent runtime ...`: the runtime by hand and for node tests ---- */

static struct json_object *cli_get(void *arg, const char *kind, const char *ns, const char *name)
{
	struct json_object *list = arg;

	for (size_t i = 0; list && i < json_object_array_length(list); i++) {
		struct json_object *o = json_object_array_get_idx(list, i);
		const char *k = rt_str(o, "kind"), *n = rt_path_str(o, "metadata.name");
		const char *s = rt_path_str(o, "metadata.namespace");

		if (k && n && !strcmp(k, kind) && !strcmp(n, name) && !strcmp(s ? s : "default", ns))
			return json_object_get(o);
	}
	errno = ENOENT;
	return NULL;
}

static char **cli_strv(struct json_object *a)
{
	size_t n = a ? json_object_array_length(a) : 0;
	char **v;

	if (!a)
		return NULL;
	v = calloc(n + 1, sizeof(*v));
	for (size_t i = 0; v && i < n; i++)
		v[i] = strdup(json_object_get_string(json_object_array_get_idx(a, i)));
	return v;
}

/* an OCI image config file ({"config": {...}}) as the images module gives it */
static int cli_image(const char *path, struct berth_image_config *img)
{
	struct json_object *o = json_object_from_file(path), *c;

	if (!o)
		return -EINVAL;
	c = rt_obj(o, "config") ?: o;
	img->entrypoint = cli_strv(rt_arr(c, "Entrypoint"));
	img->cmd = cli_strv(rt_arr(c, "Cmd"));
	img->env = cli_strv(rt_arr(c, "Env"));
	img->working_dir = rt_str(c, "WorkingDir") ? strdup(rt_str(c, "WorkingDir")) : NULL;
	img->user = rt_str(c, "User") ? strdup(rt_str(c, "User")) : NULL;
	json_object_put(o);
	return 0;
}

static void cli_state_print(const struct berth_container_state *s)
{
	printf("{\"id\":\"%s\",\"name\":\"%s\",\"podUID\":\"%s\",\"attempt\":%u,\"status\":\"%s\","
	       "\"pid\":%d,\"exitCode\":%d,\"signal\":%d,\"oomKilled\":%s,\"reason\":\"%s\","
	       "\"startedAt\":%lld,\"finishedAt\":%lld,\"logPath\":\"%s\"}\n",
	       s->id, s->name, s->pod_uid, s->attempt, berth_container_status_name(s->status), s->pid,
	       s->exit_code, s->signal, s->oom_killed ? "true" : "false", s->reason,
	       (long long)s->started_at.tv_sec, (long long)s->finished_at.tv_sec, s->log_path);
}

static int cli_out(void *arg, const char *buf, size_t n)
{
	(void)arg;
	return fwrite(buf, 1, n, stdout) == n ? 0 : -EIO;
}

static int cli_usage(void)
{
	fprintf(stderr,
		"usage: berth-agent runtime --root DIR [--runc P] [--log-dir D] [--cgroup-parent C]\n"
		"                           [--shim BIN] CMD ...\n"
		"  run POD.json CONTAINER [--rootfs DIR] [--image-config F] [--attempt N]\n"
		"      [--objects F.json]   sandbox, volumes, start; prints the id\n"
		"  state ID | list | stop ID GRACE | kill ID SIG | rm ID | sandbox-rm UID\n"
		"  exec ID TIMEOUT_MS -- ARG...  | logs PATH [TAIL] [follow]\n");
	return 2;
}

int berth_runtime_cli(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "root", 1, 0, 'r' },	   { "runc", 1, 0, 'R' },	  { "log-dir", 1, 0, 'l' },
		{ "cgroup-parent", 1, 0, 'c' }, { "shim", 1, 0, 's' },	  { "rootfs", 1, 0, 'f' },
		{ "image-config", 1, 0, 'i' }, { "attempt", 1, 0, 'a' }, { "objects", 1, 0, 'o' },
		{ 0 },
	};
	struct berth_runtime_opts opts = { 0 };
	struct berth_image_config img = { 0 };
	const char *rootfs = NULL, *imgf = NULL, *objf = NULL;
	unsigned int attempt = 0;
	struct berth_runtime *rt;
	char err[1024] = "";
	int c, ret = 1;

	optind = 1;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (c) {
		case 'r': opts.root = optarg; break;
		case 'R': opts.runc = optarg; break;
		case 'l': opts.log_dir = optarg; break;
		case 'c': opts.cgroup_parent = optarg; break;
		case 's': opts.shim = optarg; break;
		case 'f': rootfs = optarg; break;
		case 'i': imgf = optarg; break;
		case 'a': attempt = strtoul(optarg, NULL, 10); break;
		case 'o': objf = optarg; break;
		default: return cli_usage();
		}
	}
	argc -= optind;
	argv += optind;
	if (!opts.root || argc < 1)
		return cli_usage();
	if ((ret = berth_runtime_open(&opts, &rt))) {
		fprintf(stderr, "runtime: open %s: %s\n", opts.root, strerror(-ret));
		return 1;
	}
	ret = 0;
	const char *cmd = argv[0];
	if (!strcmp(cmd, "run") && argc >= 3) {
		struct json_object *pod = json_object_from_file(argv[1]), *ctr = NULL;
		struct json_object *objs_list = objf ? json_object_from_file(objf) : NULL;
		struct berth_objects objs = { cli_get, NULL, objs_list };
		struct json_object *cs = rt_path(pod, "spec.containers");
		struct berth_mount *m = NULL;
		struct berth_sandbox sb;
		char id[BERTH_CONTAINER_ID_MAX];
		size_t nm = 0;

		for (size_t i = 0; cs && i < json_object_array_length(cs); i++)
			if (!strcmp(rt_str(json_object_array_get_idx(cs, i), "name") ?: "", argv[2]))
				ctr = json_object_array_get_idx(cs, i);
		if (!pod || !ctr) {
			fprintf(stderr, "runtime run: no pod in %s or no container %s\n", argv[1], argv[2]);
			ret = -EINVAL;
		} else if (imgf && cli_image(imgf, &img)) {
			fprintf(stderr, "runtime run: bad image config %s\n", imgf);
			ret = -EINVAL;
		}
		if (!ret && !(ret = berth_sandbox_create(rt, pod, &sb, err, sizeof(err))) &&
		    !(ret = berth_volumes_setup(rt, pod, &objs, err, sizeof(err))) &&
		    !(ret = berth_volumes_mounts(rt, pod, ctr, &m, &nm, err, sizeof(err)))) {
			struct berth_container_spec spec = {
				.pod = pod, .container = ctr, .image = imgf ? &img : NULL,
				.rootfs = rootfs, .mounts = m, .nmounts = nm, .attempt = attempt,
				.objs = &objs,
			};

			ret = berth_container_create_start(rt, &spec, id, err, sizeof(err));
			if (!ret)
				printf("%s\n", id);
		}
		if (ret && *err)
			fprintf(stderr, "runtime run: %s\n", err);
		berth_mounts_free(m, nm);
		json_object_put(pod);
		json_object_put(objs_list);
	} else if (!strcmp(cmd, "state") && argc >= 2) {
		struct berth_container_state s;

		if (!(ret = berth_container_state(rt, argv[1], &s)))
			cli_state_print(&s);
	} else if (!strcmp(cmd, "list")) {
		struct berth_container_state *v;
		size_t n;

		if (!(ret = berth_container_list(rt, &v, &n))) {
			for (size_t i = 0; i < n; i++)
				cli_state_print(&v[i]);
			free(v);
		}
	} else if (!strcmp(cmd, "stop") && argc >= 3) {
		ret = berth_container_stop(rt, argv[1], strtoul(argv[2], NULL, 10));
	} else if (!strcmp(cmd, "kill") && argc >= 3) {
		ret = berth_container_kill(rt, argv[1], atoi(argv[2]));
	} else if (!strcmp(cmd, "rm") && argc >= 2) {
		ret = berth_container_remove(rt, argv[1]);
	} else if (!strcmp(cmd, "sandbox-rm") && argc >= 2) {
		ret = berth_sandbox_destroy(rt, argv[1]);
	} else if (!strcmp(cmd, "exec") && argc >= 4) {
		char out[65536];
		int code = -1;

		ret = berth_container_exec(rt, argv[1], (const char *const *)argv + 3,
					   strtoul(argv[2], NULL, 10), &code, out, sizeof(out));
		if (!ret) {
			fputs(out, stdout);
			berth_runtime_close(rt);
			return code;
		}
	} else if (!strcmp(cmd, "logs") && argc >= 2) {
		struct berth_log_read_opts lo = { .tail = argc >= 3 ? atol(argv[2]) : -1,
						  .follow = argc >= 4 };

		ret = berth_log_read(argv[1], &lo, cli_out, NULL);
	} else {
		berth_runtime_close(rt);
		return cli_usage();
	}
	if (ret < 0)
		fprintf(stderr, "runtime %s: %s\n", cmd, strerror(-ret));
	berth_runtime_close(rt);
	return ret ? 1 : 0;
}
