#!/bin/bash
# One row of the vmtest matrix, run inside the VM (or directly on the host):
# prepare what the tests need that a bare guest lacks, then probe the
# kernel, run the BPF suite and the e2e smoke test on the host's build.
# Usage: guest.sh RESULTS-DIR [TEST-ARGS...]  (TEST-ARGS go to tests/bpf)
# Writes into RESULTS-DIR: uname, probe.json, bpf.json/.tap/.log,
# e2e.log, *.rc (exit codes), env.log, and "done" last. Never rebuilds.
set -uo pipefail

# One block: bash parses all of it before it runs, so editing this file
# while it runs cannot derail it.
{
out=${1:?usage: guest.sh RESULTS-DIR [TEST-ARGS...]}
shift
repo=$(cd "$(dirname "$0")/.." && pwd)
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
# Debian's python for peer.py, whatever python3 the caller's PATH had.
export PYTHON=/usr/bin/python3
E2E_TESTS=${VMTEST_E2E-test_clusterip_tcp.sh}
# Under TCG a python server takes seconds to start: wait longer than on metal.
export E2E_WAIT=${E2E_WAIT:-60}

now() { date +%s.%N; }
note() { echo "guest: $*" >>"$out/env.log"; }

now >"$out/guest-start"
cat /proc/uptime >"$out/uptime-start"
uname -r >"$out/uname"
cd "$repo" || exit 1

# bpffs: vng and the fallback initramfs mount none; the host has its own.
if [ "$(stat -f -c %T /sys/fs/bpf 2>/dev/null)" != bpf_fs ]; then
	mkdir -p /sys/fs/bpf
	mount -t bpf bpf /sys/fs/bpf 2>>"$out/env.log" || note "mount bpffs failed"
fi
# ip netns add wants /run/netns (a shared mount it makes itself).
mkdir -p /run/netns /var/run 2>/dev/null
# A guest has no cgroup fs (the fallback); never mount over a host's one.
if ! mountpoint -q /sys/fs/cgroup; then
	mount -t cgroup2 none /sys/fs/cgroup 2>>"$out/env.log" || note "mount cgroup2 failed"
fi
# Debian kernels build these as modules. A missing one is not fatal here:
# the test that needs it fails or skips and says why.
if [ -d "/lib/modules/$(uname -r)" ]; then
	for m in veth dummy ifb sch_ingress cls_bpf act_bpf; do
		modprobe -q "$m" 2>>"$out/env.log" || note "modprobe $m failed"
	done
else
	note "no /lib/modules/$(uname -r): modules not loaded"
fi
{
	echo "kernel $(uname -r)"
	echo "bpffs $(stat -f -c %T /sys/fs/bpf 2>/dev/null)"
	echo "btf $(ls -l /sys/kernel/btf/vmlinux 2>&1)"
	echo "modules: $(lsmod 2>/dev/null | awk 'NR > 1 {print $1}' | tr '\n' ' ')"
} >>"$out/env.log"

# run NAME CMD...: CMD's output in NAME.log, its exit code in NAME.rc.
run() {
	local name=$1 rc=0 t0
	shift
	t0=$(now)
	"$@" >"$out/$name.log" 2>&1 </dev/null || rc=$?
	echo "$rc" >"$out/$name.rc"
	echo "$t0 $(now)" >"$out/$name.time"
}

# One JSON object on stdout; the verifier's verdict per program inside.
t0=$(now)
.output/bin/berthctl probe -o json >"$out/probe.json" 2>"$out/probe.err" </dev/null
echo $? >"$out/probe.rc"
echo "$t0 $(now)" >"$out/probe.time"

run bpf .output/tests/bpf -j1 --json="$out/bpf.json" --tap="$out/bpf.tap" "$@"

if [ -n "$E2E_TESTS" ]; then
	# shellcheck disable=SC2086 # a list of test names
	run e2e tests/e2e/run.sh $E2E_TESTS
	# run.sh logs in .output/e2e, or under /tmp where the root is
	# read-only (a VM): keep this run's logs with the results.
	mkdir -p "$out/e2e-logs"
	find .output/e2e /tmp/berth-e2e-logs.* -maxdepth 1 -name '*.log' \
		-newer "$out/guest-start" -exec cp {} "$out/e2e-logs/" \; 2>/dev/null
fi

dmesg 2>/dev/null | tail -n 200 >"$out/dmesg.log"
now >"$out/done"
exit
}
