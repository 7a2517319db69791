#!/bin/bash
# kubectl against berth-server: apply of a multi-document file, the get
# variants, describe, patches, label/annotate, re-apply after a change,
# scale, create, delete --wait, api-resources, explain, version.
. "$(dirname "$0")/lib.sh"
start_server

cat >"$TMP/app.yaml" <<'YAML'
apiVersion: v1
kind: Namespace
metadata:
  name: demo
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: demo
  labels: {app: web}
data:
  greeting: hello
---
apiVersion: v1
kind: Secret
metadata:
  name: web-secret
  namespace: demo
stringData:
  password: s3cret
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: nginx
        image: nginx:1.25
        ports:
        - containerPort: 80
        env:
        - {name: A, value: "1"}
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  selector: {app: web}
  ports:
  - {name: http, port: 80, targetPort: 80}
YAML

out=$(k apply -f "$TMP/app.yaml")
expect_match "apply created all five" "$out" 'deployment.apps/web created'
expect_eq "apply: 5 lines" "$(wc -l <<<"$out")" 5

out=$(k get deploy -n demo)
expect_match "get deploy columns" "$out" '^NAME +READY +UP-TO-DATE +AVAILABLE +AGE'
# no nodes: the Deployment's pods are made but stay Pending
expect_match "get deploy row" "$out" '^web +0/2 +[0-2] +0 '
out=$(k get deploy -n demo -o wide)
expect_match "get -o wide" "$out" 'nginx:1.25 +app=web'
out=$(k get svc web -n demo)
expect_match "service has a ClusterIP" "$out" '^web +ClusterIP +10\.(9[6-9]|1[01][0-9])\.[0-9]+\.[0-9]+ +<none> +80/TCP'
expect_eq "secret data from stringData" \
	"$(k get secret web-secret -n demo -o jsonpath='{.data.password}' | base64 -d)" s3cret
out=$(k get cm web-config -n demo -o json)
expect_eq "get -o json" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["data"]["greeting"])' <<<"$out")" hello
expect_match "get -o yaml" "$(k get cm web-config -n demo -o yaml)" '^  greeting: hello$'
expect_eq "pod template defaulted" \
	"$(k get deploy web -n demo -o jsonpath='{.spec.template.spec.restartPolicy}/{.spec.template.spec.containers[0].imagePullPolicy}/{.spec.strategy.type}')" \
	"Always/IfNotPresent/RollingUpdate"
expect_eq "get -l" "$(k get cm -A -l app=web -o name)" "configmap/web-config"
expect_eq "get -l set-based" "$(k get cm -n demo -l 'app in (web,api)' -o name)" "configmap/web-config"
expect_eq "get -l no match" "$(k get cm -n demo -l 'app,app notin (web)' -o name)" ""
expect_eq "--field-selector" "$(k get ns --field-selector metadata.name=demo -o name)" "namespace/demo"
out=$(k get svc -A)
expect_match "get -A: kubernetes service" "$out" '^default +kubernetes +ClusterIP +10\.96\.0\.1 '
expect_match "get -A: demo service" "$out" '^demo +web '

out=$(k describe deploy web -n demo)
expect_match "describe" "$out" 'Replicas: +2 desired'
out=$(k describe svc web -n demo)
expect_match "describe svc" "$out" 'Selector: +app=web'

# change and apply again: three-way merge through the last-applied annotation
sed 's/replicas: 2/replicas: 3/; s/value: "1"/value: "2"/' "$TMP/app.yaml" >"$TMP/app2.yaml"
out=$(k apply -f "$TMP/app2.yaml")
expect_match "re-apply configures the deployment" "$out" 'deployment.apps/web configured'
expect_match "re-apply leaves the namespace" "$out" 'namespace/demo unchanged'
expect_eq "re-apply took" "$(k get deploy web -n demo -o jsonpath='{.spec.replicas} {.spec.template.spec.containers[0].env[0].value} {.metadata.generation}')" "3 2 2"

k scale deploy web -n demo --replicas=5 >/dev/null
expect_eq "scale" "$(k get deploy web -n demo -o jsonpath='{.spec.replicas}')" 5
k label deploy web -n demo tier=front >/dev/null
k annotate deploy web -n demo note=hi >/dev/null
expect_eq "label + annotate" "$(k get deploy web -n demo -o jsonpath='{.metadata.labels.tier} {.metadata.annotations.note}')" "front hi"

k patch deploy web -n demo -p '{"spec":{"template":{"spec":{"containers":[{"name":"nginx","image":"nginx:1.26"}]}}}}' >/dev/null
expect_eq "strategic patch merges containers by name" \
	"$(k get deploy web -n demo -o jsonpath='{.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[0].name}')" "nginx:1.26 A"
k patch deploy web -n demo --type=merge -p '{"metadata":{"labels":{"tier":null,"m":"x"}}}' >/dev/null
expect_eq "merge patch" "$(k get deploy web -n demo -o jsonpath='{.metadata.labels}')" '{"app":"web","m":"x"}'
k patch deploy web -n demo --type=json -p '[{"op":"replace","path":"/spec/replicas","value":1}]' >/dev/null
expect_eq "json patch" "$(k get deploy web -n demo -o jsonpath='{.spec.replicas}')" 1
out=$(k patch deploy web -n demo --type=json -p '[{"op":"test","path":"/spec/replicas","value":7}]' 2>&1 || true)
expect_match "failed json patch test is an error" "$out" 'invalid: testing value /spec/replicas failed'

k create namespace other >/dev/null
k create configmap cfg -n other --from-literal=a=b >/dev/null
k create secret generic sec -n other --from-literal=x=y >/dev/null
# (kube-root-ca.crt: every namespace's, the CA pods verify the server with)
expect_eq "create namespace/configmap/secret" "$(k get cm,secret -n other -o name | grep -v kube-root-ca.crt | sort | tr '\n' ' ')" "configmap/cfg secret/sec "
out=$(k create configmap cfg -n other --from-literal=a=b 2>&1 || true)
expect_match "create again: AlreadyExists" "$out" 'configmaps "cfg" already exists'
out=$(k create configmap x -n nowhere --from-literal=a=b 2>&1 || true)
expect_match "create in a missing namespace" "$out" 'namespaces "nowhere" not found'

# typed clients send protobuf bodies
k run p1 -n other --image=nginx:1.25 --port=80 --env=A=B --labels=app=p1 -- sleep 10 >/dev/null
expect_eq "kubectl run" "$(k get pod p1 -n other -o jsonpath='{.spec.containers[0].image} {.spec.containers[0].ports[0].containerPort} {.spec.containers[0].env[0].value} {.spec.containers[0].args[1]} {.status.phase}')" \
	"nginx:1.25 80 B 10 Pending"
expect_match "get pods -o wide" "$(k get pods -n other -o wide)" '^p1 +0/1 +Pending +0 +[0-9]+s +<none> +<none> +<none> +<none>$'
k create deployment d1 -n other --image=nginx --replicas=3 >/dev/null
expect_eq "create deployment" "$(k get deploy d1 -n other -o jsonpath='{.spec.replicas} {.spec.selector.matchLabels.app} {.spec.template.spec.containers[0].name}')" "3 d1 nginx"
k create service nodeport s2 -n other --tcp=81:http --node-port=30111 >/dev/null
expect_eq "create service nodeport" "$(k get svc s2 -n other -o jsonpath='{.spec.type} {.spec.ports[0].nodePort} {.spec.ports[0].targetPort}')" "NodePort 30111 http"
k create job j1 -n other --image=busybox -- echo hi >/dev/null
expect_eq "create job" "$(k get job j1 -n other -o jsonpath='{.spec.template.spec.containers[0].command[1]} {.spec.template.spec.restartPolicy} {.spec.backoffLimit}')" "hi Never 6"
k create serviceaccount robot -n other >/dev/null
expect_eq "create serviceaccount" "$(k get sa robot -n other -o name)" "serviceaccount/robot"

out=$(k delete cm cfg -n other --wait --timeout=20s)
expect_match "delete --wait" "$out" 'configmap "cfg" deleted'
expect_eq "deleted" "$(k get cm -n other -o name | grep -v kube-root-ca.crt || true)" ""
k delete ns other --wait --timeout=20s >/dev/null
expect_eq "namespace delete removes its objects" "$(k get secret -A -o name)" "secret/web-secret"

out=$(k api-resources)
expect_match "api-resources: deployments" "$out" '^deployments +deploy +apps/v1 +true +Deployment'
expect_match "api-resources: nodes" "$out" '^nodes +no +v1 +false +Node'
expect_match "api-resources: csr" "$out" '^certificatesigningrequests +csr +certificates.k8s.io/v1 +false +CertificateSigningRequest'
expect_eq "api-resources count" "$(tail -n +2 <<<"$out" | wc -l)" 25
out=$(k explain pod.spec.containers)
expect_match "explain pod.spec.containers" "$out" 'FIELD: containers <\[\]Container>'
expect_match "explain lists image" "$out" '^  image	<string>'
out=$(k explain deployment.spec.strategy)
expect_match "explain deployment.spec.strategy" "$out" 'rollingUpdate'
out=$(k version -o json)
expect_eq "version" "$(python3 -c 'import json,sys; print(json.load(sys.stdin)["serverVersion"]["minor"])' <<<"$out")" 32

out=$(k apply -f - 2>&1 <<'YAML' || true
apiVersion: v1
kind: ConfigMap
metadata:
  name: bad
  namespace: demo
bogus: 1
YAML
)
expect_match "apply validates unknown fields (strict)" "$out" 'unknown field "bogus"'

# server-side apply: create, repeat (no change), then drop fields
k create namespace ssa >/dev/null
cat >"$TMP/ssa.yaml" <<'YAML'
apiVersion: apps/v1
kind: Deployment
metadata: {name: s, namespace: ssa, labels: {owner: me}}
spec:
  replicas: 2
  selector: {matchLabels: {app: s}}
  template:
    metadata: {labels: {app: s}}
    spec:
      containers:
      - name: c
        image: nginx:1.25
        env: [{name: A, value: "1"}]
YAML
expect_match "apply --server-side creates" "$(k apply --server-side -f "$TMP/ssa.yaml")" 'deployment.apps/s serverside-applied'
# the controllers write the new Deployment's status (ReplicaSet, pods, then
# the replica counts): wait until they are done, so that only the apply
# could change it
rv=
for _ in $(seq 20); do
	prev=$rv
	rv=$(k get deploy s -n ssa -o jsonpath='{.metadata.resourceVersion}')
	[ "$rv" = "$prev" ] && break
	sleep 0.5
done
k apply --server-side -f "$TMP/ssa.yaml" >/dev/null
expect_eq "a repeated apply changes nothing" "$(k get deploy s -n ssa -o jsonpath='{.metadata.resourceVersion}')" "$rv"
expect_eq "managedFields records the manager" "$(k get deploy s -n ssa --show-managed-fields -o jsonpath='{.metadata.managedFields[0].manager}/{.metadata.managedFields[0].operation}')" "kubectl/Apply"
sed -i 's/, labels: {owner: me}//; s/replicas: 2/replicas: 4/; /env:/d' "$TMP/ssa.yaml"
k apply --server-side -f "$TMP/ssa.yaml" >/dev/null
expect_eq "fields no longer applied are removed" \
	"$(k get deploy s -n ssa -o jsonpath='{.spec.replicas} {.metadata.labels.owner}{.spec.template.spec.containers[0].env}')" "4 "

# deleting a namespace is not instant: it is Terminating until emptied. A
# finalizer on one ConfigMap holds it there while we look (else the
# namespace controller may empty it before the next kubectl runs)
k create configmap hold -n demo >/dev/null
k patch configmap hold -n demo --type=merge -p '{"metadata":{"finalizers":["example.com/hold"]}}' >/dev/null
k delete ns demo --wait=false >/dev/null
out=$(k create configmap late -n demo --from-literal=a=b 2>&1 || true)
expect_match "no new content in a Terminating namespace" "$out" 'being terminated'
out=$(k delete -f "$TMP/app2.yaml" --wait=false 2>&1 || true)
expect_match "delete -f after the namespace went Terminating" "$out" 'deployment.apps "web" deleted'
k patch configmap hold -n demo --type=json -p '[{"op":"remove","path":"/metadata/finalizers"}]' >/dev/null
k wait --for=delete namespace/demo --timeout=20s >/dev/null 2>&1 || true
expect_eq "namespace gone" "$(k get ns demo -o name 2>/dev/null || true)" ""
echo PASS
