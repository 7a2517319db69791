# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Node lifecycle: a node that stops heartbeating turns Ready=Unknown with
the unreachable taints, its pods are marked not ready and evicted after
their tolerationSeconds (a ReplicaSet's replacements land on the other
node), it comes back clean; a NotReady node gets the not-ready taints; pods
get the default 300 s tolerations."""
import os

from kwok import Cluster, Server, check, items, wait_for

here = os.path.dirname(os.path.abspath(__file__))
sched_dir = os.path.join(here, "..", "..", "control", "scheduler")
has_sched = os.environ.get("NO_SCHED") is None and any('.name = "scheduler"' in open(os.path.join(sched_dir, f)).read()
                for f in os.listdir(sched_dir) if f.endswith(".c"))
ctls = "nodelifecycle,replicaset,garbagecollector" + (",scheduler" if has_sched else "")
s = Server("--controllers", ctls, "--node-monitor-grace-period", "2")
c = Cluster(s, bind=not has_sched)
NS = "/api/v1/namespaces/default"
UNREACH = "node.kubernetes.io/unreachable"
NOT_READY = "node.kubernetes.io/not-ready"


def node(name):
    return s.req("GET", "/api/v1/nodes/" + name)[1]


def ready(n):
    for cond in n.get("status", {}).get("conditions", []):
        if cond["type"] == "Ready":
            return cond
    return {}


def taints(n):
    return sorted((t["key"], t["effect"]) for t in n.get("spec", {}).get("taints") or [])


def pod(name):
    st, out, _ = s.req("GET", NS + "/pods/" + name)
    return out if st == 200 else None


def pod_ready(p):
    return any(x["type"] == "Ready" and x["status"] == "True"
               for x in p.get("status", {}).get("conditions", []))


c.add_node("n1")
wait_for("n1 Ready", lambda: ready(node("n1")).get("status") == "True", 5)
check(taints(node("n1")) == [], "a ready node has no lifecycle taints")

TOL = [{"key": UNREACH, "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 2}]
SPEC = {"containers": [{"name": "c", "image": "nginx"}], "terminationGracePeriodSeconds": 1,
        "tolerations": TOL}


def mkpod(name, spec):
    st, out, _ = s.req("POST", NS + "/pods", {"apiVersion": "v1", "kind": "Pod",
                                              "metadata": {"name": name}, "spec": spec})
    check(st == 201, "pod %s created: %s" % (name, out))
    return out


p = mkpod("p-default", {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "n1"})
check(sorted((t["key"], t["effect"], t["tolerationSeconds"]) for t in p["spec"]["tolerations"])
      == [(NOT_READY, "NoExecute", 300), (UNREACH, "NoExecute", 300)],
      "a pod gets the default not-ready/unreachable tolerations of 300 s")
p = mkpod("p-own", dict(SPEC, nodeName="n1"))
check([t["key"] for t in p["spec"]["tolerations"]] == [UNREACH, NOT_READY],
      "a pod's own unreachable toleration is kept, only not-ready is added")
mkpod("p-forever", {"containers": [{"name": "c", "image": "nginx"}], "nodeName": "n1",
                    "tolerations": [{"operator": "Exists"}]})
st, rs, _ = s.req("POST", "/apis/apps/v1/namespaces/default/replicasets", {
    "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "web"},
    "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}}, "spec": SPEC}}})
check(st == 201, "replicaset created")


def web():
    return [x for x in items(s, NS + "/pods?labelSelector=app%3Dweb")
            if not x["metadata"].get("deletionTimestamp")]


wait_for("replicaset pods running on n1",
         lambda: len(web()) == 2 and all(x["spec"].get("nodeName") == "n1" and pod_ready(x)
                                         for x in web()), 15)
wait_for("all pods on n1 ready", lambda: all(pod_ready(pod(n)) for n in ("p-default", "p-own", "p-forever")), 10)
c.add_node("n2")
c.stop_heartbeat("n1")

n1 = wait_for("n1 Ready=Unknown after the grace period",
              lambda: (lambda n: n if ready(n).get("status") == "Unknown" else None)(node("n1")), 10)
r = ready(n1)
check(r["reason"] == "NodeStatusUnknown" and r["message"] == "Kubelet stopped posting node status.",
      "Unknown condition says why: %s" % r)
wait_for("n1 tainted unreachable NoSchedule and NoExecute",
         lambda: taints(node("n1")) == [(UNREACH, "NoExecute"), (UNREACH, "NoSchedule")], 5)
wait_for("pods on n1 marked not ready", lambda: not pod_ready(pod("p-forever")), 5)
check(pod("p-own") is not None and not pod("p-own")["metadata"].get("deletionTimestamp"),
      "a pod tolerating 2 s is not evicted at once")
wait_for("the pod tolerating 2 s is evicted and, its node unreachable, removed",
         lambda: pod("p-own") is None, 10)
wait_for("the replicaset's pods replaced on n2",
         lambda: len(web()) == 2 and all(x["spec"].get("nodeName") == "n2" and pod_ready(x)
                                         for x in web()), 15)
check(pod("p-forever") is not None, "a pod tolerating the taint for ever stays")
check(pod("p-default") is not None, "a pod with the default 300 s stays")
evs = items(s, NS + "/events")
check(any(e.get("reason") == "NodeNotReady" and e["involvedObject"].get("name") == "n1" for e in evs),
      "NodeNotReady event")
check(any(e.get("reason") == "TaintManagerEviction" for e in evs), "eviction event")

# the node comes back
with c.lock:
    c.nodes["n1"]["heartbeat"] = True
wait_for("n1 Ready again", lambda: ready(node("n1")).get("status") == "True", 10)
wait_for("n1 taints removed", lambda: taints(node("n1")) == [], 5)

# a node whose kubelet says NotReady
c.add_node("n3", ready=False)
wait_for("n3 tainted not-ready",
         lambda: taints(node("n3")) == [(NOT_READY, "NoExecute"), (NOT_READY, "NoSchedule")], 5)
check(not c.errors, "kwok errors: %s" % c.errors[:3])
c.stop()
print("PASS")
