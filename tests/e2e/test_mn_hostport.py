#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""hostPort and the bandwidth annotations through the CNI chain, as a
kubelet's runtime runs it: berth-cni, then Debian's portmap and bandwidth
plugins, given the pod's portMappings and bandwidth as capability
arguments (runtimeConfig). From outside, node1's address on the hostPort
reaches the pod; the pod's host-side interface gets the egress shaping;
deleting the pod removes the mapping (the DEL got the same arguments)."""
import copy
import json

import multinode as M

c = M.cluster(nodes=2)
n1, n2 = c.nodes
p = copy.deepcopy(M.web_pod("hp", n1, {"at": "n1"}))
p["spec"]["containers"][0]["ports"][0]["hostPort"] = 8081
p["metadata"]["annotations"] = {"kubernetes.io/ingress-bandwidth": "10M"}
c.kubectl("apply", "-f", "-", input=json.dumps(p))
M.wait("pod hp Ready", lambda: any(
    x["type"] == "Ready" and x["status"] == "True"
    for x in (c.get("pod", "hp") or {}).get("status", {}).get("conditions", [])), 60)

got = M.curl(c, "ext", "http://%s:8081/" % n1.ip)
M.check(got == "hp", "hostPort 8081 on %s answers from the pod (%r)" % (n1.ip, got))
got = M.curl(c, "ext", "http://%s:8081/" % n2.ip, timeout=2)
M.check(got is None, "hostPort is only on the pod's node (%s: %r)" % (n2.ip, got))
r = n1.sh("iptables", "-t", "nat", "-S", check=False)
M.check("--dport 8081" in r.stdout, "portmap's DNAT rule for 8081 in %s" % n1.name)
r = n1.sh("tc", "qdisc", "show", check=False)
M.check(" tbf " in r.stdout, "bandwidth plugin shaped the pod's traffic (tbf qdisc): %s" %
        r.stdout.strip()[:300])

c.kubectl("delete", "pod", "hp", "--wait=true", "--timeout=60s")
r = n1.sh("iptables", "-t", "nat", "-S", check=False)
M.check("--dport 8081" not in r.stdout, "portmap's rule gone with the pod")
got = M.curl(c, "ext", "http://%s:8081/" % n1.ip, timeout=2)
M.check(got is None, "hostPort closed after the pod is deleted (%r)" % got)
bad = copy.deepcopy(M.web_pod("badbw", n1, {"at": "n1"}))
bad["metadata"]["annotations"] = {"kubernetes.io/egress-bandwidth": "fast"}
c.kubectl("apply", "-f", "-", input=json.dumps(bad))
M.wait("a bad bandwidth annotation is reported on the pod", lambda: "egress-bandwidth" in
       json.dumps((c.get("pod", "badbw") or {}).get("status", {})), 30)
M.log("PASS")
