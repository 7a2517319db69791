// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Defaulting and validation of the built-in kinds, per kind. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "admit.h"
#include <berth/base64.h>
#include "jsonutil.h"
#include "selector.h"
#include "status.h"

#define DNS1123_LABEL_MSG                                                         \
	"a lowercase RFC 1123 label must consist of lower case alphanumeric "     \
	"characters or '-', and must start and end with an alphanumeric "         \
	"character (e.g. 'my-name',  or '123-abc', regex used for validation is " \
	"'[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
#define DNS1035_LABEL_MSG                                                      \
	"a DNS-1035 label must consist of lower case alphanumeric characters " \
	"or '-', start with an alphabetic character, and end with an "         \
	"alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used "   \
	"for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')"
#define DNS1123_SUBDOMAIN_MSG                                                  \
	"a lowercase RFC 1123 subdomain must consist of lower case "           \
	"alphanumeric characters, '-' or '.', and must start and end with an " \
	"alphanumeric character (e.g. 'example.com', regex used for "          \
	"validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"

static const char *const verr_reasons[] = {
	[BERTH_VERR_INVALID] = "FieldValueInvalid",
	[BERTH_VERR_REQUIRED] = "FieldValueRequired",
	[BERTH_VERR_DUPLICATE] = "FieldValueDuplicate",
	[BERTH_VERR_FORBIDDEN] = "FieldValueForbidden",
	[BERTH_VERR_NOT_SUPPORTED] = "FieldValueNotSupported",
};

void berth_verr(struct berth_verrs *v, enum berth_verr_type type,
		const char *field, const char *value, const char *detail)
{
	char *m;
	size_t sz;

	if (v->n == BERTH_VERRS_MAX)
		return;
	v->e[v->n].type = type;
	snprintf(v->e[v->n].field, sizeof(v->e[v->n].field), "%s", field);
	m = v->e[v->n].msg;
	sz = sizeof(v->e[v->n].msg);
	switch (type) {
	case BERTH_VERR_INVALID:
		snprintf(m, sz, "Invalid value: \"%s\"%s%s", value ? value : "",
			 detail ? ": " : "", detail ? detail : "");
		break;
	case BERTH_VERR_REQUIRED:
		snprintf(m, sz, "Required value%s%s", detail ? ": " : "",
			 detail ? detail : "");
		break;
	case BERTH_VERR_DUPLICATE:
		snprintf(m, sz, "Duplicate value: \"%s\"", value ? value : "");
		break;
	case BERTH_VERR_FORBIDDEN:
		snprintf(m, sz, "Forbidden: %s", detail ? detail : "");
		break;
	case BERTH_VERR_NOT_SUPPORTED:
		snprintf(m, sz, "Unsupported value: \"%s\"%s%s",
			 value ? value : "", detail ? ": " : "",
			 detail ? detail : "");
		break;
	}
	v->n++;
}

struct json_object *berth_verrs_status(const struct berth_verrs *v,
				       const struct berth_resource *r,
				       const char *name)
{
	char msg[2048];
	size_t off = 0;
	struct json_object *st;
	int i;

	for (i = 0; i < v->n && off < sizeof(msg); i++)
		off += snprintf(msg + off, sizeof(msg) - off, "%s%s: %s",
				i ? ", " : "", v->e[i].field, v->e[i].msg);
	st = berth_status_new(422, "Invalid", "%s \"%s\" is invalid: %s%s%s",
			      r->kind, name ? name : "", v->n > 1 ? "[" : "",
			      msg, v->n > 1 ? "]" : "");
	berth_status_details(st, name, r->group, r->kind);
	for (i = 0; i < v->n; i++)
		berth_status_cause(st, verr_reasons[v->e[i].type],
				   v->e[i].field, v->e[i].msg);
	return st;
}

/* ---- names ---- */

static bool is_label(const char *s, bool dns1035)
{
	size_t i, n = strlen(s);

	if (!n || n > 63)
		return false;
	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) ||
		      isdigit((unsigned char)s[i]) || s[i] == '-'))
			return false;
	if (s[0] == '-' || s[n - 1] == '-')
		return false;
	return !dns1035 || islower((unsigned char)s[0]);
}

static bool is_subdomain(const char *s)
{
	char part[254];
	const char *p = s, *dot;
	size_t n = strlen(s);

	if (!n || n > 253)
		return false;
	for (;;) {
		dot = strchr(p, '.');
		n = dot ? (size_t)(dot - p) : strlen(p);
		memcpy(part, p, n);
		part[n] = 0;
		if (!is_label(part, false))
			return false;
		if (!dot)
			return true;
		p = dot + 1;
	}
}

void berth_validate_name(const struct berth_resource *r, const char *name,
			 struct berth_verrs *v)
{
	if (!strcmp(r->group, "rbac.authorization.k8s.io")) {
		if (!strcmp(name, ".") || !strcmp(name, "..") ||
		    strchr(name, '/') || strchr(name, '%'))
			berth_verr(
				v, BERTH_VERR_INVALID, "metadata.name", name,
				"may not contain '/' or '%' and may not be '.' or '..'");
	} else if (!strcmp(r->kind, "Namespace")) {
		if (!is_label(name, false))
			berth_verr(v, BERTH_VERR_INVALID, "metadata.name", name,
				   DNS1123_LABEL_MSG);
	} else if (!strcmp(r->kind, "Service")) {
		if (!is_label(name, true))
			berth_verr(v, BERTH_VERR_INVALID, "metadata.name", name,
				   DNS1035_LABEL_MSG);
	} else if (!is_subdomain(name)) {
		berth_verr(v, BERTH_VERR_INVALID, "metadata.name", name,
			   DNS1123_SUBDOMAIN_MSG);
	}
}

/* ---- helpers ---- */

static bool streq(const char *a, const char *b)
{
	return a && b && !strcmp(a, b);
}

static struct json_object *get(struct json_object *o, const char *k)
{
	struct json_object *v = NULL;

	if (o && json_object_is_type(o, json_type_object))
		json_object_object_get_ex(o, k, &v);
	return v;
}

static void def_str(struct json_object *o, const char *k, const char *val)
{
	struct json_object *v = get(o, k);

	if (!v || (json_object_is_type(v, json_type_string) &&
		   !*json_object_get_string(v)))
		berth_json_set_str(o, k, val);
}

static void def_int(struct json_object *o, const char *k, int64_t val)
{
	if (!get(o, k))
		berth_json_set_int(o, k, val);
}

static void def_bool(struct json_object *o, const char *k, bool val)
{
	if (!get(o, k))
		json_object_object_add(o, k, json_object_new_boolean(val));
}

static bool is_obj(struct json_object *o)
{
	return json_object_is_type(o, json_type_object);
}

/* Must be an object if present; "required" if missing and required. */
static struct json_object *want_obj(struct json_object *parent, const char *key,
				    const char *field, bool required,
				    struct berth_verrs *v)
{
	struct json_object *o = get(parent, key);

	if (!o || json_object_is_type(o, json_type_null)) {
		if (required)
			berth_verr(v, BERTH_VERR_REQUIRED, field, NULL, NULL);
		return NULL;
	}
	if (!is_obj(o)) {
		berth_verr(v, BERTH_VERR_INVALID, field,
			   json_object_to_json_string(o), "must be an object");
		return NULL;
	}
	return o;
}

static struct json_object *want_array(struct json_object *parent,
				      const char *key, const char *field,
				      struct berth_verrs *v)
{
	struct json_object *o = get(parent, key);

	if (!o || json_object_is_type(o, json_type_null))
		return NULL;
	if (!json_object_is_type(o, json_type_array)) {
		berth_verr(v, BERTH_VERR_INVALID, field,
			   json_object_to_json_string(o), "must be a list");
		return NULL;
	}
	return o;
}

static void string_map(struct json_object *m, const char *field,
		       struct berth_verrs *v)
{
	char f[192];

	if (!m || json_object_is_type(m, json_type_null))
		return;
	if (!is_obj(m)) {
		berth_verr(v, BERTH_VERR_INVALID, field,
			   json_object_to_json_string(m),
			   "must be a map of strings");
		return;
	}
	json_object_object_foreach(m, k, val)
	{
		if (!json_object_is_type(val, json_type_string)) {
			snprintf(f, sizeof(f), "%s[%s]", field, k);
			berth_verr(v, BERTH_VERR_INVALID, f,
				   json_object_to_json_string(val),
				   "must be a string");
		}
	}
}

static bool valid_label_key(const char *k)
{
	const char *slash = strrchr(k, '/');
	char prefix[254];

	if (slash) {
		if ((size_t)(slash - k) > 253)
			return false;
		memcpy(prefix, k, slash - k);
		prefix[slash - k] = 0;
		if (!is_subdomain(prefix))
			return false;
		k = slash + 1;
	}
	return *k && berth_label_value_valid(k);
}

static void validate_labels(struct json_object *labels, const char *field,
			    struct berth_verrs *v)
{
	char f[192];

	string_map(labels, field, v);
	if (!is_obj(labels))
		return;
	json_object_object_foreach(labels, k, val)
	{
		snprintf(f, sizeof(f), "%s", field);
		if (!valid_label_key(k))
			berth_verr(
				v, BERTH_VERR_INVALID, f, k,
				"name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
		else if (json_object_is_type(val, json_type_string) &&
			 !berth_label_value_valid(json_object_get_string(val)))
			berth_verr(
				v, BERTH_VERR_INVALID, f,
				json_object_get_string(val),
				"a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character");
	}
}

static void validate_meta(struct json_object *obj, struct berth_verrs *v)
{
	struct json_object *md = get(obj, "metadata");

	validate_labels(get(md, "labels"), "metadata.labels", v);
	string_map(get(md, "annotations"), "metadata.annotations", v);
	want_array(md, "finalizers", "metadata.finalizers", v);
	want_array(md, "ownerReferences", "metadata.ownerReferences", v);
}

/* ---- pods ---- */

static void default_container(struct json_object *c, bool init)
{
	const char *image = berth_json_get_str(c, "image");
	struct json_object *ports = get(c, "ports");
	size_t i, n;

	(void)init;
	def_str(c, "terminationMessagePath", "/dev/termination-log");
	def_str(c, "terminationMessagePolicy", "File");
	if (image) {
		const char *last = strrchr(image, '/');
		const char *tag = strchr(last ? last : image, ':');
		bool latest = !strchr(image, '@') &&
			      (!tag || !strcmp(tag, ":latest"));

		def_str(c, "imagePullPolicy",
			latest ? "Always" : "IfNotPresent");
	}
	if (!get(c, "resources"))
		json_object_object_add(c, "resources",
				       json_object_new_object());
	if (json_object_is_type(ports, json_type_array)) {
		n = json_object_array_length(ports);
		for (i = 0; i < n; i++) {
			struct json_object *p =
				json_object_array_get_idx(ports, i);

			if (is_obj(p))
				def_str(p, "protocol", "TCP");
		}
	}
}

static void validate_containers(struct json_object *spec, const char *key,
				const char *base, bool required,
				struct berth_verrs *v)
{
	struct json_object *cs;
	char field[192], names[64][64];
	size_t i, j, n;

	snprintf(field, sizeof(field), "%s.%s", base, key);
	cs = want_array(spec, key, field, v);
	if (!cs || !(n = json_object_array_length(cs))) {
		if (required)
			berth_verr(v, BERTH_VERR_REQUIRED, field, NULL, NULL);
		return;
	}
	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cs, i);
		const char *name, *image;

		snprintf(field, sizeof(field), "%s.%s[%zu]", base, key, i);
		if (!is_obj(c)) {
			berth_verr(v, BERTH_VERR_INVALID, field, NULL,
				   "must be an object");
			continue;
		}
		default_container(c, strcmp(key, "containers"));
		name = berth_json_get_str(c, "name");
		image = berth_json_get_str(c, "image");
		snprintf(field, sizeof(field), "%s.%s[%zu].name", base, key, i);
		if (!name || !*name) {
			berth_verr(v, BERTH_VERR_REQUIRED, field, NULL, NULL);
		} else if (!is_label(name, false)) {
			berth_verr(v, BERTH_VERR_INVALID, field, name,
				   DNS1123_LABEL_MSG);
		} else {
			for (j = 0; j < i && j < 64; j++)
				if (!strcmp(names[j], name))
					berth_verr(v, BERTH_VERR_DUPLICATE,
						   field, name, NULL);
			if (i < 64)
				snprintf(names[i], sizeof(names[i]), "%s",
					 name);
		}
		snprintf(field, sizeof(field), "%s.%s[%zu].image", base, key,
			 i);
		if (!image || !*image)
			berth_verr(v, BERTH_VERR_REQUIRED, field, NULL, NULL);
	}
}

static void admit_pod_spec(struct json_object *spec, const char *base,
			   struct berth_verrs *v)
{
	char field[192];
	const char *rp;

	def_str(spec, "restartPolicy", "Always");
	def_int(spec, "terminationGracePeriodSeconds", 30);
	def_str(spec, "dnsPolicy", "ClusterFirst");
	def_str(spec, "schedulerName", "default-scheduler");
	if (!get(spec, "securityContext"))
		json_object_object_add(spec, "securityContext",
				       json_object_new_object());
	def_bool(spec, "enableServiceLinks", true);
	def_str(spec, "preemptionPolicy", "PreemptLowerPriority");
	def_int(spec, "priority", 0);
	validate_containers(spec, "containers", base, true, v);
	validate_containers(spec, "initContainers", base, false, v);
	rp = berth_json_get_str(spec, "restartPolicy");
	snprintf(field, sizeof(field), "%s.restartPolicy", base);
	if (rp && strcmp(rp, "Always") && strcmp(rp, "OnFailure") &&
	    strcmp(rp, "Never"))
		berth_verr(
			v, BERTH_VERR_NOT_SUPPORTED, field, rp,
			"supported values: \"Always\", \"Never\", \"OnFailure\"");
	snprintf(field, sizeof(field), "%s.nodeSelector", base);
	string_map(get(spec, "nodeSelector"), field, v);
}

static bool has_resources(struct json_object *c, const char *kind)
{
	struct json_object *r = berth_json_path(c, "resources");
	struct json_object *m = get(r, kind);

	return is_obj(m) && json_object_object_length(m) > 0;
}

static const char *qos_class(struct json_object *spec)
{
	struct json_object *cs = get(spec, "containers");
	size_t i, n = json_object_is_type(cs, json_type_array) ?
			      json_object_array_length(cs) :
			      0;
	bool any = false, all_guaranteed = n > 0;

	for (i = 0; i < n; i++) {
		struct json_object *c = json_object_array_get_idx(cs, i);
		struct json_object *req =
			berth_json_path(c, "resources.requests");
		struct json_object *lim =
			berth_json_path(c, "resources.limits");

		if (has_resources(c, "requests") || has_resources(c, "limits"))
			any = true;
		if (!is_obj(lim) || !get(lim, "cpu") || !get(lim, "memory") ||
		    (is_obj(req) && !berth_json_equal(req, lim)))
			all_guaranteed = false;
	}
	if (!any)
		return "BestEffort";
	return all_guaranteed ? "Guaranteed" : "Burstable";
}

/* Pod spec fields that may change after create (others are immutable). */
static void strip_mutable(struct json_object *spec)
{
	static const char *const keys[] = { "containers", "initContainers" };
	size_t i, j, n;

	json_object_object_del(spec, "activeDeadlineSeconds");
	json_object_object_del(spec, "tolerations");
	json_object_object_del(spec, "terminationGracePeriodSeconds");
	json_object_object_del(spec, "nodeName");
	json_object_object_del(spec, "schedulingGates");
	for (i = 0; i < 2; i++) {
		struct json_object *cs = get(spec, keys[i]);

		if (!json_object_is_type(cs, json_type_array))
			continue;
		n = json_object_array_length(cs);
		for (j = 0; j < n; j++) {
			struct json_object *c =
				json_object_array_get_idx(cs, j);

			if (is_obj(c))
				json_object_object_del(c, "image");
		}
	}
}

/*
 * DefaultTolerationSeconds admission: a pod tolerates its node turning
 * not-ready or unreachable for 300 s before it is evicted, unless it says
 * otherwise for that taint (NoExecute or any effect).
 */
#define DEFAULT_TOLERATION_S 300
static void default_tolerations(struct json_object *spec)
{
	static const char *const keys[] = { "node.kubernetes.io/not-ready",
					    "node.kubernetes.io/unreachable" };
	struct json_object *tols = get(spec, "tolerations");
	size_t i, j, n;

	if (tols && !json_object_is_type(tols, json_type_array))
		return; /* validation's business */
	n = tols ? json_object_array_length(tols) : 0;
	for (i = 0; i < 2; i++) {
		struct json_object *t;
		bool have = false;

		for (j = 0; j < n && !have; j++) {
			const char *e;

			t = json_object_array_get_idx(tols, j);
			e = berth_json_get_str(t, "effect");
			have = streq(berth_json_get_str(t, "key"), keys[i]) &&
			       (!e || !*e || streq(e, "NoExecute"));
		}
		if (have)
			continue;
		if (!tols) {
			tols = json_object_new_array();
			json_object_object_add(spec, "tolerations", tols);
		}
		t = json_object_new_object();
		berth_json_set_str(t, "key", keys[i]);
		berth_json_set_str(t, "operator", "Exists");
		berth_json_set_str(t, "effect", "NoExecute");
		berth_json_set_int(t, "tolerationSeconds", DEFAULT_TOLERATION_S);
		json_object_array_add(tols, t);
	}
}

static void admit_pod(struct json_object *obj, struct json_object *old,
		      struct berth_verrs *v)
{
	struct json_object *spec = want_obj(obj, "spec", "spec", true, v);
	struct json_object *status;

	if (!spec)
		return;
	admit_pod_spec(spec, "spec", v);
	if (!old) {
		status = berth_json_obj(obj, "status");
		def_str(status, "phase", "Pending");
		def_str(status, "qosClass", qos_class(spec));
		default_tolerations(spec);
		return;
	}
	if (v->n == 0) {
		struct json_object *a = berth_json_copy(spec);
		struct json_object *b = berth_json_copy(get(old, "spec"));
		const char *on = berth_json_path_str(old, "spec.nodeName");
		const char *nn = berth_json_get_str(spec, "nodeName");

		strip_mutable(a);
		if (b)
			strip_mutable(b);
		if (!berth_json_equal(a, b) ||
		    (on && *on && (!nn || strcmp(on, nn))))
			berth_verr(
				v, BERTH_VERR_FORBIDDEN, "spec", NULL,
				"pod updates may not change fields other than `spec.containers[*].image`,`spec.initContainers[*].image`,`spec.activeDeadlineSeconds`,`spec.tolerations` (only additions to existing tolerations),`spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)");
		json_object_put(a);
		json_object_put(b);
	}
}

/* ---- workloads ---- */

static void admit_template(struct json_object *spec, struct json_object *sel,
			   struct berth_verrs *v)
{
	struct json_object *tmpl, *tspec, *labels;

	tmpl = want_obj(spec, "template", "spec.template", true, v);
	if (!tmpl)
		return;
	labels = berth_json_path(tmpl, "metadata.labels");
	validate_labels(labels, "spec.template.metadata.labels", v);
	tspec = want_obj(tmpl, "spec", "spec.template.spec", true, v);
	if (tspec)
		admit_pod_spec(tspec, "spec.template.spec", v);
	if (sel && !berth_labelselector_match(sel, labels))
		berth_verr(v, BERTH_VERR_INVALID,
			   "spec.template.metadata.labels",
			   labels ? json_object_to_json_string_ext(
					    labels, JSON_C_TO_STRING_PLAIN) :
				    "null",
			   "`selector` does not match template `labels`");
}

/* An int-or-string of 0 or "0%" (a rolling update that could not move). */
static bool intstr_zero(struct json_object *x)
{
	if (json_object_is_type(x, json_type_int))
		return json_object_get_int64(x) == 0;
	return json_object_is_type(x, json_type_string) &&
	       streq(json_object_get_string(x), "0%");
}

static void admit_workload(const struct berth_resource *r,
			   struct json_object *obj, struct json_object *old,
			   struct berth_verrs *v)
{
	struct json_object *spec = want_obj(obj, "spec", "spec", true, v);
	struct json_object *sel, *rep, *strat;
	bool job = !strcmp(r->kind, "Job");

	if (!spec)
		return;
	if (job) {
		const char *uid = berth_json_path_str(obj, "metadata.uid");
		struct json_object *tl;

		def_int(spec, "parallelism", 1);
		def_int(spec, "completions", 1);
		def_int(spec, "backoffLimit", 6);
		def_str(spec, "completionMode", "NonIndexed");
		def_bool(spec, "suspend", false);
		def_str(spec, "podReplacementPolicy", "TerminatingOrFailed");
		const char *name = berth_json_path_str(obj, "metadata.name");

		if (!get(spec, "selector") && uid && name) {
			sel = berth_json_obj(spec, "selector");
			berth_json_set_str(berth_json_obj(sel, "matchLabels"),
					   "batch.kubernetes.io/controller-uid",
					   uid);
			tl = berth_json_obj(
				berth_json_obj(berth_json_obj(spec, "template"),
					       "metadata"),
				"labels");
			berth_json_set_str(
				tl, "batch.kubernetes.io/controller-uid", uid);
			berth_json_set_str(tl, "controller-uid", uid);
			berth_json_set_str(tl, "batch.kubernetes.io/job-name",
					   name);
			berth_json_set_str(tl, "job-name", name);
		}
	}
	sel = want_obj(spec, "selector", "spec.selector", true, v);
	if (sel && !json_object_object_length(sel))
		berth_verr(v, BERTH_VERR_INVALID, "spec.selector", "{}",
			   "empty selector is invalid for deployment");
	if (sel)
		validate_labels(get(sel, "matchLabels"),
				"spec.selector.matchLabels", v);
	if (strcmp(r->kind, "DaemonSet") && !job) {
		def_int(spec, "replicas", 1);
		rep = get(spec, "replicas");
		if (!json_object_is_type(rep, json_type_int) ||
		    json_object_get_int64(rep) < 0)
			berth_verr(v, BERTH_VERR_INVALID, "spec.replicas",
				   json_object_to_json_string(rep),
				   "must be greater than or equal to 0");
	}
	if (!job)
		def_int(spec, "revisionHistoryLimit", 10);
	if (!strcmp(r->kind, "Deployment")) {
		def_int(spec, "progressDeadlineSeconds", 600);
		strat = berth_json_obj(spec, "strategy");
		def_str(strat, "type", "RollingUpdate");
		if (streq(berth_json_get_str(strat, "type"), "RollingUpdate")) {
			struct json_object *ru =
				berth_json_obj(strat, "rollingUpdate");

			if (!get(ru, "maxUnavailable"))
				berth_json_set_str(ru, "maxUnavailable", "25%");
			if (!get(ru, "maxSurge"))
				berth_json_set_str(ru, "maxSurge", "25%");
			if (intstr_zero(get(ru, "maxSurge")) &&
			    intstr_zero(get(ru, "maxUnavailable")))
				berth_verr(
					v, BERTH_VERR_INVALID,
					"spec.strategy.rollingUpdate.maxUnavailable",
					json_object_get_string(
						get(ru, "maxUnavailable")),
					"may not be 0 when `maxSurge` is 0");
		}
	} else if (!strcmp(r->kind, "StatefulSet")) {
		struct json_object *vct = get(spec, "volumeClaimTemplates");

		/* no storage yet: say so rather than start pods without it */
		if (json_object_is_type(vct, json_type_array) &&
		    json_object_array_length(vct))
			berth_verr(
				v, BERTH_VERR_FORBIDDEN,
				"spec.volumeClaimTemplates", NULL,
				"volumeClaimTemplates are not supported: this cluster has no persistent volume storage");
		def_str(spec, "podManagementPolicy", "OrderedReady");
		strat = berth_json_obj(spec, "updateStrategy");
		def_str(strat, "type", "RollingUpdate");
		if (streq(berth_json_get_str(strat, "type"), "RollingUpdate"))
			def_int(berth_json_obj(strat, "rollingUpdate"),
				"partition", 0);
		if (!get(spec, "persistentVolumeClaimRetentionPolicy")) {
			struct json_object *p = berth_json_obj(
				spec, "persistentVolumeClaimRetentionPolicy");

			berth_json_set_str(p, "whenDeleted", "Retain");
			berth_json_set_str(p, "whenScaled", "Retain");
		}
	} else if (!strcmp(r->kind, "DaemonSet")) {
		strat = berth_json_obj(spec, "updateStrategy");
		def_str(strat, "type", "RollingUpdate");
		if (streq(berth_json_get_str(strat, "type"), "RollingUpdate")) {
			struct json_object *ru =
				berth_json_obj(strat, "rollingUpdate");

			def_int(ru, "maxUnavailable", 1);
			def_int(ru, "maxSurge", 0);
		}
	}
	admit_template(spec, sel, v);
	if (job) {
		const char *rp = berth_json_path_str(
			spec, "template.spec.restartPolicy");

		if (rp && strcmp(rp, "Never") && strcmp(rp, "OnFailure"))
			berth_verr(
				v, BERTH_VERR_NOT_SUPPORTED,
				"spec.template.spec.restartPolicy", rp,
				"supported values: \"OnFailure\", \"Never\"");
	}
	if (old && sel &&
	    !berth_json_equal(sel, berth_json_path(old, "spec.selector")))
		berth_verr(v, BERTH_VERR_INVALID, "spec.selector",
			   json_object_to_json_string_ext(
				   sel, JSON_C_TO_STRING_PLAIN),
			   "field is immutable");
}

/* ---- services ---- */

static void admit_service(struct json_object *obj, struct berth_verrs *v)
{
	struct json_object *spec = want_obj(obj, "spec", "spec", false, v);
	struct json_object *ports, *fam;
	const char *type, *cip;
	char field[96];
	size_t i, j, n;
	bool node_ports, headless, external;

	if (!spec) {
		spec = json_object_new_object();
		json_object_object_add(obj, "spec", spec);
	}
	def_str(spec, "type", "ClusterIP");
	type = berth_json_get_str(spec, "type");
	if (!type ||
	    (strcmp(type, "ClusterIP") && strcmp(type, "NodePort") &&
	     strcmp(type, "LoadBalancer") && strcmp(type, "ExternalName"))) {
		berth_verr(
			v, BERTH_VERR_NOT_SUPPORTED, "spec.type", type,
			"supported values: \"ClusterIP\", \"ExternalName\", \"LoadBalancer\", \"NodePort\"");
		return;
	}
	external = !strcmp(type, "ExternalName");
	node_ports = !strcmp(type, "NodePort") || !strcmp(type, "LoadBalancer");
	def_str(spec, "sessionAffinity", "None");
	string_map(get(spec, "selector"), "spec.selector", v);
	if (!external) {
		def_str(spec, "internalTrafficPolicy", "Cluster");
		if (!get(spec, "ipFamilies")) {
			fam = json_object_new_array();
			json_object_array_add(fam,
					      json_object_new_string("IPv4"));
			json_object_object_add(spec, "ipFamilies", fam);
		}
		def_str(spec, "ipFamilyPolicy", "SingleStack");
	} else if (!berth_json_get_str(spec, "externalName")) {
		berth_verr(v, BERTH_VERR_REQUIRED, "spec.externalName", NULL,
			   NULL);
	}
	if (node_ports)
		def_str(spec, "externalTrafficPolicy", "Cluster");
	cip = berth_json_get_str(spec, "clusterIP");
	headless = cip && !strcmp(cip, "None");
	ports = want_array(spec, "ports", "spec.ports", v);
	n = ports ? json_object_array_length(ports) : 0;
	if (!n && !headless && !external)
		berth_verr(v, BERTH_VERR_REQUIRED, "spec.ports", NULL, NULL);
	for (i = 0; i < n; i++) {
		struct json_object *p = json_object_array_get_idx(ports, i);
		struct json_object *port = get(p, "port");
		const char *name = berth_json_get_str(p, "name");
		const char *proto;
		int64_t pn;

		if (!is_obj(p))
			continue;
		def_str(p, "protocol", "TCP");
		proto = berth_json_get_str(p, "protocol");
		pn = json_object_is_type(port, json_type_int) ?
			     json_object_get_int64(port) :
			     0;
		snprintf(field, sizeof(field), "spec.ports[%zu].port", i);
		if (pn < 1 || pn > 65535)
			berth_verr(v, BERTH_VERR_INVALID, field,
				   port ? json_object_to_json_string(port) :
					  "0",
				   "must be between 1 and 65535, inclusive");
		if (!get(p, "targetPort") && pn > 0)
			berth_json_set_int(p, "targetPort", pn);
		snprintf(field, sizeof(field), "spec.ports[%zu].protocol", i);
		if (!proto || (strcmp(proto, "TCP") && strcmp(proto, "UDP") &&
			       strcmp(proto, "SCTP")))
			berth_verr(
				v, BERTH_VERR_NOT_SUPPORTED, field, proto,
				"supported values: \"SCTP\", \"TCP\", \"UDP\"");
		snprintf(field, sizeof(field), "spec.ports[%zu].name", i);
		if (n > 1 && (!name || !*name))
			berth_verr(v, BERTH_VERR_REQUIRED, field, NULL, NULL);
		for (j = 0; j < i && name; j++) {
			const char *other = berth_json_get_str(
				json_object_array_get_idx(ports, j), "name");

			if (other && !strcmp(other, name))
				berth_verr(v, BERTH_VERR_DUPLICATE, field, name,
					   NULL);
		}
		if (!node_ports && get(p, "nodePort") &&
		    json_object_get_int64(get(p, "nodePort"))) {
			snprintf(field, sizeof(field),
				 "spec.ports[%zu].nodePort", i);
			berth_verr(
				v, BERTH_VERR_FORBIDDEN, field, NULL,
				"may not be used when `type` is 'ClusterIP'");
		}
	}
}

/* ---- the rest ---- */

static struct json_object *base64(const char *s)
{
	char *enc = berth_base64(s, strlen(s), false);
	struct json_object *j = json_object_new_string(enc ? enc : "");

	free(enc);
	return j;
}

static bool is_base64(const char *s)
{
	char *dec = berth_base64_decode(s, false, NULL);

	free(dec);
	return dec != NULL;
}

static void admit_secret(struct json_object *obj, struct berth_verrs *v)
{
	struct json_object *sd = get(obj, "stringData"), *data;
	char f[192];

	def_str(obj, "type", "Opaque");
	string_map(sd, "stringData", v);
	data = get(obj, "data");
	string_map(data, "data", v);
	if (is_obj(sd)) {
		data = berth_json_obj(obj, "data");
		json_object_object_foreach(sd, k, val)
		{
			if (json_object_is_type(val, json_type_string))
				json_object_object_add(
					data, k,
					base64(json_object_get_string(val)));
		}
		json_object_object_del(obj, "stringData");
	}
	if (!is_obj(data))
		return;
	json_object_object_foreach(data, k2, val2)
	{
		if (json_object_is_type(val2, json_type_string) &&
		    !is_base64(json_object_get_string(val2))) {
			snprintf(f, sizeof(f), "data[%s]", k2);
			berth_verr(v, BERTH_VERR_INVALID, f, "<secret>",
				   "illegal base64 data");
		}
	}
}

static void admit_immutable_data(struct json_object *obj,
				 struct json_object *old, struct berth_verrs *v)
{
	struct json_object *imm = get(old, "immutable");

	if (!old || !json_object_get_boolean(imm))
		return;
	if (!berth_json_equal(get(obj, "data"), get(old, "data")) ||
	    !berth_json_equal(get(obj, "binaryData"), get(old, "binaryData")))
		berth_verr(v, BERTH_VERR_FORBIDDEN, "data", NULL,
			   "field is immutable when `immutable` is set");
}

void berth_admit(const struct berth_resource *r, struct json_object *obj,
		 struct json_object *old, struct berth_verrs *v)
{
	const char *k = r->kind;

	validate_meta(obj, v);
	if (!strcmp(k, "Pod")) {
		admit_pod(obj, old, v);
	} else if (!strcmp(k, "Service")) {
		admit_service(obj, v);
	} else if (!strcmp(k, "Deployment") || !strcmp(k, "ReplicaSet") ||
		   !strcmp(k, "StatefulSet") || !strcmp(k, "DaemonSet") ||
		   !strcmp(k, "Job")) {
		admit_workload(r, obj, old, v);
	} else if (!strcmp(k, "Namespace")) {
		struct json_object *spec = berth_json_obj(obj, "spec");
		struct json_object *fin;

		if (!get(spec, "finalizers")) {
			fin = json_object_new_array();
			json_object_array_add(
				fin, json_object_new_string("kubernetes"));
			json_object_object_add(spec, "finalizers", fin);
		}
		def_str(berth_json_obj(obj, "status"), "phase", "Active");
		/* the well-known name label */
		berth_json_set_str(
			berth_json_obj(berth_json_obj(obj, "metadata"),
				       "labels"),
			"kubernetes.io/metadata.name",
			berth_json_path_str(obj, "metadata.name"));
	} else if (!strcmp(k, "ConfigMap")) {
		string_map(get(obj, "data"), "data", v);
		string_map(get(obj, "binaryData"), "binaryData", v);
		admit_immutable_data(obj, old, v);
	} else if (!strcmp(k, "Secret")) {
		admit_secret(obj, v);
		admit_immutable_data(obj, old, v);
	}
}

/* ---- fieldValidation ---- */

static const char *const meta_fields[] = {
	"name",
	"generateName",
	"namespace",
	"selfLink",
	"uid",
	"resourceVersion",
	"generation",
	"creationTimestamp",
	"deletionTimestamp",
	"deletionGracePeriodSeconds",
	"labels",
	"annotations",
	"ownerReferences",
	"finalizers",
	"managedFields",
	NULL,
};

struct kind_fields {
	const char *kind;
	const char *fields; /* space-separated top-level fields */
};

static const struct kind_fields kind_fields[] = {
	{ "Endpoints", "subsets" },
	{ "ConfigMap", "data binaryData immutable" },
	{ "Secret", "data stringData type immutable" },
	{ "ServiceAccount",
	  "secrets imagePullSecrets automountServiceAccountToken" },
	{ "Event",
	  "involvedObject reason message source firstTimestamp lastTimestamp count type eventTime series action related reportingComponent reportingInstance" },
	{ "EndpointSlice", "addressType endpoints ports" },
	{ "Role", "rules" },
	{ "ClusterRole", "rules aggregationRule" },
	{ "RoleBinding", "subjects roleRef" },
	{ "ClusterRoleBinding", "subjects roleRef" },
	{ "ControllerRevision", "data revision" },
};

static bool word_in(const char *list, const char *w)
{
	size_t n = strlen(w);
	const char *p = list;

	/* "" would match everywhere without advancing; "a b" two words */
	if (!n || strchr(w, ' '))
		return false;
	while ((p = strstr(p, w))) {
		if ((p == list || p[-1] == ' ') && (p[n] == ' ' || !p[n]))
			return true;
		p += n;
	}
	return false;
}

static bool meta_field(const char *k)
{
	size_t i;

	for (i = 0; meta_fields[i]; i++)
		if (!strcmp(meta_fields[i], k))
			return true;
	return false;
}

/* Report (and with drop, remove) the keys of o that ok() rejects. */
static int unknown_in(struct json_object *o, const char *allowed,
		      const char *prefix, bool drop, char *buf, size_t size,
		      size_t *off, int n)
{
	struct json_object *gone = json_object_new_array();
	size_t i;

	json_object_object_foreach(o, k, val)
	{
		(void)val;
		if (allowed ? (!strcmp(k, "apiVersion") || !strcmp(k, "kind") ||
			       !strcmp(k, "metadata") || word_in(allowed, k)) :
			      meta_field(k))
			continue;
		if (*off < size)
			*off += snprintf(buf + *off, size - *off,
					 "%sunknown field \"%s%s\"",
					 n ? ", " : "", prefix, k);
		n++;
		json_object_array_add(gone, json_object_new_string(k));
	}
	for (i = 0; drop && i < json_object_array_length(gone); i++)
		json_object_object_del(
			o, json_object_get_string(
				   json_object_array_get_idx(gone, i)));
	json_object_put(gone);
	return n;
}

int berth_unknown_fields(const struct berth_resource *r,
			 struct json_object *obj, bool drop, char *buf,
			 size_t size)
{
	const char *allowed = "spec status";
	struct json_object *md;
	size_t off = 0, i;
	int n;

	buf[0] = 0;
	for (i = 0; i < sizeof(kind_fields) / sizeof(kind_fields[0]); i++)
		if (!strcmp(kind_fields[i].kind, r->kind))
			allowed = kind_fields[i].fields;
	n = unknown_in(obj, allowed, "", drop, buf, size, &off, 0);
	md = get(obj, "metadata");
	if (is_obj(md))
		n = unknown_in(md, NULL, "metadata.", drop, buf, size, &off, n);
	return n;
}
