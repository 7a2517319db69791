#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berth-agent --dataplane iptables --proxy-server: Services from the API
server become iptables-nft rules in the node's netns, with no BPF at all.
The test runs inside a node netns of its own (berth-server with the
EndpointSlice controller, the agent, a client pod and two backend pods
wired Calico-style) and checks: no pins and no tc filters; ClusterIP TCP
reaches both backends; NodePort on --node-ip reaches both through a
masquerading BERTH-EXT- chain; ClientIP affinity
keeps a client on one backend; a Service without endpoints is refused at
once (REJECT); an endpoint going unready leaves the rules, and a UDP
flow to it leaves conntrack; rules deleted
behind the agent's back (a per-Service chain flushed, the jump from
PREROUTING removed) come back with the periodic full sync and with SIGHUP;
a restarted agent keeps the same chain names; --uninstall removes every
BERTH- chain."""
import atexit
import os
import re
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from lib import REPO, Server, check, fail  # noqa: E402
from proxy_lib import (add_pod, api, enter_node, make_pod, peer, serve_backends,  # noqa: E402
                       sh, stop, sync_status, wait_for)

BIN = os.path.join(REPO, ".output/bin")
AGENT = os.path.join(BIN, "berth-agent")
P = "bi%d" % os.getpid()
NODE = P + "-node"
NODE_NAME = P + "-n1"
NODE_IP = "192.168.77.1"
CLI, CLI_IF, CLI_IP = P + "-cli", P + "c", "10.244.0.2"
BES = [(P + "-be1", P + "1", "10.244.0.11", "be1"),
       (P + "-be2", P + "2", "10.244.0.12", "be2")]
SYNC_PERIOD = 3  # --iptables-sync-period for the repair check, s

made = []
procs = []
tmp = tempfile.mkdtemp(prefix="berth-ipt-")
root = os.path.join(tmp, "agent")
agent = None
FAILED = [True]


def cleanup():
    stop_agent()
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if os.environ.get("BERTH_TEST_DUMP") or FAILED[0]:
        p = os.path.join(tmp, "agent.log")
        if os.path.exists(p):
            with open(p) as f:
                print("---- agent.log (last 40 lines)\n" + "".join(f.readlines()[-40:]))
        if made:
            print("---- iptables-nft-save\n" + sh("iptables-nft-save", check_rc=False).stdout)
    for ns in reversed(made):  # the node's rules go with its netns
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["rm", "-rf", tmp])


def start_agent(url):
    global agent
    log = open(os.path.join(tmp, "agent.log"), "a")
    agent = subprocess.Popen([AGENT, "--node-name", NODE_NAME, "--root", root,
                              "--proxy-server", url, "--dataplane", "iptables",
                              "--node-ip", NODE_IP, "--iptables-sync-period",
                              str(SYNC_PERIOD), "--log-level", "info"],
                             stdout=log, stderr=subprocess.STDOUT)
    log.close()


def stop_agent():
    global agent
    stop(agent)
    agent = None


def status():
    return sync_status(root)


def rules(table="nat"):
    """iptables-nft-save -t table, without comments and counters."""
    out = sh("iptables-nft-save", "-t", table).stdout
    return [re.sub(r" \[\d+:\d+\]$", "", ln) for ln in out.splitlines()
            if ln and not ln.startswith("#")]


def chain_rules(name, table="nat"):
    return [ln for ln in rules(table) if ln.startswith("-A %s " % name)]


def svc_chain(vip, port):
    """The BERTH-SVC- chain BERTH-SERVICES sends vip:port to, or None."""
    for ln in chain_rules("BERTH-SERVICES"):
        if ("-d %s/32" % vip) in ln and ("--dport %d " % port) in ln:
            return ln.split(" -j ")[-1]
    return None


def service(s, name, **spec):
    spec.setdefault("ports", [{"name": "http", "port": 80, "targetPort": "web"}])
    return api(s, "POST", "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
        "spec": spec})["spec"]


def endpoints_in_rules(chain):
    """DNAT targets reached from a SVC chain: {"ip:port"}"""
    out = set()
    for ln in chain_rules(chain):
        sep = ln.split(" -j ")[-1]
        for d in chain_rules(sep):
            m = re.search(r"--to-destination (\S+)", d)
            if m:
                out.add(m.group(1))
    return out


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root")
        sys.exit(77)
    for b in ("iptables-nft-restore", "iptables-nft-save"):
        if subprocess.run(["sh", "-c", "command -v " + b], capture_output=True).returncode:
            print("SKIP: %s is not installed (scripts/deps.sh)" % b)
            sys.exit(77)
    atexit.register(cleanup)
    enter_node(NODE, P + "d", made, NODE_IP + "/24")
    add_pod(CLI, CLI_IF, CLI_IP, made)
    serve_backends(BES, tmp, made, procs, "--udp", "5353")

    s = Server("--controllers", "endpointslice")
    atexit.register(stop_agent)  # before the server stops (atexit is LIFO)
    # the server's own kubeconfig: whatever it listens on (HTTP or HTTPS
    # with client certificates), the agent finds it there
    url = os.path.join(s.tmp, "data", "kubeconfig")
    os.makedirs(root, exist_ok=True)
    start_agent(url)
    wait_for("the agent's first sync",
             lambda: (status() or {}).get("seq", 0) >= 1 or (agent.poll() is not None and
                                                              fail("agent exited")), 10)
    check(status()["ok"], "first sync ok: %s" % status())
    check(not os.path.exists("/sys/fs/bpf/berth/" + NODE_NAME),
          "no BPF pin directory for the node")
    tc = sh("tc", "filter", "show", "dev", CLI_IF, "ingress").stdout.strip()
    check(tc == "", "no tc filter on the pod's veth (%r)" % tc)
    check(any(ln.startswith("-A PREROUTING") and "-j BERTH-SERVICES" in ln for ln in rules()),
          "PREROUTING jumps to BERTH-SERVICES")

    web = service(s, "web", type="NodePort", selector={"app": "web"})
    vip, nport = web["clusterIP"], web["ports"][0]["nodePort"]
    make_pod(s, "web-1", BES[0][2], True, NODE_NAME, NODE_IP)
    make_pod(s, "web-2", BES[1][2], True, NODE_NAME, NODE_IP)
    both = {BES[0][2] + ":8080", BES[1][2] + ":8080"}
    wait_for("rules for both endpoints",
             lambda: svc_chain(vip, 80) and endpoints_in_rules(svc_chain(vip, 80)) == both, 10)
    check(True, "ClusterIP %s:80 -> %s in nat" % (vip, svc_chain(vip, 80)))

    res = peer(CLI, "conns", 40, vip, 80)
    check(res["errors"] == 0 and set(res["counts"]) == {"be1", "be2"},
          "ClusterIP TCP to %s:80 answered by both backends: %s" % (vip, res["counts"]))
    res = peer(CLI, "conns", 20, NODE_IP, nport)
    check(res["errors"] == 0 and set(res["counts"]) == {"be1", "be2"},
          "NodePort %s:%d answered by both backends: %s" % (NODE_IP, nport, res["counts"]))
    m = [ln for ln in chain_rules("BERTH-NODEPORTS") if "--dport %d " % nport in ln]
    check(len(m) == 1 and "-j BERTH-EXT-" in m[0], "NodePort dispatched to BERTH-EXT-: %s" % m)

    sticky = service(s, "sticky", selector={"app": "web"}, sessionAffinity="ClientIP",
                     sessionAffinityConfig={"clientIP": {"timeoutSeconds": 300}})
    svip = sticky["clusterIP"]
    wait_for("sticky's rules", lambda: svc_chain(svip, 80) and
             endpoints_in_rules(svc_chain(svip, 80)) == both, 10)
    res = peer(CLI, "conns", 20, svip, 80)
    check(res["errors"] == 0 and len(res["counts"]) == 1,
          "ClientIP affinity: 20 connections to one backend: %s" % res["counts"])
    check(any("--rcheck --seconds 300 --reap" in ln for ln in chain_rules(svc_chain(svip, 80))),
          "affinity checked with recent, 300 s")

    empty = service(s, "empty", selector={"app": "nothing"})
    evip = empty["clusterIP"]
    wait_for("REJECT for the Service without endpoints",
             lambda: any(evip in ln and "REJECT" in ln
                         for ln in chain_rules("BERTH-SERVICES", "filter")), 10)
    res = peer(CLI, "connect", evip, 80)
    check(res["result"] == "refused" and res["seconds"] < 1,
          "no endpoints: connection refused at once: %s" % res)

    make_pod(s, "web-2", BES[1][2], False, NODE_NAME, NODE_IP)
    wait_for("web-2 unready: only be1 in the rules",
             lambda: endpoints_in_rules(svc_chain(vip, 80)) == {BES[0][2] + ":8080"}, 10)
    res = peer(CLI, "conns", 10, vip, 80)
    check(res["errors"] == 0 and set(res["counts"]) == {"be1"},
          "traffic only to be1: %s" % res["counts"])
    make_pod(s, "web-2", BES[1][2], True, NODE_NAME, NODE_IP)
    wait_for("web-2 ready again",
             lambda: endpoints_in_rules(svc_chain(vip, 80)) == both, 10)

    # UDP: the conntrack entry of a client flow to an endpoint that goes
    # is deleted, so the next datagram picks a live endpoint
    udp = service(s, "dns", selector={"app": "web"},
                  ports=[{"name": "dns", "port": 53, "targetPort": 5353, "protocol": "UDP"}])
    uvip = udp["clusterIP"]
    wait_for("dns's rules", lambda: svc_chain(uvip, 53) and
             len(endpoints_in_rules(svc_chain(uvip, 53))) == 2, 10)
    sh("ip", "netns", "exec", CLI, sys.executable, "-c",
       "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
       "s.bind(('0.0.0.0', 40053)); s.settimeout(2); s.sendto(b'x', ('%s', 53)); "
       "print(s.recv(64))" % uvip)

    def flow_backend():
        r = sh("conntrack", "-L", "-p", "udp", "--orig-dst", uvip, "--sport", "40053",
               check_rc=False)
        m = re.search(r"src=(10\.244\.0\.1\d) dst=%s" % CLI_IP, r.stdout)
        return m.group(1) if m else None
    be = flow_backend()
    check(be in (BES[0][2], BES[1][2]), "UDP flow to %s:53 in conntrack, to %s" % (uvip, be))
    gone = [b for b in BES if b[2] == be][0]
    make_pod(s, "web-%s" % gone[3][-1], be, False, NODE_NAME, NODE_IP)
    wait_for("the flow to the unready %s leaves conntrack" % be,
             lambda: flow_backend() is None, 10)
    check(True, "conntrack -D removed the UDP flow to %s" % be)
    make_pod(s, "web-%s" % gone[3][-1], be, True, NODE_NAME, NODE_IP)
    api(s, "DELETE", "/api/v1/namespaces/default/services/dns")
    wait_for("web's rules back to both endpoints",
             lambda: endpoints_in_rules(svc_chain(vip, 80)) == both, 10)

    # repairs: a per-Service chain flushed and the PREROUTING jump deleted
    # behind the agent's back come back with the periodic full sync
    chain = svc_chain(vip, 80)
    sh("iptables-nft", "-w", "-t", "nat", "-F", chain)
    sh("iptables-nft", "-w", "-t", "nat", "-D", "PREROUTING", "-m", "comment", "--comment",
       "berth service portals", "-j", "BERTH-SERVICES")
    t0 = time.monotonic()
    res = peer(CLI, "connect", vip, 80)
    check(res["result"] != "connected", "rules deleted: the ClusterIP is broken (%s)" % res)
    wait_for("the periodic full sync repairs both",
             lambda: len(chain_rules(chain)) == 2 and
             any(ln.startswith("-A PREROUTING") and "BERTH-SERVICES" in ln for ln in rules()),
             SYNC_PERIOD + 5)
    check(True, "repaired in %.1f s (period %d s)" % (time.monotonic() - t0, SYNC_PERIOD))
    res = peer(CLI, "conns", 10, vip, 80)
    check(res["errors"] == 0, "ClusterIP answers again: %s" % res["counts"])
    # SIGHUP: a full sync now, not at the next period
    sh("iptables-nft", "-w", "-t", "nat", "-F", chain)
    agent.send_signal(signal.SIGHUP)
    wait_for("SIGHUP's full sync repairs the chain", lambda: len(chain_rules(chain)) == 2,
             SYNC_PERIOD - 0.5)

    # restart: the same names, the same rules
    before = sorted(ln for ln in rules() if "BERTH-" in ln)
    stop_agent()
    os.remove(os.path.join(root, "sync-status.json"))
    start_agent(url)
    wait_for("sync after restart", lambda: (status() or {}).get("ok"), 10)
    after = sorted(ln for ln in rules() if "BERTH-" in ln)
    check(before == after, "agent restart: identical BERTH- rules (%d lines)" % len(after))
    res = peer(CLI, "conns", 10, vip, 80)
    check(res["errors"] == 0, "ClusterIP after restart: %s" % res["counts"])

    # Service deleted: its chains go
    api(s, "DELETE", "/api/v1/namespaces/default/services/sticky")
    schain = [ln for ln in before if ln.startswith(":BERTH-SVC-") and
              svc_chain(svip, 80) in ln]
    wait_for("sticky deleted: no rule names its ClusterIP",
             lambda: svc_chain(svip, 80) is None, 10)
    check(schain and not any(schain[0] in ln for ln in rules()),
          "its chain %s was deleted (-X)" % (schain[0].split()[0] if schain else "?"))

    stop_agent()
    r = subprocess.run([AGENT, "--node-name", NODE_NAME, "--uninstall"],
                       capture_output=True, text=True)
    left = [ln for ln in rules() + rules("filter") if "BERTH-" in ln]
    check(r.returncode == 0 and not left, "--uninstall removes every BERTH- chain: %s %s"
          % (left[:3], r.stderr.strip()[-300:]))
    FAILED[0] = False


if __name__ == "__main__":
    main()
