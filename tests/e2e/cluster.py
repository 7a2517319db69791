# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A berth cluster on one machine: nodes are network namespaces joined by an
underlay bridge, each running its own berth-agent, one berth-server for all.
Used by the multi-node e2e tests and by `make demo`.

    underlay netns P-ul: bridge br0 10.200.0.253/24 ("outside")
      P-srv  eth0 10.200.0.254  berth-server (HTTPS :6443, node IPAM)
      P-n1   eth0 10.200.0.1    berth-agent --node-name P-node1
      P-n2   eth0 10.200.0.2    berth-agent --node-name P-node2 ...
      P-ext  eth0 10.200.0.200  external client

Everything it makes is named by the prefix P or lives under the state
directory, and state/cluster.json (written before anything is made) lists
it, so teardown() finds it all again after a failure or a kill -9 of
whoever started the cluster. Command line: cluster.py down STATE_DIR,
cluster.py reap PREFIX (no state directory left: names only).
"""
import base64
import glob
import json
import os
import secrets
import shutil
import signal
import string
import subprocess
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(REPO, ".output/bin")
REF_CNI = "/usr/lib/cni"  # Debian's containernetworking-plugins
IMAGE_DIR = os.path.join(REPO, ".output/images/busybox")
IMAGE = "berth.test/busybox:1"
BPFFS = "/sys/fs/bpf/berth"
SUBNET = "10.200.0."
GATEWAY = SUBNET + "253"  # the bridge: the underlay's "outside"
SERVER_IP = SUBNET + "254"
EXT_IP = SUBNET + "200"
API_PORT = 6443
CLUSTER_CIDR = "10.244.0.0/16"
MTU = 1500


class ClusterError(Exception):
    pass


def log(msg):
    print("%s cluster: %s" % (time.strftime("%H:%M:%S"), msg), flush=True)


def run(*cmd, check=True, timeout=60, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True,
                       timeout=timeout, **kw)
    if check and r.returncode != 0:
        raise ClusterError("%s: exit %d: %s%s" % (" ".join(map(str, cmd)), r.returncode,
                                                   r.stdout, r.stderr))
    return r


def nsexec(ns, *cmd):
    """argv running cmd in netns ns. nsenter, not `ip netns exec`: that
    remounts /sys, which would hide the host's bpffs from the agent."""
    path = ns if ns.startswith("/") else "/run/netns/" + ns
    return ["nsenter", "--net=" + path, "--"] + [str(c) for c in cmd]


def wait_for(what, fn, timeout, interval=0.5, progress=None):
    """Polls fn until it returns something true; raises after timeout s.
    progress(last): called every ~5 s with the last result."""
    end = time.time() + timeout
    nxt = time.time() + 5
    last = None
    while time.time() < end:
        try:
            last = fn()
            if last:
                return last
        except (ClusterError, subprocess.SubprocessError, ValueError, KeyError) as e:
            last = e
        if progress and time.time() >= nxt:
            progress(last)
            nxt = time.time() + 5
        time.sleep(interval)
    raise ClusterError("%s: not within %ds (last: %r)" % (what, timeout, last))


def _pid_alive(pid):
    try:
        os.kill(pid, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True


def _pid_cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _pids_in_netns(paths):
    """Processes whose network namespace is one of the nsfs files paths."""
    want = set()
    for p in paths:
        try:
            st = os.stat(p)
            want.add((st.st_dev, st.st_ino))
        except OSError:
            pass
    found = []
    if not want:
        return found
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            st = os.stat("/proc/%s/ns/net" % d)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in want:
            found.append(int(d))
    return found


def _kill_pids(pids, grace=5.0):
    """SIGTERM, then SIGKILL what is left after grace s."""
    pids = [p for p in pids if p > 1 and p != os.getpid()]
    for p in pids:
        try:
            os.kill(p, signal.SIGTERM)
        except OSError:
            pass
    end = time.time() + grace
    while time.time() < end and any(_pid_alive(p) for p in pids):
        time.sleep(0.1)
    for p in pids:
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass


class Node:
    def __init__(self, cluster, k):
        self.c = cluster
        self.k = k
        self.name = "%s-node%d" % (cluster.prefix, k)
        self.ns = "%s-n%d" % (cluster.prefix, k)
        self.ip = SUBNET + str(k)
        self.root = os.path.join(cluster.state, "node%d" % k)
        self.pidfile = os.path.join(self.root, "agent.pid")
        self.logfile = os.path.join(self.root, "agent.log")
        self.pin_dir = os.path.join(BPFFS, self.name)
        self.extra_args = []

    def sh(self, *cmd, check=True, timeout=60, **kw):
        return run(*nsexec(self.ns, *cmd), check=check, timeout=timeout, **kw)

    def agent_pid(self):
        try:
            with open(self.pidfile) as f:
                pid = int(f.read())
        except (OSError, ValueError):
            return None
        return pid if _pid_alive(pid) and self.root in _pid_cmdline(pid) else None

    def start_agent(self, *extra):
        """Starts (daemonised) this node's berth-agent; extra replaces the
        extra arguments of the last start when given."""
        if extra:
            self.extra_args = list(extra)
        conf = os.path.join(self.root, "net.d")
        cmd = nsexec(self.ns, os.path.join(BIN, "berth-agent"),
                     *self.c.agent_credentials(self), "--node-name", self.name,
                     "--node-ip", self.ip, "--root", self.root,
                     "--cni-bin-dir", BIN + ":" + REF_CNI, "--cni-conf-dir", conf,
                     "--pod-log-dir", os.path.join(self.root, "logs"),
                     "--dataplane", self.c.dataplane,
                     *self.c.common_agent_args, *self.extra_args)
        pid = self.c.daemon(cmd, self.logfile)
        with open(self.pidfile, "w") as f:
            f.write("%d\n" % pid)
        return pid

    def stop_agent(self, sig=signal.SIGTERM, timeout=15):
        pid = self.agent_pid()
        if not pid:
            return
        os.kill(pid, sig)
        end = time.time() + timeout
        while time.time() < end and _pid_alive(pid):
            self.c.reap_children()
            time.sleep(0.1)
        if _pid_alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.c.reap_children()

    def log_tail(self, n=40):
        try:
            with open(self.logfile) as f:
                return "".join(f.readlines()[-n:])
        except OSError:
            return "(no agent log)\n"

    def pod_netns(self, uid):
        return os.path.join(self.root, "runtime", "netns", uid)


class Cluster:
    """Start with up(); stop with down() (or teardown(state) from anywhere)."""

    def __init__(self, state, prefix, nodes=2, server_args=(), agent_args=None,
                 dataplane=None):
        if len(prefix) > 12:
            raise ClusterError("prefix %r: at most 12 characters" % prefix)
        self.state = os.path.abspath(state)
        self.prefix = prefix
        self.ul = prefix + "-ul"
        self.srv = prefix + "-srv"
        self.ext = prefix + "-ext"
        self.nodes = [Node(self, k) for k in range(1, nodes + 1)]
        self.server_args = list(server_args)
        # BERTH_AGENT_ARGS: more arguments for every agent (e.g. a flag a
        # newer agent needs); agent_args: {k: [args]} per node (1-based)
        self.common_agent_args = os.environ.get("BERTH_AGENT_ARGS", "").split()
        # every agent's --dataplane: bpf (default) or iptables, the same
        # tests in both modes (BERTH_DATAPLANE or the argument)
        self.dataplane = dataplane or os.environ.get("BERTH_DATAPLANE", "bpf")
        if self.dataplane not in ("bpf", "iptables"):
            raise ClusterError("dataplane %r: bpf or iptables" % self.dataplane)
        for k, args in (agent_args or {}).items():
            self.nodes[k - 1].extra_args = list(args)
        self.kubeconfig = os.path.join(self.state, "kubeconfig")
        # agents join with a bootstrap token and get their own node
        # certificate (BERTH_E2E_ADMIN_AGENTS=1: the admin kubeconfig)
        self.bootstrap_kubeconfig = os.path.join(self.state, "bootstrap.kubeconfig")
        self.manifest = os.path.join(self.state, "cluster.json")
        self.children = []

    # ---- processes -------------------------------------------------------
    def daemon(self, argv, logfile):
        """A process in its own session that outlives us; its pid is also
        recorded in the manifest's pid list (teardown kills it)."""
        out = open(logfile, "a")
        p = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out,
                             stderr=subprocess.STDOUT, start_new_session=True)
        out.close()
        self.children.append(p)
        self.note("pids", p.pid)
        return p.pid

    def reap_children(self):
        for p in self.children:
            p.poll()

    def note(self, key, value):
        """Adds value to the manifest's list key (read back by teardown)."""
        m = _read_manifest(self.state) or {}
        m.setdefault(key, [])
        if value not in m[key]:
            m[key].append(value)
        self.save_manifest(m)

    def save_manifest(self, m):
        tmp = self.manifest + ".tmp"
        with open(tmp, "w") as f:
            json.dump(m, f, indent=1)
        os.replace(tmp, self.manifest)

    # ---- bring-up --------------------------------------------------------
    def check_prereqs(self):
        if os.geteuid() != 0:
            raise ClusterError("needs root (network namespaces, bpffs, runc)")
        for b in ("berth-server", "berth-agent", "berth-cni"):
            if not os.access(os.path.join(BIN, b), os.X_OK):
                raise ClusterError(b + " is missing (make builds it)")
        if not os.path.exists(os.path.join(IMAGE_DIR, "index.json")):
            raise ClusterError("no test image in %s (make test-image)" % IMAGE_DIR)
        for t in ("kubectl", "runc", "nsenter", "ip", "iptables"):
            if not shutil.which(t):
                raise ClusterError(t + " is not installed (scripts/deps.sh)")
        for p in ("portmap", "bandwidth"):
            if not os.access(os.path.join(REF_CNI, p), os.X_OK):
                raise ClusterError("%s/%s is missing (containernetworking-plugins)" %
                                   (REF_CNI, p))

    def up(self, timeout=60, progress=log):
        self.check_prereqs()
        if os.path.exists(self.manifest):
            teardown(self.state)
        os.makedirs(self.state, exist_ok=True)
        with open(self.manifest, "w") as f:
            json.dump({"prefix": self.prefix, "state": self.state,
                       "netns": [self.ul, self.srv, self.ext] + [n.ns for n in self.nodes],
                       "nodes": [{"name": n.name, "ns": n.ns, "root": n.root}
                                 for n in self.nodes],
                       "pids": [], "cgroups": []}, f, indent=1)
        self.make_underlay()
        self.start_server()
        for n in self.nodes:
            self.prepare_node(n)
            n.start_agent()
        self.wait_nodes_ready(timeout, progress)
        return self

    def make_underlay(self):
        run("ip", "netns", "add", self.ul)
        ul = lambda *c: run("ip", "-n", self.ul, *c)  # noqa: E731
        ul("link", "set", "lo", "up")
        ul("link", "add", "br0", "mtu", MTU, "type", "bridge")
        ul("addr", "add", GATEWAY + "/24", "dev", "br0")
        ul("link", "set", "br0", "up")
        self.plug(self.srv, "srv", SERVER_IP)
        self.plug(self.ext, "ext", EXT_IP)
        for n in self.nodes:
            self.plug_node(n)

    def plug(self, ns, port, ip):
        """A new netns ns whose eth0 (ip/24, default via the bridge) is a
        veth into the bridge (port: its end there)."""
        run("ip", "netns", "add", ns)
        run("ip", "-n", self.ul, "link", "add", port, "mtu", MTU, "type", "veth", "peer",
            "name", "eth0", "netns", ns)
        run("ip", "-n", self.ul, "link", "set", port, "master", "br0", "up")
        inns = lambda *c: run("ip", "-n", ns, *c)  # noqa: E731
        inns("link", "set", "lo", "up")
        inns("addr", "add", ip + "/24", "dev", "eth0")
        inns("link", "set", "eth0", "up")
        inns("route", "add", "default", "via", GATEWAY)
        self.veth_napi([(self.ul, port), (ns, "eth0")])

    def plug_node(self, n):
        self.plug(n.ns, "n%d" % n.k, n.ip)
        self.wire_xdp("n%d" % n.k)
        n.sh("sysctl", "-qw", "net.ipv4.ip_forward=1")

    def wire_xdp(self, port):
        """An XDP program that passes everything on the bridge's end of a
        node's veth. A frame the node sends back out with XDP_TX (the
        NodePort fast path) is queued on this end, but the kernel wakes
        this end's NAPI for it only if this end has an XDP program: with
        GRO alone the frames wait for the node's next ordinary packet
        (TCP through the fast path stalls up to a second a segment, a UDP
        flood fills the 256-frame ring and nothing gets through). A NIC's
        XDP_TX has no such catch, so the wire has to make up for it."""
        loader = os.path.join(REPO, ".output/tests/route-loader")
        if not os.access(loader, os.X_OK):
            log("%s is not built: XDP_TX on the underlay will stall (make)" % loader)
            return
        run(*nsexec(self.ul, loader, "xdp-pass", port))

    def add_node(self, *agent_args):
        """One more node joining the running cluster: its netns, its image,
        its agent (not waited for). -> the Node."""
        n = Node(self, len(self.nodes) + 1)
        n.extra_args = list(agent_args)
        self.nodes.append(n)
        m = _read_manifest(self.state)
        m["netns"].append(n.ns)
        m["nodes"].append({"name": n.name, "ns": n.ns, "root": n.root})
        self.save_manifest(m)
        self.plug_node(n)
        self.prepare_node(n)
        n.start_agent()
        return n

    @staticmethod
    def veth_napi(devs):
        """Make the underlay veths behave like a wire between NICs. GRO on
        both ends gives a veth NAPI, without which frames sent back out with
        XDP_TX (the NodePort fast path) are dropped as xdp_tx_errors (and
        even with it they wait to be picked up: see wire_xdp). TX
        checksum offload off: a veth otherwise hands the peer a packet whose
        L4 checksum is still to be filled in, which XDP (seeing only bytes)
        would rewrite incrementally into a wrong one; on a wire it is
        always complete."""
        if not shutil.which("ethtool"):
            log("ethtool is not installed: XDP_TX on the underlay will fail (scripts/deps.sh)")
            return
        for ns, dev in devs:
            run(*nsexec(ns, "ethtool", "-K", dev, "gro", "on", "tx", "off"), check=False)

    def start_server(self):
        d = os.path.join(self.state, "server")
        os.makedirs(d, exist_ok=True)
        # HTTPS on a non-loopback address: the server's own admin
        # kubeconfig (CA + client certificate, CN=berth-admin,
        # O=system:masters) for kubectl; the agents bootstrap their own
        # node certificates with a token (make_bootstrap_token)
        made = os.path.join(d, "kubeconfig")
        if os.path.exists(made):
            os.remove(made)
        cmd = nsexec(self.srv, os.path.join(BIN, "berth-server"), "--data-dir", d,
                     "--listen", "%s:%d" % (SERVER_IP, API_PORT),
                     "--cluster-cidr", CLUSTER_CIDR, "--node-cidr-mask-size", "24",
                     *self.server_args)
        pid = self.daemon(cmd, os.path.join(self.state, "server.log"))
        with open(os.path.join(self.state, "server.pid"), "w") as f:
            f.write("%d\n" % pid)
        wait_for("berth-server writes %s" % made, lambda: os.path.exists(made), 20)
        shutil.copyfile(made, self.kubeconfig)
        wait_for("berth-server answers on %s:%d" % (SERVER_IP, API_PORT),
                 lambda: self.kubectl("get", "--raw", "/healthz", check=False).returncode == 0,
                 20)
        self.make_bootstrap_token()

    def make_bootstrap_token(self):
        """A bootstrap token Secret (through the admin kubeconfig) and the
        kubeconfig that carries it, for the agents' TLS bootstrap."""
        def b64(s):
            return base64.b64encode(s.encode()).decode()

        alphabet = string.ascii_lowercase + string.digits
        tid = "".join(secrets.choice(alphabet) for _ in range(6))
        sec = "".join(secrets.choice(alphabet) for _ in range(16))
        self.kubectl("apply", "-f", "-", input=json.dumps({
            "apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
            "metadata": {"name": "bootstrap-token-" + tid, "namespace": "kube-system"},
            "data": {"token-id": b64(tid), "token-secret": b64(sec),
                     "usage-bootstrap-authentication": b64("true")}}))
        fields = {}
        with open(self.kubeconfig) as f:
            for line in f:
                k, _, v = line.strip().partition(":")
                if k in ("server", "certificate-authority-data"):
                    fields[k] = v.strip()
        fd = os.open(self.bootstrap_kubeconfig, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: berth\n  cluster:\n"
                    "    server: %s\n    certificate-authority-data: %s\n"
                    "users:\n- name: bootstrap\n  user:\n    token: %s.%s\n"
                    "contexts:\n- name: bootstrap\n  context:\n    cluster: berth\n"
                    "    user: bootstrap\ncurrent-context: bootstrap\n"
                    % (fields["server"], fields["certificate-authority-data"], tid, sec))

    def agent_credentials(self, n):
        """The agent's arguments for reaching the server."""
        if os.environ.get("BERTH_E2E_ADMIN_AGENTS") == "1":
            return ["--server", self.kubeconfig]
        return ["--kubeconfig", os.path.join(n.root, "kubeconfig"),
                "--bootstrap-kubeconfig", self.bootstrap_kubeconfig]

    def prepare_node(self, n):
        conf = os.path.join(n.root, "net.d")
        os.makedirs(conf, exist_ok=True)
        with open(os.path.join(conf, "10-berth.conflist"), "w") as f:
            # the shipped conflist's chain (cni/10-berth.conflist): Debian's
            # reference plugins for hostPort and the bandwidth annotations
            json.dump({"cniVersion": "1.0.0", "name": "berth", "plugins": [
                {"type": "berth-cni", "agentSocket": os.path.join(n.root, "agent.sock"),
                 "ipam": {"dataDir": os.path.join(n.root, "ipam")}},
                {"type": "portmap", "capabilities": {"portMappings": True}, "snat": True},
                {"type": "bandwidth", "capabilities": {"bandwidth": True}}]}, f)
        run(os.path.join(BIN, "berth-agent"), "image", "--root", n.root, "--quiet",
            "load", IMAGE_DIR, IMAGE, timeout=120)

    def wait_nodes_ready(self, timeout, progress=log):
        def ready():
            got = {}
            for item in (self.get("nodes") or {}).get("items", []):
                conds = item.get("status", {}).get("conditions", [])
                ok = any(c["type"] == "Ready" and c["status"] == "True" for c in conds)
                got[item["metadata"]["name"]] = ok and bool(item["spec"].get("podCIDR"))
            # and the agent's CNI endpoint socket is up, so the first pods
            # do not race it
            missing = [n.name for n in self.nodes if not got.get(n.name) or
                       not os.path.exists(os.path.join(n.root, "agent.sock"))]
            if missing:
                return None
            return True

        def say(_):
            for n in self.nodes:
                if not n.agent_pid():
                    raise ClusterError("agent of %s exited:\n%s" % (n.name, n.log_tail()))
            progress("waiting for nodes Ready with a podCIDR: %s" % ", ".join(
                n.name for n in self.nodes))
        wait_for("every node Ready with a podCIDR", ready, timeout, progress=say)

    # ---- API -------------------------------------------------------------
    def kubectl(self, *args, check=True, timeout=60, **kw):
        return run(*nsexec(self.srv, "kubectl", "--kubeconfig", self.kubeconfig, *args),
                   check=check, timeout=timeout, **kw)

    def get(self, *args):
        r = self.kubectl("get", "-o", "json", *args, check=False)
        return json.loads(r.stdout) if r.returncode == 0 else None

    def apply(self, *objs):
        self.kubectl("apply", "-f", "-", input="\n".join(json.dumps(o) for o in objs))

    def node(self, name):
        for n in self.nodes:
            if n.name == name:
                return n
        raise ClusterError("no node " + name)

    def pods(self, selector=None):
        args = ["pods"] + (["-l", selector] if selector else [])
        return (self.get(*args) or {}).get("items", [])

    def wait_pods_ready(self, selector, count, timeout=90, progress=log):
        def ready():
            ok = [p for p in self.pods(selector) if p["status"].get("podIP") and any(
                c["type"] == "Ready" and c["status"] == "True"
                for c in p["status"].get("conditions", []))]
            return ok if len(ok) >= count else None

        def say(_):
            st = ["%s %s" % (p["metadata"]["name"], p["status"].get("phase"))
                  for p in self.pods(selector)]
            progress("waiting for %d ready pods (%s): %s" % (count, selector, ", ".join(st)))
        return wait_for("%d pods %s Ready" % (count, selector), ready, timeout, progress=say)

    def pod_exec(self, pod, *cmd, check=True, timeout=30, **kw):
        """Runs a host binary in the pod's network namespace (pod: the object
        or its name)."""
        if isinstance(pod, str):
            pod = self.get("pod", pod)
        n = self.node(pod["spec"]["nodeName"])
        return run(*nsexec(n.pod_netns(pod["metadata"]["uid"]), *cmd), check=check,
                   timeout=timeout, **kw)

    def pod_daemon(self, pod, logfile, *cmd):
        n = self.node(pod["spec"]["nodeName"])
        return self.daemon(nsexec(n.pod_netns(pod["metadata"]["uid"]), *cmd), logfile)

    def ext_sh(self, *cmd, check=True, timeout=30, **kw):
        return run(*nsexec(self.ext, *cmd), check=check, timeout=timeout, **kw)

    def make_cgroup(self, name):
        """A cgroup v2 directory of our own (for the agent's --cgroup)."""
        root = cgroup2_root()
        if not root:
            raise ClusterError("no cgroup2 mount")
        path = os.path.join(root, "%s-%s" % (self.prefix, name))
        os.makedirs(path, exist_ok=True)
        self.note("cgroups", path)
        return path

    # ---- diagnostics -----------------------------------------------------
    def diag(self, out=sys.stdout):
        """What helps when something fails: agent logs, links, map dumps."""
        w = out.write
        for n in self.nodes:
            w("---- %s (%s, %s): agent log tail\n" % (n.name, n.ns, n.ip))
            w(n.log_tail())
            r = n.sh("ip", "-d", "link", check=False)
            w("---- %s: ip -d link\n%s%s" % (n.name, r.stdout, r.stderr))
            r = n.sh("ip", "route", check=False)
            w("---- %s: ip route\n%s" % (n.name, r.stdout))
            if self.dataplane == "iptables":
                r = n.sh("iptables-nft-save", check=False)
                w("---- %s: iptables-nft-save\n%s%s" % (n.name, r.stdout, r.stderr))
                r = n.sh("bridge", "fdb", "show", "dev", "berth_vxlan", check=False)
                w("---- %s: bridge fdb show dev berth_vxlan\n%s" % (n.name, r.stdout))
                continue
            for m in ("ipcache", "endpoints"):
                p = os.path.join(n.pin_dir, m)
                if not os.path.exists(p):
                    w("---- %s: no pinned map %s\n" % (n.name, p))
                    continue
                r = run("bpftool", "map", "dump", "pinned", p, check=False)
                lines = (r.stdout + r.stderr).splitlines()
                w("---- %s: bpftool map dump pinned %s (%d lines)\n%s\n" % (
                    n.name, p, len(lines), "\n".join(lines[:40])))
            for what in ("services", "backends"):
                r = run(os.path.join(BIN, "berthctl"), "bpf", what, "--node", n.name,
                        check=False)
                w("---- %s: berthctl bpf %s\n%s%s" % (n.name, what, r.stdout, r.stderr))
        r = self.kubectl("get", "nodes,pods,svc,endpointslices", "-o", "wide", check=False)
        w("---- kubectl get nodes,pods,svc,endpointslices -o wide\n%s%s" % (r.stdout, r.stderr))
        try:
            with open(os.path.join(self.state, "server.log")) as f:
                w("---- server log tail\n" + "".join(f.readlines()[-20:]))
        except OSError:
            pass
        out.flush()

    def down(self):
        teardown(self.state)
        self.reap_children()


# ---- teardown, also from a state directory alone -------------------------
def cgroup2_root():
    with open("/proc/mounts") as f:
        for line in f:
            dev, mnt, fstype = line.split()[:3]
            if fstype == "cgroup2":
                return mnt
    return None


def _read_manifest(state):
    try:
        with open(os.path.join(state, "cluster.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _netns_list():
    r = run("ip", "netns", "list", check=False)
    return [l.split()[0] for l in r.stdout.splitlines() if l.strip()]


def _rmdir_tree(path):
    for sub, _, _ in sorted(os.walk(path), key=lambda w: -len(w[0])):
        try:
            os.rmdir(sub)
        except OSError:
            pass


def _remove_cgroup(path):
    """Moves stray processes to the parent, then removes the tree."""
    if not os.path.isdir(path):
        return
    for sub, _, _ in sorted(os.walk(path), key=lambda w: -len(w[0])):
        try:
            with open(os.path.join(sub, "cgroup.procs")) as f:
                pids = [int(x) for x in f.read().split()]
        except (OSError, ValueError):
            pids = []
        _kill_pids(pids, grace=1)
    _rmdir_tree(path)


def _node_leftovers(root):
    """runc containers, mounts and pod cgroups under one agent --root."""
    runc_root = os.path.join(root, "runtime", "runc")
    if os.path.isdir(runc_root) and shutil.which("runc"):
        r = run("runc", "--root", runc_root, "list", "-q", check=False)
        for cid in r.stdout.split():
            run("runc", "--root", runc_root, "delete", "-f", cid, check=False)
    uids = set()
    for d in ("netns", "pods"):
        p = os.path.join(root, "runtime", d)
        if os.path.isdir(p):
            uids.update(os.listdir(p))
    for uid in uids:
        for cg in glob.glob("/sys/fs/cgroup/*/berth/pod" + uid) + \
                glob.glob("/sys/fs/cgroup/berth/pod" + uid):
            _remove_cgroup(cg)


def _umount_under(path):
    with open("/proc/mounts") as f:
        mounts = [l.split()[1] for l in f if l.split()[1].startswith(path + "/")]
    for m in sorted(set(mounts), key=len, reverse=True):
        run("umount", "-l", m, check=False)


def _remove_pins(ns, node):
    pin = os.path.join(BPFFS, node)
    if ns and os.path.exists("/run/netns/" + ns) and \
            os.access(os.path.join(BIN, "berth-agent"), os.X_OK):
        run(*nsexec(ns, os.path.join(BIN, "berth-agent"), "--node-name", node, "--uninstall"),
            check=False)
    if os.path.exists(pin):
        shutil.rmtree(pin, ignore_errors=True)
    try:
        os.rmdir(BPFFS)  # only once no other node is pinned there
    except OSError:
        pass


def teardown(state, remove_state=True):
    """Removes every process, container, mount, cgroup, pin, link and netns
    the cluster of this state directory made. Safe to run twice."""
    state = os.path.abspath(state)
    m = _read_manifest(state)
    if not m:
        if remove_state and os.path.isdir(state):
            _umount_under(state)
            shutil.rmtree(state, ignore_errors=True)
        return
    # processes we started: only if they still are ours (pid reuse)
    pids = [p for p in m.get("pids", []) if _pid_alive(p) and state in _pid_cmdline(p)]
    _kill_pids(pids)
    # what runs in a pod's netns without being the pod's (a benchmark's
    # servers, a test's probes): nsenter exec'd, so no cmdline names us
    for n in m.get("nodes", []):
        _kill_pids(_pids_in_netns(glob.glob(os.path.join(n["root"], "runtime", "netns", "*"))),
                   grace=2)
    for n in m.get("nodes", []):
        _node_leftovers(n["root"])
    reap(m["prefix"], nodes=[(n["ns"], n["name"]) for n in m.get("nodes", [])])
    for cg in m.get("cgroups", []):
        _remove_cgroup(cg)
    _umount_under(state)
    if remove_state:
        shutil.rmtree(state, ignore_errors=True)


def reap(prefix, nodes=None):
    """What is left by name alone: processes in our netns, pins, netns.
    -> list of what it found (empty: nothing leaked)."""
    found = []
    mine = [ns for ns in _netns_list() if ns.startswith(prefix + "-")]
    for ns in mine:
        r = run("ip", "netns", "pids", ns, check=False)
        pids = [int(x) for x in r.stdout.split()]
        if pids:
            found.append("processes in %s: %s" % (ns, pids))
            _kill_pids(pids, grace=2)
    if nodes is None:
        nodes = [(None, os.path.basename(p)) for p in glob.glob(os.path.join(BPFFS, prefix + "-*"))]
        nodes = [("%s-n%s" % (prefix, name.rsplit("node", 1)[-1]), name) for _, name in nodes]
    for ns, name in nodes:
        if os.path.exists(os.path.join(BPFFS, name)):
            found.append("pins " + os.path.join(BPFFS, name))
        _remove_pins(ns, name)
    for ns in mine:
        found.append("netns " + ns)
        run("ip", "netns", "del", ns, check=False)
    return found


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "down":
        teardown(sys.argv[2])
    elif len(sys.argv) == 3 and sys.argv[1] == "reap":
        left = reap(sys.argv[2])
        for x in left:
            print("reaped: " + x)
        sys.exit(1 if left else 0)
    else:
        sys.exit("usage: cluster.py down STATE_DIR | reap PREFIX")
