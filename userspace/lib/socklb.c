// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Load and attach the socket LB (sock.bpf.c) and the UDP socket destroyer. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <berth/abi/sock.h>
#include <berth/datapath.h>
#include <berth/log.h>
#include <berth/socklb.h>

#include "skel/sock.skel.h"
#include "skel/sock_destroy.skel.h"

#define CGROUP2_SUPER_MAGIC 0x63677270
#ifndef SO_NETNS_COOKIE
#define SO_NETNS_COOKIE 71
#endif

/*
 * The cookie of the calling thread's network namespace, which the programs
 * limit themselves to; 0 (every namespace) if the kernel cannot tell.
 */
static uint64_t netns_cookie(void)
{
	socklen_t len = sizeof(uint64_t);
	uint64_t cookie = 0;
	int fd;

	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0 ||
	    getsockopt(fd, SOL_SOCKET, SO_NETNS_COOKIE, &cookie, &len)) {
		pr_warn("socket LB: no netns cookie (%s): sockets of every namespace in the cgroup are balanced",
			strerror(errno));
		cookie = 0;
	}
	if (fd >= 0)
		close(fd);
	return cookie;
}

/*
 * Size every pinned map of obj as its pin is, so libbpf re-uses the pins the
 * datapath made (possibly with non-default sizes) instead of refusing them.
 */
static void size_from_pins(struct bpf_object *obj)
{
	struct bpf_map_info info;
	struct bpf_map *map;
	__u32 len;
	int fd;

	bpf_object__for_each_map(map, obj)
	{
		if (!bpf_map__pin_path(map))
			continue;
		fd = bpf_obj_get(bpf_map__pin_path(map));
		if (fd < 0)
			continue;
		memset(&info, 0, sizeof(info));
		len = sizeof(info);
		if (!bpf_obj_get_info_by_fd(fd, &info, &len))
			bpf_map__set_max_entries(map, info.max_entries);
		close(fd);
	}
}

static struct sock_bpf *sock_load(const char *pin_dir, uint64_t cookie,
				  bool set_retval, int *err)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	struct sock_bpf *skel;

	skel = sock_bpf__open_opts(&opts);
	if (!skel) {
		*err = -errno;
		return NULL;
	}
	skel->rodata->host_netns_cookie = cookie;
	skel->rodata->have_set_retval = set_retval;
	size_from_pins(skel->obj);
	*err = sock_bpf__load(skel);
	if (*err) {
		sock_bpf__destroy(skel);
		return NULL;
	}
	return skel;
}

/*
 * Open a cgroup v2 directory; *id gets its cgroup id (the directory's inode
 * number on cgroup2), which pinned links are compared with.
 */
static int cgroup_open(const char *path, uint64_t *id)
{
	struct statfs sfs;
	struct stat st;
	int fd, err;

	fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0) {
		err = -errno;
		pr_err("socket LB: open cgroup %s: %s", path, strerror(-err));
		return err;
	}
	if (fstatfs(fd, &sfs) || sfs.f_type != CGROUP2_SUPER_MAGIC ||
	    fstat(fd, &st)) {
		pr_err("socket LB: %s is not a cgroup v2 directory", path);
		close(fd);
		return -EINVAL;
	}
	*id = st.st_ino;
	return fd;
}

/* A pinned link still attached to cgroup cg_id with this attach type? */
static bool link_is(int link_fd, uint64_t cg_id, enum bpf_attach_type type)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(link_fd, &info, &len))
		return false;
	return info.type == BPF_LINK_TYPE_CGROUP &&
	       info.cgroup.cgroup_id == cg_id &&
	       info.cgroup.attach_type == type;
}

/*
 * Attach prog to the cgroup through the link pinned at path. An existing
 * link on the same cgroup gets the program swapped in atomically; otherwise
 * the new link is attached before the old one goes, so no socket is missed.
 */
static int link_one(struct bpf_program *prog, int cg_fd, uint64_t cg_id,
		    const char *path)
{
	enum bpf_attach_type type = bpf_program__expected_attach_type(prog);
	int prog_fd = bpf_program__fd(prog), old, fd, err;

	old = bpf_obj_get(path);
	if (old >= 0 && link_is(old, cg_id, type) &&
	    !bpf_link_update(old, prog_fd, NULL)) {
		close(old);
		return 0;
	}
	fd = bpf_link_create(prog_fd, cg_fd, type, NULL);
	if (fd < 0) {
		err = -errno;
		pr_err("socket LB: attach %s: %s", bpf_program__name(prog),
		       strerror(-err));
		goto out;
	}
	if (old >= 0) {
		bpf_link_detach(old);
		unlink(path);
	}
	err = bpf_obj_pin(fd, path) ? -errno : 0;
	if (err) {
		pr_err("socket LB: pin %s: %s", path, strerror(-err));
		bpf_link_detach(fd);
	}
	close(fd);
out:
	if (old >= 0)
		close(old);
	return err;
}

struct link_spec {
	const char *pin;
	struct bpf_program *prog;
};

static int link_all(struct sock_bpf *skel, const char *pin_dir,
		    const char *cgroup_path)
{
	const struct link_spec links[] = {
		{ BERTH_LINK_CONNECT4, skel->progs.sock_connect4 },
		{ BERTH_LINK_SENDMSG4, skel->progs.sock_sendmsg4 },
		{ BERTH_LINK_RECVMSG4, skel->progs.sock_recvmsg4 },
		{ BERTH_LINK_GETPEERNAME4, skel->progs.sock_getpeername4 },
	};
	char path[PATH_MAX];
	uint64_t cg_id = 0;
	int cg_fd, err = 0;

	cg_fd = cgroup_open(cgroup_path, &cg_id);
	if (cg_fd < 0)
		return cg_fd;
	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]) && !err; i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, links[i].pin);
		err = link_one(links[i].prog, cg_fd, cg_id, path);
	}
	close(cg_fd);
	return err;
}

int berth_socklb_attach(struct berth_dp *dp, const char *cgroup_path)
{
	uint64_t cookie = netns_cookie();
	struct sock_bpf *skel;
	int err;

	berth_libbpf_log_init();
	skel = sock_load(dp->pin_dir, cookie, true, &err);
	if (!skel) {
		/* before 6.1 cgroup sock_addr programs lack bpf_set_retval */
		pr_info("socket LB: loading without bpf_set_retval (%s): connects to a Service without endpoints fail with EPERM",
			strerror(-err));
		skel = sock_load(dp->pin_dir, cookie, false, &err);
	}
	if (!skel) {
		pr_err("socket LB: load (pins in %s): %s", dp->pin_dir,
		       strerror(-err));
		return err;
	}
	err = link_all(skel, dp->pin_dir, cgroup_path);
	if (!err)
		pr_info("socket LB: attached to cgroup %s (netns cookie %llu)",
			cgroup_path, (unsigned long long)cookie);
	/* the pinned links keep the programs */
	sock_bpf__destroy(skel);
	return err;
}

int berth_socklb_detach(const char *pin_dir)
{
	static const char *const links[] = {
		BERTH_LINK_CONNECT4,
		BERTH_LINK_SENDMSG4,
		BERTH_LINK_RECVMSG4,
		BERTH_LINK_GETPEERNAME4,
	};
	static const char *const maps[] = {
		BERTH_MAP_SOCK_REV,
		BERTH_MAP_SOCK_FWD,
	};
	char path[PATH_MAX];
	int fd, ret = 0;

	for (size_t i = 0; i < sizeof(links) / sizeof(links[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, links[i]);
		fd = bpf_obj_get(path);
		if (fd >= 0) {
			/* detach even if someone else still holds the link */
			if (bpf_link_detach(fd) && errno != ENOLINK)
				ret = -errno;
			close(fd);
		}
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	for (size_t i = 0; i < sizeof(maps) / sizeof(maps[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, maps[i]);
		if (unlink(path) && errno != ENOENT)
			ret = -errno;
	}
	return ret;
}

struct berth_socklb {
	struct sock_destroy_bpf *skel; /* NULL: bpf_sock_destroy missing */
	struct bpf_link *iter;
};

/* The kernel's refusal of the kfunc is expected on old kernels: not a warning. */
static int quiet_print(enum libbpf_print_level level, const char *fmt,
		       va_list ap)
{
	char msg[512];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	msg[strcspn(msg, "\n")] = '\0';
	if (level != LIBBPF_DEBUG)
		pr_debug("libbpf: %s", msg);
	return 0;
}

static int destroyer_load(struct berth_socklb *sl, const char *pin_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, opts, .pin_root_path = pin_dir);
	libbpf_print_fn_t old;
	int err;

	sl->skel = sock_destroy_bpf__open_opts(&opts);
	if (!sl->skel)
		return -errno;
	size_from_pins(sl->skel->obj);
	old = libbpf_set_print(quiet_print);
	err = sock_destroy_bpf__load(sl->skel);
	libbpf_set_print(old);
	if (err)
		return err;
	sl->iter = bpf_program__attach_iter(sl->skel->progs.sock_destroy_udp,
					    NULL);
	if (!sl->iter)
		return -errno;
	return 0;
}

int berth_socklb_open(struct berth_socklb **out, const char *pin_dir)
{
	struct berth_socklb *sl;
	int err;

	if (!pin_dir || !pin_dir[0])
		return -EINVAL;
	sl = calloc(1, sizeof(*sl));
	if (!sl)
		return -ENOMEM;
	berth_libbpf_log_init();
	err = destroyer_load(sl, pin_dir);
	if (err) {
		pr_info("socket LB: destroying connected UDP sockets of deleted backends not supported by this kernel (needs bpf_sock_destroy, 6.5+): %s",
			strerror(-err));
		bpf_link__destroy(sl->iter);
		sock_destroy_bpf__destroy(sl->skel);
		sl->iter = NULL;
		sl->skel = NULL;
	}
	*out = sl;
	return 0;
}

void berth_socklb_close(struct berth_socklb *sl)
{
	if (!sl)
		return;
	bpf_link__destroy(sl->iter);
	sock_destroy_bpf__destroy(sl->skel);
	free(sl);
}

bool berth_socklb_can_destroy(const struct berth_socklb *sl)
{
	return sl && sl->skel;
}

/* One walk of the UDP sockets of this namespace: the program does the work. */
static int iter_run(struct bpf_link *link)
{
	char buf[256];
	ssize_t n;
	int fd, err = 0;

	fd = bpf_iter_create(bpf_link__fd(link));
	if (fd < 0)
		return -errno;
	/* the program prints nothing: reading to EOF is the walk */
	do
		n = read(fd, buf, sizeof(buf));
	while (n > 0 || (n < 0 && errno == EINTR));
	if (n < 0)
		err = -errno;
	close(fd);
	return err;
}

int berth_socklb_destroy_backend(struct berth_socklb *sl, uint32_t ip,
				 uint16_t port, uint8_t proto)
{
	int err;

	if (proto != IPPROTO_UDP)
		return 0;
	if (!berth_socklb_can_destroy(sl))
		return -EOPNOTSUPP;
	sl->skel->bss->target_ip = ip;
	sl->skel->bss->target_port = port;
	sl->skel->bss->destroyed = 0;
	err = iter_run(sl->iter);
	if (err) {
		pr_warn("socket LB: walk UDP sockets: %s", strerror(-err));
		return err;
	}
	return (int)sl->skel->bss->destroyed;
}
