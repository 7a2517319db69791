#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""An agent restart with many pods: 20 running pods (one with an init
container and two containers) are all adopted, none restarted (same
container IDs, restartCount 0, still running); the agent lists the
runtime's containers once for all of them (its log says how many), and a
pod created after the restart starts normally."""
import json
import os
import re
import time

from kubelet_lib import IMAGE, check, pod_node, wait_for

N = 20
n, args = pod_node("kt-adopt-many")


def pod(name, init=False):
    spec = {"terminationGracePeriodSeconds": 1, "containers": [
        {"name": "c", "image": IMAGE, "command": ["sleep", "3600"]}]}
    if init:
        spec["initContainers"] = [{"name": "i", "image": IMAGE, "command": ["true"]}]
        spec["containers"].append({"name": "d", "image": IMAGE, "command": ["sleep", "3600"]})
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"t": "adopt"}}, "spec": spec}


items = [pod("a-%d" % i, init=(i == 0)) for i in range(N)]
n.kubectl("apply", "-f", "-", input=json.dumps({"apiVersion": "v1", "kind": "List",
                                                "items": items}))


def statuses():
    out = {}
    for o in (n.get("pods", "-l", "t=adopt") or {}).get("items", []):
        for c in o.get("status", {}).get("containerStatuses") or []:
            out["%s/%s" % (o["metadata"]["name"], c["name"])] = c
    return out


wait_for("%d pods running" % N, lambda: (lambda s: len(s) == N + 1 and all(
    "running" in c["state"] and c.get("ready") for c in s.values()))(statuses()), 90)
before = statuses()
# the pod's /etc/hosts names its IP (written again once CNI gave it), its
# /etc/hostname its name (written once)
o = n.get("pod", "a-1")
pdir = os.path.join(n.tmp, "agent", "runtime", "pods", o["metadata"]["uid"])
with open(os.path.join(pdir, "hosts")) as f:
    hosts = f.read()
with open(os.path.join(pdir, "hostname")) as f:
    check(f.read() == "a-1\n", "hostname file")
check(re.search(r"^%s\s+a-1$" % re.escape(o["status"]["podIP"]), hosts, re.M),
      "hosts names the pod IP: %r" % hosts)
n.stop_agent()
with open(n.tmp + "/agent.log") as f:
    mark = len(f.read())


def new_log():
    with open(n.tmp + "/agent.log") as f:
        return f.read()[mark:]


t0 = time.monotonic()
n.start_agent(*args)
wait_for("every pod adopted by the new agent",
         lambda: new_log().count("adopted its containers") >= N, 30)
took = time.monotonic() - t0
time.sleep(3)  # a few ticks of the new workers: a restart would show now
after = statuses()
for k, old in sorted(before.items()):
    now = after.get(k, {})
    check(now.get("containerID") == old["containerID"] and now.get("restartCount") == 0 and
          "running" in now.get("state", {}),
          "%s adopted, not restarted (%s -> %s)" % (k, old["containerID"],
                                                     now.get("containerID")))
log = new_log()
check(log.count("adopted its containers") == N, "each pod adopted once")
check(re.findall(r"started container", log) == [], "no container started after the restart")
m = re.findall(r"runtime holds (\d+) containers", log)
check(m == [str(N + 2)], "the runtime's containers listed once: %s" % m)
print("ok: %d pods adopted in %.1f s" % (N, took))
n.kubectl("apply", "-f", "-", input=json.dumps(pod("late")))
wait_for("a pod created after the restart runs", lambda: "running" in (
    (n.get("pod", "late") or {}).get("status", {}).get("containerStatuses") or [{}])[0]
    .get("state", {}), 30)
n.kubectl("delete", "pods", "-l", "t=adopt", "--wait=false")
n.kubectl("delete", "pod", "late", "--wait=false")
wait_for("pods deleted", lambda: not (n.get("pods") or {}).get("items"), 60)
n.stop_agent()
print("PASS")
