// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Socket-level load balancing for clients in the node's own network
 * namespace: connect() and sendmsg() to a Service frontend are pointed at a
 * backend before a packet exists, so no packet needs NAT; recvmsg() and
 * getpeername() show the frontend again. Attached to a cgroup (v2).
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "lib/consts.h"
#include "lib/hash.h"
#include "lib/lb.h"
#include "lib/maps.h"
#include "lib/parse.h"
#include "lib/sock.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* {socket cookie, frontend} -> backend id of a UDP socket; sock4_fwd writes */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct berth_sock_fwd_key);
	__type(value, struct berth_sock_fwd_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sock_fwd SEC(".maps");

#define AF_INET 2
#define ECONNREFUSED 111

/* cgroup sock_addr verdicts */
#define SYS_REJECT 0
#define SYS_PROCEED 1

/*
 * The netns cookie of the node's namespace: sockets of other namespaces
 * (pods, which from_pod balances per packet) are left alone. 0: every one.
 */
const volatile __u64 host_netns_cookie;
/*
 * bpf_set_retval() is there (6.1+): a refused connect() fails with
 * ECONNREFUSED like a TCP RST would say, not the EPERM of a bare reject.
 */
const volatile bool have_set_retval;

static __always_inline bool sock_in_scope(struct bpf_sock_addr *ctx)
{
	if (ctx->family != AF_INET)
		return false;
	if (ctx->protocol != IPPROTO_TCP && ctx->protocol != IPPROTO_UDP)
		return false;
	return !host_netns_cookie ||
	       bpf_get_netns_cookie(ctx) == host_netns_cookie;
}

/*
 * The frontend as a packet would carry it. A socket has no source address
 * before the route is chosen, so the client is 0 (the node namespace as
 * one client, for sessionAffinity), and the source port, which only feeds
 * Maglev's hash, is taken from the socket cookie: one socket, one choice.
 */
static __always_inline void sock_flow(struct bpf_sock_addr *ctx, struct pkt4 *p,
				      __u64 cookie)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->daddr = ctx->user_ip4;
	p->dport = (__be16)ctx->user_port;
	p->proto = (__u8)ctx->protocol;
	p->sport = (__be16)hash_mix32((__u32)cookie ^ (__u32)(cookie >> 32));
}

static __always_inline int sock_refuse(void)
{
	if (have_set_retval)
		bpf_set_retval(-ECONNREFUSED);
	return SYS_REJECT;
}

/*
 * The backend a UDP socket already sends this frontend's datagrams to, if
 * it is still in the backends map: like a conntrack entry, it outlives the
 * backend's terminating state but not its deletion.
 */
static __always_inline struct berth_backend *
sock_udp_backend(const struct berth_sock_fwd_key *key, __u32 *id)
{
	struct berth_sock_fwd_val *fwd;
	struct berth_backend *be;

	fwd = bpf_map_lookup_elem(&sock_fwd, key);
	if (!fwd)
		return NULL;
	be = bpf_map_lookup_elem(&backends, &fwd->backend_id);
	if (!be || be->ip != fwd->ip || be->port != fwd->port)
		return NULL;
	*id = fwd->backend_id;
	return be;
}

static __always_inline void
sock_udp_remember(const struct berth_sock_fwd_key *key,
		  const struct berth_backend *be, __u32 id)
{
	struct berth_sock_fwd_val val = {
		.backend_id = id,
		.ip = be->ip,
		.port = be->port,
	};

	bpf_map_update_elem(&sock_fwd, key, &val, BPF_ANY);
}

/*
 * The backend for this socket's flow to the frontend in p: a UDP socket's
 * earlier one, else a new choice. NULL: the connect or send is refused.
 */
static __always_inline struct berth_backend *
sock_backend(const struct pkt4 *p, const struct berth_svc_val *svc,
	     __u64 cookie, __u32 *id)
{
	struct berth_sock_fwd_key key = {
		.cookie = cookie,
		.vip = p->daddr,
		.port = p->dport,
		.proto = p->proto,
	};
	struct berth_backend *be;

	if (p->proto == IPPROTO_UDP) {
		be = sock_udp_backend(&key, id);
		if (be)
			return be;
	}
	if (!svc->count)
		return NULL;
	be = lb_select(p, svc, id);
	if (be && p->proto == IPPROTO_UDP)
		sock_udp_remember(&key, be, *id);
	return be;
}

/* connect4 and sendmsg4: frontend -> backend, remembered for the reverse. */
static __always_inline int sock4_fwd(struct bpf_sock_addr *ctx)
{
	struct berth_sock_rev_key rkey = {};
	struct berth_rev_nat rval = {};
	struct berth_svc_val *svc;
	struct berth_backend *be;
	__u32 backend_id = 0;
	struct pkt4 p;
	__u64 cookie;

	if (!sock_in_scope(ctx))
		return SYS_PROCEED;
	cookie = bpf_get_socket_cookie(ctx);
	sock_flow(ctx, &p, cookie);
	svc = lb_lookup_service(&p);
	if (!svc)
		return SYS_PROCEED;
	be = sock_backend(&p, svc, cookie, &backend_id);
	if (!be)
		return sock_refuse();

	rkey.cookie = cookie;
	rkey.ip = be->ip;
	rkey.port = be->port;
	rval.vip = p.daddr;
	rval.port = p.dport;
	/*
	 * Without the entry the application would see the backend's address
	 * in recvmsg/getpeername; the connection itself still works.
	 */
	bpf_map_update_elem(&sock_rev, &rkey, &rval, BPF_ANY);
	ctx->user_ip4 = be->ip;
	ctx->user_port = (__u32)be->port;
	return SYS_PROCEED;
}

/* recvmsg4 and getpeername4: backend -> the frontend the socket asked for. */
static __always_inline int sock4_rev(struct bpf_sock_addr *ctx)
{
	struct berth_sock_rev_key key = {};
	struct berth_rev_nat *fe;

	if (!sock_in_scope(ctx))
		return SYS_PROCEED;
	key.cookie = bpf_get_socket_cookie(ctx);
	key.ip = ctx->user_ip4;
	key.port = (__be16)ctx->user_port;
	fe = bpf_map_lookup_elem(&sock_rev, &key);
	if (!fe)
		return SYS_PROCEED;
	ctx->user_ip4 = fe->vip;
	ctx->user_port = (__u32)fe->port;
	return SYS_PROCEED;
}

SEC("cgroup/connect4")
int sock_connect4(struct bpf_sock_addr *ctx)
{
	return sock4_fwd(ctx);
}

SEC("cgroup/sendmsg4")
int sock_sendmsg4(struct bpf_sock_addr *ctx)
{
	return sock4_fwd(ctx);
}

SEC("cgroup/recvmsg4")
int sock_recvmsg4(struct bpf_sock_addr *ctx)
{
	return sock4_rev(ctx);
}

SEC("cgroup/getpeername4")
int sock_getpeername4(struct bpf_sock_addr *ctx)
{
	return sock4_rev(ctx);
}
