#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# GET throughput of one pod through the request chain, with wrk: the
# loopback plain-HTTP listener (no TLS, no authorization), HTTPS with a
# bearer token and --authorization-mode AlwaysAllow, and HTTPS with the
# same token under RBAC (a RoleBinding grants the read, among the
# bootstrap roles and 50 other bindings). Prints requests/s of each.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SERVER=${BERTH_SERVER:-.output/bin/berth-server}
DURATION=${BENCH_DURATION:-5s}
WRK_ARGS=(-t2 -c16 -d"$DURATION" --timeout 5s)
[ -x "$SERVER" ] || { echo "$SERVER is missing: run make first" >&2; exit 1; }
command -v wrk >/dev/null || { echo "wrk is missing (Debian: wrk)" >&2; exit 1; }

TMP=$(mktemp -d /tmp/berth-bench-auth.XXXXXX)
SERVER_PID=
cleanup() {
	if [ -n "$SERVER_PID" ]; then
		kill -TERM "$SERVER_PID" 2>/dev/null || true
		wait "$SERVER_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "bench-token,bencher,u-1," >"$TMP/tokens.csv"

# source bench/server.sh's start_server, then the HTTPS URL beside it
# shellcheck source=bench/server.sh
source bench/server.sh

setup() { # URL: a pod, and RBAC objects (every binding is walked)
	local i
	curl -sf -o /dev/null -H 'Content-Type: application/json' "$1/api/v1/namespaces/default/pods" \
		-d '{"apiVersion":"v1","kind":"Pod","metadata":{"name":"p"},"spec":{"containers":[{"name":"c","image":"x"}]}}'
	curl -sf -o /dev/null -H 'Content-Type: application/json' \
		"$1/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings" \
		-d '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"RoleBinding","metadata":{"name":"bencher"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"view"},"subjects":[{"kind":"User","name":"bencher"}]}'
	for i in $(seq 50); do
		curl -sf -o /dev/null -H 'Content-Type: application/json' \
			"$1/apis/rbac.authorization.k8s.io/v1/clusterrolebindings" \
			-d '{"apiVersion":"rbac.authorization.k8s.io/v1","kind":"ClusterRoleBinding","metadata":{"name":"other-'"$i"'"},"roleRef":{"apiGroup":"rbac.authorization.k8s.io","kind":"ClusterRole","name":"edit"},"subjects":[{"kind":"User","name":"someone-'"$i"'"}]}'
	done
}

rps() { # URL [wrk args]: requests/s, after checking one request is a 200
	local url=$1
	shift
	code=$(curl -sk -o /dev/null -w '%{http_code}' "$@" "$url")
	[ "$code" = 200 ] || { echo "GET $url: HTTP $code" >&2; exit 1; }
	wrk "${WRK_ARGS[@]}" "$@" "$url" | awk '/^Requests\/sec/ {print $2}'
}

POD=/api/v1/namespaces/default/pods/p
for mode in RBAC AlwaysAllow; do
	start_server "$mode" --token-auth-file "$TMP/tokens.csv" --authorization-mode "$mode"
	HTTPS=$(awk '/server:/ {print $2}' "$TMP/$mode/kubeconfig")
	setup "$URL"
	if [ "$mode" = RBAC ]; then
		printf '%-44s %10s req/s\n' "plain HTTP, loopback (system:masters)" "$(rps "$URL$POD")"
	fi
	printf '%-44s %10s req/s\n' "HTTPS + bearer token, $mode" \
		"$(rps "$HTTPS$POD" -H "Authorization: Bearer bench-token")"
	kill -TERM "$SERVER_PID"
	wait "$SERVER_PID" 2>/dev/null || true
	SERVER_PID=
done
