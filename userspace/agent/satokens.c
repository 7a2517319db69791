// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* ServiceAccount tokens for projected volumes: request, cache, renewal. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include <berth/kube.h>
#include <berth/log.h>

#include "satokens.h"

struct tok {
	struct tok *next;
	char uid[64];
	char *audience; /* "" for the server's default */
	long expiration_s; /* as asked; the server may shorten it */
	char *token;
	time_t iat, exp;
	time_t retry_at; /* a renewal failed: not before then */
};

struct berth_tokens {
	struct berth_kube *k;
	pthread_mutex_t lock;
	struct tok *toks;
	long max_age_s;
};

struct berth_tokens *berth_tokens_new(struct berth_kube *k)
{
	struct berth_tokens *t = calloc(1, sizeof(*t));
	const char *env = getenv("BERTH_TOKEN_MAX_AGE_S");

	if (!t)
		return NULL;
	t->k = k;
	pthread_mutex_init(&t->lock, NULL);
	t->max_age_s = BERTH_TOKEN_MAX_AGE_S;
	if (env && atol(env) > 0) {
		t->max_age_s = atol(env);
		pr_info("service account tokens: renewed after %ld s at most",
			t->max_age_s);
	}
	return t;
}

static void tok_free(struct tok *e)
{
	if (!e)
		return;
	free(e->audience);
	free(e->token);
	free(e);
}

void berth_tokens_free(struct berth_tokens *t)
{
	if (!t)
		return;
	while (t->toks) {
		struct tok *e = t->toks;

		t->toks = e->next;
		tok_free(e);
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

bool berth_token_needs_refresh(time_t iat, time_t exp, time_t now,
			       long max_age_s)
{
	if (now - iat > max_age_s)
		return true;
	/* the last fifth of its life: 80% has passed */
	return now >= exp - (exp - iat) / 5;
}

static const char *jstr(struct json_object *o, const char *a, const char *b)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, a, &v))
		return NULL;
	if (b && !json_object_object_get_ex(v, b, &v))
		return NULL;
	return json_object_is_type(v, json_type_string) ?
		       json_object_get_string(v) :
		       NULL;
}

static struct tok *find(struct berth_tokens *t, const char *uid,
			const char *aud, long exp_s)
{
	for (struct tok *e = t->toks; e; e = e->next)
		if (!strcmp(e->uid, uid) && !strcmp(e->audience, aud) &&
		    e->expiration_s == exp_s)
			return e;
	return NULL;
}

static struct json_object *token_request(struct json_object *pod,
					 const char *aud, long exp_s)
{
	struct json_object *tr = json_object_new_object();
	struct json_object *spec = json_object_new_object();
	struct json_object *ref = json_object_new_object();

	json_object_object_add(
		tr, "apiVersion",
		json_object_new_string("authentication.k8s.io/v1"));
	json_object_object_add(tr, "kind",
			       json_object_new_string("TokenRequest"));
	if (*aud) {
		struct json_object *a = json_object_new_array();

		json_object_array_add(a, json_object_new_string(aud));
		json_object_object_add(spec, "audiences", a);
	}
	json_object_object_add(spec, "expirationSeconds",
			       json_object_new_int64(exp_s));
	json_object_object_add(ref, "apiVersion", json_object_new_string("v1"));
	json_object_object_add(ref, "kind", json_object_new_string("Pod"));
	json_object_object_add(
		ref, "name",
		json_object_new_string(jstr(pod, "metadata", "name")));
	json_object_object_add(
		ref, "uid",
		json_object_new_string(jstr(pod, "metadata", "uid")));
	json_object_object_add(spec, "boundObjectRef", ref);
	json_object_object_add(tr, "spec", spec);
	return tr;
}

/* A new token into e (iat, exp from the answer); 0 or -errno with err. */
static int request(struct berth_tokens *t, struct json_object *pod,
		   struct tok *e, char *err, size_t errlen)
{
	const char *ns = jstr(pod, "metadata", "namespace") ?: "default";
	const char *sa = jstr(pod, "spec", "serviceAccountName");
	struct json_object *body, *out = NULL, *v;
	const char *tok, *ts;
	char path[1024], m[256];
	long exp, exp_s = e->expiration_s;
	int st, ret = -EIO;

	if (!sa || !*sa)
		sa = "default";
	snprintf(path, sizeof(path),
		 "/api/v1/namespaces/%s/serviceaccounts/%s/token", ns, sa);
	body = token_request(pod, e->audience, e->expiration_s);
	st = berth_kube_post(t->k, path, body, &out);
	json_object_put(body);
	tok = jstr(out, "status", "token");
	ts = jstr(out, "status", "expirationTimestamp");
	if (st != 201 && st != 200) {
		snprintf(err, errlen, "service account %s/%s token: %s", ns, sa,
			 berth_kube_status_message(out, st, m, sizeof(m)));
		ret = st == 404 ? -ENOENT : -EIO;
	} else if (!tok || !ts || berth_kube_parse_time(ts, &exp)) {
		snprintf(
			err, errlen,
			"service account %s/%s token: malformed TokenRequest answer",
			ns, sa);
	} else {
		if (json_object_object_get_ex(out, "spec", &v) &&
		    json_object_object_get_ex(v, "expirationSeconds", &v))
			exp_s = (long)json_object_get_int64(v);
		free(e->token);
		e->token = strdup(tok);
		e->exp = (time_t)exp;
		/* the kubelet's view: issued one lifetime before expiry */
		e->iat = (time_t)(exp - exp_s);
		e->retry_at = 0;
		ret = e->token ? 0 : -ENOMEM;
	}
	json_object_put(out);
	return ret;
}

char *berth_tokens_get(struct berth_tokens *t, struct json_object *pod,
		       const char *audience, long expiration_s, char *err,
		       size_t errlen)
{
	const char *uid = jstr(pod, "metadata", "uid");
	time_t now = time(NULL);
	struct tok *e;
	char *out = NULL;
	int ret = 0;

	if (!uid || !jstr(pod, "metadata", "name") || strlen(uid) >= 64) {
		snprintf(err, errlen,
			 "service account token: pod without a name or uid");
		errno = EINVAL;
		return NULL;
	}
	if (!audience)
		audience = "";
	pthread_mutex_lock(&t->lock);
	e = find(t, uid, audience, expiration_s);
	if (!e) {
		e = calloc(1, sizeof(*e));
		if (!e || !(e->audience = strdup(audience))) {
			tok_free(e);
			pthread_mutex_unlock(&t->lock);
			errno = ENOMEM;
			return NULL;
		}
		snprintf(e->uid, sizeof(e->uid), "%s", uid);
		e->expiration_s = expiration_s;
		e->next = t->toks;
		t->toks = e;
	}
	if (!e->token ||
	    berth_token_needs_refresh(e->iat, e->exp, now, t->max_age_s)) {
		ret = request(t, pod, e, err, errlen);
		if (ret) {
			e->retry_at = now + BERTH_TOKEN_RETRY_S;
			pr_warn("%s", err);
		} else {
			pr_info("pod %s: service account token issued, expires in %ld s",
				uid, (long)(e->exp - now));
		}
	}
	/* a failed renewal keeps the old token while it is valid */
	if (e->token && now < e->exp)
		out = strdup(e->token);
	pthread_mutex_unlock(&t->lock);
	if (!out)
		errno = ret ? -ret : ENOMEM;
	return out;
}

bool berth_tokens_due(struct berth_tokens *t, const char *uid, time_t now)
{
	bool due = false;

	pthread_mutex_lock(&t->lock);
	for (struct tok *e = t->toks; e && !due; e = e->next)
		due = !strcmp(e->uid, uid) && e->token && now >= e->retry_at &&
		      berth_token_needs_refresh(e->iat, e->exp, now,
						t->max_age_s);
	pthread_mutex_unlock(&t->lock);
	return due;
}

void berth_tokens_forget(struct berth_tokens *t, const char *uid)
{
	struct tok **pp, *e;

	pthread_mutex_lock(&t->lock);
	for (pp = &t->toks; (e = *pp);) {
		if (!strcmp(e->uid, uid)) {
			*pp = e->next;
			tok_free(e);
		} else {
			pp = &e->next;
		}
	}
	pthread_mutex_unlock(&t->lock);
}
