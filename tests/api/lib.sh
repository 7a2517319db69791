# shellcheck shell=bash
# Shared by the kubectl tests: start a berth-server on a free loopback port
# with a temporary data dir (removed, and the server stopped, on any exit),
# point kubectl at its kubeconfig, and small assertions.
set -euo pipefail

command -v kubectl >/dev/null || { echo "SKIP: kubectl is not installed"; exit 77; }
BERTH_SERVER=${BERTH_SERVER:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)/.output/bin/berth-server}
[ -x "$BERTH_SERVER" ] || { echo "FAIL: $BERTH_SERVER is missing (make builds it)"; exit 1; }

TMP=$(mktemp -d /tmp/berth-api.XXXXXX)
SERVER_PID=
ETCD_PID=
STORE=${BERTH_TEST_STORE:-sqlite}
if [ "$STORE" = etcd ] && ! command -v etcd >/dev/null; then
	echo "SKIP: etcd is not installed (Debian: etcd-server)"
	exit 77
fi
cleanup() {
	local rc=$?
	local src=0
	if [ -n "$SERVER_PID" ]; then
		kill -TERM "$SERVER_PID" 2>/dev/null
		wait "$SERVER_PID" 2>/dev/null || src=$?
		if [ "$src" != 0 ]; then
			echo "FAIL: berth-server exited with status $src (crash or sanitizer report?)"
			[ "$rc" = 0 ] && rc=1
		fi
	fi
	if [ "$rc" != 0 ] && [ -f "$TMP/server.log" ]; then
		echo "--- server log (tail)"
		tail -n 30 "$TMP/server.log"
	fi
	if [ -n "$ETCD_PID" ]; then
		kill -TERM "$ETCD_PID" 2>/dev/null
		wait "$ETCD_PID" 2>/dev/null || true
	fi
	rm -rf "$TMP"
	exit "$rc"
}
trap cleanup EXIT

# shellcheck source=scripts/etcd.sh
source "$(dirname "${BASH_SOURCE[0]}")/../../scripts/etcd.sh"

# start_server [ARGS...]: extra berth-server arguments.
start_server() {
	local store_args=()
	if [ "$STORE" = etcd ]; then
		start_etcd "$TMP"
		store_args=(--etcd "$ETCD_URL")
	fi
	"$BERTH_SERVER" --data-dir "$TMP/data" --listen 127.0.0.1:0 "${store_args[@]}" "$@" \
		>"$TMP/server.log" 2>&1 &
	SERVER_PID=$!
	for _ in $(seq 100); do
		[ -f "$TMP/data/kubeconfig" ] && break
		kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/server.log"; fail "berth-server exited"; }
		sleep 0.05
	done
	[ -f "$TMP/data/kubeconfig" ] || fail "no kubeconfig after 5s"
	export KUBECONFIG=$TMP/data/kubeconfig
	export KUBECACHEDIR=$TMP/cache
	# HTTPS: the kubeconfig holds the server's CA and the admin certificate
	SERVER_URL=$(awk '/server:/ {print $2}' "$KUBECONFIG")
}

fail() {
	echo "FAIL: $*" >&2
	exit 1
}

# curl_api ARGS...: curl as the admin, with the kubeconfig's CA and client
# certificate (the server speaks HTTPS only).
curl_api() {
	local f
	for f in certificate-authority-data client-certificate-data client-key-data; do
		[ -s "$TMP/$f.pem" ] ||
			awk -v k="$f:" '$1 == k {print $2}' "$KUBECONFIG" | base64 -d >"$TMP/$f.pem"
	done
	curl --cacert "$TMP/certificate-authority-data.pem" \
		--cert "$TMP/client-certificate-data.pem" --key "$TMP/client-key-data.pem" "$@"
}

# k ARGS...: kubectl with a bounded request time.
k() {
	kubectl --request-timeout=20s "$@"
}

# expect_eq WHAT GOT WANT
expect_eq() {
	[ "$2" = "$3" ] || fail "$1: got '$2', want '$3'"
	echo "ok: $1"
}

# expect_match WHAT TEXT REGEX
expect_match() {
	grep -Eq -- "$3" <<<"$2" || fail "$1: '$2' does not match /$3/"
	echo "ok: $1"
}
