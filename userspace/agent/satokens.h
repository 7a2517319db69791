/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/*
 * The kubelet's token manager: ServiceAccount tokens for projected
 * serviceAccountToken volume sources, requested from the API server as
 * TokenRequests bound to the pod, cached per (pod, audience, lifetime) and
 * renewed as the kubelet does: once 80% of the lifetime has passed, or the
 * token is older than 24 h (BERTH_TOKEN_MAX_AGE_S in the environment
 * shortens that ceiling, for tests). Thread-safe.
 */
#ifndef BERTH_AGENT_SATOKENS_H
#define BERTH_AGENT_SATOKENS_H

#include <stdbool.h>
#include <time.h>

struct berth_kube;
struct json_object;
struct berth_tokens;

#define BERTH_TOKEN_MAX_AGE_S (24 * 3600) /* the kubelet's maxTTL */
#define BERTH_TOKEN_RETRY_S 10 /* after a failed renewal */

struct berth_tokens *berth_tokens_new(struct berth_kube *k);
void berth_tokens_free(struct berth_tokens *t);

/*
 * The token for pod (metadata.namespace/name/uid, spec.serviceAccountName,
 * default "default"), audience (NULL/"": the server's default) and
 * expiration_s: the cached one unless it is due, else a new one from
 * POST .../serviceaccounts/SA/token. A renewal that fails while the cached
 * token is still valid returns the cached one. malloc'd, or NULL with errno
 * set (and a message in err).
 */
char *berth_tokens_get(struct berth_tokens *t, struct json_object *pod,
		       const char *audience, long expiration_s, char *err,
		       size_t errlen);
/* Is a token of pod uid due for renewal at now (volumes to be rewritten)? */
bool berth_tokens_due(struct berth_tokens *t, const char *uid, time_t now);
/* The pod is gone: drop its tokens. */
void berth_tokens_forget(struct berth_tokens *t, const char *uid);

/* The renewal rule alone: issued at iat, expiring at exp. */
bool berth_token_needs_refresh(time_t iat, time_t exp, time_t now,
			       long max_age_s);

#endif
