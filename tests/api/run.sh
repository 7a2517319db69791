#!/bin/bash
# Run the API server tests: every tests/api/test_*.sh and test_*.py, or
# the ones named, once per store (SQLite, then etcd: BERTH_TEST_STORES).
# Each starts its own berth-server (and etcd) (lib.sh / lib.py) and runs
# under a timeout. Prints PASS/FAIL/SKIP per test, logs in
# .output/api/, and closes with "N passed, M failed, K skipped".
# Exit 1 if any failed.
set -uo pipefail

# TEST_DIR: another directory of tests run the same way (tests/controllers)
dir=$(cd "${TEST_DIR:-$(dirname "$0")}" && pwd)
repo=$(cd "$(dirname "$0")/../.." && pwd)
limit=${API_TIMEOUT:-120}
logs=$repo/.output/$(basename "$dir")
mkdir -p "$logs" 2>/dev/null && [ -w "$logs" ] || logs=$(mktemp -d /tmp/berth-api-logs.XXXXXX)
export BERTH_SERVER=${BERTH_SERVER:-$repo/.output/bin/berth-server}

tests=()
if [ $# -gt 0 ]; then
	for a; do
		case $a in
		*/*) t=$a ;;
		*.py | *.sh) t=$dir/$a ;;
		*) t=$(ls "$dir/$a".sh "$dir/$a".py 2>/dev/null | head -n1) ;;
		esac
		[ -f "$t" ] || { echo "run.sh: no such test: $a" >&2; exit 2; }
		tests+=("$t")
	done
else
	shopt -s nullglob
	tests=("$dir"/test_*.sh "$dir"/test_*.py)
	shopt -u nullglob
fi

cur=
trap '[ -n "$cur" ] && kill -TERM "$cur" 2>/dev/null; wait; exit 130' INT TERM

# every test against SQLite, then against etcd (BERTH_TEST_STORES picks)
runs=()
for store in ${BERTH_TEST_STORES:-sqlite etcd}; do
	for t in "${tests[@]}"; do
		runs+=("$store:$t")
	done
done

passed=0 failed=0 skipped=0
for run in "${runs[@]}"; do
	store=${run%%:*}
	t=${run#*:}
	name=$(basename "$t")
	name=${name%.*}
	[ "$store" = sqlite ] || name="$name[$store]"
	log=$logs/$name.log
	export BERTH_TEST_STORE=$store
	start=$SECONDS
	case $t in
	*.py) timeout -k 10 "$limit" python3 "$t" >"$log" 2>&1 & ;;
	*) timeout -k 10 "$limit" bash "$t" >"$log" 2>&1 & ;;
	esac
	cur=$!
	wait "$cur"
	rc=$?
	cur=
	took=$((SECONDS - start))
	case $rc in
	0)
		echo "PASS $name (${took}s)"
		passed=$((passed + 1))
		;;
	77)
		echo "SKIP $name: $(grep -m1 '^SKIP' "$log" | sed 's/^SKIP: //')"
		skipped=$((skipped + 1))
		;;
	*)
		{ [ "$rc" = 124 ] || [ "$rc" = 137 ]; } && echo "run.sh: $name timed out after ${limit}s" >>"$log"
		echo "FAIL $name (exit $rc, ${took}s); last lines of $log:"
		tail -n 40 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		;;
	esac
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
