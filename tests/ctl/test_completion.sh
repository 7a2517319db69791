#!/bin/bash
# berthctl completion bash: the script is sourced into bash and _berthctl
# is called with COMP_WORDS/COMP_CWORD as readline would set them; names
# come from a real berth-server (berthctl get KIND -o name).
set -euo pipefail
# shellcheck source=tests/api/lib.sh
source "$(dirname "$0")/../api/lib.sh"
CTL=${BERTHCTL:-$(cd "$(dirname "$0")/../.." && pwd)/.output/bin/berthctl}
[ -x "$CTL" ] || fail "$CTL is missing (make builds it)"
start_server --controllers none

"$CTL" apply -f - >/dev/null <<'YAML'
apiVersion: v1
kind: Pod
metadata: {name: alpha}
spec: {containers: [{name: c, image: img}]}
---
apiVersion: v1
kind: Pod
metadata: {name: beta}
spec: {containers: [{name: c, image: img}]}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: kcfg, namespace: kube-system}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: img}]}
YAML

script=$("$CTL" completion bash)
bash -n <<<"$script" || fail "the completion script is not valid bash"
# shellcheck disable=SC1090
source <(printf '%s\n' "$script")
complete -p berthctl | grep -q -- '-F _berthctl' || fail "complete -F _berthctl berthctl not registered"
echo "ok: completion script sources, registers _berthctl"

# comp WORD...: the completions for the last word
comp() {
	COMP_WORDS=("$CTL" "$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMPREPLY=()
	_berthctl 2>/dev/null
	echo "${COMPREPLY[*]}"
}
touch "$TMP/manifest-one.yaml"

expect_eq "commands" "$(comp '')" "apply get describe delete logs scale rollout top monitor bpf probe completion"
expect_eq "ro -> rollout" "$(comp ro)" "rollout"
expect_eq "get dep -> deployments" "$(comp get dep)" "deployments"
expect_eq "get pods <names>" "$(comp get pods '')" "alpha beta"
expect_eq "get pods al" "$(comp get pods al)" "alpha"
expect_eq "describe deployments <names>" "$(comp describe deployments '')" "web"
expect_eq "get cm -n kube-system <names>" "$(comp get cm -n kube-system '')" "kcfg"
expect_eq "-n in front: get cm" "$(comp -n kube-system get cm k)" "kcfg"
expect_eq "-n in front: commands" "$(comp -n kube-system de)" "describe delete"
expect_eq "-n <namespaces>" "$(comp get pods -n kube-)" "kube-node-lease kube-public kube-system"
expect_eq "-o <formats>" "$(comp get pods -o '')" "wide json yaml name"
expect_eq "logs <pods>" "$(comp logs b)" "beta"
expect_eq "logs -f <pods>" "$(comp logs -f a)" "alpha"
expect_eq "scale <kinds>" "$(comp scale dep)" "deployment/"
expect_eq "scale deployment/<names>" "$(comp scale deployment/)" "deployment/web"
expect_eq "rollout <sub>" "$(comp rollout '')" "status undo"
expect_eq "rollout status <deployments>" "$(comp rollout status '')" "deployment/web"
expect_eq "top <what>" "$(comp top '')" "nodes pods"
expect_eq "bpf <tables>" "$(comp bpf '')" "services backends rev_nat affinity ct nat endpoints ipcache node metrics policy"
expect_eq "apply -f <files>" "$(comp apply -f "$TMP/manifest-o")" "$TMP/manifest-one.yaml"
expect_eq "get --sel -> --selector" "$(comp get pods --sel)" "--selector"
expect_eq "completion <shell>" "$(comp completion '')" "bash"
# a server that does not answer: no names, no error text on the line
expect_eq "names without a server" "$(comp get pods --kubeconfig http://127.0.0.1:1 '')" ""

set +e
"$CTL" completion zsh >/dev/null 2>&1
rc=$?
set -e
expect_eq "completion zsh: usage error" "$rc" 2
echo PASS
