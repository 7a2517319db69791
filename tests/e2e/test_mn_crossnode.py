#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Pods on two nodes over the VXLAN overlay: ping and TCP both ways with
the pods' own addresses (no NAT between pods), pod MTU = underlay - 50,
a ClusterIP whose backends all live on the other node, and no "no route"
drops in the tunnel (the device's own IPv6 chatter is not berth's); with
BERTH_DATAPLANE=iptables, the same traffic and no BPF on any node."""
import json
import os

import multinode as M
import cluster as C

c = M.cluster(nodes=2)
pods = M.start_pods(c, 3, extra=[M.service("far2", {"app": "web", "at": "n2", "be": "y"}),
                                  M.service("far1", {"app": "web", "at": "n1", "be": "y"})])
M.require_crossnode(c)

a, b = pods["web-1-0"], pods["web-2-0"]
# ip, not /sys/class/net: nsenter --net keeps the host's sysfs mount
mtu = str(json.loads(c.pod_exec(a, "ip", "-j", "link", "show", "eth0").stdout)[0]["mtu"])
M.check(mtu == str(C.MTU - 50), "pod MTU is underlay MTU - 50 (%s)" % mtu)
for src, dst in ((a, b), (b, a)):
    sname, dname = src["metadata"]["name"], dst["metadata"]["name"]
    dip = dst["status"]["podIP"]
    r = c.pod_exec(src, "busybox", "ping", "-c", "3", "-W", "2", dip, check=False)
    M.check(r.returncode == 0, "ping %s -> %s (%s) across nodes: %s" %
            (sname, dname, dip, r.stdout.splitlines()[-2:] if r.stdout else r.stderr))
    got = M.curl(c, src, "http://%s:8080/" % dip)
    M.check(got == dname, "TCP %s -> %s:8080 across nodes answers %r" % (sname, dip, got))
    got = M.client_ip(M.curl(c, src, "http://%s:8080/cgi-bin/ip" % dip))
    M.check(got == src["status"]["podIP"], "%s sees the client's pod IP %s (got %s)" %
            (dname, src["status"]["podIP"], got))

# a bigger transfer than one MTU, both ways (fragmentation or a wrong MTU
# shows up here, not with a ping)
r = c.pod_exec(a, "sh", "-c", "head -c 200000 /dev/zero > /tmp/.x; curl -sS -m 5 -o /dev/null "
               "-w '%%{http_code}' -T /tmp/.x http://%s:8080/nope" % b["status"]["podIP"],
               check=False)
M.check(r.stdout.strip() in ("404", "405", "501", "200"),
        "200 kB upload across nodes completes (http %r %s)" % (r.stdout, r.stderr.strip()))

for client, svc, want in ((a, "far2", {"web-2-1", "web-2-2"}),
                          (b, "far1", {"web-1-1", "web-1-2"})):
    M.endpoints_ready(c, svc, 2)
    cip = c.get("service", svc)["spec"]["clusterIP"]
    seen = {}
    for _ in range(20):
        r = M.curl(c, client, "http://%s/" % cip)
        seen[r] = seen.get(r, 0) + 1
    M.check(set(seen) == want, "ClusterIP %s (%s) from %s reaches the backends on the "
            "other node: %s" % (cip, svc, client["metadata"]["name"], seen))

for n in c.nodes:
    if M.iptables():
        M.no_bpf(n)
        continue
    r = C.run(os.path.join(C.BIN, "berthctl"), "bpf", "metrics", "--node", n.name,
              "-o", "json", check=False)
    bad = [m for m in json.loads(r.stdout or "[]")
           if m["dir"] == "overlay" and m["reason"] == "no route to destination"]
    M.check(r.returncode == 0 and not bad,
            "%s: no no-route drops into the tunnel (%s)" % (n.name, bad or r.stderr.strip()))
M.log("PASS")
