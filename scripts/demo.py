#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""make demo / make demo-down: a berth cluster on this machine.

up:   one berth-server (SQLite under .output/demo/state) and two nodes, each
      a network namespace with its own berth-agent, joined by an underlay
      bridge (tests/e2e/cluster.py); a Deployment of 3 busybox httpd pods
      behind a NodePort Service; shows it working and leaves it running,
      with .output/demo/kubeconfig and a .output/demo/kubectl wrapper.
down: removes every namespace, link, pin, container, cgroup and process
      the demo made (also after a crash: it reads .output/demo/state).
"""
import hashlib
import shlex
import os
import stat
import sys
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "e2e"))
import cluster as C  # noqa: E402

DEMO = os.path.join(REPO, ".output", "demo")
STATE = os.path.join(DEMO, "state")
# one demo per checkout: the prefix names its namespaces and nodes
PREFIX = "bd" + hashlib.sha1(REPO.encode()).hexdigest()[:4]
WAIT = 120  # s, for the pods

WEB = {
    "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                 "terminationGracePeriodSeconds": 2,
                 "containers": [{
                     "name": "httpd", "image": C.IMAGE,
                     "command": ["sh", "-c", "mkdir -p /www && echo \"hello from $(hostname)\" "
                                 "> /www/index.html && exec httpd -f -p 8080 -h /www"],
                     "ports": [{"name": "http", "containerPort": 8080}],
                     "readinessProbe": {"httpGet": {"path": "/", "port": "http"},
                                        "periodSeconds": 1}}]}}}}
SVC = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
       "spec": {"type": "NodePort", "selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
# a pod to fetch the Service from (not one of its backends)
CLIENT = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
          "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
              "name": "sh", "image": C.IMAGE,
              "command": ["sh", "-c", "while :; do sleep 3600; done"]}]}}


T0 = time.time()  # up() restarts it: each step says when it happened


def say(msg):
    print("demo: [%5.1fs] %s" % (time.time() - T0, msg), flush=True)


def down(quiet=False):
    C.teardown(STATE)
    left = C.reap(PREFIX)
    for f in ("kubeconfig", "kubectl", "env"):
        try:
            os.unlink(os.path.join(DEMO, f))
        except OSError:
            pass
    if not quiet:
        say("removed" + ("" if not left else " (also: %s)" % "; ".join(left)))


def fetch(argv, timeout=5):
    try:
        r = C.run(*argv, check=False, timeout=timeout)
    except C.subprocess.TimeoutExpired:
        return "(no answer within %ds)" % timeout
    return r.stdout.strip() if r.returncode == 0 else "(failed: %s)" % (
        r.stderr.strip() or "exit %d" % r.returncode)


def write_tools(c):
    kc = os.path.join(DEMO, "kubeconfig")
    with open(c.kubeconfig) as src, open(kc, "w") as dst:
        dst.write(src.read())
    wrapper = os.path.join(DEMO, "kubectl")
    with open(wrapper, "w") as f:
        f.write("#!/bin/sh\n# kubectl for the berth demo: the API server is reachable from "
                "the demo's\n# external-client namespace (%s) on the underlay.\n"
                "exec nsenter --net=/run/netns/%s -- kubectl --kubeconfig %s \"$@\"\n" %
                (c.ext, c.ext, kc))
    os.chmod(wrapper, os.stat(wrapper).st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return kc, wrapper


def write_env(c, cip, nport, client):
    """.output/demo/env: the demo's names for scripts (and the docs' tests)."""
    env = {"DEMO_PREFIX": PREFIX, "DEMO_EXT": c.ext, "DEMO_STATE": STATE,
           "DEMO_KUBECONFIG": os.path.join(DEMO, "kubeconfig"),
           "DEMO_KUBECTL": os.path.join(DEMO, "kubectl"),
           "DEMO_CLUSTER_IP": cip, "DEMO_NODEPORT": str(nport),
           "DEMO_CLIENT_NODE": client["spec"]["nodeName"],
           "DEMO_CLIENT_NETNS": c.node(client["spec"]["nodeName"]).pod_netns(
               client["metadata"]["uid"])}
    for i, n in enumerate(c.nodes, 1):
        env["DEMO_NODE%d" % i] = n.name
        env["DEMO_NODE%d_IP" % i] = n.ip
        env["DEMO_NODE%d_NETNS" % i] = n.ns
        env["DEMO_NODE%d_ROOT" % i] = n.root
    with open(os.path.join(DEMO, "env"), "w") as f:
        f.write("# source this: the names of the running berth demo\n")
        for k, v in sorted(env.items()):
            f.write("%s=%s\n" % (k, shlex.quote(v)))


def up():
    global T0
    T0 = time.time()
    if os.path.exists(os.path.join(STATE, "cluster.json")) or C.reap(PREFIX):
        say("tearing down the previous demo first")
    down(quiet=True)
    os.makedirs(DEMO, exist_ok=True)
    c = C.Cluster(STATE, PREFIX, nodes=2)
    t0 = time.time()
    say("starting berth-server on %s:%d and 2 nodes (%s)" % (
        C.SERVER_IP, C.API_PORT, ", ".join("%s %s" % (n.name, n.ip) for n in c.nodes)))
    try:
        c.up(timeout=60, progress=say)
        say("nodes Ready after %.1fs; deploying web (3 httpd pods) and a NodePort Service"
            % (time.time() - t0))
        c.apply(WEB, SVC, CLIENT)
        c.wait_pods_ready("app=web", 3, timeout=WAIT, progress=say)
        c.wait_pods_ready(None, 4, timeout=WAIT, progress=say)
        C.wait_for("the Service's endpoints", lambda: sum(
            len(s.get("endpoints") or []) for s in c.get(
                "endpointslices", "-l", "kubernetes.io/service-name=web")["items"]) == 3, 30)
    except (C.ClusterError, C.subprocess.SubprocessError) as e:
        c.diag()
        say("FAILED: %s" % e)
        say("the cluster is left as it is for a look (%s); make demo-down removes it" % STATE)
        return 1
    say("ready after %.1fs" % (time.time() - t0))
    kc, wrapper = write_tools(c)

    print("\n$ kubectl get nodes,pods,svc -o wide")
    print(c.kubectl("get", "nodes,pods,svc", "-o", "wide").stdout)
    svc = c.get("service", "web")["spec"]
    cip, nport = svc["clusterIP"], svc["ports"][0].get("nodePort")
    client = c.get("pod", "client")
    write_env(c, cip, nport, client)
    print("$ curl http://%s/   # the ClusterIP, from the client pod's netns (%s), 4 times" %
          (cip, client["spec"]["nodeName"]))
    for _ in range(4):
        print("  " + fetch(C.nsexec(
            c.node(client["spec"]["nodeName"]).pod_netns(client["metadata"]["uid"]),
            "curl", "-sS", "-m", "3", "http://%s/" % cip)))
    for n in c.nodes:
        print("$ curl http://%s:%s/   # the NodePort on %s, from outside (netns %s)" %
              (n.ip, nport, n.name, c.ext))
        print("  " + fetch(C.nsexec(c.ext, "curl", "-sS", "-m", "3",
                                    "http://%s:%s/" % (n.ip, nport))))
    print("""
berth is running: 1 server, 2 nodes, kubeconfig in %(kc)s.
  %(k)s get pods -o wide                   kubectl against the demo cluster
  %(k)s scale deployment/web --replicas=5
  ip netns exec %(ext)s curl http://%(n1)s:%(np)s/     the NodePort from outside
  .output/bin/berthctl bpf services --node %(node1)s  the node's BPF Service maps
  logs: %(state)s/server.log, %(state)s/node1/agent.log, ...
Stop it with: make demo-down""" % {
        "kc": os.path.relpath(kc, REPO), "k": os.path.relpath(wrapper, REPO), "ext": c.ext,
        "n1": c.nodes[0].ip, "np": nport, "node1": c.nodes[0].name,
        "state": os.path.relpath(STATE, REPO)})
    return 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("demo: needs root (network namespaces, bpffs, runc)")
    cmd = sys.argv[1] if len(sys.argv) > 1 else "up"
    if cmd == "up":
        sys.exit(up())
    if cmd == "down":
        down()
        sys.exit(0)
    sys.exit("usage: demo.py [up|down]")
