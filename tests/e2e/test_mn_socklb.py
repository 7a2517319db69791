#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Socket LB: a client in the node's own network namespace (not a pod),
running in the cgroup the agent was given with --cgroup, reaches a
ClusterIP: connect4 picks a backend, getpeername4 still reports the
ClusterIP. Backends on the client's node, then on the other node."""
import os
import shlex

import multinode as M
import cluster as C

M.require_flag("--cgroup", "helpers B and D: berth-agent --cgroup PATH attaches sock.bpf.c")
c = M.cluster(nodes=2)
n1 = c.nodes[0]
cg = c.make_cgroup("sock")
n1.stop_agent()
n1.start_agent("--cgroup", cg)
pods = M.start_pods(c, 2, extra=[M.service("near", {"app": "web", "at": "n1", "be": "y"}),
                                  M.service("far", {"app": "web", "at": "n2", "be": "y"})])


def attached():
    r = C.run("bpftool", "cgroup", "show", cg, check=False)
    return "connect4" in r.stdout and r.stdout
try:
    C.wait_for("sock programs", attached, 10)
except C.ClusterError:
    M.missing("connect4 (sock.bpf.c) attached to %s by %s's agent (bpftool cgroup show: %s)" %
              (cg, n1.name, C.run("bpftool", "cgroup", "show", cg, check=False).stdout.strip()),
              "helper D: sock.bpf.c + socklb.c; helper B: --cgroup")
M.log("ok: socket LB programs on %s:\n%s" % (cg, attached()))


def host_client(url):
    """curl in node1's netns, inside the agent's cgroup -> (rc, body, peer)"""
    script = 'echo $$ > %s/cgroup.procs && exec %s' % (shlex.quote(cg), shlex.join(C.nsexec(
        n1.ns, "curl", "-sS", "-m", "3", "-w", r"\n%{remote_ip}", url)))
    r = C.run("sh", "-c", script, check=False, timeout=15)
    lines = r.stdout.strip().splitlines()
    return r.returncode, lines[0] if lines else None, lines[-1] if lines else None


for svc, want in (("near", "web-1-1"), ("far", "web-2-1")):
    M.endpoints_ready(c, svc, 1)
    cip = c.get("service", svc)["spec"]["clusterIP"]
    if svc == "far":
        M.require_crossnode(c)
    for _ in range(3):
        rc, body, peer = host_client("http://%s/" % cip)
        M.check(rc == 0 and body == want, "host client in %s -> ClusterIP %s (%s) answered by "
                "%s (rc %d, %r)" % (os.path.basename(cg), cip, svc, want, rc, body))
        M.check(peer == cip, "getpeername reports the ClusterIP %s (%s)" % (cip, peer))
M.log("PASS")
