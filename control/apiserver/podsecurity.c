// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * Pod Security admission: the namespace's pod-security.kubernetes.io/
 * enforce and warn labels name a level of the Pod Security Standards
 * (privileged, baseline, restricted); a new pod is checked against it.
 * Checks run in the order of their upstream ids so the message lists them
 * as kube-apiserver does: `violates PodSecurity "restricted:latest":
 * check (detail), ...`.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "admission.h"
#include "api.h"
#include "jsonutil.h"
#include "registry.h"

#define PSA_LABEL "pod-security.kubernetes.io/"

enum level { PRIVILEGED, BASELINE, RESTRICTED };

struct sbuf {
	char s[2048];
	size_t off;
};

static void sb_add(struct sbuf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
static void sb_add(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;

	if (b->off >= sizeof(b->s))
		return;
	va_start(ap, fmt);
	b->off += vsnprintf(b->s + b->off, sizeof(b->s) - b->off, fmt, ap);
	va_end(ap);
}

/* ["a", "b"] as `container "a"` or `containers "a", "b"`. */
struct names {
	struct sbuf b;
	int n;
};

static void names_add(struct names *n, const char *name)
{
	sb_add(&n->b, "%s\"%s\"", n->n ? ", " : "", name ?: "");
	n->n++;
}

static void names_fmt(const struct names *n, const char *what, struct sbuf *out)
{
	sb_add(out, "%s%s %s", what, n->n > 1 ? "s" : "", n->b.s);
}

static bool is_true(struct json_object *o, const char *path)
{
	struct json_object *v = berth_json_path(o, path);

	return v && json_object_is_type(v, json_type_boolean) &&
	       json_object_get_boolean(v);
}

static bool is_false(struct json_object *o, const char *path)
{
	struct json_object *v = berth_json_path(o, path);

	return v && json_object_is_type(v, json_type_boolean) &&
	       !json_object_get_boolean(v);
}

/* The pod's containers, init first, as upstream visits them. */
#define MAX_CONTAINERS 64
static size_t containers(struct json_object *spec, struct json_object **out)
{
	static const char *const lists[] = { "initContainers", "containers",
					     "ephemeralContainers" };
	size_t i, j, n = 0;

	for (i = 0; i < 3; i++) {
		struct json_object *cs = berth_admission_array(spec, lists[i]);

		for (j = 0; cs && j < json_object_array_length(cs) &&
			    n < MAX_CONTAINERS;
		     j++)
			out[n++] = json_object_array_get_idx(cs, j);
	}
	return n;
}

struct pod {
	struct json_object *spec, *psc;
	struct json_object *cs[MAX_CONTAINERS];
	size_t n;
	enum level level;
	struct sbuf out;
	int nviol;
};

static void violation(struct pod *p, const char *check, const struct sbuf *d)
{
	sb_add(&p->out, "%s%s (%s)", p->nviol ? ", " : "", check, d->s);
	p->nviol++;
}

static const char *cname(struct json_object *c)
{
	return berth_json_get_str(c, "name");
}

/* A check failed by containers whose field test says so. */
static void per_container(struct pod *p, const char *check,
			  bool (*bad)(struct json_object *c), const char *what)
{
	struct names n = { 0 };
	struct sbuf d = { 0 };
	size_t i;

	for (i = 0; i < p->n; i++)
		if (bad(p->cs[i]))
			names_add(&n, cname(p->cs[i]));
	if (!n.n)
		return;
	names_fmt(&n, "container", &d);
	sb_add(&d, " %s", what);
	violation(p, check, &d);
}

static bool ape_not_false(struct json_object *c)
{
	return !is_false(c, "securityContext.allowPrivilegeEscalation");
}

static bool privileged(struct json_object *c)
{
	return is_true(c, "securityContext.privileged");
}

static bool in_list(const char *s, const char *const *list)
{
	for (; *list; list++)
		if (!strcmp(s, *list))
			return true;
	return false;
}

static void capabilities(struct pod *p)
{
	static const char *const baseline[] = {
		"AUDIT_WRITE", "CHOWN",	 "DAC_OVERRIDE", "FOWNER",
		"FSETID",      "KILL",	 "MKNOD",	 "NET_BIND_SERVICE",
		"SETFCAP",     "SETGID", "SETPCAP",	 "SETUID",
		"SYS_CHROOT",  NULL,
	};
	static const char *const restricted[] = { "NET_BIND_SERVICE", NULL };
	const char *const *allowed = p->level == RESTRICTED ? restricted :
							      baseline;
	struct sbuf d = { 0 };
	struct names nodrop = { 0 };
	size_t i, j;
	int parts = 0;

	for (i = 0; i < p->n; i++) {
		struct json_object *add = berth_admission_array(
			berth_json_path(p->cs[i],
					"securityContext.capabilities"),
			"add");
		struct json_object *drop = berth_admission_array(
			berth_json_path(p->cs[i],
					"securityContext.capabilities"),
			"drop");
		bool all = false;
		struct names bad = { 0 };

		for (j = 0; drop && j < json_object_array_length(drop); j++)
			all |= !strcmp(
				json_object_get_string(json_object_array_get_idx(drop, j)) ?:
					"",
				"ALL");
		if (p->level == RESTRICTED && !all)
			names_add(&nodrop, cname(p->cs[i]));
		for (j = 0; add && j < json_object_array_length(add); j++) {
			const char *cap = json_object_get_string(
				json_object_array_get_idx(add, j));

			if (cap && !in_list(cap, allowed))
				names_add(&bad, cap);
		}
		if (bad.n) {
			sb_add(&d,
			       "%scontainer \"%s\" must not include %s in securityContext.capabilities.add",
			       parts++ ? "; " : "", cname(p->cs[i]) ?: "",
			       bad.b.s);
		}
	}
	if (nodrop.n) { /* the drop part comes first */
		struct sbuf full = { 0 };

		names_fmt(&nodrop, "container", &full);
		sb_add(&full,
		       " must set securityContext.capabilities.drop=[\"ALL\"]%s%s",
		       parts ? "; " : "", d.s);
		violation(p, "unrestricted capabilities", &full);
	} else if (parts) {
		violation(p,
			  p->level == RESTRICTED ? "unrestricted capabilities" :
						   "non-default capabilities",
			  &d);
	}
}

static void host_namespaces(struct pod *p)
{
	static const char *const keys[] = { "hostNetwork", "hostPID",
					    "hostIPC" };
	struct sbuf d = { 0 };
	int i, n = 0;

	for (i = 0; i < 3; i++)
		if (is_true(p->spec, keys[i]))
			sb_add(&d, "%s%s=true", n++ ? ", " : "", keys[i]);
	if (n)
		violation(p, "host namespaces", &d);
}

static void volumes(struct pod *p, bool restricted_types)
{
	static const char *const ok[] = {
		"configMap", "csi",	  "downwardAPI",
		"emptyDir",  "ephemeral", "persistentVolumeClaim",
		"projected", "secret",	  NULL
	};
	struct json_object *vols = berth_admission_array(p->spec, "volumes");
	struct names hp = { 0 };
	struct sbuf d = { 0 };
	size_t i;
	int n = 0;

	for (i = 0; vols && i < json_object_array_length(vols); i++) {
		struct json_object *v = json_object_array_get_idx(vols, i);
		const char *name = berth_json_get_str(v, "name");

		if (!json_object_is_type(v, json_type_object))
			continue;
		if (!restricted_types) {
			if (json_object_object_get_ex(v, "hostPath", NULL))
				names_add(&hp, name);
			continue;
		}
		json_object_object_foreach(v, k, val)
		{
			(void)val;
			if (!strcmp(k, "name") || in_list(k, ok))
				continue;
			sb_add(&d,
			       "%svolume \"%s\" uses restricted volume type \"%s\"",
			       n++ ? "; " : "", name ?: "", k);
		}
	}
	if (hp.n) {
		names_fmt(&hp, "volume", &d);
		violation(p, "hostPath volumes", &d);
	} else if (n) {
		violation(p, "restricted volume types", &d);
	}
}

static void host_ports(struct pod *p)
{
	struct sbuf d = { 0 };
	size_t i, j;
	int n = 0;

	for (i = 0; i < p->n; i++) {
		struct json_object *ports =
			berth_admission_array(p->cs[i], "ports");
		struct sbuf nums = { 0 };
		int k = 0;

		for (j = 0; ports && j < json_object_array_length(ports); j++) {
			int64_t hp = berth_json_get_int(
				json_object_array_get_idx(ports, j), "hostPort",
				0);

			if (hp)
				sb_add(&nums, "%s%lld", k++ ? ", " : "",
				       (long long)hp);
		}
		if (k)
			sb_add(&d, "%scontainer \"%s\" uses hostPort%s %s",
			       n++ ? "; " : "", cname(p->cs[i]) ?: "",
			       k > 1 ? "s" : "", nums.s);
	}
	if (n)
		violation(p, "hostPort", &d);
}

static void proc_mount(struct pod *p)
{
	struct sbuf d = { 0 };
	size_t i;
	int n = 0;

	for (i = 0; i < p->n; i++) {
		const char *pm = berth_json_path_str(
			p->cs[i], "securityContext.procMount");

		if (pm && strcmp(pm, "Default"))
			sb_add(&d,
			       "%scontainer \"%s\" must not set securityContext.procMount to \"%s\"",
			       n++ ? "; " : "", cname(p->cs[i]) ?: "", pm);
	}
	if (n)
		violation(p, "procMount", &d);
}

static void run_as_non_root(struct pod *p)
{
	bool pod_true = is_true(p->psc, "runAsNonRoot");
	struct names unset = { 0 }, falses = { 0 };
	struct sbuf d = { 0 };
	size_t i;

	if (is_false(p->psc, "runAsNonRoot"))
		sb_add(&d,
		       "pod must not set securityContext.runAsNonRoot=false");
	for (i = 0; i < p->n; i++) {
		if (is_false(p->cs[i], "securityContext.runAsNonRoot"))
			names_add(&falses, cname(p->cs[i]));
		else if (!pod_true &&
			 !is_true(p->cs[i], "securityContext.runAsNonRoot"))
			names_add(&unset, cname(p->cs[i]));
	}
	if (falses.n) {
		sb_add(&d, "%s", d.off ? "; " : "");
		names_fmt(&falses, "container", &d);
		sb_add(&d, " must not set securityContext.runAsNonRoot=false");
	}
	if (unset.n && !is_false(p->psc, "runAsNonRoot")) {
		sb_add(&d, "%spod or ", d.off ? "; " : "");
		names_fmt(&unset, "container", &d);
		sb_add(&d, " must set securityContext.runAsNonRoot=true");
	}
	if (d.off)
		violation(p, "runAsNonRoot != true", &d);
}

static bool root_uid(struct json_object *sc)
{
	struct json_object *v;

	return json_object_object_get_ex(sc, "runAsUser", &v) &&
	       json_object_is_type(v, json_type_int) &&
	       !json_object_get_int64(v);
}

static void run_as_user(struct pod *p)
{
	struct names n = { 0 };
	struct sbuf d = { 0 };
	size_t i;

	if (root_uid(p->psc))
		sb_add(&d, "pod");
	for (i = 0; i < p->n; i++)
		if (root_uid(berth_json_path(p->cs[i], "securityContext")))
			names_add(&n, cname(p->cs[i]));
	if (n.n) {
		sb_add(&d, "%s", d.off ? " and " : "");
		names_fmt(&n, "container", &d);
	}
	if (!d.off)
		return;
	sb_add(&d, " must not set runAsUser=0");
	violation(p, "runAsUser=0", &d);
}

static bool selinux_bad(struct json_object *o, struct sbuf *why)
{
	static const char *const types[] = { "container_t", "container_init_t",
					     "container_kvm_t",
					     "container_engine_t", NULL };
	const char *t = berth_json_get_str(o, "type");
	bool bad = false;

	if (t && *t && !in_list(t, types)) {
		sb_add(why, "type \"%s\"", t);
		bad = true;
	}
	if (berth_json_get_str(o, "user") && *berth_json_get_str(o, "user")) {
		sb_add(why, "%suser \"%s\"", bad ? ", " : "",
		       berth_json_get_str(o, "user"));
		bad = true;
	}
	if (berth_json_get_str(o, "role") && *berth_json_get_str(o, "role")) {
		sb_add(why, "%srole \"%s\"", bad ? ", " : "",
		       berth_json_get_str(o, "role"));
		bad = true;
	}
	return bad;
}

static void selinux(struct pod *p)
{
	struct sbuf d = { 0 }, why = { 0 };
	size_t i;
	int n = 0;

	if (selinux_bad(berth_json_path(p->psc, "seLinuxOptions"), &why))
		sb_add(&d,
		       "pod set forbidden securityContext.seLinuxOptions: %s",
		       why.s),
			n++;
	for (i = 0; i < p->n; i++) {
		struct sbuf w = { 0 };

		if (selinux_bad(
			    berth_json_path(p->cs[i],
					    "securityContext.seLinuxOptions"),
			    &w))
			sb_add(&d,
			       "%scontainer \"%s\" set forbidden securityContext.seLinuxOptions: %s",
			       n++ ? "; " : "", cname(p->cs[i]) ?: "", w.s);
	}
	if (n)
		violation(p, "seLinuxOptions", &d);
}

static const char *seccomp_type(struct json_object *sc)
{
	return berth_json_path_str(sc, "seccompProfile.type");
}

static bool seccomp_ok(const char *t)
{
	return t && (!strcmp(t, "RuntimeDefault") || !strcmp(t, "Localhost"));
}

static void seccomp(struct pod *p)
{
	const char *pt = seccomp_type(p->psc);
	struct names unconf = { 0 }, unset = { 0 };
	struct sbuf d = { 0 };
	size_t i;

	if (pt && !strcmp(pt, "Unconfined"))
		sb_add(&d,
		       "pod must not set securityContext.seccompProfile.type to \"Unconfined\"");
	for (i = 0; i < p->n; i++) {
		const char *ct = seccomp_type(
			berth_json_path(p->cs[i], "securityContext"));

		if (ct && !strcmp(ct, "Unconfined"))
			names_add(&unconf, cname(p->cs[i]));
		else if (p->level == RESTRICTED && !seccomp_ok(ct) &&
			 !seccomp_ok(pt))
			names_add(&unset, cname(p->cs[i]));
	}
	if (unconf.n) {
		sb_add(&d, "%s", d.off ? "; " : "");
		names_fmt(&unconf, "container", &d);
		sb_add(&d,
		       " must not set securityContext.seccompProfile.type to \"Unconfined\"");
	}
	if (unset.n && !(pt && !strcmp(pt, "Unconfined"))) {
		sb_add(&d, "%spod or ", d.off ? "; " : "");
		names_fmt(&unset, "container", &d);
		sb_add(&d,
		       " must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\"");
	}
	if (d.off)
		violation(p, "seccompProfile", &d);
}

static void sysctls(struct pod *p)
{
	static const char *const safe[] = {
		"kernel.shm_rmid_forced",
		"net.ipv4.ip_local_port_range",
		"net.ipv4.ip_unprivileged_port_start",
		"net.ipv4.tcp_syncookies",
		"net.ipv4.ping_group_range",
		"net.ipv4.ip_local_reserved_ports",
		"net.ipv4.tcp_keepalive_time",
		"net.ipv4.tcp_fin_timeout",
		"net.ipv4.tcp_keepalive_intvl",
		"net.ipv4.tcp_keepalive_probes",
		NULL,
	};
	struct json_object *s = berth_admission_array(p->psc, "sysctls");
	struct sbuf d = { 0 };
	size_t i;
	int n = 0;

	for (i = 0; s && i < json_object_array_length(s); i++) {
		const char *name = berth_json_get_str(
			json_object_array_get_idx(s, i), "name");

		if (name && !in_list(name, safe))
			sb_add(&d, "%s%s", n++ ? ", " : "", name);
	}
	if (n)
		violation(p, "forbidden sysctls", &d);
}

static void evaluate(struct pod *p)
{
	bool r = p->level == RESTRICTED;

	if (r)
		per_container(
			p, "allowPrivilegeEscalation != false", ape_not_false,
			"must set securityContext.allowPrivilegeEscalation=false");
	capabilities(p);
	host_namespaces(p);
	volumes(p, false);
	host_ports(p);
	per_container(p, "privileged", privileged,
		      "must not set securityContext.privileged=true");
	proc_mount(p);
	if (r) {
		volumes(p, true);
		run_as_non_root(p);
		run_as_user(p);
	}
	selinux(p);
	seccomp(p);
	sysctls(p);
}

static enum level parse_level(const char *s)
{
	if (!strcmp(s, "privileged"))
		return PRIVILEGED;
	if (!strcmp(s, "baseline"))
		return BASELINE;
	return RESTRICTED; /* an unknown level is the strictest */
}

/* The mode's level from the labels; false when the label is absent. */
static bool mode_level(struct json_object *labels, const char *mode,
		       enum level *lv, char *name, size_t size)
{
	char key[96];
	const char *l, *v;

	snprintf(key, sizeof(key), PSA_LABEL "%s", mode);
	l = berth_json_get_str(labels, key);
	if (!l)
		return false;
	snprintf(key, sizeof(key), PSA_LABEL "%s-version", mode);
	v = berth_json_get_str(labels, key);
	*lv = parse_level(l);
	snprintf(name, size, "%s:%s",
		 *lv == PRIVILEGED ? "privileged" :
		 *lv == BASELINE   ? "baseline" :
				     "restricted",
		 v && *v ? v : "latest");
	return true;
}

static void check(struct pod *p, struct json_object *pod, enum level lv)
{
	memset(p, 0, sizeof(*p));
	p->spec = berth_json_path(pod, "spec");
	p->psc = berth_json_path(p->spec, "securityContext");
	p->n = containers(p->spec, p->cs);
	p->level = lv;
	if (lv != PRIVILEGED)
		evaluate(p);
}

/* Add a warning to warn (several are '\n'-separated). */
static void add_warning(char *warn, size_t wsize, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
static void add_warning(char *warn, size_t wsize, const char *fmt, ...)
{
	size_t off = strlen(warn);
	va_list ap;

	if (off && off + 1 < wsize)
		warn[off++] = '\n';
	if (off >= wsize)
		return;
	va_start(ap, fmt);
	vsnprintf(warn + off, wsize - off, fmt, ap);
	va_end(ap);
}

/* The pod a request is about: a pod, or a workload's template. */
static struct json_object *pod_of(const struct berth_admission_req *rq,
				  bool *workload)
{
	static const char *const kinds[] = { "Deployment",  "ReplicaSet",
					     "StatefulSet", "DaemonSet",
					     "Job",	    NULL };

	*workload = in_list(rq->res->kind, kinds);
	if (*workload)
		return berth_json_path(rq->obj, "spec.template");
	return !strcmp(rq->res->kind, "Pod") ? rq->obj : NULL;
}

struct json_object *
berth_podsecurity_admit(const struct berth_admission_req *rq, char *warn,
			size_t wsize)
{
	struct json_object *ns, *labels, *pod, *st = NULL;
	static __thread struct pod p;
	enum level lv;
	bool workload, warned = false;
	char name[64];

	pod = pod_of(rq, &workload);
	if (!json_object_is_type(pod, json_type_object))
		return NULL;
	ns = berth_admission_get(rq->api, "namespaces", NULL, rq->ns);
	labels = berth_json_path(ns, "metadata.labels");
	if (mode_level(labels, "enforce", &lv, name, sizeof(name))) {
		check(&p, pod, lv);
		/* a workload is not refused: its pods will be */
		if (p.nviol && !workload)
			st = berth_admission_forbidden(
				rq, "violates PodSecurity \"%s\": %s", name,
				p.out.s);
		else if (p.nviol && warn) {
			add_warning(warn, wsize,
				    "would violate PodSecurity \"%s\": %s",
				    name, p.out.s);
			warned = true;
		}
	}
	if (!st && !warned && warn &&
	    mode_level(labels, "warn", &lv, name, sizeof(name))) {
		check(&p, pod, lv);
		if (p.nviol)
			add_warning(warn, wsize,
				    "would violate PodSecurity \"%s\": %s",
				    name, p.out.s);
	}
	json_object_put(ns);
	return st;
}

/* The short list of a pod's violations: the check names alone. */
static void check_names(const struct pod *p, char *buf, size_t size)
{
	const char *s = p->out.s;
	size_t off = 0;
	int depth = 0;

	for (; *s && off + 1 < size; s++) {
		if (*s == '(')
			depth++;
		else if (*s == ')')
			depth--;
		else if (!depth && !(*s == ' ' && s[1] == '('))
			buf[off++] = *s;
	}
	buf[off] = 0;
}

static bool valid_labels(const struct berth_admission_req *rq,
			 struct json_object *labels, struct json_object **st)
{
	static const char *const modes[] = { "enforce", "audit", "warn" };
	static const char *const levels[] = { "privileged", "baseline",
					      "restricted", NULL };
	char key[96];
	const char *v;
	int i;

	for (i = 0; i < 3; i++) {
		snprintf(key, sizeof(key), PSA_LABEL "%s", modes[i]);
		v = berth_json_get_str(labels, key);
		if (v && !in_list(v, levels)) {
			*st = berth_admission_forbidden(
				rq,
				"metadata.labels[%s]: Invalid value: \"%s\": must be one of privileged, baseline, restricted",
				key, v);
			return false;
		}
		snprintf(key, sizeof(key), PSA_LABEL "%s-version", modes[i]);
		v = berth_json_get_str(labels, key);
		if (v && strcmp(v, "latest") && strncmp(v, "v1.", 3)) {
			*st = berth_admission_forbidden(
				rq,
				"metadata.labels[%s]: Invalid value: \"%s\": must be \"latest\" or \"v1.x\"",
				key, v);
			return false;
		}
	}
	return true;
}

struct json_object *
berth_podsecurity_namespace(const struct berth_admission_req *rq, char *warn,
			    size_t wsize)
{
	struct json_object *labels =
		berth_json_path(rq->obj, "metadata.labels");
	struct json_object *pods, *st = NULL;
	static __thread struct pod p;
	char name[64], oname[64], short_[512];
	enum level lv, olv;
	size_t i;
	int bad = 0;

	if (!valid_labels(rq, labels, &st))
		return st;
	if (!warn || rq->op != BERTH_ADMIT_UPDATE ||
	    !mode_level(labels, "enforce", &lv, name, sizeof(name)) ||
	    lv == PRIVILEGED)
		return NULL;
	if (mode_level(berth_json_path(rq->old, "metadata.labels"), "enforce",
		       &olv, oname, sizeof(oname)) &&
	    !strcmp(oname, name))
		return NULL; /* the level did not change */
	pods = berth_admission_list(rq->api, "pods", rq->name);
	for (i = 0; i < json_object_array_length(pods); i++) {
		struct json_object *pod = json_object_array_get_idx(pods, i);

		check(&p, pod, lv);
		if (!p.nviol)
			continue;
		if (!bad++)
			add_warning(
				warn, wsize,
				"existing pods in namespace \"%s\" violate the new PodSecurity enforce level \"%s\"",
				rq->name, name);
		check_names(&p, short_, sizeof(short_));
		add_warning(warn, wsize, "%s: %s",
			    berth_json_path_str(pod, "metadata.name") ?: "",
			    short_);
	}
	json_object_put(pods);
	return NULL;
}
