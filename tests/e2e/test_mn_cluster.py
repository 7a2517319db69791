#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A two-node cluster comes up: both Nodes Ready with their own podCIDR
from the server's IPAM, pods running on both nodes with addresses from
their node's podCIDR, pod to pod on one node, and a ClusterIP to backends
on the client's own node. The agents joined with a bootstrap token only:
each holds its own system:node certificate from an auto-approved CSR."""
import ipaddress
import json
import os

import cluster as C
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

if os.environ.get("BERTH_E2E_ADMIN_AGENTS") != "1":
    issued = [csr["spec"]["username"] for csr in c.get("csr")["items"]
              if csr["status"].get("certificate")]
    M.check(len(issued) >= len(c.nodes) and
            all(u.startswith("system:bootstrap:") for u in issued),
            "node certificates issued through the bootstrap token: %s" % issued)
    for n in c.nodes:
        r = c.kubectl("--kubeconfig", os.path.join(n.root, "kubeconfig"), "auth", "whoami",
                      "-o", "json")
        who = json.loads(r.stdout)["status"]["userInfo"]["username"]
        M.check(who == "system:node:" + n.name, "%s's agent is %s" % (n.name, who))

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

# the routing maps read back through berthctl agree with the cluster
ctl = os.path.join(C.BIN, "berthctl")


def bpf(node, what):
    r = C.run(ctl, "bpf", what, "--node", node.name, "-o", "json", check=False)
    M.check(r.returncode == 0, "berthctl bpf %s --node %s: %s" % (what, node.name, r.stderr))
    return json.loads(r.stdout)


n1, n2 = c.nodes
if M.iptables():  # no maps: the kernel's tunnel route, and no BPF anywhere
    got = M.ipcache_cidrs(n1)
    M.check(got.get(str(cidrs[n2.name])) == n2.ip,
            "%s's podCIDR routed through berth_vxlan to %s (%s)" % (n2.name, n2.ip, got))
    for n in c.nodes:
        M.no_bpf(n)
    M.log("PASS")
    raise SystemExit(0)
cfg = bpf(n1, "node")
M.check(cfg["node_ip"] == n1.ip and cfg["tunnel_ifindex"] > 0,
        "berthctl bpf node: node IP %s, tunnel device set (%s)" % (n1.ip, cfg))
ipc = {e["cidr"]: e for e in bpf(n1, "ipcache")}
M.check(ipc.get(str(cidrs[n2.name]), {}).get("tunnel") == n2.ip,
        "berthctl bpf ipcache: %s's podCIDR tunnels to %s (%s)" % (n2.name, n2.ip, ipc))
M.check("local" in ipc.get(str(cidrs[n1.name]), {}).get("kind", ""),
        "berthctl bpf ipcache: node1's own podCIDR is local")
eps = {e["ip"] for e in bpf(n1, "endpoints")}
mine = {p["status"]["podIP"] for p in pods.values() if p["spec"]["nodeName"] == n1.name}
M.check(mine <= eps, "berthctl bpf endpoints lists node1's pods %s (%s)" % (mine, eps))
M.log("PASS")
