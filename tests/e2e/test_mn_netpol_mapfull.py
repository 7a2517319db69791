#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A policy map too small for the policy (--policy-map-entries): the agent
says so once (log, a PolicyMapFull Event on its Node), keeps enforcing the
policy it had (a connection it allowed still passes, one it denied is still
refused), and enforces the new policy as soon as it fits again."""
import time

import multinode as M

ENTRIES = 12  # web-1-1's allows: a head per peer identity + one per port


def allow(name, ports):
    """web-1-1 (be=y) takes ports from every pod of the namespace."""
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name},
            "spec": {"podSelector": {"matchLabels": {"be": "y"}},
                     "ingress": [{"from": [{"podSelector": {}}],
                                  "ports": [{"port": p} for p in ports]}]}}


M.require_flag("--policy-map-entries", "test_mn_netpol_mapfull")
c = M.cluster(nodes=1, agent_args={1: ["--policy-map-entries", str(ENTRIES)]})
node = c.nodes[0]
pods = M.start_pods(c, 2)
client, server = pods["web-1-0"], pods["web-1-1"]
url = "http://%s:8080/" % server["status"]["podIP"]


def reaches():
    return M.curl(c, client, url, timeout=2) is not None


def log_has(s):
    with open(node.logfile) as f:
        return s in f.read()


def full_events():
    r = c.kubectl("get", "events", "-n", "default", "-o",
                  "jsonpath={range .items[?(@.reason==\"PolicyMapFull\")]}"
                  "{.involvedObject.kind}/{.involvedObject.name}{\"\\n\"}{end}",
                  check=False)
    return r.stdout.split()


# 2 peer identities x (head + 8080) = 4 entries: fits
c.apply(allow("web", [8080]))
M.wait("8080 allowed by the first policy", reaches, timeout=30)

# ten more ports need 2 x 10 more entries: more than the map has
c.apply(allow("many", range(9000, 9010)))
M.wait("the agent reports the full map", lambda: log_has("the policy map is full"),
       timeout=30)
M.wait("a PolicyMapFull Event on the Node",
       lambda: "Node/%s" % node.name in full_events(), timeout=30)
M.check(reaches(), "the policy enforced before stays: 8080 still allowed")
time.sleep(2.5)  # two retries: still one report
with open(node.logfile) as f:
    reports = f.read().count("the policy map is full")
M.check(reports == 1, "reported once, not at every retry (%d)" % reports)
M.check(len(full_events()) == 1, "one Event (%s)" % full_events())

# room again: the policy that fits is enforced
c.kubectl("delete", "networkpolicy", "many")
M.wait("the agent recovers", lambda: log_has("the policy map has room again"),
       timeout=30)
c.apply(allow("web", [8081]))  # 8080 no longer allowed
M.wait("the new policy enforced: 8080 refused", lambda: not reaches(), timeout=30)
M.log("PASS")
