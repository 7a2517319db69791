// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pod manager: one worker thread per pod drives it from sandbox to
 * termination, like the kubelet's pod workers; a watch on the pods bound to
 * this node (and a scan of the static pod dir) feeds them.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include <berth/kube.h>
#include <berth/log.h>

#include "cnirun.h"
#include "image.h"
#include "node.h"
#include "podhost.h"
#include "podmgr.h"
#include "metrics.h"
#include "probe.h"
#include "runtime.h"
#include "satokens.h"

#define WORKER_STACK (256 * 1024)
/* what a preStop hook that outlived the grace period adds to it, once */
#define PRESTOP_EXTENSION_MS 2000
#define TICK_MS 1000 /* container state poll */
#define BACKOFF_START_S 10
#define BACKOFF_MAX_S 300
#define BACKOFF_RESET_S 600 /* ran this long: the next crash starts over */
#define DEFAULT_GRACE_S 30
#define STATIC_SCAN_S 5
#define SETUP_RETRY_MS 2000
#define START_PER_CPU 4 /* container starts at once, per CPU */
#define TRIM_EVERY_MS 2000 /* malloc_trim at most this often */

enum ctr_state { C_WAITING, C_RUNNING, C_TERMINATED };

struct term {
	int exit_code, signal;
	char reason[32], message[256];
	long started, finished;
	char id[BERTH_CONTAINER_ID_MAX];
};

struct ctr {
	char *name, *image; /* owned: status reports need no parsed spec */
	/* borrowed from the pod's parsed spec while it is parsed (pod_spec),
	 * else NULL: use ctr_spec() */
	json_object *spec;
	bool init;
	unsigned int restarts; /* = the current attempt */
	bool have_id; /* a container exists for the current attempt */
	char id[BERTH_CONTAINER_ID_MAX];
	enum ctr_state state;
	char reason[64], message[1024]; /* waiting */
	long started_at; /* running */
	struct term cur; /* terminated */
	struct term last;
	bool has_last;
	char image_id[BERTH_IMAGE_ID_LEN];
	unsigned int backoff_s; /* the next delay */
	unsigned int delay_s; /* the current one, for the message */
	uint64_t next_start_ms;
	uint64_t started_ms;
	bool done; /* init: completed; regular: will not run again */
	bool ready, started;
	struct berth_probe live, readyp, startup;
	struct berth_prober plive, pready, pstartup;
	bool poststart_done;
};

struct pod {
	struct berth_podmgr *pm;
	struct pod *next;
	char uid[64], ns[256], name[256];
	/* latest from the API (static pods: the manifest), under pm->lock;
	 * an API pod's goes to its worker, which keeps the one it started
	 * with (a parsed pod is ~30 KB: one copy per pod, not two) */
	json_object *obj;
	bool taken; /* the worker has its spec; under pm->lock */
	long grace_s; /* deletion grace period; under pm->lock */
	bool deleting, gone, stop, seen, is_static, exited;
	/* the phase last reported (a static string), for metrics */
	_Atomic(const char *) phase;
	bool mirror_lost; /* under pm->lock */
	char mirror_del[64]; /* uid of a mirror pod being deleted; pm->lock */
	bool wake;
	pthread_cond_t cond;
	pthread_t thread;
	/* worker only */
	/*
	 * The pod as the worker started it, kept serialized (a few KB): a
	 * parsed pod is ~30-60 KB of json-c, and an idle pod (containers
	 * running, probes parsed) needs none of it. Parsed on demand by
	 * pod_spec() and dropped after each round (spec_drop).
	 */
	char *spec_str;
	json_object *spec_pod; /* parsed: this round's, or NULL */
	bool spec_dirty; /* spec_pod changed: serialize it again */
	char restart_policy[16];
	struct ctr *ctrs;
	int nctrs, ninit;
	bool sandbox, net, volumes, mirror_ok;
	struct berth_sandbox sb;
	char ip[64];
	char setup_reason[64], setup_msg[512];
	long start_time;
	char *last_status;
	long cond_since[4];
	bool cond_val[4];
	bool failed_init;
	/* a token renewal could not rewrite the volumes: retry after then */
	time_t renew_retry;
	bool renew_failed;
	bool deep; /* this round went deep into the stack (set-up, a start) */
	bool slot; /* holds one of pm->starts this round */
	/* what the runtime ran of this pod before the agent (re)started,
	 * handed over at creation from the one list; the worker frees it */
	struct berth_container_state *adopt;
	size_t nadopt;
};

struct berth_podmgr {
	struct berth_podmgr_opts o;
	pthread_mutex_t lock;
	struct pod *pods;
	struct berth_kube_watch *watch;
	pthread_t static_thread;
	bool static_running;
	volatile int stop;
	bool cleaned; /* orphan sandboxes removed after the first list */
	struct berth_objects objs;
	struct berth_tokens *tokens; /* projected serviceAccountToken sources */
	/*
	 * The containers the runtime held when the agent started, listed
	 * once and sorted by pod uid: each new worker gets its own entries
	 * (a list per worker made adoption O(n^2) in file reads). Freed once
	 * the first pod list (and the first static scan) are through: pods
	 * that appear later never ran here. Under lock.
	 */
	struct berth_container_state *adopt;
	size_t nadopt;
	int adopt_users; /* first list, first static scan: still to come */
	/*
	 * Containers being started at once: a burst of 100 ran 100 runc
	 * fighting for 2 CPUs (and the kernel's mount locks), each slower
	 * than alone; a few per CPU finish sooner, the first ones much
	 * sooner. Sandboxes (a few ms of namespaces) and CNI ADD take none:
	 * they lead into the ADD queue, the burst's longest wait.
	 */
	sem_t starts;
	/* a worker went deep (set-up, a start) since the last trim; when */
	atomic_bool trim_due;
	_Atomic uint64_t trimmed_ms;
};

/* ---- small helpers ---- */

static const char *jstr(json_object *o, const char *path)
{
	char key[128];
	const char *dot;
	json_object *v = o;

	while (v && path) {
		dot = strchr(path, '.');
		snprintf(key, sizeof(key), "%.*s",
			 (int)(dot ? dot - path : (long)strlen(path)), path);
		if (!json_object_object_get_ex(v, key, &v))
			return NULL;
		path = dot ? dot + 1 : NULL;
	}
	return v && json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) :
		       NULL;
}

static json_object *jget(json_object *o, const char *key)
{
	json_object *v = NULL;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return NULL;
	return v;
}

static void jadd_str(json_object *o, const char *k, const char *v)
{
	json_object_object_add(o, k, json_object_new_string(v ? v : ""));
}

static void jadd_time(json_object *o, const char *k, long t)
{
	char buf[32];

	berth_kube_time(buf, t);
	jadd_str(o, k, buf);
}

static void pod_path(char *buf, size_t len, const struct pod *p,
		     const char *sub)
{
	snprintf(buf, len, "/api/v1/namespaces/%s/pods/%s%s%s", p->ns,
		 p->name, sub ? "/" : "", sub ? sub : "");
}

/* ---- exec for probes and hooks ---- */

struct exec_arg {
	struct berth_runtime *rt;
	const char *id;
};

static int exec_in(void *arg, const char *const *argv, unsigned int timeout_ms,
		   int *exit_code, char *out, size_t outlen)
{
	struct exec_arg *e = arg;

	return berth_container_exec(e->rt, e->id, argv, timeout_ms, exit_code,
				    out, outlen);
}

/* ---- objects for volumes and env ---- */

static json_object *objs_get(void *arg, const char *kind, const char *ns,
			     const char *name)
{
	struct berth_podmgr *pm = arg;
	json_object *out = NULL;
	char path[1024];
	int st;

	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/%s/%s", ns,
		 !strcmp(kind, "Secret") ? "secrets" : "configmaps", name);
	st = berth_kube_get(pm->o.kube, path, &out);
	if (st == 200)
		return out;
	json_object_put(out);
	errno = st == 404 ? ENOENT : EIO;
	return NULL;
}

static char *objs_token(void *arg, json_object *pod, const char *audience,
			long expiration_s, char *err, size_t errlen)
{
	struct berth_podmgr *pm = arg;

	return berth_tokens_get(pm->tokens, pod, audience, expiration_s, err,
				errlen);
}

/* ---- status ---- */

static json_object *term_json(const struct term *t)
{
	json_object *o = json_object_new_object();
	char cid[BERTH_CONTAINER_ID_MAX + 16];

	json_object_object_add(o, "exitCode", json_object_new_int(t->exit_code));
	if (t->signal)
		json_object_object_add(o, "signal", json_object_new_int(t->signal));
	jadd_str(o, "reason", t->reason);
	if (t->message[0])
		jadd_str(o, "message", t->message);
	if (t->started)
		jadd_time(o, "startedAt", t->started);
	if (t->finished)
		jadd_time(o, "finishedAt", t->finished);
	if (t->id[0]) {
		snprintf(cid, sizeof(cid), "berth://%s", t->id);
		jadd_str(o, "containerID", cid);
	}
	return o;
}

static json_object *ctr_status(struct ctr *c)
{
	json_object *o = json_object_new_object(), *st = json_object_new_object();
	json_object *s, *last = json_object_new_object();
	char cid[BERTH_CONTAINER_ID_MAX + 16];

	jadd_str(o, "name", c->name);
	switch (c->state) {
	case C_WAITING:
		s = json_object_new_object();
		jadd_str(s, "reason", c->reason[0] ? c->reason : "ContainerCreating");
		if (c->message[0])
			jadd_str(s, "message", c->message);
		json_object_object_add(st, "waiting", s);
		break;
	case C_RUNNING:
		s = json_object_new_object();
		jadd_time(s, "startedAt", c->started_at);
		json_object_object_add(st, "running", s);
		break;
	case C_TERMINATED:
		json_object_object_add(st, "terminated", term_json(&c->cur));
		break;
	}
	json_object_object_add(o, "state", st);
	if (c->has_last)
		json_object_object_add(last, "terminated", term_json(&c->last));
	json_object_object_add(o, "lastState", last);
	json_object_object_add(o, "ready", json_object_new_boolean(c->ready));
	json_object_object_add(o, "restartCount", json_object_new_int(c->restarts));
	jadd_str(o, "image", c->image);
	jadd_str(o, "imageID", c->image_id);
	if (c->have_id) {
		snprintf(cid, sizeof(cid), "berth://%s", c->id);
		jadd_str(o, "containerID", cid);
	}
	json_object_object_add(o, "started",
			       json_object_new_boolean(c->state == C_RUNNING &&
						       c->started));
	return o;
}

static const char *restart_policy(struct pod *p)
{
	return p->restart_policy;
}

/* the worker's pod, parsed from spec_str if this round has not yet */
static json_object *pod_spec(struct pod *p)
{
	json_object *spec, *inits, *cs;

	if (p->spec_pod || !p->spec_str)
		return p->spec_pod;
	p->spec_pod = json_tokener_parse(p->spec_str);
	spec = jget(p->spec_pod, "spec");
	inits = jget(spec, "initContainers");
	cs = jget(spec, "containers");
	for (int i = 0; i < p->nctrs; i++)
		p->ctrs[i].spec = json_object_array_get_idx(
			i < p->ninit ? inits : cs,
			i < p->ninit ? i : i - p->ninit);
	return p->spec_pod;
}

static json_object *ctr_spec(struct pod *p, struct ctr *c)
{
	pod_spec(p);
	return c->spec;
}

/* end of a round: keep the pod as text only */
static int spec_drop(struct pod *p)
{
	if (!p->spec_pod)
		return 0;
	if (p->spec_dirty || !p->spec_str) {
		char *s = strdup(json_object_to_json_string_ext(
			p->spec_pod, JSON_C_TO_STRING_PLAIN));

		if (!s)
			return -ENOMEM; /* keep the tree */
		free(p->spec_str);
		p->spec_str = s;
		p->spec_dirty = false;
	}
	json_object_put(p->spec_pod);
	p->spec_pod = NULL;
	for (int i = 0; i < p->nctrs; i++)
		p->ctrs[i].spec = NULL;
	return 0;
}

static const char *pod_phase(struct pod *p)
{
	int running = 0, succeeded = 0, failed = 0, waiting = 0;
	bool inits_done = true;

	for (int i = 0; i < p->ninit; i++)
		if (!p->ctrs[i].done)
			inits_done = false;
	if (p->failed_init)
		return "Failed";
	if (!inits_done)
		return "Pending";
	for (int i = p->ninit; i < p->nctrs; i++) {
		struct ctr *c = &p->ctrs[i];

		if (c->state == C_RUNNING)
			running++;
		else if (c->state == C_TERMINATED && c->done && !c->cur.exit_code)
			succeeded++;
		else if (c->state == C_TERMINATED && c->done)
			failed++;
		else
			waiting++;
	}
	if (waiting && !running && !succeeded && !failed)
		return "Pending";
	if (running || waiting)
		return "Running";
	if (failed)
		return "Failed";
	return "Succeeded";
}

static json_object *condition(struct pod *p, int i, const char *type, bool v,
			      const char *reason)
{
	json_object *c = json_object_new_object();

	if (!p->cond_since[i] || p->cond_val[i] != v) {
		p->cond_since[i] = time(NULL);
		p->cond_val[i] = v;
	}
	jadd_str(c, "type", type);
	jadd_str(c, "status", v ? "True" : "False");
	json_object_object_add(c, "lastProbeTime", NULL);
	jadd_time(c, "lastTransitionTime", p->cond_since[i]);
	if (!v && reason)
		jadd_str(c, "reason", reason);
	return c;
}

static json_object *pod_status(struct pod *p)
{
	json_object *st = json_object_new_object(), *conds, *a, *ips;
	bool init_done = true, all_ready = p->nctrs > p->ninit;
	const char *phase = pod_phase(p);

	atomic_store(&p->phase, phase);
	for (int i = 0; i < p->ninit; i++)
		init_done &= p->ctrs[i].done;
	for (int i = p->ninit; i < p->nctrs; i++)
		all_ready &= p->ctrs[i].ready;
	jadd_str(st, "phase", phase);
	conds = json_object_new_array();
	json_object_array_add(conds, condition(p, 0, "Initialized", init_done,
					       "ContainersNotInitialized"));
	json_object_array_add(conds, condition(p, 1, "Ready", all_ready,
					       "ContainersNotReady"));
	json_object_array_add(conds, condition(p, 2, "ContainersReady",
					       all_ready, "ContainersNotReady"));
	json_object_array_add(conds, condition(p, 3, "PodScheduled", true, NULL));
	json_object_object_add(st, "conditions", conds);
	/* sandbox, network or volumes (FailedMount) not there yet: why */
	if (p->setup_msg[0] && (!p->net || !p->volumes)) {
		jadd_str(st, "reason", p->setup_reason);
		jadd_str(st, "message", p->setup_msg);
	}
	if (p->pm->o.node && berth_node_ip(p->pm->o.node)[0]) {
		json_object *hips = json_object_new_array(), *h;

		jadd_str(st, "hostIP", berth_node_ip(p->pm->o.node));
		h = json_object_new_object();
		jadd_str(h, "ip", berth_node_ip(p->pm->o.node));
		json_object_array_add(hips, h);
		json_object_object_add(st, "hostIPs", hips);
	}
	if (p->ip[0]) {
		json_object *e = json_object_new_object();

		jadd_str(st, "podIP", p->ip);
		ips = json_object_new_array();
		jadd_str(e, "ip", p->ip);
		json_object_array_add(ips, e);
		json_object_object_add(st, "podIPs", ips);
	}
	if (p->start_time)
		jadd_time(st, "startTime", p->start_time);
	if (p->ninit) {
		a = json_object_new_array();
		for (int i = 0; i < p->ninit; i++)
			json_object_array_add(a, ctr_status(&p->ctrs[i]));
		json_object_object_add(st, "initContainerStatuses", a);
	}
	a = json_object_new_array();
	for (int i = p->ninit; i < p->nctrs; i++)
		json_object_array_add(a, ctr_status(&p->ctrs[i]));
	json_object_object_add(st, "containerStatuses", a);
	return st;
}

static void create_mirror(struct pod *p);
static void delete_pod(struct pod *p, const char *uid);

static void push_status(struct pod *p)
{
	json_object *st = pod_status(p), *patch, *out = NULL;
	const char *s = json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN);
	char path[1024], m[256], del[64];
	int code;

	pthread_mutex_lock(&p->pm->lock);
	if (p->mirror_lost) {
		p->mirror_lost = false;
		p->mirror_ok = false;
	}
	snprintf(del, sizeof(del), "%s", p->mirror_del);
	p->mirror_del[0] = 0;
	pthread_mutex_unlock(&p->pm->lock);
	if (del[0])
		delete_pod(p, del);
	if (p->last_status && !strcmp(p->last_status, s) &&
	    (!p->is_static || p->mirror_ok)) {
		json_object_put(st);
		return;
	}
	if (p->is_static && !p->mirror_ok)
		create_mirror(p);
	patch = json_object_new_object();
	json_object_object_add(patch, "status", st);
	pod_path(path, sizeof(path), p, "status");
	uint64_t t0 = berth_now_ms();

	code = berth_kube_patch(p->pm->o.kube, path, BERTH_KUBE_PATCH_MERGE,
				patch, &out);
	pr_debug("pod %s/%s: status PATCH in %llu ms", p->ns, p->name,
		 (unsigned long long)(berth_now_ms() - t0));
	if (code == 200) {
		free(p->last_status);
		p->last_status = strdup(
			json_object_to_json_string_ext(st, JSON_C_TO_STRING_PLAIN));
	} else {
		if (code == 404 && p->is_static)
			p->mirror_ok = false;
		pr_warn("pod %s/%s: update status: %s", p->ns, p->name,
			berth_kube_status_message(out, code, m, sizeof(m)));
	}
	json_object_put(out);
	json_object_put(patch);
}

/* ---- containers ---- */

static void set_waiting(struct ctr *c, const char *reason, const char *msg)
{
	c->state = C_WAITING;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
	snprintf(c->message, sizeof(c->message), "%s", msg ? msg : "");
	c->ready = false;
}

/* the next try waits the current delay; the one after twice as long */
static void backoff_next(struct ctr *c, uint64_t now)
{
	c->delay_s = c->backoff_s;
	c->next_start_ms = now + c->backoff_s * 1000ULL;
	c->backoff_s = c->backoff_s ? c->backoff_s * 2 : BACKOFF_START_S;
	if (c->backoff_s > BACKOFF_MAX_S)
		c->backoff_s = BACKOFF_MAX_S;
}

static bool should_restart(struct pod *p, struct ctr *c)
{
	const char *rp = restart_policy(p);

	if (c->init) /* init containers: Always counts as OnFailure */
		return strcmp(rp, "Never") && c->cur.exit_code != 0;
	if (!strcmp(rp, "Always"))
		return true;
	if (!strcmp(rp, "OnFailure"))
		return c->cur.exit_code != 0;
	return false;
}

static void probes_init(struct pod *p, struct ctr *c)
{
	char err[256];
	static const char *const keys[] = { "livenessProbe", "readinessProbe",
					    "startupProbe" };
	struct berth_probe *ps[] = { &c->live, &c->readyp, &c->startup };

	for (int i = 0; i < 3; i++) {
		if (c->init) {
			memset(ps[i], 0, sizeof(*ps[i]));
			continue;
		}
		if (berth_probe_parse(jget(c->spec, keys[i]), c->spec, ps[i],
				      err, sizeof(err))) {
			pr_warn("pod %s/%s container %s: %s: %s, ignored",
				p->ns, p->name, c->name, keys[i], err);
			memset(ps[i], 0, sizeof(*ps[i]));
		}
	}
}

static void probers_start(struct ctr *c, uint64_t now)
{
	berth_prober_init(&c->plive, &c->live, now, true);
	berth_prober_init(&c->pready, &c->readyp, now, false);
	berth_prober_init(&c->pstartup, &c->startup, now, false);
	c->started = c->startup.kind == BERTH_PROBE_NONE;
	c->ready = c->started && c->readyp.kind == BERTH_PROBE_NONE;
}

/* the container exited: remember how, decide about a restart */
static void on_exit_state(struct pod *p, struct ctr *c,
			  const struct berth_container_state *st)
{
	struct term *t = &c->cur;
	uint64_t now = berth_now_ms();

	memset(t, 0, sizeof(*t));
	t->exit_code = st ? st->exit_code : 137;
	t->signal = st ? st->signal : 0;
	snprintf(t->reason, sizeof(t->reason), "%s",
		 st && st->reason[0] ? st->reason :
		 t->exit_code ? "Error" : "Completed");
	if (st && st->oom_killed)
		snprintf(t->reason, sizeof(t->reason), "OOMKilled");
	snprintf(t->message, sizeof(t->message), "%s", st ? st->message : "");
	t->started = st ? st->started_at.tv_sec : c->started_at;
	t->finished = st && st->finished_at.tv_sec ? st->finished_at.tv_sec :
						     time(NULL);
	snprintf(t->id, sizeof(t->id), "%s", c->id);
	c->state = C_TERMINATED;
	c->ready = false;
	pr_info("pod %s/%s: container %s exited with %d (%s)", p->ns, p->name,
		c->name, t->exit_code, t->reason);
	if (c->init && t->exit_code == 0) {
		c->done = true;
		return;
	}
	if (!should_restart(p, c)) {
		c->done = true;
		if (c->init)
			p->failed_init = true;
		return;
	}
	/* ran long enough: the back-off starts over */
	if (c->started_ms && now - c->started_ms >= BACKOFF_RESET_S * 1000ULL)
		c->backoff_s = 0;
	backoff_next(c, now);
}

/* a container's lifecycle hook, parsed: 1 there is one, 0 none, < 0 bad */
static int hook_parse(struct pod *p, struct ctr *c, const char *which,
		      unsigned int timeout_s, struct berth_probe *hp,
		      char *msg, size_t msglen)
{
	json_object *cs = ctr_spec(p, c);
	json_object *h = jget(jget(cs, "lifecycle"), which);
	char err[256];

	if (!h)
		return 0;
	if (berth_probe_parse(h, cs, hp, err, sizeof(err))) {
		snprintf(msg, msglen, "%s: %s", which, err);
		return -EINVAL;
	}
	hp->timeout_s = timeout_s ? timeout_s : 30;
	return 1;
}

static int run_hook(struct pod *p, struct ctr *c, const char *which,
		    unsigned int timeout_s, char *msg, size_t msglen)
{
	struct exec_arg ea = { p->pm->o.rt, c->id };
	struct berth_probe hp;
	int ret, ok;

	ret = hook_parse(p, c, which, timeout_s, &hp, msg, msglen);
	if (ret <= 0)
		return ret;
	ok = berth_probe_run(&hp, p->ip, exec_in, &ea, msg, msglen);
	berth_probe_free(&hp);
	return ok ? 0 : -EIO;
}

/* wait for a set-up/start slot, once a round (worker_round releases it) */
static void start_slot(struct pod *p)
{
	if (p->slot)
		return;
	while (sem_wait(&p->pm->starts) && errno == EINTR)
		;
	p->slot = true;
}

static void start_slot_release(struct pod *p)
{
	if (!p->slot)
		return;
	sem_post(&p->pm->starts);
	p->slot = false;
}

static int start_container(struct pod *p, struct ctr *c)
{
	struct berth_podmgr *pm = p->pm;
	json_object *cs = ctr_spec(p, c), *pod = pod_spec(p);
	const char *image = jstr(cs, "image");
	struct berth_image_config *icfg = NULL;
	struct berth_mount *mounts = NULL;
	struct berth_container_spec spec = { 0 };
	enum berth_pull_policy policy;
	char err[1024] = "", dir[PATH_MAX], rootfs[PATH_MAX];
	char overlay[BERTH_OVERLAY_OPTS_MAX] = "";
	size_t nmounts = 0;
	unsigned int attempt;
	int ret;

	p->deep = true;
	if (!image) {
		set_waiting(c, "InvalidImageName", "no image");
		return -EINVAL;
	}
	policy = berth_pull_policy_parse(jstr(cs, "imagePullPolicy"), image);
	ret = berth_image_ensure(pm->o.imgs, image, policy, NULL, c->image_id,
				 err, sizeof(err));
	if (ret) {
		/* first failure ErrImagePull, then ImagePullBackOff */
		bool again = !strcmp(c->reason, "ErrImagePull") ||
			     !strcmp(c->reason, "ImagePullBackOff");
		uint64_t now = berth_now_ms();

		if (policy == BERTH_PULL_NEVER)
			set_waiting(c, "ErrImageNeverPull", err);
		else
			set_waiting(c, again ? "ImagePullBackOff" : "ErrImagePull",
				    err);
		backoff_next(c, now);
		pr_warn("pod %s/%s: container %s: %s", p->ns, p->name, c->name,
			err);
		return ret;
	}
	/* after the pull: a slow registry holds no slot */
	start_slot(p);
	/* the previous attempt's bundle goes; its log stays for --previous */
	if (c->have_id) {
		char odir[PATH_MAX];

		if (!berth_container_dir(pm->o.rt, p->uid, c->name, c->restarts,
					 odir, sizeof(odir)))
			berth_image_rootfs_release(pm->o.imgs, odir);
		berth_container_remove(pm->o.rt, c->id);
		c->restarts++;
		berth_agent_metrics_restart();
		c->have_id = false;
	}
	attempt = c->restarts;
	berth_image_config_get(pm->o.imgs, c->image_id, &icfg);
	ret = berth_container_dir(pm->o.rt, p->uid, c->name, attempt, dir,
				  sizeof(dir));
	if (!ret) {
		uint64_t t0 = berth_now_ms();

		/* a user by name is read from the rootfs' /etc: mounted here */
		if (berth_oci_user_needs_rootfs(icfg))
			ret = berth_image_rootfs(pm->o.imgs, c->image_id, dir, rootfs);
		else
			ret = berth_image_rootfs_deferred(pm->o.imgs, c->image_id, dir,
							  rootfs, overlay, sizeof(overlay));
		pr_debug("pod %s/%s: container %s: rootfs in %llu ms", p->ns,
			 p->name, c->name,
			 (unsigned long long)(berth_now_ms() - t0));
	}
	if (ret) {
		snprintf(err, sizeof(err), "rootfs for %s: %s", image,
			 strerror(-ret));
		goto fail;
	}
	ret = berth_volumes_mounts(pm->o.rt, pod, cs, &mounts, &nmounts, err,
				   sizeof(err));
	if (ret)
		goto fail;
	spec.pod = pod;
	spec.container = cs;
	spec.image = icfg;
	spec.rootfs = rootfs;
	spec.rootfs_overlay = overlay;
	spec.mounts = mounts;
	spec.nmounts = nmounts;
	spec.attempt = attempt;
	spec.objs = &pm->objs;
	spec.pod_ip = p->ip[0] ? p->ip : NULL;
	spec.host_ip = pm->o.node ? berth_node_ip(pm->o.node) : NULL;
	spec.node_name = pm->o.node_name;
	{
		uint64_t t0 = berth_now_ms();

		ret = berth_container_create_start(pm->o.rt, &spec, c->id, err,
						   sizeof(err));
		pr_debug("pod %s/%s: container %s: create and start in %llu ms",
			 p->ns, p->name, c->name,
			 (unsigned long long)(berth_now_ms() - t0));
	}
	if (ret) {
		c->have_id = true; /* whatever was made is removed next time */
		berth_container_id(p->uid, c->name, attempt, c->id, sizeof(c->id));
		goto fail;
	}
	c->have_id = true;
	c->state = C_RUNNING;
	c->started_at = time(NULL);
	c->started_ms = berth_now_ms();
	c->reason[0] = c->message[0] = 0;
	c->poststart_done = false;
	probers_start(c, c->started_ms);
	pr_info("pod %s/%s: started container %s (%s)", p->ns, p->name,
		c->name, c->id);
	berth_mounts_free(mounts, nmounts);
	berth_image_config_free(icfg);
	return 0;
fail:
	pr_warn("pod %s/%s: start container %s: %s", p->ns, p->name, c->name,
		err);
	set_waiting(c, ret == -ENOENT || ret == -EINVAL ?
			       "CreateContainerConfigError" :
			       "RunContainerError",
		    err);
	backoff_next(c, berth_now_ms());
	berth_mounts_free(mounts, nmounts);
	berth_image_config_free(icfg);
	return ret;
}

/* Is it (still) running? Updates c from the runtime. */
static void observe(struct pod *p, struct ctr *c)
{
	struct berth_container_state st;
	int ret;

	if (!c->have_id || c->state == C_TERMINATED || c->state == C_WAITING)
		return;
	ret = berth_container_state(p->pm->o.rt, c->id, &st);
	if (ret || st.status == BERTH_CONTAINER_UNKNOWN) {
		on_exit_state(p, c, NULL);
		return;
	}
	if (st.status == BERTH_CONTAINER_EXITED)
		on_exit_state(p, c, &st);
}

/* start, or restart after its back-off, a container that should run */
static void drive(struct pod *p, struct ctr *c)
{
	uint64_t now = berth_now_ms();

	observe(p, c);
	if (c->done || c->state == C_RUNNING)
		return;
	if (c->state == C_TERMINATED) {
		c->last = c->cur;
		c->has_last = true;
		if (now < c->next_start_ms) {
			/* waiting out the back-off */
			char msg[1024];

			snprintf(msg, sizeof(msg),
				 "back-off %us restarting failed container=%s pod=%s_%s(%s)",
				 c->delay_s, c->name, p->name, p->ns, p->uid);
			set_waiting(c, "CrashLoopBackOff", msg);
			return;
		}
	}
	if (c->state == C_WAITING && now < c->next_start_ms)
		return;
	start_container(p, c);
}

static long grace_period(struct pod *p);

static void run_probes(struct pod *p, struct ctr *c)
{
	struct exec_arg ea = { p->pm->o.rt, c->id };
	uint64_t now = berth_now_ms();
	char msg[512];
	bool ok;

	if (c->state != C_RUNNING)
		return;
	if (!c->started) {
		if (!berth_prober_due(&c->pstartup, now))
			return;
		ok = berth_probe_run(&c->startup, p->ip, exec_in, &ea, msg,
				     sizeof(msg));
		berth_agent_metrics_probe("Startup", ok);
		berth_prober_record(&c->pstartup, ok, berth_now_ms());
		if (c->pstartup.result) {
			c->started = true;
			/* liveness and readiness start now */
			berth_prober_init(&c->plive, &c->live, now, true);
			berth_prober_init(&c->pready, &c->readyp, now, false);
			c->ready = c->readyp.kind == BERTH_PROBE_NONE;
		} else if (c->pstartup.known) {
			pr_info("pod %s/%s: container %s failed its startup probe: %s; killing it",
				p->ns, p->name, c->name, msg);
			berth_container_stop(p->pm->o.rt, c->id,
					     c->startup.termination_grace_s >= 0 ?
						     c->startup.termination_grace_s :
						     grace_period(p));
		}
		return;
	}
	if (berth_prober_due(&c->pready, now)) {
		ok = berth_probe_run(&c->readyp, p->ip, exec_in, &ea, msg,
				     sizeof(msg));
		berth_agent_metrics_probe("Readiness", ok);
		berth_prober_record(&c->pready, ok, berth_now_ms());
		c->ready = c->pready.result;
	}
	if (berth_prober_due(&c->plive, now)) {
		ok = berth_probe_run(&c->live, p->ip, exec_in, &ea, msg,
				     sizeof(msg));
		berth_agent_metrics_probe("Liveness", ok);
		if (berth_prober_record(&c->plive, ok, berth_now_ms()) &&
		    !c->plive.result) {
			long grace = c->live.termination_grace_s >= 0 ?
					     c->live.termination_grace_s :
					     grace_period(p);

			pr_info("pod %s/%s: container %s failed liveness probe: %s; restarting it",
				p->ns, p->name, c->name, msg);
			berth_container_stop(p->pm->o.rt, c->id, grace);
			berth_prober_init(&c->plive, &c->live, now, true);
		}
	}
}

/* ---- the pod's lifecycle ---- */

/* The CNI capability arguments of a pod's ADD, kept for its DEL. */
static void cni_args_path(struct berth_podmgr *pm, const char *uid, char *buf,
			  size_t len)
{
	snprintf(buf, len, "%s/pods/%s/cni-args.json",
		 berth_runtime_root(pm->o.rt), uid);
}

static void save_cni_args(struct berth_podmgr *pm, const char *uid,
			  json_object *args)
{
	char path[PATH_MAX];

	cni_args_path(pm, uid, path, sizeof(path));
	/* most pods have none: no file is the same empty arguments, and
	 * one file less to create per pod in a burst */
	if (!json_object_object_length(args)) {
		if (unlink(path) && errno != ENOENT)
			pr_warn("remove %s: %s", path, strerror(errno));
		return;
	}
	if (json_object_to_file_ext(path, args, JSON_C_TO_STRING_PLAIN))
		pr_warn("save %s: %s", path, json_util_get_last_err());
}

static json_object *load_cni_args(struct berth_podmgr *pm, const char *uid)
{
	char path[PATH_MAX];

	cni_args_path(pm, uid, path, sizeof(path));
	if (access(path, F_OK))
		return NULL;
	return json_object_from_file(path);
}

static int setup_pod(struct pod *p)
{
	struct berth_podmgr *pm = p->pm;
	char err[1024] = "";
	int ret;

	if (!p->sandbox || !p->net || !p->volumes)
		p->deep = true;
	/* static pods come from the node's own manifest directory */
	if (!p->sandbox && !p->is_static) {
		ret = berth_pod_host_check(pm->o.kube, pod_spec(p), err,
					   sizeof(err));
		if (ret) {
			snprintf(p->setup_reason, sizeof(p->setup_reason),
				 ret == -EPERM ? BERTH_PODHOST_REASON :
						 "FailedCreatePodSandBox");
			snprintf(p->setup_msg, sizeof(p->setup_msg), "%s", err);
			return ret;
		}
	}
	if (!p->sandbox) {
		uint64_t t0 = berth_now_ms();

		ret = berth_sandbox_create(pm->o.rt, pod_spec(p), &p->sb, err,
					   sizeof(err));
		pr_debug("pod %s/%s: sandbox namespaces in %llu ms", p->ns,
			 p->name, (unsigned long long)(berth_now_ms() - t0));
		if (ret) {
			snprintf(p->setup_reason, sizeof(p->setup_reason),
				 "FailedCreatePodSandBox");
			snprintf(p->setup_msg, sizeof(p->setup_msg), "%s", err);
			return ret;
		}
		p->sandbox = true;
	}
	if (!p->net) {
		if (p->sb.host_network) {
			snprintf(p->ip, sizeof(p->ip), "%s",
				 pm->o.node ? berth_node_ip(pm->o.node) : "");
		} else {
			struct berth_cni_pod cp = { .container_id = p->uid,
						    .netns = p->sb.netns_path,
						    .name = p->name,
						    .ns = p->ns,
						    .uid = p->uid };

			uint64_t t0 = berth_now_ms();

			cp.runtime_config = berth_cni_runtime_config(
				pod_spec(p), err, sizeof(err));
			if (!cp.runtime_config) {
				snprintf(p->setup_reason, sizeof(p->setup_reason),
					 "FailedCreatePodSandBox");
				snprintf(p->setup_msg, sizeof(p->setup_msg),
					 "network: %s", err);
				return -EINVAL;
			}
			/* DEL must hand the plugins the same arguments */
			save_cni_args(pm, p->uid, cp.runtime_config);
			ret = berth_cni_add(pm->o.cni_bin_dir, pm->o.cni_conf_dir,
					    &cp, p->ip, sizeof(p->ip), err,
					    sizeof(err));
			json_object_put(cp.runtime_config);
			pr_debug("pod %s/%s: CNI ADD in %llu ms", p->ns, p->name,
				 (unsigned long long)(berth_now_ms() - t0));
			if (ret) {
				snprintf(p->setup_reason, sizeof(p->setup_reason),
					 "FailedCreatePodSandBox");
				snprintf(p->setup_msg, sizeof(p->setup_msg),
					 "network: %s", err);
				return ret;
			}
			berth_sandbox_set_ip(pm->o.rt, pod_spec(p), p->ip);
		}
		p->net = true;
		pr_info("pod %s/%s: sandbox ready, IP %s", p->ns, p->name, p->ip);
		/* fieldRef status.podIP: let the containers see it */
		json_object *st = jget(pod_spec(p), "status");

		if (!st) {
			st = json_object_new_object();
			json_object_object_add(p->spec_pod, "status", st);
		}
		jadd_str(st, "podIP", p->ip);
		p->spec_dirty = true;
	}
	if (!p->volumes) {
		ret = berth_volumes_setup(pm->o.rt, pod_spec(p), &pm->objs, err,
					  sizeof(err));
		if (ret) {
			snprintf(p->setup_reason, sizeof(p->setup_reason),
				 "FailedMount");
			snprintf(p->setup_msg, sizeof(p->setup_msg), "%s", err);
			return ret;
		}
		p->volumes = true;
	} else if ((p->renew_failed && time(NULL) >= p->renew_retry) ||
		   berth_tokens_due(pm->tokens, p->uid, time(NULL))) {
		/*
		 * Rewritten in place (..data swap): containers keep running.
		 * A failure (another source of the volume gone) is retried:
		 * the renewed token may be cached but not yet written.
		 */
		ret = berth_volumes_setup(pm->o.rt, pod_spec(p), &pm->objs, err,
					  sizeof(err));
		p->renew_failed = ret != 0;
		p->renew_retry = time(NULL) + BERTH_TOKEN_RETRY_S;
		if (ret)
			pr_warn("pod %s/%s: renew service account token: %s",
				p->ns, p->name, err);
		else
			pr_info("pod %s/%s: service account token renewed",
				p->ns, p->name);
	}
	p->setup_msg[0] = 0;
	return 0;
}

static void step(struct pod *p)
{
	bool inits_done = true;

	for (int i = 0; i < p->ninit && inits_done; i++) {
		struct ctr *c = &p->ctrs[i];

		if (c->done)
			continue;
		inits_done = false;
		drive(p, c);
		if (c->done && c->cur.exit_code == 0)
			inits_done = true; /* go on to the next at once */
	}
	if (p->failed_init)
		return;
	for (int i = p->ninit; i < p->nctrs; i++) {
		struct ctr *c = &p->ctrs[i];

		if (!inits_done) {
			set_waiting(c, "PodInitializing", NULL);
			continue;
		}
		drive(p, c);
		if (c->state == C_RUNNING && !c->poststart_done) {
			char msg[512];

			/* a hook may take long: let other pods start meanwhile */
			start_slot_release(p);

			/* postStart blocks the next container */
			if (run_hook(p, c, "postStart", 0, msg, sizeof(msg))) {
				pr_warn("pod %s/%s: container %s: postStart hook failed: %s",
					p->ns, p->name, c->name, msg);
				berth_container_stop(p->pm->o.rt, c->id,
						     DEFAULT_GRACE_S);
			}
			c->poststart_done = true;
		}
		run_probes(p, c);
	}
}

static long grace_period(struct pod *p)
{
	long g;

	pthread_mutex_lock(&p->pm->lock);
	g = p->grace_s;
	pthread_mutex_unlock(&p->pm->lock);
	return g;
}

/* one container's way out: its preStop hook, then SIGTERM */
struct stopper {
	struct pod *p;
	struct ctr *c;
	struct berth_probe hook;
	uint64_t hook_end_ms;
	pthread_t thread;
	bool threaded;
};

static void *prestop_then_term(void *arg)
{
	struct stopper *s = arg;
	struct exec_arg ea = { s->p->pm->o.rt, s->c->id };
	char msg[512];

	if (!berth_probe_run(&s->hook, s->p->ip, exec_in, &ea, msg, sizeof(msg)))
		pr_warn("pod %s/%s: container %s: preStop hook: %s", s->p->ns,
			s->p->name, s->c->name, msg);
	s->hook_end_ms = berth_now_ms();
	berth_container_kill(s->p->pm->o.rt, s->c->id, SIGTERM);
	return NULL;
}

/* wait for (or, without a thread, run) one way out; true: its hook ran late */
static bool stopper_finish(struct stopper *s, uint64_t deadline)
{
	if (s->threaded)
		pthread_join(s->thread, NULL);
	else
		prestop_then_term(s);
	berth_probe_free(&s->hook);
	return s->hook_end_ms >= deadline;
}

/*
 * As the kubelet: every running container at once, each its preStop hook
 * (if any) and then SIGTERM, so one container's slow hook neither delays
 * another's SIGTERM nor takes from its time; the grace period counts from
 * here for all, hooks included, and what is left at its end is killed. A
 * hook that used the whole period up buys a one-off 2 s more (the
 * kubelet's extension), for its container's SIGTERM to be of any use.
 */
static void kill_all(struct pod *p, long grace)
{
	struct berth_podmgr *pm = p->pm;
	uint64_t deadline = berth_now_ms() + grace * 1000ULL;
	struct stopper *stop = calloc(p->nctrs ? p->nctrs : 1, sizeof(*stop));
	bool any, late = false;

	for (int i = 0; i < p->nctrs; i++) {
		struct ctr *c = &p->ctrs[i];
		struct stopper local = { 0 }, *s = stop ? &stop[i] : &local;
		pthread_attr_t attr;
		char msg[512];
		int h;

		if (!c->have_id || c->state != C_RUNNING)
			continue;
		/* parsed here: the pod's JSON is read by this thread only */
		h = hook_parse(p, c, "preStop", grace > 0 ? grace : 1, &s->hook,
			       msg, sizeof(msg));
		if (h < 0)
			pr_warn("pod %s/%s: container %s: preStop hook: %s", p->ns,
				p->name, c->name, msg);
		if (h <= 0) {
			berth_container_kill(pm->o.rt, c->id, SIGTERM);
			continue;
		}
		s->p = p;
		s->c = c;
		if (!stop) { /* no memory: this one now, the next after it */
			late |= stopper_finish(s, deadline);
			continue;
		}
		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, WORKER_STACK);
		s->threaded = !pthread_create(&s->thread, &attr, prestop_then_term, s);
		pthread_attr_destroy(&attr);
	}
	/* a stopper without a thread runs here, beside the others' threads */
	for (int i = 0; stop && i < p->nctrs; i++)
		if (stop[i].p)
			late |= stopper_finish(&stop[i], deadline);
	free(stop);
	if (late)
		deadline = berth_now_ms() + PRESTOP_EXTENSION_MS;
	do {
		any = false;
		for (int i = 0; i < p->nctrs; i++) {
			struct berth_container_state st;
			struct ctr *c = &p->ctrs[i];

			if (c->have_id && !berth_container_state(pm->o.rt, c->id, &st) &&
			    (st.status == BERTH_CONTAINER_RUNNING ||
			     st.status == BERTH_CONTAINER_CREATED))
				any = true;
		}
		if (any)
			usleep(100 * 1000);
	} while (any && berth_now_ms() < deadline);
	for (int i = 0; i < p->nctrs; i++) {
		struct ctr *c = &p->ctrs[i];
		char dir[PATH_MAX];

		if (!c->have_id)
			continue;
		/* SIGKILL and wait for what outlived its grace period */
		berth_container_stop(pm->o.rt, c->id, 0);
		if (!berth_container_dir(pm->o.rt, p->uid, c->name, c->restarts,
					 dir, sizeof(dir)))
			berth_image_rootfs_release(pm->o.imgs, dir);
		berth_container_remove(pm->o.rt, c->id);
		c->have_id = false;
	}
}

static void teardown(struct berth_podmgr *pm, const char *uid, const char *ns,
		     const char *name)
{
	char netns[PATH_MAX], err[1024];
	struct berth_cni_pod cp = { .container_id = uid, .netns = netns,
				    .name = name, .ns = ns, .uid = uid };

	snprintf(netns, sizeof(netns), "%s/netns/%s",
		 berth_runtime_root(pm->o.rt), uid);
	if (access(netns, F_OK))
		netns[0] = 0;
	cp.runtime_config = load_cni_args(pm, uid);
	if (berth_cni_del(pm->o.cni_bin_dir, pm->o.cni_conf_dir, &cp, err,
			  sizeof(err)))
		pr_warn("pod %s/%s: CNI DEL: %s", ns, name, err);
	json_object_put(cp.runtime_config);
	berth_volumes_teardown(pm->o.rt, uid);
	berth_tokens_forget(pm->tokens, uid);
	berth_sandbox_destroy(pm->o.rt, uid);
}

static void final_delete(struct pod *p)
{
	delete_pod(p, p->is_static ? NULL : p->uid);
}

static void delete_pod(struct pod *p, const char *uid)
{
	json_object *opts = json_object_new_object(), *pre, *out = NULL;
	char path[1024], m[256];
	int st;

	json_object_object_add(opts, "gracePeriodSeconds", json_object_new_int(0));
	if (uid) {
		pre = json_object_new_object();
		jadd_str(pre, "uid", uid);
		json_object_object_add(opts, "preconditions", pre);
	}
	pod_path(path, sizeof(path), p, NULL);
	st = berth_kube_delete(p->pm->o.kube, path, opts, &out);
	if (st != 200 && st != 404 && st != 409)
		pr_warn("pod %s/%s: final delete: %s", p->ns, p->name,
			berth_kube_status_message(out, st, m, sizeof(m)));
	else
		pr_info("pod %s/%s: terminated and deleted", p->ns, p->name);
	json_object_put(out);
	json_object_put(opts);
}

/* what the runtime still runs of this pod (agent restart) */
static void adopt(struct pod *p)
{
	for (size_t i = 0; i < p->nadopt; i++) {
		struct berth_container_state *s = &p->adopt[i];

		for (int k = 0; k < p->nctrs; k++) {
			struct ctr *c = &p->ctrs[k];

			if (strcmp(c->name, s->name) ||
			    (c->have_id && c->restarts > s->attempt))
				continue;
			c->have_id = true;
			c->restarts = s->attempt;
			snprintf(c->id, sizeof(c->id), "%s", s->id);
			berth_image_resolve(p->pm->o.imgs, c->image,
					    c->image_id);
			if (s->status == BERTH_CONTAINER_RUNNING) {
				c->state = C_RUNNING;
				c->started_at = s->started_at.tv_sec;
				c->started_ms = berth_now_ms();
				c->poststart_done = true;
				probers_start(c, c->started_ms);
			} else if (s->status == BERTH_CONTAINER_EXITED) {
				c->state = C_RUNNING; /* observe() records the exit */
			}
		}
	}
	free(p->adopt);
	p->adopt = NULL;
	p->nadopt = 0;
	/* its network is set up already: keep the address the API has */
	for (int k = 0; k < p->nctrs; k++) {
		const char *ip = jstr(pod_spec(p), "status.podIP");

		if (p->ctrs[k].have_id && ip && *ip) {
			snprintf(p->ip, sizeof(p->ip), "%s", ip);
			p->net = true;
			pr_info("pod %s/%s: adopted its containers, IP %s",
				p->ns, p->name, ip);
			break;
		}
	}
}

static int load_ctrs(struct pod *p)
{
	json_object *spec = jget(pod_spec(p), "spec");
	json_object *inits = jget(spec, "initContainers");
	json_object *cs = jget(spec, "containers");
	int ni = inits ? json_object_array_length(inits) : 0;
	int nc = cs ? json_object_array_length(cs) : 0;

	p->ctrs = calloc(ni + nc ? ni + nc : 1, sizeof(*p->ctrs));
	if (!p->ctrs)
		return -ENOMEM;
	p->ninit = ni;
	p->nctrs = ni + nc;
	snprintf(p->restart_policy, sizeof(p->restart_policy), "%s",
		 jstr(spec, "restartPolicy") ?: "Always");
	for (int i = 0; i < p->nctrs; i++) {
		struct ctr *c = &p->ctrs[i];
		const char *img;

		c->init = i < ni;
		c->spec = json_object_array_get_idx(c->init ? inits : cs,
						    c->init ? i : i - ni);
		c->name = strdup(jstr(c->spec, "name") ?: "");
		img = jstr(c->spec, "image");
		c->image = img ? strdup(img) : NULL;
		if (!c->name)
			return -ENOMEM;
		set_waiting(c, c->init ? "PodInitializing" : "ContainerCreating",
			    NULL);
		if (c->init && i > 0)
			set_waiting(c, "PodInitializing", NULL);
		probes_init(p, c);
	}
	return 0;
}

/*
 * Setting up a pod and starting a container go deep into the worker's
 * stack (paths of PATH_MAX, the OCI config: ~60 KB); a pod then idles for
 * its lifetime in a few KB. Give the pages below us back so 110 idle
 * workers do not keep 110 such peaks resident. Called from the worker's
 * own shallow frame; nothing lives below it.
 */
static void release_stack(void)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE), lo, hi;
	pthread_attr_t at;
	void *addr;
	size_t size;

	if (pthread_getattr_np(pthread_self(), &at))
		return;
	if (pthread_attr_getstack(&at, &addr, &size)) {
		pthread_attr_destroy(&at);
		return;
	}
	pthread_attr_destroy(&at);
	lo = ((uintptr_t)addr + page - 1) & ~(page - 1);
	/* a margin below this frame for the calls still to come */
	hi = ((uintptr_t)__builtin_frame_address(0) - 8 * page) & ~(page - 1);
	if (hi > lo)
		madvise((void *)lo, hi - lo, MADV_DONTNEED);
}

/*
 * Starting pods frees a lot (parsed pods, OCI configs, responses) in
 * between what stays: glibc keeps those free pages inside its arenas.
 * Give them back a little after a burst of starts; one worker does it.
 */
static void maybe_trim(struct berth_podmgr *pm)
{
	uint64_t now = berth_now_ms(), last = atomic_load(&pm->trimmed_ms);

	if (!atomic_load(&pm->trim_due) || now - last < TRIM_EVERY_MS ||
	    !atomic_compare_exchange_strong(&pm->trimmed_ms, &last, now))
		return;
	atomic_store(&pm->trim_due, false);
	malloc_trim(0);
}

static bool pod_wait(struct pod *p, unsigned int ms)
{
	struct timespec until;
	bool quit;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&p->pm->lock);
	while (!p->wake && !p->stop && !p->deleting && !p->gone)
		if (pthread_cond_timedwait(&p->cond, &p->pm->lock, &until) ==
		    ETIMEDOUT)
			break;
	p->wake = false;
	quit = p->stop;
	pthread_mutex_unlock(&p->pm->lock);
	return quit;
}

static void *worker(void *arg)
{
	struct pod *p = arg;
	struct berth_podmgr *pm = p->pm;
	bool deleting = false, gone = false;

	pthread_mutex_lock(&pm->lock);
	if (p->is_static) { /* its manifest stays for the mirror pod */
		json_object_deep_copy(p->obj, &p->spec_pod, NULL);
	} else { /* nobody else uses it: the worker's own */
		p->spec_pod = p->obj;
		p->obj = NULL;
	}
	p->taken = true;
	pthread_mutex_unlock(&pm->lock);
	if (!p->spec_pod)
		goto out;
	/* what the API sends along and the worker never reads */
	if (json_object_is_type(jget(p->spec_pod, "metadata"),
				json_type_object))
		json_object_object_del(jget(p->spec_pod, "metadata"),
				       "managedFields");
	p->spec_dirty = true;
	if (load_ctrs(p))
		goto out;
	adopt(p);
	p->start_time = time(NULL);
	{
		const char *st = jstr(p->spec_pod, "status.startTime");
		json_object *sto = jget(p->spec_pod, "status");
		long t;

		if (st && !berth_kube_parse_time(st, &t))
			p->start_time = t;
		/* the statuses reported before are of no use to the worker
		 * (adopt read what it needs): half of a pod's memory */
		if (json_object_is_type(sto, json_type_object)) {
			json_object_object_del(sto, "conditions");
			json_object_object_del(sto, "containerStatuses");
			json_object_object_del(sto, "initContainerStatuses");
			json_object_object_del(sto, "ephemeralContainerStatuses");
		}
	}
	pr_info("pod %s/%s (%s): worker started", p->ns, p->name, p->uid);
	for (;;) {
		pthread_mutex_lock(&pm->lock);
		deleting = p->deleting;
		gone = p->gone;
		pthread_mutex_unlock(&pm->lock);
		if (deleting || gone)
			break;
		if (setup_pod(p) == 0)
			step(p);
		start_slot_release(p);
		push_status(p);
		spec_drop(p);
		if (p->deep) {
			release_stack();
			p->deep = false;
			atomic_store(&pm->trim_due, true);
		}
		maybe_trim(pm);
		if (pod_wait(p, p->net ? TICK_MS : SETUP_RETRY_MS))
			goto out; /* agent stopping: leave the pod running */
	}
	kill_all(p, gone && !deleting ? 0 : grace_period(p));
	teardown(pm, p->uid, p->ns, p->name);
	if (deleting || p->is_static)
		final_delete(p);
out:
	pthread_mutex_lock(&pm->lock);
	p->exited = true;
	pthread_mutex_unlock(&pm->lock);
	return NULL;
}

/* ---- pods: bookkeeping ---- */

static void pod_free(struct pod *p)
{
	for (int i = 0; i < p->nctrs; i++) {
		berth_probe_free(&p->ctrs[i].live);
		berth_probe_free(&p->ctrs[i].readyp);
		berth_probe_free(&p->ctrs[i].startup);
	}
	for (int i = 0; i < p->nctrs; i++) {
		free(p->ctrs[i].name);
		free(p->ctrs[i].image);
	}
	free(p->ctrs);
	free(p->spec_str);
	free(p->adopt);
	free(p->last_status);
	json_object_put(p->obj);
	json_object_put(p->spec_pod);
	pthread_cond_destroy(&p->cond);
	free(p);
}

void berth_podmgr_phases(struct berth_podmgr *pm,
			 void (*cb)(const char *phase, void *arg), void *arg)
{
	pthread_mutex_lock(&pm->lock);
	for (struct pod *p = pm->pods; p; p = p->next) {
		const char *ph = atomic_load(&p->phase);

		if (!p->exited)
			cb(ph ? ph : "Pending", arg);
	}
	pthread_mutex_unlock(&pm->lock);
}

/* join and free workers that finished (lock held) */
static void reap(struct berth_podmgr *pm)
{
	for (struct pod **pp = &pm->pods; *pp;) {
		struct pod *p = *pp;

		if (p->exited && !p->stop) {
			*pp = p->next;
			pthread_join(p->thread, NULL);
			pod_free(p);
		} else {
			pp = &p->next;
		}
	}
}

static struct pod *find_pod(struct berth_podmgr *pm, const char *uid)
{
	for (struct pod *p = pm->pods; p; p = p->next)
		if (!strcmp(p->uid, uid) && !p->exited)
			return p;
	return NULL;
}

/* metadata.deletionGracePeriodSeconds, else spec.terminationGracePeriodSeconds */
static long obj_grace(json_object *obj)
{
	json_object *v = jget(jget(obj, "metadata"), "deletionGracePeriodSeconds");
	long g;

	if (!v)
		v = jget(jget(obj, "spec"), "terminationGracePeriodSeconds");
	g = v ? json_object_get_int64(v) : DEFAULT_GRACE_S;
	return g < 0 ? 0 : g;
}

static bool terminal(json_object *pod)
{
	const char *ph = jstr(pod, "status.phase");

	return ph && (!strcmp(ph, "Succeeded") || !strcmp(ph, "Failed"));
}

static int state_uid_cmp(const void *a, const void *b)
{
	const struct berth_container_state *x = a, *y = b;

	return strcmp(x->pod_uid, y->pod_uid);
}

/* the runtime's containers, once, before the first pod list */
static void adopt_load(struct berth_podmgr *pm)
{
	if (berth_container_list(pm->o.rt, &pm->adopt, &pm->nadopt)) {
		pm->adopt = NULL;
		pm->nadopt = 0;
	}
	if (pm->nadopt)
		qsort(pm->adopt, pm->nadopt, sizeof(*pm->adopt), state_uid_cmp);
	pr_info("pods: the runtime holds %zu containers", pm->nadopt);
	pm->adopt_users = pm->o.static_pods ? 2 : 1;
}

/* the first list or static scan is through (lock held) */
static void adopt_release(struct berth_podmgr *pm)
{
	if (pm->adopt_users <= 0 || --pm->adopt_users)
		return;
	free(pm->adopt);
	pm->adopt = NULL;
	pm->nadopt = 0;
}

/* copy a new pod's entries of the list into it (lock held) */
static void adopt_take(struct berth_podmgr *pm, struct pod *p)
{
	size_t lo = 0, hi = pm->nadopt, end;

	while (lo < hi) { /* the first entry with uid >= p->uid */
		size_t mid = lo + (hi - lo) / 2;

		if (strcmp(pm->adopt[mid].pod_uid, p->uid) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (end = lo;
	     end < pm->nadopt && !strcmp(pm->adopt[end].pod_uid, p->uid);)
		end++;
	if (end == lo)
		return;
	p->adopt = malloc((end - lo) * sizeof(*p->adopt));
	if (!p->adopt) /* no adoption: the worker starts them anew */
		return;
	memcpy(p->adopt, &pm->adopt[lo], (end - lo) * sizeof(*p->adopt));
	p->nadopt = end - lo;
}

/* lock held */
static void pod_update(struct berth_podmgr *pm, json_object *obj, bool is_static)
{
	const char *uid = jstr(obj, "metadata.uid");
	const char *ns = jstr(obj, "metadata.namespace") ?: "default";
	const char *name = jstr(obj, "metadata.name");
	json_object *md = jget(obj, "metadata");
	struct pod *p;
	pthread_attr_t attr;

	if (!uid || !name)
		return;
	/* mirror pods stand for static pods; they are not run */
	if (!is_static && jget(jget(md, "annotations"), "kubernetes.io/config.mirror")) {
		/* someone deletes the mirror: finish it, the worker makes a new one */
		json_object *m = jget(jget(md, "annotations"),
				      "kubernetes.io/config.mirror");

		p = find_pod(pm, json_object_get_string(m));
		if (p && p->is_static && jget(md, "deletionTimestamp")) {
			snprintf(p->mirror_del, sizeof(p->mirror_del), "%s", uid);
			p->mirror_lost = true;
			p->wake = true;
			pthread_cond_signal(&p->cond);
		}
		return;
	}
	p = find_pod(pm, uid);
	if (p) {
		if (p->is_static || !p->taken) {
			json_object_put(p->obj);
			p->obj = json_object_get(obj);
		}
		p->grace_s = obj_grace(obj);
		p->seen = true;
		if (jget(md, "deletionTimestamp"))
			p->deleting = true;
		p->wake = true;
		pthread_cond_signal(&p->cond);
		return;
	}
	if (pm->stop)
		return;
	/* finished pods the agent does not know are left alone, unless
	 * they are being deleted (nothing of them runs here) */
	if (terminal(obj) && !jget(md, "deletionTimestamp"))
		return;
	p = calloc(1, sizeof(*p));
	if (!p)
		return;
	p->pm = pm;
	snprintf(p->uid, sizeof(p->uid), "%s", uid);
	snprintf(p->ns, sizeof(p->ns), "%s", ns);
	snprintf(p->name, sizeof(p->name), "%s", name);
	p->obj = json_object_get(obj);
	p->grace_s = obj_grace(obj);
	p->seen = true;
	p->is_static = is_static;
	p->deleting = jget(md, "deletionTimestamp") != NULL;
	adopt_take(pm, p);
	pthread_cond_init(&p->cond, NULL);
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, WORKER_STACK);
	if (pthread_create(&p->thread, &attr, worker, p)) {
		pr_err("pod %s/%s: start worker: %s", ns, name, strerror(errno));
		pthread_attr_destroy(&attr);
		pthread_cond_destroy(&p->cond);
		json_object_put(p->obj);
		free(p->adopt);
		free(p);
		return;
	}
	pthread_attr_destroy(&attr);
	p->next = pm->pods;
	pm->pods = p;
}

static void pod_gone(struct pod *p)
{
	p->gone = true;
	p->wake = true;
	pthread_cond_signal(&p->cond);
}

/* sandboxes of pods the API no longer has (deleted while we were down) */
static void clean_orphans(struct berth_podmgr *pm)
{
	/* read only: kept until this and the first static scan are done */
	struct berth_container_state *list = pm->adopt;
	char **uids = NULL;
	size_t n = pm->nadopt;

	if (berth_sandbox_list(pm->o.rt, &uids))
		return;
	for (int i = 0; uids && uids[i]; i++) {
		char path[PATH_MAX];
		json_object *pj;
		bool known;

		pthread_mutex_lock(&pm->lock);
		known = find_pod(pm, uids[i]) != NULL;
		pthread_mutex_unlock(&pm->lock);
		if (known)
			continue;
		snprintf(path, sizeof(path), "%s/pods/%s/pod.json",
			 berth_runtime_root(pm->o.rt), uids[i]);
		pj = json_object_from_file(path);
		pr_info("pod %s/%s (%s): gone from the API, cleaning up",
			jstr(pj, "namespace") ?: "?", jstr(pj, "name") ?: "?",
			uids[i]);
		for (size_t k = 0; k < n; k++) {
			char dir[PATH_MAX];

			if (strcmp(list[k].pod_uid, uids[i]))
				continue;
			berth_container_stop(pm->o.rt, list[k].id, 0);
			if (!berth_container_dir(pm->o.rt, uids[i], list[k].name,
						 list[k].attempt, dir, sizeof(dir)))
				berth_image_rootfs_release(pm->o.imgs, dir);
			berth_container_remove(pm->o.rt, list[k].id);
		}
		teardown(pm, uids[i], jstr(pj, "namespace") ?: "",
			 jstr(pj, "name") ?: "");
		json_object_put(pj);
	}
	berth_strv_free(uids);
}

static void on_pod_event(enum berth_kube_event ev, json_object *obj, void *arg)
{
	struct berth_podmgr *pm = arg;
	bool clean = false;

	pthread_mutex_lock(&pm->lock);
	reap(pm);
	switch (ev) {
	case BERTH_KUBE_LIST_BEGIN:
		for (struct pod *p = pm->pods; p; p = p->next)
			if (!p->is_static)
				p->seen = false;
		break;
	case BERTH_KUBE_ADDED:
	case BERTH_KUBE_MODIFIED:
		pod_update(pm, obj, false);
		break;
	case BERTH_KUBE_DELETED: {
		struct pod *p = find_pod(pm, jstr(obj, "metadata.uid") ?: "");
		json_object *mirror = jget(jget(jget(obj, "metadata"), "annotations"),
					   "kubernetes.io/config.mirror");

		if (p && !p->is_static) {
			pod_gone(p);
		} else if (mirror) {
			/* a deleted mirror pod comes back while its static pod runs */
			p = find_pod(pm, json_object_get_string(mirror));
			if (p && p->is_static) {
				p->wake = true;
				p->mirror_lost = true;
				pthread_cond_signal(&p->cond);
			}
		}
		break;
	}
	case BERTH_KUBE_LIST_END:
		for (struct pod *p = pm->pods; p; p = p->next)
			if (!p->is_static && !p->seen)
				pod_gone(p);
		clean = !pm->cleaned;
		pm->cleaned = true;
		break;
	}
	pthread_mutex_unlock(&pm->lock);
	if (clean) {
		clean_orphans(pm);
		pthread_mutex_lock(&pm->lock);
		adopt_release(pm);
		pthread_mutex_unlock(&pm->lock);
	}
}

/* ---- static pods ---- */

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void create_mirror(struct pod *p)
{
	json_object *m = NULL, *md, *ann, *out = NULL, *spec;
	char path[1024], msg[256];
	int st;

	pthread_mutex_lock(&p->pm->lock);
	json_object_deep_copy(p->obj, &m, NULL);
	pthread_mutex_unlock(&p->pm->lock);
	if (!m)
		return;
	md = jget(m, "metadata");
	json_object_object_del(md, "uid");
	json_object_object_del(md, "resourceVersion");
	ann = jget(md, "annotations");
	if (!ann) {
		ann = json_object_new_object();
		json_object_object_add(md, "annotations", ann);
	}
	jadd_str(ann, "kubernetes.io/config.mirror", p->uid);
	json_object_object_del(m, "status");
	spec = jget(m, "spec");
	jadd_str(spec, "nodeName", p->pm->o.node_name);
	snprintf(path, sizeof(path), "/api/v1/namespaces/%s/pods", p->ns);
	st = berth_kube_post(p->pm->o.kube, path, m, &out);
	if (st == 201 || st == 200 || st == 409) {
		p->mirror_ok = true;
		free(p->last_status);
		p->last_status = NULL;
		if (st != 409)
			pr_info("static pod %s/%s: mirror pod created", p->ns,
				p->name);
	} else {
		pr_warn("static pod %s/%s: create mirror pod: %s", p->ns,
			p->name, berth_kube_status_message(out, st, msg, sizeof(msg)));
	}
	json_object_put(out);
	json_object_put(m);
}

static json_object *load_manifest(const char *path, const char *node)
{
	char err[256], *buf = NULL, uid[64], name[512];
	json_object *o = NULL, *md;
	size_t len = 0;
	FILE *f = fopen(path, "r");

	if (!f)
		return NULL;
	buf = malloc(1 << 20);
	if (buf)
		len = fread(buf, 1, (1 << 20) - 1, f);
	fclose(f);
	if (!buf)
		return NULL;
	buf[len] = 0;
	if (berth_kube_yaml_parse(buf, len, &o, err, sizeof(err)) ||
	    !jstr(o, "metadata.name") || !jget(o, "spec")) {
		pr_warn("static pod %s: %s", path,
			o ? "not a Pod (metadata.name, spec)" : err);
		json_object_put(o);
		free(buf);
		return NULL;
	}
	md = jget(o, "metadata");
	snprintf(uid, sizeof(uid), "%016llx%016llx",
		 (unsigned long long)fnv1a(buf, len),
		 (unsigned long long)fnv1a(node, strlen(node)));
	free(buf);
	snprintf(name, sizeof(name), "%s-%s", jstr(o, "metadata.name"), node);
	jadd_str(md, "name", name);
	jadd_str(md, "uid", uid);
	if (!jstr(o, "metadata.namespace"))
		jadd_str(md, "namespace", "default");
	{
		json_object *ann = jget(md, "annotations");

		if (!ann) {
			ann = json_object_new_object();
			json_object_object_add(md, "annotations", ann);
		}
		jadd_str(ann, "kubernetes.io/config.source", "file");
		jadd_str(ann, "kubernetes.io/config.hash", uid);
	}
	jadd_str(jget(o, "spec"), "nodeName", node);
	return o;
}

static void scan_static(struct berth_podmgr *pm)
{
	struct dirent **ents;
	int n = scandir(pm->o.static_pods, &ents, NULL, alphasort);

	pthread_mutex_lock(&pm->lock);
	for (struct pod *p = pm->pods; p; p = p->next)
		if (p->is_static)
			p->seen = false;
	pthread_mutex_unlock(&pm->lock);
	for (int i = 0; i < n; i++) {
		const char *nm = ents[i]->d_name;
		size_t l = strlen(nm);

		if (nm[0] != '.' &&
		    ((l > 5 && !strcmp(nm + l - 5, ".yaml")) ||
		     (l > 4 && !strcmp(nm + l - 4, ".yml")) ||
		     (l > 5 && !strcmp(nm + l - 5, ".json")))) {
			char path[PATH_MAX];
			json_object *o;

			snprintf(path, sizeof(path), "%s/%s", pm->o.static_pods, nm);
			o = load_manifest(path, pm->o.node_name);
			if (o) {
				pthread_mutex_lock(&pm->lock);
				struct pod *p = find_pod(pm, jstr(o, "metadata.uid"));

				if (p)
					p->seen = true;
				else
					pod_update(pm, o, true);
				pthread_mutex_unlock(&pm->lock);
				json_object_put(o);
			}
		}
		free(ents[i]);
	}
	if (n >= 0)
		free(ents);
	pthread_mutex_lock(&pm->lock);
	for (struct pod *p = pm->pods; p; p = p->next)
		if (p->is_static && !p->seen && !p->gone) {
			pr_info("static pod %s/%s: manifest removed", p->ns, p->name);
			pod_gone(p);
		}
	reap(pm);
	pthread_mutex_unlock(&pm->lock);
}

static void *static_main(void *arg)
{
	struct berth_podmgr *pm = arg;

	bool first = true;

	while (!pm->stop) {
		scan_static(pm);
		if (first) {
			pthread_mutex_lock(&pm->lock);
			adopt_release(pm);
			pthread_mutex_unlock(&pm->lock);
			first = false;
		}
		for (int i = 0; i < STATIC_SCAN_S * 10 && !pm->stop; i++)
			usleep(100 * 1000);
	}
	return NULL;
}

/* ---- public ---- */

static unsigned int start_parallel(void)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	/* an override for measuring (bench/pods.py passes the environment) */
	const char *e = getenv("BERTH_START_PARALLEL");

	if (e && atoi(e) > 0)
		return atoi(e);
	return (cpus > 0 ? cpus : 1) * START_PER_CPU;
}

int berth_podmgr_start(const struct berth_podmgr_opts *opts,
		       struct berth_podmgr **out)
{
	struct berth_podmgr *pm = calloc(1, sizeof(*pm));
	char q[512], esc[400], sel[300];
	int ret;

	if (!pm)
		return -ENOMEM;
	pm->o = *opts;
	if (!pm->o.cni_bin_dir)
		pm->o.cni_bin_dir = "/opt/cni/bin";
	if (!pm->o.cni_conf_dir)
		pm->o.cni_conf_dir = "/etc/cni/net.d";
	pm->tokens = berth_tokens_new(opts->kube);
	if (!pm->tokens) {
		free(pm);
		return -ENOMEM;
	}
	pm->objs.get = objs_get;
	pm->objs.token = objs_token;
	pm->objs.arg = pm;
	pthread_mutex_init(&pm->lock, NULL);
	sem_init(&pm->starts, 0, start_parallel());
	adopt_load(pm);
	snprintf(sel, sizeof(sel), "spec.nodeName=%s", opts->node_name);
	berth_kube_escape(sel, esc, sizeof(esc));
	snprintf(q, sizeof(q), "fieldSelector=%s", esc);
	ret = berth_kube_watch_start(&pm->watch, opts->kube, "/api/v1/pods", q,
				     on_pod_event, pm);
	if (ret) {
		berth_tokens_free(pm->tokens);
		sem_destroy(&pm->starts);
		free(pm->adopt);
		free(pm);
		return ret;
	}
	if (opts->static_pods) {
		pthread_attr_t attr;

		pthread_attr_init(&attr);
		pthread_attr_setstacksize(&attr, WORKER_STACK);
		pm->static_running = !pthread_create(&pm->static_thread, &attr,
						     static_main, pm);
		pthread_attr_destroy(&attr);
		if (!pm->static_running) {
			pthread_mutex_lock(&pm->lock);
			adopt_release(pm);
			pthread_mutex_unlock(&pm->lock);
		}
	}
	*out = pm;
	return 0;
}

void berth_podmgr_stop(struct berth_podmgr *pm)
{
	if (!pm)
		return;
	pm->stop = 1;
	berth_kube_watch_stop(pm->watch);
	if (pm->static_running)
		pthread_join(pm->static_thread, NULL);
	pthread_mutex_lock(&pm->lock);
	for (struct pod *p = pm->pods; p; p = p->next) {
		p->stop = true;
		pthread_cond_signal(&p->cond);
	}
	pthread_mutex_unlock(&pm->lock);
	while (pm->pods) {
		struct pod *p = pm->pods;

		pm->pods = p->next;
		pthread_join(p->thread, NULL);
		pod_free(p);
	}
	pthread_mutex_destroy(&pm->lock);
	sem_destroy(&pm->starts);
	berth_tokens_free(pm->tokens);
	free(pm->adopt);
	free(pm);
}

int berth_podmgr_log_target(struct berth_podmgr *pm, const char *ns,
			    const char *pod, const char *container,
			    bool previous, struct berth_log_target *out)
{
	int ret = -ENOENT;

	pthread_mutex_lock(&pm->lock);
	for (struct pod *p = pm->pods; p; p = p->next) {
		if (strcmp(p->ns, ns) || strcmp(p->name, pod) || !p->ctrs)
			continue;
		for (int i = 0; i < p->nctrs; i++) {
			struct ctr *c = &p->ctrs[i];

			if (container && *container && strcmp(c->name, container))
				continue;
			snprintf(out->uid, sizeof(out->uid), "%s", p->uid);
			if (previous) {
				/* attempts are numbered: the one before */
				if (!c->restarts) {
					ret = -ESRCH;
					break;
				}
				out->attempt = c->restarts - 1;
			} else {
				out->attempt = c->restarts;
			}
			berth_container_id(p->uid, c->name, out->attempt,
					   out->container_id,
					   sizeof(out->container_id));
			ret = 0;
			break;
		}
		break;
	}
	pthread_mutex_unlock(&pm->lock);
	return ret;
}
