#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The agent refuses a pod that asks for the host's network (or a
privileged container) in a namespace without
pod-security.kubernetes.io/enforce=privileged: the pod stays Pending with
reason Forbidden and a message naming the field, no container runs; the
same pod runs in a namespace that carries the label. The agent's local
unix sockets are root-only (0600)."""
import json
import os
import stat
import time

from kubelet_lib import IMAGE, check, pod_node, wait_for

n, _ = pod_node("kt-hostpods")
ROOT = os.path.join(n.tmp, "agent")


def apply(obj):
    n.kubectl("apply", "-f", "-", input=json.dumps(obj))


def pod(name, ns, host_net=False, privileged=False):
    c = {"name": "main", "image": IMAGE, "command": ["sh", "-c", "echo up; sleep 3600"]}
    if privileged:
        c["securityContext"] = {"privileged": True}
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "namespace": ns},
            "spec": {"terminationGracePeriodSeconds": 1, "hostNetwork": host_net,
                     "containers": [c]}}


def status(name, ns="default"):
    p = n.get("pod", name, "-n", ns)
    return (p or {}).get("status", {})


apply({"apiVersion": "v1", "kind": "Namespace",
       "metadata": {"name": "priv",
                    "labels": {"pod-security.kubernetes.io/enforce": "privileged"}}})
apply(pod("hostnet", "default", host_net=True))
apply(pod("privctr", "default", privileged=True))
apply(pod("hostnet", "priv", host_net=True))
apply(pod("plain", "default"))

st = wait_for("hostNetwork pod refused",
              lambda: status("hostnet").get("reason") == "Forbidden" and status("hostnet"), 60)
check("spec.hostNetwork" in st.get("message", "") and
      "pod-security.kubernetes.io/enforce=privileged" in st.get("message", ""),
      "message names the field and the label: %s" % st.get("message"))
st = wait_for("privileged container refused",
              lambda: status("privctr").get("reason") == "Forbidden" and status("privctr"), 60)
check("spec.containers[main].securityContext.privileged" in st.get("message", ""),
      "message names the privileged container: %s" % st.get("message"))
wait_for("the labelled namespace runs the hostNetwork pod",
         lambda: status("hostnet", "priv").get("phase") == "Running", 90)
wait_for("a plain pod runs", lambda: status("plain").get("phase") == "Running", 90)
time.sleep(2)
for name in ("hostnet", "privctr"):
    st = status(name)
    check(st.get("phase") == "Pending" and not st.get("containerStatuses", [{}])[0]
          .get("state", {}).get("running"), "%s still Pending, nothing running" % name)

for sock in ("agent.sock", "monitor.sock"):
    path = os.path.join(ROOT, sock)
    if not os.path.exists(path):
        check(sock == "monitor.sock", "%s exists" % sock)
        continue
    st = os.stat(path)
    check(stat.S_IMODE(st.st_mode) == 0o600 and st.st_uid == 0,
          "%s is root-only: %o uid %d" % (sock, stat.S_IMODE(st.st_mode), st.st_uid))
print("ok")
