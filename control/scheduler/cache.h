/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The scheduler's own cache: nodes with what their pods request, the pods
 * placed on them (bound or assumed), pods by owner, and the queues of pods
 * waiting for a node. One lock guards it all; informer handlers and the
 * scheduling loop take turns.
 */
#ifndef BERTH_SCHEDULER_CACHE_H
#define BERTH_SCHEDULER_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <pthread.h>

#include "../controllers/strmap.h"
#include "podinfo.h"


enum qlist_id { Q_NONE = -1, Q_ACTIVE, Q_BACKOFF, Q_UNSCHED, Q_COUNT };

struct cpod {
	struct cpod *prev, *next; /* in the queue list */
	enum qlist_id list;
	char *key; /* "ns/name" */
	struct sched_pod *pi;
	int node; /* index in nodes, -1: not placed */
	int slot; /* index in the node's pods */
	int anti_slot; /* index in anti, -1: not there */
	bool assumed; /* placed by us, bind not yet seen by the informer */
	int *lslots; /* per label: index in its label list, while placed */
	int attempts;
	int64_t backoff_until; /* monotonic ms */
	char *msg; /* last Unschedulable message */
};

struct snode {
	struct sched_node_info *info; /* NULL: pods name it, Node not seen */
	bool present;
	int64_t cpu_m, mem, npods; /* requested by the pods placed here */
	int64_t score_cpu_m, score_mem; /* the same with kube's defaults */
	struct cpod **pods;
	int np, cap;
};

/* Pods per node of one controller owner, for spreading. */
struct group {
	int *node, *cnt;
	int n, cap;
};

/* Placed pods with one label (namespace, key, value). */
struct plist {
	struct cpod **a;
	int n, cap;
};

struct qlist {
	struct cpod *head, *tail;
	int n;
};

struct sched_cache {
	pthread_mutex_t lock;
	pthread_cond_t cond; /* work for the loop */
	atomic_int waiters; /* handlers waiting for the lock: go first */
	struct berth_strmap pods; /* "ns/name" -> cpod */
	struct berth_strmap node_idx; /* name -> index + 1 */
	struct berth_strmap groups; /* owner uid -> group */
	struct berth_strmap by_label; /* "ns\x1fkey\x1fvalue" -> plist of placed pods */
	struct snode *nodes; /* indices never change */
	int nnodes, cap;
	uint64_t node_gen; /* bumped when a node's labels or presence change */
	struct cpod **anti; /* placed pods with required anti-affinity */
	int nanti, anti_cap;
	struct qlist q[Q_COUNT];
};

void cache_init(struct sched_cache *c);
void cache_free(struct sched_cache *c);
/* Take the lock ahead of the scheduling loop. */
void cache_lock(struct sched_cache *c);
void cache_unlock(struct sched_cache *c);

int cache_node_index(struct sched_cache *c, const char *name);
void cache_node_place(struct sched_cache *c, struct cpod *p, int node);
void cache_node_unplace(struct sched_cache *c, struct cpod *p);
/* Pods of owner uid on node i (0 when none). */
struct group *cache_group(struct sched_cache *c, const char *uid);
/* Placed pods of namespace ns with label key=value, or NULL. */
struct plist *cache_label_pods(struct sched_cache *c, const char *ns,
			       const char *key, const char *value);

void q_remove(struct sched_cache *c, struct cpod *p);
void q_push(struct sched_cache *c, struct cpod *p, enum qlist_id l);

#endif
