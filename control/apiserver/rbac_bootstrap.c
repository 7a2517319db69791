// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * The ClusterRoles and bindings every cluster starts with, after
 * Kubernetes' bootstrap policy (facts, not its text): created when missing,
 * never overwritten, so an operator's edits survive a restart.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <json-c/json.h>

#include <berth/log.h>

#include "api.h"
#include "rbac.h"
#include "registry.h"
#include "rest.h"

#define AUTOUPDATE "\"rbac.authorization.kubernetes.io/autoupdate\":\"true\""
#define BOOT_LABELS "\"kubernetes.io/bootstrapping\":\"rbac-defaults\""
#define META(name, extra)                                                   \
	"\"metadata\":{\"name\":\"" name "\",\"annotations\":{" AUTOUPDATE \
	"},\"labels\":{" BOOT_LABELS extra "}}"
#define RW "\"create\",\"delete\",\"deletecollection\",\"patch\",\"update\""
#define RO "\"get\",\"list\",\"watch\""

/* view, edit, admin aggregate upward: view into edit into admin. */
static const char *const roles[] = {
	"{" META("cluster-admin", "") ","
	"\"rules\":[{\"apiGroups\":[\"*\"],\"resources\":[\"*\"],\"verbs\":[\"*\"]},"
	"{\"nonResourceURLs\":[\"*\"],\"verbs\":[\"*\"]}]}",

	"{" META("system:discovery", "") ","
	"\"rules\":[{\"nonResourceURLs\":[\"/api\",\"/api/*\",\"/apis\","
	"\"/apis/*\",\"/healthz\",\"/livez\",\"/openapi\",\"/openapi/*\","
	"\"/readyz\",\"/version\",\"/version/\"],\"verbs\":[\"get\"]}]}",

	"{" META("system:public-info-viewer", "") ","
	"\"rules\":[{\"nonResourceURLs\":[\"/healthz\",\"/livez\",\"/readyz\","
	"\"/version\",\"/version/\"],\"verbs\":[\"get\"]}]}",

	"{" META("system:basic-user", "") ","
	"\"rules\":[{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":"
	"[\"selfsubjectaccessreviews\",\"selfsubjectrulesreviews\"],"
	"\"verbs\":[\"create\"]},{\"apiGroups\":[\"authentication.k8s.io\"],"
	"\"resources\":[\"selfsubjectreviews\"],\"verbs\":[\"create\"]}]}",

	"{" META("view", ",\"rbac.authorization.k8s.io/aggregate-to-edit\":\"true\"")
	",\"aggregationRule\":{\"clusterRoleSelectors\":[{\"matchLabels\":"
	"{\"rbac.authorization.k8s.io/aggregate-to-view\":\"true\"}}]},"
	"\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/log\","
	"\"pods/status\",\"services\",\"services/status\",\"endpoints\","
	"\"configmaps\",\"serviceaccounts\",\"events\",\"namespaces\","
	"\"namespaces/status\",\"limitranges\",\"resourcequotas\","
	"\"persistentvolumeclaims\",\"replicationcontrollers\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"apps\"],\"resources\":[\"deployments\","
	"\"deployments/scale\",\"deployments/status\",\"replicasets\","
	"\"replicasets/scale\",\"replicasets/status\",\"daemonsets\","
	"\"daemonsets/status\",\"statefulsets\",\"statefulsets/scale\","
	"\"statefulsets/status\",\"controllerrevisions\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"batch\"],\"resources\":[\"jobs\",\"jobs/status\","
	"\"cronjobs\",\"cronjobs/status\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"discovery.k8s.io\"],\"resources\":[\"endpointslices\"],"
	"\"verbs\":[" RO "]},{\"apiGroups\":[\"networking.k8s.io\"],"
	"\"resources\":[\"networkpolicies\",\"ingresses\"],\"verbs\":[" RO "]}]}",

	"{" META("edit", ",\"rbac.authorization.k8s.io/aggregate-to-admin\":\"true\"")
	",\"aggregationRule\":{\"clusterRoleSelectors\":[{\"matchLabels\":"
	"{\"rbac.authorization.k8s.io/aggregate-to-edit\":\"true\"}}]},"
	"\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"pods\",\"pods/attach\","
	"\"pods/exec\",\"pods/portforward\",\"pods/proxy\",\"configmaps\","
	"\"endpoints\",\"persistentvolumeclaims\",\"replicationcontrollers\","
	"\"secrets\",\"serviceaccounts\",\"services\",\"services/proxy\"],"
	"\"verbs\":[" RW "]},{\"apiGroups\":[\"\"],\"resources\":[\"secrets\"],"
	"\"verbs\":[" RO "]},{\"apiGroups\":[\"\"],\"resources\":"
	"[\"serviceaccounts/token\"],\"verbs\":[\"create\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"serviceaccounts\"],"
	"\"verbs\":[\"impersonate\"]},"
	"{\"apiGroups\":[\"apps\"],\"resources\":[\"deployments\","
	"\"deployments/scale\",\"deployments/rollback\",\"replicasets\","
	"\"replicasets/scale\",\"daemonsets\",\"statefulsets\","
	"\"statefulsets/scale\"],\"verbs\":[" RW "]},"
	"{\"apiGroups\":[\"batch\"],\"resources\":[\"jobs\",\"cronjobs\"],"
	"\"verbs\":[" RW "]},{\"apiGroups\":[\"discovery.k8s.io\"],"
	"\"resources\":[\"endpointslices\"],\"verbs\":[" RW "]},"
	"{\"apiGroups\":[\"networking.k8s.io\"],\"resources\":"
	"[\"networkpolicies\",\"ingresses\"],\"verbs\":[" RW "]}]}",

	"{" META("admin", "")
	",\"aggregationRule\":{\"clusterRoleSelectors\":[{\"matchLabels\":"
	"{\"rbac.authorization.k8s.io/aggregate-to-admin\":\"true\"}}]},"
	"\"rules\":[{\"apiGroups\":[\"rbac.authorization.k8s.io\"],"
	"\"resources\":[\"roles\",\"rolebindings\"],\"verbs\":[" RW "," RO "]},"
	"{\"apiGroups\":[\"authorization.k8s.io\"],\"resources\":"
	"[\"localsubjectaccessreviews\"],\"verbs\":[\"create\"]}]}",

	"{" META("system:node", "") ","
	"\"rules\":[{\"apiGroups\":[\"\"],\"resources\":[\"nodes\"],"
	"\"verbs\":[\"create\",\"get\",\"list\",\"watch\",\"update\",\"patch\","
	"\"delete\"]},{\"apiGroups\":[\"\"],\"resources\":[\"nodes/status\"],"
	"\"verbs\":[\"patch\",\"update\"]},{\"apiGroups\":[\"\"],\"resources\":"
	"[\"pods\"],\"verbs\":[" RO ",\"create\",\"delete\"]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"pods/status\"],\"verbs\":"
	"[\"patch\",\"update\"]},{\"apiGroups\":[\"\"],\"resources\":"
	"[\"pods/eviction\"],\"verbs\":[\"create\"]},{\"apiGroups\":[\"\"],"
	"\"resources\":[\"services\",\"endpoints\",\"configmaps\",\"secrets\","
	"\"namespaces\",\"serviceaccounts\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"\"],\"resources\":[\"serviceaccounts/token\"],"
	"\"verbs\":[\"create\"]},{\"apiGroups\":[\"\"],\"resources\":"
	"[\"events\"],\"verbs\":[\"create\",\"patch\",\"update\"]},"
	"{\"apiGroups\":[\"coordination.k8s.io\"],\"resources\":[\"leases\"],"
	"\"verbs\":[\"create\",\"delete\",\"get\",\"patch\",\"update\"]},"
	"{\"apiGroups\":[\"discovery.k8s.io\"],\"resources\":[\"endpointslices\"],"
	"\"verbs\":[" RO "]},{\"apiGroups\":[\"networking.k8s.io\"],"
	"\"resources\":[\"networkpolicies\"],\"verbs\":[" RO "]},"
	"{\"apiGroups\":[\"certificates.k8s.io\"],\"resources\":"
	"[\"certificatesigningrequests\"],\"verbs\":[\"create\"," RO "]}]}",

	/* a bootstrap token asks for a node certificate, nothing else */
	"{" META("system:node-bootstrapper", "") ","
	"\"rules\":[{\"apiGroups\":[\"certificates.k8s.io\"],\"resources\":"
	"[\"certificatesigningrequests\"],\"verbs\":[\"create\",\"get\","
	"\"list\",\"watch\"]}]}",
};

#define CRB(name, role, subjects)                                       \
	"{" META(name, "") ",\"roleRef\":{\"apiGroup\":"                \
	"\"rbac.authorization.k8s.io\",\"kind\":\"ClusterRole\",\"name\":\"" \
	role "\"},\"subjects\":[" subjects "]}"
#define GROUP(g) "{\"apiGroup\":\"rbac.authorization.k8s.io\",\"kind\":\"Group\",\"name\":\"" g "\"}"

/*
 * system:node goes to the group system:nodes until the Node authorizer
 * narrows a node to its own objects.
 */
static const char *const bindings[] = {
	CRB("cluster-admin", "cluster-admin", GROUP("system:masters")),
	CRB("system:discovery", "system:discovery",
	    GROUP("system:authenticated")),
	CRB("system:basic-user", "system:basic-user",
	    GROUP("system:authenticated")),
	CRB("system:public-info-viewer", "system:public-info-viewer",
	    GROUP("system:authenticated") "," GROUP("system:unauthenticated")),
	CRB("system:node", "system:node", GROUP("system:nodes")),
	CRB("system:node-bootstrapper", "system:node-bootstrapper",
	    GROUP("system:bootstrappers")),
};

static int create_all(struct berth_api *api, const char *rname,
		      const char *const *texts, size_t n)
{
	const struct berth_resource *r =
		berth_resource_find("rbac.authorization.k8s.io", "v1", rname);
	struct json_object *obj;
	size_t i;
	int code;

	for (i = 0; i < n; i++) {
		obj = json_tokener_parse(texts[i]);
		if (!obj) {
			pr_err("rbac bootstrap: %s #%zu does not parse", rname, i);
			return -EINVAL;
		}
		code = berth_rest_create(api, r, NULL, obj);
		json_object_put(obj);
		if (code != 201 && code != 409) {
			pr_err("rbac bootstrap: create %s #%zu: HTTP %d", rname,
			       i, code);
			return -EIO;
		}
	}
	return 0;
}

int berth_rbac_bootstrap(struct berth_api *api)
{
	int ret = create_all(api, "clusterroles", roles,
			     sizeof(roles) / sizeof(roles[0]));

	if (!ret)
		ret = create_all(api, "clusterrolebindings", bindings,
				 sizeof(bindings) / sizeof(bindings[0]));
	return ret;
}
