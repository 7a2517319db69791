// SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
/*
 * OpenAPI v3 documents, built once from the schema table below. The
 * table is hand-written: the main fields of each served kind with short
 * descriptions (enough for `kubectl explain` and for kubectl to see that
 * PATCH takes dryRun and fieldValidation, so it validates server-side).
 * Field lines are "name:type:description"; a type is string, integer,
 * number, boolean, int-or-string, time, map (of strings), map<quantity>,
 * object (free-form), []string, <Def>, []<Def>[@mergeKey]. Definition
 * names use short prefixes (core., apps., meta. ...) expanded below.
 */
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "jsonutil.h"
#include "openapi.h"
#include "registry.h"

struct def {
	const char *name;
	const char *description;
	const char *fields;
};

#define TM                                                                         \
	"apiVersion:string:The versioned schema of this object (group/version).\n" \
	"kind:string:The REST resource this object represents, in CamelCase.\n"
#define OM \
	"metadata:meta.ObjectMeta:Standard object metadata: name, namespace, labels, annotations.\n"

static const struct def defs[] = {
	/* meta */
	{ "meta.ObjectMeta", "Metadata every persisted object has.",
	  "name:string:Unique name within a namespace (or the cluster for cluster-scoped kinds).\n"
	  "generateName:string:Prefix the server completes into a unique name when name is empty.\n"
	  "namespace:string:The namespace the object lives in; empty for cluster-scoped kinds.\n"
	  "uid:string:Unique identity the server assigns on create; never reused.\n"
	  "resourceVersion:string:Opaque version of the object for optimistic concurrency and watches.\n"
	  "generation:integer:Sequence number of the desired state (spec), bumped by the server.\n"
	  "creationTimestamp:time:When the server created the object (UTC, RFC 3339).\n"
	  "deletionTimestamp:time:When deletion was requested; set by the server.\n"
	  "deletionGracePeriodSeconds:integer:Seconds allowed for graceful termination once deleted.\n"
	  "labels:map:Key/value pairs used to organise and select objects.\n"
	  "annotations:map:Non-identifying key/value metadata for tools and people.\n"
	  "ownerReferences:[]meta.OwnerReference@uid:Objects this object depends on (garbage collection).\n"
	  "finalizers:[]string:Names that must be cleared before the object is removed.\n"
	  "managedFields:[]object:Which manager set which fields (server-side apply).\n" },
	{ "meta.OwnerReference", "Identifies an owning object.",
	  "apiVersion:string:API version of the owner.\n"
	  "kind:string:Kind of the owner.\n"
	  "name:string:Name of the owner.\n"
	  "uid:string:UID of the owner.\n"
	  "controller:boolean:True if the owner is the managing controller.\n"
	  "blockOwnerDeletion:boolean:Foreground deletion of the owner waits for this object.\n" },
	{ "meta.LabelSelector",
	  "A label query over a set of objects; the requirements are ANDed.",
	  "matchLabels:map:Labels that must all be present with these values.\n"
	  "matchExpressions:[]meta.LabelSelectorRequirement:Set-based requirements.\n" },
	{ "meta.LabelSelectorRequirement", "A key, an operator and values.",
	  "key:string:The label key.\n"
	  "operator:string:One of In, NotIn, Exists, DoesNotExist.\n"
	  "values:[]string:Values for In and NotIn; empty for Exists and DoesNotExist.\n" },
	/* core: pods */
	{ "core.Pod", "A group of containers scheduled together on one node.",
	  TM OM
	  "spec:core.PodSpec:Desired behaviour of the pod.\n"
	  "status:core.PodStatus:Most recently observed status, written by the node.\n" },
	{ "core.PodTemplateSpec", "The pods a controller creates.",
	  OM "spec:core.PodSpec:Desired behaviour of the pod.\n" },
	{ "core.PodSpec", "Specification of a pod.",
	  "containers:[]core.Container@name:Containers of the pod; at least one.\n"
	  "initContainers:[]core.Container@name:Containers run in order to completion before the others start.\n"
	  "volumes:[]core.Volume@name:Volumes the containers can mount.\n"
	  "restartPolicy:string:Always, OnFailure or Never. Default Always.\n"
	  "terminationGracePeriodSeconds:integer:Seconds between the termination signal and the kill. Default 30.\n"
	  "activeDeadlineSeconds:integer:Seconds the pod may be active before it is failed.\n"
	  "dnsPolicy:string:ClusterFirst, Default, None or ClusterFirstWithHostNet. Default ClusterFirst.\n"
	  "nodeSelector:map:Labels a node must have for the pod to be scheduled there.\n"
	  "serviceAccountName:string:Service account the pod runs as.\n"
	  "automountServiceAccountToken:boolean:Mount the service account token.\n"
	  "nodeName:string:The node the pod is bound to; set by the scheduler (binding).\n"
	  "hostNetwork:boolean:Use the node's network namespace.\n"
	  "hostname:string:Hostname of the pod; defaults to its name.\n"
	  "subdomain:string:Subdomain for the pod's DNS name.\n"
	  "affinity:core.Affinity:Scheduling constraints.\n"
	  "tolerations:[]core.Toleration:Taints the pod tolerates.\n"
	  "schedulerName:string:Scheduler that places the pod. Default default-scheduler.\n"
	  "priorityClassName:string:Name of the pod's priority class.\n"
	  "priority:integer:Priority value, from the priority class.\n"
	  "securityContext:object:Pod-level security attributes.\n"
	  "imagePullSecrets:[]core.LocalObjectReference@name:Secrets used to pull images.\n"
	  "hostAliases:[]object:Entries added to the pod's /etc/hosts.\n"
	  "enableServiceLinks:boolean:Inject service environment variables. Default true.\n"
	  "preemptionPolicy:string:PreemptLowerPriority or Never.\n"
	  "topologySpreadConstraints:[]object:How pods spread across topology domains.\n"
	  "readinessGates:[]object:Extra conditions for pod readiness.\n" },
	{ "core.Container",
	  "A single application container that runs within a pod.",
	  "name:string:Name of the container, a DNS label unique within the pod.\n"
	  "image:string:Container image reference.\n"
	  "command:[]string:Entrypoint array; replaces the image's ENTRYPOINT.\n"
	  "args:[]string:Arguments to the entrypoint; replace the image's CMD.\n"
	  "workingDir:string:Working directory of the container.\n"
	  "ports:[]core.ContainerPort@containerPort:Ports the container exposes (informational).\n"
	  "env:[]core.EnvVar@name:Environment variables to set.\n"
	  "envFrom:[]object:Sources of environment variables (ConfigMaps, Secrets).\n"
	  "resources:core.ResourceRequirements:Compute resources requested and limited.\n"
	  "volumeMounts:[]core.VolumeMount@mountPath:Volumes mounted into the container's filesystem.\n"
	  "livenessProbe:core.Probe:Restart the container when this fails.\n"
	  "readinessProbe:core.Probe:Remove the pod from endpoints when this fails.\n"
	  "startupProbe:core.Probe:Other probes wait until this succeeds.\n"
	  "lifecycle:object:postStart and preStop hooks.\n"
	  "terminationMessagePath:string:File the termination message is read from. Default /dev/termination-log.\n"
	  "terminationMessagePolicy:string:File or FallbackToLogsOnError. Default File.\n"
	  "imagePullPolicy:string:Always, Never or IfNotPresent; Always for :latest.\n"
	  "securityContext:object:Container-level security attributes.\n"
	  "stdin:boolean:Allocate a buffer for stdin.\n"
	  "tty:boolean:Allocate a TTY.\n" },
	{ "core.ContainerPort", "A network port of a container.",
	  "name:string:Name of the port, an IANA_SVC_NAME, unique in the pod.\n"
	  "containerPort:integer:Port number on the pod's IP.\n"
	  "hostPort:integer:Port number on the node.\n"
	  "hostIP:string:Host IP the host port binds to.\n"
	  "protocol:string:TCP, UDP or SCTP. Default TCP.\n" },
	{ "core.EnvVar", "An environment variable of a container.",
	  "name:string:Name of the variable.\n"
	  "value:string:Value; $(VAR) references are expanded.\n"
	  "valueFrom:core.EnvVarSource:Source of the value when value is empty.\n" },
	{ "core.EnvVarSource",
	  "Where an environment variable's value comes from.",
	  "configMapKeyRef:object:A key of a ConfigMap.\n"
	  "secretKeyRef:object:A key of a Secret.\n"
	  "fieldRef:object:A field of the pod.\n"
	  "resourceFieldRef:object:A resource of the container.\n" },
	{ "core.ResourceRequirements", "Compute resource requirements.",
	  "limits:map<quantity>:Maximum amount of compute resources allowed.\n"
	  "requests:map<quantity>:Minimum amount of compute resources required.\n" },
	{ "core.VolumeMount", "Mounting of a volume within a container.",
	  "name:string:Name of the volume.\n"
	  "mountPath:string:Path within the container.\n"
	  "subPath:string:Path within the volume to mount instead of its root.\n"
	  "readOnly:boolean:Mount read-only.\n" },
	{ "core.Volume", "A named volume in a pod.",
	  "name:string:Name of the volume, a DNS label unique in the pod.\n"
	  "emptyDir:object:A temporary directory that shares the pod's lifetime.\n"
	  "hostPath:object:A file or directory on the node.\n"
	  "configMap:object:A ConfigMap's keys as files.\n"
	  "secret:object:A Secret's keys as files.\n"
	  "persistentVolumeClaim:object:A claim on a persistent volume.\n"
	  "projected:object:Several sources in one directory.\n"
	  "downwardAPI:object:Pod fields as files.\n" },
	{ "core.Probe", "A health check of a container.",
	  "exec:object:Run a command; exit 0 is healthy.\n"
	  "httpGet:object:HTTP GET; 200-399 is healthy.\n"
	  "tcpSocket:object:TCP connect; success is healthy.\n"
	  "initialDelaySeconds:integer:Seconds after start before the first probe.\n"
	  "periodSeconds:integer:Seconds between probes. Default 10.\n"
	  "timeoutSeconds:integer:Seconds before a probe times out. Default 1.\n"
	  "successThreshold:integer:Consecutive successes to be healthy. Default 1.\n"
	  "failureThreshold:integer:Consecutive failures to be unhealthy. Default 3.\n" },
	{ "core.Affinity", "Scheduling constraints.",
	  "nodeAffinity:object:Node affinity rules.\n"
	  "podAffinity:object:Co-locate with pods matching these rules.\n"
	  "podAntiAffinity:object:Avoid pods matching these rules.\n" },
	{ "core.Toleration",
	  "Tolerates a taint matching key, operator and value.",
	  "key:string:Taint key; empty matches all keys.\n"
	  "operator:string:Exists or Equal. Default Equal.\n"
	  "value:string:Taint value for Equal.\n"
	  "effect:string:NoSchedule, PreferNoSchedule or NoExecute; empty matches all.\n"
	  "tolerationSeconds:integer:How long a NoExecute taint is tolerated.\n" },
	{ "core.LocalObjectReference",
	  "A reference to an object in the same namespace.",
	  "name:string:Name of the referent.\n" },
	{ "core.PodStatus", "Observed state of a pod.",
	  "phase:string:Pending, Running, Succeeded, Failed or Unknown.\n"
	  "conditions:[]core.PodCondition@type:Current service state of the pod.\n"
	  "message:string:Why the pod is in this condition.\n"
	  "reason:string:Brief CamelCase reason for the state.\n"
	  "hostIP:string:IP of the node the pod runs on.\n"
	  "podIP:string:IP allocated to the pod.\n"
	  "podIPs:[]object@ip:IPs allocated to the pod.\n"
	  "startTime:time:When the node acknowledged the pod.\n"
	  "containerStatuses:[]object:Status of each container.\n"
	  "initContainerStatuses:[]object:Status of each init container.\n"
	  "qosClass:string:Guaranteed, Burstable or BestEffort.\n" },
	{ "core.PodCondition", "A condition of a pod.",
	  "type:string:PodScheduled, Initialized, ContainersReady or Ready.\n"
	  "status:string:True, False or Unknown.\n"
	  "lastProbeTime:time:Last time the condition was probed.\n"
	  "lastTransitionTime:time:Last time the status changed.\n"
	  "reason:string:Reason for the last transition.\n"
	  "message:string:Details of the last transition.\n" },
	/* core: services and endpoints */
	{ "core.Service",
	  "A named abstraction of a set of pods behind a virtual IP.",
	  TM OM "spec:core.ServiceSpec:Desired behaviour of the service.\n"
		"status:core.ServiceStatus:Most recently observed status.\n" },
	{ "core.ServiceSpec", "Specification of a service.",
	  "ports:[]core.ServicePort@port:Ports the service exposes.\n"
	  "selector:map:Pods with these labels receive the traffic.\n"
	  "clusterIP:string:Virtual IP, allocated from the service CIDR; None for headless.\n"
	  "clusterIPs:[]string:Virtual IPs, one per IP family.\n"
	  "type:string:ClusterIP, NodePort, LoadBalancer or ExternalName. Default ClusterIP.\n"
	  "externalIPs:[]string:Extra IPs nodes accept traffic for.\n"
	  "sessionAffinity:string:ClientIP or None. Default None.\n"
	  "sessionAffinityConfig:object:Settings of session affinity.\n"
	  "externalName:string:DNS name returned for ExternalName services.\n"
	  "externalTrafficPolicy:string:Cluster or Local, for NodePort and LoadBalancer.\n"
	  "internalTrafficPolicy:string:Cluster or Local.\n"
	  "ipFamilies:[]string:IPv4 and/or IPv6. Default [IPv4].\n"
	  "ipFamilyPolicy:string:SingleStack, PreferDualStack or RequireDualStack.\n"
	  "publishNotReadyAddresses:boolean:Include not-ready pods in endpoints.\n"
	  "loadBalancerIP:string:Requested load balancer IP.\n" },
	{ "core.ServicePort", "A port of a service.",
	  "name:string:Name of the port, required with several ports.\n"
	  "protocol:string:TCP, UDP or SCTP. Default TCP.\n"
	  "port:integer:Port the service listens on.\n"
	  "targetPort:int-or-string:Port (number or name) on the pods. Default: port.\n"
	  "nodePort:integer:Port on every node, for NodePort and LoadBalancer (30000-32767).\n"
	  "appProtocol:string:Application protocol of the port.\n" },
	{ "core.ServiceStatus", "Observed state of a service.",
	  "loadBalancer:object:Status of the load balancer.\n"
	  "conditions:[]object@type:Current conditions.\n" },
	{ "core.Endpoints", "The addresses behind a service.",
	  TM OM
	  "subsets:[]core.EndpointSubset:Sets of addresses and ports.\n" },
	{ "core.EndpointSubset", "Addresses that share ports.",
	  "addresses:[]object:Ready addresses.\n"
	  "notReadyAddresses:[]object:Addresses not ready yet.\n"
	  "ports:[]object:Ports of the addresses.\n" },
	/* core: the rest */
	{ "core.Namespace", "A scope for names.",
	  TM OM "spec:core.NamespaceSpec:Desired behaviour of the namespace.\n"
		"status:core.NamespaceStatus:Observed status.\n" },
	{ "core.NamespaceSpec", "Specification of a namespace.",
	  "finalizers:[]string:Finalizers that must run before the namespace is removed.\n" },
	{ "core.NamespaceStatus", "Observed state of a namespace.",
	  "phase:string:Active or Terminating.\n" },
	{ "core.ConfigMap", "Configuration data for pods.",
	  TM OM "data:map:UTF-8 configuration data.\n"
		"binaryData:map:Binary configuration data, base64.\n"
		"immutable:boolean:When true, data cannot change.\n" },
	{ "core.Secret", "Secret data, such as passwords or keys.",
	  TM OM "data:map:Secret data, base64-encoded.\n"
		"stringData:map:Write-only plain-text data merged into data.\n"
		"type:string:Type of the secret. Default Opaque.\n"
		"immutable:boolean:When true, data cannot change.\n" },
	{ "core.ServiceAccount", "An identity for processes in pods.",
	  TM OM
	  "secrets:[]object@name:Secrets the service account may use.\n"
	  "imagePullSecrets:[]core.LocalObjectReference:Secrets for pulling images.\n"
	  "automountServiceAccountToken:boolean:Mount the token into pods.\n" },
	{ "core.ResourceQuota", "Limits on what a namespace may use.",
	  TM OM "spec:core.ResourceQuotaSpec:The hard limits.\n"
		"status:core.ResourceQuotaStatus:What is used, kept by the quota controller.\n" },
	{ "core.ResourceQuotaSpec", "The hard limits of a quota.",
	  "hard:map<quantity>:Limit per resource name (pods, requests.cpu, ...).\n"
	  "scopes:[]string:Scopes the quota counts in.\n" },
	{ "core.ResourceQuotaStatus", "What a quota allows and what is used.",
	  "hard:map<quantity>:The limits in force.\n"
	  "used:map<quantity>:What the namespace uses now.\n" },
	{ "core.LimitRange", "Defaults and bounds for the resources of a namespace's containers.",
	  TM OM "spec:core.LimitRangeSpec:The limits.\n" },
	{ "core.LimitRangeSpec", "The limits of a LimitRange.",
	  "limits:[]core.LimitRangeItem:One entry per object type.\n" },
	{ "core.LimitRangeItem", "Limits for one type of object.",
	  "type:string:Container, Pod or PersistentVolumeClaim.\n"
	  "default:map<quantity>:Default limits.\n"
	  "defaultRequest:map<quantity>:Default requests.\n"
	  "min:map<quantity>:Minimum usage.\n"
	  "max:map<quantity>:Maximum usage.\n"
	  "maxLimitRequestRatio:map<quantity>:Largest limit/request ratio.\n" },
	{ "core.Node", "A worker machine.",
	  TM OM
	  "spec:core.NodeSpec:Configuration of the node.\n"
	  "status:core.NodeStatus:Most recently observed status, written by the node agent.\n" },
	{ "core.NodeSpec", "Configuration of a node.",
	  "podCIDR:string:Pod IP range of the node.\n"
	  "podCIDRs:[]string:Pod IP ranges of the node.\n"
	  "unschedulable:boolean:New pods are not scheduled here.\n"
	  "taints:[]object:Taints repelling pods that do not tolerate them.\n"
	  "providerID:string:Cloud provider ID.\n" },
	{ "core.NodeStatus", "Observed state of a node.",
	  "capacity:map<quantity>:Total resources of the node.\n"
	  "allocatable:map<quantity>:Resources available to pods.\n"
	  "conditions:[]object@type:Ready and pressure conditions.\n"
	  "addresses:[]object@type:Addresses of the node.\n"
	  "nodeInfo:object:Versions and IDs of the node.\n"
	  "images:[]object:Images on the node.\n" },
	{ "core.Event", "A report of something that happened to an object.",
	  TM OM
	  "involvedObject:core.ObjectReference:The object this event is about.\n"
	  "reason:string:Short CamelCase reason.\n"
	  "message:string:Human-readable description.\n"
	  "source:object:Component that reported the event.\n"
	  "firstTimestamp:time:First time the event was seen.\n"
	  "lastTimestamp:time:Last time the event was seen.\n"
	  "count:integer:Times the event was seen.\n"
	  "type:string:Normal or Warning.\n"
	  "eventTime:string:When the event was first observed (microseconds).\n"
	  "reportingComponent:string:Controller that emitted the event.\n"
	  "reportingInstance:string:Instance of that controller.\n" },
	{ "core.ObjectReference", "A reference to an object.",
	  "kind:string:Kind of the referent.\n"
	  "namespace:string:Namespace of the referent.\n"
	  "name:string:Name of the referent.\n"
	  "uid:string:UID of the referent.\n"
	  "apiVersion:string:API version of the referent.\n"
	  "resourceVersion:string:Version of the referent.\n"
	  "fieldPath:string:A part of the referent, such as a container.\n" },
	/* apps */
	{ "apps.Deployment", "Declarative updates of pods through ReplicaSets.",
	  TM OM
	  "spec:apps.DeploymentSpec:Desired behaviour of the deployment.\n"
	  "status:apps.DeploymentStatus:Most recently observed status.\n" },
	{ "apps.DeploymentSpec", "Specification of a deployment.",
	  "replicas:integer:Desired number of pods. Default 1.\n"
	  "selector:meta.LabelSelector:Selects the pods; must match the template's labels; immutable.\n"
	  "template:core.PodTemplateSpec:The pods to create.\n"
	  "strategy:apps.DeploymentStrategy:How old pods are replaced by new ones.\n"
	  "minReadySeconds:integer:Seconds a new pod must be ready to count as available.\n"
	  "revisionHistoryLimit:integer:Old ReplicaSets kept for rollback. Default 10.\n"
	  "paused:boolean:Pause the rollout.\n"
	  "progressDeadlineSeconds:integer:Seconds before a stalled rollout is reported. Default 600.\n" },
	{ "apps.DeploymentStrategy", "How a deployment replaces pods.",
	  "type:string:Recreate or RollingUpdate. Default RollingUpdate.\n"
	  "rollingUpdate:apps.RollingUpdateDeployment:Parameters of a rolling update.\n" },
	{ "apps.RollingUpdateDeployment", "Parameters of a rolling update.",
	  "maxUnavailable:int-or-string:Pods that may be unavailable during the update. Default 25%.\n"
	  "maxSurge:int-or-string:Pods that may be created above the desired count. Default 25%.\n" },
	{ "apps.DeploymentStatus", "Observed state of a deployment.",
	  "observedGeneration:integer:Generation observed by the controller.\n"
	  "replicas:integer:Pods targeted by the deployment.\n"
	  "updatedReplicas:integer:Pods with the current template.\n"
	  "readyReplicas:integer:Ready pods.\n"
	  "availableReplicas:integer:Available pods.\n"
	  "unavailableReplicas:integer:Unavailable pods.\n"
	  "conditions:[]object@type:Progressing and Available conditions.\n" },
	{ "apps.ReplicaSet", "Keeps a number of identical pods running.",
	  TM OM
	  "spec:apps.ReplicaSetSpec:Desired behaviour.\n"
	  "status:apps.ReplicaSetStatus:Most recently observed status.\n" },
	{ "apps.ReplicaSetSpec", "Specification of a ReplicaSet.",
	  "replicas:integer:Desired number of pods. Default 1.\n"
	  "selector:meta.LabelSelector:Selects the pods; must match the template's labels.\n"
	  "template:core.PodTemplateSpec:The pods to create.\n"
	  "minReadySeconds:integer:Seconds a new pod must be ready to count as available.\n" },
	{ "apps.ReplicaSetStatus", "Observed state of a ReplicaSet.",
	  "replicas:integer:Pods observed.\n"
	  "readyReplicas:integer:Ready pods.\n"
	  "availableReplicas:integer:Available pods.\n"
	  "observedGeneration:integer:Generation observed by the controller.\n" },
	{ "apps.DaemonSet", "Runs a pod on every (selected) node.",
	  TM OM "spec:apps.DaemonSetSpec:Desired behaviour.\n"
		"status:object:Most recently observed status.\n" },
	{ "apps.DaemonSetSpec", "Specification of a DaemonSet.",
	  "selector:meta.LabelSelector:Selects the pods; must match the template's labels.\n"
	  "template:core.PodTemplateSpec:The pods to create.\n"
	  "updateStrategy:object:How pods are replaced on update.\n"
	  "minReadySeconds:integer:Seconds a new pod must be ready to count as available.\n"
	  "revisionHistoryLimit:integer:Old histories kept. Default 10.\n" },
	{ "apps.StatefulSet", "Pods with stable identities and storage.",
	  TM OM "spec:apps.StatefulSetSpec:Desired behaviour.\n"
		"status:object:Most recently observed status.\n" },
	{ "apps.StatefulSetSpec", "Specification of a StatefulSet.",
	  "replicas:integer:Desired number of pods. Default 1.\n"
	  "selector:meta.LabelSelector:Selects the pods; must match the template's labels.\n"
	  "template:core.PodTemplateSpec:The pods to create.\n"
	  "serviceName:string:Headless service governing the set.\n"
	  "podManagementPolicy:string:OrderedReady or Parallel.\n"
	  "updateStrategy:object:How pods are replaced on update.\n"
	  "volumeClaimTemplates:[]object:Claims each pod gets.\n"
	  "revisionHistoryLimit:integer:Old revisions kept. Default 10.\n" },
	{ "apps.ControllerRevision",
	  "An immutable snapshot of a DaemonSet's or StatefulSet's template, for rollout history.",
	  TM OM "data:object:The state at this revision (a patch of the owner's spec.template).\n"
		"revision:integer:The revision number; higher is newer.\n" },
	/* batch */
	{ "batch.Job", "A task run by pods to completion.",
	  TM OM "spec:batch.JobSpec:Desired behaviour.\n"
		"status:batch.JobStatus:Most recently observed status.\n" },
	{ "batch.JobSpec", "Specification of a job.",
	  "parallelism:integer:Pods running at once. Default 1.\n"
	  "completions:integer:Successful pods needed. Default 1.\n"
	  "backoffLimit:integer:Retries before the job fails. Default 6.\n"
	  "activeDeadlineSeconds:integer:Seconds the job may run.\n"
	  "ttlSecondsAfterFinished:integer:Seconds a finished job is kept.\n"
	  "selector:meta.LabelSelector:Selects the pods; generated by default.\n"
	  "manualSelector:boolean:Use the given selector instead of a generated one.\n"
	  "template:core.PodTemplateSpec:The pods to run; restartPolicy Never or OnFailure.\n"
	  "completionMode:string:NonIndexed or Indexed.\n"
	  "suspend:boolean:Suspend the job.\n" },
	{ "batch.JobStatus", "Observed state of a job.",
	  "active:integer:Running pods.\n"
	  "succeeded:integer:Pods that succeeded.\n"
	  "failed:integer:Pods that failed.\n"
	  "startTime:time:When the job started.\n"
	  "completionTime:time:When the job completed.\n"
	  "conditions:[]object@type:Complete, Failed and Suspended conditions.\n" },
	/* discovery, networking, coordination */
	{ "discovery.EndpointSlice", "A subset of the endpoints of a service.",
	  TM OM "addressType:string:IPv4, IPv6 or FQDN.\n"
		"endpoints:[]discovery.Endpoint:Endpoints in this slice.\n"
		"ports:[]object:Ports of the endpoints.\n" },
	{ "discovery.Endpoint", "One backend of a service.",
	  "addresses:[]string:Addresses of the endpoint.\n"
	  "conditions:object:ready, serving and terminating.\n"
	  "hostname:string:Hostname of the endpoint.\n"
	  "nodeName:string:Node hosting the endpoint.\n"
	  "targetRef:core.ObjectReference:The pod behind the endpoint.\n"
	  "zone:string:Zone of the endpoint.\n" },
	{ "networking.NetworkPolicy",
	  "Which traffic pods may send and receive.",
	  TM OM "spec:networking.NetworkPolicySpec:Desired behaviour.\n" },
	{ "networking.NetworkPolicySpec", "Specification of a network policy.",
	  "podSelector:meta.LabelSelector:Pods the policy applies to; empty selects all.\n"
	  "ingress:[]object:Allowed incoming traffic.\n"
	  "egress:[]object:Allowed outgoing traffic.\n"
	  "policyTypes:[]string:Ingress and/or Egress.\n" },
	{ "coordination.Lease",
	  "A lease, for leader election and node heartbeats.",
	  TM OM "spec:coordination.LeaseSpec:Specification of the lease.\n" },
	{ "coordination.LeaseSpec", "Specification of a lease.",
	  "holderIdentity:string:Current holder.\n"
	  "leaseDurationSeconds:integer:Seconds candidates wait before taking over.\n"
	  "acquireTime:string:When the current holder acquired the lease.\n"
	  "renewTime:string:When the holder last renewed the lease.\n"
	  "leaseTransitions:integer:Number of holder changes.\n" },
	/* rbac */
	{ "rbac.Role", "Namespaced permissions.",
	  TM OM "rules:[]rbac.PolicyRule:The permissions.\n" },
	{ "rbac.ClusterRole", "Cluster-wide permissions.",
	  TM OM
	  "rules:[]rbac.PolicyRule:The permissions.\n"
	  "aggregationRule:object:Roles whose rules are aggregated into this one.\n" },
	{ "rbac.PolicyRule", "Verbs allowed on resources.",
	  "apiGroups:[]string:API groups of the resources.\n"
	  "resources:[]string:Resources the rule applies to.\n"
	  "resourceNames:[]string:Names the rule is restricted to.\n"
	  "verbs:[]string:Allowed verbs.\n"
	  "nonResourceURLs:[]string:Non-resource URLs.\n" },
	{ "rbac.RoleBinding", "Grants a role to subjects in a namespace.",
	  TM OM "subjects:[]rbac.Subject:Who gets the role.\n"
		"roleRef:rbac.RoleRef:The role granted; immutable.\n" },
	{ "rbac.ClusterRoleBinding", "Grants a cluster role to subjects.",
	  TM OM "subjects:[]rbac.Subject:Who gets the role.\n"
		"roleRef:rbac.RoleRef:The role granted; immutable.\n" },
	{ "rbac.Subject", "A user, group or service account.",
	  "kind:string:User, Group or ServiceAccount.\n"
	  "name:string:Name of the subject.\n"
	  "namespace:string:Namespace of a service account.\n"
	  "apiGroup:string:API group of the subject.\n" },
	{ "rbac.RoleRef", "The role a binding grants.",
	  "apiGroup:string:API group of the role.\n"
	  "kind:string:Role or ClusterRole.\n"
	  "name:string:Name of the role.\n" },
};

static const struct {
	const char *short_prefix, *full;
} prefixes[] = {
	{ "meta.", "io.k8s.apimachinery.pkg.apis.meta.v1." },
	{ "core.", "io.k8s.api.core.v1." },
	{ "apps.", "io.k8s.api.apps.v1." },
	{ "batch.", "io.k8s.api.batch.v1." },
	{ "discovery.", "io.k8s.api.discovery.v1." },
	{ "networking.", "io.k8s.api.networking.v1." },
	{ "coordination.", "io.k8s.api.coordination.v1." },
	{ "rbac.", "io.k8s.api.rbac.v1." },
};

static void full_name(const char *s, size_t n, char *buf, size_t size)
{
	size_t i;

	for (i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++) {
		size_t pl = strlen(prefixes[i].short_prefix);

		if (n > pl && !strncmp(s, prefixes[i].short_prefix, pl)) {
			snprintf(buf, size, "%s%.*s", prefixes[i].full,
				 (int)(n - pl), s + pl);
			return;
		}
	}
	snprintf(buf, size, "%.*s", (int)n, s);
}

static struct json_object *ref(const char *def, size_t n)
{
	struct json_object *o = json_object_new_object(), *all, *r;
	char name[160], path[200];

	full_name(def, n, name, sizeof(name));
	snprintf(path, sizeof(path), "#/components/schemas/%s", name);
	r = json_object_new_object();
	berth_json_set_str(r, "$ref", path);
	all = json_object_new_array();
	json_object_array_add(all, r);
	json_object_object_add(o, "allOf", all);
	return o;
}

static struct json_object *type_schema(const char *t, size_t n)
{
	struct json_object *o;

#define IS(s) (n == strlen(s) && !strncmp(t, s, n))
	if (IS("string") || IS("integer") || IS("boolean") || IS("number")) {
		o = json_object_new_object();
		json_object_object_add(o, "type",
				       json_object_new_string_len(t, (int)n));
		if (IS("integer"))
			berth_json_set_str(o, "format", "int64");
		return o;
	}
	o = json_object_new_object();
	if (IS("time")) {
		berth_json_set_str(o, "type", "string");
		berth_json_set_str(o, "format", "date-time");
	} else if (IS("int-or-string")) {
		json_object_object_add(o, "x-kubernetes-int-or-string",
				       json_object_new_boolean(true));
	} else if (IS("map") || IS("map<quantity>")) {
		struct json_object *ap = json_object_new_object();

		berth_json_set_str(o, "type", "object");
		if (IS("map")) {
			berth_json_set_str(ap, "type", "string");
		} else {
			json_object_object_add(ap, "x-kubernetes-int-or-string",
					       json_object_new_boolean(true));
		}
		json_object_object_add(o, "additionalProperties", ap);
	} else if (IS("object")) {
		berth_json_set_str(o, "type", "object");
		json_object_object_add(o,
				       "x-kubernetes-preserve-unknown-fields",
				       json_object_new_boolean(true));
	} else if (n > 2 && !strncmp(t, "[]", 2)) {
		const char *at = memchr(t, '@', n);
		size_t en = at ? (size_t)(at - t) - 2 : n - 2;

		berth_json_set_str(o, "type", "array");
		json_object_object_add(o, "items", type_schema(t + 2, en));
		if (at) {
			json_object_object_add(
				o, "x-kubernetes-patch-merge-key",
				json_object_new_string_len(
					at + 1, (int)(n - (at + 1 - t))));
			berth_json_set_str(o, "x-kubernetes-patch-strategy",
					   "merge");
		}
	} else {
		json_object_put(o);
		o = ref(t, n);
	}
#undef IS
	return o;
}

static struct json_object *def_schema(const struct def *d)
{
	struct json_object *s = json_object_new_object(), *props;
	const char *p = d->fields;

	berth_json_set_str(s, "description", d->description);
	berth_json_set_str(s, "type", "object");
	props = json_object_new_object();
	while (*p) {
		const char *nl = strchr(p, '\n'), *c1 = strchr(p, ':');
		const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
		struct json_object *f;
		char name[64];

		if (!nl || !c1 || !c2 || c2 > nl)
			break;
		snprintf(name, sizeof(name), "%.*s", (int)(c1 - p), p);
		f = type_schema(c1 + 1, c2 - c1 - 1);
		json_object_object_add(
			f, "description",
			json_object_new_string_len(c2 + 1, (int)(nl - c2 - 1)));
		json_object_object_add(props, name, f);
		p = nl + 1;
	}
	json_object_object_add(s, "properties", props);
	return s;
}

static const char *const mutating[] = { "post", "put", "patch", NULL };

static struct json_object *param(const char *name, const char *desc)
{
	struct json_object *p = json_object_new_object(), *s;

	berth_json_set_str(p, "name", name);
	berth_json_set_str(p, "in", "query");
	berth_json_set_str(p, "description", desc);
	s = json_object_new_object();
	berth_json_set_str(s, "type", "string");
	json_object_object_add(p, "schema", s);
	return p;
}

/* Path templating parameters must be declared (OpenAPI 3.0, "Path Templating"). */
static struct json_object *path_params(const struct berth_resource *r,
				       bool item)
{
	static const char *const names[] = { "namespace", "name" };
	struct json_object *a = json_object_new_array(), *p, *s;
	size_t i;

	for (i = r->namespaced ? 0 : 1; i < (item ? 2u : 1u); i++) {
		p = json_object_new_object();
		berth_json_set_str(p, "name", names[i]);
		berth_json_set_str(p, "in", "path");
		json_object_object_add(p, "required",
				       json_object_new_boolean(true));
		s = json_object_new_object();
		berth_json_set_str(s, "type", "string");
		json_object_object_add(p, "schema", s);
		json_object_array_add(a, p);
	}
	return a;
}

/* The body of a post/put (the object) or of a patch (by its type). */
static struct json_object *request_body(const char *verb, const char *schema)
{
	static const char *const patch_types[] = {
		"application/merge-patch+json",
		"application/strategic-merge-patch+json",
		"application/json-patch+json",
	};
	struct json_object *b = json_object_new_object(), *content, *ct, *s;
	size_t i;

	content = json_object_new_object();
	if (strcmp(verb, "patch")) {
		ct = json_object_new_object();
		json_object_object_add(ct, "schema",
				       ref(schema, strlen(schema)));
		json_object_object_add(content, "application/json", ct);
	} else {
		for (i = 0; i < 3; i++) {
			ct = json_object_new_object();
			s = json_object_new_object();
			berth_json_set_str(s, "type",
					   i == 2 ? "array" : "object");
			json_object_object_add(ct, "schema", s);
			json_object_object_add(content, patch_types[i], ct);
		}
	}
	json_object_object_add(b, "content", content);
	json_object_object_add(b, "required", json_object_new_boolean(true));
	return b;
}

static struct json_object *gvk(const struct berth_resource *r)
{
	struct json_object *o = json_object_new_object();

	berth_json_set_str(o, "group", r->group);
	berth_json_set_str(o, "version", r->version);
	berth_json_set_str(o, "kind", r->kind);
	return o;
}

static struct json_object *operation(const struct berth_resource *r,
				     const char *verb, const char *action,
				     const char *schema)
{
	struct json_object *op = json_object_new_object(), *params, *resp, *ok,
			   *content, *ct;
	char id[160];
	int i;

	snprintf(id, sizeof(id), "%s%s", verb, r->kind);
	berth_json_set_str(op, "operationId", id);
	berth_json_set_str(op, "x-kubernetes-action", action);
	json_object_object_add(op, "x-kubernetes-group-version-kind", gvk(r));
	params = json_object_new_array();
	for (i = 0; mutating[i]; i++) {
		if (strcmp(verb, mutating[i]))
			continue;
		json_object_array_add(
			params,
			param("dryRun",
			      "When present, changes are not persisted (All)."));
		json_object_array_add(
			params, param("fieldManager",
				      "Name of the actor making the change."));
		json_object_array_add(
			params,
			param("fieldValidation",
			      "Ignore, Warn or Strict handling of unknown fields."));
		json_object_object_add(op, "requestBody",
				       request_body(verb, schema));
	}
	if (!strcmp(action, "list") || !strcmp(action, "watch")) {
		json_object_array_add(params, param("labelSelector",
						    "Label selector."));
		json_object_array_add(params, param("fieldSelector",
						    "Field selector."));
		json_object_array_add(
			params, param("limit", "Maximum number of items."));
		json_object_array_add(
			params, param("continue",
				      "Continue token of a previous page."));
		json_object_array_add(params,
				      param("resourceVersion",
					    "Resource version to start from."));
		json_object_array_add(params,
				      param("watch", "Watch for changes."));
	}
	json_object_object_add(op, "parameters", params);
	resp = json_object_new_object();
	ok = json_object_new_object();
	berth_json_set_str(ok, "description", "OK");
	content = json_object_new_object();
	ct = json_object_new_object();
	json_object_object_add(ct, "schema", ref(schema, strlen(schema)));
	json_object_object_add(content, "application/json", ct);
	json_object_object_add(ok, "content", content);
	json_object_object_add(resp, "200", ok);
	json_object_object_add(op, "responses", resp);
	return op;
}

/* core.Pod for a resource (its kind in its group's short prefix). */
static void short_def(const struct berth_resource *r, char *buf, size_t size)
{
	const char *g = r->group;
	char p[64];

	if (!*g)
		snprintf(p, sizeof(p), "core");
	else
		snprintf(p, sizeof(p), "%.*s", (int)strcspn(g, "."), g);
	snprintf(buf, size, "%s.%s", p, r->kind);
}

static void add_paths(struct json_object *paths, const struct berth_resource *r)
{
	char base[160], item[200], def[96], gv[96];
	struct json_object *coll = json_object_new_object(),
			   *one = json_object_new_object();

	berth_resource_api_version(r, gv, sizeof(gv));
	snprintf(base, sizeof(base), "/%s/%s%s/%s", *r->group ? "apis" : "api",
		 gv, r->namespaced ? "/namespaces/{namespace}" : "", r->name);
	snprintf(item, sizeof(item), "%s/{name}", base);
	short_def(r, def, sizeof(def));
	json_object_object_add(coll, "get", operation(r, "list", "list", def));
	json_object_object_add(coll, "post", operation(r, "post", "post", def));
	json_object_object_add(coll, "delete",
			       operation(r, "delete", "deletecollection",
					 "meta.Status"));
	json_object_object_add(one, "get", operation(r, "get", "get", def));
	json_object_object_add(one, "put", operation(r, "put", "put", def));
	json_object_object_add(one, "patch",
			       operation(r, "patch", "patch", def));
	json_object_object_add(one, "delete",
			       operation(r, "delete", "delete", def));
	json_object_object_add(coll, "parameters", path_params(r, false));
	json_object_object_add(one, "parameters", path_params(r, true));
	json_object_object_add(paths, base, coll);
	json_object_object_add(paths, item, one);
}

static struct json_object *group_doc(const char *group, const char *version)
{
	struct json_object *doc = json_object_new_object(), *info, *paths,
			   *comp, *schemas, *s, *ext;
	char name[160], def[96];
	size_t i;

	berth_json_set_str(doc, "openapi", "3.0.0");
	info = json_object_new_object();
	berth_json_set_str(info, "title", "Kubernetes (berth)");
	berth_json_set_str(info, "version", "v1.32.0");
	json_object_object_add(doc, "info", info);
	paths = json_object_new_object();
	schemas = json_object_new_object();
	for (i = 0; i < sizeof(defs) / sizeof(defs[0]); i++) {
		full_name(defs[i].name, strlen(defs[i].name), name,
			  sizeof(name));
		json_object_object_add(schemas, name, def_schema(&defs[i]));
	}
	s = json_object_new_object();
	berth_json_set_str(s, "type", "object");
	berth_json_set_str(s, "description", "Status of an operation.");
	json_object_object_add(
		schemas, "io.k8s.apimachinery.pkg.apis.meta.v1.Status", s);
	for (i = 0; i < berth_nresources; i++) {
		const struct berth_resource *r = &berth_resources[i];

		if (strcmp(r->group, group) || strcmp(r->version, version))
			continue;
		add_paths(paths, r);
		short_def(r, def, sizeof(def));
		full_name(def, strlen(def), name, sizeof(name));
		if (!json_object_object_get_ex(schemas, name, &s))
			continue;
		ext = json_object_new_array();
		json_object_array_add(ext, gvk(r));
		json_object_object_add(s, "x-kubernetes-group-version-kind",
				       ext);
	}
	json_object_object_add(doc, "paths", paths);
	comp = json_object_new_object();
	json_object_object_add(comp, "schemas", schemas);
	json_object_object_add(doc, "components", comp);
	return doc;
}

static char *docs[16]; /* per group/version, then the root */
static size_t doc_len[16];
static pthread_once_t docs_once = PTHREAD_ONCE_INIT;

static uint32_t fnv1a(const char *s, size_t n)
{
	uint32_t h = 2166136261u;

	while (n--)
		h = (h ^ (unsigned char)*s++) * 16777619u;
	return h;
}

static void build_docs(void)
{
	struct json_object *root = json_object_new_object(), *paths;
	size_t i;

	paths = json_object_new_object();
	for (i = 0; i < berth_ngroup_versions && i < 15; i++) {
		const struct berth_group_version *gv = &berth_group_versions[i];
		struct json_object *d = group_doc(gv->group, gv->version), *e;
		const char *js = berth_json_str(d, &doc_len[i]);
		char key[128], url[200];

		docs[i] = strdup(js);
		json_object_put(d);
		if (*gv->group)
			snprintf(key, sizeof(key), "apis/%s/%s", gv->group,
				 gv->version);
		else
			snprintf(key, sizeof(key), "api/%s", gv->version);
		snprintf(url, sizeof(url), "/openapi/v3/%s?hash=%08X", key,
			 docs[i] ? fnv1a(docs[i], doc_len[i]) : 0);
		e = json_object_new_object();
		berth_json_set_str(e, "serverRelativeURL", url);
		json_object_object_add(paths, key, e);
	}
	json_object_object_add(root, "paths", paths);
	docs[15] = strdup(berth_json_str(root, &doc_len[15]));
	json_object_put(root);
}

static void send_doc(struct berth_http_resp *resp, size_t i)
{
	if (!docs[i]) {
		berth_resp_error(resp, 500, NULL, "out of memory");
		return;
	}
	berth_resp_text(resp, 200, docs[i]);
	resp->content_type = "application/json";
}

/*
 * /openapi/v2: an empty Swagger 2.0 document. kubectl validates a v1 List
 * (`kubectl get ... -o json | kubectl replace -f -`) against v2 schemas,
 * skipping kinds it finds none for; v3 has the real ones. Protobuf
 * (gnostic's Document: swagger=1, info=2 {title=1, version=2}, paths=8)
 * when asked for, as client-go asks.
 */
static void send_v2(const struct berth_http_req *req,
		    struct berth_http_resp *resp)
{
	static const char pb[] = "\x0a\x03"
				 "2.0"
				 "\x12\x13"
				 "\x0a\x0a"
				 "Kubernetes"
				 "\x12\x05"
				 "v1.32"
				 "\x42\x00";
	const char *accept = berth_http_header(req, "Accept");

	if (accept && strstr(accept, "protobuf")) {
		resp->code = 200;
		resp->body = malloc(sizeof(pb) - 1);
		if (!resp->body) {
			berth_resp_error(resp, 500, NULL, "out of memory");
			return;
		}
		memcpy(resp->body, pb, sizeof(pb) - 1);
		resp->len = sizeof(pb) - 1;
		resp->content_type =
			"application/com.github.proto-openapi.spec.v2.v1.0+protobuf";
		return;
	}
	berth_resp_text(
		resp, 200,
		"{\"swagger\":\"2.0\",\"info\":{\"title\":\"Kubernetes\",\"version\":\"v1.32\"},\"paths\":{},\"definitions\":{}}");
	resp->content_type = "application/json";
}

int berth_openapi_serve(const struct berth_http_req *req,
			struct berth_http_resp *resp, char **segs, int n)
{
	size_t i;

	if (n == 1 && !strcmp(segs[0], "v2")) {
		send_v2(req, resp);
		return 0;
	}
	if (n < 1 || strcmp(segs[0], "v3"))
		return -ENOENT;
	pthread_once(&docs_once, build_docs);
	if (n == 1) {
		send_doc(resp, 15);
		return 0;
	}
	for (i = 0; i < berth_ngroup_versions && i < 15; i++) {
		const struct berth_group_version *gv = &berth_group_versions[i];

		if ((!*gv->group && n == 3 && !strcmp(segs[1], "api") &&
		     !strcmp(segs[2], gv->version)) ||
		    (*gv->group && n == 4 && !strcmp(segs[1], "apis") &&
		     !strcmp(segs[2], gv->group) &&
		     !strcmp(segs[3], gv->version))) {
			send_doc(resp, i);
			return 0;
		}
	}
	return -ENOENT;
}
