/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Socket-level load balancing (bpf/sock.bpf.c): clients in the node's
 * network namespace reach Service frontends through connect()/sendmsg()
 * rewritten to a backend, with no per-packet NAT. Programs hang off a
 * cgroup v2 through links pinned in the node's pin directory.
 */
#ifndef BERTH_SOCKLB_H
#define BERTH_SOCKLB_H

#include <stdbool.h>
#include <stdint.h>

struct berth_dp;

/*
 * Load the socket LB programs on the node's maps (dp->pin_dir) and attach
 * them to the cgroup v2 directory cgroup_path, for sockets of the calling
 * thread's network namespace. Links already pinned there (an earlier
 * agent) get the new programs in place: there is no moment without them.
 * Links pinned for another cgroup are moved to this one.
 */
int berth_socklb_attach(struct berth_dp *dp, const char *cgroup_path);

/*
 * Detach the socket LB links pinned in pin_dir and remove its pins (the
 * links, sock_rev, sock_fwd), for --uninstall; call it before
 * berth_dp_unpin(). Nothing pinned is not an error.
 */
int berth_socklb_detach(const char *pin_dir);

/* The destroyer of connected UDP sockets whose backend is gone. */
struct berth_socklb;

/*
 * Load the UDP socket destroyer for the node's pins. A kernel without
 * bpf_sock_destroy (before 6.5) gives a handle that says so once in the
 * log and whose berth_socklb_destroy_backend() returns -EOPNOTSUPP.
 * Fails only for lack of memory or a bad pin_dir.
 */
int berth_socklb_open(struct berth_socklb **out, const char *pin_dir);
void berth_socklb_close(struct berth_socklb *sl);
bool berth_socklb_can_destroy(const struct berth_socklb *sl);

/*
 * Abort (ECONNABORTED) the connected UDP sockets of this network namespace
 * that the socket LB pointed at ip:port (network order), once the backend
 * has left the maps. TCP needs nothing: the peer's RST or the timeout ends
 * it. Returns how many were destroyed, or -errno.
 */
int berth_socklb_destroy_backend(struct berth_socklb *sl, uint32_t ip,
				 uint16_t port, uint8_t proto);

#endif
