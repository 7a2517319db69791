# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Helpers for the kubelet node tests: a network namespace of our own
holding a berth-server (on its loopback) and a berth-agent (node IP on a
veth pair inside the netns), both run through nsenter. Everything is
removed at exit, also on failure."""
import atexit
import glob
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BIN = os.path.join(REPO, ".output/bin")
NODE_IP = "10.250.0.1"


FAILED = []


def fail(msg):
    FAILED.append(msg)
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)
    print("ok: " + what, flush=True)


def skip(msg):
    print("SKIP: " + msg, flush=True)
    sys.exit(77)


def sh(*cmd, check_rc=True, **kw):
    r = subprocess.run(list(cmd), capture_output=True, text=True, **kw)
    if check_rc and r.returncode != 0:
        fail("%s: %s%s" % (" ".join(cmd), r.stdout, r.stderr))
    return r


def wait_for(what, fn, timeout):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        try:
            last = fn()
            if last:
                return last
        except Exception as e:  # noqa: BLE001 - keep polling, report at the end
            last = e
        time.sleep(0.5)
    fail("%s within %ds (last: %r)" % (what, timeout, last))


class Node:
    """netns + berth-server + berth-agent."""

    def __init__(self, name, server_args=(), agent_args=()):
        if os.geteuid() != 0:
            skip("needs root")
        for b in ("berth-server", "berth-agent"):
            if not os.access(os.path.join(BIN, b), os.X_OK):
                fail(b + " is missing (make builds it)")
        if not shutil.which("kubectl"):
            skip("kubectl is not installed")
        self.name = name
        self.ns = "berth-kt-%d" % os.getpid()
        self.nspath = "/run/netns/" + self.ns
        self.tmp = tempfile.mkdtemp(prefix="berth-kubelet-")
        self.agent = None
        self.server = None
        self.logs = []
        atexit.register(self.cleanup)
        sh("ip", "netns", "add", self.ns)
        self.nsh("ip", "link", "set", "lo", "up")
        # the node's address on a veth pair living wholly in our netns
        self.nsh("ip", "link", "add", "node0", "type", "veth", "peer", "name", "node1")
        self.nsh("ip", "addr", "add", NODE_IP + "/24", "dev", "node0")
        self.nsh("ip", "link", "set", "node0", "up")
        self.nsh("ip", "link", "set", "node1", "up")
        self.port = self.free_port()
        self.url = "https://127.0.0.1:%d" % self.port
        slog = open(os.path.join(self.tmp, "server.log"), "w")
        self.logs.append(slog)
        self.server = subprocess.Popen(
            ["nsenter", "--net=" + self.nspath, os.path.join(BIN, "berth-server"),
             "--data-dir", os.path.join(self.tmp, "data"),
             "--listen", "127.0.0.1:%d" % self.port, *server_args],
            stdout=slog, stderr=subprocess.STDOUT)
        # HTTPS: kubectl and the agent use the server's admin kubeconfig
        # (its CA and a system:masters client certificate)
        self.kubeconfig = os.path.join(self.tmp, "data", "kubeconfig")
        wait_for("berth-server writes its kubeconfig",
                 lambda: os.path.exists(self.kubeconfig) or self.server.poll() is not None, 20)
        wait_for("berth-server answers", lambda: self.kubectl("get", "--raw", "/healthz",
                                                               check_rc=False).returncode == 0, 20)
        self.agent_args = list(agent_args)

    def free_port(self):
        r = self.nsh("python3", "-c",
                     "import socket; s=socket.socket(); s.bind(('127.0.0.1',0)); "
                     "print(s.getsockname()[1])")
        return int(r.stdout)

    def nsh(self, *cmd, check_rc=True, **kw):
        return sh("nsenter", "--net=" + self.nspath, *cmd, check_rc=check_rc, **kw)

    def kubectl(self, *args, check_rc=True, **kw):
        return self.nsh("kubectl", "--kubeconfig", self.kubeconfig, *args,
                        check_rc=check_rc, **kw)

    def get(self, *args):
        r = self.kubectl("get", "-o", "json", *args, check_rc=False)
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)

    def start_agent(self, *extra):
        root = os.path.join(self.tmp, "agent")
        os.makedirs(root, exist_ok=True)
        alog = open(os.path.join(self.tmp, "agent.log"), "a")
        self.logs.append(alog)
        self.agent = subprocess.Popen(
            ["nsenter", "--net=" + self.nspath, os.path.join(BIN, "berth-agent"),
             "--server", self.kubeconfig, "--node-name", self.name,
             "--node-ip", NODE_IP, "--root", root, *self.agent_args, *extra],
            stdout=alog, stderr=subprocess.STDOUT)
        return self.agent

    def stop_agent(self, sig=signal.SIGTERM):
        if self.agent and self.agent.poll() is None:
            self.agent.send_signal(sig)
            try:
                self.agent.wait(15)
            except subprocess.TimeoutExpired:
                self.agent.kill()
                self.agent.wait()
        self.agent = None

    def dump(self):
        for f in ("server.log", "agent.log"):
            p = os.path.join(self.tmp, f)
            if os.path.exists(p):
                with open(p) as fh:
                    lines = fh.readlines()
                print("---- %s (last 40 lines)" % f)
                sys.stdout.write("".join(lines[-40:]))

    def cleanup(self):
        if FAILED or os.environ.get("BERTH_TEST_DUMP", "0") != "0":
            self.dump()
        self.stop_agent()
        if self.server and self.server.poll() is None:
            self.server.terminate()
            try:
                self.server.wait(10)
            except subprocess.TimeoutExpired:
                self.server.kill()
        if os.path.exists(self.nspath):
            # the agent's datapath pins are per node name
            self.nsh(os.path.join(BIN, "berth-agent"), "--node-name", self.name,
                     "--uninstall", check_rc=False)
            sh("ip", "netns", "del", self.ns, check_rc=False)
        self.remove_leftovers()
        for f in self.logs:
            f.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def remove_leftovers(self):
        """Containers and mounts a failed test left under our tmp dir."""
        runc_root = os.path.join(self.tmp, "agent", "runtime", "runc")
        if os.path.isdir(runc_root):
            r = sh("runc", "--root", runc_root, "list", "-q", check_rc=False)
            for cid in r.stdout.split():
                sh("runc", "--root", runc_root, "delete", "-f", cid, check_rc=False)
        with open("/proc/mounts") as f:
            mounts = [l.split()[1] for l in f if l.split()[1].startswith(self.tmp + "/")]
        for m in sorted(mounts, key=len, reverse=True):
            sh("umount", "-l", m, check_rc=False)
        # pod cgroups (ROOT's pods are named in the agent's log)
        uids = set()
        alog = os.path.join(self.tmp, "agent.log")
        if os.path.exists(alog):
            with open(alog) as f:
                for l in f:
                    m = re.search(r"\(([0-9a-f-]{16,})\): worker started", l)
                    if m:
                        uids.add(m.group(1))
        for uid in uids:
            for d in glob.glob("/sys/fs/cgroup/*/berth/pod" + uid):
                for sub, _, _ in sorted(os.walk(d), key=lambda w: -len(w[0])):
                    try:
                        os.rmdir(sub)
                    except OSError:
                        pass


IMAGE_DIR = os.path.join(REPO, ".output/images/busybox")
IMAGE = "berth.test/busybox:1"


def bare_runc_spec(base, args):
    """runc's own default spec (`runc spec` in base) running args on a
    read-only busybox rootfs made in base/rootfs (sh and sleep linked):
    what the benchmarks start with bare runc, next to berth's pods."""
    rootfs = os.path.join(base, "rootfs")
    os.makedirs(os.path.join(rootfs, "bin"))
    shutil.copy("/bin/busybox", os.path.join(rootfs, "bin", "busybox"))
    for tool in ("sh", "sleep"):
        os.symlink("busybox", os.path.join(rootfs, "bin", tool))
    subprocess.run(["runc", "spec"], cwd=base, check=True)
    with open(os.path.join(base, "config.json")) as f:
        spec = json.load(f)
    spec["process"]["terminal"] = False
    spec["process"]["args"] = list(args)
    spec["root"] = {"path": rootfs, "readonly": True}
    return spec


def pod_node(name, server_args=("--node-monitor-grace-period", "60"), static=None,
             start=True):
    """A Node whose agent runs real pods: the test image loaded, berth-cni
    as the network (its IPAM under the test's dir), logs in the test's dir.
    static: a directory of static pod manifests. -> (node, agent args)."""
    if not os.path.exists(os.path.join(IMAGE_DIR, "index.json")):
        skip("no test image (make test-image)")
    if not os.access(os.path.join(BIN, "berth-cni"), os.X_OK):
        fail("berth-cni is missing (make builds it)")
    if not shutil.which("runc"):
        skip("runc is not installed")
    n = Node(name, server_args=server_args)
    root = os.path.join(n.tmp, "agent")
    conf = os.path.join(n.tmp, "net.d")
    os.makedirs(conf)
    with open(os.path.join(conf, "10-berth.conflist"), "w") as f:
        json.dump({"cniVersion": "1.0.0", "name": "berth", "plugins": [
            {"type": "berth-cni", "agentSocket": os.path.join(root, "agent.sock"),
             "ipam": {"dataDir": os.path.join(n.tmp, "ipam")}}]}, f)
    r = subprocess.run([os.path.join(BIN, "berth-agent"), "image", "--root", root, "--quiet",
                        "load", IMAGE_DIR, IMAGE], capture_output=True, text=True)
    check(r.returncode == 0, "test image loaded: %s%s" % (r.stdout, r.stderr))
    args = ["--cni-bin-dir", BIN, "--cni-conf-dir", conf,
            "--pod-log-dir", os.path.join(n.tmp, "logs")]
    if static:
        args += ["--static-pods", static]
    if start:  # start=False: the caller starts it with more arguments
        n.start_agent(*args)
        # a test's first step may be about the Node (a taint, a label)
        wait_for("the agent registers Node %s" % name,
                 lambda: n.get("node", name) is not None or n.agent.poll() is not None, 30)
        check(n.agent.poll() is None, "agent runs after registering its Node")
    return n, args
