#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berthctl monitor against a real agent: a pod's connection to a
ClusterIP without endpoints is refused by the datapath and shows up as a
drop ("service has no endpoints") naming the pod, in JSON and in text;
while `berthctl monitor --type trace` is connected the node's events_cfg
map turns tracing on and pod-to-pod traffic shows up as trace lines
naming both pods; when the last trace client leaves tracing is off again.
The BPF dataplane only (the iptables one has no ring buffer)."""
import json
import os
import subprocess
import time

import multinode as M
import cluster as C

CTL = os.path.join(C.BIN, "berthctl")
NO_SERVICE = 2  # BERTH_DROP_NO_SERVICE (include/berth/abi/metrics.h)
TRACE_FLAG = 1  # BERTH_EVENTS_F_TRACE (include/berth/abi/events.h)

if M.iptables():
    M.skip("no datapath events with the iptables dataplane")
c = M.cluster(nodes=1)
n = c.nodes[0]
pods = M.start_pods(c, 2, extra=[M.service("empty", {"app": "nobody"})])
client, server = pods["web-1-0"], pods["web-1-1"]
ns = client["metadata"].get("namespace", "default")
client_key = "%s/%s" % (ns, client["metadata"]["name"])
server_key = "%s/%s" % (ns, server["metadata"]["name"])
cip = c.get("service", "empty")["spec"]["clusterIP"]


def monitor(*args):
    """berthctl monitor on the node's socket, in the background"""
    return subprocess.Popen([CTL, "monitor", "--root", n.root, *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(p, what, timeout=15):
    try:
        out, err = p.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        out, err = p.communicate()
        M.fail("%s: nothing within %ds (stderr %r)\n%s" % (what, timeout, err, n.log_tail(40)))
    M.check(p.returncode == 0, "%s: exit %d (%s)" % (what, p.returncode, err))
    return out


def trace_flag():
    r = subprocess.run(["bpftool", "-j", "map", "lookup", "pinned",
                        os.path.join(n.pin_dir, "events_cfg"), "key", "0", "0", "0", "0"],
                       capture_output=True, text=True, timeout=10)
    M.check(r.returncode == 0, "bpftool map lookup events_cfg: %s" % r.stderr.strip())
    v = json.loads(r.stdout)
    val = v.get("formatted", {}).get("value", {})
    if isinstance(val, dict) and "flags" in val:
        return val["flags"]
    return int(v["value"][0], 16)  # no BTF: the first byte (little endian)


M.check(trace_flag() == 0, "tracing is off while no trace client is connected")

# ---- a drop: the ClusterIP without endpoints refuses the connection ----
js = monitor("--type", "drop", "--pod", client_key, "--count", "1", "-o", "json")
txt = monitor("--type", "drop", "--pod", client["metadata"]["name"], "--count", "1")
time.sleep(1)  # both connected before the packet, or the line is not theirs
for _ in range(3):
    r = c.pod_exec(client, "curl", "-sS", "-m", "2", "http://%s/" % cip, check=False)
    M.check(r.returncode != 0, "a Service without endpoints refuses (%r)" % r.stdout)
    if js.poll() is not None and txt.poll() is not None:
        break
ev = json.loads(finish(js, "monitor --type drop -o json").splitlines()[0])
want = {"type": "drop", "reason_code": NO_SERVICE, "proto": "TCP", "src_pod": client_key,
        "src": client["status"]["podIP"], "dst": cip, "dport": 80, "dir": "egress",
        "node": n.name}
M.check(all(ev.get(k) == v for k, v in want.items()) and ev.get("len", 0) > 0
        and ev.get("ifindex", 0) > 0,
        "drop line like %s, with its size and device (got %s)" % (want, ev))
line = finish(txt, "monitor --type drop (text)").splitlines()[0]
M.check("xx drop (service has no endpoints" in line and "(%s)" % client_key in line
        and "%s:80" % cip in line, "text drop line names the reason and the pod: %r" % line)
M.log("drop: %s" % line)

# ---- traces: on while a trace client is connected ----
# (the kubelet's readiness probes are traced too: look for the client's)
tr = monitor("--type", "trace", "--pod", server_key, "-o", "json")
M.wait("events_cfg: tracing on with a trace client", lambda: trace_flag() == TRACE_FLAG,
       timeout=10)
os.set_blocking(tr.stdout.fileno(), False)
lines, buf, deadline = [], "", time.monotonic() + 15
to_server = []
while not to_server and time.monotonic() < deadline and tr.poll() is None:
    got = M.curl(c, client, "http://%s:8080/" % server["status"]["podIP"])
    M.check(got == server["metadata"]["name"], "pod to pod while tracing: %r" % got)
    time.sleep(0.3)
    try:
        buf += os.read(tr.stdout.fileno(), 1 << 16).decode()
    except BlockingIOError:
        pass
    *new_lines, buf = buf.split("\n")
    lines += [json.loads(ln) for ln in new_lines if ln]
    to_server = [e for e in lines if e["dst_pod"] == server_key and
                 e["src_pod"] == client_key]
tr.terminate()
tr.wait(timeout=10)
M.check(all(e["type"] == "trace" for e in lines), "only trace lines: %s" % lines[:5])
M.check(to_server and all(e["reason"] in ("to-endpoint", "to-pod") and e["dport"] == 8080
                          and e["len"] > 0 for e in to_server),
        "client -> server traced as delivered to the pod: %s" % lines[-5:])
M.wait("events_cfg: tracing off once the last trace client left",
       lambda: trace_flag() == 0, timeout=10)
M.log("trace: %d lines, e.g. %s" % (len(lines), lines[0]))
M.log("PASS")
