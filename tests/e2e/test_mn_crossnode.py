#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Pods on two nodes over the VXLAN overlay: ping and TCP both ways with
the pods' own addresses (no NAT between pods), pod MTU = underlay - 50,
a ClusterIP whose backends all live on the other node, and no "no route"
drops in the tunnel (the device's own IPv6 chatter is not berth's); with
BERTH_DATAPLANE=iptables, the same traffic and no BPF on any node. The
nodes run with --vxlan-vni 4242: every VXLAN packet on the underlay
carries it, and (BPF) a packet of another VNI is dropped and counted."""
import json
import os
import struct
import subprocess
import time

import multinode as M
import cluster as C

VNI = 4242
# VXLAN packets on a node's underlay port, counted by VNI, for N seconds
SNIFF = r'''
import json, socket, sys, time
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))
s.bind((sys.argv[1], 0)); s.settimeout(0.3)
vnis, end = {}, time.time() + float(sys.argv[2])
while time.time() < end:
    try:
        f = s.recv(4096)
    except socket.timeout:
        continue
    ip = f[14:]
    if f[12:14] != b"\x08\x00" or ip[9] != 17: continue
    u = ip[(ip[0] & 15) * 4:]
    if int.from_bytes(u[2:4], "big") != 8472: continue
    v = str(int.from_bytes(u[12:15], "big"))
    vnis[v] = vnis.get(v, 0) + 1
print(json.dumps(vnis))
'''


def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    while t >> 16:
        t = (t & 0xffff) + (t >> 16)
    return ~t & 0xffff


def vxlan_ping(vni, dst):
    """A VXLAN datagram's payload: VNI vni, an echo request to dst inside."""
    ic = struct.pack("!BBHHH", 8, 0, 0, 0x4242, 1) + b"vni-probe"
    ic = ic[:2] + struct.pack("!H", csum(ic)) + ic[4:]
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(ic), 0, 0, 64, 1, 0,
                     socket_aton(C.EXT_IP), socket_aton(dst))
    ip = ip[:10] + struct.pack("!H", csum(ip)) + ip[12:]
    eth = bytes.fromhex("02be27000001" "020000000099" "0800")
    return struct.pack("!II", 0x08000000, vni << 8) + eth + ip + ic


def socket_aton(a):
    return bytes(int(x) for x in a.split("."))


def overlay_invalid(n):
    r = C.run(os.path.join(C.BIN, "berthctl"), "bpf", "metrics", "--node", n.name,
              "-o", "json", check=False)
    return sum(m["packets"] for m in json.loads(r.stdout or "[]")
               if m["dir"] == "overlay" and m["reason"] == "invalid packet")


c = M.cluster(nodes=2, agent_args={k: ["--vxlan-vni", str(VNI)] for k in (1, 2)})
pods = M.start_pods(c, 3, extra=[M.service("far2", {"app": "web", "at": "n2", "be": "y"}),
                                  M.service("far1", {"app": "web", "at": "n1", "be": "y"})])
M.require_crossnode(c)

a, b = pods["web-1-0"], pods["web-2-0"]
# ip, not /sys/class/net: nsenter --net keeps the host's sysfs mount
mtu = str(json.loads(c.pod_exec(a, "ip", "-j", "link", "show", "eth0").stdout)[0]["mtu"])
M.check(mtu == str(C.MTU - 50), "pod MTU is underlay MTU - 50 (%s)" % mtu)
for src, dst in ((a, b), (b, a)):
    sname, dname = src["metadata"]["name"], dst["metadata"]["name"]
    dip = dst["status"]["podIP"]
    r = c.pod_exec(src, "busybox", "ping", "-c", "3", "-W", "2", dip, check=False)
    M.check(r.returncode == 0, "ping %s -> %s (%s) across nodes: %s" %
            (sname, dname, dip, r.stdout.splitlines()[-2:] if r.stdout else r.stderr))
    got = M.curl(c, src, "http://%s:8080/" % dip)
    M.check(got == dname, "TCP %s -> %s:8080 across nodes answers %r" % (sname, dip, got))
    got = M.client_ip(M.curl(c, src, "http://%s:8080/cgi-bin/ip" % dip))
    M.check(got == src["status"]["podIP"], "%s sees the client's pod IP %s (got %s)" %
            (dname, src["status"]["podIP"], got))

# the VNI on the wire, both ways
sniff = subprocess.Popen(C.nsexec(c.ul, "python3", "-c", SNIFF, "n1", "3"),
                         stdout=subprocess.PIPE, text=True)
time.sleep(0.5)
c.pod_exec(a, "busybox", "ping", "-c", "3", "-i", "0.3", "-W", "2", b["status"]["podIP"],
           check=False)
out, _ = sniff.communicate(timeout=10)
vnis = json.loads(out or "{}")
M.check(vnis and set(vnis) == {str(VNI)}, "VXLAN on the underlay carries VNI %d only (%s)" %
        (VNI, vnis))

# a packet of another VNI (another cluster on the same wire) is not ours
if not M.iptables():
    n1 = c.nodes[0]
    aip = a["status"]["podIP"]
    send = ("import socket, sys; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
            "s.sendto(bytes.fromhex(sys.argv[1]), (sys.argv[2], 8472))")
    for vni, what in ((VNI, "ours"), (99, "another VNI")):
        before = overlay_invalid(n1)
        for _ in range(3):
            c.ext_sh("python3", "-c", send, vxlan_ping(vni, aip).hex(), n1.ip)
        time.sleep(0.5)
        got = overlay_invalid(n1) - before
        M.check(got == (3 if vni != VNI else 0),
                "VXLAN VNI %d (%s) into %s: %d dropped as invalid" % (vni, what, n1.name, got))

# a bigger transfer than one MTU, both ways (fragmentation or a wrong MTU
# shows up here, not with a ping)
r = c.pod_exec(a, "sh", "-c", "head -c 200000 /dev/zero > /tmp/.x; curl -sS -m 5 -o /dev/null "
               "-w '%%{http_code}' -T /tmp/.x http://%s:8080/nope" % b["status"]["podIP"],
               check=False)
M.check(r.stdout.strip() in ("404", "405", "501", "200"),
        "200 kB upload across nodes completes (http %r %s)" % (r.stdout, r.stderr.strip()))

for client, svc, want in ((a, "far2", {"web-2-1", "web-2-2"}),
                          (b, "far1", {"web-1-1", "web-1-2"})):
    M.endpoints_ready(c, svc, 2)
    cip = c.get("service", svc)["spec"]["clusterIP"]
    seen = {}
    for _ in range(20):
        r = M.curl(c, client, "http://%s/" % cip)
        seen[r] = seen.get(r, 0) + 1
    M.check(set(seen) == want, "ClusterIP %s (%s) from %s reaches the backends on the "
            "other node: %s" % (cip, svc, client["metadata"]["name"], seen))

for n in c.nodes:
    if M.iptables():
        M.no_bpf(n)
        continue
    r = C.run(os.path.join(C.BIN, "berthctl"), "bpf", "metrics", "--node", n.name,
              "-o", "json", check=False)
    bad = [m for m in json.loads(r.stdout or "[]")
           if m["dir"] == "overlay" and m["reason"] == "no route to destination"]
    M.check(r.returncode == 0 and not bad,
            "%s: no no-route drops into the tunnel (%s)" % (n.name, bad or r.stderr.strip()))
M.log("PASS")
