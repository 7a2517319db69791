#!/bin/bash
# Run berth's end-to-end tests: every tests/e2e/test_*.sh and test_*.py (the
# multi-node cluster tests), or the ones named (test_foo, test_foo.sh,
# test_foo.py or a path). Each runs under a timeout with its own name
# prefix; a test that leaves a namespace, a pin or a process behind fails.
# Prints PASS/FAIL/SKIP per test, logs in .output/e2e/, and closes with
# "N passed, M failed, K skipped". Exit 1 if any failed.
set -uo pipefail

dir=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$dir/../.." && pwd)
limit=${E2E_TIMEOUT:-300}
logs=$repo/.output/e2e
mkdir -p "$logs" 2>/dev/null && [ -w "$logs" ] || logs=$(mktemp -d /tmp/berth-e2e-logs.XXXXXX)

tests=()
if [ $# -gt 0 ]; then
	for a; do
		case $a in
		*/*) t=$a ;;
		*.sh | *.py) t=$dir/$a ;;
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

passed=0 failed=0 skipped=0 i=0
for t in "${tests[@]}"; do
	name=$(basename "$t")
	name=${name%.*}
	i=$((i + 1))
	prefix=b$$x$i
	log=$logs/$name.log
	start=$SECONDS
	case $t in
	*.py) E2E_PREFIX=$prefix timeout -k 15 "$limit" python3 "$t" >"$log" 2>&1 & ;;
	*) E2E_PREFIX=$prefix timeout -k 15 "$limit" bash "$t" >"$log" 2>&1 & ;;
	esac
	cur=$!
	wait "$cur"
	rc=$?
	cur=
	took=$((SECONDS - start))

	# a cluster test killed by the timeout: its state dir says what it made
	[ -f "/tmp/berth-e2e-$prefix/cluster.json" ] &&
		python3 "$dir/cluster.py" down "/tmp/berth-e2e-$prefix" >>"$log" 2>&1 &&
		echo "run.sh: $name left a cluster behind (removed)" >>"$log" && [ "$rc" = 0 ] && rc=1
	leaks=$(ip netns list 2>/dev/null | awk '{print $1}' | grep "^$prefix-" | tr '\n' ' ')
	for pin in "/sys/fs/bpf/berth/$prefix" "/sys/fs/bpf/berth/$prefix"-*; do
		[ -e "$pin" ] && leaks+="$pin "
	done
	if [ -n "$leaks" ]; then
		echo "run.sh: $name left behind: $leaks" >>"$log"
		python3 "$dir/cluster.py" reap "$prefix" >>"$log" 2>&1
		for ns in $(ip netns list | awk '{print $1}' | grep "^$prefix-"); do
			ip netns del "$ns"
		done
		rm -rf "/sys/fs/bpf/berth/$prefix" "/sys/fs/bpf/berth/$prefix"-*
		[ "$rc" = 0 ] && rc=1
	fi

	case $rc in
	0)
		echo "PASS $name (${took}s)"
		passed=$((passed + 1))
		;;
	77)
		echo "SKIP $name: $(grep -m1 '^SKIP' "$log" | sed 's/^SKIP: [^:]*: //')"
		skipped=$((skipped + 1))
		;;
	*)
		[ "$rc" = 124 ] || [ "$rc" = 137 ] && echo "run.sh: $name timed out after ${limit}s" >>"$log"
		echo "FAIL $name (exit $rc, ${took}s); last lines of $log:"
		tail -n 60 "$log" | sed 's/^/    /'
		failed=$((failed + 1))
		;;
	esac
done

echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" = 0 ]
