#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A container past its memory limit is killed by the kernel's OOM killer in
its own cgroup: the agent reports it as Kubernetes does (terminated, reason
OOMKilled, exit code 137), restarts it per restartPolicy with the reason in
lastState, and a sibling container within its limit keeps running."""
import json

from kubelet_lib import IMAGE, check, pod_node, wait_for

n, _ = pod_node("kt-oom")

# tail keeps a whole "line" of /dev/zero in memory: far past 24 MiB
hog = "sleep 1; x=$(head -c 200m /dev/zero | tr \"\\\\000\" a); echo survived ${#x}"
pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "hog"},
       "spec": {"restartPolicy": "Always", "terminationGracePeriodSeconds": 1,
                "containers": [
                    {"name": "hog", "image": IMAGE, "command": ["sh", "-c", hog],
                     "resources": {"limits": {"memory": "24Mi"}}},
                    {"name": "calm", "image": IMAGE, "command": ["sleep", "3600"],
                     "resources": {"limits": {"memory": "24Mi"}}}]}}
n.kubectl("apply", "-f", "-", input=json.dumps(pod))


def cs(name):
    o = n.get("pod", "hog")
    for c in ((o or {}).get("status") or {}).get("containerStatuses", []):
        if c["name"] == name:
            return c
    return None


def oom_seen():
    c = cs("hog")
    if not c:
        return None
    for st in (c.get("lastState", {}), c.get("state", {})):
        t = st.get("terminated")
        if t and t.get("reason") == "OOMKilled":
            return c, t
    return None


c, t = wait_for("hog terminated with reason OOMKilled", oom_seen, 60)
check(t.get("exitCode") == 137, "exit code 137 (SIGKILL): %r" % t)
c = wait_for("hog restarted after the OOM kill",
             lambda: (lambda c: c if c and c.get("restartCount", 0) >= 1 else None)(cs("hog")), 60)
last = c.get("lastState", {}).get("terminated", {})
check(last.get("reason") == "OOMKilled", "lastState says OOMKilled: %r" % last)
calm = cs("calm")
check(calm and calm.get("restartCount") == 0 and "running" in calm.get("state", {}),
      "the sibling within its limit keeps running: %r" % calm)
print("PASS")
