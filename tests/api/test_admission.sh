#!/bin/bash
# Admission plugins through real kubectl: NamespaceLifecycle, ServiceAccount,
# LimitRanger, ResourceQuota (with concurrent creates), PodSecurity; each
# refusal is the Status kube-apiserver gives, as kubectl prints it.
source "$(dirname "$0")/lib.sh"
start_server

# err CMD...: run a kubectl that must fail; its stderr
err() {
	local out
	if out=$(k "$@" 2>&1); then
		fail "kubectl $* succeeded: $out"
	fi
	echo "$out"
}

PLAIN='{containers: [{name: c, image: busybox}]}'
pod() { # pod NAME [SPEC]: a pod manifest on stdout
	local spec=${2:-$PLAIN}
	printf 'apiVersion: v1\nkind: Pod\nmetadata: {name: %s}\nspec: %s\n' "$1" "$spec"
}

### NamespaceLifecycle
out=$(err run p -n nowhere --image=busybox)
expect_match "create in a missing namespace" "$out" 'Error from server \(NotFound\): namespaces "nowhere" not found'
for ns in default kube-system kube-public; do
	out=$(err delete namespace $ns)
	expect_match "$ns may not be deleted" "$out" "Error from server \\(Forbidden\\): namespaces \"$ns\" is forbidden: this namespace may not be deleted"
done
k create namespace dying >/dev/null
k create configmap held -n dying >/dev/null
k patch configmap held -n dying --type=merge -p '{"metadata":{"finalizers":["test/hold"]}}' >/dev/null
k delete namespace dying --wait=false >/dev/null
out=$(err create configmap late -n dying)
expect_match "create in a terminating namespace" "$out" 'configmaps "late" is forbidden: unable to create new content in namespace dying because it is being terminated'
k patch configmap held -n dying --type=merge -p '{"metadata":{"finalizers":null}}' >/dev/null

### ServiceAccount
k create namespace sa >/dev/null
for _ in $(seq 50); do k get sa default -n sa >/dev/null 2>&1 && break; sleep 0.1; done
expect_eq "the default ServiceAccount exists in a new namespace" "$(k get sa default -n sa -o name)" "serviceaccount/default"
pod p1 | k apply -n sa -f - >/dev/null
expect_eq "serviceAccountName defaults to default" "$(k get pod p1 -n sa -o jsonpath='{.spec.serviceAccountName}')" default
vol=$(k get pod p1 -n sa -o jsonpath='{.spec.volumes[0].name}')
expect_match "the kube-api-access volume" "$vol" '^kube-api-access-[a-z0-9]{5}$'
expect_eq "its token source" "$(k get pod p1 -n sa -o jsonpath='{.spec.volumes[0].projected.sources[0].serviceAccountToken.path}/{.spec.volumes[0].projected.sources[0].serviceAccountToken.expirationSeconds}')" "token/3607"
expect_eq "its namespace file" "$(k get pod p1 -n sa -o jsonpath='{.spec.volumes[0].projected.sources[2].downwardAPI.items[0].fieldRef.fieldPath}')" "metadata.namespace"
expect_eq "mounted read-only where client libraries look" "$(k get pod p1 -n sa -o jsonpath='{.spec.containers[0].volumeMounts[0].name} {.spec.containers[0].volumeMounts[0].mountPath} {.spec.containers[0].volumeMounts[0].readOnly}')" "$vol /var/run/secrets/kubernetes.io/serviceaccount true"
out=$(pod p2 '{serviceAccountName: robot, containers: [{name: c, image: busybox}]}' | err apply -n sa -f -)
expect_match "a missing ServiceAccount is refused" "$out" 'Error from server \(Forbidden\).*pods "p2" is forbidden: error looking up service account sa/robot: serviceaccount "robot" not found'
out=$(pod p2 '{serviceAccountName: robot, containers: [{name: c, image: busybox}]}' | err apply -n sa --dry-run=server -f -)
expect_match "and so is its dry run" "$out" 'serviceaccount "robot" not found'
k create serviceaccount robot -n sa >/dev/null
pod p2 '{serviceAccountName: robot, containers: [{name: c, image: busybox}]}' | k apply -n sa -f - >/dev/null
expect_eq "once it exists the pod is admitted" "$(k get pod p2 -n sa -o jsonpath='{.spec.serviceAccountName}')" robot
k patch serviceaccount robot -n sa --type=merge -p '{"imagePullSecrets":[{"name":"regcred"}]}' >/dev/null
pod p2b '{serviceAccountName: robot, containers: [{name: c, image: busybox}]}' | k apply -n sa -f - >/dev/null
expect_eq "the account's imagePullSecrets reach the pod" "$(k get pod p2b -n sa -o jsonpath='{.spec.imagePullSecrets[0].name}')" regcred
pod p3 '{automountServiceAccountToken: false, containers: [{name: c, image: busybox}]}' | k apply -n sa -f - >/dev/null
expect_eq "automountServiceAccountToken: false on the pod: no volume" "$(k get pod p3 -n sa -o jsonpath='{.spec.volumes}')" ""
k create serviceaccount quiet -n sa >/dev/null
k patch serviceaccount quiet -n sa --type=merge -p '{"automountServiceAccountToken":false}' >/dev/null
pod p4 '{serviceAccountName: quiet, containers: [{name: c, image: busybox}]}' | k apply -n sa -f - >/dev/null
expect_eq "automountServiceAccountToken: false on the account: no volume" "$(k get pod p4 -n sa -o jsonpath='{.spec.volumes}')" ""
pod p5 '{containers: [{name: c, image: busybox, volumeMounts: [{name: mine, mountPath: /var/run/secrets/kubernetes.io/serviceaccount}]}], volumes: [{name: mine, emptyDir: {}}]}' | k apply -n sa -f - >/dev/null
expect_eq "a pod that mounts the path itself keeps its own" "$(k get pod p5 -n sa -o jsonpath='{.spec.volumes[*].name}')" mine

### LimitRanger
k create namespace lr >/dev/null
k apply -n lr -f - >/dev/null <<'EOY'
apiVersion: v1
kind: LimitRange
metadata: {name: limits}
spec:
  limits:
  - type: Container
    default: {cpu: 500m, memory: 256Mi}
    defaultRequest: {cpu: 200m, memory: 128Mi}
    min: {cpu: 100m}
    max: {cpu: "1", memory: 1Gi}
EOY
pod d1 | k apply -n lr -f - >/dev/null
expect_eq "LimitRange defaults" "$(k get pod d1 -n lr -o jsonpath='{.spec.containers[0].resources.requests.cpu} {.spec.containers[0].resources.requests.memory} {.spec.containers[0].resources.limits.cpu} {.spec.containers[0].resources.limits.memory}')" "200m 128Mi 500m 256Mi"
out=$(pod d2 '{containers: [{name: c, image: busybox, resources: {limits: {cpu: "2"}}}]}' | err apply -n lr -f -)
expect_match "LimitRange max" "$out" 'Error from server \(Forbidden\).*pods "d2" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
out=$(pod d3 '{containers: [{name: c, image: busybox, resources: {requests: {cpu: 50m}}}]}' | err apply -n lr -f -)
expect_match "LimitRange min" "$out" 'pods "d3" is forbidden: minimum cpu usage per Container is 100m, but request is 50m'

k create namespace lrpod >/dev/null
k apply -n lrpod -f - >/dev/null <<'EOY'
apiVersion: v1
kind: LimitRange
metadata: {name: per-pod}
spec:
  limits:
  - type: Pod
    max: {memory: 1Gi}
EOY
two='{containers: [{name: a, image: busybox, resources: {limits: {memory: 600Mi}}}, {name: b, image: busybox, resources: {limits: {memory: 600Mi}}}]}'
out=$(pod big "$two" | err apply -n lrpod -f -)
expect_match "LimitRange of type Pod sums the containers" "$out" 'pods "big" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1200Mi'
out=$(pod nolimit | err apply -n lrpod -f -)
expect_match "and wants every limit" "$out" 'maximum memory usage per Pod is 1Gi.  No limit is specified'

### ResourceQuota
k create namespace rq >/dev/null
# every namespace gets the ConfigMap kube-root-ca.crt (the CA pods verify
# the server with): it counts, as in Kubernetes
for _ in $(seq 100); do
	k get configmap kube-root-ca.crt -n rq >/dev/null 2>&1 && break
	sleep 0.1
done
k apply -n rq -f - >/dev/null <<'EOY'
apiVersion: v1
kind: ResourceQuota
metadata: {name: compute}
spec:
  hard: {pods: "3", requests.cpu: "1", configmaps: "3"}
EOY
for _ in $(seq 50); do
	[ -n "$(k get quota compute -n rq -o jsonpath='{.status.used.pods}')" ] && break
	sleep 0.1
done
expect_eq "the controller fills status" "$(k get quota compute -n rq -o jsonpath='{.status.hard.pods}/{.status.used.pods}')" "3/0"
out=$(err run nocpu -n rq --image=busybox)
expect_match "a quota on requests.cpu needs the request" "$out" 'pods "nocpu" is forbidden: failed quota: compute: must specify requests.cpu'
cpu() { pod "$1" "{containers: [{name: c, image: busybox, resources: {requests: {cpu: $2}}}]}"; }
cpu q1 600m | k apply -n rq -f - >/dev/null
cpu dry 300m | k apply -n rq --dry-run=server -f - >/dev/null
expect_eq "used after one pod (dry run charges nothing)" "$(k get quota compute -n rq -o jsonpath='{.status.used.pods} {.status.used.requests\.cpu}')" "1 600m"
out=$(cpu q2 500m | err apply -n rq -f -)
expect_match "exceeded quota" "$out" 'Error from server \(Forbidden\).*pods "q2" is forbidden: exceeded quota: compute, requested: requests.cpu=500m, used: requests.cpu=600m, limited: requests.cpu=1'
k create configmap c1 -n rq >/dev/null
k create configmap c2 -n rq >/dev/null
out=$(err create configmap c3 -n rq)
expect_match "object count quota" "$out" 'configmaps "c3" is forbidden: exceeded quota: compute, requested: configmaps=1, used: configmaps=3, limited: configmaps=3'
k delete configmap c2 -n rq >/dev/null
for _ in $(seq 100); do
	[ "$(k get quota compute -n rq -o jsonpath='{.status.used.configmaps}')" = 2 ] && break
	sleep 0.1
done
expect_eq "the controller gives back a deleted object's share" "$(k get quota compute -n rq -o jsonpath='{.status.used.configmaps}')" 2
k create configmap c3 -n rq >/dev/null
echo "ok: and the freed unit can be used"

# concurrency: 12 creates racing for 2 remaining pods
k patch quota compute -n rq --type=merge -p '{"spec":{"hard":{"requests.cpu":"100"}}}' >/dev/null
pids=()
for i in $(seq 12); do
	cpu "race$i" 10m | k apply -n rq -f - >"$TMP/race$i.out" 2>&1 &
	pids+=($!)
done
created=0
for i in $(seq 12); do
	if wait "${pids[$((i - 1))]}"; then created=$((created + 1)); fi
done
expect_eq "concurrent creates take exactly the 2 pods left" "$created" 2
expect_eq "pods in the namespace" "$(k get pods -n rq -o name | wc -l)" 3
expect_match "the others were refused by the quota" "$(cat "$TMP"/race*.out)" 'exceeded quota: compute, requested: pods=1, used: pods=3, limited: pods=3'

# kubectl create quota (protobuf) and describe
k create namespace rq2 >/dev/null
k create quota small -n rq2 --hard=pods=1,requests.memory=1Gi >/dev/null
for _ in $(seq 50); do
	[ -n "$(k get quota small -n rq2 -o jsonpath='{.status.used.pods}')" ] && break
	sleep 0.1
done
expect_match "kubectl describe quota" "$(k describe quota small -n rq2)" 'requests.memory +0 +1Gi'
pod m1 '{containers: [{name: c, image: busybox, resources: {requests: {memory: 768Mi}}}]}' | k apply -n rq2 -f - >/dev/null
out=$(pod m2 '{containers: [{name: c, image: busybox, resources: {requests: {memory: 512Mi}}}]}' | err apply -n rq2 -f -)
expect_match "memory in binary units" "$out" 'exceeded quota: small, requested: pods=1,requests.memory=512Mi, used: pods=1,requests.memory=768Mi, limited: pods=1,requests.memory=1Gi'

# two quotas: one that refuses charges neither (small is charged first)
k patch quota small -n rq2 --type=merge -p '{"spec":{"hard":{"pods":"5"}}}' >/dev/null
k create quota zcpu -n rq2 --hard=requests.cpu=1 >/dev/null
out=$(pod m3 '{containers: [{name: c, image: busybox, resources: {requests: {cpu: "2", memory: 1Mi}}}]}' | err apply -n rq2 -f -)
expect_match "the quota that refuses is named" "$out" 'exceeded quota: zcpu, requested: requests.cpu=2, used: requests.cpu=0, limited: requests.cpu=1'
expect_eq "the other quota was not charged" "$(k get quota small -n rq2 -o jsonpath='{.status.used.pods} {.status.used.requests\.memory}')" "1 768Mi"

# count/<resource>.<group>: any namespaced kind
k create quota objects -n rq2 --hard=count/deployments.apps=1 >/dev/null
k create deployment one -n rq2 --image=busybox --replicas=0 >/dev/null
out=$(err create deployment two -n rq2 --image=busybox --replicas=0)
expect_match "count/deployments.apps" "$out" 'deployments.apps "two" is forbidden: exceeded quota: objects, requested: count/deployments.apps=1, used: count/deployments.apps=1, limited: count/deployments.apps=1'

# scopes: a BestEffort quota counts only pods without requests or limits
k create namespace rq3 >/dev/null
k create quota besteffort -n rq3 --hard=pods=1 --scopes=BestEffort >/dev/null
pod be1 | k apply -n rq3 -f - >/dev/null
out=$(pod be2 | err apply -n rq3 -f -)
expect_match "a scoped quota counts the pods it selects" "$out" 'exceeded quota: besteffort, requested: pods=1, used: pods=1, limited: pods=1'
pod burst '{containers: [{name: c, image: busybox, resources: {requests: {cpu: 10m}}}]}' | k apply -n rq3 -f - >/dev/null
echo "ok: and not the others"

### PodSecurity
k create namespace restricted >/dev/null
k label namespace restricted pod-security.kubernetes.io/enforce=restricted pod-security.kubernetes.io/enforce-version=latest >/dev/null
out=$(k run bad -n restricted --image=nginx 2>&1) && fail "restricted admitted a default pod"
expect_eq "restricted: the upstream message" "$out" 'Error from server (Forbidden): pods "bad" is forbidden: violates PodSecurity "restricted:latest": allowPrivilegeEscalation != false (container "bad" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container "bad" must set securityContext.capabilities.drop=["ALL"]), runAsNonRoot != true (pod or container "bad" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container "bad" must set securityContext.seccompProfile.type to "RuntimeDefault" or "Localhost")'
pod good '{securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}, containers: [{name: c, image: busybox, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [NET_BIND_SERVICE]}}}]}' | k apply -n restricted -f - >/dev/null
echo "ok: restricted admits a compliant pod"
out=$(pod vol '{securityContext: {runAsNonRoot: true, seccompProfile: {type: RuntimeDefault}}, containers: [{name: c, image: busybox, securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL], add: [SYS_TIME]}}}], volumes: [{name: h, hostPath: {path: /tmp}}]}' | err apply -n restricted -f -)
expect_match "restricted: volumes and capabilities" "$out" 'violates PodSecurity "restricted:latest": unrestricted capabilities \(container "c" must not include "SYS_TIME" in securityContext.capabilities.add\), hostPath volumes \(volume "h"\), restricted volume types \(volume "h" uses restricted volume type "hostPath"\)'

k create namespace baseline >/dev/null
k label namespace baseline pod-security.kubernetes.io/enforce=baseline pod-security.kubernetes.io/warn=restricted >/dev/null
out=$(k run plain -n baseline --image=nginx 2>&1) || fail "baseline refused a plain pod: $out"
expect_match "warn=restricted: a Warning kubectl prints" "$out" '^Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false'
out=$(pod host '{hostNetwork: true, hostPID: true, containers: [{name: c, image: busybox, securityContext: {privileged: true, procMount: Unmasked, capabilities: {add: [NET_ADMIN]}}, ports: [{containerPort: 80, hostPort: 8080}]}], securityContext: {sysctls: [{name: kernel.msgmax, value: "1"}, {name: net.ipv4.tcp_syncookies, value: "1"}]}}' | err apply -n baseline -f -)
expect_match "baseline: every check named" "$out" 'pods "host" is forbidden: violates PodSecurity "baseline:latest": non-default capabilities \(container "c" must not include "NET_ADMIN" in securityContext.capabilities.add\), host namespaces \(hostNetwork=true, hostPID=true\), hostPort \(container "c" uses hostPort 8080\), privileged \(container "c" must not set securityContext.privileged=true\), procMount \(container "c" must not set securityContext.procMount to "Unmasked"\), forbidden sysctls \(kernel.msgmax\)$'

k create namespace open >/dev/null
k label namespace open pod-security.kubernetes.io/enforce=privileged >/dev/null
pod host '{hostNetwork: true, containers: [{name: c, image: busybox, securityContext: {privileged: true}}]}' | k apply -n open -f - >/dev/null
echo "ok: privileged admits a privileged pod"

# namespace labels: checked, and a new enforce level names the pods it would refuse
out=$(err label namespace open pod-security.kubernetes.io/warn=strict)
expect_match "a bad level is refused" "$out" 'namespaces "open" is forbidden: metadata.labels\[pod-security.kubernetes.io/warn\]: Invalid value: "strict": must be one of privileged, baseline, restricted'
out=$(k label namespace open pod-security.kubernetes.io/enforce=baseline --overwrite 2>&1)
expect_match "a stricter enforce level warns" "$out" '^Warning: existing pods in namespace "open" violate the new PodSecurity enforce level "baseline:latest"'
expect_match "naming each pod and its checks" "$out" 'Warning: host: host namespaces, privileged'
# a workload is admitted with a warning: its pods are what enforce refuses
out=$(k create deployment web -n restricted --image=nginx 2>&1) || fail "a deployment was refused: $out"
expect_match "a workload's template warns" "$out" '^Warning: would violate PodSecurity "restricted:latest": allowPrivilegeEscalation != false \(container "nginx"'

# the raw Status: 403, reason Forbidden, details naming the pod
out=$(curl_api -s -X POST -H 'Content-Type: application/json' "$SERVER_URL/api/v1/namespaces/restricted/pods" \
	-d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"raw"},"spec":{"containers":[{"name":"c","image":"busybox"}]}}')
expect_match "a Status with code 403" "$out" '"code": ?403'
expect_match "reason Forbidden" "$out" '"reason": ?"Forbidden"'
expect_match "details name the pod" "$out" '"name": ?"raw"'
echo PASS
