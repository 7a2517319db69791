#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Static pods run from --static-pods and are mirrored to the API; an agent
restart adopts running containers without restarting them; a pod deleted
while the agent is down is cleaned up when it returns; init containers run
in order before the containers, and a postStart hook blocks the next
container."""
import atexit
import json
import os
import shutil
import tempfile
import subprocess
import time

from kubelet_lib import IMAGE, check, pod_node, wait_for

static = tempfile.mkdtemp(prefix="berth-static-")
atexit.register(shutil.rmtree, static, True)
with open(os.path.join(static, "st.yaml"), "w") as f:
    f.write("apiVersion: v1\nkind: Pod\nmetadata:\n  name: st\nspec:\n"
            "  containers:\n  - name: c\n    image: %s\n"
            "    command: [sh, -c, 'echo static; sleep 3600']\n" % IMAGE)
n, args = pod_node("kt-static", static=static)
root = os.path.join(n.tmp, "agent")


def cstatus(name, key="containerStatuses", i=0):
    o = n.get("pod", name)
    return ((o or {}).get("status", {}).get(key) or [{}])[i]


mirror = wait_for("mirror pod st-kt-static Running",
                  lambda: (lambda o: o if o and o["status"].get("phase") == "Running" else None)(
                      n.get("pod", "st-kt-static")), 40)
check("kubernetes.io/config.mirror" in mirror["metadata"].get("annotations", {}),
      "mirror annotation")
check("static" in n.kubectl("logs", "st-kt-static").stdout, "logs of the static pod")
old_uid = mirror["metadata"]["uid"]
n.kubectl("delete", "pod", "st-kt-static", "--wait=false")
wait_for("a deleted mirror pod comes back",
         lambda: (lambda o: o and o["metadata"]["uid"] != old_uid and
                  o["status"].get("phase") == "Running")(n.get("pod", "st-kt-static")), 30)

pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "seq"},
       "spec": {"terminationGracePeriodSeconds": 1,
                "initContainers": [
                    {"name": "i1", "image": IMAGE, "command": ["sh", "-c", "sleep 1"]},
                    {"name": "i2", "image": IMAGE, "command": ["sh", "-c", "true"]}],
                "containers": [
                    {"name": "a", "image": IMAGE, "command": ["sh", "-c", "sleep 3600"],
                     "lifecycle": {"postStart": {"exec": {"command": ["sh", "-c", "sleep 2"]}}}},
                    {"name": "b", "image": IMAGE, "command": ["sh", "-c", "sleep 3600"]}]}}
n.kubectl("apply", "-f", "-", input=json.dumps(pod))
n.kubectl("apply", "-f", "-", input=json.dumps(
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "victim"},
     "spec": {"terminationGracePeriodSeconds": 1, "containers": [
         {"name": "c", "image": IMAGE, "command": ["sh", "-c", "sleep 3600"]}]}}))
n.kubectl("apply", "-f", "-", input=json.dumps(
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "forced"},
     "spec": {"terminationGracePeriodSeconds": 1, "containers": [
         {"name": "c", "image": IMAGE, "command": ["sh", "-c", "sleep 3600"]}]}}))
wait_for("seq Running", lambda: n.get("pod", "seq")["status"].get("phase") == "Running" and
         all("running" in c["state"] for c in n.get("pod", "seq")["status"]["containerStatuses"]), 60)
st = n.get("pod", "seq")["status"]
i1, i2 = st["initContainerStatuses"]
check(i1["state"]["terminated"]["reason"] == "Completed" and
      i2["state"]["terminated"]["reason"] == "Completed", "init containers completed")
check(i1["state"]["terminated"]["finishedAt"] <= i2["state"]["terminated"]["startedAt"],
      "i1 finished before i2 started")
a, b = st["containerStatuses"]
ta = a["state"]["running"]["startedAt"]
tb = b["state"]["running"]["startedAt"]
check(i2["state"]["terminated"]["finishedAt"] <= ta, "containers after init containers")
check(time.mktime(time.strptime(tb, "%Y-%m-%dT%H:%M:%SZ")) -
      time.mktime(time.strptime(ta, "%Y-%m-%dT%H:%M:%SZ")) >= 1,
      "postStart of a (2 s) blocked b: %s -> %s" % (ta, tb))
wait_for("victim Running", lambda: "running" in cstatus("victim").get("state", {}), 30)
wait_for("forced Running", lambda: "running" in cstatus("forced").get("state", {}), 30)
forced_uid = n.get("pod", "forced")["metadata"]["uid"]

before = {nm: cstatus(nm) for nm in ("seq", "st-kt-static")}
n.stop_agent()
n.kubectl("delete", "pod", "victim", "--wait=false")
# gone from the API at once: only the agent's own records know it
n.kubectl("delete", "pod", "forced", "--grace-period=0", "--force")
check(n.get("pod", "forced") is None, "forced deleted from the API while the agent is down")
n.start_agent(*args)
time.sleep(4)
for nm, old in before.items():
    now = cstatus(nm)
    check(now.get("containerID") == old["containerID"] and now.get("restartCount") == 0 and
          "running" in now.get("state", {}), "%s adopted without a restart" % nm)
wait_for("victim cleaned up after the restart", lambda: n.get("pod", "victim") is None, 30)
wait_for("forced pod's sandbox removed",
         lambda: forced_uid not in os.listdir(os.path.join(root, "runtime", "pods")), 20)
vic = [u for u in os.listdir(os.path.join(root, "runtime", "pods"))]
check(len(vic) == 2, "sandboxes left: the static pod and seq (%d)" % len(vic))

os.unlink(os.path.join(static, "st.yaml"))
wait_for("static pod removed with its manifest", lambda: n.get("pod", "st-kt-static") is None, 30)
n.kubectl("delete", "pod", "seq", "--wait=false")
wait_for("seq gone", lambda: n.get("pod", "seq") is None, 30)
n.stop_agent()
print("PASS")
