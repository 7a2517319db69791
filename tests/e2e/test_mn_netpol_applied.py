#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Every agent says when its maps enforce a policy change: the log line
"network policy: enforced resourceVersion R at T" names the policy's
resourceVersion (or a later one) and a time after the API write, once per
version (bench/policy times enforcement with it)."""
import re
import time

import multinode as M

ENFORCED = re.compile(r"network policy: enforced resourceVersion (\d+) at (\d+\.\d+)")


def policy(port):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "applied", "namespace": "default"},
            "spec": {"podSelector": {"matchLabels": {"be": "y"}},
                     "ingress": [{"from": [{"podSelector": {}}], "ports": [{"port": port}]}]}}


def enforced(node):
    with open(node.logfile) as f:
        return [(int(r), float(t)) for r, t in ENFORCED.findall(f.read())]


def applied(c, port):
    """Applies the policy; its resourceVersion and when the write was sent."""
    t = time.time()
    c.apply(policy(port))
    return int(c.get("networkpolicy", "applied")["metadata"]["resourceVersion"]), t


if M.iptables():
    M.skip("the bpf dataplane's policy agent")
c = M.cluster(nodes=2)
M.start_pods(c, 1)
for port in (8080, 8081):
    rv, sent = applied(c, port)
    for n in c.nodes:
        M.wait("%s enforces resourceVersion %d" % (n.name, rv),
               lambda: any(r >= rv for r, _ in enforced(n)), timeout=30)
        t = min(t for r, t in enforced(n) if r >= rv)
        M.check(sent <= t <= time.time(),
                "%s: enforced at %.3f, written at %.3f" % (n.name, t, sent))
time.sleep(1)  # passes without a policy change say nothing more
for n in c.nodes:
    rvs = [r for r, _ in enforced(n)]
    M.check(len(rvs) == len(set(rvs)), "%s: one line per version: %s" % (n.name, rvs))
M.log("ok")
