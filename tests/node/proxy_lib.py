# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Helpers of the Service proxy node tests (test_proxy.py: BPF,
test_ipt_proxy.py: iptables): the test process moves into a node netns of
its own, pods are netns wired Calico-style (proxy ARP, a /32 route per
pod), pod objects over the API, the client pod's peer.py."""
import ctypes
import json
import os
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from lib import REPO, fail  # noqa: E402

PEER = os.path.join(REPO, "tests/e2e/peer.py")
CLONE_NEWNET = 0x40000000


def sh(*cmd, check_rc=True):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=30)
    if check_rc and r.returncode != 0:
        fail("%s: %s" % (" ".join(cmd), r.stderr.strip()))
    return r


def wait_for(what, fn, timeout, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            fail("%s: not within %.1fs" % (what, timeout))
        time.sleep(step)


def enter_node(node, dummy, made, addr=None):
    """This process (and all it starts) moves into the netns node, so the
    server's loopback, the node's veths and every iptables command are its
    own. A dummy device (holding addr, "ip/len", if given) takes the default
    route: proxy ARP answers 169.254.1.1, and anything that is not a pod (an
    untranslated ClusterIP) is swallowed there."""
    sh("ip", "netns", "add", node)
    made.append(node)
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open("/run/netns/" + node, os.O_RDONLY)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        fail("setns %s: errno %d" % (node, ctypes.get_errno()))
    os.close(fd)
    sh("ip", "link", "set", "lo", "up")
    sh("sysctl", "-qw", "net.ipv4.ip_forward=1", "net.ipv4.conf.all.rp_filter=0",
       "net.ipv4.conf.default.rp_filter=0")
    if sh("ip", "link", "add", dummy, "type", "dummy", check_rc=False).returncode:
        sh("ip", "link", "add", dummy, "type", "ifb")
    sh("ip", "link", "set", dummy, "up")
    if addr:
        sh("ip", "addr", "add", addr, "dev", dummy)
    sh("ip", "route", "add", "default", "dev", dummy)


def add_pod(ns, hif, ip, made):
    sh("ip", "netns", "add", ns)
    made.append(ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "link", "add", hif, "type", "veth", "peer", "name", "eth0", "netns", ns)
    sh("sysctl", "-qw", "net.ipv4.conf.%s.proxy_arp=1" % hif,
       "net.ipv4.neigh.%s.proxy_delay=0" % hif, "net.ipv4.conf.%s.rp_filter=0" % hif)
    sh("ip", "link", "set", hif, "up")
    sh("ip", "route", "add", ip + "/32", "dev", hif)
    sh("ip", "-n", ns, "addr", "add", ip + "/32", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link")
    sh("ip", "-n", ns, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0")


def stop(proc):
    """SIGTERM, then SIGKILL after 10 s; proc may be None or gone."""
    if proc and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def sync_status(root):
    """The agent's <root>/sync-status.json, or None."""
    try:
        with open(os.path.join(root, "sync-status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def api(s, method, path, body=None, ctype="application/json", want=(200, 201)):
    st, out, _ = s.req(method, path, body, ctype)
    if st not in want:
        fail("%s %s: %d %s" % (method, path, st, out))
    return out


def make_pod(s, name, ip, ready, node_name, host_ip):
    """Pod name (app=web, port "web" 8080) on node_name, Running at ip, its
    Ready condition ready; made if missing."""
    ns = "/api/v1/namespaces/default/pods"
    if s.req("GET", ns + "/" + name)[0] == 404:
        api(s, "POST", ns, {
            "apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": "web"}},
            "spec": {"nodeName": node_name, "containers": [{
                "name": "c", "image": "busybox",
                "ports": [{"name": "web", "containerPort": 8080}]}]}})
    rs = "True" if ready else "False"
    api(s, "PATCH", ns + "/" + name + "/status", {"status": {
        "phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": host_ip,
        "conditions": [{"type": "Ready", "status": rs},
                       {"type": "ContainersReady", "status": rs}]}},
        "application/merge-patch+json")


def peer(ns, *args):
    """tests/e2e/peer.py args in netns ns: its JSON answer."""
    r = sh("ip", "netns", "exec", ns, sys.executable, PEER, *map(str, args),
           check_rc=False)
    try:
        return json.loads(r.stdout)
    except ValueError:
        fail("client %s: %s %s" % (args, r.stdout, r.stderr))


def serve_backends(bes, tmp, made, procs, *extra):
    """A pod per (ns, hif, ip, name) of bes running peer.py serve name on
    TCP 8080 (extra: more serve arguments); returns once all listen."""
    for ns, hif, ip, name in bes:
        add_pod(ns, hif, ip, made)
        ready = os.path.join(tmp, name + ".ready")
        procs.append(subprocess.Popen(["ip", "netns", "exec", ns, sys.executable, PEER,
                                       "serve", name, "--tcp", "8080", *extra,
                                       "--ready", ready]))
        wait_for("peer %s listens" % name, lambda r=ready: os.path.exists(r), 10)
