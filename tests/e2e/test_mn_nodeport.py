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
  on one without."""
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
        M.service("lo-on1", {"app": "web", "at": "n1", "be": "y"}, "LoadBalancer", "Local")]
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

xdp = n1.sh("ip", "-d", "link", "show", "dev", "eth0").stdout
if "prog/xdp" not in xdp:
    M.missing("an XDP program on %s eth0 with --nodeport-accel xdp (ip -d link: %s)" %
              (n1.name, xdp.strip()), "helper A: xdp_nodeport.bpf.c; helper B: attach")
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
M.log("PASS")
