#!/bin/bash
# vmtest's own tests, no VM: the report fails a kernel for each way a kernel
# can fail (a test, the verifier, complexity growth, a timeout, no boot) and
# passes a clean one; then a VM cut short by --timeout fails and leaves no
# qemu behind (that part boots a kernel: skipped with --quick).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
PY=/usr/bin/python3
T=$(mktemp -d /tmp/vmtest-selftest.XXXXXX)
trap 'rm -rf "$T"' EXIT
passed=0 failed=0

check() { # NAME WANT-RC GREP-PATTERN CMD...
	local name=$1 want=$2 pat=$3 rc=0
	shift 3
	"$@" >"$T/out" 2>&1 || rc=$?
	if [ "$rc" = "$want" ] && grep -qE -- "$pat" "$T/out"; then
		echo "PASS $name"
		passed=$((passed + 1))
	else
		echo "FAIL $name: exit $rc (want $want), /$pat/ in:"
		sed 's/^/    /' "$T/out"
		failed=$((failed + 1))
	fi
}

# row DIR KERNEL: a finished row whose every step passed.
row() {
	local d=$T/$1
	mkdir -p "$d"
	printf 'kernel=%s\nmode=vng\nlaunch=100\nend=200\nrc=0\ntimeout=900\n' "$2" >"$d/meta"
	echo 120 >"$d/guest-start"
	echo "$2" >"$d/uname"
	echo 0 >"$d/probe.rc"
	echo 0 >"$d/bpf.rc"
	echo 0 >"$d/e2e.rc"
	cat >"$d/probe.json" <<EOF
{"kernel": "$2", "features": {"tcx": false}, "programs": {
 "from_pod": {"loaded": true, "verified_insns": 1000, "error": null, "log_tail": null},
 "to_pod": {"loaded": true, "verified_insns": 500, "error": null, "log_tail": null}}}
EOF
	cat >"$d/bpf.json" <<'EOF'
{"passed": 2, "failed": 0, "errored": 0, "skipped": 1, "test_suites": [{"name": "dnat",
 "tests": [{"name": "a", "status": "PASSED"}, {"name": "b", "status": "PASSED"},
 {"name": "tcx", "status": "SKIPPED", "messages": ["kernel 6.1 lacks tcx"]}]}]}
EOF
	printf 'PASS test_clusterip_tcp (3s)\n1 passed, 0 failed, 0 skipped\n' >"$d/e2e.log"
	date >"$d/done"
}

report() { # [--update-baseline] DIR...
	local a=(--baseline "$T/baseline.json" --out "$T/results.json")
	[ "$1" = --update-baseline ] && a+=("$1") && shift
	$PY "$here/vmtest.py" report "${a[@]}" "$@"
}

echo '{"6.1": {"from_pod": 1000, "to_pod": 480}}' >"$T/baseline.json"

row ok 6.1.0-56-amd64
check "clean row passes, skip is shown" 0 'skip on 6.1.0-56-amd64: bpf dnat::tcx: kernel 6.1 lacks tcx' \
	report "$T/ok"
check "results.json written" 0 '"ok": true' cat "$T/results.json"

row verifier 6.1.0-56-amd64
$PY - "$T/verifier/probe.json" <<'EOF'
import json, sys
d = json.load(open(sys.argv[1]))
d["programs"]["to_pod"] = {"loaded": False, "verified_insns": 0,
    "error": "Permission denied", "log_tail": "R2 invalid mem access 'scalar'\nprocessed 9 insns"}
json.dump(d, open(sys.argv[1], "w"))
EOF
check "verifier rejection fails, log tail shown" 1 "R2 invalid mem access 'scalar'" \
	report "$T/ok" "$T/verifier"

row grow 6.1.0-56-amd64
sed -i 's/"verified_insns": 500/"verified_insns": 577/' "$T/grow/probe.json"
check "growth of 20.2% fails" 1 'complexity: to_pod 577 verified insns, baseline 480' report "$T/grow"
sed -i 's/"verified_insns": 577/"verified_insns": 576/' "$T/grow/probe.json"
check "growth of 20.0% passes" 0 'to_pod insns' report "$T/grow"

row bpffail 6.12.117+deb12-amd64
echo 1 >"$T/bpffail/bpf.rc"
sed -i 's/"failed": 0/"failed": 1/; s/{"name": "b", "status": "PASSED"}/{"name": "b", "status": "FAILED", "messages": ["fixture.c:12: want 2 got 3"]}/' \
	"$T/bpffail/bpf.json"
check "failing BPF test named with its message" 1 'bpf FAILED dnat::b' report "$T/bpffail"

row e2efail 6.12.117+deb12-amd64
echo 1 >"$T/e2efail/e2e.rc"
printf 'FAIL test_clusterip_tcp (exit 1, 9s); last lines of x:\n    FAIL: boom\n0 passed, 1 failed, 0 skipped\n' \
	>"$T/e2efail/e2e.log"
check "failing e2e test fails the kernel" 1 'FAIL: boom' report "$T/e2efail"

row timeout 6.1.0-56-amd64
rm "$T/timeout/done" "$T/timeout/e2e.rc" "$T/timeout/e2e.log"
printf 'rc=124\ntimed_out=1\n' >>"$T/timeout/meta"
check "timeout fails" 1 'timeout: no result within 900 s' report "$T/timeout"

mkdir -p "$T/noboot"
printf 'kernel=6.1.0-56-amd64\nmode=qemu\nlaunch=1\nend=2\nrc=1\n' >"$T/noboot/meta"
echo "Kernel panic - not syncing: VFS" >"$T/noboot/vm.log"
check "no boot fails, console shown" 1 'Kernel panic' report "$T/noboot"

check "--update-baseline records counts" 0 'baseline: .* updated' report --update-baseline "$T/grow"
check "baseline has the new count" 0 '"to_pod": 576' cat "$T/baseline.json"

if [ "${1:-}" != --quick ]; then
	out=$T/vm
	check "a VM cut short by --timeout fails" 1 'timeout: no result within 5 s' \
		env VMTEST_OUT="$out" "$here/run" --kernel 6.1 --no-host --timeout 5
	check "so does one of the fallback" 1 'timeout: no result within 5 s' \
		env VMTEST_OUT="$out" "$here/run" --kernel 6.1 --no-host --timeout 5 --force-fallback
	sleep 1
	if pgrep -af -- "$out/" >"$T/left"; then
		echo "FAIL no qemu left behind: $(cat "$T/left")"
		failed=$((failed + 1))
	else
		echo "PASS no qemu left behind"
		passed=$((passed + 1))
	fi
fi

echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
