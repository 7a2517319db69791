#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A new pod is under its NetworkPolicy from its first instruction: an
egress deny-all already selects pods labelled app=probe, and pods with that
label connect to a peer the moment their container starts. Each must be
refused — the agent judges a pod during its CNI ADD, before any container
runs, not when the API later shows its address. The same probe from pods no
policy selects must get through (so the probe can tell)."""
import time

import multinode as M
import cluster as C

PROBES = 4

c = M.cluster(nodes=1)
pods = M.start_pods(c, 1)
peer = pods["web-1-0"]["status"]["podIP"]
node = c.nodes[0]
c.apply({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
         "metadata": {"name": "probe-egress"},
         "spec": {"podSelector": {"matchLabels": {"app": "probe"}},
                  "policyTypes": ["Egress"]}})
# the policy and the pods come through different watches, which the API
# does not order against each other: give the policy's a head start
time.sleep(1)

# the first thing the container does: one connection, its result in the log
# (busybox nc: Debian's static busybox wget crashes in getaddrinfo)
PROBE = ("if nc -w 2 %s 8080 </dev/null; then echo REACHED; else echo REFUSED; fi; "
         "exec sleep 3600" % peer)


def probe_pod(name, app):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": app}},
            "spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "p", "image": C.IMAGE,
                                     "command": ["sh", "-c", PROBE]}]}}


names = ["probe-%d" % i for i in range(PROBES)] + ["free-%d" % i for i in range(2)]
c.apply(*[probe_pod(n, "probe" if n.startswith("probe") else "free") for n in names])


def verdict(name):
    r = c.kubectl("logs", name, check=False)
    lines = r.stdout.split() if r.returncode == 0 else []
    for w in ("REACHED", "REFUSED"):  # wget's own complaint comes first
        if w in lines:
            return w
    return None


def dump(name):
    return c.kubectl("logs", name, check=False).stdout.replace("\n", " | ")


M.wait("every probe pod has tried its first connection",
       lambda: all(verdict(n) for n in names), timeout=90)
for n in names:
    want = "REFUSED" if n.startswith("probe") else "REACHED"
    got = verdict(n)
    M.check(got == want, "%s (%s): first connection at start %s" % (
        n, "selected by the egress deny-all" if want == "REFUSED" else "no policy",
        got if got == want else "%s: %s" % (got, dump(n))))
log = open(node.logfile).read()
M.check("network policy not judged before its start" not in log,
        "every pod was judged during its CNI ADD (agent log)")
M.log("PASS")
