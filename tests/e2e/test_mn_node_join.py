#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A node joins a running cluster: within a second of its Node getting a
podCIDR, every other node's ipcache routes that CIDR through the tunnel to
the new node's IP, and pods on the old nodes reach a pod on the new one."""
import time

import multinode as M
import cluster as C

c = M.cluster(nodes=2)
pods = M.start_pods(c, 1)
M.require_crossnode(c)
n3 = c.add_node()
t0 = time.time()
cidr = M.wait("%s registered with a podCIDR" % n3.name,
              lambda: (c.get("node", n3.name) or {}).get("spec", {}).get("podCIDR"),
              timeout=30, interval=0.05)
t_cidr = time.time()
for n in c.nodes[:2]:
    M.wait("%s's ipcache routes %s to %s" % (n.name, cidr, n3.ip),
           lambda n=n: M.ipcache_cidrs(n).get(cidr) == n3.ip, timeout=5, interval=0.05)
took = time.time() - t_cidr
M.check(took <= 1.0, "the other nodes' ipcache had %s within %.2fs of the podCIDR (agent "
        "start to podCIDR %.2fs)" % (cidr, took, t_cidr - t0))

c.apply(M.web_pod("web-3-0", n3, {"at": "n3"}))
p3 = c.wait_pods_ready("at=n3", 1, timeout=60, progress=M.log)[0]
for name in ("web-1-0", "web-2-0"):
    got = M.curl(c, pods[name], "http://%s:8080/" % p3["status"]["podIP"])
    M.check(got == "web-3-0", "%s reaches web-3-0 on the new node (%r)" % (name, got))
M.log("PASS")
