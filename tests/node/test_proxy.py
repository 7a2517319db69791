#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berth-agent --proxy-server: the BPF service maps follow the API server's
Services and EndpointSlices. The test runs inside a node netns of its own
(berth-server with the EndpointSlice controller, the agent, a client pod and
two backend pods wired Calico-style): pods made Ready over the API -> slices
-> maps within a second, real TCP through the ClusterIP reaches both
backends, endpoint changes and a manual slice's conditions follow, Service
deletion, agent restart with 0 writes, server restart keeps the maps."""
import atexit
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from lib import REPO, SERVER, Server, check, fail  # noqa: E402
from proxy_lib import (add_pod, api, enter_node, make_pod, peer, serve_backends,  # noqa: E402
                       sh, stop, sync_status, wait_for)

BIN = os.path.join(REPO, ".output/bin")
AGENT = os.path.join(BIN, "berth-agent")
CTL = os.path.join(BIN, "berthctl")
P = "bp%d" % os.getpid()
NODE = P + "-node"
NODE_NAME = P + "-n1"
CLI, CLI_IF, CLI_IP = P + "-cli", P + "c", "10.244.0.2"
BES = [(P + "-be1", P + "1", "10.244.0.11", "be1"),
       (P + "-be2", P + "2", "10.244.0.12", "be2")]

made = []
procs = []
tmp = tempfile.mkdtemp(prefix="berth-proxy-")
root = os.path.join(tmp, "agent")
agent = None


def cleanup():
    stop_agent()
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    if made:  # we are in NODE: its pins and filters
        subprocess.run([AGENT, "--node-name", NODE_NAME, "--uninstall"],
                       capture_output=True)
    if os.environ.get("BERTH_TEST_DUMP") or FAILED[0]:
        p = os.path.join(tmp, "agent.log")
        if os.path.exists(p):
            with open(p) as f:
                print("---- agent.log (last 40 lines)\n" + "".join(f.readlines()[-40:]))
    for ns in reversed(made):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    subprocess.run(["rm", "-rf", tmp])


FAILED = [True]


def start_agent(url):
    global agent
    log = open(os.path.join(tmp, "agent.log"), "a")
    args = [AGENT, "--node-name", NODE_NAME, "--root", root, "--proxy-server", url,
            "--interface", CLI_IF, "--log-level", "info"]
    for _, hif, _, _ in BES:
        args += ["--interface", hif]
    agent = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    log.close()


def stop_agent():
    global agent
    stop(agent)
    agent = None


def status():
    return sync_status(root)


def maps():
    """{"vip:port/proto": {"flags": n, "backends": {"ip:port": terminating}}}"""
    r = sh(CTL, "bpf", "services", "--node", NODE_NAME, "-o", "json", check_rc=False)
    b = sh(CTL, "bpf", "backends", "--node", NODE_NAME, "-o", "json", check_rc=False)
    if r.returncode or b.returncode:
        return None
    bes = {e["id"]: e for e in json.loads(b.stdout)}
    out = {}
    for e in json.loads(r.stdout):
        fe = out.setdefault(e["frontend"], {"flags": 0, "backends": {}})
        if e["slot"] == 0:
            fe["flags"] = e["flags"]
        else:
            be = bes.get(e["backend_id"])
            if be:
                fe["backends"][be["address"]] = be["terminating"]
    return out


def backends():
    """{"ip:port": terminating} of the backends map"""
    b = sh(CTL, "bpf", "backends", "--node", NODE_NAME, "-o", "json")
    return {e["address"]: e["terminating"] for e in json.loads(b.stdout)}


def frontend(vip, port):
    m = maps() or {}
    return m.get("%s:%d/TCP" % (vip, port))


def wait_backends(what, vip, port, want, timeout=1.0):
    """want: {"ip:port": terminating} or None for no frontend"""
    t0 = time.monotonic()

    def ok():
        fe = frontend(vip, port)
        return (fe is None) if want is None else (fe is not None and fe["backends"] == want)
    deadline = t0 + timeout
    while not ok():
        if time.monotonic() > deadline:
            fail("%s: maps hold %s, want %s" % (what, frontend(vip, port), want))
        time.sleep(0.01)
    check(True, "%s (%.0f ms)" % (what, (time.monotonic() - t0) * 1000))


def slice_endpoints(s, svc):
    out = api(s, "GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices"
              "?labelSelector=kubernetes.io%2Fservice-name%3D" + svc)
    return sorted((a, bool((e.get("conditions") or {}).get("ready")))
                  for sl in out["items"] for e in sl.get("endpoints") or []
                  for a in e["addresses"])


def restart_server(s, port):
    """SIGTERM and a new server on the same data dir and port."""
    s.proc.send_signal(signal.SIGTERM)
    s.proc.wait(10)
    kc = os.path.join(s.tmp, "data", "kubeconfig")
    os.remove(kc)
    s.log = open(os.path.join(s.tmp, "server2.log"), "w")
    s.proc = subprocess.Popen([SERVER, "--data-dir", os.path.join(s.tmp, "data"),
                               "--listen", "127.0.0.1:%d" % port,
                               "--controllers", "endpointslice"],
                              stdout=s.log, stderr=subprocess.STDOUT)
    wait_for("the server is back", lambda: os.path.exists(kc), 10)


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root")
        sys.exit(77)
    for b in (AGENT, CTL, SERVER):
        if not os.access(b, os.X_OK):
            fail(b + " is missing (make builds it)")
    atexit.register(cleanup)
    enter_node(NODE, P + "d", made)
    add_pod(CLI, CLI_IF, CLI_IP, made)
    serve_backends(BES, tmp, made, procs)

    s = Server("--controllers", "endpointslice")
    atexit.register(stop_agent)  # before the server stops (atexit is LIFO)
    # the agent reads the server's admin kubeconfig: HTTPS, CA, client cert
    url = os.path.join(s.tmp, "data", "kubeconfig")
    os.makedirs(root, exist_ok=True)
    start_agent(url)
    wait_for("the agent's first sync (both lists complete)",
             lambda: (status() or {}).get("seq", 0) >= 1 or (agent.poll() is not None and
                                                              fail("agent exited")), 10)
    check(status()["ok"] and status()["services"] >= 1, "first sync ok: %s" % status())

    svc = api(s, "POST", "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
        "spec": {"selector": {"app": "web"},
                 "ports": [{"name": "http", "port": 80, "targetPort": "web"}]}})
    vip = svc["spec"]["clusterIP"]
    wait_backends("Service without endpoints: frontend with no backends", vip, 80, {})

    make_pod(s, "web-1", BES[0][2], True, NODE_NAME, "192.168.0.2")
    make_pod(s, "web-2", BES[1][2], True, NODE_NAME, "192.168.0.2")
    want = {BES[0][2] + ":8080": False, BES[1][2] + ":8080": False}
    wait_for("endpointslice controller lists both pods ready",
             lambda: slice_endpoints(s, "web") == [(BES[0][2], True), (BES[1][2], True)], 10)
    wait_backends("slices -> maps: both backends", vip, 80, want)
    st = status()
    check(st["ok"] and 0 < st.get("latency_us", 0) < 1000000,
          "sync-status latency %s us" % st.get("latency_us"))

    res = peer(CLI, "conns", 40, vip, 80)
    check(res["errors"] == 0 and set(res["counts"]) == {"be1", "be2"},
          "TCP to %s:80 answered by both backends: %s" % (vip, res["counts"]))

    make_pod(s, "web-2", BES[1][2], False, NODE_NAME, "192.168.0.2")
    wait_backends("web-2 not ready: only be1", vip, 80, {BES[0][2] + ":8080": False},
                  timeout=3)
    res = peer(CLI, "conns", 10, vip, 80)
    check(res["errors"] == 0 and set(res["counts"]) == {"be1"},
          "traffic only to be1: %s" % res["counts"])
    make_pod(s, "web-2", BES[1][2], True, NODE_NAME, "192.168.0.2")
    wait_backends("web-2 ready again", vip, 80, want, timeout=3)

    # a selectorless Service with a slice of our own: conditions, port
    # numbers, affinity and maglev straight from the objects
    man = api(s, "POST", "/api/v1/namespaces/default/services", {
        "apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "manual",
                     "annotations": {"service.berth.dev/lb-algorithm": "maglev"}},
        "spec": {"sessionAffinity": "ClientIP",
                 "ports": [{"name": "http", "port": 80, "targetPort": 8080}]}})
    mvip = man["spec"]["clusterIP"]
    sl = {"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
          "metadata": {"name": "manual-1", "labels": {"kubernetes.io/service-name": "manual"}},
          "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
          "endpoints": [
              {"addresses": [BES[0][2]], "conditions": {"ready": True}},
              {"addresses": ["10.244.0.13"],
               "conditions": {"ready": False, "serving": True, "terminating": True}},
              {"addresses": ["10.244.0.99"],
               "conditions": {"ready": False, "serving": False, "terminating": False}}]}
    api(s, "POST", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices", sl)
    wait_backends("manual slice: the ready endpoint in the slots", mvip, 80,
                  {BES[0][2] + ":8080": False})
    bes = backends()
    check(bes.get("10.244.0.13:8080") is True,
          "serving+terminating endpoint kept as a terminating backend: %s" % bes)
    check("10.244.0.99:8080" not in bes, "not-serving endpoint left out")
    check(frontend(mvip, 80)["flags"] != 0, "maglev/affinity flags set: %d" % frontend(mvip, 80)["flags"])
    res = peer(CLI, "conns", 10, mvip, 80)
    check(res["errors"] == 0 and set(res["counts"]) == {"be1"},
          "terminating backend gets no new connections: %s" % res["counts"])

    api(s, "DELETE", "/api/v1/namespaces/default/services/manual")
    wait_backends("Service deleted: frontend gone", mvip, 80, None)
    # the slots go first, its rev_nat and Maglev table last: a stop before
    # the sync ends would leave the restarted agent a delete to finish
    wait_for("the deletion's sync finished",
             lambda: (status() or {}).get("services") == 2, 10)

    # agent restart: same state, nothing written
    before = maps()
    stop_agent()
    os.remove(os.path.join(root, "sync-status.json"))
    start_agent(url)
    wait_for("sync after restart", lambda: status(), 10)
    st = status()
    check(st["ok"] and st["writes"] == 0, "agent restart: 0 map writes (%s)" % st)
    check(maps() == before, "maps unchanged by the restart")

    # the server goes away: maps stay; it comes back: changes flow again
    s.proc.send_signal(signal.SIGTERM)
    s.proc.wait(10)
    time.sleep(1.5)
    check(frontend(vip, 80)["backends"] == want, "server down: maps kept")
    restart_server(s, s.port)
    api(s, "DELETE", "/api/v1/namespaces/default/services/web")
    # the watches retry with back-off (0.5 s doubling)
    wait_backends("server back: a deletion made after its return is followed",
                  vip, 80, None, timeout=15)
    with open(os.path.join(tmp, "agent.log")) as f:
        log = f.read()
    check(log.count("unreachable") <= 2, "server loss logged once per outage (%d)"
          % log.count("unreachable"))

    check(agent.poll() is None, "agent still running")
    FAILED[0] = False


if __name__ == "__main__":
    main()
