#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/runc_mounts: what the node's mount table costs every runc start.
One real node (as bench/pods.py) runs PODS pods (default 100); then a bare
busybox bundle is started with `runc run -d` again and again, its CPU time
(perf stat task-clock: runc run and runc init) taken each time,
interleaved: with the node's table as berth leaves it, and with one overlay
per pod mounted beside it, with the agent's own mount options (the layout
before the shims mounted the rootfs in their own namespaces); and, first,
on the same node before it has any pod, with and without 3 x PODS
namespace files bound (what the pods' sandboxes add). Writes
.output/bench/runc_mounts.json. Needs perf."""
import itertools
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "node"))
from kubelet_lib import IMAGE, REPO, bare_runc_spec, pod_node, wait_for  # noqa: E402

PODS = int(os.environ.get("PODS", "100"))
ROUNDS = int(os.environ.get("ROUNDS", "8"))

if not shutil.which("perf"):
    sys.exit("bench/runc_mounts: needs perf (Debian's linux-perf)")
n, args = pod_node("bench-mounts", server_args=("--node-monitor-grace-period", "120"))
wait_for("node Ready", lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in
                                   (n.get("node", "bench-mounts") or {}).get("status", {})
                                   .get("conditions", [])), 30)
base = tempfile.mkdtemp(prefix="berth-bench-mounts-")
spec = bare_runc_spec(base, ["/bin/busybox", "true"])
with open(os.path.join(base, "config.json"), "w") as f:
    json.dump(spec, f)
state = os.path.join(base, "state")


def start_once(i):
    name = "berth-bench-mounts-%d-%d" % (os.getpid(), i)
    ps = os.path.join(base, "perf.txt")
    try:
        subprocess.run(["perf", "stat", "-x,", "-e", "task-clock", "-o", ps, "runc", "--root",
                        state, "run", "-d", "--bundle", base, name],
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60, check=True)
        with open(ps) as f:
            return [float(l.split(",")[0]) for l in f if "task-clock" in l][0]
    finally:
        subprocess.run(["runc", "--root", state, "delete", "-f", name], capture_output=True,
                       timeout=60)


def mountinfo():
    with open("/proc/self/mountinfo") as f:
        text = f.read()
    return {"mounts": text.count("\n"), "mountinfo_bytes": len(text)}


def interleave(plain, loaded, mounts):
    """ROUNDS rounds of 3 starts on the table as it is (mode plain) and 3
    with mounts [(mount command, target)] added to it (mode loaded)."""
    for _ in range(ROUNDS):
        for mode in (plain, loaded):
            done = []
            try:
                for cmd, target in (mounts if mode == loaded else []):
                    subprocess.run(cmd, check=True)
                    done.append(target)
                lines[mode] = mountinfo()
                for _ in range(3):
                    res[mode].append(start_once(next(names)))
            finally:
                for target in done:
                    subprocess.run(["umount", target], check=False)


# the same node before any pod: runc on a bare table, and on a bare table
# with as many namespace files bound as PODS pods leave (net, ipc, uts
# each): the table's cost apart from the pods' processes
res = {"no_pods": [], "no_pods_ns_binds": [], "berth": [], "overlays_on_node": []}
lines = {}
names = itertools.count()
binds = []
try:
    os.makedirs(os.path.join(base, "ns"))
    for k in range(3 * PODS):
        kind = ("net", "ipc", "uts")[k % 3]
        f = os.path.join(base, "ns", "%s-%d" % (kind, k))
        open(f, "w").close()
        binds.append((["mount", "--bind", "/proc/self/ns/" + kind, f], f))
    interleave("no_pods", "no_pods_ns_binds", binds)
except BaseException:
    shutil.rmtree(base, ignore_errors=True)
    raise

items = [{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "m%d" % i},
          "spec": {"terminationGracePeriodSeconds": 1, "containers": [
              {"name": "c", "image": IMAGE, "imagePullPolicy": "Never",
               "command": ["sleep", "3600"]}]}} for i in range(PODS)]
with open(os.path.join(n.tmp, "pods.json"), "w") as f:
    json.dump({"apiVersion": "v1", "kind": "List", "items": items}, f)
n.kubectl("apply", "-f", os.path.join(n.tmp, "pods.json"))
wait_for("%d pods Running" % PODS,
         lambda: sum(1 for p in (n.get("pods") or {"items": []})["items"]
                     if p.get("status", {}).get("phase") == "Running") == PODS, 300)

root = os.path.join(n.tmp, "agent")
ldir = os.path.join(root, "images", "layers")
layers = sorted(os.path.join(ldir, d) for d in os.listdir(ldir))
extra = []
for uid in sorted(os.listdir(os.path.join(root, "runtime", "pods"))):
    d = os.path.join(root, "runtime", "pods", uid, "containers", "c", "0")
    for sub in ("x-upper", "x-work", "x-root"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    extra.append((os.path.join(d, "x-root"), "lowerdir=%s,upperdir=%s/x-upper,workdir=%s/x-work"
                  % (":".join(reversed(layers)), d, d)))

try:
    interleave("berth", "overlays_on_node",
               [(["mount", "-t", "overlay", "overlay", "-o", opts, target], target)
                for target, opts in extra])
finally:
    shutil.rmtree(base, ignore_errors=True)

out = {"pods": PODS}
for mode, v in res.items():
    out[mode] = dict(lines[mode], runc_start_cpu_ms_median=round(statistics.median(v), 2),
                     runc_start_cpu_ms_mean=round(statistics.mean(v), 2), starts=len(v))
    print("bench/runc_mounts: %d pods, %s: %d mounts (%d bytes): runc run -d CPU median %.2f ms"
          % (PODS, mode, lines[mode]["mounts"], lines[mode]["mountinfo_bytes"],
             out[mode]["runc_start_cpu_ms_median"]))
os.makedirs(os.path.join(REPO, ".output/bench"), exist_ok=True)
with open(os.path.join(REPO, ".output/bench/runc_mounts.json"), "w") as f:
    json.dump(out, f, indent=1)
print("results: .output/bench/runc_mounts.json")
