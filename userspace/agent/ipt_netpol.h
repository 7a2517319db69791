/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The iptables dataplane's NetworkPolicy loop: list+watch Pods,
 * Namespaces, NetworkPolicies and Nodes, and after each burst of changes
 * (and every full_sync_s) compile the policy (identity.h, policy.h: the
 * BPF mode's compiler) and apply it as ipsets and filter chains
 * (ipt_policy.h): `ipset restore`, one iptables-restore --noflush, the
 * jump from FORWARD, and the sets nothing names any more destroyed.
 * A failed sync is retried.
 */
#ifndef BERTH_AGENT_IPT_NETPOL_H
#define BERTH_AGENT_IPT_NETPOL_H

#include <stdint.h>

struct berth_iptnetpol_opts {
	const char *kubeconfig;
	const char *node_name;
	const char *node_ip; /* BERTH_ID_HOST: always allowed */
	unsigned int full_sync_s; /* 0: BERTH_IPT_FULL_SYNC_S */
};

struct berth_iptnetpol;

int berth_iptnetpol_start(const struct berth_iptnetpol_opts *opts,
			  struct berth_iptnetpol **out);
/* Stops the watches; rules and sets stay. NULL is fine. */
void berth_iptnetpol_stop(struct berth_iptnetpol *p);

#endif
