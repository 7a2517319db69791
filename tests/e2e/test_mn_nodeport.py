#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""NodePort from a client outside the cluster (the external netns on the
underlay), through XDP on node1 (--nodeport-accel xdp) and tc on node2
(--nodeport-accel tc):
- externalTrafficPolicy Cluster to a backend on the other node: answered,
  and the backend sees the node's IP (SNAT; the reply goes back through it);
- externalTrafficPolicy Local (type LoadBalancer, the only type Kubernetes
  gives a healthCheckNodePort; no load balancer here, so its NodePorts are
  what is reached): the backend sees the client's own IP, a
  node without a local endpoint does not answer, and the Service's
  healthCheckNodePort answers 200 on a node with a local endpoint and 503
  on one without;
- UDP through XDP (the bench's NodePort flood, smaller): a burst of one
  5-tuple to a backend on the other node arrives whole and promptly, sent
  by XDP (a veth's XDP_TX frames used to sit unsent until the node's next
  ordinary packet, see cluster.py wire_xdp)."""
import json
import time
import multinode as M
import cluster as C

M.require_flag("--nodeport-accel", "helper B: agent flag --nodeport-accel xdp|tc")
c = M.cluster(nodes=2, agent_args={1: ["--nodeport-accel", "xdp"],
                                   2: ["--nodeport-accel", "tc"]})
n1, n2 = c.nodes
# np-on2: Cluster policy, backend on node2; lo-on2: Local, backend on node2; ...
svcs = [M.service("np-on2", {"app": "web", "at": "n2", "be": "y"}, "NodePort"),
        M.service("np-on1", {"app": "web", "at": "n1", "be": "y"}, "NodePort"),
        M.service("lo-on2", {"app": "web", "at": "n2", "be": "y"}, "LoadBalancer", "Local"),
        M.service("lo-on1", {"app": "web", "at": "n1", "be": "y"}, "LoadBalancer", "Local"),
        {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "udp-on2"},
         "spec": {"type": "NodePort", "selector": {"app": "web", "at": "n2", "be": "y"},
                  "ports": [{"name": "u", "port": 9, "targetPort": 9, "protocol": "UDP"}]}}]
pods = M.start_pods(c, 2, extra=svcs)
port, hc = {}, {}
for s in ("np-on2", "np-on1", "lo-on2", "lo-on1"):
    spec = c.get("service", s)["spec"]
    port[s] = spec["ports"][0].get("nodePort")
    hc[s] = spec.get("healthCheckNodePort")
    M.check(port[s] and 30000 <= port[s] <= 32767,
            "%s has a nodePort (%s)" % (s, port[s]))
    M.endpoints_ready(c, s, 1)
for s in ("lo-on2", "lo-on1"):
    if not hc[s]:
        M.missing("spec.healthCheckNodePort of the Local Service %s" % s,
                  "helper B: the server allocates it, control/apiserver/alloc.c")
    M.log("ok: %s (Local) has healthCheckNodePort %d" % (s, hc[s]))


def frontend_present(n, p):
    if M.iptables():
        return M.nodeport_rule(n, p)
    r = C.run(C.os.path.join(C.BIN, "berthctl"), "bpf", "services", "--node", n.name,
              check=False)
    return ("%s:%d" % (n.ip, p)) in r.stdout


# Cluster-policy frontends exist on every node (a Local one may be left
# out where the node has no endpoint)
cluster_ports = [port["np-on2"], port["np-on1"]]
for n in c.nodes:
    try:
        C.wait_for("frontends", lambda n=n: all(frontend_present(n, p) for p in cluster_ports),
                   10)
    except C.ClusterError:
        M.missing("NodePort frontends %s:{%s} in %s's services map" % (
            n.ip, ",".join(str(p) for p in cluster_ports), n.name),
            "helper B: the agent's proxy writes them")

if M.iptables():  # --nodeport-accel is BPF's: nothing attached at all
    for n in c.nodes:
        M.no_bpf(n)
xdp = n1.sh("ip", "-d", "link", "show", "dev", "eth0").stdout
if M.iptables():
    pass
elif "prog/xdp" not in xdp:
    M.missing("an XDP program on %s eth0 with --nodeport-accel xdp (ip -d link: %s)" %
              (n1.name, xdp.strip()), "helper A: xdp_nodeport.bpf.c; helper B: attach")
else:
    M.log("ok: XDP program on %s eth0" % n1.name)
    M.check("prog/xdp" not in n2.sh("ip", "-d", "link", "show", "dev", "eth0").stdout,
            "no XDP program on %s eth0 with --nodeport-accel tc" % n2.name)
    tc = n2.sh("tc", "filter", "show", "dev", "eth0", "ingress").stdout
    if not tc.strip():
        M.missing("a tc ingress program (host.bpf.c) on %s eth0" % n2.name,
                  "helper A: host.bpf.c; helper B: attach")
    M.log("ok: tc ingress program on %s eth0" % n2.name)


def through(node, svc, path="/cgi-bin/ip", tries=5):
    url = "http://%s:%d%s" % (node.ip, port[svc], path)
    got = [M.curl(c, "ext", url) for _ in range(tries)]
    return url, got


for node, svc, backend, mode in ((n1, "np-on2", "web-2-1", "xdp"),
                                 (n2, "np-on1", "web-1-1", "tc")):
    url, got = through(node, svc, "/")
    M.check(got == [backend] * len(got), "NodePort %s (%s, Cluster) answers from %s on the "
            "other node: %s" % (url, mode, backend, got))
    url, got = through(node, svc)
    got = [M.client_ip(g) for g in got]
    M.check(got == [node.ip] * len(got), "%s (%s, Cluster): the remote backend sees the node "
            "IP %s (SNAT): %s" % (url, mode, node.ip, got))

for node, other, svc, mode in ((n2, n1, "lo-on2", "tc"), (n1, n2, "lo-on1", "xdp")):
    url, got = through(node, svc)
    got = [M.client_ip(g) for g in got]
    M.check(got == [C.EXT_IP] * len(got), "%s (%s, Local): the backend sees the client IP "
            "%s: %s" % (url, mode, C.EXT_IP, got))
    url, got = through(other, svc, "/", tries=2)
    M.check(got == [None, None], "%s (Local, no endpoint on %s): no answer (%s)" %
            (url, other.name, got))
    code = M.http_code(c, "http://%s:%d/" % (node.ip, hc[svc]))
    M.check(code == "200", "healthCheckNodePort %d on %s (local endpoint): %s" %
            (hc[svc], node.name, code))
    code = M.http_code(c, "http://%s:%d/" % (other.ip, hc[svc]))
    M.check(code == "503", "healthCheckNodePort %d on %s (no local endpoint): %s" %
            (hc[svc], other.name, code))

# UDP: the receiver (a host python in web-2-1's netns) counts the burst's
# datagrams until it has heard nothing for 1 s; the sender keeps one source
# port, so all are one flow through XDP's DNAT + SNAT + encapsulation.
UDP_RECV = r'''
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 9)); s.settimeout(1.0)
print("ready", flush=True)
n, first, last, end = 0, None, None, time.time() + 8
while time.time() < end:
    try:
        if s.recv(64).startswith(b"berth-udp "):
            n += 1; last = time.time(); first = first or last
    except socket.timeout:
        if n: break
print("got %d in %.3f s" % (n, (last - first) if n else 0), flush=True)
'''
UDP_SEND = r'''
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 40000))
for i in range(int(sys.argv[3])):
    s.sendto(b"%s %d" % (sys.argv[4].encode(), i), (sys.argv[1], int(sys.argv[2])))
    if i % 50 == 49: time.sleep(0.002)
'''
UDP_N = 1000


def xdp_sent(n):
    if M.iptables():
        return 0  # no XDP: only the arrival below counts
    r = C.run(C.os.path.join(C.BIN, "berthctl"), "bpf", "metrics", "--node", n.name,
              "-o", "json")
    return sum(m["packets"] for m in json.loads(r.stdout)
               if m["reason"] == "forwarded" and m["dir"] == "xdp")


pu = c.get("service", "udp-on2")["spec"]["ports"][0]["nodePort"]
M.endpoints_ready(c, "udp-on2", 1)
M.wait("UDP NodePort frontend %s:%d on %s" % (n1.ip, pu, n1.name),
       lambda: frontend_present(n1, pu))
rlog = C.os.path.join(c.state, "udp-recv.log")


def recv_lines():
    with open(rlog) as f:
        return f.read().splitlines()


c.pod_daemon(pods["web-2-1"], rlog, "python3", "-c", UDP_RECV)
M.wait("UDP receiver in web-2-1", lambda: "ready" in recv_lines())
# one datagram first: should node1 not know node2's MAC yet, XDP passes it
# (bpf_fib_lookup: no neighbour) and tc's way through the stack resolves it
c.ext_sh("python3", "-c", UDP_SEND, n1.ip, str(pu), "1", "berth-warm")
time.sleep(0.5)
before = xdp_sent(n1)
c.ext_sh("python3", "-c", UDP_SEND, n1.ip, str(pu), str(UDP_N), "berth-udp")
got = M.wait("the UDP receiver's count",
             lambda: [l for l in recv_lines() if l.startswith("got ")])[0]
n, took = int(got.split()[1]), float(got.split()[3])
sent = xdp_sent(n1) - before
if not M.iptables():  # no XDP there: only the arrival counts
    M.check(sent >= UDP_N * 0.9, "UDP NodePort %s:%d (xdp): %d of %d datagrams sent by XDP" %
            (n1.ip, pu, sent, UDP_N))
M.check(n >= UDP_N * 0.9 and took < 1.0,
        "UDP NodePort %s:%d (xdp) to web-2-1 on %s: %d of %d datagrams arrived in %.3f s" %
        (n1.ip, pu, n2.name, n, UDP_N, took))
M.log("PASS")
