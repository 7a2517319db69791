#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A two-node cluster comes up: both Nodes Ready with their own podCIDR
from the server's IPAM, pods running on both nodes with addresses from
their node's podCIDR, pod to pod on one node, and a ClusterIP to backends
on the client's own node."""
import ipaddress

import multinode as M

c = M.cluster(nodes=2)
nodes = {n["metadata"]["name"]: n for n in c.get("nodes")["items"]}
cidrs = {name: ipaddress.ip_network(n["spec"]["podCIDR"]) for name, n in nodes.items()}
M.check(len(set(cidrs.values())) == 2, "each node has its own podCIDR: %s" %
        {k: str(v) for k, v in cidrs.items()})
for n in c.nodes:
    addrs = [a["address"] for a in nodes[n.name]["status"].get("addresses", [])
             if a["type"] == "InternalIP"]
    M.check(addrs == [n.ip], "%s reports InternalIP %s (%s)" % (n.name, n.ip, addrs))

pods = M.start_pods(c, 3, extra=[M.service("local1", {"app": "web", "at": "n1", "be": "y"})])
for name, p in pods.items():
    node = p["spec"]["nodeName"]
    M.check(ipaddress.ip_address(p["status"]["podIP"]) in cidrs[node],
            "%s on %s has %s from its node's podCIDR" % (name, node, p["status"]["podIP"]))
M.check({p["spec"]["nodeName"] for p in pods.values()} == {n.name for n in c.nodes},
        "pods run on both nodes")

a, b = pods["web-1-0"], pods["web-1-1"]
got = M.curl(c, a, "http://%s:8080/" % b["status"]["podIP"])
M.check(got == "web-1-1", "pod to pod on one node: web-1-0 -> web-1-1 answers (%r)" % got)
got = M.client_ip(M.curl(c, a, "http://%s:8080/cgi-bin/ip" % b["status"]["podIP"]))
M.check(got == a["status"]["podIP"], "no NAT between pods: web-1-1 sees %s (%s)" %
        (a["status"]["podIP"], got))

M.endpoints_ready(c, "local1", 2)
cip = c.get("service", "local1")["spec"]["clusterIP"]
seen = {}
for _ in range(20):
    r = M.curl(c, a, "http://%s/" % cip)
    seen[r] = seen.get(r, 0) + 1
M.check(set(seen) == {"web-1-1", "web-1-2"},
        "ClusterIP %s from web-1-0 reaches both backends on node1: %s" % (cip, seen))
M.log("PASS")
