/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The agent's endpoint socket: berth-cni registers each pod veth here, and
 * the agent attaches the datapath to it before answering.
 *
 * Protocol (unix stream socket, mode 0600, default <root>/agent.sock): one
 * request per connection. The client writes one JSON object and shuts down
 * its write side (or ends the object with a newline); the agent answers
 * with one JSON object and closes. At most BERTH_EP_MAX_MSG bytes each way.
 *
 *   {"op":"add", "containerID":"..", "ifname":"eth0", "netns":"/run/netns/x",
 *    "hostIfname":"lxc0123456789ab", "ip":"10.1.0.5", "mac":"aa:..",
 *    "podName":"..", "podNamespace":".."}
 *        the agent attaches from_pod (tc ingress) and to_pod (tc egress) on
 *        hostIfname, records the endpoint under <root>/endpoints/, replies
 *        {"ok":true} when attached. Adding the same (containerID, ifname)
 *        again replaces the record.
 *   {"op":"del", "containerID":"..", "ifname":".."}
 *        detaches (if the veth still exists) and forgets; an unknown
 *        endpoint is not an error.
 *   {"op":"check", "containerID":"..", "ifname":".."}
 *        {"ok":true} if recorded, the veth exists and the programs are on it.
 *   {"op":"status"}
 *        {"ok":true, "podCIDR":"10.1.0.0/24", "endpoints":N, "mtu":1450}
 *        ("mtu": what pod interfaces should use, when the agent knows it:
 *        the tunnel's MTU in a cluster; berth-cni takes it unless its
 *        config sets "mtu")
 *   {"op":"gc", "valid":[{"containerID":"..","ifname":".."}, ...]}
 *        forgets (and detaches) every endpoint not listed; {"ok":true,
 *        "removed":N}.
 * Errors: {"ok":false, "error":"what failed: why"}.
 *
 * A restarted agent reads <root>/endpoints/, re-attaches to the veths that
 * still exist and drops the records of those that are gone.
 *
 * With an endpoints map (struct berth_endpoint_config.endpoints), add and
 * restore write endpoints[pod IP] = {host veth ifindex, pod MAC, host veth
 * MAC} before answering; del, gc and forgotten records delete it, and a
 * restart removes entries no record names.
 */
#ifndef BERTH_AGENT_ENDPOINT_H
#define BERTH_AGENT_ENDPOINT_H

#include <stddef.h>

#include <berth/mapops.h>

#define BERTH_EP_MAX_MSG 65536
#define BERTH_EP_SOCK_NAME "agent.sock"

/* One pod interface known to the agent. */
struct berth_cni_endpoint {
	char container_id[256];
	char ifname[16];	/* inside the pod */
	char host_ifname[16];	/* host side of the veth */
	char netns[256];
	char ip[64];
	char mac[32];
	char pod_name[256];
	char pod_namespace[256];
};

/*
 * What the server does to an interface. attach/detach return 0 or -errno;
 * attached returns 1 (berth's programs on it), 0 (not), or -errno.
 * berth_endpoint_dp_ops() gives the ones over userspace/lib/datapath.c.
 */
struct berth_endpoint_ops {
	int (*attach)(void *ctx, const char *host_ifname);
	int (*detach)(void *ctx, const char *host_ifname);
	int (*attached)(void *ctx, const char *host_ifname);
	/* the node's podCIDR into buf ("" if unknown); may be NULL */
	int (*pod_cidr)(void *ctx, char *buf, size_t len);
	void *ctx;
};

struct berth_endpoint_config {
	const char *root;	 /* agent root: endpoint table in <root>/endpoints */
	const char *socket_path; /* NULL: <root>/agent.sock */
	const char *pod_cidr;	 /* used when ops.pod_cidr is NULL */
	struct berth_endpoint_ops ops;
	/* the datapath's endpoints map (abi/route.h); NULL or without an
	 * update op (not in this datapath build): not written */
	struct berth_map *endpoints;
	unsigned int mtu; /* pod MTU for the status reply; 0: not said */
	/*
	 * NULL, or called when an endpoint is recorded, before ADD answers
	 * (the containers start after that): the policy agent judges the new
	 * pod now, so it never runs a moment without its NetworkPolicy.
	 */
	void (*added)(void *ctx, const struct berth_cni_endpoint *ep);
	void *added_ctx;
};

struct berth_endpoint_server;
struct berth_dp;

/* ops that attach with berth_dp_attach() and detach with berth_dp_detach(). */
struct berth_endpoint_ops berth_endpoint_dp_ops(struct berth_dp *dp);

/*
 * Restore the table (re-attach what still exists), bind the socket and
 * serve it on a thread of its own. Logs and returns -errno on failure.
 */
int berth_endpoint_server_start(const struct berth_endpoint_config *cfg,
				struct berth_endpoint_server **out);
/* Stop serving, remove the socket; the table and attachments stay. */
void berth_endpoint_server_stop(struct berth_endpoint_server *srv);

/* Look up a recorded endpoint: 0, -ENOENT, or -errno. Thread-safe. */
int berth_endpoint_lookup(struct berth_endpoint_server *srv,
			  const char *container_id, const char *ifname,
			  struct berth_cni_endpoint *out);

/* Handle one request (the JSON text); the reply is malloc'ed JSON. For tests. */
char *berth_endpoint_handle(struct berth_endpoint_server *srv,
			    const char *request);

#endif
