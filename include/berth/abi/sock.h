/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* Socket-level load balancing (sock.bpf.c): the sock_rev map and the pins. */
#ifndef BERTH_ABI_SOCK_H
#define BERTH_ABI_SOCK_H

#include "types.h"

#define BERTH_MAP_SOCK_REV "sock_rev"
#define BERTH_MAP_SOCK_FWD "sock_fwd"

/*
 * Links of the cgroup programs, pinned next to the maps so that a restarted
 * agent swaps the program inside the link (no moment without one) and
 * --uninstall finds them.
 */
#define BERTH_LINK_CONNECT4 "socklb_connect4"
#define BERTH_LINK_SENDMSG4 "socklb_sendmsg4"
#define BERTH_LINK_RECVMSG4 "socklb_recvmsg4"
#define BERTH_LINK_GETPEERNAME4 "socklb_getpeername4"

/*
 * sock_rev (LRU): {socket cookie, backend ip, backend port} -> the frontend
 * the application asked for (struct berth_rev_nat). Written by connect4 and
 * sendmsg4, read by recvmsg4, getpeername4 and the UDP socket destroyer.
 */
struct berth_sock_rev_key {
	__u64 cookie; /* bpf_get_socket_cookie() */
	__be32 ip;
	__be16 port;
	__u16 pad;
};
BERTH_ABI_SIZE(struct berth_sock_rev_key, 16);

/*
 * sock_fwd (LRU): {socket cookie, frontend} -> backend, so the datagrams
 * of one UDP socket stay on one backend as conntrack keeps a UDP flow,
 * until that backend leaves the backends map. Written and read by
 * connect4 and sendmsg4.
 */
struct berth_sock_fwd_key {
	__u64 cookie;
	__be32 vip;
	__be16 port;
	__u8 proto;
	__u8 pad;
};
BERTH_ABI_SIZE(struct berth_sock_fwd_key, 16);

/* The address too: an id freed and given to another backend is no match. */
struct berth_sock_fwd_val {
	__u32 backend_id;
	__be32 ip;
	__be16 port;
	__u16 pad;
};
BERTH_ABI_SIZE(struct berth_sock_fwd_val, 12);

#endif
