/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node's client certificate, as the kubelet's TLS bootstrap: with a
 * bootstrap kubeconfig (a bootstrap token), ask the API server for a
 * certificate for system:node:NAME (an ECDSA key made here, a
 * CertificateSigningRequest the server auto-approves), write the target
 * kubeconfig (0600) that uses it, and renew it before it runs out.
 */
#ifndef BERTH_AGENT_NODECERT_H
#define BERTH_AGENT_NODECERT_H

#include <stdbool.h>
#include <stddef.h>

#define BERTH_NODECERT_WAIT_S 60 /* for the server to sign */
#define BERTH_NODECERT_RENEW_PCT 20 /* renew in the last 20% of its life */

struct berth_nodecert;

/*
 * Does target hold a certificate for node with more than 20% of its life
 * left? (false if missing or unreadable)
 */
bool berth_nodecert_valid(const char *target, const char *node);

/*
 * Make target valid: nothing if it is; else a new certificate through
 * the credentials of target itself (renewal) or of bootstrap. -errno with
 * err set.
 */
int berth_nodecert_ensure(const char *bootstrap, const char *target,
			  const char *node, char *err, size_t len);

/* A thread that renews target in time; the clients' next connection uses
 * the new certificate (target names one PEM file holding cert and key). */
int berth_nodecert_start(const char *bootstrap, const char *target,
			 const char *node, struct berth_nodecert **out);
void berth_nodecert_stop(struct berth_nodecert *nc);

#endif
