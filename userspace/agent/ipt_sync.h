/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The iptables dataplane's applier: ipt_render's text through one
 * `iptables-nft-restore -w --noflush` per sync (fork/exec, text on stdin),
 * in the caller's network namespace.
 *
 * - A failed restore is logged with iptables' own message and the sync is
 *   tried again at once as a full one (every chain written); if that fails
 *   too, the error goes back to the caller, who retries later.
 * - Every full_sync_s a check: the kernel's BERTH- nat chains
 *   (iptables-save) against what was written, by rule count; a chain that
 *   is gone or changed is rewritten, stale ones are deleted, and the jumps
 *   from the built-in chains are checked (-C) and put back: that repairs
 *   rules someone else deleted without rewriting 20,000 chains a minute.
 *   A full sync (every chain rewritten, the same checks) runs first, after
 *   a failed restore, and when asked (SIGHUP).
 * - After a good sync, UDP flows to endpoints that left a frontend are
 *   deleted from conntrack (`conntrack -D`), so clients do not keep
 *   sending to a gone pod.
 *
 * One backend throughout (rules of one are invisible to the other), nft by
 * default: Debian 12's `iptables`, so the agent's rules sit with those of
 * the tools pods chain to (the portmap CNI plugin), and the x_tables
 * kernel side of legacy is optional in recent kernels
 * (IP_NF_IPTABLES_LEGACY). legacy (--iptables-backend) is for scale:
 * iptables-nft-restore 1.8.9 takes ~15 s to load 10,000 Services (20,000
 * chains) into an empty table where iptables-legacy-restore takes 0.4 s,
 * and ~1.7 s against 0.3 s for a one-Service change (bench/dataplanes.py).
 */
#ifndef BERTH_AGENT_IPT_SYNC_H
#define BERTH_AGENT_IPT_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <berth/service.h>

#include "ipt_render.h"

#define BERTH_IPT_FULL_SYNC_S 60 /* check: repairs what others deleted */
#define BERTH_IPT_EXEC_TIMEOUT_MS 30000 /* iptables -w waits for the lock */

enum berth_ipt_backend {
	BERTH_IPT_NFT = 0,
	BERTH_IPT_LEGACY,
};

enum berth_ipt_tool {
	BERTH_IPT_TOOL_IPTABLES = 0,
	BERTH_IPT_TOOL_RESTORE,
	BERTH_IPT_TOOL_SAVE,
};

/* The backend of every iptables command the agent runs; before the first
 * sync. "nft"/"legacy" -> backend: berth_ipt_parse_backend, -EINVAL. */
void berth_ipt_set_backend(enum berth_ipt_backend b);
int berth_ipt_parse_backend(const char *s, enum berth_ipt_backend *out);
/* "iptables-nft-restore" and the like, for the backend in use. */
const char *berth_ipt_bin(enum berth_ipt_tool t);

struct berth_ipt_sync_opts {
	uint32_t node_ip; /* network order; 0: no NodePort frontends */
	unsigned int full_sync_s; /* check period; 0: BERTH_IPT_FULL_SYNC_S */
};

struct berth_ipt_sync_stats {
	struct berth_ipt_stats render;
	bool full; /* every chain written */
	bool checked; /* the kernel's chains and jumps were checked */
	size_t repaired; /* chains the check found gone or changed */
	unsigned int restores; /* 1, or 2 when a retry was needed */
	unsigned int jumps_added;
	unsigned int ct_flushed; /* conntrack -D runs */
};

struct berth_ipt_sync;

/* -ENOENT if iptables-nft-restore is not installed. */
int berth_ipt_sync_new(const struct berth_ipt_sync_opts *opts,
		       struct berth_ipt_sync **out);
void berth_ipt_sync_free(struct berth_ipt_sync *s);

/* Programs @set. Error text in err (iptables' message). */
int berth_ipt_sync_apply(struct berth_ipt_sync *s,
			 const struct berth_service_set *set,
			 struct berth_ipt_sync_stats *st, char *err,
			 size_t errlen);
/* The next apply is a full one. */
void berth_ipt_sync_request_full(struct berth_ipt_sync *s);
/* Milliseconds until a check (or the first full sync) is due (0: now). */
long berth_ipt_sync_full_due_ms(const struct berth_ipt_sync *s);

/* Pod traffic from @cidr leaving through anything but the tunnel, to
 * outside @cidr, is masqueraded (nat chain BERTH-POD-MASQ). */
int berth_ipt_pod_masquerade(const char *cidr);

/* The table's BERTH- chains and their rule counts (iptables-save), sorted
 * by name; *out malloc'ed. */
int berth_ipt_list_chains(const char *table, struct berth_ipt_kchain **out,
			  size_t *n);

/* FORWARD's first rule jumps to BERTH-POLICY (ipt_policy.h). */
int berth_ipt_policy_jump(void);
/* The names of the "berth-" ipsets; *out (each string too) malloc'ed. */
int berth_ipt_list_sets(char ***out, size_t *n);

/* --uninstall: the jumps and every BERTH- chain go, in both backends. */
int berth_ipt_uninstall(void);

/*
 * Run argv (argv[0] looked up in PATH) with @in on stdin; its stdout
 * (malloc'ed, NUL-terminated) in *out if out is not NULL; stderr's first
 * line in err. Exit status, or -errno when it could not run or ran over
 * BERTH_IPT_EXEC_TIMEOUT_MS (then it is killed).
 */
int berth_ipt_exec(const char *const *argv, const char *in, char **out,
		   char *err, size_t errlen);

#endif
