# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Namespace controller: deleting a namespace empties every kind in it
(pods through the kubelet's graceful deletion), waits for objects held by
finalizers with the conditions kubectl describe shows, refuses new content
with 403 while terminating, removes the namespace at the end, and picks up
a deletion an earlier server run left half done."""
import time

from ctlhelp import have_scheduler, restart
from kwok import Cluster, Server, check, fail, wait_for

CTL = "namespace,replicaset,garbagecollector,serviceaccount"


def ns_path(ns, group, plural, name=""):
    base = "/api/v1" if not group else "/apis/" + group
    return "%s/namespaces/%s/%s%s" % (base, ns, plural, "/" + name if name else "")


def populate(s, ns):
    """One object of many kinds; returns the paths to their collections."""
    st, _, _ = s.req("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
    check(st == 201, "namespace %s created" % ns)
    objs = [
        ("", "v1", "configmaps", {"kind": "ConfigMap", "metadata": {"name": "cm"}, "data": {"a": "b"}}),
        ("", "v1", "secrets", {"kind": "Secret", "metadata": {"name": "sec"}, "stringData": {"a": "b"}}),
        ("", "v1", "services", {"kind": "Service", "metadata": {"name": "svc"},
                                "spec": {"selector": {"app": "a"}, "ports": [{"port": 80}]}}),
        ("", "v1", "pods", {"kind": "Pod", "metadata": {"name": "p", "labels": {"app": "a"}},
                            "spec": {"containers": [{"name": "c", "image": "x"}]}}),
        ("apps", "apps/v1", "deployments", {
            "kind": "Deployment", "metadata": {"name": "d"},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "d"}},
                     "template": {"metadata": {"labels": {"app": "d"}},
                                  "spec": {"containers": [{"name": "c", "image": "x"}]}}}}),
        ("batch", "batch/v1", "jobs", {
            "kind": "Job", "metadata": {"name": "j"},
            "spec": {"template": {"spec": {"restartPolicy": "Never",
                                           "containers": [{"name": "c", "image": "x"}]}}}}),
        ("coordination.k8s.io", "coordination.k8s.io/v1", "leases",
         {"kind": "Lease", "metadata": {"name": "l"}, "spec": {}}),
        ("rbac.authorization.k8s.io", "rbac.authorization.k8s.io/v1", "roles",
         {"kind": "Role", "metadata": {"name": "r"}, "rules": []}),
        ("networking.k8s.io", "networking.k8s.io/v1", "networkpolicies",
         {"kind": "NetworkPolicy", "metadata": {"name": "np"}, "spec": {"podSelector": {}}}),
    ]
    paths = []
    for group, av, plural, body in objs:
        body["apiVersion"] = av
        gv = av if group else "v1"
        path = ("/apis/%s" % gv if group else "/api/v1") + "/namespaces/%s/%s" % (ns, plural)
        st, out, _ = s.req("POST", path, body)
        if st != 201:
            fail("create %s in %s: %d %s" % (plural, ns, st, out))
        paths.append(path)
    return paths


def count(s, paths):
    n = 0
    for p in paths:
        st, out, _ = s.req("GET", p)
        n += len(out.get("items", [])) if st == 200 else 0
    return n


def cond(s, ns, ctype):
    st, out, _ = s.req("GET", "/api/v1/namespaces/" + ns)
    for c in (out.get("status", {}).get("conditions") or []) if st == 200 else []:
        if c["type"] == ctype:
            return c
    return None


s = Server("--controllers", CTL + ",scheduler")
cl = Cluster(s, bind=not have_scheduler())
cl.add_node("n1")

# ---- every kind goes, then the namespace ----
paths = populate(s, "team")
wait_for("the pod runs on the node", lambda: s.req("GET", ns_path("team", "", "pods", "p"))[1]
         .get("status", {}).get("phase") == "Running", 10)
st, out, _ = s.req("DELETE", "/api/v1/namespaces/team")
check(st == 200 and out["status"]["phase"] == "Terminating", "DELETE marks the namespace Terminating")
st, out, _ = s.req("POST", ns_path("team", "", "configmaps"),
                   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}})
check(st == 403 and out.get("reason") == "Forbidden" and "because it is being terminated" in out.get("message", ""),
      "403 Forbidden on create in a terminating namespace: %s" % out.get("message"))
wait_for("namespace team and all its content gone",
         lambda: s.req("GET", "/api/v1/namespaces/team")[0] == 404 and count(s, paths) == 0, 20)

# ---- a finalizer holds the namespace until removed ----
st, _, _ = s.req("POST", "/api/v1/namespaces", {"metadata": {"name": "held"}})
cm = {"apiVersion": "v1", "kind": "ConfigMap",
      "metadata": {"name": "keep", "finalizers": ["example.com/hold"]}}
st, _, _ = s.req("POST", ns_path("held", "", "configmaps"), cm)
check(st == 201, "configmap with a finalizer created")
s.req("POST", ns_path("held", "", "configmaps"), {"apiVersion": "v1", "kind": "ConfigMap",
                                                  "metadata": {"name": "free"}})
s.req("DELETE", "/api/v1/namespaces/held")
c = wait_for("NamespaceFinalizersRemaining=True",
             lambda: (lambda c: c if c and c["status"] == "True" else None)(
                 cond(s, "held", "NamespaceFinalizersRemaining")), 10)
check(c["reason"] == "SomeFinalizersRemain" and "example.com/hold in 1 resource instances" in c["message"],
      "finalizer condition message: %s" % c["message"])
c = cond(s, "held", "NamespaceContentRemaining")
check(c and c["status"] == "True" and c["reason"] == "SomeResourcesRemain"
      and "configmaps has 1 resource instances" in c["message"], "content remaining condition: %s" % c)
c = cond(s, "held", "NamespaceDeletionContentFailure")
check(c and c["status"] == "False" and c["reason"] == "ContentDeleted", "no deletion failure")
check(s.req("GET", ns_path("held", "", "configmaps", "free"))[0] == 404, "the object without a finalizer is gone")
time.sleep(0.5)
check(s.req("GET", "/api/v1/namespaces/held")[0] == 200, "namespace waits for the finalizer")
st, _, _ = s.req("PATCH", ns_path("held", "", "configmaps", "keep"), {"metadata": {"finalizers": None}},
                 "application/merge-patch+json")
check(st == 200, "finalizer removed")
wait_for("namespace held gone after the finalizer went",
         lambda: s.req("GET", "/api/v1/namespaces/held")[0] == 404, 10)

# ---- a restart in the middle: the next run finishes the deletion ----
st, _, _ = s.req("POST", "/api/v1/namespaces", {"metadata": {"name": "resume"}})
cm["metadata"]["name"] = "keep"
s.req("POST", ns_path("resume", "", "configmaps"), cm)
s.req("POST", ns_path("resume", "", "secrets"), {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}})
s.req("DELETE", "/api/v1/namespaces/resume")
wait_for("secret deleted, configmap held",
         lambda: s.req("GET", ns_path("resume", "", "secrets", "s"))[0] == 404
         and cond(s, "resume", "NamespaceFinalizersRemaining"), 10)
cl.stop()
restart(s, "--controllers", CTL)
st, out, _ = s.req("GET", "/api/v1/namespaces/resume")
check(st == 200 and out["status"]["phase"] == "Terminating", "still terminating after the restart")
st, _, _ = s.req("PATCH", ns_path("resume", "", "configmaps", "keep"), {"metadata": {"finalizers": []}},
                 "application/merge-patch+json")
check(st == 200, "finalizer removed after the restart")
wait_for("namespace resume gone after the restart",
         lambda: s.req("GET", "/api/v1/namespaces/resume")[0] == 404, 10)
