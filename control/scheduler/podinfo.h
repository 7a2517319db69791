/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * What the scheduler needs of a Pod and of a Node, parsed once from the
 * informer's object into plain structs, so a decision never touches JSON.
 */
#ifndef BERTH_SCHEDULER_PODINFO_H
#define BERTH_SCHEDULER_PODINFO_H

#include <stdbool.h>
#include <stdint.h>

#include <json-c/json.h>

#define SCHED_HOSTNAME_KEY "kubernetes.io/hostname"

struct sched_kv {
	char *k, *v;
};

struct sched_labels {
	struct sched_kv *a;
	int n;
};

enum sched_op { OP_IN, OP_NOTIN, OP_EXISTS, OP_DNE, OP_GT, OP_LT };

struct sched_req {
	char *key;
	enum sched_op op;
	char **vals;
	int nvals;
};

/* A compiled label selector or node selector requirements (ANDed). */
struct sched_sel {
	struct sched_req *r;
	int n;
	bool none; /* matches nothing (a null selector, a bad operator) */
};

/* A nodeSelectorTerm: labels and fields (metadata.name) must both match. */
struct sched_nterm {
	struct sched_sel labels, fields;
	int weight; /* preferred terms only */
};

/* A pod (anti-)affinity term. */
struct sched_pterm {
	struct sched_sel sel;
	char **ns; /* namespaces the selector applies to */
	int nns;
	bool all_ns; /* namespaceSelector: {} */
	char *key; /* topologyKey */
	int weight; /* preferred terms only */
};

enum sched_effect { EFF_ANY, EFF_NOSCHEDULE, EFF_PREFER, EFF_NOEXECUTE };

struct sched_taint {
	char *key, *value;
	enum sched_effect effect;
};

struct sched_toleration {
	char *key, *value;
	bool exists;
	enum sched_effect effect; /* EFF_ANY: every effect */
};

struct sched_spread {
	int max_skew;
	char *key;
	bool hard; /* DoNotSchedule */
	struct sched_sel sel;
};

struct sched_port {
	char *ip; /* "" or 0.0.0.0: every address */
	int port;
	char proto; /* 'T', 'U', 'S' */
};

struct sched_pod {
	char *ns, *name, *uid, *node_name, *owner_uid;
	struct sched_labels labels;
	int64_t cpu_m, mem; /* requests: millicores, bytes */
	int64_t score_cpu_m, score_mem; /* with kube's defaults for 0 */
	struct sched_port *ports;
	int nports;
	struct sched_labels node_selector;
	struct sched_nterm *req_terms; /* required node affinity (ORed) */
	int nreq_terms;
	bool has_req_affinity;
	struct sched_nterm *pref_terms;
	int npref_terms;
	struct sched_toleration *tol;
	int ntol;
	struct sched_pterm *aff, *anti, *paff, *panti;
	int naff, nanti, npaff, npanti;
	struct sched_spread *spread;
	int nspread;
	bool ours; /* schedulerName default-scheduler or empty */
	bool terminal; /* Succeeded or Failed: holds nothing */
	bool deleting;
};

struct sched_node_info {
	char *name;
	struct sched_labels labels;
	struct sched_taint *taints;
	int ntaints;
	bool ready, unschedulable;
	int64_t cpu_m, mem, pods; /* allocatable */
};

struct sched_pod *sched_pod_parse(struct json_object *pod);
void sched_pod_free(struct sched_pod *p);
struct sched_node_info *sched_node_parse(struct json_object *node);
void sched_node_info_free(struct sched_node_info *n);
/* Same scheduling-relevant content (labels, taints, allocatable, ...)? */
bool sched_node_info_same(const struct sched_node_info *a,
			  const struct sched_node_info *b);

const char *sched_label(const struct sched_labels *l, const char *key);
/* A Service's selector (a map); false if empty: it selects no pod. */
bool sched_sel_from_map(struct json_object *m, struct sched_sel *s);
void sched_sel_free(struct sched_sel *s);
bool sched_sel_match(const struct sched_sel *s, const struct sched_labels *l);
/* A nodeSelectorTerm vs a node's labels and name. */
bool sched_nterm_match(const struct sched_nterm *t,
		       const struct sched_node_info *n);
/* Does pod term t (of a pod in namespace own_ns) select pod p? */
bool sched_pterm_selects(const struct sched_pterm *t, const char *own_ns,
			 const struct sched_pod *p);
bool sched_tolerates(const struct sched_pod *p, const struct sched_taint *t);

#endif
