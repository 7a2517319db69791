# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""DaemonSet controller: a pod per eligible node (nodeSelector, taints and
tolerations), following node add/remove/label/taint changes, the default
tolerations and node pinning of daemon pods, status and kubectl columns."""
import os
import subprocess

from kwok import Cluster, Server, check, items, wait_for

s = Server("--controllers", "daemonset")
c = Cluster(s)
NS = "/apis/apps/v1/namespaces/default/daemonsets"
c.add_node("n1", labels={"disk": "ssd"})
c.add_node("n2")
c.add_node("n3", taints=[{"key": "dedicated", "value": "db", "effect": "NoSchedule"}])


def ds(name, **spec):
    tmpl_spec = {"containers": [{"name": "c", "image": "agent:1"}]}
    tmpl_spec.update(spec)
    return {"apiVersion": "apps/v1", "kind": "DaemonSet",
            "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}},
                     "template": {"metadata": {"labels": {"app": name}},
                                  "spec": tmpl_spec}}}


def placed(name):
    """node -> pod names of the DaemonSet's live pods."""
    out = {}
    for p in items(s, "/api/v1/namespaces/default/pods?labelSelector=app%3D" + name):
        if not p["metadata"].get("deletionTimestamp"):
            out.setdefault(p["spec"].get("nodeName", ""), []).append(p["metadata"]["name"])
    return out


def on_nodes(name, nodes):
    got = placed(name)
    return got if sorted(got) == sorted(nodes) and all(len(v) == 1 for v in got.values()) else None


def status(name):
    return s.req("GET", NS + "/" + name)[1].get("status", {})


st, out, _ = s.req("POST", NS, ds("agent"))
check(st == 201, "daemonset created: %s" % out)
wait_for("a pod on each untainted node", lambda: on_nodes("agent", ["n1", "n2"]), 10)
pod = items(s, "/api/v1/namespaces/default/pods?labelSelector=app%3Dagent")[0]
terms = pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
check(terms == [{"matchFields": [{"key": "metadata.name", "operator": "In",
                                  "values": [pod["spec"]["nodeName"]]}]}],
      "pod pinned to its node by matchFields metadata.name: %s" % terms)
tols = {(t.get("key"), t.get("effect")) for t in pod["spec"]["tolerations"]}
for want in [("node.kubernetes.io/not-ready", "NoExecute"), ("node.kubernetes.io/unreachable", "NoExecute"),
             ("node.kubernetes.io/disk-pressure", "NoSchedule"),
             ("node.kubernetes.io/memory-pressure", "NoSchedule"),
             ("node.kubernetes.io/pid-pressure", "NoSchedule"),
             ("node.kubernetes.io/unschedulable", "NoSchedule")]:
    check(want in tols, "default toleration %s:%s" % want)
check(pod["metadata"]["labels"].get("controller-revision-hash"), "revision hash label")
wait_for("status counts 2 ready", lambda: status("agent").get("numberReady") == 2 and
         status("agent").get("desiredNumberScheduled") == 2 and
         status("agent").get("numberAvailable") == 2 and
         status("agent").get("updatedNumberScheduled") == 2 and
         status("agent").get("currentNumberScheduled") == 2 and
         status("agent").get("numberMisscheduled") == 0 and
         status("agent").get("observedGeneration") == 1, 10)

# node add / remove
c.add_node("n4")
wait_for("new node gets a pod", lambda: on_nodes("agent", ["n1", "n2", "n4"]), 10)
c.remove_node("n4")
wait_for("removed node's pod gone", lambda: on_nodes("agent", ["n1", "n2"]), 10)

# a toleration lets it onto the tainted node
st, _, _ = s.req("PATCH", NS + "/agent", {"spec": {"template": {"spec": {"tolerations": [
    {"key": "dedicated", "operator": "Equal", "value": "db", "effect": "NoSchedule"}]}}}},
    "application/merge-patch+json")
check(st == 200, "toleration added")
wait_for("tolerating pods on all three nodes", lambda: on_nodes("agent", ["n1", "n2", "n3"]), 20)

# a NoExecute taint evicts the daemon pod from that node
st, _, _ = s.req("PATCH", "/api/v1/nodes/n2", {"spec": {"taints": [
    {"key": "maintenance", "value": "now", "effect": "NoExecute"}]}}, "application/merge-patch+json")
check(st == 200, "n2 tainted NoExecute")
wait_for("pod leaves the NoExecute-tainted node", lambda: on_nodes("agent", ["n1", "n3"]), 10)
s.req("PATCH", "/api/v1/nodes/n2", {"spec": {"taints": []}}, "application/merge-patch+json")
wait_for("pod back after the taint is removed", lambda: on_nodes("agent", ["n1", "n2", "n3"]), 10)

# a new NoSchedule taint keeps the running pod but counts it misscheduled
st, _, _ = s.req("PATCH", "/api/v1/nodes/n2", {"spec": {"taints": [
    {"key": "gpu", "value": "only", "effect": "NoSchedule"}]}}, "application/merge-patch+json")
check(st == 200, "n2 tainted NoSchedule")
wait_for("NoSchedule: pod kept, misscheduled 1, desired 2", lambda: on_nodes("agent", ["n1", "n2", "n3"]) and
         status("agent").get("numberMisscheduled") == 1 and status("agent").get("desiredNumberScheduled") == 2, 10)
s.req("PATCH", "/api/v1/nodes/n2", {"spec": {"taints": []}}, "application/merge-patch+json")
wait_for("taint gone: desired 3 again", lambda: status("agent").get("numberMisscheduled") == 0 and
         status("agent").get("desiredNumberScheduled") == 3, 10)

# nodeSelector, and a label change that follows it
st, _, _ = s.req("POST", NS, ds("ssd", nodeSelector={"disk": "ssd"}))
check(st == 201, "ssd daemonset created")
wait_for("nodeSelector: only n1", lambda: on_nodes("ssd", ["n1"]), 10)
s.req("PATCH", "/api/v1/nodes/n2", {"metadata": {"labels": {"disk": "ssd"}}}, "application/merge-patch+json")
wait_for("labelled node gains a pod", lambda: on_nodes("ssd", ["n1", "n2"]), 10)
s.req("PATCH", "/api/v1/nodes/n1", {"metadata": {"labels": {"disk": None}}}, "application/merge-patch+json")
wait_for("unlabelled node loses its pod", lambda: on_nodes("ssd", ["n2"]), 10)

# kubectl columns
env = dict(os.environ, KUBECONFIG=os.path.join(s.tmp, "data", "kubeconfig"))


def kubectl_row():
    out = subprocess.run(["kubectl", "get", "ds", "ssd"], env=env, capture_output=True, text=True, timeout=20)
    lines = out.stdout.split("\n")
    check(lines[0].split()[:7] == ["NAME", "DESIRED", "CURRENT", "READY", "UP-TO-DATE", "AVAILABLE", "NODE"],
          "kubectl get ds header: %r" % out.stdout)
    return lines[1].split()[:7] == ["ssd", "1", "1", "1", "1", "1", "disk=ssd"] or lines[1]


wait_for("kubectl get ds row 1 1 1 1 1", lambda: kubectl_row() is True, 10)
out = subprocess.run(["kubectl", "rollout", "status", "ds/agent", "--timeout=20s"], env=env,
                     capture_output=True, text=True, timeout=30)
check(out.returncode == 0 and "successfully rolled out" in out.stdout,
      "kubectl rollout status ds: %s %s" % (out.stdout, out.stderr))
check(not c.errors, "kwok errors: %s" % c.errors[:3])
c.stop()
