#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/net: the datapath between pods and from outside, on a two-node
cluster (tests/e2e/cluster.py), all traffic inside the benchmark's own
namespaces and bounded in time.

- iperf3 TCP throughput and a TCP request/response rate (1-byte ping-pong
  on one connection, our own bounded client), pod -> pod IP vs pod ->
  ClusterIP, same node and cross node. Goal: ClusterIP >= 0.95x direct.
- NodePort packets per second: trafgen (netsniff-ng) from the external
  netns at a UDP NodePort whose backend is on the other node (the case XDP
  handles whole: DNAT, SNAT, encapsulation, XDP_TX), entering at node1
  with --nodeport-accel xdp and at node2 with tc; counted as packets
  reaching the backend pod. Goal: XDP >= 2x tc.

Writes .output/bench/net.json; a part that cannot run yet (a missing
flag or datapath piece) is recorded with its reason instead of numbers.
"""
import json
import os
import re
import shutil
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
import cluster as C  # noqa: E402

SECS = int(os.environ.get("NET_SECS", "5"))  # per iperf3 / RR run
PPS_SECS = int(os.environ.get("NET_PPS_SECS", "4"))
OUT = os.path.join(C.REPO, ".output", "bench", "net.json")

# request/response: a 1-byte ping-pong over one TCP connection
RR_SERVER = r'''
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(16)
while True:
    c, _ = s.accept(); c.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    while True:
        b = c.recv(1)
        if not b: break
        c.sendall(b)
    c.close()
'''
RR_CLIENT = r'''
import socket, sys, time
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=3)
s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
n, end = 0, time.time() + float(sys.argv[3])
while time.time() < end:
    s.sendall(b"x")
    if s.recv(1) != b"x": raise SystemExit("bad echo")
    n += 1
print(n / float(sys.argv[3]))
'''


def pod(name, node, labels, cmd):
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": C.IMAGE,
                                     "command": ["sh", "-c", cmd]}]}}


def svc(name, sel, ports, type_="ClusterIP"):
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"type": type_, "selector": sel, "ports": [
                {"name": "p%d" % p, "port": p, "targetPort": p, "protocol": proto}
                for p, proto in ports]}}


def iperf(c, client, ip):
    try:
        r = c.pod_exec(client, "iperf3", "-c", ip, "-t", str(SECS), "-J",
                       "--connect-timeout", "3000", check=False, timeout=SECS + 15)
        res = json.loads(r.stdout)
        return round(res["end"]["sum_received"]["bits_per_second"] / 1e9, 3)
    except (ValueError, KeyError, C.subprocess.TimeoutExpired):
        return None


def rr(c, client, ip):
    try:
        r = c.pod_exec(client, "python3", "-c", RR_CLIENT, ip, "7000", str(SECS),
                       check=False, timeout=SECS + 15)
        return round(float(r.stdout.strip()))
    except (ValueError, C.subprocess.TimeoutExpired):
        return None


def ratio(a, b):
    return round(a / b, 3) if a and b else None


def best(vals):
    vals = [v for v in vals if v is not None]
    return max(vals) if vals else None


def pair_bench(c, client, server_ip, cip):
    """Direct and ClusterIP alternately, twice each; the better run of each
    (noise on a shared machine only ever slows a run down)."""
    out = {}
    for what, fn in (("iperf3_gbit", iperf), ("tcp_rr_per_s", rr)):
        runs = [(fn(c, client, server_ip), fn(c, client, cip)) for _ in range(2)]
        d, s = best(r[0] for r in runs), best(r[1] for r in runs)
        out[what] = {"pod_ip": d, "cluster_ip": s, "ratio": ratio(s, d)}
        print("  %-13s pod IP %-10s ClusterIP %-10s ratio %s" % (what, d, s, ratio(s, d)),
              flush=True)
    return out


# ip, not /sys/class/net: nsenter --net keeps the host's sysfs mount
def rx_packets(c, p):
    r = c.pod_exec(p, "ip", "-s", "-j", "link", "show", "eth0")
    return int(json.loads(r.stdout)[0]["stats64"]["rx"]["packets"])


def mac_of(argv):
    return json.loads(C.run(*argv, "ip", "-j", "link", "show", "eth0").stdout)[0]["address"]


def pps(c, node, nodeport, backend):
    """trafgen UDP at node:nodeport from the external netns; -> (backend rx
    pps, trafgen's own pps), or (None, error)."""
    mac = mac_of(C.nsexec(node.ns))
    smac = mac_of(C.nsexec(c.ext))
    hexs = lambda m: ", ".join("0x" + x for x in m.split(":"))  # noqa: E731
    ip = lambda a: ", ".join(a.split("."))  # noqa: E731
    conf = os.path.join(c.state, "trafgen-%s.cfg" % node.name)
    with open(conf, "w") as f:
        f.write("{\n %s,\n %s,\n c16(0x0800),\n"
                " 0x45, 0x00, c16(46), c16(0), c16(0x4000), 64, 17, csumip(14, 33),\n"
                " %s,\n %s,\n"
                " c16(40000), c16(%d), c16(26), c16(0),\n"
                " fill(0x61, 18)\n}\n" % (hexs(mac), hexs(smac), ip(C.EXT_IP), ip(node.ip),
                                           nodeport))
    before = rx_packets(c, backend)
    t = time.time()
    r = c.ext_sh("timeout", "-s", "INT", str(PPS_SECS), "trafgen", "--dev", "eth0", "--conf",
                 conf, "--cpus", "1", "--no-sock-mem", "-q", check=False,
                 timeout=PPS_SECS + 10)
    took = time.time() - t
    time.sleep(0.2)
    got = rx_packets(c, backend) - before
    if r.returncode not in (0, 124, 130) and got == 0:
        return None, "trafgen: exit %d %s" % (r.returncode, r.stderr.strip()[-200:])
    sent = re.search(r"(\d+) packets outgoing", r.stdout + r.stderr)
    return (round(got / took), sent and round(int(sent.group(1)) / took)), None


def main():
    for t in ("iperf3", "trafgen", "python3"):
        if not shutil.which(t):
            sys.exit("bench/net: %s is not installed (scripts/deps.sh)" % t)
    r = C.run(os.path.join(C.BIN, "berth-agent"), "--help", check=False)
    accel = "--nodeport-accel" in r.stdout + r.stderr
    args = {1: ["--nodeport-accel", "xdp"], 2: ["--nodeport-accel", "tc"]} if accel else {}
    c = C.Cluster("/tmp/berth-bench-net-%d" % os.getpid(), "bn%d" % (os.getpid() % 100000),
                  nodes=2, agent_args=args)
    res = {"secs": SECS, "goals": {"cluster_ip_vs_pod_ip": 0.95, "xdp_vs_tc_pps": 2.0}}
    try:
        c.up(timeout=60)
        n1, n2 = c.nodes
        # iperf3 -s and the RR echo server are host binaries run in the pods'
        # netns; the pods only hold the addresses. sink1 (behind node1's
        # XDP NodePort) lives on node2, sink2 (node2's tc) on node1.
        idle = "while :; do sleep 3600; done"
        objs = [pod("cli", n1, {"r": "cli"}, idle), pod("near", n1, {"r": "near"}, idle),
                pod("far", n2, {"r": "far"}, idle), pod("sink1", n2, {"r": "sink1"}, idle),
                pod("sink2", n1, {"r": "sink2"}, idle),
                svc("near", {"r": "near"}, [(5201, "TCP"), (7000, "TCP")]),
                svc("far", {"r": "far"}, [(5201, "TCP"), (7000, "TCP")]),
                svc("sink1", {"r": "sink1"}, [(9, "UDP")], "NodePort"),
                svc("sink2", {"r": "sink2"}, [(9, "UDP")], "NodePort")]
        c.apply(*objs)
        c.wait_pods_ready(None, 5, timeout=90)
        pods = {p["metadata"]["name"]: p for p in c.pods()}
        for name in ("near", "far"):
            p = pods[name]
            c.pod_daemon(p, os.path.join(c.state, "iperf3-%s.log" % name), "iperf3", "-s")
            c.pod_daemon(p, os.path.join(c.state, "rr-%s.log" % name), "python3", "-c",
                         RR_SERVER, "7000")
        time.sleep(1)
        for name, label in (("near", "same_node"), ("far", "cross_node")):
            cip = c.get("service", name)["spec"]["clusterIP"]
            print("%s (cli on %s -> %s on %s):" % (label, n1.name, name,
                                                   pods[name]["spec"]["nodeName"]), flush=True)
            res[label] = pair_bench(c, pods["cli"], pods[name]["status"]["podIP"], cip)
        if not accel:
            res["nodeport_pps"] = {"skipped": "berth-agent has no --nodeport-accel yet"}
        else:
            # offered: what trafgen sent. On one machine the whole path
            # (bridge, node, tunnel, pod) runs in the sender's softirq, so
            # a cheaper node shows as more offered and less lost, not as
            # a node's own capacity.
            np_res = {"offered": {}}
            for node, sink, mode in ((n1, "sink1", "xdp"), (n2, "sink2", "tc")):
                port = c.get("service", sink)["spec"]["ports"][0]["nodePort"]
                v, err = pps(c, node, port, pods[sink])
                np_res[mode] = v[0] if err is None else {"error": err}
                if err is None:
                    np_res["offered"][mode] = v[1]
                print("nodeport %s on %s: %s" % (
                    mode, node.name, err or "%d pps (trafgen sent %s pps)" % v), flush=True)
            if isinstance(np_res.get("xdp"), int) and isinstance(np_res.get("tc"), int):
                np_res["ratio"] = ratio(np_res["xdp"], np_res["tc"])
            res["nodeport_pps"] = np_res
    except (C.ClusterError, C.subprocess.SubprocessError) as e:
        c.diag()
        res["error"] = str(e)
    finally:
        c.down()
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT, "w") as f:
        json.dump(res, f, indent=1)
    print("results: .output/bench/net.json")
    return 1 if "error" in res else 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("bench/net: needs root")
    sys.exit(main())
