#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berth-agent --server registers its Node: Ready with a podCIDR, labels,
capacity, addresses and kubelet port; renews its Lease; the Node turns
NotReady (Ready=Unknown) when the agent stops, and Ready again when it
returns."""
import re
import time

from kubelet_lib import NODE_IP, Node, check, wait_for


def ready(node):
    for c in node["status"].get("conditions", []):
        if c["type"] == "Ready":
            return c["status"]
    return None


n = Node("kt-node", server_args=("--node-monitor-grace-period", "15"),
         agent_args=("--kubelet-port", "10350"))
n.start_agent()

node = wait_for("Node registered, Ready, with a podCIDR",
                lambda: (lambda o: o if o and ready(o) == "True" and o["spec"].get("podCIDR") else None)(
                    n.get("node", "kt-node")), 20)
labels = node["metadata"]["labels"]
check(labels.get("kubernetes.io/hostname") == "kt-node" and
      labels.get("kubernetes.io/os") == "linux" and "kubernetes.io/arch" in labels,
      "labels hostname/os/arch: %s" % labels)
st = node["status"]
check(st["capacity"].get("pods") == "110" and "cpu" in st["capacity"] and
      st["capacity"]["memory"].endswith("Ki") and "ephemeral-storage" in st["capacity"],
      "capacity: %s" % st["capacity"])
check({"type": "InternalIP", "address": NODE_IP} in st["addresses"] and
      {"type": "Hostname", "address": "kt-node"} in st["addresses"],
      "addresses: %s" % st["addresses"])
check(st["daemonEndpoints"]["kubeletEndpoint"]["Port"] == 10350, "kubelet port")
check(st["nodeInfo"]["containerRuntimeVersion"].startswith("runc://") and
      st["nodeInfo"]["operatingSystem"] == "linux", "nodeInfo: %s" % st["nodeInfo"])
check(sorted(c["type"] for c in st["conditions"]) ==
      ["DiskPressure", "MemoryPressure", "PIDPressure", "Ready"], "four conditions")
print("podCIDR", node["spec"]["podCIDR"])

out = n.kubectl("get", "nodes").stdout
check("kt-node" in out and " Ready" in out, "kubectl get nodes shows it Ready:\n" + out)

lease = wait_for("Lease in kube-node-lease",
                 lambda: n.get("lease", "-n", "kube-node-lease", "kt-node"), 10)
check(lease["spec"]["holderIdentity"] == "kt-node" and
      lease["spec"]["leaseDurationSeconds"] == 40, "lease holder and duration")
t0 = lease["spec"]["renewTime"]
wait_for("Lease renewed",
         lambda: n.get("lease", "-n", "kube-node-lease", "kt-node")["spec"]["renewTime"] != t0, 15)
check(True, "lease renewTime moves")

# restart: the same Node is taken over, not duplicated
n.stop_agent()
stopped = time.time()
wait_for("Node NotReady after the agent stopped",
         lambda: ready(n.get("node", "kt-node")) in ("Unknown", "False"), 45)
check(time.time() - stopped > 10, "not before the grace period (%.0fs)" % (time.time() - stopped))
out = n.kubectl("get", "nodes").stdout
# as Kubernetes prints it for Ready=Unknown
check(re.search(r"kt-node +NotReady ", out), "kubectl shows NotReady:\n" + out)
n.start_agent()
wait_for("Ready again after the agent returns",
         lambda: ready(n.get("node", "kt-node")) == "True", 25)
check(len(n.get("nodes")["items"]) == 1, "one Node")
n.stop_agent()
print("PASS")
