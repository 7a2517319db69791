/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * Container probes (liveness, readiness, startup) and lifecycle hooks:
 * exec through a callback (the runtime's exec), httpGet and tcpSocket from
 * the agent to the pod IP (routable from the node's netns), and the
 * threshold bookkeeping of a probe over time.
 */
#ifndef BERTH_AGENT_PROBE_H
#define BERTH_AGENT_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

enum berth_probe_kind {
	BERTH_PROBE_NONE,
	BERTH_PROBE_EXEC,
	BERTH_PROBE_HTTP,
	BERTH_PROBE_TCP,
};

#define BERTH_PROBE_MAX_ARGS 32
#define BERTH_PROBE_MAX_HEADERS 8

struct berth_probe {
	enum berth_probe_kind kind;
	char *argv[BERTH_PROBE_MAX_ARGS + 1]; /* exec, NULL-ended */
	char host[256]; /* http/tcp: "" means the pod IP */
	int port;
	char path[1024]; /* http */
	bool https;
	char *headers[BERTH_PROBE_MAX_HEADERS + 1]; /* "Name: value" */
	/* timing, with Kubernetes' defaults filled in */
	unsigned int initial_delay_s; /* 0 */
	unsigned int period_s; /* 10 */
	unsigned int timeout_s; /* 1 */
	unsigned int success_threshold; /* 1 */
	unsigned int failure_threshold; /* 3 */
	long termination_grace_s; /* -1: the pod's */
};

/*
 * Parse a Probe (or a lifecycle handler: exec/httpGet/tcpSocket with no
 * timing) of @container; named ports are looked up in its ports. An absent
 * probe (NULL) gives kind NONE. -EINVAL with a message on bad input.
 */
int berth_probe_parse(json_object *probe, json_object *container,
		      struct berth_probe *out, char *err, size_t errlen);
void berth_probe_free(struct berth_probe *p);

/* Runs argv in the container; 0 and its exit code, or -errno
 * (-ETIMEDOUT). Matches berth_container_exec without rt and id. */
typedef int (*berth_probe_exec_fn)(void *arg, const char *const *argv,
				   unsigned int timeout_ms, int *exit_code,
				   char *out, size_t outlen);

/*
 * One probe attempt against @pod_ip: 1 success, 0 failure (msg says why:
 * "HTTP probe failed with statuscode: 500", "dial tcp ...: connection
 * refused", "command ... exited with 1").
 */
int berth_probe_run(const struct berth_probe *p, const char *pod_ip,
		    berth_probe_exec_fn exec, void *exec_arg, char *msg,
		    size_t msglen);

/* A probe's state over time (times in ms, CLOCK_MONOTONIC). */
struct berth_prober {
	const struct berth_probe *p;
	uint64_t next_ms; /* next attempt due */
	unsigned int successes, failures; /* consecutive */
	bool result; /* current outcome after thresholds */
	bool known; /* at least one outcome decided */
};

/* @started_ms: when the container started; @initial: the result before
 * any attempt (readiness false, liveness true) */
void berth_prober_init(struct berth_prober *pr, const struct berth_probe *p,
		       uint64_t started_ms, bool initial);
bool berth_prober_due(const struct berth_prober *pr, uint64_t now_ms);
/* Records an attempt; returns true if the result changed. */
bool berth_prober_record(struct berth_prober *pr, bool ok, uint64_t now_ms);

uint64_t berth_now_ms(void);

#endif
