// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * ServiceAccount admission: a pod runs as "default" unless it names an
 * account, the account must exist, and (unless automounting is off on the
 * pod or the account) the pod gets the kube-api-access-XXXXX projected
 * volume (a bound token, the cluster CA, its namespace) mounted in every
 * container at the path client libraries look in.
 */
#include <stdio.h>
#include <string.h>

#include <gnutls/crypto.h>
#include <gnutls/gnutls.h>

#include "admission.h"
#include "api.h"
#include "jsonutil.h"
#include "registry.h"
#include "rest.h"

#define SA_MOUNT_PATH "/var/run/secrets/kubernetes.io/serviceaccount"
#define SA_VOLUME_PREFIX "kube-api-access-"
#define SA_TOKEN_EXPIRATION_S \
	3607 /* kube-apiserver's default, an odd
				    * number so it is recognisable */
#define MIRROR_ANNOTATION "kubernetes.io/config.mirror"

static void find_mount(struct json_object *c, void *found)
{
	struct json_object *ms = berth_admission_array(c, "volumeMounts");
	size_t k;

	for (k = 0; ms && k < json_object_array_length(ms); k++)
		if (!strcmp(berth_json_get_str(json_object_array_get_idx(ms, k), "mountPath") ?:
				    "",
			    SA_MOUNT_PATH))
			*(bool *)found = true;
}

/* Does any container already mount something at the token's path? */
static bool has_mount(struct json_object *spec)
{
	bool found = false;

	berth_admission_each_container(spec, find_mount, &found);
	return found;
}

static struct json_object *item(const char *key, const char *path)
{
	struct json_object *i = json_object_new_object();

	if (key)
		berth_json_set_str(i, "key", key);
	berth_json_set_str(i, "path", path);
	return i;
}

static struct json_object *api_access_volume(const char *name)
{
	struct json_object *v = json_object_new_object();
	struct json_object *p = berth_json_obj(v, "projected");
	struct json_object *srcs = json_object_new_array();
	struct json_object *s, *x, *items, *it;

	berth_json_set_str(v, "name", name);
	berth_json_set_int(p, "defaultMode", 0644);
	s = json_object_new_object();
	x = berth_json_obj(s, "serviceAccountToken");
	berth_json_set_int(x, "expirationSeconds", SA_TOKEN_EXPIRATION_S);
	berth_json_set_str(x, "path", "token");
	json_object_array_add(srcs, s);

	s = json_object_new_object();
	x = berth_json_obj(s, "configMap");
	berth_json_set_str(x, "name", "kube-root-ca.crt");
	items = json_object_new_array();
	json_object_array_add(items, item("ca.crt", "ca.crt"));
	json_object_object_add(x, "items", items);
	/* berth publishes no cluster CA yet: a pod must start without it */
	json_object_object_add(x, "optional", json_object_new_boolean(1));
	json_object_array_add(srcs, s);

	s = json_object_new_object();
	x = berth_json_obj(s, "downwardAPI");
	items = json_object_new_array();
	it = item(NULL, "namespace");
	berth_json_set_str(berth_json_obj(it, "fieldRef"), "apiVersion", "v1");
	berth_json_set_str(berth_json_obj(it, "fieldRef"), "fieldPath",
			   "metadata.namespace");
	json_object_array_add(items, it);
	json_object_object_add(x, "items", items);
	json_object_array_add(srcs, s);
	json_object_object_add(p, "sources", srcs);
	return v;
}

static void add_mount(struct json_object *c, void *vol)
{
	struct json_object *ms = berth_admission_array(c, "volumeMounts");
	struct json_object *m = json_object_new_object();

	if (!ms) {
		ms = json_object_new_array();
		json_object_object_add(c, "volumeMounts", ms);
	}
	berth_json_set_str(m, "name", vol);
	json_object_object_add(m, "readOnly", json_object_new_boolean(1));
	berth_json_set_str(m, "mountPath", SA_MOUNT_PATH);
	json_object_array_add(ms, m);
}

static void random_suffix(char *buf)
{
	static const char alnum[] = "bcdfghjklmnpqrstvwxz2456789";
	unsigned char r[5];
	int i;

	gnutls_rnd(GNUTLS_RND_NONCE, r, sizeof(r));
	for (i = 0; i < 5; i++)
		buf[i] = alnum[r[i] % (sizeof(alnum) - 1)];
	buf[5] = 0;
}

/*
 * The account; "default" missing is made here, as the ServiceAccount
 * controller would a moment later, so a pod created right after its
 * namespace is not refused for a race it cannot see.
 */
static struct json_object *account(const struct berth_admission_req *rq,
				   const char *name)
{
	struct json_object *sa =
		berth_admission_get(rq->api, "serviceaccounts", rq->ns, name);

	if (sa || strcmp(name, "default") || rq->dry)
		return sa;
	sa = json_object_new_object();
	berth_json_set_str(berth_json_obj(sa, "metadata"), "name", "default");
	berth_rest_create(rq->api,
			  berth_resource_find("", "v1", "serviceaccounts"),
			  rq->ns, sa);
	json_object_put(sa);
	return berth_admission_get(rq->api, "serviceaccounts", rq->ns, name);
}

static bool automount(struct json_object *spec, struct json_object *sa)
{
	struct json_object *v;

	if (json_object_object_get_ex(spec, "automountServiceAccountToken",
				      &v) &&
	    json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	if (json_object_object_get_ex(sa, "automountServiceAccountToken", &v) &&
	    json_object_is_type(v, json_type_boolean))
		return json_object_get_boolean(v);
	return true;
}

/* A pod without imagePullSecrets gets its account's. */
static void pull_secrets(struct json_object *spec, struct json_object *sa)
{
	struct json_object *ips = berth_admission_array(sa, "imagePullSecrets");
	struct json_object *have =
		berth_admission_array(spec, "imagePullSecrets");

	if (ips && json_object_array_length(ips) &&
	    !(have && json_object_array_length(have)))
		json_object_object_add(spec, "imagePullSecrets",
				       berth_json_copy(ips));
}

struct json_object *berth_sa_admit(const struct berth_admission_req *rq)
{
	struct json_object *spec, *sa, *vols;
	const char *name;
	char vol[64];

	if (json_object_object_get_ex(berth_json_path(rq->obj,
						      "metadata.annotations"),
				      MIRROR_ANNOTATION, NULL))
		return NULL; /* a static pod's mirror: the node made it */
	spec = berth_json_path(rq->obj, "spec");
	if (!json_object_is_type(spec, json_type_object))
		return NULL; /* validation says what is wrong */
	name = berth_json_get_str(spec, "serviceAccountName");
	if (!name || !*name) {
		berth_json_set_str(spec, "serviceAccountName", "default");
		name = "default";
	}
	sa = account(rq, name);
	/* a dry run makes nothing, not even "default" */
	if (!sa && !(rq->dry && !strcmp(name, "default")))
		return berth_admission_forbidden(
			rq,
			"error looking up service account %s/%s: serviceaccount \"%s\" not found",
			rq->ns, name, name);
	pull_secrets(spec, sa);
	if (!automount(spec, sa) || has_mount(spec)) {
		json_object_put(sa);
		return NULL;
	}
	json_object_put(sa);
	memcpy(vol, SA_VOLUME_PREFIX, sizeof(SA_VOLUME_PREFIX));
	random_suffix(vol + strlen(SA_VOLUME_PREFIX));
	vols = berth_admission_array(spec, "volumes");
	if (!vols) {
		vols = json_object_new_array();
		json_object_object_add(spec, "volumes", vols);
	}
	json_object_array_add(vols, api_access_volume(vol));
	berth_admission_each_container(spec, add_mount, vol);
	return NULL;
}
