// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The podCIDR allocator: a JSON state file under an flock. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <berth/fsutil.h>

#include "config.h"
#include "ipam.h"

#define IPAM_LOCK_TIMEOUT_S 30 /* other plugins hold it for milliseconds */

/* The state, locked: allocations is an array of {ip, containerID, ifname}. */
struct ipam {
	char path[PATH_MAX];
	int lock_fd;
	json_object *state;
	json_object *allocs;
};


static void on_alarm(int sig)
{
	(void)sig; /* only interrupts flock */
}

/*
 * A blocking flock, bounded by an alarm: the kernel hands the lock to a
 * waiter as soon as it is free, where polling every 5 ms made a burst of
 * ADDs wait in sleeps (p50 50 ms, p90 0.4 s for a few ms of work each).
 * The alarm is the process's own: the plugin has one thread.
 */
static int lock_wait(int fd)
{
	struct sigaction sa = { .sa_handler = on_alarm }, old;
	int err = 0;

	sigemptyset(&sa.sa_mask); /* no SA_RESTART: flock returns EINTR */
	if (sigaction(SIGALRM, &sa, &old))
		return -errno;
	alarm(IPAM_LOCK_TIMEOUT_S);
	if (flock(fd, LOCK_EX))
		err = errno == EINTR ? -ETIMEDOUT : -errno;
	alarm(0);
	sigaction(SIGALRM, &old, NULL);
	return err;
}

static int ipam_open(struct ipam *s, const char *dir)
{
	char lock[PATH_MAX];
	int err;

	memset(s, 0, sizeof(*s));
	s->lock_fd = -1;
	err = berth_mkdir_p(dir, 0700);
	if (err)
		return err;
	if (snprintf(lock, sizeof(lock), "%s/lock", dir) >= (int)sizeof(lock) ||
	    snprintf(s->path, sizeof(s->path), "%s/allocations.json", dir) >=
		    (int)sizeof(s->path))
		return -ENAMETOOLONG;
	s->lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (s->lock_fd < 0)
		return -errno;
	err = lock_wait(s->lock_fd);
	if (err)
		goto fail;
	if (access(s->path, F_OK)) {
		s->state = json_object_new_object();
	} else {
		s->state = json_object_from_file(s->path);
		if (!s->state || !json_object_is_type(s->state,
						      json_type_object)) {
			/* refuse to guess: a lost record is a double allocation */
			err = -EBADMSG;
			goto fail;
		}
	}
	if (!json_object_object_get_ex(s->state, "allocations", &s->allocs) ||
	    !json_object_is_type(s->allocs, json_type_array)) {
		s->allocs = json_object_new_array();
		json_object_object_add(s->state, "allocations", s->allocs);
	}
	return 0;
fail:
	json_object_put(s->state);
	close(s->lock_fd);
	s->lock_fd = -1;
	return err;
}

static int ipam_commit(struct ipam *s)
{
	char tmp[PATH_MAX + 8];
	const char *text = json_object_to_json_string_ext(
		s->state, JSON_C_TO_STRING_PRETTY);
	size_t len = strlen(text);
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", s->path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	if (write(fd, text, len) != (ssize_t)len || write(fd, "\n", 1) != 1 ||
	    fsync(fd))
		err = errno ? -errno : -EIO;
	close(fd);
	if (!err && rename(tmp, s->path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static void ipam_close(struct ipam *s)
{
	json_object_put(s->state);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* drops the flock */
}

static const char *field(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return "";
	return json_object_get_string(v);
}

static bool parse_ip(const char *s, uint32_t *ip)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		return false;
	*ip = ntohl(a.s_addr);
	return true;
}

static void fmt_ip(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = htonl(ip) };

	inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* index of (id, ifname)'s allocation, or -1 */
static int find(struct ipam *s, const char *id, const char *ifname)
{
	size_t n = json_object_array_length(s->allocs);

	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(s->allocs, i);

		if (!strcmp(field(a, "containerID"), id) &&
		    !strcmp(field(a, "ifname"), ifname))
			return i;
	}
	return -1;
}

static bool taken(struct ipam *s, uint32_t ip)
{
	size_t n = json_object_array_length(s->allocs);
	uint32_t x;

	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(s->allocs, i);

		if (parse_ip(field(a, "ip"), &x) && x == ip)
			return true;
	}
	return false;
}

/* first and last allocatable address of net/prefix */
static void range(uint32_t net, unsigned int prefix, uint32_t *lo,
		  uint32_t *hi)
{
	uint32_t size = prefix ? 1u << (32 - prefix) : 0;

	*lo = net + 2;		   /* skip network and gateway */
	*hi = net + (size - 1) - 1; /* skip broadcast */
}

int berth_cni_ipam_alloc(const char *dir, const char *cidr, const char *id,
			 const char *ifname, uint32_t *ip)
{
	char buf[INET_ADDRSTRLEN];
	uint32_t net, lo, hi, last = 0, cand;
	unsigned int prefix;
	struct ipam s;
	json_object *a;
	int i, err;

	if (berth_cni_parse_cidr(cidr, &net, &prefix))
		return -EINVAL;
	err = ipam_open(&s, dir);
	if (err)
		return err;
	i = find(&s, id, ifname);
	if (i >= 0 && parse_ip(field(json_object_array_get_idx(s.allocs, i),
				     "ip"),
			       ip)) {
		err = 0; /* a retried ADD keeps its address */
		goto out;
	}
	range(net, prefix, &lo, &hi);
	/* round-robin from the last one handed out: an address freed now is
	 * not the next one reused, so stale peers do not reach a new pod */
	if (!parse_ip(field(s.state, "last"), &last) || last < lo || last > hi)
		last = hi;
	cand = last;
	err = -ENOSPC;
	for (uint32_t k = 0; k <= hi - lo; k++) {
		cand = cand >= hi ? lo : cand + 1;
		if (!taken(&s, cand)) {
			err = 0;
			break;
		}
	}
	if (err)
		goto out;
	fmt_ip(cand, buf);
	a = json_object_new_object();
	json_object_object_add(a, "ip", json_object_new_string(buf));
	json_object_object_add(a, "containerID", json_object_new_string(id));
	json_object_object_add(a, "ifname", json_object_new_string(ifname));
	json_object_array_add(s.allocs, a);
	json_object_object_add(s.state, "last", json_object_new_string(buf));
	json_object_object_add(s.state, "range", json_object_new_string(cidr));
	err = ipam_commit(&s);
	if (!err)
		*ip = cand;
out:
	ipam_close(&s);
	return err;
}

int berth_cni_ipam_find(const char *dir, const char *id, const char *ifname,
			uint32_t *ip)
{
	struct ipam s;
	int i, err;

	err = ipam_open(&s, dir);
	if (err)
		return err;
	i = find(&s, id, ifname);
	err = i >= 0 && parse_ip(field(json_object_array_get_idx(s.allocs, i),
				       "ip"),
				 ip) ?
		      0 :
		      -ENOENT;
	ipam_close(&s);
	return err;
}

int berth_cni_ipam_release(const char *dir, const char *id,
			   const char *ifname)
{
	struct ipam s;
	int i, err;

	if (access(dir, F_OK))
		return 0; /* nothing was ever allocated here */
	err = ipam_open(&s, dir);
	if (err)
		return err;
	i = find(&s, id, ifname);
	if (i >= 0) {
		json_object_array_del_idx(s.allocs, i, 1);
		err = ipam_commit(&s);
	}
	ipam_close(&s);
	return err;
}

static bool is_valid(json_object *a, const struct berth_cni_attachment *valid,
		     size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!strcmp(field(a, "containerID"), valid[i].container_id) &&
		    (!valid[i].ifname ||
		     !strcmp(field(a, "ifname"), valid[i].ifname)))
			return true;
	return false;
}

int berth_cni_ipam_gc(const char *dir, const struct berth_cni_attachment *valid,
		      size_t n,
		      void (*cb)(const char *id, const char *ifname, void *arg),
		      void *arg, size_t *released)
{
	json_object *gone = json_object_new_array();
	struct ipam s;
	size_t i = 0;
	int err;

	*released = 0;
	if (access(dir, F_OK)) {
		json_object_put(gone);
		return 0;
	}
	err = ipam_open(&s, dir);
	if (err) {
		json_object_put(gone);
		return err;
	}
	while (i < json_object_array_length(s.allocs)) {
		json_object *a = json_object_array_get_idx(s.allocs, i);

		if (is_valid(a, valid, n)) {
			i++;
			continue;
		}
		json_object_array_add(gone, json_object_get(a));
		json_object_array_del_idx(s.allocs, i, 1);
	}
	*released = json_object_array_length(gone);
	if (*released)
		err = ipam_commit(&s);
	ipam_close(&s);
	for (i = 0; !err && cb && i < *released; i++) {
		json_object *a = json_object_array_get_idx(gone, i);

		cb(field(a, "containerID"), field(a, "ifname"), arg);
	}
	json_object_put(gone);
	return err;
}

int berth_cni_ipam_free_count(const char *dir, const char *cidr, size_t *free)
{
	uint32_t net, lo, hi, x;
	unsigned int prefix;
	struct ipam s;
	size_t n, used = 0;
	int err;

	if (berth_cni_parse_cidr(cidr, &net, &prefix))
		return -EINVAL;
	range(net, prefix, &lo, &hi);
	err = ipam_open(&s, dir);
	if (err)
		return err;
	n = json_object_array_length(s.allocs);
	for (size_t i = 0; i < n; i++)
		if (parse_ip(field(json_object_array_get_idx(s.allocs, i),
				   "ip"),
			     &x) &&
		    x >= lo && x <= hi)
			used++;
	ipam_close(&s);
	*free = (size_t)(hi - lo + 1) - used;
	return 0;
}
