// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * A small protobuf reader driven by per-message field tables (field
 * number -> JSON name and type), written from the k8s.io/api generated
 * .proto numbering. Every length is checked against the buffer; nesting
 * is bounded. Zero values are left out, as the JSON encoding does.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <berth/base64.h>
#include "jsonutil.h"
#include "proto.h"

enum ftype {
	F_STR,
	F_BYTES,
	F_INT,
	F_BOOL,
	F_MSG,
	F_TIME,
	F_MAP_SS,
	F_MAP_SB,
	F_MAP_QTY, /* map<string, resource.Quantity> */
	F_INTSTR, /* intstr.IntOrString */
	F_REP_STR,
	F_REP_MSG,
};

struct field {
	unsigned int num;
	const char *name;
	enum ftype type;
	const struct msg *sub;
	bool keep_zero; /* pointer fields: false/0 is a value */
};

struct msg {
	const struct field *fields;
};

#define END                             \
	{                               \
		0, NULL, 0, NULL, false \
	}

static const struct msg owner_ref = { (const struct field[]){
	{ 1, "kind", F_STR, NULL, false },
	{ 3, "name", F_STR, NULL, false },
	{ 4, "uid", F_STR, NULL, false },
	{ 5, "apiVersion", F_STR, NULL, false },
	{ 6, "controller", F_BOOL, NULL, true },
	{ 7, "blockOwnerDeletion", F_BOOL, NULL, true },
	END } };

static const struct msg object_meta = { (const struct field[]){
	{ 1, "name", F_STR, NULL, false },
	{ 2, "generateName", F_STR, NULL, false },
	{ 3, "namespace", F_STR, NULL, false },
	{ 5, "uid", F_STR, NULL, false },
	{ 6, "resourceVersion", F_STR, NULL, false },
	{ 7, "generation", F_INT, NULL, false },
	{ 8, "creationTimestamp", F_TIME, NULL, false },
	{ 9, "deletionTimestamp", F_TIME, NULL, false },
	{ 10, "deletionGracePeriodSeconds", F_INT, NULL, true },
	{ 11, "labels", F_MAP_SS, NULL, false },
	{ 12, "annotations", F_MAP_SS, NULL, false },
	{ 13, "ownerReferences", F_REP_MSG, &owner_ref, false },
	{ 14, "finalizers", F_REP_STR, NULL, false },
	END } };

static const struct msg object_ref = { (const struct field[]){
	{ 1, "kind", F_STR, NULL, false },
	{ 2, "namespace", F_STR, NULL, false },
	{ 3, "name", F_STR, NULL, false },
	{ 4, "uid", F_STR, NULL, false },
	{ 5, "apiVersion", F_STR, NULL, false },
	{ 6, "resourceVersion", F_STR, NULL, false },
	{ 7, "fieldPath", F_STR, NULL, false },
	END } };

static const struct msg local_ref = { (
	const struct field[]){ { 1, "name", F_STR, NULL, false }, END } };

static const struct msg ns_spec = { (const struct field[]){
	{ 1, "finalizers", F_REP_STR, NULL, false },
	END } };

static const struct msg ns_status = { (
	const struct field[]){ { 1, "phase", F_STR, NULL, false }, END } };

static const struct msg namespace_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &ns_spec, false },
	{ 3, "status", F_MSG, &ns_status, false },
	END } };

static const struct msg configmap_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "data", F_MAP_SS, NULL, false },
	{ 3, "binaryData", F_MAP_SB, NULL, false },
	{ 4, "immutable", F_BOOL, NULL, true },
	END } };

static const struct msg secret_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "data", F_MAP_SB, NULL, false },
	{ 3, "type", F_STR, NULL, false },
	{ 4, "stringData", F_MAP_SS, NULL, false },
	{ 5, "immutable", F_BOOL, NULL, true },
	END } };

static const struct msg serviceaccount_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "secrets", F_REP_MSG, &object_ref, false },
	{ 3, "imagePullSecrets", F_REP_MSG, &local_ref, false },
	{ 4, "automountServiceAccountToken", F_BOOL, NULL, true },
	END } };

static const struct msg quota_spec = { (const struct field[]){
	{ 1, "hard", F_MAP_QTY, NULL, false },
	{ 2, "scopes", F_REP_STR, NULL, false },
	END } };

static const struct msg quota_status = { (const struct field[]){
	{ 1, "hard", F_MAP_QTY, NULL, false },
	{ 2, "used", F_MAP_QTY, NULL, false },
	END } };

/* what `kubectl create quota` sends */
static const struct msg quota_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &quota_spec, false },
	{ 3, "status", F_MSG, &quota_status, false },
	END } };

static const struct msg empty_msg = { (const struct field[]){ END } };

static const struct msg label_req = { (const struct field[]){
	{ 1, "key", F_STR, NULL, false },
	{ 2, "operator", F_STR, NULL, false },
	{ 3, "values", F_REP_STR, NULL, false },
	END } };

static const struct msg label_selector = { (const struct field[]){
	{ 1, "matchLabels", F_MAP_SS, NULL, false },
	{ 2, "matchExpressions", F_REP_MSG, &label_req, false },
	END } };

static const struct msg container_port = { (const struct field[]){
	{ 1, "name", F_STR, NULL, false },
	{ 2, "hostPort", F_INT, NULL, false },
	{ 3, "containerPort", F_INT, NULL, false },
	{ 4, "protocol", F_STR, NULL, false },
	{ 5, "hostIP", F_STR, NULL, false },
	END } };

static const struct msg env_var = { (const struct field[]){
	{ 1, "name", F_STR, NULL, false },
	{ 2, "value", F_STR, NULL, false },
	END } };

static const struct msg resources = { (const struct field[]){
	{ 1, "limits", F_MAP_QTY, NULL, false },
	{ 2, "requests", F_MAP_QTY, NULL, false },
	END } };

static const struct msg volume_mount = { (const struct field[]){
	{ 1, "name", F_STR, NULL, false },
	{ 2, "readOnly", F_BOOL, NULL, false },
	{ 3, "mountPath", F_STR, NULL, false },
	{ 4, "subPath", F_STR, NULL, false },
	END } };

static const struct msg container = { (const struct field[]){
	{ 1, "name", F_STR, NULL, false },
	{ 2, "image", F_STR, NULL, false },
	{ 3, "command", F_REP_STR, NULL, false },
	{ 4, "args", F_REP_STR, NULL, false },
	{ 5, "workingDir", F_STR, NULL, false },
	{ 6, "ports", F_REP_MSG, &container_port, false },
	{ 7, "env", F_REP_MSG, &env_var, false },
	{ 8, "resources", F_MSG, &resources, false },
	{ 9, "volumeMounts", F_REP_MSG, &volume_mount, false },
	{ 13, "terminationMessagePath", F_STR, NULL, false },
	{ 14, "imagePullPolicy", F_STR, NULL, false },
	{ 16, "stdin", F_BOOL, NULL, false },
	{ 17, "stdinOnce", F_BOOL, NULL, false },
	{ 18, "tty", F_BOOL, NULL, false },
	{ 20, "terminationMessagePolicy", F_STR, NULL, false },
	END } };

static const struct msg toleration = { (const struct field[]){
	{ 1, "key", F_STR, NULL, false },
	{ 2, "operator", F_STR, NULL, false },
	{ 3, "value", F_STR, NULL, false },
	{ 4, "effect", F_STR, NULL, false },
	{ 5, "tolerationSeconds", F_INT, NULL, true },
	END } };

static const struct msg pod_spec = { (const struct field[]){
	{ 2, "containers", F_REP_MSG, &container, false },
	{ 3, "restartPolicy", F_STR, NULL, false },
	{ 4, "terminationGracePeriodSeconds", F_INT, NULL, true },
	{ 5, "activeDeadlineSeconds", F_INT, NULL, true },
	{ 6, "dnsPolicy", F_STR, NULL, false },
	{ 7, "nodeSelector", F_MAP_SS, NULL, false },
	{ 8, "serviceAccountName", F_STR, NULL, false },
	{ 10, "nodeName", F_STR, NULL, false },
	{ 11, "hostNetwork", F_BOOL, NULL, false },
	{ 14, "securityContext", F_MSG, &empty_msg, false },
	{ 15, "imagePullSecrets", F_REP_MSG, &local_ref, false },
	{ 16, "hostname", F_STR, NULL, false },
	{ 17, "subdomain", F_STR, NULL, false },
	{ 19, "schedulerName", F_STR, NULL, false },
	{ 20, "initContainers", F_REP_MSG, &container, false },
	{ 21, "automountServiceAccountToken", F_BOOL, NULL, true },
	{ 22, "tolerations", F_REP_MSG, &toleration, false },
	{ 24, "priorityClassName", F_STR, NULL, false },
	{ 25, "priority", F_INT, NULL, true },
	{ 30, "enableServiceLinks", F_BOOL, NULL, true },
	{ 31, "preemptionPolicy", F_STR, NULL, false },
	END } };

static const struct msg pod_template = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &pod_spec, false },
	END } };

static const struct msg pod_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &pod_spec, false },
	END } };

static const struct msg rolling_update = { (const struct field[]){
	{ 1, "maxUnavailable", F_INTSTR, NULL, false },
	{ 2, "maxSurge", F_INTSTR, NULL, false },
	END } };

static const struct msg deploy_strategy = { (const struct field[]){
	{ 1, "type", F_STR, NULL, false },
	{ 2, "rollingUpdate", F_MSG, &rolling_update, false },
	END } };

static const struct msg deploy_spec = { (const struct field[]){
	{ 1, "replicas", F_INT, NULL, true },
	{ 2, "selector", F_MSG, &label_selector, false },
	{ 3, "template", F_MSG, &pod_template, false },
	{ 4, "strategy", F_MSG, &deploy_strategy, false },
	{ 5, "minReadySeconds", F_INT, NULL, false },
	{ 6, "revisionHistoryLimit", F_INT, NULL, true },
	{ 7, "paused", F_BOOL, NULL, false },
	{ 9, "progressDeadlineSeconds", F_INT, NULL, true },
	END } };

static const struct msg deployment_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &deploy_spec, false },
	END } };

static const struct msg service_port = { (const struct field[]){
	{ 1, "name", F_STR, NULL, false },
	{ 2, "protocol", F_STR, NULL, false },
	{ 3, "port", F_INT, NULL, false },
	{ 4, "targetPort", F_INTSTR, NULL, false },
	{ 5, "nodePort", F_INT, NULL, false },
	END } };

static const struct msg service_spec = { (const struct field[]){
	{ 1, "ports", F_REP_MSG, &service_port, false },
	{ 2, "selector", F_MAP_SS, NULL, false },
	{ 3, "clusterIP", F_STR, NULL, false },
	{ 4, "type", F_STR, NULL, false },
	{ 5, "externalIPs", F_REP_STR, NULL, false },
	{ 7, "sessionAffinity", F_STR, NULL, false },
	{ 10, "externalName", F_STR, NULL, false },
	{ 11, "externalTrafficPolicy", F_STR, NULL, false },
	END } };

static const struct msg service_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &service_spec, false },
	END } };

static const struct msg job_spec = { (const struct field[]){
	{ 1, "parallelism", F_INT, NULL, true },
	{ 2, "completions", F_INT, NULL, true },
	{ 3, "activeDeadlineSeconds", F_INT, NULL, true },
	{ 4, "selector", F_MSG, &label_selector, false },
	{ 5, "manualSelector", F_BOOL, NULL, true },
	{ 6, "template", F_MSG, &pod_template, false },
	{ 7, "backoffLimit", F_INT, NULL, true },
	{ 8, "ttlSecondsAfterFinished", F_INT, NULL, true },
	{ 9, "completionMode", F_STR, NULL, false },
	{ 10, "suspend", F_BOOL, NULL, true },
	END } };

static const struct msg job_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &job_spec, false },
	END } };

/* authentication.k8s.io/v1: kubectl create token */
static const struct msg bound_ref = { (const struct field[]){
	{ 1, "kind", F_STR, NULL, false },
	{ 2, "apiVersion", F_STR, NULL, false },
	{ 3, "name", F_STR, NULL, false },
	{ 4, "uid", F_STR, NULL, false },
	END } };

static const struct msg token_req_spec = { (const struct field[]){
	{ 1, "audiences", F_REP_STR, NULL, false },
	{ 3, "boundObjectRef", F_MSG, &bound_ref, false },
	{ 4, "expirationSeconds", F_INT, NULL, true },
	END } };

static const struct msg token_req_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &token_req_spec, false },
	END } };

/* authentication/authorization.k8s.io/v1: kubectl auth whoami, auth can-i */
static const struct msg self_subject_review_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	END } };

static const struct msg resource_attrs = { (const struct field[]){
	{ 1, "namespace", F_STR, NULL, false },
	{ 2, "verb", F_STR, NULL, false },
	{ 3, "group", F_STR, NULL, false },
	{ 4, "version", F_STR, NULL, false },
	{ 5, "resource", F_STR, NULL, false },
	{ 6, "subresource", F_STR, NULL, false },
	{ 7, "name", F_STR, NULL, false },
	END } };

static const struct msg non_resource_attrs = { (const struct field[]){
	{ 1, "path", F_STR, NULL, false },
	{ 2, "verb", F_STR, NULL, false },
	END } };

static const struct msg access_review_spec = { (const struct field[]){
	{ 1, "resourceAttributes", F_MSG, &resource_attrs, false },
	{ 2, "nonResourceAttributes", F_MSG, &non_resource_attrs, false },
	{ 3, "user", F_STR, NULL, false },
	{ 4, "groups", F_REP_STR, NULL, false },
	{ 6, "uid", F_STR, NULL, false },
	END } };

static const struct msg access_review_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &access_review_spec, false },
	END } };

static const struct msg rules_review_spec = { (const struct field[]){
	{ 1, "namespace", F_STR, NULL, false },
	END } };

static const struct msg rules_review_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &rules_review_spec, false },
	END } };

/* rbac.authorization.k8s.io/v1: kubectl create role/clusterrole/...binding */
static const struct msg policy_rule = { (const struct field[]){
	{ 1, "verbs", F_REP_STR, NULL, false },
	{ 2, "apiGroups", F_REP_STR, NULL, false },
	{ 3, "resources", F_REP_STR, NULL, false },
	{ 4, "resourceNames", F_REP_STR, NULL, false },
	{ 5, "nonResourceURLs", F_REP_STR, NULL, false },
	END } };

static const struct msg aggregation_rule = { (const struct field[]){
	{ 1, "clusterRoleSelectors", F_REP_MSG, &label_selector, false },
	END } };

static const struct msg role_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "rules", F_REP_MSG, &policy_rule, false },
	{ 3, "aggregationRule", F_MSG, &aggregation_rule, false },
	END } };

static const struct msg rbac_subject = { (const struct field[]){
	{ 1, "kind", F_STR, NULL, false },
	{ 2, "apiGroup", F_STR, NULL, false },
	{ 3, "name", F_STR, NULL, false },
	{ 4, "namespace", F_STR, NULL, false },
	END } };

static const struct msg role_ref = { (const struct field[]){
	{ 1, "apiGroup", F_STR, NULL, false },
	{ 2, "kind", F_STR, NULL, false },
	{ 3, "name", F_STR, NULL, false },
	END } };

static const struct msg role_binding_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "subjects", F_REP_MSG, &rbac_subject, false },
	{ 3, "roleRef", F_MSG, &role_ref, false },
	END } };

/* certificates.k8s.io/v1: kubectl certificate approve/deny */
static const struct msg csr_spec = { (const struct field[]){
	{ 1, "request", F_BYTES, NULL, false },
	{ 2, "username", F_STR, NULL, false },
	{ 3, "uid", F_STR, NULL, false },
	{ 4, "groups", F_REP_STR, NULL, false },
	{ 5, "usages", F_REP_STR, NULL, false },
	{ 7, "signerName", F_STR, NULL, false },
	{ 8, "expirationSeconds", F_INT, NULL, true },
	END } };

static const struct msg csr_condition = { (const struct field[]){
	{ 1, "type", F_STR, NULL, false },
	{ 2, "reason", F_STR, NULL, false },
	{ 3, "message", F_STR, NULL, false },
	{ 4, "lastUpdateTime", F_TIME, NULL, false },
	{ 5, "lastTransitionTime", F_TIME, NULL, false },
	{ 6, "status", F_STR, NULL, false },
	END } };

static const struct msg csr_status = { (const struct field[]){
	{ 1, "conditions", F_REP_MSG, &csr_condition, false },
	{ 2, "certificate", F_BYTES, NULL, false },
	END } };

static const struct msg csr_msg = { (const struct field[]){
	{ 1, "metadata", F_MSG, &object_meta, false },
	{ 2, "spec", F_MSG, &csr_spec, false },
	{ 3, "status", F_MSG, &csr_status, false },
	END } };

static const struct {
	const char *api_version, *kind;
	const struct msg *msg;
} kinds[] = {
	{ "v1", "Namespace", &namespace_msg },
	{ "v1", "ConfigMap", &configmap_msg },
	{ "v1", "Secret", &secret_msg },
	{ "v1", "ServiceAccount", &serviceaccount_msg },
	{ "v1", "ResourceQuota", &quota_msg },
	{ "v1", "Pod", &pod_msg },
	{ "v1", "Service", &service_msg },
	{ "apps/v1", "Deployment", &deployment_msg },
	{ "batch/v1", "Job", &job_msg },
	{ "authentication.k8s.io/v1", "TokenRequest", &token_req_msg },
	{ "authentication.k8s.io/v1", "SelfSubjectReview",
	  &self_subject_review_msg },
	{ "authorization.k8s.io/v1", "SelfSubjectAccessReview",
	  &access_review_msg },
	{ "authorization.k8s.io/v1", "SubjectAccessReview",
	  &access_review_msg },
	{ "authorization.k8s.io/v1", "SelfSubjectRulesReview",
	  &rules_review_msg },
	{ "rbac.authorization.k8s.io/v1", "Role", &role_msg },
	{ "rbac.authorization.k8s.io/v1", "ClusterRole", &role_msg },
	{ "rbac.authorization.k8s.io/v1", "RoleBinding", &role_binding_msg },
	{ "rbac.authorization.k8s.io/v1", "ClusterRoleBinding",
	  &role_binding_msg },
	{ "certificates.k8s.io/v1", "CertificateSigningRequest", &csr_msg },
};

struct rd {
	const unsigned char *p, *end;
};

static int varint(struct rd *r, uint64_t *v)
{
	unsigned int shift = 0;

	*v = 0;
	while (r->p < r->end && shift < 64) {
		unsigned char b = *r->p++;

		*v |= (uint64_t)(b & 0x7f) << shift;
		if (!(b & 0x80))
			return 0;
		shift += 7;
	}
	return -EINVAL;
}

/* Read a length-delimited value into sub. */
static int bytes(struct rd *r, struct rd *sub)
{
	uint64_t n;

	if (varint(r, &n) || n > (uint64_t)(r->end - r->p))
		return -EINVAL;
	sub->p = r->p;
	sub->end = r->p + n;
	r->p += n;
	return 0;
}

static int skip(struct rd *r, unsigned int wt)
{
	struct rd sub;
	uint64_t v;

	switch (wt) {
	case 0:
		return varint(r, &v);
	case 1:
		if (r->end - r->p < 8)
			return -EINVAL;
		r->p += 8;
		return 0;
	case 2:
		return bytes(r, &sub);
	case 5:
		if (r->end - r->p < 4)
			return -EINVAL;
		r->p += 4;
		return 0;
	default:
		return -EINVAL;
	}
}

static struct json_object *base64(const unsigned char *s, size_t n)
{
	char *enc = berth_base64(s, n, false);
	struct json_object *j = json_object_new_string(enc ? enc : "");

	free(enc);
	return j;
}

static struct json_object *decode_msg(struct rd *r, const struct msg *m,
				      int depth);

static struct json_object *str(struct rd *s)
{
	return json_object_new_string_len((const char *)s->p,
					  (int)(s->end - s->p));
}

/* The first string field (1) of a message: resource.Quantity. */
static struct json_object *quantity(struct rd *s)
{
	struct rd v = { 0 };
	uint64_t key;

	while (s->p < s->end) {
		if (varint(s, &key))
			return NULL;
		if (key == (1 << 3 | 2)) {
			if (bytes(s, &v))
				return NULL;
		} else if (skip(s, key & 7)) {
			return NULL;
		}
	}
	return v.p ? str(&v) : json_object_new_string("0");
}

/* intstr.IntOrString {1: type, 2: intVal, 3: strVal}. */
static struct json_object *int_or_string(struct rd *s)
{
	uint64_t key, type = 0, iv = 0;
	struct rd sv = { 0 };

	while (s->p < s->end) {
		if (varint(s, &key))
			return NULL;
		if (key == (1 << 3 | 0) || key == (2 << 3 | 0)) {
			if (varint(s, key >> 3 == 1 ? &type : &iv))
				return NULL;
		} else if (key == (3 << 3 | 2)) {
			if (bytes(s, &sv))
				return NULL;
		} else if (skip(s, key & 7)) {
			return NULL;
		}
	}
	if (type == 1)
		return sv.p ? str(&sv) : json_object_new_string("");
	return json_object_new_int((int32_t)iv);
}

/* map<string,string|bytes|Quantity> entry {1: key, 2: value} into obj. */
static int map_entry(struct rd *s, struct json_object *obj, enum ftype t)
{
	struct rd k = { 0 }, v = { 0 };
	struct json_object *val;
	uint64_t key;
	char *ks;

	while (s->p < s->end) {
		if (varint(s, &key))
			return -EINVAL;
		if ((key & 7) != 2) {
			if (skip(s, key & 7))
				return -EINVAL;
			continue;
		}
		if (key >> 3 == 1 ? bytes(s, &k) :
		    key >> 3 == 2 ? bytes(s, &v) :
				    skip(s, 2))
			return -EINVAL;
	}
	ks = strndup(k.p ? (const char *)k.p : "", k.p ? k.end - k.p : 0);
	if (!ks)
		return -ENOMEM;
	if (t == F_MAP_SB)
		val = base64(v.p, v.p ? v.end - v.p : 0);
	else if (t == F_MAP_QTY)
		val = v.p ? quantity(&v) : json_object_new_string("0");
	else
		val = json_object_new_string_len(v.p ? (const char *)v.p : "",
						 v.p ? (int)(v.end - v.p) : 0);
	if (!val) {
		free(ks);
		return -EINVAL;
	}
	json_object_object_add(obj, ks, val);
	free(ks);
	return 0;
}

static struct json_object *time_str(struct rd *s)
{
	uint64_t key, secs = 0, v;
	struct tm tm;
	time_t t;
	char buf[32];

	while (s->p < s->end) {
		if (varint(s, &key))
			return NULL;
		if ((key & 7) == 0 && varint(s, &v) == 0) {
			if (key >> 3 == 1)
				secs = v;
			continue;
		}
		if ((key & 7) == 0 || skip(s, key & 7))
			return NULL;
	}
	if (!secs)
		return NULL;
	t = (time_t)(int64_t)secs;
	if (!gmtime_r(&t, &tm))
		return NULL;
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
	return json_object_new_string(buf);
}

static struct json_object *child(struct json_object *o, const char *name,
				 enum json_type t)
{
	struct json_object *c;

	if (json_object_object_get_ex(o, name, &c) && json_object_is_type(c, t))
		return c;
	c = t == json_type_array ? json_object_new_array() :
				   json_object_new_object();
	json_object_object_add(o, name, c);
	return c;
}

static int decode_field(struct rd *r, const struct field *f, unsigned int wt,
			struct json_object *o, int depth)
{
	struct json_object *v = NULL;
	struct rd s;
	uint64_t n;

	if (f->type == F_INT || f->type == F_BOOL) {
		if (wt != 0 || varint(r, &n))
			return -EINVAL;
		if (!n && !f->keep_zero)
			return 0;
		v = f->type == F_INT ? json_object_new_int64((int64_t)n) :
				       json_object_new_boolean(n != 0);
		json_object_object_add(o, f->name, v);
		return 0;
	}
	if (wt != 2 || bytes(r, &s))
		return -EINVAL;
	switch (f->type) {
	case F_STR:
		if (s.p != s.end)
			json_object_object_add(o, f->name, str(&s));
		return 0;
	case F_BYTES:
		json_object_object_add(o, f->name, base64(s.p, s.end - s.p));
		return 0;
	case F_MSG:
		v = decode_msg(&s, f->sub, depth + 1);
		if (!v)
			return -EINVAL;
		json_object_object_add(o, f->name, v);
		return 0;
	case F_TIME:
		v = time_str(&s);
		if (v)
			json_object_object_add(o, f->name, v);
		return 0;
	case F_MAP_SS:
	case F_MAP_SB:
	case F_MAP_QTY:
		return map_entry(&s, child(o, f->name, json_type_object),
				 f->type);
	case F_INTSTR:
		v = int_or_string(&s);
		if (!v)
			return -EINVAL;
		json_object_object_add(o, f->name, v);
		return 0;
	case F_REP_STR:
		json_object_array_add(child(o, f->name, json_type_array),
				      str(&s));
		return 0;
	case F_REP_MSG:
		v = decode_msg(&s, f->sub, depth + 1);
		if (!v)
			return -EINVAL;
		json_object_array_add(child(o, f->name, json_type_array), v);
		return 0;
	default:
		return -EINVAL;
	}
}

static struct json_object *decode_msg(struct rd *r, const struct msg *m,
				      int depth)
{
	struct json_object *o;
	uint64_t key;

	if (depth > 16)
		return NULL;
	o = json_object_new_object();
	while (r->p < r->end) {
		const struct field *f;
		unsigned int num, wt;

		if (varint(r, &key))
			goto bad;
		num = (unsigned int)(key >> 3);
		wt = key & 7;
		for (f = m->fields; f->name; f++)
			if (f->num == num)
				break;
		if (f->name ? decode_field(r, f, wt, o, depth) : skip(r, wt))
			goto bad;
	}
	return o;
bad:
	json_object_put(o);
	return NULL;
}

struct json_object *berth_proto_decode(const void *buf, size_t len, char *err,
				       size_t errsize)
{
	struct rd r = { buf, (const unsigned char *)buf + len }, s, tm = { 0 },
		  raw = { 0 };
	char av[64] = "", kind[64] = "";
	struct json_object *obj;
	uint64_t key;
	size_t i;

	if (len < 4 || memcmp(buf, "k8s\0", 4)) {
		snprintf(err, errsize,
			 "protobuf body without the k8s envelope");
		return NULL;
	}
	r.p += 4;
	while (r.p < r.end) {
		if (varint(&r, &key))
			goto bad;
		if ((key & 7) == 2 && (key >> 3 == 1 || key >> 3 == 2)) {
			if (bytes(&r, key >> 3 == 1 ? &tm : &raw))
				goto bad;
		} else if (skip(&r, key & 7)) {
			goto bad;
		}
	}
	while (tm.p && tm.p < tm.end) {
		if (varint(&tm, &key) || (key & 7) != 2 || bytes(&tm, &s))
			goto bad;
		if (key >> 3 == 1)
			snprintf(av, sizeof(av), "%.*s", (int)(s.end - s.p),
				 s.p);
		else if (key >> 3 == 2)
			snprintf(kind, sizeof(kind), "%.*s", (int)(s.end - s.p),
				 s.p);
	}
	for (i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++) {
		if (strcmp(kinds[i].api_version, av) ||
		    strcmp(kinds[i].kind, kind))
			continue;
		if (!raw.p)
			raw.p = raw.end = (const unsigned char *)buf;
		obj = decode_msg(&raw, kinds[i].msg, 0);
		if (!obj)
			goto bad;
		berth_json_set_str(obj, "apiVersion", av);
		berth_json_set_str(obj, "kind", kind);
		return obj;
	}
	snprintf(err, errsize,
		 "protobuf is not supported for %s %s; send application/json",
		 av, kind);
	return NULL;
bad:
	snprintf(err, errsize, "malformed protobuf body");
	return NULL;
}
