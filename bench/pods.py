#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/pods: one real node (berth-server + berth-agent in a netns, as the
node tests run them), the test image already present. Creates PODS pods
(default 100) and measures, per pod, the time from its create request to
the moment a watch sees it Ready, twice: all at once (a burst: the last
pod waits for the CPU the 99 before it take), and paced at RATE pods/s
(default 20, the creation throughput Kubernetes' pod startup SLO is
measured at); then fills the node to 110 pods and reads the agent's RSS.
Before both, the floor under a burst on this machine: PODS bare `runc run
-d` of a busybox sleep (own namespaces, nothing else: no API, no CNI, no
status) started at once, each timed until runc returns; the burst's p99 is
also reported as a ratio to that. Both record the CPU time the machine
was busy per start (the floor's bounds the burst: PODS x CPU per start /
CPUs). Writes .output/bench/pods.json. Goals
(issue 7): p99 <= 1 s, agent RSS <= 32 MB."""
import atexit
import glob
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "node"))
from kubelet_lib import IMAGE, REPO, bare_runc_spec, pod_node, wait_for  # noqa: E402

PODS = int(os.environ.get("PODS", "100"))
RATE = float(os.environ.get("RATE", "20"))
FILL = int(os.environ.get("FILL", "110"))
# for profiling: MODES=burst runs only the burst, AGENT_ARGS="--log-level
# debug" adds agent flags, KEEP_LOG=FILE copies the agent's log there
MODES = os.environ.get("MODES", "burst,paced,fill").split(",")
AGENT_ARGS = os.environ.get("AGENT_ARGS", "").split()
KEEP_LOG = os.environ.get("KEEP_LOG")

# the client runs inside the node's netns, where the server listens
CLIENT = r'''
import http.client, json, sys, threading, time
port, image, n, prefix = int(sys.argv[1]), sys.argv[2], int(sys.argv[3]), sys.argv[4]
rate = float(sys.argv[5])  # pods/s, 0: as fast as the API takes them
ready, created = {}, {}
done = threading.Event()
def watch():
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request("GET", "/api/v1/namespaces/default/pods?watch=true&labelSelector=bench%3D" + prefix)
    r = c.getresponse()
    while not done.is_set():
        line = r.readline()
        if not line:
            break
        o = json.loads(line)["object"]
        name = o["metadata"]["name"]
        if name not in ready and any(x["type"] == "Ready" and x["status"] == "True"
                                     for x in o.get("status", {}).get("conditions", [])):
            ready[name] = time.monotonic()
            if len(ready) == n:
                done.set()
t = threading.Thread(target=watch, daemon=True)
t.start()
time.sleep(0.5)
c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
start = time.monotonic()
for i in range(n):
    if rate > 0:
        time.sleep(max(0, start + i / rate - time.monotonic()))
    name = "%s-%d" % (prefix, i)
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"bench": prefix}},
            "spec": {"terminationGracePeriodSeconds": 1, "containers": [
                {"name": "c", "image": image, "imagePullPolicy": "Never",
                 "command": ["sleep", "3600"],
                 "resources": {"requests": {"cpu": "1m", "memory": "1Mi"}}}]}}
    created[name] = time.monotonic()
    c.request("POST", "/api/v1/namespaces/default/pods", json.dumps(body),
              {"Content-Type": "application/json"})
    r = c.getresponse(); r.read()
    if r.status != 201:
        print(json.dumps({"error": "create %s: %d" % (name, r.status)})); sys.exit(1)
done.wait(240)
lat = sorted(ready[k] - created[k] for k in ready)
print(json.dumps({"created": n, "ready": len(lat), "latencies_s": lat,
                  "span_s": (max(ready.values()) - min(created.values())) if ready else None}))
'''


def pct(xs, p):
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))] if xs else None


def cpu_busy_s():
    """CPU time the whole machine spent busy so far (all CPUs, seconds):
    the bench runs alone, so a difference is what one stage cost"""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    # user nice system idle iowait irq softirq steal ...: all but idle, iowait
    return (sum(v[:8]) - v[3] - v[4]) / os.sysconf("SC_CLK_TCK")


def runc_burst(n):
    """n bare runc containers started at once: seconds until each runc
    run -d returned (the container's process is running), and the CPU
    seconds the machine was busy meanwhile."""
    base = tempfile.mkdtemp(prefix="berth-bench-runc-")
    state = os.path.join(base, "state")
    spec = bare_runc_spec(base, ["sleep", "3600"])
    names = ["berth-bench-%d-%d" % (os.getpid(), i) for i in range(n)]
    lat = []
    try:
        for name in names:
            d = os.path.join(base, name)
            os.makedirs(d)
            spec["linux"]["cgroupsPath"] = "/berth-bench/" + name
            with open(os.path.join(d, "config.json"), "w") as f:
                json.dump(spec, f)
        # the container inherits runc's stdio: a file, never a pipe someone waits on
        errs = [open(os.path.join(base, name, "runc.log"), "w+") for name in names]
        t0, c0 = time.monotonic(), cpu_busy_s()
        procs = [subprocess.Popen(["runc", "--root", state, "run", "-d", "--bundle",
                                   os.path.join(base, name), name],
                                  stdin=subprocess.DEVNULL, stdout=e, stderr=e)
                 for name, e in zip(names, errs)]
        left = set(range(n))
        end = t0 + 300
        while left and time.monotonic() < end:
            for i in list(left):
                if procs[i].poll() is not None:
                    left.discard(i)
                    lat.append(time.monotonic() - t0)
                    if procs[i].returncode:
                        errs[i].seek(0)
                        raise RuntimeError("runc run: %s" % errs[i].read().strip())
            time.sleep(0.002)
        if left:
            raise RuntimeError("runc run: %d containers not started in 300 s" % len(left))
        cpu = cpu_busy_s() - c0
    finally:
        for name in names:
            subprocess.run(["runc", "--root", state, "delete", "-f", name],
                           capture_output=True, timeout=60)
        # cgroup v2: one dir; v1: one in every hierarchy
        for d in glob.glob("/sys/fs/cgroup/berth-bench") + \
                glob.glob("/sys/fs/cgroup/*/berth-bench"):
            try:
                os.rmdir(d)
            except OSError:
                pass
        shutil.rmtree(base, ignore_errors=True)
    return sorted(lat), cpu


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for l in f:
            if l.startswith("VmRSS:"):
                return int(l.split()[1])
    return 0


# the client speaks plain HTTP to the server's loopback listener (served
# as system:masters), so it needs no certificates
n, args = pod_node("bench-pods", server_args=("--node-monitor-grace-period", "120",
                                              "--insecure-port", "0"), start=False)
with open(os.path.join(n.tmp, "data", "kubeconfig-insecure")) as f:
    API_PORT = int([l.split()[1] for l in f if "server:" in l][0].rsplit(":", 1)[1])
n.start_agent(*args, *AGENT_ARGS)
if KEEP_LOG:
    atexit.register(lambda: shutil.copy(os.path.join(n.tmp, "agent.log"), KEEP_LOG))
wait_for("node Ready", lambda: any(c["type"] == "Ready" and c["status"] == "True" for c in
                                   (n.get("node", "bench-pods") or {}).get("status", {})
                                   .get("conditions", [])), 30)
out = {"pods": PODS}
time.sleep(2)
out["agent_rss_idle_mb"] = round(rss_kb(n.agent.pid) / 1024.0, 1)
print("bench/pods: agent RSS with no pods %.1f MB" % out["agent_rss_idle_mb"])
lat, cpu = runc_burst(PODS)
NCPU = os.cpu_count()
# all of the machine's CPUs busy with nothing but these starts, the last
# one cannot be done before n x CPU per start / CPUs
out["runc_burst"] = {"p50_s": pct(lat, 50), "p99_s": pct(lat, 99), "max_s": lat[-1],
                     "cpu_ms_each": round(cpu * 1000 / PODS, 1),
                     "cpu_bound_last_s": round(cpu / NCPU, 3), "cpus": NCPU}
print("bench/pods: floor: %d bare runc containers at once: p50 %.3f s, p99 %.3f s; "
      "%.1f ms CPU each, so the last cannot start before %.2f s on %d CPUs"
      % (PODS, out["runc_burst"]["p50_s"], out["runc_burst"]["p99_s"],
         out["runc_burst"]["cpu_ms_each"], out["runc_burst"]["cpu_bound_last_s"], NCPU))
made = 0
for mode, rate, prefix in (("burst", 0, "b"), ("paced", RATE, "p")):
    if mode not in MODES:
        continue
    # PERF_OUT=FILE: a system-wide profile of the burst (perf record -a)
    perf = None
    if mode == "burst" and os.environ.get("PERF_OUT"):
        perf = subprocess.Popen(["perf", "record", "-a", "-g", "-F", "499", "-o",
                                 os.environ["PERF_OUT"]], stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
    c0 = cpu_busy_s()
    r = n.nsh("python3", "-c", CLIENT, str(API_PORT), IMAGE, str(PODS), prefix, str(rate),
              timeout=300)
    cpu = cpu_busy_s() - c0
    res = json.loads(r.stdout.strip().splitlines()[-1])
    lat = res["latencies_s"]
    if perf:
        perf.send_signal(signal.SIGINT)
        perf.wait(60)
    made += PODS
    out[mode] = {"rate_per_s": rate or None, "ready": res["ready"],
                 "p50_s": pct(lat, 50), "p99_s": pct(lat, 99),
                 "max_s": lat[-1] if lat else None, "all_ready_s": res["span_s"],
                 # the client's start-up and its watch's tail included
                 "cpu_ms_each": round(cpu * 1000 / PODS, 1)}
    print("bench/pods: %s: %d pods%s, %d Ready; create -> Ready p50 %.3f s, p99 %.3f s, "
          "all in %.1f s; %.1f ms CPU each" % (mode, PODS, " at %g/s" % rate if rate else " at once",
                                               res["ready"], out[mode]["p50_s"] or -1,
                                               out[mode]["p99_s"] or -1, res["span_s"] or -1,
                                               out[mode]["cpu_ms_each"]))
    if mode == "burst":
        out[mode]["p99_vs_bare_runc"] = round(out[mode]["p99_s"] / out["runc_burst"]["p99_s"], 2)
        print("bench/pods: burst p99 / bare runc p99: %.2f" % out[mode]["p99_vs_bare_runc"])
        # back to an empty node, so both runs start alike
        n.kubectl("delete", "pods", "-l", "bench=b", "--wait=true", "--timeout=120s",
                  check_rc=False)
        made -= PODS
res = {"ready": made}
if "fill" in MODES and FILL > made:
    r = n.nsh("python3", "-c", CLIENT, str(API_PORT), IMAGE, str(FILL - made), "f", "0",
              timeout=300)
    fill = json.loads(r.stdout.strip().splitlines()[-1])
    out["fill_ready"] = res["ready"] + fill["ready"]
time.sleep(2)
out["agent_rss_mb"] = round(rss_kb(n.agent.pid) / 1024.0, 1)
if os.environ.get("MALLOC_STATS"):  # glibc's arena totals, into the agent's log
    subprocess.run(["gdb", "-batch", "-p", str(n.agent.pid), "-ex", "call (void)malloc_stats()"],
                   capture_output=True, timeout=60)
if os.environ.get("SMAPS_OUT"):  # where the agent's RSS is, by mapping
    shutil.copy("/proc/%d/smaps" % n.agent.pid, os.environ["SMAPS_OUT"])
shims = subprocess.run(["pgrep", "-f", "berth-(agent|shim) shim"], capture_output=True, text=True).stdout.split()
out["shim_rss_mb_each"] = round(sum(rss_kb(int(p)) for p in shims) / 1024.0 / max(1, len(shims)), 2)
print("bench/pods: %d pods running, agent RSS %.1f MB (goal <= 32), shim RSS %.2f MB each"
      % (out.get("fill_ready", made), out["agent_rss_mb"], out["shim_rss_mb_each"]))
os.makedirs(os.path.join(REPO, ".output/bench"), exist_ok=True)
with open(os.path.join(REPO, ".output/bench/pods.json"), "w") as f:
    json.dump(out, f, indent=1)
print("results: .output/bench/pods.json")
