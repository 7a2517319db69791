#!/bin/bash
# The container runtime with real runc: exit codes and CRI logs, configMap
# volumes, stop by TERM and by KILL after the grace period, exec,
# readOnlyRootFilesystem, a new runtime handle adopting a running container.
set -uo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
B=$repo/.output/bin/berth-agent
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root"; exit 77; }
command -v runc >/dev/null || { echo "SKIP: no runc"; exit 77; }
[ -x /bin/busybox ] || { echo "SKIP: no busybox"; exit 77; }
t=$(mktemp -d /tmp/berth-rt.XXXXXX)
cg=/berth-test-$$
R() { "$B" runtime --root "$t/root" --log-dir "$t/logs" --cgroup-parent "$cg" "$@"; }
cleanup() {
	for id in $(runc --root "$t/root/runc" list -q 2>/dev/null); do
		runc --root "$t/root/runc" delete -f "$id" >/dev/null 2>&1
	done
	for u in $(ls "$t/root/pods" 2>/dev/null); do R sandbox-rm "$u" >/dev/null 2>&1; done
	for c in /sys/fs/cgroup/*; do rmdir "$c$cg"/*/* "$c$cg"/* "$c$cg" 2>/dev/null; done
	umount -R "$t" 2>/dev/null
	rm -rf "$t"
}
trap cleanup EXIT
fail() { echo "FAIL: $*"; exit 1; }

mkdir -p "$t/rootfs/bin" "$t/rootfs/etc" "$t/rootfs/tmp" "$t/www"
cp /bin/busybox "$t/rootfs/bin/"
for a in sh echo sleep cat httpd touch ls id trap; do ln -sf busybox "$t/rootfs/bin/$a"; done
echo 'root:x:0:0:root:/root:/bin/sh' >"$t/rootfs/etc/passwd"

pod() { # uid command-json [extra container fields]
	cat >"$t/$1.json" <<J
{"metadata":{"name":"p-$1","namespace":"default","uid":"$1"},
 "spec":{"containers":[{"name":"c","command":$2 ${3:+,$3},
   "env":[{"name":"WHO","value":"world"},{"name":"POD","valueFrom":{"fieldRef":{"fieldPath":"metadata.name"}}}],
   "volumeMounts":[{"name":"cfg","mountPath":"/cfg"}]}],
  "volumes":[{"name":"cfg","configMap":{"name":"cm"}}]}}
J
}
echo '[{"kind":"ConfigMap","metadata":{"name":"cm","namespace":"default"},"data":{"k":"from-cm"}}]' >"$t/objs.json"
run() { R run "$t/$1.json" c --rootfs "$t/rootfs" --objects "$t/objs.json"; }
state() { R state "$1"; }
wait_status() { # id status
	for _ in $(seq 100); do state "$1" | grep -q "\"status\":\"$2\"" && return 0; sleep 0.1; done
	return 1
}

# 1. exit code and logs
pod u-exit '["sh","-c","echo hi $(WHO) $POD; cat /cfg/k; echo oops >&2; exit 3"]'
id=$(run u-exit) || fail "run u-exit"
wait_status "$id" exited || fail "u-exit did not exit: $(state "$id")"
state "$id" | grep -q '"exitCode":3' || fail "exit code: $(state "$id")"
log=$t/logs/default_p-u-exit_u-exit/c/0.log
grep -q ' stdout F hi world p-u-exit$' "$log" || fail "log: $(cat "$log")"
grep -q ' stdout F from-cm$' "$log" || fail "configMap not visible: $(cat "$log")"
grep -q ' stderr F oops$' "$log" || fail "stderr: $(cat "$log")"
[ "$(R logs "$log" 2 | wc -l)" = 2 ] && [ "$(R logs "$log" | wc -l)" = 3 ] || fail "logs tail: $(R logs "$log" 2)"
echo "ok exit code and logs"

# 2. SIGTERM within grace
# (a pid 1 gets no default signal actions: it must handle TERM, as in Kubernetes)
pod u-term '["sh","-c","trap \"exit 143\" TERM; httpd -p 8080 -h /tmp; while true; do sleep 0.2; done"]'
id=$(run u-term) || fail "run u-term"
wait_status "$id" running || fail "u-term not running"
# 3. exec in a running container
out=$(R exec "$id" 5000 -- sh -c 'echo inside; exit 4'); rc=$?
[ $rc = 4 ] && [ "$out" = inside ] || fail "exec: rc=$rc out=$out"
# 4. adoption: a new handle (another process) sees it running
R list | grep "\"id\":\"$id\"" | grep -q '"status":"running"' || fail "list: $(R list)"
start=$SECONDS
R stop "$id" 10 || fail "stop u-term"
[ $((SECONDS - start)) -lt 5 ] || fail "TERM took $((SECONDS - start)) s"
state "$id" | grep -q '"exitCode":143' || fail "not by TERM: $(state "$id")"
echo "ok exec, adoption, stop by TERM"

# 5. SIGKILL after grace for one that ignores TERM
pod u-kill '["sh","-c","trap \"\" TERM; while true; do sleep 1; done"]'
id=$(run u-kill) || fail "run u-kill"
wait_status "$id" running || fail "u-kill not running"
sleep 0.5
start=$SECONDS
R stop "$id" 2 || fail "stop u-kill"
el=$((SECONDS - start))
[ $el -ge 2 ] && [ $el -lt 8 ] || fail "KILL after $el s"
state "$id" | grep -q '"exitCode":137' || fail "not killed: $(state "$id")"
echo "ok stop by KILL after grace"

# 6. readOnlyRootFilesystem
pod u-ro '["sh","-c","touch /x && exit 0; exit 9"]' '"securityContext":{"readOnlyRootFilesystem":true}'
id=$(run u-ro) || fail "run u-ro"
wait_status "$id" exited || fail "u-ro did not exit"
state "$id" | grep -q '"exitCode":9' || fail "rootfs writable: $(state "$id")"
echo "ok readOnlyRootFilesystem"

# 7. remove
R rm "$id" || fail "rm"
state "$id" >/dev/null 2>&1 && fail "state after rm"
echo "ok remove"
echo PASS
