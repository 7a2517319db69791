#!/bin/bash
# The fallback path of vmtest/run (qemu + busybox initramfs over 9p, no
# virtme-ng) on one kernel (default 6.1): it must boot, run the whole guest
# side and pass, in its own results directory.
# Usage: vmtest/test-fallback.sh [KERNEL] [-- TEST-ARGS...]
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
kernel=6.1
if [ $# -gt 0 ] && [ "$1" != -- ]; then kernel=$1 && shift; fi
out=$(cd "$here/.." && pwd)/.output/vmtest/fallback

rc=0
VMTEST_OUT=$out "$here/run" --force-fallback --no-host --kernel "$kernel" "$@" || rc=$?
# The row must really have come from the fallback, not from virtme-ng.
mode=$(/usr/bin/python3 -c 'import json, sys
print(" ".join(k["mode"] for k in json.load(open(sys.argv[1]))["kernels"]))' \
	"$out/results.json" 2>/dev/null)
if [ "$mode" != qemu ]; then
	echo "test-fallback: expected one row booted with qemu, got '$mode'" >&2
	rc=1
fi
if [ $rc = 0 ]; then
	echo "test-fallback: 1 passed, 0 failed"
else
	echo "test-fallback: 0 passed, 1 failed"
fi
exit $rc
