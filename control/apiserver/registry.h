/* SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause) */
/* The resources berth-server serves: one row per kind, and their store keys. */
#ifndef BERTH_APISERVER_REGISTRY_H
#define BERTH_APISERVER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>

enum berth_subresource {
	BERTH_SUB_STATUS = 1 << 0,
	BERTH_SUB_SCALE = 1 << 1,
	BERTH_SUB_BINDING = 1 << 2,
	BERTH_SUB_LOG = 1 << 3,
	BERTH_SUB_TOKEN = 1 << 4, /* serviceaccounts/token: TokenRequest */
	BERTH_SUB_APPROVAL = 1 << 5, /* certificatesigningrequests/approval */
};

struct berth_resource {
	const char *group; /* "" for the core group */
	const char *version;
	const char *name; /* plural, the URL segment */
	const char *singular;
	const char *kind;
	bool namespaced;
	const char *short_names; /* comma-separated, or NULL */
	const char *categories; /* comma-separated, or NULL */
	unsigned int subresources; /* enum berth_subresource */
};

extern const struct berth_resource berth_resources[];
extern const size_t berth_nresources;

/* Group/versions served, in discovery order; group "" is the core group. */
struct berth_group_version {
	const char *group;
	const char *version;
};
extern const struct berth_group_version berth_group_versions[];
extern const size_t berth_ngroup_versions;

const struct berth_resource *
berth_resource_find(const char *group, const char *version, const char *name);
const struct berth_resource *berth_resource_by_kind(const char *group,
						    const char *kind);
/* "apps/v1" or "v1". */
void berth_resource_api_version(const struct berth_resource *r, char *buf,
				size_t size);

/*
 * Store key of one object: /registry/<group>/<resource>/<namespace>/<name>
 * (group "core" for ""; no namespace segment when cluster-scoped).
 * With name NULL: the prefix of a namespace's objects (ns NULL: of all).
 * -ENAMETOOLONG when it does not fit.
 */
int berth_resource_key(const struct berth_resource *r, const char *ns,
		       const char *name, char *buf, size_t size);

#endif
