// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * berth-cni: the CNI plugin (spec 1.0/1.1). Reads the network config on
 * stdin and CNI_* from the environment, answers on stdout: a result, or
 * an error object with exit status 1.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agentclient.h"
#include "config.h"
#include "ipam.h"
#include "link.h"
#include "result.h"

#define MAX_STDIN (1 << 20)

struct cmd {
	struct berth_cni_conf conf;
	struct berth_cni_err err;
	const char *id, *netns, *ifname, *args;
	char host[16];
};

static int fail(struct cmd *c, int code, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static int fail(struct cmd *c, int code, const char *fmt, ...)
{
	va_list ap;

	c->err.code = code;
	va_start(ap, fmt);
	vsnprintf(c->err.msg, sizeof(c->err.msg), fmt, ap);
	va_end(ap);
	return -1;
}

static void print_json(json_object *o)
{
	puts(json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY));
	json_object_put(o);
}

static char *read_stdin(void)
{
	size_t len = 0, cap = 4096;
	char *buf = malloc(cap);
	size_t n;

	while (buf && (n = fread(buf + len, 1, cap - len - 1, stdin)) > 0) {
		len += n;
		if (len + 1 == cap) {
			char *nb = cap < MAX_STDIN ? realloc(buf, cap * 2) : NULL;

			if (!nb) {
				free(buf);
				return NULL;
			}
			buf = nb;
			cap *= 2;
		}
	}
	if (buf)
		buf[len] = '\0';
	return buf;
}

static bool valid_id(const char *s)
{
	if (!s || !*s || strlen(s) > 255)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("_.-", *s))
			return false;
	return true;
}

static bool valid_ifname(const char *s)
{
	if (!s || !*s || strlen(s) >= IFNAMSIZ)
		return false;
	for (; *s; s++)
		if (*s == '/' || *s == ':' || (unsigned char)*s <= ' ')
			return false;
	return true;
}

/* CNI_CONTAINERID and CNI_IFNAME, and CNI_NETNS if need_netns */
static int need_env(struct cmd *c, bool need_netns)
{
	c->id = getenv("CNI_CONTAINERID");
	c->ifname = getenv("CNI_IFNAME");
	c->netns = getenv("CNI_NETNS");
	c->args = getenv("CNI_ARGS");
	if (!valid_id(c->id))
		return fail(c, CNI_ERR_INVALID_ENV,
			    "CNI_CONTAINERID missing or not [A-Za-z0-9_.-]{1,255}");
	if (!valid_ifname(c->ifname))
		return fail(c, CNI_ERR_INVALID_ENV,
			    "CNI_IFNAME missing or not an interface name");
	if (need_netns && (!c->netns || !*c->netns))
		return fail(c, CNI_ERR_INVALID_ENV, "CNI_NETNS is required");
	berth_cni_host_ifname(c->id, c->ifname, c->host);
	return 0;
}

static const char *ipstr(uint32_t ip, char buf[INET_ADDRSTRLEN])
{
	struct in_addr a = { .s_addr = htonl(ip) };

	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/* Ask the agent for its status; fills the podCIDR if the config has none,
 * and the MTU (in a cluster: the tunnel's) if the config sets none. */
static int agent_status(struct cmd *c, int code)
{
	json_object *req = json_object_new_object(), *reply = NULL, *v;
	char msg[512];
	int err;

	json_object_object_add(req, "op", json_object_new_string("status"));
	err = berth_cni_agent_ok(c->conf.agent_socket, req, &reply, msg,
				 sizeof(msg));
	json_object_put(req);
	if (err) {
		json_object_put(reply);
		return fail(c, code, "%s", msg);
	}
	if (!c->conf.pod_cidr[0] &&
	    json_object_object_get_ex(reply, "podCIDR", &v)) {
		snprintf(c->conf.pod_cidr, sizeof(c->conf.pod_cidr), "%s",
			 json_object_get_string(v));
	}
	if (!c->conf.mtu_set && json_object_object_get_ex(reply, "mtu", &v) &&
	    json_object_is_type(v, json_type_int) &&
	    json_object_get_int64(v) >= 68 && json_object_get_int64(v) <= 65535)
		c->conf.mtu = json_object_get_int64(v);
	json_object_put(reply);
	if (!c->conf.pod_cidr[0])
		return fail(c, CNI_ERR_INVALID_CONFIG,
			    "no podCIDR: neither ipam.podCIDR nor berth-agent at %s knows one",
			    c->conf.agent_socket);
	return 0;
}

static int agent_simple(struct cmd *c, const char *op, char *msg, size_t len)
{
	json_object *req = json_object_new_object(), *reply = NULL;
	int err;

	json_object_object_add(req, "op", json_object_new_string(op));
	json_object_object_add(req, "containerID",
			       json_object_new_string(c->id));
	json_object_object_add(req, "ifname", json_object_new_string(c->ifname));
	err = berth_cni_agent_ok(c->conf.agent_socket, req, &reply, msg, len);
	json_object_put(req);
	json_object_put(reply);
	return err;
}

static void set_ip_forward(void)
{
	FILE *f = fopen("/proc/sys/net/ipv4/ip_forward", "r+");
	int v = 0;

	if (!f)
		return;
	if (fscanf(f, "%d", &v) == 1 && !v) {
		rewind(f);
		fputs("1\n", f);
	}
	fclose(f);
}

/* Deleting the host side takes the pod side with it; an ifname that was
 * already in the netns (why the create failed) is not ours to delete. */
static void undo_add(struct cmd *c)
{
	char e[256];

	berth_cni_link_del(c->host, e, sizeof(e));
	berth_cni_ipam_release(c->conf.data_dir, c->id, c->ifname);
}

static int cmd_add(struct cmd *c)
{
	char msg[512], host_mac[32] = "", pod_mac[32] = "", ip[INET_ADDRSTRLEN];
	char pod[256] = "", ns[256] = "";
	json_object *req, *reply = NULL, *result, *prev = NULL;
	struct berth_cni_ifaces res;
	uint32_t addr;
	int err;

	if (need_env(c, true))
		return -1;
	if (access(c->netns, F_OK))
		return fail(c, CNI_ERR_INVALID_ENV, "CNI_NETNS %s: %s",
			    c->netns, strerror(errno));
	/* a dead agent fails the ADD before anything is made */
	if (agent_status(c, CNI_ERR_TRY_AGAIN))
		return -1;
	err = berth_cni_ipam_alloc(c->conf.data_dir, c->conf.pod_cidr, c->id,
				   c->ifname, &addr);
	if (err == -ENOSPC)
		return fail(c, CNI_ERR_IPAM_EXHAUSTED,
			    "no free address left in %s", c->conf.pod_cidr);
	if (err)
		return fail(c, CNI_ERR_IO, "allocate from %s in %s: %s",
			    c->conf.pod_cidr, c->conf.data_dir, strerror(-err));
	ipstr(addr, ip);
	err = berth_cni_veth_create(c->host, c->ifname, c->netns,
				    c->conf.mtu, msg, sizeof(msg));
	if (err == -EEXIST) {
		/* a retried ADD starts over from a clean veth; asked only
		 * then: every netlink round trip waits in a burst */
		berth_cni_link_del(c->host, msg, sizeof(msg));
		err = berth_cni_veth_create(c->host, c->ifname, c->netns,
					    c->conf.mtu, msg, sizeof(msg));
	}
	if (!err && berth_cni_link_mac(c->host, host_mac, sizeof(host_mac))) {
		snprintf(msg, sizeof(msg), "read MAC of %s", c->host);
		err = -ENODEV;
	}
	if (!err)
		err = berth_cni_pod_setup(c->netns, c->ifname, addr, host_mac,
					  pod_mac, msg, sizeof(msg));
	if (!err)
		err = berth_cni_host_setup(c->host, addr, pod_mac, msg,
					   sizeof(msg));
	if (err) {
		undo_add(c);
		return fail(c, CNI_ERR_INTERNAL, "set up %s/%s for %s: %s",
			    c->host, c->ifname, ip, msg);
	}
	set_ip_forward();

	berth_cni_args_get(c->args, "K8S_POD_NAME", pod, sizeof(pod));
	berth_cni_args_get(c->args, "K8S_POD_NAMESPACE", ns, sizeof(ns));
	req = json_object_new_object();
#define S(k, v) json_object_object_add(req, k, json_object_new_string(v))
	S("op", "add");
	S("containerID", c->id);
	S("ifname", c->ifname);
	S("netns", c->netns);
	S("hostIfname", c->host);
	S("ip", ip);
	S("mac", pod_mac);
	S("podName", pod);
	S("podNamespace", ns);
#undef S
	err = berth_cni_agent_ok(c->conf.agent_socket, req, &reply, msg,
				 sizeof(msg));
	json_object_put(req);
	json_object_put(reply);
	if (err) {
		undo_add(c);
		return fail(c, err == -EREMOTEIO ? CNI_ERR_INTERNAL :
						   CNI_ERR_TRY_AGAIN,
			    "register endpoint %s: %s", ip, msg);
	}
	res = (struct berth_cni_ifaces){ .host = c->host,
					 .host_mac = host_mac,
					 .ifname = c->ifname,
					 .mac = pod_mac,
					 .netns = c->netns,
					 .ip = addr };
	result = berth_cni_result(c->conf.cni_version, &res);
	json_object_object_get_ex(c->conf.root, "prevResult", &prev);
	print_json(berth_cni_result_merge(prev, result));
	json_object_put(result);
	return 0;
}

static int cmd_del(struct cmd *c)
{
	char msg[512];
	int err;

	if (need_env(c, false))
		return -1;
	/* the agent forgets endpoints whose veth is gone when it restarts,
	 * so a dead agent does not block the pod's removal */
	if (agent_simple(c, "del", msg, sizeof(msg)))
		fprintf(stderr, "berth-cni: DEL %s: %s (continuing)\n", c->id,
			msg);
	err = berth_cni_link_del(c->host, msg, sizeof(msg));
	if (!err)
		err = berth_cni_pod_link_del(c->netns, c->ifname, msg,
					     sizeof(msg));
	if (err)
		return fail(c, CNI_ERR_IO, "DEL %s: %s", c->id, msg);
	err = berth_cni_ipam_release(c->conf.data_dir, c->id, c->ifname);
	if (err)
		return fail(c, CNI_ERR_IO, "release address of %s in %s: %s",
			    c->id, c->conf.data_dir, strerror(-err));
	return 0;
}

static int cmd_check(struct cmd *c)
{
	char msg[512], ip[INET_ADDRSTRLEN];
	uint32_t addr;
	int err;

	if (berth_cni_version_cmp(c->conf.cni_version, "0.4.0") < 0)
		return fail(c, CNI_ERR_INCOMPATIBLE_VERSION,
			    "CHECK needs cniVersion 0.4.0 or later, not %s",
			    c->conf.cni_version);
	if (need_env(c, true))
		return -1;
	err = berth_cni_ipam_find(c->conf.data_dir, c->id, c->ifname, &addr);
	if (err == -ENOENT)
		return fail(c, CNI_ERR_UNKNOWN_CONTAINER,
			    "%s/%s holds no address in %s", c->id, c->ifname,
			    c->conf.data_dir);
	if (err)
		return fail(c, CNI_ERR_IO, "read %s: %s", c->conf.data_dir,
			    strerror(-err));
	if (!if_nametoindex(c->host))
		return fail(c, CNI_ERR_UNKNOWN_CONTAINER,
			    "host veth %s of %s: %s", c->host, c->id,
			    strerror(errno));
	err = berth_cni_pod_check(c->netns, c->ifname, addr, msg, sizeof(msg));
	if (err)
		return fail(c, CNI_ERR_INTERNAL, "CHECK %s (%s): %s", c->id,
			    ipstr(addr, ip), msg);
	err = agent_simple(c, "check", msg, sizeof(msg));
	if (err)
		return fail(c, err == -EREMOTEIO ? CNI_ERR_INTERNAL :
						   CNI_ERR_TRY_AGAIN,
			    "CHECK %s: %s", c->id, msg);
	return 0;
}

static int cmd_status(struct cmd *c)
{
	size_t free = 0;
	int err;

	if (agent_status(c, CNI_ERR_NOT_AVAILABLE))
		return -1;
	err = berth_cni_ipam_free_count(c->conf.data_dir, c->conf.pod_cidr,
					&free);
	if (err)
		return fail(c, CNI_ERR_NOT_AVAILABLE,
			    "read IPAM state in %s: %s", c->conf.data_dir,
			    strerror(-err));
	if (!free)
		return fail(c, CNI_ERR_NOT_AVAILABLE,
			    "no free address left in %s", c->conf.pod_cidr);
	return 0;
}

static void gc_veth(const char *id, const char *ifname, void *arg)
{
	char host[16], e[256];

	(void)arg;
	berth_cni_host_ifname(id, ifname, host);
	berth_cni_link_del(host, e, sizeof(e));
	fprintf(stderr, "berth-cni: GC released %s/%s\n", id, ifname);
}

static int cmd_gc(struct cmd *c)
{
	struct berth_cni_attachment *valid = NULL;
	json_object *list = NULL, *req, *reply = NULL;
	size_t n = 0, released;
	char msg[512];
	int err;

	if (json_object_object_get_ex(c->conf.root, "cni.dev/valid-attachments",
				      &list) &&
	    !json_object_is_type(list, json_type_array))
		return fail(c, CNI_ERR_INVALID_CONFIG,
			    "cni.dev/valid-attachments must be an array");
	if (list)
		n = json_object_array_length(list);
	valid = calloc(n + 1, sizeof(*valid));
	if (!valid)
		return fail(c, CNI_ERR_INTERNAL, "out of memory");
	for (size_t i = 0; i < n; i++) {
		json_object *a = json_object_array_get_idx(list, i), *v;

		if (!json_object_object_get_ex(a, "containerID", &v) ||
		    !json_object_is_type(v, json_type_string)) {
			free(valid);
			return fail(c, CNI_ERR_INVALID_CONFIG,
				    "cni.dev/valid-attachments[%zu] has no containerID",
				    i);
		}
		valid[i].container_id = json_object_get_string(v);
		if (json_object_object_get_ex(a, "ifname", &v))
			valid[i].ifname = json_object_get_string(v);
	}
	err = berth_cni_ipam_gc(c->conf.data_dir, valid, n, gc_veth, NULL,
				&released);
	free(valid);
	if (err)
		return fail(c, CNI_ERR_IO, "GC of %s: %s", c->conf.data_dir,
			    strerror(-err));
	/* the agent's table: best effort, it also drops vanished veths */
	req = json_object_new_object();
	json_object_object_add(req, "op", json_object_new_string("gc"));
	json_object_object_add(req, "valid",
			       list ? json_object_get(list) :
				      json_object_new_array());
	if (berth_cni_agent_ok(c->conf.agent_socket, req, &reply, msg,
			       sizeof(msg)))
		fprintf(stderr, "berth-cni: GC: %s\n", msg);
	json_object_put(req);
	json_object_put(reply);
	return 0;
}

int main(void)
{
	const char *command = getenv("CNI_COMMAND");
	struct cmd c = { 0 };
	char *in;
	int ret;

	if (!command || !*command) {
		fail(&c, CNI_ERR_INVALID_ENV, "CNI_COMMAND is not set");
		print_json(berth_cni_error(NULL, &c.err));
		return 1;
	}
	in = read_stdin();
	if (!in) {
		fail(&c, CNI_ERR_IO, "read network config from stdin: %s",
		     strerror(errno ? errno : ENOMEM));
		print_json(berth_cni_error(NULL, &c.err));
		return 1;
	}
	if (!strcmp(command, "VERSION")) {
		json_object *o = json_tokener_parse(in), *v = NULL;

		if (o)
			json_object_object_get_ex(o, "cniVersion", &v);
		print_json(berth_cni_version_reply(v ? json_object_get_string(v) :
						       NULL));
		json_object_put(o);
		free(in);
		return 0;
	}
	if (berth_cni_conf_parse(in, &c.conf, &c.err)) {
		free(in);
		print_json(berth_cni_error(NULL, &c.err));
		return 1;
	}
	free(in);
	if (!strcmp(command, "ADD"))
		ret = cmd_add(&c);
	else if (!strcmp(command, "DEL"))
		ret = cmd_del(&c);
	else if (!strcmp(command, "CHECK"))
		ret = cmd_check(&c);
	else if (!strcmp(command, "STATUS"))
		ret = cmd_status(&c);
	else if (!strcmp(command, "GC"))
		ret = cmd_gc(&c);
	else
		ret = fail(&c, CNI_ERR_INVALID_ENV,
			   "CNI_COMMAND %s is not ADD, DEL, CHECK, STATUS, GC or VERSION",
			   command);
	if (ret)
		print_json(berth_cni_error(c.conf.cni_version, &c.err));
	berth_cni_conf_free(&c.conf);
	return ret ? 1 : 0;
}
