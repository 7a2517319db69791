/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The node's own line of defence: a pod that asks for the host's network,
 * PID or IPC namespace, or a privileged container, runs only in a
 * namespace labelled pod-security.kubernetes.io/enforce=privileged.
 */
#ifndef BERTH_AGENT_PODHOST_H
#define BERTH_AGENT_PODHOST_H

#include <stddef.h>

#include <json-c/json.h>

#define BERTH_PSA_ENFORCE_LABEL "pod-security.kubernetes.io/enforce"
#define BERTH_PODHOST_REASON "Forbidden"

struct berth_kube;

/*
 * The first host-level field pod asks for ("spec.hostNetwork",
 * "spec.containers[web].securityContext.privileged") into field, or
 * field[0] = 0 when none. Returns field.
 */
const char *berth_pod_host_field(json_object *pod, char *field, size_t size);

/*
 * 0: pod may run (asks for nothing, or its namespace allows it);
 * -EPERM with msg naming the field; -EAGAIN when the namespace could not
 * be read (msg says so; the caller retries).
 */
int berth_pod_host_check(struct berth_kube *k, json_object *pod, char *msg,
			 size_t size);

#endif
