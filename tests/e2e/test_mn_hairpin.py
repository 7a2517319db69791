#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Hairpin: a pod that is the only backend of a ClusterIP Service fetches
the Service and gets its own answer (Kubernetes requires it; kube-proxy
masquerades it). After DNAT the packet would go from the pod's address to
itself, a martian its kernel drops, so berth's datapath gives it the
hairpin source 169.254.42.1 and turns the reply back."""
import multinode as M

HAIRPIN_IP = "169.254.42.1"

c = M.cluster(nodes=1)
pods = M.start_pods(c, 1, extra=[M.service("self", {"app": "web", "at": "n1"})])
me = pods["web-1-0"]
M.endpoints_ready(c, "self", 1)
cip = c.get("service", "self")["spec"]["clusterIP"]
for i in range(3):
    got = M.curl(c, me, "http://%s/" % cip)
    M.check(got == "web-1-0", "web-1-0 reaches itself through ClusterIP %s (try %d): %r"
            % (cip, i + 1, got))
got = M.client_ip(M.curl(c, me, "http://%s/cgi-bin/ip" % cip))
# iptables (kube-proxy's way): masqueraded to the node's address
want = c.nodes[0].ip if M.iptables() else HAIRPIN_IP
M.check(got == want, "the pod sees its hairpin connection from %s (got %s)" % (want, got))
# a direct connection to its own address is no hairpin: kept as it is
got = M.client_ip(M.curl(c, me, "http://%s:8080/cgi-bin/ip" % me["status"]["podIP"]))
M.check(got in (me["status"]["podIP"], "127.0.0.1"),
        "to its own pod IP the pod is its own client (got %s)" % got)
M.log("PASS")
