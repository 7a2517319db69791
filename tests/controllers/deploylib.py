# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""What the Deployment tests share: a server with the replicaset and
deployment controllers (and the scheduler when it is built in, else kwok
binds pods), kubectl, a pod watch that checks an invariant at every change,
and Deployment helpers."""
import glob
import json
import os
import socket
import subprocess
import threading

from kwok import Cluster, Server, check, items, wait_for  # noqa: F401

HERE = os.path.dirname(os.path.abspath(__file__))
HAVE_SCHED = not os.environ.get("NO_SCHED") and any(
    '.name = "scheduler"' in open(f).read()
    for f in glob.glob(os.path.join(HERE, "..", "..", "control", "scheduler", "*.c")))
D = "/apis/apps/v1/namespaces/default/deployments"
RS = "/apis/apps/v1/namespaces/default/replicasets"
PODS = "/api/v1/namespaces/default/pods"
REV = "deployment.kubernetes.io/revision"

s = Server("--controllers", "replicaset,deployment" + (",scheduler" if HAVE_SCHED else ""))
kw = Cluster(s, bind=not HAVE_SCHED)
for n in ("n1", "n2", "n3"):
    kw.add_node(n)
env = dict(os.environ, KUBECONFIG=os.path.join(s.tmp, "data", "kubeconfig"))


def kubectl(*args, ok=True, timeout=40):
    p = subprocess.run(["kubectl", *args], env=env, capture_output=True, text=True, timeout=timeout)
    if ok:
        check(p.returncode == 0, "kubectl %s: %s%s" % (" ".join(args), p.stdout[-300:], p.stderr[-300:]))
    return p


class PodWatch:
    """Every pod change of label app=<app> through a watch; after each one
    the invariant fn(pods) is checked, failures kept in self.bad."""

    def __init__(self, app, fn):
        self.pods, self.bad, self.events, self.fn = {}, [], 0, fn
        st, out, _ = s.req("GET", PODS + "?labelSelector=app%3D" + app)
        for p in out["items"]:
            self.pods[p["metadata"]["uid"]] = p
        self.c = s.conn(60)
        self.c.request("GET", PODS + "?watch=true&labelSelector=app%%3D%s&resourceVersion=%s"
                       % (app, out["metadata"]["resourceVersion"]))
        self.r = self.c.getresponse()
        self.stop = False
        self.t = threading.Thread(target=self.loop, daemon=True)
        self.t.start()

    def loop(self):
        while not self.stop:
            try:
                line = self.r.readline()
            except OSError:
                return
            if not line:
                return
            if not line.strip():
                continue
            ev = json.loads(line)
            p = ev["object"]
            if ev["type"] == "DELETED":
                self.pods.pop(p["metadata"]["uid"], None)
            elif ev["type"] in ("ADDED", "MODIFIED"):
                self.pods[p["metadata"]["uid"]] = p
            else:
                continue
            self.events += 1
            why = self.fn(list(self.pods.values()))
            if why:
                self.bad.append(why)

    def close(self):
        self.stop = True
        self.c.sock.shutdown(socket.SHUT_RDWR)  # else the server waits for it
        self.t.join(5)
        self.c.close()


def ready(p):
    return any(c["type"] == "Ready" and c["status"] == "True"
               for c in p.get("status", {}).get("conditions", []))


def alive(pods):
    return [p for p in pods if not p["metadata"].get("deletionTimestamp")]


def deploy(name, image, replicas=6, surge=1, unavail=1, ready_ms=200, ann=None):
    body = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": name},
            "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
                     "strategy": {"type": "RollingUpdate",
                                  "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavail}},
                     "template": {"metadata": {"labels": {"app": name},
                                               "annotations": dict({"kwok.berth.dev/ready-after-ms": str(ready_ms)},
                                                               **(ann or {}))},
                                  "spec": {"containers": [{"name": "c", "image": image}]}}}}
    st, out, _ = s.req("POST", D, body)
    check(st == 201, "deployment %s created" % name)
    return out


def get(path):
    return s.req("GET", path)[1]


def owned_rs(d):
    return sorted((r for r in items(s, RS)
                   if any(o["uid"] == d["metadata"]["uid"] and o.get("controller")
                          for o in r["metadata"].get("ownerReferences", []))),
                  key=lambda r: int(r["metadata"]["annotations"].get(REV, "0")))


def rolled_out(name, image):
    def f():
        d = get(D + "/" + name)
        st = d.get("status", {})
        n = d["spec"]["replicas"]
        return (st.get("observedGeneration") == d["metadata"]["generation"]
                and st.get("updatedReplicas") == n and st.get("replicas") == n
                and st.get("availableReplicas") == n
                and d["spec"]["template"]["spec"]["containers"][0]["image"] == image and d)
    return f
