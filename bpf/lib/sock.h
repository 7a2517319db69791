/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The sock_rev map shared by the socket LB programs and the UDP destroyer. */
#ifndef BERTH_BPF_SOCK_H
#define BERTH_BPF_SOCK_H

#include <berth/abi/lb.h>
#include <berth/abi/sock.h>

/* {socket cookie, backend ip, port} -> frontend; connect4/sendmsg4 write */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 65536);
	__type(key, struct berth_sock_rev_key);
	__type(value, struct berth_rev_nat);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} sock_rev SEC(".maps");

#endif
