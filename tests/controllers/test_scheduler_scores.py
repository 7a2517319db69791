# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Scheduler scores and pod-level constraints: least allocated, spreading
of one owner's pods, preferred node and pod affinity, required pod
affinity and anti-affinity (hostname and zone, and the existing pods'
anti-affinity), topologySpreadConstraints (DoNotSchedule, ScheduleAnyway),
round-robin ties, and no over-commit when pods race for the last slot."""
import collections
import threading
import time

from sched_lib import (bound, check, expect_node, pod, start, unschedulable,
                       wait_for)


def spread_of(s, names):
    return collections.Counter(bound(s, n) for n in names)


# ---- least allocated, owner spreading, preferred node affinity ----
s, c = start({"big": {"cpu": "64", "memory": "128Gi"},
              "small": {"cpu": "4", "memory": "8Gi", "labels": {"pref": "yes"}}})
pod(s, "lone-1", cpu="100m")
pod(s, "lone-2", cpu="100m")
check(spread_of(s, ["lone-1", "lone-2"]) == {"big": 2}, "least allocated: both on big")
pod(s, "rs-1", cpu="100m", owner="uid-rs")
bound(s, "rs-1")
pod(s, "rs-2", cpu="100m", owner="uid-rs")
check(spread_of(s, ["rs-1", "rs-2"]) == {"big": 1, "small": 1},
      "one owner's pods are spread over nodes")
# a Service's pods are spread too (no owner here)
st, _, _ = s.req("POST", "/api/v1/namespaces/default/services", {
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
    "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]}})
check(st == 201, "service created")
time.sleep(0.3)  # the scheduler's informer sees it
pod(s, "web-1", cpu="100m", labels={"app": "web"})
bound(s, "web-1")
pod(s, "web-2", cpu="100m", labels={"app": "web"})
check(spread_of(s, ["web-1", "web-2"]) == {"big": 1, "small": 1},
      "one Service's pods are spread over nodes")
aff = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 50, "preference": {"matchExpressions": [
        {"key": "pref", "operator": "In", "values": ["yes"]}]}}]}}
pod(s, "pref-node", cpu="100m", affinity=aff)
expect_node(s, "pref-node", "small")
# preferred pod affinity toward rs pods on small vs anti-affinity
paff = {"podAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
    {"weight": 100, "podAffinityTerm": {"labelSelector": {"matchLabels": {"role": "db"}},
                                        "topologyKey": "kubernetes.io/hostname"}}]}}
pod(s, "db", cpu="100m", labels={"role": "db"}, nodeSelector={"pref": "yes"})
expect_node(s, "db", "small")
pod(s, "near-db", cpu="100m", affinity=paff)
expect_node(s, "near-db", "small")
panti = {"podAntiAffinity": paff["podAffinity"]}
pod(s, "far-db", cpu="100m", affinity={**panti, **aff})  # anti beats node pref
expect_node(s, "far-db", "big")
c.stop()

# ---- balanced allocation, PreferNoSchedule taints ----
# least allocated ties (70 vs 69 the other way); balanced picks x
s, c = start({"x": {"cpu": "3334m", "memory": "3413Mi"}, "y": {"cpu": "10", "memory": "2Gi"},
              "t": {"cpu": "64", "memory": "128Gi", "taints": [
                  {"key": "k", "value": "v", "effect": "PreferNoSchedule"}]}})
pod(s, "balance", cpu="1", mem="1Gi", **{"affinity": {"nodeAffinity": {
    "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["x", "y"]}]}]}}}})
expect_node(s, "balance", "x")
pod(s, "prefer-1", cpu="100m")
pod(s, "prefer-2", cpu="100m")
check("t" not in spread_of(s, ["prefer-1", "prefer-2"]), "PreferNoSchedule taint avoided")
pod(s, "prefer-tol", cpu="100m", tolerations=[{"key": "k", "operator": "Exists"}])
expect_node(s, "prefer-tol", "t")
c.stop()

# ---- required pod affinity and anti-affinity, zones ----
zones = {"z1": ["h1", "h2"], "z2": ["h3"]}
s, c = start({h: {"labels": {"topology.kubernetes.io/zone": z}}
              for z, hs in zones.items() for h in hs})


def term(labels, key):
    return [{"labelSelector": {"matchLabels": labels}, "topologyKey": key}]


pod(s, "cache", labels={"app": "cache"}, nodeSelector={"kubernetes.io/hostname": "h3"})
expect_node(s, "cache", "h3")
pod(s, "with-cache", affinity={"podAffinity": {
    "requiredDuringSchedulingIgnoredDuringExecution": term({"app": "cache"}, "kubernetes.io/hostname")}})
expect_node(s, "with-cache", "h3")
pod(s, "zone-away", affinity={"podAntiAffinity": {
    "requiredDuringSchedulingIgnoredDuringExecution": term({"app": "cache"}, "topology.kubernetes.io/zone")}})
check(bound(s, "zone-away") in ("h1", "h2"), "anti-affinity by zone")
pod(s, "no-match", affinity={"podAffinity": {
    "requiredDuringSchedulingIgnoredDuringExecution": term({"app": "nothing"}, "kubernetes.io/hostname")}})
check("3 node(s) didn't match pod affinity rules" in unschedulable(s, "no-match"),
      "affinity to no pod")
# the first pod of a group that selects itself may go anywhere
pod(s, "self-1", labels={"grp": "g"}, affinity={"podAffinity": {
    "requiredDuringSchedulingIgnoredDuringExecution": term({"grp": "g"}, "topology.kubernetes.io/zone")}})
bound(s, "self-1")
# one pod per host: the fourth does not fit; existing pods' anti-affinity
one = {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution":
                           term({"app": "solo"}, "kubernetes.io/hostname")}}
for i in range(3):
    pod(s, "solo-%d" % i, labels={"app": "solo"}, affinity=one)
check(len(spread_of(s, ["solo-%d" % i for i in range(3)])) == 3, "one solo per host")
pod(s, "solo-3", labels={"app": "solo"}, affinity=one)
check("3 node(s) didn't match pod anti-affinity rules" in unschedulable(s, "solo-3"), "no fourth solo")
pod(s, "plain-solo", labels={"app": "solo"})
check("3 node(s) didn't satisfy existing pods anti-affinity rules" in
      unschedulable(s, "plain-solo"), "existing anti-affinity is honoured")

# ---- topology spread ----
def spread(key, when, labels):
    return [{"maxSkew": 1, "topologyKey": key, "whenUnsatisfiable": when,
             "labelSelector": {"matchLabels": labels}}]


for i in range(4):
    pod(s, "zs-%d" % i, labels={"app": "zs"},
        topologySpreadConstraints=spread("topology.kubernetes.io/zone", "DoNotSchedule", {"app": "zs"}))
    bound(s, "zs-%d" % i)
z = collections.Counter("z2" if bound(s, "zs-%d" % i) == "h3" else "z1" for i in range(4))
check(z == {"z1": 2, "z2": 2}, "DoNotSchedule spreads zones evenly: %s" % z)
pod(s, "zs-nolabel", labels={"app": "zs"},
    topologySpreadConstraints=spread("rack", "DoNotSchedule", {"app": "zs"}))
check("(missing required label)" in unschedulable(s, "zs-nolabel"), "spread needs the key")
for i in range(3):
    pod(s, "sa-%d" % i, labels={"app": "sa"},
        topologySpreadConstraints=spread("kubernetes.io/hostname", "ScheduleAnyway", {"app": "sa"}))
    bound(s, "sa-%d" % i)
check(len(spread_of(s, ["sa-%d" % i for i in range(3)])) == 3, "ScheduleAnyway spreads hosts")
c.stop()

# ---- round-robin ties ----
# nodes so large that a pod moves no score: every node ties every time
s, c = start({"r%d" % i: {"cpu": "1000", "memory": "1Ti", "pods": "110"} for i in range(4)})
names = []
for i in range(8):
    names.append("rr-%d" % i)
    pod(s, names[-1], cpu="100m")
check(set(spread_of(s, names).values()) == {2}, "identical pods spread over identical nodes")
c.stop()

# ---- the last slot: pods created at once never over-commit a node ----
s, c = start({"q%d" % i: {"cpu": "1"} for i in range(4)})
errors = []


def racer(k):
    for i in range(k, 40, 4):
        try:
            pod(s, "race-%d" % i, cpu="300m")
        except BaseException as e:  # noqa: BLE001
            errors.append(e)


ts = [threading.Thread(target=racer, args=(k,)) for k in range(4)]
for t in ts:
    t.start()
for t in ts:
    t.join()
check(not errors, "racers created their pods")


def placed():
    got = collections.Counter()
    for p in s.req("GET", "/api/v1/namespaces/default/pods")[1]["items"]:
        if p["spec"].get("nodeName"):
            got[p["spec"]["nodeName"]] += 1
    return got


wait_for("12 racers placed", lambda: sum(placed().values()) == 12, 10)
time.sleep(0.5)
check(placed() == {"q%d" % i: 3 for i in range(4)}, "3 x 300m per 1-cpu node, never 4: %s" % placed())
st, _, _ = s.req("DELETE", "/api/v1/namespaces/default/pods/" + [
    p["metadata"]["name"] for p in s.req("GET", "/api/v1/namespaces/default/pods")[1]["items"]
    if p["spec"].get("nodeName")][0])
check(st == 200, "a placed racer deleted")
wait_for("its slot taken by a pending racer", lambda: sum(placed().values()) == 12 and
         len([p for p in s.req("GET", "/api/v1/namespaces/default/pods")[1]["items"]]) == 39, 15)
c.stop()
