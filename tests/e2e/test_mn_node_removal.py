#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A node leaves (kubectl delete node + its agent stopped): its pods'
endpoints leave the BPF maps of every other node, its podCIDR leaves their
ipcache, and a ClusterIP's traffic goes to the backends that are left."""
import time

import multinode as M
import cluster as C



c = M.cluster(nodes=3)
n1, n2, n3 = c.nodes
pods = M.start_pods(c, 2, extra=[M.service("all", {"app": "web", "be": "y"})])
ips = {name: p["status"]["podIP"] for name, p in pods.items()}
M.endpoints_ready(c, "all", 3)
backends = {ips["web-1-1"], ips["web-2-1"], ips["web-3-1"]}
for n in (n1, n3):
    M.wait("%s's Service maps name %s" % (n.name, sorted(backends)),
           lambda n=n: backends <= M.backend_ips(n))
M.log("ok: node1's and node3's Service maps name the 3 backends")
M.require_crossnode(c)
cidr2 = c.get("node", n2.name)["spec"]["podCIDR"]
for n in (n1, n3):
    M.check(M.ipcache_cidrs(n).get(cidr2) == n2.ip, "%s's ipcache routes %s to %s" %
            (n.name, cidr2, n2.ip))

c.kubectl("delete", "node", n2.name, "--wait=false")
t0 = time.time()
for n in (n1, n3):
    M.wait("%s's ipcache drops %s's podCIDR %s" % (n.name, n2.name, cidr2),
           lambda n=n: cidr2 not in M.ipcache_cidrs(n), timeout=5, interval=0.05)
took = time.time() - t0
M.check(took <= 1.0, "%s's podCIDR left node1's and node3's ipcache %.2fs after the delete" %
        (n2.name, took))
n2.stop_agent()
gone = ips["web-2-1"]
try:
    C.wait_for("EndpointSlice drops the pod", lambda: gone not in c.kubectl(
        "get", "endpointslices", "-l", "kubernetes.io/service-name=all", "-o",
        "json").stdout, 60)
except C.ClusterError:
    M.missing("the EndpointSlice of Service all still lists %s, a pod bound to the deleted "
              "Node %s, after 60 s" % (gone, n2.name),
              "berth-server: orphaned-pod GC (delete pods whose Node is gone) or the "
              "EndpointSlice controller skipping pods whose Node is not found")
M.log("ok: the EndpointSlice dropped %s" % gone)
for n in (n1, n3):
    M.wait("%s's Service maps no longer name %s as a backend" % (n.name, gone),
           lambda n=n: gone not in M.backend_ips(n) and
           {ips["web-1-1"], ips["web-3-1"]} <= M.backend_ips(n))
M.log("ok: the removed node's endpoints left node1's and node3's Service maps")

cip = c.get("service", "all")["spec"]["clusterIP"]
for client in (pods["web-1-0"], pods["web-3-0"]):
    seen = {}
    for _ in range(20):
        r = M.curl(c, client, "http://%s/" % cip)
        seen[r] = seen.get(r, 0) + 1
    M.check(set(seen) == {"web-1-1", "web-3-1"}, "ClusterIP %s from %s: every request answered "
            "by the backends left: %s" % (cip, client["metadata"]["name"], seen))
M.log("PASS")
