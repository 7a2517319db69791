# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Scheduler filters: readiness, unschedulable, resources (quantities, init
containers, pod count), nodeSelector, required node affinity, taints and
tolerations, host ports; the Unschedulable condition with kube-scheduler's
message, its Event, and the retry when a node is added."""
from sched_lib import (check, expect_node, get, pod, start, stays_pending,
                       unschedulable, wait_for)

NOSCHED = [{"key": "dedicated", "value": "infra", "effect": "NoSchedule"}]
s, c = start({
    "a1": {"cpu": "2", "memory": "1Gi", "pods": "4",
           "labels": {"zone": "z1", "disk": "ssd"}},
    "a2": {"cpu": "4", "memory": "8Gi", "labels": {"zone": "z2", "disk": "hdd", "gen": "5"}},
    "a3": {"cpu": "8", "memory": "8Gi", "labels": {"zone": "z1"}, "taints": NOSCHED},
    "a4": {"cpu": "64", "memory": "64Gi", "labels": {"zone": "z2"}, "unschedulable": True},
    "a5": {"cpu": "64", "memory": "64Gi", "labels": {"zone": "z3"}, "ready": False},
})


def host(n):
    return {"nodeSelector": {"kubernetes.io/hostname": n}}


def expr(key, op, values=None, fields=False):
    e = {"key": key, "operator": op}
    if values is not None:
        e["values"] = values
    term = {"matchFields" if fields else "matchExpressions": [e]}
    return {"affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                                          {"nodeSelectorTerms": [term]}}}}


# nodeSelector and required node affinity operators
pod(s, "sel-ssd", nodeSelector={"disk": "ssd"})
expect_node(s, "sel-ssd", "a1")
pod(s, "aff-in", **expr("zone", "In", ["z2"]))  # a4 unschedulable
expect_node(s, "aff-in", "a2")
pod(s, "aff-gt", **expr("gen", "Gt", ["3"]))
expect_node(s, "aff-gt", "a2")
pod(s, "aff-lt", **expr("gen", "Lt", ["3"]))
pod(s, "aff-field", **expr("metadata.name", "In", ["a1"], fields=True))
expect_node(s, "aff-field", "a1")
pod(s, "aff-notin", **expr("disk", "NotIn", ["hdd", "ssd"]), tolerations=[
    {"key": "dedicated", "operator": "Exists"}])
expect_node(s, "aff-notin", "a3")  # NotIn matches nodes without the label
pod(s, "aff-dne", **expr("disk", "DoesNotExist"))  # a3 tainted, a4, a5 out
msg = unschedulable(s, "aff-lt")
check("node(s) didn't match Pod's node affinity/selector" in msg, "Lt: " + msg)
msg = unschedulable(s, "aff-dne")
check(msg == "0/5 nodes are available: 1 node(s) had untolerated taint {dedicated: infra}, "
      "1 node(s) were not ready, 1 node(s) were unschedulable, "
      "2 node(s) didn't match Pod's node affinity/selector.", "DoesNotExist: " + msg)

# taints and tolerations
pod(s, "tol-none", **host("a3"))
pod(s, "tol-equal", tolerations=[{"key": "dedicated", "operator": "Equal", "value": "infra",
                                  "effect": "NoSchedule"}], **host("a3"))
expect_node(s, "tol-equal", "a3")
pod(s, "tol-wrong-value", tolerations=[{"key": "dedicated", "value": "web"}], **host("a3"))
pod(s, "tol-exists-all", tolerations=[{"operator": "Exists"}], **host("a3"))
expect_node(s, "tol-exists-all", "a3")
pod(s, "tol-noexec-only", tolerations=[{"key": "dedicated", "operator": "Exists",
                                        "effect": "NoExecute"}], **host("a3"))
for name in ("tol-none", "tol-wrong-value", "tol-noexec-only"):
    check("1 node(s) had untolerated taint {dedicated: infra}" in unschedulable(s, name),
          name + " not tolerated")
pod(s, "tol-unsched", tolerations=[{"key": "node.kubernetes.io/unschedulable",
                                    "operator": "Exists"}], **host("a4"))
expect_node(s, "tol-unsched", "a4")

# resources: quantities, the init-container rule, the pod count
pod(s, "cpu-big", cpu="3", **expr("zone", "In", ["z1", "z2"]))  # a2 only
expect_node(s, "cpu-big", "a2")
pod(s, "mem-1e9", mem="1e9", **host("a1"))  # 1e9 < 1Gi
expect_node(s, "mem-1e9", "a1")
pod(s, "mem-more", mem="100Mi", **host("a1"))  # 1e9 + 100Mi > 1Gi
check("1 Insufficient memory" in unschedulable(s, "mem-more"), "memory is full")
pod(s, "cpu-milli", cpu="1500m", **host("a1"))
expect_node(s, "cpu-milli", "a1")
pod(s, "init-max", cpu="100m", initContainers=[
    {"name": "i", "image": "x", "resources": {"requests": {"cpu": "1"}}}], **host("a1"))
check("1 Insufficient cpu" in unschedulable(s, "init-max"), "init container request counts")
# a1 holds sel-ssd, aff-field, mem-1e9, cpu-milli (4 = pods) + maybe aff-notin
pod(s, "pods-full", **host("a1"))
check("Too many pods" in unschedulable(s, "pods-full"), "pod count is a resource")

# host ports
pod(s, "port-1", host_ports=[8080], **host("a2"))
expect_node(s, "port-1", "a2")
pod(s, "port-2", host_ports=[8080], **host("a2"))
check("1 node(s) didn't have free ports for the requested pod ports" in unschedulable(s, "port-2"),
      "host port conflict")
pod(s, "port-3", host_ports=[8081], **host("a2"))
expect_node(s, "port-3", "a2")

# retry when the cluster changes: a node added
pod(s, "later", cpu="16")
msg = unschedulable(s, "later")
check(msg.startswith("0/5 nodes are available: ") and "Insufficient cpu" in msg, msg)
ev = wait_for("FailedScheduling event", lambda: [
    e for e in s.req("GET", "/api/v1/namespaces/default/events")[1].get("items", [])
    if e["reason"] == "FailedScheduling" and e["involvedObject"]["name"] == "later"
    and e["type"] == "Warning"], 5)
check(ev[0]["message"] == msg, "event message is the condition's")
c.add_node("big", cpu="32", memory="64Gi")
expect_node(s, "later", "big")
conds = [x for x in get(s, "later")["status"]["conditions"] if x["type"] == "PodScheduled"]
check(len(conds) == 1 and conds[0]["status"] == "True", "PodScheduled=True replaces False")

# a freed slot: deleting a pod retries the pods that did not fit
st, _, _ = s.req("DELETE", "/api/v1/namespaces/default/pods/port-1")
check(st == 200, "port-1 deleted")
expect_node(s, "port-2", "a2", 15)

# pods of another scheduler are left alone
pod(s, "other-sched", schedulerName="other")
stays_pending(s, "other-sched", 1.0)
check(not get(s, "other-sched").get("status", {}).get("conditions"), "no condition on it")

# the message counts of the issue, on a cluster of three nodes
s2, c2 = start({"n1": {"cpu": "1"}, "n2": {"cpu": "1"},
                "n3": {"cpu": "8", "taints": [{"key": "key", "value": "value",
                                               "effect": "NoSchedule"}]}})
pod(s2, "p", cpu="2")
msg = unschedulable(s2, "p")
check(msg == "0/3 nodes are available: 1 node(s) had untolerated taint {key: value}, "
      "2 Insufficient cpu.", msg)
c2.stop()
c.stop()
check(not c.errors and not c2.errors, "kwok errors: %s" % (c.errors + c2.errors))
