#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/sched.sh's client: fake Ready nodes, a mix of pending pods, and a
watcher that times each pod from its creation (the watch's ADDED) to its
binding (the first event that carries spec.nodeName).

  sched_client.py nodes URL N          N Ready nodes in 10 zones
  sched_client.py pods URL NS N        N pending pods in namespace NS
  sched_client.py run URL NS N         create N pods while watching; JSON
"""
import http.client
import json
import multiprocessing
import sys
import threading
import time
from urllib.parse import urlparse

THREADS = 8
ZONES = 10
TIMEOUT = 300  # s, any single phase
ZONE_KEY = "topology.kubernetes.io/zone"


def conn(url):
    u = urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)


def send(c, method, path, body, ctype="application/json"):
    c.request(method, path, json.dumps(body), {"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    if r.status not in (200, 201, 409):
        raise SystemExit("%s %s: %d %s" % (method, path, r.status, data[:200]))


def parallel(n, fn):
    """fn(conn, i) for i in 0..n-1 over THREADS keep-alive connections."""
    errors = []

    def worker(url, k):
        try:
            c = conn(url)
            for i in range(k, n, THREADS):
                fn(c, i)
            c.close()
        except BaseException as e:  # reported by the caller
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(URL, k)) for k in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit("bench client: %s" % errors[0])


def nodes(n):
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())

    def one(c, i):
        name = "node-%05d" % i
        send(c, "POST", "/api/v1/nodes", {
            "apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name, "labels": {
                "kubernetes.io/hostname": name, ZONE_KEY: "zone-%d" % (i % ZONES),
                "tier": "gold" if i % 4 == 0 else "std"}}})
        cap = {"cpu": "32", "memory": "128Gi", "pods": "110"}
        send(c, "PATCH", "/api/v1/nodes/%s/status" % name, {"status": {
            "capacity": cap, "allocatable": cap,
            "conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                            "lastHeartbeatTime": now, "lastTransitionTime": now}]}},
             "application/merge-patch+json")
    parallel(n, one)


def pod(i):
    """Mixed requests; 10% required zone affinity, 10% preferred node
    affinity, 10% topology spread over zones or hosts, 70% plain."""
    cpu = ("100m", "250m", "500m", "1")[i % 4]
    mem = ("128Mi", "256Mi", "512Mi")[i % 3]
    spec = {"containers": [{"name": "c", "image": "x",
                            "resources": {"requests": {"cpu": cpu, "memory": mem}}}]}
    labels = {"app": "a%d" % (i % 50)}
    kind = i % 10
    if kind == 1:
        spec["affinity"] = {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": [
                {"key": ZONE_KEY, "operator": "In",
                 "values": ["zone-%d" % (i % ZONES), "zone-%d" % ((i + 1) % ZONES)]}]}]}}}
    elif kind == 2:
        spec["affinity"] = {"nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [
            {"weight": 10, "preference": {"matchExpressions": [
                {"key": "tier", "operator": "In", "values": ["gold"]}]}}]}}
    elif kind == 3:
        labels["spread"] = "s%d" % (i % 7)
        hard = i % 20 == 3
        spec["topologySpreadConstraints"] = [{
            "maxSkew": 1, "topologyKey": ZONE_KEY if hard else "kubernetes.io/hostname",
            "whenUnsatisfiable": "DoNotSchedule" if hard else "ScheduleAnyway",
            "labelSelector": {"matchLabels": {"spread": labels["spread"]}}}]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": "p-%06d" % i, "labels": labels}, "spec": spec}


def pods(ns, n):
    c = conn(URL)
    send(c, "POST", "/api/v1/namespaces",
         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    c.close()
    parallel(n, lambda c, i: send(c, "POST", "/api/v1/namespaces/%s/pods" % ns, pod(i)))


def watcher(ns, n, ready, out):
    """Times of ADDED and of the first nodeName per pod, to out (a pipe)."""
    c = conn(URL)
    c.request("GET", "/api/v1/namespaces/%s/pods?watch=true" % ns)
    r = c.getresponse()
    ready.set()
    added, bound = {}, {}
    deadline = time.monotonic() + TIMEOUT
    while len(bound) < n and time.monotonic() < deadline:
        line = r.readline()
        if not line:
            break
        now = time.monotonic()
        if not line.strip():
            continue
        ev = json.loads(line)
        obj = ev.get("object", {})
        name = obj.get("metadata", {}).get("name")
        if not name:
            continue
        added.setdefault(name, now)
        if obj.get("spec", {}).get("nodeName") and name not in bound:
            bound[name] = now
    out.send((added, bound))


def run(ns, n):
    c = conn(URL)
    send(c, "POST", "/api/v1/namespaces",
         {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}})
    c.close()
    ready = multiprocessing.Event()
    rx, tx = multiprocessing.Pipe(False)
    w = multiprocessing.Process(target=watcher, args=(ns, n, ready, tx))
    w.start()
    ready.wait(10)
    time.sleep(0.2)
    t0 = time.monotonic()
    parallel(n, lambda c, i: send(c, "POST", "/api/v1/namespaces/%s/pods" % ns, pod(i)))
    created = time.monotonic() - t0
    added, bound = rx.recv() if rx.poll(TIMEOUT) else ({}, {})
    w.join(5)
    lat = sorted((bound[k] - added[k]) * 1000 for k in bound if k in added)
    first, last = (min(bound.values()), max(bound.values())) if bound else (0, 0)

    def pct(p):
        return round(lat[min(len(lat) - 1, int(len(lat) * p))], 1) if lat else None
    print(json.dumps({
        "pods": n, "bound": len(bound),
        "create_s": round(created, 3), "create_per_s": round(n / created, 1),
        "bind_span_s": round(last - first, 3),
        "pods_per_s": round((len(bound) - 1) / (last - first), 1) if last > first else 0,
        "latency_ms_p50": pct(0.50), "latency_ms_p99": pct(0.99),
        "latency_ms_max": round(lat[-1], 1) if lat else None}))


if __name__ == "__main__":
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    URL = sys.argv[2]
    if sys.argv[1] == "nodes" and len(sys.argv) == 4:
        nodes(int(sys.argv[3]))
    elif sys.argv[1] == "pods" and len(sys.argv) == 5:
        pods(sys.argv[3], int(sys.argv[4]))
    elif sys.argv[1] == "run" and len(sys.argv) == 5:
        run(sys.argv[3], int(sys.argv[4]))
    else:
        raise SystemExit(__doc__)
