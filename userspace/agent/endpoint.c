// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The agent side of berth-cni: a unix socket where the plugin registers pod
 * veths, and a table of them under <root>/endpoints that survives restarts.
 * The protocol is described in endpoint.h.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <net/if.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <bpf/libbpf.h>
#include <json-c/json.h>

#include <berth/abi/pins.h>
#include <berth/abi/route.h>
#include <berth/datapath.h>
#include <berth/log.h>
#include <berth/netdev.h>

#include "endpoint.h"

#define EP_IO_TIMEOUT_S 10 /* a stuck client cannot hold the socket longer */
/* connections served at once (more wait in the listen backlog) */
#define EP_MAX_CONNS 32
#define EP_CONN_STACK (512 * 1024)
#define EP_KEY_STRIPES 64 /* key locks; more than EP_MAX_CONNS */

struct berth_endpoint_server {
	char dir[PATH_MAX];  /* <root>/endpoints */
	char sock[sizeof(((struct sockaddr_un *)0)->sun_path)];
	char pod_cidr[64];
	struct berth_endpoint_ops ops;
	struct berth_map *epmap; /* NULL: no endpoints map to write */
	void (*added)(void *ctx, const struct berth_cni_endpoint *ep);
	void *added_ctx;
	unsigned int mtu;
	/*
	 * ADD, DEL and CHECK touch one (containerID, ifname) each: they hold
	 * the table shared and their key's stripe, so a burst of ADDs
	 * attaches its programs and writes its records side by side (one
	 * lock serialized ~10 ms of netlink per pod). GC walks the whole
	 * table and holds it alone.
	 */
	pthread_rwlock_t table;
	pthread_mutex_t keys[EP_KEY_STRIPES];
	/*
	 * Each connection has its thread: an ADD waits for the policy pass
	 * that judges its pod (added), and with one connection at a time a
	 * burst of pods waited for one pass each, in a row; now the ADDs
	 * that arrive together share a pass.
	 */
	pthread_mutex_t conns_mu;
	pthread_cond_t conns_cv;
	int nconns;
	pthread_t thread;
	bool thread_started;
	int fd;
	int stop[2];
};

/* ---- datapath ops ---- */

static int dp_attach(void *ctx, const char *ifname)
{
	return berth_dp_attach(ctx, ifname);
}

static int dp_detach(void *ctx, const char *ifname)
{
	int ifindex = if_nametoindex(ifname);

	(void)ctx;
	if (!ifindex)
		return -errno;
	return berth_dp_detach(ifindex);
}

static int dp_attached(void *ctx, const char *ifname)
{
	enum bpf_tc_attach_point points[] = { BPF_TC_INGRESS, BPF_TC_EGRESS };
	int ifindex = if_nametoindex(ifname);

	(void)ctx;
	if (!ifindex)
		return -errno;
	for (size_t i = 0; i < 2; i++) {
		DECLARE_LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
				    .attach_point = points[i]);
		DECLARE_LIBBPF_OPTS(bpf_tc_opts, opts,
				    .handle = BERTH_TC_HANDLE,
				    .priority = BERTH_TC_PRIORITY);

		if (bpf_tc_query(&hook, &opts))
			return 0;
	}
	return 1;
}

struct berth_endpoint_ops berth_endpoint_dp_ops(struct berth_dp *dp)
{
	return (struct berth_endpoint_ops){ .attach = dp_attach,
					    .detach = dp_detach,
					    .attached = dp_attached,
					    .ctx = dp };
}

/* ---- the table: one JSON file per (containerID, ifname) ---- */

/* CNI: containerID is alphanumeric plus '_', '.', '-'; ifname a netdev name */
static bool valid_id(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 255)
		return false;
	for (; *s; s++)
		if (!(isalnum((unsigned char)*s) || *s == '_' || *s == '.' ||
		      *s == '-'))
			return false;
	return true;
}

static bool valid_ifname(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= IFNAMSIZ || !strcmp(s, ".") || !strcmp(s, ".."))
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || (unsigned char)*s <= ' ')
			return false;
	return true;
}

static int ep_path(const struct berth_endpoint_server *srv, const char *id,
		   const char *ifname, char *buf, size_t len)
{
	int n = snprintf(buf, len, "%s/%s_%s.json", srv->dir, id, ifname);

	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static const char *jstr(json_object *o, const char *key)
{
	json_object *v;

	if (!json_object_object_get_ex(o, key, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

#define EP_FIELDS(X)                                                           \
	X("containerID", container_id)                                         \
	X("ifname", ifname) X("hostIfname", host_ifname) X("netns", netns)     \
	X("ip", ip) X("mac", mac) X("podName", pod_name)                       \
	X("podNamespace", pod_namespace)

static json_object *ep_to_json(const struct berth_cni_endpoint *ep)
{
	json_object *o = json_object_new_object();

#define X(key, field)                                                          \
	json_object_object_add(o, key, json_object_new_string(ep->field));
	EP_FIELDS(X)
#undef X
	return o;
}

/* Fill ep from o; fields too long are an error, missing ones stay "". */
static int ep_from_json(json_object *o, struct berth_cni_endpoint *ep,
			const char **bad)
{
	const char *s;

	memset(ep, 0, sizeof(*ep));
#define X(key, field)                                                          \
	s = jstr(o, key);                                                      \
	if (s && strlen(s) >= sizeof(ep->field)) {                             \
		*bad = key;                                                    \
		return -ENAMETOOLONG;                                          \
	}                                                                      \
	if (s)                                                                 \
		strcpy(ep->field, s);
	EP_FIELDS(X)
#undef X
	return 0;
}

static int write_atomic(const char *path, const char *text)
{
	char tmp[PATH_MAX + 8];
	size_t len = strlen(text);
	int fd, err = 0;

	snprintf(tmp, sizeof(tmp), "%s.tmp", path);
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	/* rename makes it all or nothing for a restarted agent; no fsync:
	 * it is a disk write on the path of every CNI ADD, and after a crash of the host these records are moot (the veths
	 * and namespaces they name are gone; the agent prunes them) */
	if (write(fd, text, len) != (ssize_t)len)
		err = errno ? -errno : -EIO;
	close(fd);
	if (!err && rename(tmp, path))
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

static int ep_save(struct berth_endpoint_server *srv,
		   const struct berth_cni_endpoint *ep)
{
	char path[PATH_MAX];
	json_object *o;
	int err;

	err = ep_path(srv, ep->container_id, ep->ifname, path, sizeof(path));
	if (err)
		return err;
	o = ep_to_json(ep);
	err = write_atomic(path, json_object_to_json_string_ext(
					 o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
	return err;
}

static int ep_load_file(const char *path, struct berth_cni_endpoint *ep)
{
	json_object *o = json_object_from_file(path);
	const char *bad;
	int err;

	if (!o)
		return access(path, F_OK) ? -ENOENT : -EINVAL;
	err = ep_from_json(o, ep, &bad);
	json_object_put(o);
	if (!err && (!ep->container_id[0] || !ep->host_ifname[0]))
		err = -EINVAL;
	return err;
}

static int ep_load(struct berth_endpoint_server *srv, const char *id,
		   const char *ifname, struct berth_cni_endpoint *ep)
{
	char path[PATH_MAX];
	int err = ep_path(srv, id, ifname, path, sizeof(path));

	return err ? err : ep_load_file(path, ep);
}

/* ---- the endpoints map: pod IP -> how to deliver to it ---- */

static int parse_mac(const char *s, __u8 mac[6])
{
	int n = 0;

	if (sscanf(s, "%hhx:%hhx:%hhx:%hhx:%hhx:%hhx%n", &mac[0], &mac[1],
		   &mac[2], &mac[3], &mac[4], &mac[5], &n) != 6 ||
	    s[n])
		return -EINVAL;
	return 0;
}

/* endpoints[ip] = {ifindex, pod MAC, host MAC}; 0 when there is no map */
static int ep_map_set(struct berth_endpoint_server *srv,
		      const struct berth_cni_endpoint *ep)
{
	struct berth_endpoint_info v = { 0 }, old;
	struct in_addr ip;
	int err;

	if (!srv->epmap)
		return 0;
	if (inet_pton(AF_INET, ep->ip, &ip) != 1)
		return -EINVAL;
	v.ifindex = if_nametoindex(ep->host_ifname);
	if (!v.ifindex)
		return -errno;
	/* identity and policy flags belong to the policy sync: a restart
	 * re-registering its pods must not lift their enforcement */
	if (!srv->epmap->lookup(srv->epmap, &ip.s_addr, &old)) {
		v.identity = old.identity;
		v.flags = old.flags;
	}
	err = parse_mac(ep->mac, v.mac);
	if (!err)
		err = berth_netdev_mac_mtu(ep->host_ifname, v.host_mac, NULL);
	if (!err)
		err = srv->epmap->update(srv->epmap, &ip.s_addr, &v);
	return err;
}

static void ep_map_clear(struct berth_endpoint_server *srv, const char *ipstr)
{
	struct in_addr ip;
	int err;

	if (!srv->epmap || inet_pton(AF_INET, ipstr, &ip) != 1)
		return;
	err = srv->epmap->delete (srv->epmap, &ip.s_addr);
	if (err && err != -ENOENT)
		pr_warn("endpoints map: delete %s: %s", ipstr, strerror(-err));
}

static void ep_forget(struct berth_endpoint_server *srv,
		      const struct berth_cni_endpoint *ep, bool detach)
{
	char path[PATH_MAX];
	int err;

	if (detach && if_nametoindex(ep->host_ifname) && srv->ops.detach) {
		err = srv->ops.detach(srv->ops.ctx, ep->host_ifname);
		if (err)
			pr_warn("endpoint %s/%s: detach from %s: %s",
				ep->container_id, ep->ifname, ep->host_ifname,
				strerror(-err));
	}
	ep_map_clear(srv, ep->ip);
	if (!ep_path(srv, ep->container_id, ep->ifname, path, sizeof(path)))
		unlink(path);
}

/* Call fn for every recorded endpoint; stops at fn's first non-zero. */
static int ep_each(struct berth_endpoint_server *srv,
		   int (*fn)(struct berth_endpoint_server *,
			     struct berth_cni_endpoint *, void *),
		   void *arg)
{
	struct berth_cni_endpoint ep;
	char path[PATH_MAX + NAME_MAX + 2];
	struct dirent *de;
	DIR *d = opendir(srv->dir);
	int ret = 0;

	if (!d)
		return -errno;
	while (!ret && (de = readdir(d))) {
		size_t n = strlen(de->d_name);

		if (n < 6 || strcmp(de->d_name + n - 5, ".json"))
			continue;
		snprintf(path, sizeof(path), "%s/%s", srv->dir, de->d_name);
		if (ep_load_file(path, &ep)) {
			pr_warn("endpoint table: %s unreadable, removed", path);
			unlink(path);
			continue;
		}
		ret = fn(srv, &ep, arg);
	}
	closedir(d);
	return ret;
}

/* ---- requests ---- */

static json_object *reply_err(const char *fmt, ...)
	__attribute__((format(printf, 1, 2)));
static json_object *reply_err(const char *fmt, ...)
{
	json_object *o = json_object_new_object();
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	json_object_object_add(o, "ok", json_object_new_boolean(0));
	json_object_object_add(o, "error", json_object_new_string(msg));
	return o;
}

static json_object *reply_ok(void)
{
	json_object *o = json_object_new_object();

	json_object_object_add(o, "ok", json_object_new_boolean(1));
	return o;
}

/* containerID and ifname of a request, validated */
static json_object *req_key(json_object *req, const char **id,
			    const char **ifname)
{
	*id = jstr(req, "containerID");
	*ifname = jstr(req, "ifname");
	if (!*id || !valid_id(*id))
		return reply_err("containerID missing or not [A-Za-z0-9_.-]{1,255}");
	if (!*ifname || !valid_ifname(*ifname))
		return reply_err("ifname missing or not an interface name");
	return NULL;
}

/* *added gets the endpoint to hand to srv->added once the lock is gone */
static json_object *handle_add(struct berth_endpoint_server *srv,
			       json_object *req,
			       struct berth_cni_endpoint *added)
{
	struct berth_cni_endpoint ep, old;
	const char *id, *ifname, *bad = "";
	json_object *r;
	int err;

	if ((r = req_key(req, &id, &ifname)))
		return r;
	if (ep_from_json(req, &ep, &bad))
		return reply_err("add: %s too long", bad);
	if (!valid_ifname(ep.host_ifname))
		return reply_err("add: hostIfname missing or not an interface name");
	if (!if_nametoindex(ep.host_ifname))
		return reply_err("add: host interface %s: %s", ep.host_ifname,
				 strerror(errno));
	if (srv->ops.attach) {
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		err = srv->ops.attach(srv->ops.ctx, ep.host_ifname);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		pr_debug("endpoint: datapath attached to %s in %ld us",
			 ep.host_ifname,
			 (t1.tv_sec - t0.tv_sec) * 1000000L +
				 (t1.tv_nsec - t0.tv_nsec) / 1000);
		if (err)
			return reply_err("attach datapath to %s: %s",
					 ep.host_ifname, strerror(-err));
	}
	/* a re-ADD with another address leaves no entry behind */
	if (!ep_load(srv, id, ifname, &old) && strcmp(old.ip, ep.ip))
		ep_map_clear(srv, old.ip);
	err = ep_map_set(srv, &ep);
	if (err) {
		if (srv->ops.detach)
			srv->ops.detach(srv->ops.ctx, ep.host_ifname);
		return reply_err("write endpoints map entry of %s (%s): %s",
				 ep.ip, ep.host_ifname, strerror(-err));
	}
	err = ep_save(srv, &ep);
	if (err) {
		ep_map_clear(srv, ep.ip);
		if (srv->ops.detach)
			srv->ops.detach(srv->ops.ctx, ep.host_ifname);
		return reply_err("record endpoint in %s: %s", srv->dir,
				 strerror(-err));
	}
	pr_info("endpoint %s/%s: %s on %s (pod %s/%s)", id, ifname, ep.ip,
		ep.host_ifname, ep.pod_namespace, ep.pod_name);
	*added = ep;
	return reply_ok();
}

/*
 * The recorded endpoint a del/check names. Returns a reply on error; NULL
 * with *err = -ENOENT for an unknown one, *err = 0 with ep filled.
 */
static json_object *req_endpoint(struct berth_endpoint_server *srv,
				 json_object *req, const char *op,
				 struct berth_cni_endpoint *ep, int *err)
{
	const char *id, *ifname;
	json_object *r;

	if ((r = req_key(req, &id, &ifname)))
		return r;
	*err = ep_load(srv, id, ifname, ep);
	if (*err && *err != -ENOENT)
		return reply_err("%s: read endpoint %s/%s: %s", op, id, ifname,
				 strerror(-*err));
	if (*err) /* keep the key for the caller's messages */
		snprintf(ep->container_id, sizeof(ep->container_id), "%s/%s",
			 id, ifname);
	return NULL;
}

static json_object *handle_del(struct berth_endpoint_server *srv,
			       json_object *req)
{
	struct berth_cni_endpoint ep;
	json_object *r;
	int err;

	if ((r = req_endpoint(srv, req, "del", &ep, &err)))
		return r;
	if (err == -ENOENT)
		return reply_ok();
	ep_forget(srv, &ep, true);
	pr_info("endpoint %s/%s: removed", ep.container_id, ep.ifname);
	return reply_ok();
}

static json_object *handle_check(struct berth_endpoint_server *srv,
				 json_object *req)
{
	struct berth_cni_endpoint ep;
	const char *id, *ifname;
	json_object *r;
	int err;

	if ((r = req_endpoint(srv, req, "check", &ep, &err)))
		return r;
	if (err)
		return reply_err("endpoint %s: not registered",
				 ep.container_id);
	id = ep.container_id;
	ifname = ep.ifname;
	if (!if_nametoindex(ep.host_ifname))
		return reply_err("endpoint %s/%s: host interface %s: %s", id,
				 ifname, ep.host_ifname, strerror(errno));
	if (srv->ops.attached) {
		err = srv->ops.attached(srv->ops.ctx, ep.host_ifname);
		if (err <= 0)
			return reply_err("endpoint %s/%s: datapath not attached to %s%s%s",
					 id, ifname, ep.host_ifname,
					 err ? ": " : "",
					 err ? strerror(-err) : "");
	}
	return reply_ok();
}

/*
 * Records in the table, by name: the CNI plugin asks STATUS before every
 * ADD, and parsing every record there made a burst's ADDs O(n) each.
 */
static int count_records(struct berth_endpoint_server *srv)
{
	DIR *d = opendir(srv->dir);
	struct dirent *de;
	int n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		size_t len = strlen(de->d_name);

		n += len >= 6 && !strcmp(de->d_name + len - 5, ".json");
	}
	closedir(d);
	return n;
}

static json_object *handle_status(struct berth_endpoint_server *srv)
{
	char cidr[64] = "";
	json_object *r = reply_ok();
	int n = 0;

	if (srv->ops.pod_cidr)
		srv->ops.pod_cidr(srv->ops.ctx, cidr, sizeof(cidr));
	else
		snprintf(cidr, sizeof(cidr), "%s", srv->pod_cidr);
	n = count_records(srv);
	json_object_object_add(r, "podCIDR", json_object_new_string(cidr));
	json_object_object_add(r, "endpoints", json_object_new_int(n));
	if (srv->mtu)
		json_object_object_add(r, "mtu", json_object_new_int(srv->mtu));
	return r;
}

struct gc_arg {
	json_object *valid;
	int removed;
};

static int gc_one(struct berth_endpoint_server *srv, struct berth_cni_endpoint *ep,
		  void *arg)
{
	struct gc_arg *g = arg;
	size_t n = json_object_array_length(g->valid);

	for (size_t i = 0; i < n; i++) {
		json_object *v = json_object_array_get_idx(g->valid, i);
		const char *id = jstr(v, "containerID");
		const char *ifn = jstr(v, "ifname");

		if (id && !strcmp(id, ep->container_id) &&
		    (!ifn || !strcmp(ifn, ep->ifname)))
			return 0;
	}
	pr_info("endpoint %s/%s: not among valid attachments, removed",
		ep->container_id, ep->ifname);
	ep_forget(srv, ep, true);
	g->removed++;
	return 0;
}

static json_object *handle_gc(struct berth_endpoint_server *srv,
			      json_object *req)
{
	struct gc_arg g = { 0 };
	json_object *r;

	if (!json_object_object_get_ex(req, "valid", &g.valid) ||
	    !json_object_is_type(g.valid, json_type_array))
		return reply_err("gc: \"valid\" must be an array");
	ep_each(srv, gc_one, &g);
	r = reply_ok();
	json_object_object_add(r, "removed", json_object_new_int(g.removed));
	return r;
}

/* FNV-1a of "containerID/ifname": which key lock a request takes */
static pthread_mutex_t *key_lock(struct berth_endpoint_server *srv,
				 const char *id, const char *ifname)
{
	uint32_t h = 2166136261u;
	const char *parts[] = { id, "/", ifname };

	for (size_t i = 0; i < 3; i++)
		for (const char *c = parts[i]; *c; c++)
			h = (h ^ (unsigned char)*c) * 16777619u;
	return &srv->keys[h % EP_KEY_STRIPES];
}

/* One key's request under the shared table lock and that key's lock. */
static json_object *handle_one(struct berth_endpoint_server *srv,
			       json_object *req, const char *op,
			       struct berth_cni_endpoint *added)
{
	const char *id, *ifname;
	pthread_mutex_t *kl;
	json_object *r;

	if ((r = req_key(req, &id, &ifname)))
		return r;
	kl = key_lock(srv, id, ifname);
	pthread_rwlock_rdlock(&srv->table);
	pthread_mutex_lock(kl);
	if (!strcmp(op, "add"))
		r = handle_add(srv, req, added);
	else if (!strcmp(op, "del"))
		r = handle_del(srv, req);
	else
		r = handle_check(srv, req);
	pthread_mutex_unlock(kl);
	pthread_rwlock_unlock(&srv->table);
	return r;
}

/* GC: the whole table, alone (STATUS only counts names: shared). */
static json_object *handle_all(struct berth_endpoint_server *srv,
			       json_object *req, const char *op)
{
	bool gc = !strcmp(op, "gc");
	json_object *r;

	if (gc)
		pthread_rwlock_wrlock(&srv->table);
	else
		pthread_rwlock_rdlock(&srv->table);
	r = gc ? handle_gc(srv, req) : handle_status(srv);
	pthread_rwlock_unlock(&srv->table);
	return r;
}

char *berth_endpoint_handle(struct berth_endpoint_server *srv,
			    const char *request)
{
	json_object *req = json_tokener_parse(request), *r;
	struct berth_cni_endpoint added = { 0 };
	const char *op;
	char *out;

	if (!req || !json_object_is_type(req, json_type_object))
		r = reply_err("request is not a JSON object");
	else if (!(op = jstr(req, "op")))
		r = reply_err("request has no \"op\"");
	else if (!strcmp(op, "add") || !strcmp(op, "del") ||
		 !strcmp(op, "check"))
		r = handle_one(srv, req, op, &added);
	else if (!strcmp(op, "status") || !strcmp(op, "gc"))
		r = handle_all(srv, req, op);
	else
		r = reply_err("unknown op \"%s\"", op);
	/* the answer waits for it, other requests do not */
	if (added.container_id[0] && srv->added)
		srv->added(srv->added_ctx, &added);
	out = strdup(json_object_to_json_string_ext(r, JSON_C_TO_STRING_PLAIN));
	json_object_put(r);
	json_object_put(req);
	return out;
}

int berth_endpoint_lookup(struct berth_endpoint_server *srv,
			  const char *container_id, const char *ifname,
			  struct berth_cni_endpoint *out)
{
	pthread_mutex_t *kl;
	int err;

	if (!valid_id(container_id) || !valid_ifname(ifname))
		return -EINVAL;
	kl = key_lock(srv, container_id, ifname);
	pthread_rwlock_rdlock(&srv->table);
	pthread_mutex_lock(kl);
	err = ep_load(srv, container_id, ifname, out);
	pthread_mutex_unlock(kl);
	pthread_rwlock_unlock(&srv->table);
	return err;
}

/* ---- the socket ---- */

static void serve_conn(struct berth_endpoint_server *srv, int c)
{
	struct timeval tv = { .tv_sec = EP_IO_TIMEOUT_S };
	char *buf = malloc(BERTH_EP_MAX_MSG + 1), *reply;
	size_t len = 0, off = 0;
	ssize_t n;

	setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(c, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (!buf)
		return;
	while (len < BERTH_EP_MAX_MSG &&
	       (n = read(c, buf + len, BERTH_EP_MAX_MSG - len)) > 0) {
		len += n;
		if (buf[len - 1] == '\n')
			break;
	}
	buf[len] = '\0';
	{
		struct timespec t0, t1;

		clock_gettime(CLOCK_MONOTONIC, &t0);
		reply = berth_endpoint_handle(srv, buf);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		pr_debug("endpoint: request handled in %ld us",
			 (t1.tv_sec - t0.tv_sec) * 1000000L +
				 (t1.tv_nsec - t0.tv_nsec) / 1000);
	}
	free(buf);
	if (!reply)
		return;
	len = strlen(reply);
	while (off < len && (n = write(c, reply + off, len - off)) > 0)
		off += n;
	free(reply);
}

struct conn {
	struct berth_endpoint_server *srv;
	int fd;
};

static void *conn_main(void *arg)
{
	struct conn *c = arg;
	struct berth_endpoint_server *srv = c->srv;

	serve_conn(srv, c->fd);
	close(c->fd);
	free(c);
	pthread_mutex_lock(&srv->conns_mu);
	srv->nconns--;
	pthread_cond_broadcast(&srv->conns_cv);
	pthread_mutex_unlock(&srv->conns_mu);
	return NULL;
}

/* in a thread of its own, or here when there are too many (or no memory) */
static void serve_async(struct berth_endpoint_server *srv, int fd)
{
	struct conn *c = malloc(sizeof(*c));
	pthread_attr_t at;
	pthread_t t;
	bool room;

	pthread_mutex_lock(&srv->conns_mu);
	room = srv->nconns < EP_MAX_CONNS;
	if (room && c)
		srv->nconns++;
	pthread_mutex_unlock(&srv->conns_mu);
	if (room && c) {
		c->srv = srv;
		c->fd = fd;
		pthread_attr_init(&at);
		pthread_attr_setstacksize(&at, EP_CONN_STACK);
		pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
		room = !pthread_create(&t, &at, conn_main, c);
		pthread_attr_destroy(&at);
		if (room)
			return;
		pthread_mutex_lock(&srv->conns_mu);
		srv->nconns--;
		pthread_mutex_unlock(&srv->conns_mu);
	}
	free(c);
	serve_conn(srv, fd);
	close(fd);
}

/* the connections' threads are done (each is bounded by its I/O timeouts
 * and the policy wait) */
static void conns_wait(struct berth_endpoint_server *srv)
{
	pthread_mutex_lock(&srv->conns_mu);
	while (srv->nconns)
		pthread_cond_wait(&srv->conns_cv, &srv->conns_mu);
	pthread_mutex_unlock(&srv->conns_mu);
}

static void *serve(void *arg)
{
	struct berth_endpoint_server *srv = arg;
	struct pollfd pfd[2] = { { .fd = srv->fd, .events = POLLIN },
				 { .fd = srv->stop[0], .events = POLLIN } };

	for (;;) {
		int c;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			pr_err("endpoint socket: poll: %s", strerror(errno));
			return NULL;
		}
		if (pfd[1].revents)
			return NULL;
		c = accept4(srv->fd, NULL, NULL, SOCK_CLOEXEC);
		if (c < 0)
			continue;
		serve_async(srv, c);
	}
}

/* The pod IPs the table names after a restore (network order). */
struct restored {
	uint32_t *ips;
	size_t n, cap;
};

static void restored_add(struct restored *rs, const char *ipstr)
{
	struct in_addr ip;
	uint32_t *p;

	if (inet_pton(AF_INET, ipstr, &ip) != 1)
		return;
	if (rs->n == rs->cap) {
		rs->cap = rs->cap ? 2 * rs->cap : 64;
		p = realloc(rs->ips, rs->cap * sizeof(*p));
		if (!p)
			return;
		rs->ips = p;
	}
	rs->ips[rs->n++] = ip.s_addr;
}

static int restore_one(struct berth_endpoint_server *srv,
		       struct berth_cni_endpoint *ep, void *arg)
{
	int err;

	if (!if_nametoindex(ep->host_ifname)) {
		pr_info("endpoint %s/%s: %s is gone, forgotten",
			ep->container_id, ep->ifname, ep->host_ifname);
		ep_forget(srv, ep, false);
		return 0;
	}
	if (srv->ops.attach) {
		err = srv->ops.attach(srv->ops.ctx, ep->host_ifname);
		if (err)
			pr_warn("endpoint %s/%s: re-attach to %s: %s",
				ep->container_id, ep->ifname, ep->host_ifname,
				strerror(-err));
	}
	err = ep_map_set(srv, ep);
	if (err)
		pr_warn("endpoint %s/%s: endpoints map entry of %s: %s",
			ep->container_id, ep->ifname, ep->ip, strerror(-err));
	restored_add(arg, ep->ip);
	return 0;
}

/* Entries of pods the table no longer names (the agent was down when
 * they went). The walk is bounded by the map's size. */
static void prune_map(struct berth_endpoint_server *srv,
		      const struct restored *rs)
{
	size_t cap = srv->epmap ? srv->epmap->max_entries : 0, n = 0, i, j;
	uint32_t *keys, key, *prev = NULL;

	if (!cap || !(keys = calloc(cap, sizeof(*keys))))
		return;
	while (n < cap && !srv->epmap->next_key(srv->epmap, prev, &keys[n])) {
		key = keys[n++];
		prev = &key;
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < rs->n && rs->ips[j] != keys[i]; j++)
			;
		if (j < rs->n)
			continue;
		srv->epmap->delete (srv->epmap, &keys[i]);
		pr_info("endpoints map: %s has no endpoint, removed",
			inet_ntoa((struct in_addr){ keys[i] }));
	}
	free(keys);
}

static int listen_unix(const char *path)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	mode_t old;
	int fd, err;

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	unlink(path); /* a previous agent's; only one agent owns a root */
	old = umask(0177);
	err = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
	umask(old);
	if (err || chmod(path, 0600) || listen(fd, 64)) {
		err = -errno;
		close(fd);
		return err;
	}
	if (chown(path, 0, 0) && geteuid() == 0)
		pr_warn("chown %s to root: %s", path, strerror(errno));
	return fd;
}

int berth_endpoint_server_start(const struct berth_endpoint_config *cfg,
				struct berth_endpoint_server **out)
{
	struct berth_endpoint_server *srv;
	sigset_t all, old;
	int n, err;

	if (!cfg->root)
		return -EINVAL;
	srv = calloc(1, sizeof(*srv));
	if (!srv)
		return -ENOMEM;
	srv->fd = srv->stop[0] = srv->stop[1] = -1;
	{
		pthread_rwlockattr_t a;

		/* GC must not starve behind a stream of ADDs */
		pthread_rwlockattr_init(&a);
		pthread_rwlockattr_setkind_np(
			&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&srv->table, &a);
		pthread_rwlockattr_destroy(&a);
	}
	for (size_t i = 0; i < EP_KEY_STRIPES; i++)
		pthread_mutex_init(&srv->keys[i], NULL);
	pthread_mutex_init(&srv->conns_mu, NULL);
	pthread_cond_init(&srv->conns_cv, NULL);
	srv->ops = cfg->ops;
	srv->added = cfg->added;
	srv->added_ctx = cfg->added_ctx;
	srv->mtu = cfg->mtu;
	if (cfg->endpoints && cfg->endpoints->update)
		srv->epmap = cfg->endpoints;
	else if (cfg->endpoints)
		pr_info("endpoints map not in this datapath: pod entries not written");
	snprintf(srv->pod_cidr, sizeof(srv->pod_cidr), "%s",
		 cfg->pod_cidr ? cfg->pod_cidr : "");
	n = snprintf(srv->dir, sizeof(srv->dir), "%s/endpoints", cfg->root);
	if (cfg->socket_path)
		err = snprintf(srv->sock, sizeof(srv->sock), "%s",
			       cfg->socket_path);
	else
		err = snprintf(srv->sock, sizeof(srv->sock), "%s/%s",
			       cfg->root, BERTH_EP_SOCK_NAME);
	if (n >= (int)sizeof(srv->dir) || err >= (int)sizeof(srv->sock)) {
		pr_err("endpoint socket: path too long under %s", cfg->root);
		err = -ENAMETOOLONG;
		goto fail;
	}
	if (mkdir(cfg->root, 0755) && errno != EEXIST) {
		err = -errno;
		pr_err("create %s: %s", cfg->root, strerror(errno));
		goto fail;
	}
	if (mkdir(srv->dir, 0700) && errno != EEXIST) {
		err = -errno;
		pr_err("create %s: %s", srv->dir, strerror(errno));
		goto fail;
	}
	{
		struct restored rs = { 0 };

		ep_each(srv, restore_one, &rs);
		prune_map(srv, &rs);
		free(rs.ips);
	}
	srv->fd = listen_unix(srv->sock);
	if (srv->fd < 0) {
		err = srv->fd;
		pr_err("listen on %s: %s", srv->sock, strerror(-err));
		goto fail;
	}
	if (pipe2(srv->stop, O_CLOEXEC)) {
		err = -errno;
		pr_err("endpoint socket: pipe: %s", strerror(errno));
		goto fail;
	}
	/* signals stay with the agent's main thread (its signalfd) */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	err = -pthread_create(&srv->thread, NULL, serve, srv);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (err) {
		pr_err("endpoint socket: start thread: %s", strerror(-err));
		goto fail;
	}
	srv->thread_started = true;
	pr_info("endpoint socket %s (table %s)", srv->sock, srv->dir);
	*out = srv;
	return 0;
fail:
	berth_endpoint_server_stop(srv);
	return err;
}

void berth_endpoint_server_stop(struct berth_endpoint_server *srv)
{
	if (!srv)
		return;
	if (srv->thread_started) {
		if (write(srv->stop[1], "x", 1) < 0)
			pr_warn("endpoint socket: stop: %s", strerror(errno));
		pthread_join(srv->thread, NULL);
		conns_wait(srv);
	}
	if (srv->fd >= 0) {
		close(srv->fd);
		unlink(srv->sock);
	}
	if (srv->stop[0] >= 0) {
		close(srv->stop[0]);
		close(srv->stop[1]);
	}
	pthread_rwlock_destroy(&srv->table);
	for (size_t i = 0; i < EP_KEY_STRIPES; i++)
		pthread_mutex_destroy(&srv->keys[i]);
	pthread_mutex_destroy(&srv->conns_mu);
	pthread_cond_destroy(&srv->conns_cv);
	free(srv);
}
