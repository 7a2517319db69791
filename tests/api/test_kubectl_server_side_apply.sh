#!/bin/bash
# kubectl apply --server-side against berth-server: conflicts between field
# managers, --force-conflicts, kubectl scale's ownership of replicas, the
# removal of fields an applier drops, and managedFields on display.
. "$(dirname "$0")/lib.sh"
start_server

k create namespace ssa >/dev/null
deploy() { # deploy REPLICAS IMAGE [EXTRA-LABEL-LINE]
	cat <<YAML
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: ssa
  labels: {app: web${3:+, $3}}
spec:
  replicas: $1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers:
      - name: c
        image: $2
YAML
}
replicas() { k get deploy web -n ssa -o jsonpath='{.spec.replicas}'; }

deploy 2 nginx:1.25 'tier: front' >"$TMP/a.yaml"
expect_match "first apply creates" "$(k apply --server-side --field-manager=alice -f "$TMP/a.yaml")" 'serverside-applied'

# same values from another manager: shared ownership, no conflict
expect_match "same values co-own" "$(k apply --server-side --field-manager=bob -f "$TMP/a.yaml")" 'serverside-applied'

# bob changes alice's field: conflict naming the field and the owner
deploy 3 nginx:1.25 >"$TMP/b.yaml"
out=$(k apply --server-side --field-manager=bob -f "$TMP/b.yaml" 2>&1) && fail "conflicting apply succeeded: $out"
expect_match "conflict names manager and field" "$out" 'conflict with "alice": \.spec\.replicas'
expect_eq "conflict changes nothing" "$(replicas)" 2

# --force-conflicts: bob takes replicas, alice loses it
expect_match "forced apply wins" "$(k apply --server-side --field-manager=bob --force-conflicts -f "$TMP/b.yaml")" 'serverside-applied'
expect_eq "forced value stored" "$(replicas)" 3
mf=$(k get deploy web -n ssa --show-managed-fields -o json)
owners=$(python3 -c '
import json, sys
o = json.load(sys.stdin)
for e in o["metadata"]["managedFields"]:
    print(e["manager"], e["operation"], "replicas" if "f:replicas" in e["fieldsV1"].get("f:spec", {}) else "-")
' <<<"$mf")
expect_match "bob owns replicas" "$owners" '^bob Apply replicas$'
expect_match "alice no longer does" "$owners" '^alice Apply -$'

# alice re-applies her old value: now she conflicts with bob
out=$(k apply --server-side --field-manager=alice -f "$TMP/a.yaml" 2>&1) && fail "alice's stale apply succeeded: $out"
expect_match "the loser now conflicts" "$out" 'conflict with "bob"'

# alice drops tier (only she applied it): removed; bob's shared app label stays
deploy 3 nginx:1.25 >"$TMP/a2.yaml"
k apply --server-side --field-manager=alice -f "$TMP/a2.yaml" >/dev/null
expect_eq "dropped field removed, co-owned kept" \
	"$(k get deploy web -n ssa -o jsonpath='{.metadata.labels.tier}/{.metadata.labels.app}')" "/web"

# kubectl scale records an Update on /scale; a later apply of replicas conflicts
k scale deploy web -n ssa --replicas=5 >/dev/null
expect_eq "scaled" "$(replicas)" 5
expect_match "scale manager recorded" "$(k get deploy web -n ssa -o yaml --show-managed-fields)" 'subresource: scale'
deploy 4 nginx:1.25 >"$TMP/c.yaml"
out=$(k apply --server-side --field-manager=bob -f "$TMP/c.yaml" 2>&1) && fail "apply over scale succeeded: $out"
expect_match "apply conflicts with scale's manager" "$out" 'conflict with "kubectl" with subresource "scale".*\.spec\.replicas'
out=$(k apply --server-side -f "$TMP/c.yaml" 2>&1) && fail "kubectl's apply over scale succeeded: $out"
expect_match "default manager conflicts too" "$out" '\.spec\.replicas'
k apply --server-side --force-conflicts -f "$TMP/c.yaml" >/dev/null
expect_eq "forced over scale" "$(replicas)" 4

# managedFields are shown on request, hidden by default
out=$(k get deploy web -n ssa -o yaml --show-managed-fields)
expect_match "managedFields shown" "$out" 'managedFields:'
expect_match "FieldsV1 list-map keys" "$out" 'k:\{"name":"c"\}:'
grep -q 'subresource: scale' <<<"$out" && fail "scale still owns something after a forced apply"
echo "ok: forced apply took replicas from scale's manager"
out=$(k get deploy web -n ssa -o yaml)
grep -q managedFields <<<"$out" && fail "managedFields shown without --show-managed-fields"
echo "ok: managedFields hidden by default"

# a non-apply edit (kubectl patch, manager kubectl-patch) owns what it changed
k patch deploy web -n ssa --type=merge -p '{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"nginx:1.26"}]}}}}' >/dev/null
out=$(k apply --server-side --field-manager=bob -f "$TMP/c.yaml" 2>&1) && fail "apply over a patch succeeded: $out"
expect_match "apply conflicts with kubectl-patch" "$out" 'conflict with "kubectl-patch".*image'
# client-side apply, then server-side apply of a change by the same user:
# no conflict with kubectl-client-side-apply (Kubernetes' upgrade path)
cat >"$TMP/csa.yaml" <<'YAML'
apiVersion: v1
kind: ConfigMap
metadata: {name: csa, namespace: ssa}
data: {k: "1"}
YAML
k apply -f "$TMP/csa.yaml" >/dev/null
sed -i 's/k: "1"/k: "2"/' "$TMP/csa.yaml"
expect_match "csa -> ssa upgrade applies" "$(k apply --server-side -f "$TMP/csa.yaml" 2>&1)" 'serverside-applied'
expect_eq "upgraded value" "$(k get cm csa -n ssa -o jsonpath='{.data.k}')" 2
echo PASS
