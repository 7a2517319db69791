# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Helpers of the scheduler tests: a server running only the scheduler,
kwok nodes, pods with requests, waits for binding or Unschedulable."""
import time

from kwok import Cluster, Server, check, fail, wait_for  # noqa: F401


def start(nodes):
    """nodes: {name: add_node kwargs}; returns (server, cluster)."""
    s = Server("--controllers", "scheduler")
    c = Cluster(s)
    for name, kw in nodes.items():
        c.add_node(name, **kw)
    return s, c


def pod(s, name, cpu=None, mem=None, labels=None, ns="default", **spec):
    req = {}
    if cpu is not None:
        req["cpu"] = cpu
    if mem is not None:
        req["memory"] = mem
    body = {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"containers": [{"name": "c", "image": "x",
                                     "resources": {"requests": req}}]}}
    owner = spec.pop("owner", None)
    if owner:
        body["metadata"]["ownerReferences"] = [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "rs",
             "uid": owner, "controller": True}]
    ports = spec.pop("host_ports", None)
    if ports:
        body["spec"]["containers"][0]["ports"] = [
            {"containerPort": p, "hostPort": p} for p in ports]
    body["spec"].update(spec)
    st, out, _ = s.req("POST", "/api/v1/namespaces/%s/pods" % ns, body)
    if st != 201:
        fail("create pod %s: %d %s" % (name, st, out))
    return out


def get(s, name, ns="default"):
    st, out, _ = s.req("GET", "/api/v1/namespaces/%s/pods/%s" % (ns, name))
    return out if st == 200 else None


def bound(s, name, timeout=10, ns="default"):
    """The node pod name is bound to (fails after timeout)."""
    return wait_for("%s bound" % name,
                    lambda: (get(s, name, ns) or {}).get("spec", {}).get("nodeName"),
                    timeout)


def unschedulable(s, name, timeout=10, ns="default"):
    """The PodScheduled=False message of pod name."""
    def msg():
        p = get(s, name, ns) or {}
        for c in p.get("status", {}).get("conditions", []):
            if c["type"] == "PodScheduled" and c["status"] == "False" \
                    and c.get("reason") == "Unschedulable":
                return c["message"]
        return None
    return wait_for("%s unschedulable" % name, msg, timeout)


def expect_node(s, name, want, timeout=10):
    got = bound(s, name, timeout)
    check(got == want, "%s on %s (got %s)" % (name, want, got))


def stays_pending(s, name, secs=0.7):
    time.sleep(secs)
    p = get(s, name)
    check(p and not p["spec"].get("nodeName"), "%s stays pending" % name)
