// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/* The table of served kinds (issue 5's list) and their key layout. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "registry.h"

#define ST BERTH_SUB_STATUS
#define SC BERTH_SUB_SCALE

const struct berth_resource berth_resources[] = {
	{ "", "v1", "namespaces", "namespace", "Namespace", false, "ns", NULL,
	  ST },
	{ "", "v1", "pods", "pod", "Pod", true, "po", "all",
	  ST | BERTH_SUB_BINDING | BERTH_SUB_LOG },
	{ "", "v1", "services", "service", "Service", true, "svc", "all", ST },
	{ "", "v1", "endpoints", "endpoints", "Endpoints", true, "ep", NULL,
	  0 },
	{ "", "v1", "nodes", "node", "Node", false, "no", NULL, ST },
	{ "", "v1", "configmaps", "configmap", "ConfigMap", true, "cm", NULL,
	  0 },
	{ "", "v1", "secrets", "secret", "Secret", true, NULL, NULL, 0 },
	{ "", "v1", "serviceaccounts", "serviceaccount", "ServiceAccount", true,
	  "sa", NULL, BERTH_SUB_TOKEN },
	{ "", "v1", "events", "event", "Event", true, "ev", NULL, 0 },
	{ "", "v1", "resourcequotas", "resourcequota", "ResourceQuota", true,
	  "quota", NULL, ST },
	{ "", "v1", "limitranges", "limitrange", "LimitRange", true, "limits",
	  NULL, 0 },
	{ "apps", "v1", "deployments", "deployment", "Deployment", true,
	  "deploy", "all", ST | SC },
	{ "apps", "v1", "replicasets", "replicaset", "ReplicaSet", true, "rs",
	  "all", ST | SC },
	{ "apps", "v1", "daemonsets", "daemonset", "DaemonSet", true, "ds",
	  "all", ST },
	{ "apps", "v1", "statefulsets", "statefulset", "StatefulSet", true,
	  "sts", "all", ST | SC },
	{ "batch", "v1", "jobs", "job", "Job", true, NULL, "all", ST },
	{ "apps", "v1", "controllerrevisions", "controllerrevision",
	  "ControllerRevision", true, NULL, NULL, 0 },
	{ "discovery.k8s.io", "v1", "endpointslices", "endpointslice",
	  "EndpointSlice", true, NULL, NULL, 0 },
	{ "networking.k8s.io", "v1", "networkpolicies", "networkpolicy",
	  "NetworkPolicy", true, "netpol", NULL, 0 },
	{ "coordination.k8s.io", "v1", "leases", "lease", "Lease", true, NULL,
	  NULL, 0 },
	{ "rbac.authorization.k8s.io", "v1", "roles", "role", "Role", true,
	  NULL, NULL, 0 },
	{ "rbac.authorization.k8s.io", "v1", "rolebindings", "rolebinding",
	  "RoleBinding", true, NULL, NULL, 0 },
	{ "rbac.authorization.k8s.io", "v1", "clusterroles", "clusterrole",
	  "ClusterRole", false, NULL, NULL, 0 },
	{ "rbac.authorization.k8s.io", "v1", "clusterrolebindings",
	  "clusterrolebinding", "ClusterRoleBinding", false, NULL, NULL, 0 },
	{ "certificates.k8s.io", "v1", "certificatesigningrequests",
	  "certificatesigningrequest", "CertificateSigningRequest", false,
	  "csr", NULL, ST | BERTH_SUB_APPROVAL },
};
const size_t berth_nresources =
	sizeof(berth_resources) / sizeof(berth_resources[0]);

const struct berth_group_version berth_group_versions[] = {
	{ "", "v1" },
	{ "apps", "v1" },
	{ "batch", "v1" },
	{ "discovery.k8s.io", "v1" },
	{ "networking.k8s.io", "v1" },
	{ "coordination.k8s.io", "v1" },
	{ "rbac.authorization.k8s.io", "v1" },
	{ "certificates.k8s.io", "v1" },
};
const size_t berth_ngroup_versions =
	sizeof(berth_group_versions) / sizeof(berth_group_versions[0]);

const struct berth_resource *
berth_resource_find(const char *group, const char *version, const char *name)
{
	size_t i;

	for (i = 0; i < berth_nresources; i++) {
		const struct berth_resource *r = &berth_resources[i];

		if (!strcmp(r->group, group) && !strcmp(r->version, version) &&
		    !strcmp(r->name, name))
			return r;
	}
	return NULL;
}

const struct berth_resource *berth_resource_by_kind(const char *group,
						    const char *kind)
{
	size_t i;

	for (i = 0; i < berth_nresources; i++) {
		const struct berth_resource *r = &berth_resources[i];

		if (!strcmp(r->group, group) && !strcmp(r->kind, kind))
			return r;
	}
	return NULL;
}

void berth_resource_api_version(const struct berth_resource *r, char *buf,
				size_t size)
{
	if (*r->group)
		snprintf(buf, size, "%s/%s", r->group, r->version);
	else
		snprintf(buf, size, "%s", r->version);
}

int berth_resource_key(const struct berth_resource *r, const char *ns,
		       const char *name, char *buf, size_t size)
{
	const char *g = *r->group ? r->group : "core";
	int n;

	if (!r->namespaced)
		ns = NULL;
	if (name && ns)
		n = snprintf(buf, size, "/registry/%s/%s/%s/%s", g, r->name, ns,
			     name);
	else if (name)
		n = snprintf(buf, size, "/registry/%s/%s/%s", g, r->name, name);
	else if (ns)
		n = snprintf(buf, size, "/registry/%s/%s/%s/", g, r->name, ns);
	else
		n = snprintf(buf, size, "/registry/%s/%s/", g, r->name);
	if (n < 0 || (size_t)n >= size)
		return -ENAMETOOLONG;
	return 0;
}
