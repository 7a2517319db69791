# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""What the multi-node tests (test_mn_*.py) share: a cluster (cluster.py)
named by run.sh's E2E_PREFIX and removed at exit even on failure, checks
that print the cluster's state when they fail, busybox httpd pods pinned to
a node, and probes for the pieces of the datapath a test needs."""
import atexit
import json
import os
import re
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402

TEST = os.path.splitext(os.path.basename(sys.argv[0]))[0]
WAIT = int(os.environ.get("E2E_WAIT", "10"))
# the agents' --dataplane (cluster.py): tests look at BPF maps or at
# iptables rules accordingly, with the same traffic assertions
DATAPLANE = os.environ.get("BERTH_DATAPLANE", "bpf")
_cluster = None


def log(msg):
    print("%s %s: %s" % (time.strftime("%H:%M:%S"), TEST, msg), flush=True)


def fail(msg, diag=True):
    print("FAIL: %s: %s" % (TEST, msg), flush=True)
    if diag and _cluster:
        _cluster.diag()
        # again, last: run.sh shows the log's tail
        print("FAIL: %s: %s" % (TEST, msg), flush=True)
    sys.exit(1)


def skip(msg):
    print("SKIP: %s: %s" % (TEST, msg), flush=True)
    sys.exit(77)


def check(cond, what):
    if not cond:
        fail(what)
    log("ok: " + what)


def missing(what, who):
    """A piece of issue 8 this test needs is not there (yet)."""
    fail("missing: %s (%s)" % (what, who))


def wait(what, fn, timeout=WAIT, interval=0.3):
    try:
        return C.wait_for(what, fn, timeout, interval)
    except C.ClusterError as e:
        fail(str(e))


def cluster(nodes=2, agent_args=None, server_args=()):
    """The test's cluster, up with every node Ready; removed at exit."""
    global _cluster
    if os.geteuid() != 0:
        skip("needs root")
    prefix = os.environ.get("E2E_PREFIX", "b%d" % os.getpid())
    c = C.Cluster("/tmp/berth-e2e-" + prefix, prefix, nodes=nodes,
                  agent_args=agent_args, server_args=server_args, dataplane=DATAPLANE)
    try:
        c.check_prereqs()
    except C.ClusterError as e:
        skip(str(e))
    _cluster = c
    atexit.register(c.down)
    # SIGTERM from run.sh's timeout: exit through atexit
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        c.up(timeout=60, progress=log)
    except (C.ClusterError, subprocess.SubprocessError) as e:
        fail("cluster up: %s" % e)
    log("cluster up (%s dataplane): %s" % (DATAPLANE, ", ".join(
        "%s=%s" % (n.name, n.ip) for n in c.nodes)))
    return c


def iptables():
    return DATAPLANE == "iptables"


def nat_rules(node):
    """The node's nat table (iptables dataplane), iptables-save lines."""
    return node.sh("iptables-nft-save", "-t", "nat", check=False).stdout.splitlines()


def nodeport_rule(node, port):
    """A BERTH-NODEPORTS rule for port in the node's nat table?"""
    return any(ln.startswith("-A BERTH-NODEPORTS ") and "--dport %d " % port in ln
               for ln in nat_rules(node))


def no_bpf(node):
    """The iptables dataplane leaves no trace of BPF on a node."""
    check(not os.path.exists(node.pin_dir), "%s: no BPF pin directory" % node.name)
    for dev in ("eth0", "berth_vxlan"):
        r = node.sh("ip", "-d", "link", "show", "dev", dev, check=False).stdout
        tc = node.sh("tc", "filter", "show", "dev", dev, "ingress", check=False).stdout
        check("prog/xdp" not in r and not tc.strip(),
              "%s: no XDP or tc program on %s" % (node.name, dev))


def agent_has_flag(flag):
    r = subprocess.run([os.path.join(C.BIN, "berth-agent"), "--help"],
                       capture_output=True, text=True)
    return flag in r.stdout + r.stderr


def require_flag(flag, who):
    if not agent_has_flag(flag):
        missing("berth-agent %s" % flag, who)


# httpd on 8080: / answers the pod's name, /cgi-bin/ip the client address
# it saw (REMOTE_ADDR), so a test can tell SNAT from a preserved client IP.
HTTPD = ("mkdir -p /www/cgi-bin && hostname > /www/index.html && "
         "printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR\\n' "
         "> /www/cgi-bin/ip && chmod +x /www/cgi-bin/ip && exec httpd -f -p 8080 -h /www")


def web_pod(name, node, labels):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": dict(labels, app="web")},
            "spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 1,
                     "containers": [{
                         "name": "httpd", "image": C.IMAGE, "command": ["sh", "-c", HTTPD],
                         "ports": [{"name": "http", "containerPort": 8080}],
                         "readinessProbe": {"httpGet": {"path": "/", "port": "http"},
                                            "periodSeconds": 1}}]}}


def service(name, selector, type_="ClusterIP", policy=None):
    spec = {"selector": selector, "type": type_,
            "ports": [{"name": "http", "port": 80, "targetPort": 8080, "protocol": "TCP"}]}
    if policy:
        spec["externalTrafficPolicy"] = policy
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": spec}


def start_pods(c, per_node, extra=None):
    """per_node pods web-<k>-<i> on each node (labels app=web, at=n<k>,
    and be=y on all but web-<k>-0, a client that is no backend of a
    Service selecting be=y: a pod reaching itself through a Service is
    another test). -> {name: pod object} once all are Ready."""
    objs = [web_pod("web-%d-%d" % (n.k, i), n,
                    dict({"at": "n%d" % n.k}, **({"be": "y"} if i else {})))
            for n in c.nodes for i in range(per_node)]
    c.apply(*(objs + list(extra or [])))
    try:
        pods = c.wait_pods_ready("app=web", len(objs), timeout=90, progress=log)
    except C.ClusterError as e:
        fail(str(e))
    return {p["metadata"]["name"]: p for p in pods}


def endpoints_ready(c, svc, count):
    def n():
        got = 0
        for s in (c.get("endpointslices", "-l", "kubernetes.io/service-name=" + svc) or
                  {}).get("items", []):
            got += sum(1 for e in s.get("endpoints") or []
                       if (e.get("conditions") or {}).get("ready", True))
        return got == count
    wait("Service %s has %d ready endpoints" % (svc, count), n, timeout=30)


def curl(c, where, url, timeout=3):
    """GET url from a pod (object) or a netns name ('ext'); -> body or None."""
    cmd = ("curl", "-sS", "-m", str(timeout), url)
    try:
        if where == "ext":
            r = c.ext_sh(*cmd, check=False, timeout=timeout + 5)
        else:
            r = c.pod_exec(where, *cmd, check=False, timeout=timeout + 5)
    except subprocess.TimeoutExpired:
        return None
    return r.stdout.strip() if r.returncode == 0 else None


def http_code(c, url, timeout=3):
    r = c.ext_sh("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-m", str(timeout),
                 url, check=False, timeout=timeout + 5)
    return r.stdout.strip()


def client_ip(body):
    """busybox httpd's REMOTE_ADDR: "[::ffff:10.0.0.1]" or "10.0.0.1"."""
    if body is None:
        return None
    m = re.search(r"(\d+\.\d+\.\d+\.\d+)", body)
    return m.group(1) if m else body


def kernel_tunnel_cidrs(node):
    """iptables dataplane: the pod CIDRs routed into berth_vxlan -> the node
    IP the FDB sends them to (route gateway -> neighbour MAC -> FDB dst)."""
    def j(*cmd):
        r = node.sh(*cmd, check=False)
        return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []
    mac = {n["dst"]: n.get("lladdr") for n in j("ip", "-j", "neigh", "show", "dev",
                                               "berth_vxlan")}
    dst = {f["mac"]: f.get("dst") for f in j("bridge", "-j", "fdb", "show", "dev",
                                             "berth_vxlan")}
    return {r["dst"]: dst.get(mac.get(r.get("gateway")))
            for r in j("ip", "-j", "route", "show", "dev", "berth_vxlan", "proto", "190")}


def ipcache_cidrs(node):
    """The ipcache's keys as "a.b.c.d/len" -> {cidr: tunnel IP or None};
    iptables dataplane: the kernel's tunnel routes (other nodes only)."""
    if iptables():
        return kernel_tunnel_cidrs(node)
    r = C.run("bpftool", "map", "dump", "pinned", os.path.join(node.pin_dir, "ipcache"),
              "-j", check=False)
    if r.returncode != 0:
        return {}
    ip = lambda v: ".".join(str(b) for b in int(v).to_bytes(4, "little"))  # noqa: E731
    out = {}
    for e in json.loads(r.stdout):
        k, v = e.get("formatted", e)["key"], e.get("formatted", e)["value"]
        out["%s/%d" % (ip(k["ip"]), k["prefixlen"])] = ip(v["tunnel_ip"]) if v["tunnel_ip"] \
            else None
    return out


def ipcache_entries(node):
    p = os.path.join(node.pin_dir, "ipcache")
    if not os.path.exists(p):
        return None
    r = C.run("bpftool", "map", "dump", "pinned", p, "-j", check=False)
    return r.stdout.count('"key"') if r.returncode == 0 else None


def require_crossnode(c, nodes=None, peers=None):
    """The pieces pod traffic between nodes needs, named when absent.
    nodes: those to look at (all); peers: ipcache entries each must hold."""
    lacking = []
    peers = peers or len(c.nodes)
    if iptables():
        return _require_kernel_routes(c, nodes, peers)
    for n in nodes or c.nodes:
        def has_dev(n=n):
            return n.sh("ip", "link", "show", "dev", "berth_vxlan", check=False).returncode == 0
        try:
            C.wait_for("vxlan", has_dev, 5)
        except C.ClusterError:
            lacking.append("VXLAN device berth_vxlan on %s (helper B: agent)" % n.name)
        try:
            C.wait_for("ipcache", lambda n=n: (ipcache_entries(n) or 0) >= peers, 5)
        except C.ClusterError:
            lacking.append("ipcache entries for every node's podCIDR in %s/ipcache, has %s "
                           "(helper A: map; helper B: agent fills it from Nodes)" %
                           (n.pin_dir, ipcache_entries(n)))
    if lacking:
        missing("; ".join(lacking), "cross-node routing")


def _require_kernel_routes(c, nodes, peers):
    """iptables dataplane: the classic VXLAN device and a route per other
    node's pod CIDR through it (protocol 0xbe, berth's)."""
    lacking = []
    for n in nodes or c.nodes:
        def routes(n=n):
            r = n.sh("ip", "route", "show", "dev", "berth_vxlan", "proto", "190",
                     check=False)
            return r.returncode == 0 and len(r.stdout.splitlines()) >= peers - 1
        try:
            C.wait_for("kernel routes", routes, 5)
        except C.ClusterError:
            lacking.append("%s: berth_vxlan with %d pod CIDR routes (ip route: %s)" % (
                n.name, peers - 1, n.sh("ip", "route", check=False).stdout.strip()))
    if lacking:
        missing("; ".join(lacking), "cross-node routing, iptables dataplane")


def backend_ips(node):
    """Addresses of the backends some Service slot of a node's BPF maps
    names (a backend left in the backends map flagged terminating, for the
    flows it still has, is not one); iptables: the DNAT targets of its nat
    table."""
    if iptables():
        return set(re.findall(r"--to-destination (\d+\.\d+\.\d+\.\d+):",
                              "\n".join(nat_rules(node))))
    ctl = os.path.join(C.BIN, "berthctl")
    r = C.run(ctl, "bpf", "backends", "--node", node.name, check=False)
    ip_of = dict(re.findall(r"^(\d+)\s+(\d+\.\d+\.\d+\.\d+)", r.stdout, re.M))
    r = C.run(ctl, "bpf", "services", "--node", node.name, check=False)
    used = re.findall(r"slot \d+\s+backend (\d+)", r.stdout)
    return {ip_of[i] for i in used if i in ip_of}
