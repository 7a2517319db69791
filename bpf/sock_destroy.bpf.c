// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * UDP socket iterator that aborts connected UDP sockets the socket LB
 * pointed at a backend that is gone, so the application sees an error
 * (ECONNABORTED) and connects again instead of sending into the void.
 * Needs the bpf_sock_destroy kfunc (6.5+): loaded apart from sock.bpf.c so
 * the socket LB itself still loads on older kernels.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "lib/sock.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

int bpf_sock_destroy(struct sock_common *sk) __ksym;

/* The backend whose sockets go; set by the loader before each walk. */
__be32 target_ip;
__be16 target_port;
/* Sockets destroyed by the last walk. */
__u32 destroyed;

SEC("iter/udp")
int sock_destroy_udp(struct bpf_iter__udp *ctx)
{
	struct sock *sk = (struct sock *)ctx->udp_sk;
	struct berth_sock_rev_key key = {};

	if (!sk)
		return 0;
	if (sk->__sk_common.skc_daddr != target_ip ||
	    sk->__sk_common.skc_dport != target_port)
		return 0;
	/* only sockets the socket LB connected, never one aimed there directly */
	key.cookie = bpf_get_socket_cookie(sk);
	key.ip = target_ip;
	key.port = target_port;
	if (!bpf_map_lookup_elem(&sock_rev, &key))
		return 0;
	if (!bpf_sock_destroy((struct sock_common *)sk))
		destroyed++;
	return 0;
}
