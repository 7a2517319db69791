# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`kubectl delete deployment --cascade=background|foreground|orphan` (real
kubectl) over a Deployment -> ReplicaSet -> Pods chain made by hand (the
Deployment and ReplicaSet controllers are not run), then once with the real
ReplicaSet controller if it is built in."""
import os
import subprocess

from kwok import Cluster, Server, check, items, wait_for

s = Server("--controllers", "garbagecollector")
env = dict(os.environ, KUBECONFIG=os.path.join(s.tmp, "data", "kubeconfig"))
NS = "/api/v1/namespaces/default"
APPS = "/apis/apps/v1/namespaces/default"


def kubectl(*args):
    p = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=30)
    check(p.returncode == 0, "kubectl %s: %s%s" % (" ".join(args), p.stdout, p.stderr))
    return p.stdout


def ref(obj, kind, api="apps/v1"):
    return {"apiVersion": api, "kind": kind, "name": obj["metadata"]["name"],
            "uid": obj["metadata"]["uid"], "controller": True, "blockOwnerDeletion": True}


TEMPLATE = {"metadata": {"labels": {"app": "web"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]}}


def chain(name):
    """A Deployment owning a ReplicaSet owning two Pods."""
    st, d, _ = s.req("POST", APPS + "/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}})
    check(st == 201, "deployment %s created: %s" % (name, d))
    st, rs, _ = s.req("POST", APPS + "/replicasets", {
        "apiVersion": "apps/v1", "kind": "ReplicaSet",
        "metadata": {"name": name + "-rs", "ownerReferences": [ref(d, "Deployment")]},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}})
    check(st == 201, "replicaset created: %s" % rs)
    for i in range(2):
        st, p, _ = s.req("POST", NS + "/pods", {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "%s-pod-%d" % (name, i), "labels": {"app": "web"},
                         "ownerReferences": [ref(rs, "ReplicaSet")]},
            "spec": TEMPLATE["spec"]})
        check(st == 201, "pod created: %s" % p)


def exists(path):
    return s.req("GET", path)[0] == 200


def rs_of(name):
    return s.req("GET", APPS + "/replicasets/" + name + "-rs")[1]


# foreground: kubectl waits until the deployment is gone, which is after
# its blocking dependents are
chain("fg")
kubectl("delete", "deployment", "fg", "--cascade=foreground")
check(not exists(APPS + "/deployments/fg"), "foreground: the deployment is gone when kubectl returns")
check(not exists(APPS + "/replicasets/fg-rs") and not exists(NS + "/pods/fg-pod-0")
      and not exists(NS + "/pods/fg-pod-1"),
      "foreground: the replicaset and pods went before the deployment")

chain("bg")
kubectl("delete", "deployment", "bg", "--cascade=background")
wait_for("background: replicaset and pods collected",
         lambda: not exists(APPS + "/replicasets/bg-rs") and not exists(NS + "/pods/bg-pod-0")
         and not exists(NS + "/pods/bg-pod-1"), 10)

chain("or")
kubectl("delete", "deployment", "or", "--cascade=orphan")
wait_for("orphan: the deployment is gone", lambda: not exists(APPS + "/deployments/or"), 10)
rs = rs_of("or")
check(rs.get("kind") == "ReplicaSet" and not rs["metadata"].get("ownerReferences"),
      "orphan: the replicaset stays without an owner")
check(exists(NS + "/pods/or-pod-0") and exists(NS + "/pods/or-pod-1"), "orphan: its pods stay")
kubectl("delete", "replicaset", "or-rs")
wait_for("the orphaned replicaset's pods go with it",
         lambda: not exists(NS + "/pods/or-pod-0") and not exists(NS + "/pods/or-pod-1"), 10)
s.stop()

# with the real ReplicaSet controller (and scheduler, if built) and kwok nodes
s = Server()
env["KUBECONFIG"] = os.path.join(s.tmp, "data", "kubeconfig")
sched_dir = os.path.join(os.path.dirname(__file__), "..", "..", "control", "scheduler")
has_sched = any('.name = "scheduler"' in open(os.path.join(sched_dir, f)).read()
                for f in os.listdir(sched_dir) if f.endswith(".c"))
c = Cluster(s, bind=not has_sched)
c.add_node("n1")
st, rs, _ = s.req("POST", APPS + "/replicasets", {
    "apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "real"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}})
check(st == 201, "replicaset created")


def pods():
    st, out, _ = s.req("GET", NS + "/pods?labelSelector=app%3Dweb")
    return out.get("items", []) if st == 200 else []


if wait_for("the replicaset controller made 3 pods", lambda: len(pods()) == 3 or None, 15):
    kubectl("delete", "replicaset", "real", "--cascade=foreground")
    check(not pods(), "foreground delete of a real replicaset: no pods left when kubectl returns")

has_deploy = os.path.exists(os.path.join(os.path.dirname(__file__), "..", "..", "control",
                                          "controllers", "deployment.c"))
if has_deploy:
    st, _, _ = s.req("POST", APPS + "/deployments", {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "real"},
        "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}}, "template": TEMPLATE}})
    check(st == 201, "deployment created")
    wait_for("the deployment's replicaset made 2 pods", lambda: len(pods()) == 2 or None, 15)
    kubectl("delete", "deployment", "real", "--cascade=foreground")
    check(not pods() and not items(s, APPS + "/replicasets"),
          "foreground delete of a real deployment: no replicaset, no pods when kubectl returns")
c.stop()
print("PASS")
