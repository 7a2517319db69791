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
echo "==== bpf-route: tests/bpf/route_netns.sh"; tests/bpf/route_netns.sh; record bpf-route $?
criterion store-sqlite .output/tests/store-sqlite --jobs 1
criterion store-etcd .output/tests/store-etcd --jobs 1

# Every libFuzzer target (tests/fuzz/fuzz_<name>.c): first the reproducers
# of fixed crashes (tests/fuzz/regress/<name>, each run once: some are slow
# on purpose, a copy bomb, and would starve the fuzzing), then FUZZ_SECONDS
# (20) of fuzzing on a copy of its committed corpus (tests/fuzz/corpus/<name>)
# so that the corpus does not grow; any crash, leak or UB fails it and its
# input is kept in .output/fuzz/crashes/<name>/. The final stats line gives
# the count of inputs tried.
fuzz_one() { # NAME
	local name=$1 bin=.output/fuzz/fuzz_$1 dir rc=0 secs=${FUZZ_SECONDS:-20}
	local dict=()
	echo "==== fuzz-$name: $bin (${secs}s)"
	if [ ! -x "$bin" ]; then
		echo "$bin is missing (make builds it)"
		record "fuzz-$name" 127
		return
	fi
	dir=$(mktemp -d /tmp/berth-fuzz.XXXXXX)
	cp tests/fuzz/corpus/"$name"/* "$dir/"
	mkdir "$dir/crashes"
	if compgen -G "tests/fuzz/regress/$name/*" >/dev/null &&
		! "$bin" -rss_limit_mb=1024 -timeout=10 -artifact_prefix="$dir/crashes/" \
			tests/fuzz/regress/"$name"/* >"$dir/regress.log" 2>&1; then
		grep -E '^(==[0-9]+==ERROR|SUMMARY)|runtime error|^Running: ' "$dir/regress.log" | tail -n 5
		cp tests/fuzz/regress/"$name"/* "$dir/crashes/" # which one: above
	fi
	[ -f tests/fuzz/"$name".dict ] && dict=(-dict=tests/fuzz/"$name".dict)
	"$bin" -max_total_time="$secs" -rss_limit_mb=1024 -timeout=10 "${dict[@]}" \
		-print_final_stats=1 -artifact_prefix="$dir/crashes/" "$dir" 2>&1 |
		grep -E '^(stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY)|runtime error|Test unit written' |
		head -n 20
	rc=${PIPESTATUS[0]}
	if [ -n "$(ls -A "$dir/crashes")" ]; then
		mkdir -p .output/fuzz/crashes/"$name"
		cp "$dir"/crashes/* .output/fuzz/crashes/"$name"/
		echo "fuzz-$name: crash inputs kept in .output/fuzz/crashes/$name/"
		[ "$rc" = 0 ] && rc=1
	fi
	rm -rf "$dir"
	record "fuzz-$name" "$rc"
}
for t in tests/fuzz/fuzz_*.c; do
	t=${t#tests/fuzz/fuzz_}
	fuzz_one "${t%.c}"
done

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

echo "==== controllers: tests/controllers/run.sh"
tests/controllers/run.sh
record controllers $?

echo "==== metrics: tests/metrics/run.sh"
tests/metrics/run.sh
record metrics $?
echo "==== ctl: tests/ctl/run.sh"
tests/ctl/run.sh
record ctl $?

if [ -x .output/tests/agent ]; then
	echo "==== agent: .output/tests/agent"
	.output/tests/agent
	record agent $?
fi

if compgen -G "tests/node/test_*" >/dev/null; then
	echo "==== node: tests/node/run.sh"
	tests/node/run.sh
	record node $?
fi

# every `sh runnable` block of docs/ against a real make demo
echo "==== docs: tests/docs/run_docs.py"
timeout 1800 tests/docs/run_docs.py
record docs $?

echo "==== summary"
printf '%s\n' "${results[@]}"
[ "$skipped" = 0 ] || echo "($skipped e2e tests skipped)"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
