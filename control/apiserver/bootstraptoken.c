// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* Bootstrap token authentication (kubeadm's token Secrets). */
#define _GNU_SOURCE /* strptime, timegm */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <json-c/json.h>

#include <berth/base64.h>
#include <berth/log.h>

#include "api.h"
#include "authn.h"
#include "bootstraptoken.h"
#include "jsonutil.h"
#include "../store/store.h"

#define ID_LEN 6
#define SECRET_LEN 16
#define SECRET_KEY_PREFIX "/registry/core/secrets/kube-system/bootstrap-token-"
#define EXTRA_GROUP_PREFIX "system:bootstrappers:"

static bool token_chars(const char *s, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!(islower((unsigned char)s[i]) ||
		      isdigit((unsigned char)s[i])))
			return false;
	return true;
}

bool berth_bootstrap_token_form(const char *t)
{
	return strlen(t) == ID_LEN + 1 + SECRET_LEN && t[ID_LEN] == '.' &&
	       token_chars(t, ID_LEN) &&
	       token_chars(t + ID_LEN + 1, SECRET_LEN);
}

/* data[k] decoded, malloc'd; NULL if absent or not base64. */
static char *data_field(struct json_object *secret, const char *k)
{
	struct json_object *data = NULL, *v = NULL;
	size_t n;

	if (!json_object_object_get_ex(secret, "data", &data) ||
	    !json_object_object_get_ex(data, k, &v) ||
	    !json_object_is_type(v, json_type_string))
		return NULL;
	return berth_base64_decode(json_object_get_string(v), false, &n);
}

static bool same(const char *a, const char *b)
{
	size_t n = strlen(b), i;
	unsigned char d = 0;

	if (!a || strlen(a) != n)
		return false;
	for (i = 0; i < n; i++) /* every byte: no timing hint of a prefix */
		d |= (unsigned char)a[i] ^ (unsigned char)b[i];
	return !d;
}

/* RFC 3339 in UTC ("2026-11-27T00:00:00Z"); unparsable counts as past. */
static bool expired(const char *exp)
{
	struct tm tm = { 0 };
	const char *end;

	if (!exp)
		return false;
	end = strptime(exp, "%Y-%m-%dT%H:%M:%S", &tm);
	if (!end || (*end != 'Z' && *end != '.'))
		return true;
	return timegm(&tm) <= time(NULL);
}

/* auth-extra-groups: comma list, each under system:bootstrappers: */
static int extra_groups(struct berth_user *u, char *groups)
{
	char *save = NULL, *g;

	for (g = strtok_r(groups, ",", &save); g;
	     g = strtok_r(NULL, ",", &save)) {
		g += strspn(g, " ");
		if (strncmp(g, EXTRA_GROUP_PREFIX, strlen(EXTRA_GROUP_PREFIX)))
			return -EACCES;
		berth_user_add_group(u, g);
	}
	return 0;
}

static int check_secret(struct json_object *sec, const char *id,
			const char *secret, struct berth_user *u)
{
	char *want = data_field(sec, "token-secret");
	char *usage = data_field(sec, "usage-bootstrap-authentication");
	char *exp = data_field(sec, "expiration");
	char *groups = data_field(sec, "auth-extra-groups");
	const char *type = berth_json_path_str(sec, "type");
	int ret = -EACCES;

	if (!type || strcmp(type, BERTH_BOOTSTRAP_SECRET_TYPE) ||
	    !same(want, secret) || !usage || strcmp(usage, "true") ||
	    expired(exp) ||
	    berth_json_path_str(sec, "metadata.deletionTimestamp"))
		goto out;
	memset(u, 0, sizeof(*u));
	snprintf(u->name, sizeof(u->name), BERTH_BOOTSTRAP_USER_PREFIX "%s",
		 id);
	berth_user_add_group(u, BERTH_GROUP_BOOTSTRAPPERS);
	ret = groups ? extra_groups(u, groups) : 0;
out:
	free(want);
	free(usage);
	free(exp);
	free(groups);
	return ret;
}

int berth_bootstrap_token_user(struct berth_api *api, const char *token,
			       struct berth_user *u)
{
	struct berth_kv kv = { 0 };
	struct json_object *sec;
	char key[256], id[ID_LEN + 1];
	int ret;

	if (!berth_bootstrap_token_form(token))
		return -EACCES;
	memcpy(id, token, ID_LEN);
	id[ID_LEN] = 0;
	snprintf(key, sizeof(key), SECRET_KEY_PREFIX "%s", id);
	if (berth_store_get(api->store, key, &kv))
		return -EACCES;
	sec = berth_json_parse(kv.value, kv.value_len, NULL);
	berth_kv_free(&kv);
	ret = sec ? check_secret(sec, id, token + ID_LEN + 1, u) : -EACCES;
	json_object_put(sec);
	if (ret)
		pr_debug("bootstrap token %s: rejected", id);
	return ret;
}
