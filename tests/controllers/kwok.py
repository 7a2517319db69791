# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Nodes without machines, as kwok plays them: Node objects whose status and
Lease a thread keeps fresh, and pods bound to them that the same thread
moves through their life (Running and Ready, exit, final deletion) over the
API, so the controllers can be tested in seconds.

Per-pod behaviour comes from annotations on the pod (templates carry them):
  kwok.berth.dev/ready-after-ms   Ready this long after starting (0)
  kwok.berth.dev/not-ready        "true": Running but never Ready
  kwok.berth.dev/exit-after-ms    the container exits after this long
  kwok.berth.dev/exit-code        ... with this code (0: Succeeded)
"""
import json
import os
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "api"))
from lib import Server, check, fail  # noqa: E402,F401

A = "kwok.berth.dev/"


def now_rfc3339():
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def now_micro():
    t = time.time()
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".%06dZ" % int((t % 1) * 1e6)


class Cluster:
    """Fake nodes on a berth-server; call stop() (or let atexit) at the end."""

    def __init__(self, server, period=0.1, bind=False):
        """bind: also bind pending pods to the nodes round-robin, for
        servers started without the scheduler (--controllers=...)."""
        self.s = server
        self.bind = bind
        self.rr = 0
        self.nodes = {}  # name -> {"heartbeat": bool, "ip": str}
        self.period = period
        self.started = {}  # pod uid -> monotonic start
        self.lock = threading.Lock()
        self.stopping = False
        self.errors = []
        self.t = threading.Thread(target=self._loop, daemon=True)
        self.t.start()

    # ---- nodes ----
    def add_node(self, name, cpu="4", memory="8Gi", pods="110", labels=None,
                 taints=None, unschedulable=False, ready=True):
        ip = "192.168.%d.%d" % (len(self.nodes) // 250, len(self.nodes) % 250 + 2)
        lab = {"kubernetes.io/hostname": name, "kubernetes.io/os": "linux"}
        lab.update(labels or {})
        node = {"apiVersion": "v1", "kind": "Node",
                "metadata": {"name": name, "labels": lab},
                "spec": {"unschedulable": unschedulable, "taints": taints or []}}
        st, out, _ = self.s.req("POST", "/api/v1/nodes", node)
        if st != 201:
            fail("create node %s: %d %s" % (name, st, out))
        with self.lock:
            self.nodes[name] = {"heartbeat": True, "ip": ip, "ready": ready,
                                "capacity": {"cpu": cpu, "memory": memory, "pods": pods}}
        self._node_status(name)
        self._lease(name)
        return out

    def stop_heartbeat(self, name):
        with self.lock:
            self.nodes[name]["heartbeat"] = False

    def remove_node(self, name):
        with self.lock:
            self.nodes.pop(name, None)
        self.s.req("DELETE", "/api/v1/nodes/" + name)

    def _node_status(self, name):
        n = self.nodes.get(name)
        if not n:
            return
        ts = now_rfc3339()
        ready = "True" if n["ready"] else "False"
        status = {"status": {
            "capacity": n["capacity"], "allocatable": n["capacity"],
            "addresses": [{"type": "InternalIP", "address": n["ip"]},
                          {"type": "Hostname", "address": name}],
            "conditions": [{"type": "Ready", "status": ready,
                            "reason": "KubeletReady" if n["ready"] else "KubeletNotReady",
                            "message": "kwok", "lastHeartbeatTime": ts,
                            "lastTransitionTime": ts}],
            "nodeInfo": {"kubeletVersion": "v1.32.0-kwok", "architecture": "amd64",
                         "operatingSystem": "linux", "containerRuntimeVersion": "kwok://1",
                         "osImage": "kwok", "kernelVersion": "kwok"}}}
        st, out, _ = self.s.req("PATCH", "/api/v1/nodes/%s/status" % name, status,
                                "application/merge-patch+json")
        if st != 200 and name in self.nodes:
            self.errors.append("node status %s: %d %s" % (name, st, out))

    def _lease(self, name):
        path = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/"
        body = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
                "metadata": {"name": name, "namespace": "kube-node-lease"},
                "spec": {"holderIdentity": name, "leaseDurationSeconds": 40,
                         "renewTime": now_micro()}}
        st, _, _ = self.s.req("PATCH", path + name, {"spec": body["spec"]},
                              "application/merge-patch+json")
        if st == 404:
            self.s.req("POST", path, body)

    # ---- pods ----
    def _pods(self):
        st, out, _ = self.s.req("GET", "/api/v1/pods?fieldSelector=spec.nodeName%21%3D")
        return out.get("items", []) if st == 200 else []

    def _set_status(self, pod, phase, ready, code=None):
        md = pod["metadata"]
        n = self.nodes.get(pod["spec"]["nodeName"], {})
        ts = now_rfc3339()
        rs = "True" if ready else "False"
        cstat = []
        for c in pod["spec"].get("containers", []):
            if code is None:
                state = {"running": {"startedAt": ts}}
            else:
                state = {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error",
                                        "startedAt": ts, "finishedAt": ts}}
            cstat.append({"name": c["name"], "image": c.get("image", ""), "ready": ready,
                          "restartCount": 0, "started": code is None, "state": state,
                          "imageID": "", "containerID": "kwok://" + md["uid"][:12]})
        ip = pod.get("status", {}).get("podIP") or "10.%d.%d.%d" % (
            200 + (hash(md["uid"]) >> 16) % 50, (hash(md["uid"]) >> 8) % 250, hash(md["uid"]) % 250 + 2)
        status = {"phase": phase, "hostIP": n.get("ip", ""), "podIP": ip,
                  "podIPs": [{"ip": ip}], "startTime": pod.get("status", {}).get("startTime") or ts,
                  "conditions": [
                      {"type": "PodScheduled", "status": "True", "lastTransitionTime": ts},
                      {"type": "Initialized", "status": "True", "lastTransitionTime": ts},
                      {"type": "ContainersReady", "status": rs, "lastTransitionTime": ts},
                      {"type": "Ready", "status": rs, "lastTransitionTime": ts}],
                  "containerStatuses": cstat}
        st, out, _ = self.s.req("PATCH", "/api/v1/namespaces/%s/pods/%s/status" % (md["namespace"], md["name"]),
                                {"status": status}, "application/merge-patch+json")
        if st not in (200, 404, 409):
            self.errors.append("pod status %s: %d %s" % (md["name"], st, out))

    def _pod_step(self, pod, now):
        md = pod["metadata"]
        ann = md.get("annotations") or {}
        if md.get("deletionTimestamp"):
            # the kubelet has stopped the containers: delete for good
            self.s.req("DELETE", "/api/v1/namespaces/%s/pods/%s" % (md["namespace"], md["name"]),
                       {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0,
                        "preconditions": {"uid": md["uid"]}})
            return
        phase = pod.get("status", {}).get("phase", "Pending")
        if phase in ("Succeeded", "Failed"):
            return
        start = self.started.setdefault(md["uid"], now)
        age_ms = (now - start) * 1000
        if A + "exit-after-ms" in ann and age_ms >= int(ann[A + "exit-after-ms"]):
            code = int(ann.get(A + "exit-code", "0"))
            self._set_status(pod, "Succeeded" if code == 0 else "Failed", False, code)
            return
        ready = ann.get(A + "not-ready") != "true" and age_ms >= int(ann.get(A + "ready-after-ms", "0"))
        was_ready = any(c.get("type") == "Ready" and c.get("status") == "True"
                        for c in pod.get("status", {}).get("conditions", []))
        if phase != "Running" or ready != was_ready:
            self._set_status(pod, "Running", ready)

    def _bind_pending(self):
        st, out, _ = self.s.req("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3D")
        with self.lock:
            names = sorted(n for n, v in self.nodes.items() if v["heartbeat"] and v["ready"])
        for p in out.get("items", []) if st == 200 and names else []:
            md = p["metadata"]
            if md.get("deletionTimestamp"):
                continue
            node = names[self.rr % len(names)]
            self.rr += 1
            self.s.req("POST", "/api/v1/namespaces/%s/pods/%s/binding" % (md["namespace"], md["name"]),
                       {"apiVersion": "v1", "kind": "Binding",
                        "metadata": {"name": md["name"], "namespace": md["namespace"]},
                        "target": {"apiVersion": "v1", "kind": "Node", "name": node}})

    def _loop(self):
        last_hb = 0
        while not self.stopping:
            now = time.monotonic()
            try:
                with self.lock:
                    names = [n for n, v in self.nodes.items() if v["heartbeat"]]
                if now - last_hb > 1.0:
                    for n in names:
                        self._node_status(n)
                        self._lease(n)
                    last_hb = now
                if self.bind:
                    self._bind_pending()
                for p in self._pods():
                    if p["spec"]["nodeName"] in self.nodes:
                        with self.lock:
                            hb = self.nodes.get(p["spec"]["nodeName"], {}).get("heartbeat")
                        if hb:
                            self._pod_step(p, now)
            except Exception as e:  # a test that stops the server mid-loop
                if not self.stopping:
                    self.errors.append(repr(e))
            time.sleep(self.period)

    def stop(self):
        self.stopping = True
        self.t.join(5)


def wait_for(what, fn, timeout=30, period=0.1):
    """Poll fn() until it returns a true value; fail with what on timeout."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = fn()
        if last:
            print("ok: " + what, flush=True)
            return last
        time.sleep(period)
    fail("%s: not after %ss (last: %s)" % (what, timeout, json.dumps(last)[:500] if last is not None else None))


def items(server, path):
    st, out, _ = server.req("GET", path)
    if st != 200:
        fail("GET %s: %d %s" % (path, st, out))
    return out["items"]
