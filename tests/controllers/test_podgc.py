# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Pod GC: pods bound to a Node that was deleted are deleted (no kubelet
will ever finish them, and they would stay in Endpoints for good); pods on
a live node are left alone; a terminating pod that was never scheduled is
deleted at once."""
import time

from kwok import Cluster, Server, check, wait_for

s = Server()
c = Cluster(s)
c.add_node("keep")
c.add_node("doomed")


def pod(name, node=None):
    spec = {"containers": [{"name": "c", "image": "x"}]}
    if node:
        spec["nodeName"] = node
    meta = {"name": name}
    st, out, _ = s.req("POST", "/api/v1/namespaces/default/pods",
                       {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": spec})
    check(st == 201, "pod %s created: %s" % (name, out))


def gone(name):
    return s.req("GET", "/api/v1/namespaces/default/pods/" + name)[0] == 404


pod("on-keep", "keep")
pod("on-doomed-1", "doomed")
pod("on-doomed-2", "doomed")
wait_for("pods Running", lambda: all(
    (s.req("GET", "/api/v1/namespaces/default/pods/" + n)[1] or {})
    .get("status", {}).get("phase") == "Running"
    for n in ("on-keep", "on-doomed-1", "on-doomed-2")), 20)
c.remove_node("doomed")
t0 = time.time()
wait_for("pods of the deleted node deleted",
         lambda: gone("on-doomed-1") and gone("on-doomed-2"), 30)
print("ok: orphaned pods deleted %.1f s after their node" % (time.time() - t0))
check(not gone("on-keep"), "the pod on a live node stays")

# a pod the scheduler never placed (no node fits it): deleting it ends at once
st, _, _ = s.req("POST", "/api/v1/namespaces/default/pods",
                 {"apiVersion": "v1", "kind": "Pod",
                  "metadata": {"name": "nowhere"},
                  "spec": {"nodeSelector": {"no": "such-node"},
                           "containers": [{"name": "c", "image": "x"}]}})
check(st == 201, "unschedulable pod created")
st, _, _ = s.req("DELETE", "/api/v1/namespaces/default/pods/nowhere")
check(st in (200, 202), "unschedulable pod deleted (graceful)")
wait_for("a terminating pod that was never scheduled is removed",
         lambda: gone("nowhere"), 10)
c.stop()
