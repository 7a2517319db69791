#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""An agent killed (SIGKILL) and restarted on each node in turn while an
iperf3 TCP stream runs between pods on the two nodes: the datapath stays in
the kernel, the restarted agents change nothing that is right, and the
stream finishes without an error, a reconnect or a silent second."""
import json
import os
import shutil
import signal
import subprocess
import time

import multinode as M
import cluster as C

if not shutil.which("iperf3"):
    M.skip("iperf3 is not installed (scripts/deps.sh)")
c = M.cluster(nodes=2)
n1, n2 = c.nodes
pods = M.start_pods(c, 1)
a, b = pods["web-1-0"], pods["web-2-0"]
M.require_crossnode(c)

SECS = 8
srv_log = os.path.join(c.state, "iperf3-server.log")
c.pod_daemon(b, srv_log, "timeout", str(SECS + 20), "iperf3", "-s", "-1", "-p", "5201")
M.wait("iperf3 server listens in web-2-0",
       lambda: ":5201" in c.pod_exec(b, "ss", "-ltn", check=False).stdout)
a_netns = c.node(a["spec"]["nodeName"]).pod_netns(a["metadata"]["uid"])
cli = subprocess.Popen(C.nsexec(a_netns, "iperf3", "-c", b["status"]["podIP"], "-p", "5201", "-t", str(SECS),
                                "-i", "1", "-J"),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
c.note("pids", cli.pid)
time.sleep(2)
for n in (n1, n2):
    M.log("SIGKILL %s's agent (pid %s)" % (n.name, n.agent_pid()))
    n.stop_agent(signal.SIGKILL)
    time.sleep(0.5)
    n.start_agent()
    M.log("restarted %s's agent (pid %s)" % (n.name, n.agent_pid()))
    time.sleep(1.5)
try:
    out, err = cli.communicate(timeout=SECS + 15)
except subprocess.TimeoutExpired:
    cli.kill()
    out, err = cli.communicate()
    M.fail("iperf3 client did not finish within %ds" % (SECS + 15))
try:
    res = json.loads(out)
except ValueError:
    M.fail("iperf3 client: exit %d, no JSON: %s %s" % (cli.returncode, out[-400:], err[-400:]))
M.check(cli.returncode == 0 and not res.get("error"),
        "iperf3 stream finished without error (exit %d, %s)" % (cli.returncode,
                                                                res.get("error")))
conns = res.get("start", {}).get("connected", [])
M.check(len(conns) == 1, "one TCP connection for the whole run (%d)" % len(conns))
rates = [iv["sum"]["bits_per_second"] for iv in res.get("intervals", [])]
M.check(len(rates) >= SECS and min(rates) > 0,
        "no silent second across both agent restarts: %s Mbit/s" %
        [round(r / 1e6) for r in rates])
rx = res["end"]["sum_received"]["bytes"]
M.check(rx > 0, "%d MB received over %ds" % (rx >> 20, SECS))
for n in (n1, n2):
    M.check(n.agent_pid() is not None, "%s's restarted agent runs" % n.name)
M.log("PASS")
