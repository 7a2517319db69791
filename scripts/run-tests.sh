#!/bin/bash
# Run every test suite in order (unit, BPF, each end-to-end test), all of
# them even when one fails. The last line counts the suites:
# "N passed, M failed". Exit 1 if any failed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1

passed=0 failed=0 results=()

record() { # NAME RC
	if [ "$2" = 0 ]; then
		passed=$((passed + 1))
		results+=("PASS $1")
	else
		failed=$((failed + 1))
		results+=("FAIL $1 (exit $2)")
	fi
}

# criterion NAME BINARY ARGS...
criterion() {
	local name=$1 bin=$2 rc=0
	shift 2
	echo "==== $name: $bin $*"
	if [ -x "$bin" ]; then
		"$bin" "$@" || rc=$?
	else
		echo "$bin is missing (make builds it)"
		rc=127
	fi
	record "$name" "$rc"
}

criterion unit .output/tests/unit
criterion bpf .output/tests/bpf --jobs 1
criterion store-sqlite .output/tests/store-sqlite --jobs 1
criterion store-etcd .output/tests/store-etcd --jobs 1

echo "==== e2e: tests/e2e/run.sh"
out=$(mktemp /tmp/berth-e2e-out.XXXXXX)
trap 'rm -f "$out"' EXIT
tests/e2e/run.sh 2>&1 | tee "$out"
rc=${PIPESTATUS[0]}
n=0
skipped=0
while read -r verdict name _; do
	case $verdict in
	PASS) record "e2e/$name" 0 ;;
	FAIL) record "e2e/$name" 1 ;;
	SKIP) skipped=$((skipped + 1)) && results+=("SKIP e2e/${name%:}") && continue ;;
	*) continue ;;
	esac
	n=$((n + 1))
done < <(grep -E '^(PASS|FAIL|SKIP) ' "$out")
# run.sh failed without naming a test (bad argument, crash): one failure.
if [ "$rc" != 0 ] && ! grep -q '^FAIL ' "$out"; then
	record e2e "$rc"
fi

echo "==== api: tests/api/run.sh"
tests/api/run.sh
record api $?

echo "==== summary"
printf '%s\n' "${results[@]}"
[ "$skipped" = 0 ] || echo "($skipped e2e tests skipped)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
