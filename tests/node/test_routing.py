#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berth-agent --server sets its node up for a cluster: the VXLAN device
(external, dstport 8472, MTU = underlay - 50, NOARP, the fixed MAC, up),
ip_forward and rp_filter, the node map; a second Node created through
kubectl gets a route through the tunnel within a second, and loses it
when deleted; a restart changes nothing that is right and repairs a
tunnel device with a wrong setting; healthCheckNodePort is served on the
node IP while its Service exists; --uninstall removes the tunnel."""
import json
import os
import time

from kubelet_lib import BIN, NODE_IP, Node, check, sh, wait_for

NAME = "kt-route"
TUN = "berth_vxlan"
FAKE = "kt-route-peer-%d" % os.getpid()
FAKE_CIDR = "10.244.199.0/24"
FAKE_IP = "10.250.0.99"


def link(n, dev):
    r = n.nsh("ip", "-d", "-j", "link", "show", dev, check_rc=False)
    if r.returncode != 0:
        return None
    return json.loads(r.stdout)[0]


def routes(n):
    r = n.nsh("ip", "-j", "-d", "route", "show", "dev", TUN, check_rc=False)
    return json.loads(r.stdout) if r.returncode == 0 and r.stdout.strip() else []


def route_to(n, cidr):
    for r in routes(n):
        if r.get("dst") == cidr:
            return r
    return None


def wait_fast(what, fn, limit):
    """fn() true within limit seconds (polled every 20 ms); -> seconds taken"""
    t0 = time.time()
    while time.time() - t0 < limit + 5:
        if fn():
            took = time.time() - t0
            check(took <= limit, "%s in %.2fs (limit %.1fs)" % (what, took, limit))
            return took
        time.sleep(0.02)
    check(False, "%s within %ds" % (what, limit + 5))


n = Node(NAME)
n.start_agent()
wait_for("Node registered with a podCIDR",
         lambda: (n.get("node", NAME) or {}).get("spec", {}).get("podCIDR"), 20)
under = link(n, "node0")
tun = wait_for("tunnel device " + TUN, lambda: link(n, TUN), 10)
info = tun["linkinfo"]["info_data"]
check(tun["linkinfo"]["info_kind"] == "vxlan", "%s is a vxlan device" % TUN)
check(info.get("external") is True, "external (collect_metadata) mode: %s" % info)
check(info.get("port") == 8472, "dstport 8472: %s" % info.get("port"))
check(tun["mtu"] == under["mtu"] - 50,
      "MTU %d = underlay %d - 50" % (tun["mtu"], under["mtu"]))
check("NOARP" in tun["flags"] and "UP" in tun["flags"], "NOARP and up: %s" % tun["flags"])
check(tun["address"] == "02:be:27:00:00:01", "fixed MAC: %s" % tun["address"])
check(n.nsh("cat", "/proc/sys/net/ipv4/ip_forward").stdout.strip() == "1", "ip_forward=1")
check(n.nsh("cat", "/proc/sys/net/ipv4/conf/%s/rp_filter" % TUN).stdout.strip() == "0",
      "rp_filter 0 on the tunnel")
if os.path.exists("/proc/sys/net/ipv6"):
    check(n.nsh("cat", "/proc/sys/net/ipv6/conf/%s/disable_ipv6" % TUN).stdout.strip() == "1",
          "IPv6 off on the tunnel (its neighbour discovery has nowhere to go)")

root = os.path.join(n.tmp, "agent")
state = wait_for("ROOT/routing.json", lambda: os.path.exists(os.path.join(root, "routing.json")), 10)
with open(os.path.join(root, "routing.json")) as f:
    state = json.load(f)
check(state["device"]["name"] == "node0" and state["nodeIP"] == NODE_IP and
      state["podMTU"] == under["mtu"] - 50 and state["xdpMode"] in ("native", "generic", "none"),
      "routing.json: device node0, node IP, pod MTU, XDP mode %s" % state["xdpMode"])

pin = "/sys/fs/bpf/berth/%s/node" % NAME
if os.path.exists(pin):
    r = sh("bpftool", "-j", "map", "dump", "pinned", pin)
    dump = json.loads(r.stdout)
    v = dump[0].get("formatted", {}).get("value", {})
    check(v.get("netdev_ifindex") == under["ifindex"] and
          v.get("tunnel_ifindex") == tun["ifindex"], "node map names both devices: %s" % v)
    check(v.get("nodeport_min") == 30000 and v.get("nodeport_max") == 32767,
          "node map NodePort range")
else:
    print("SKIP (assertion): %s is not pinned: the node map is not in this datapath yet" % pin)

# a second Node: its pod CIDR is routed through the tunnel
n.kubectl("apply", "-f", "-", input=json.dumps({
    "apiVersion": "v1", "kind": "Node", "metadata": {"name": FAKE},
    "spec": {"podCIDR": FAKE_CIDR, "podCIDRs": [FAKE_CIDR]}}))
n.kubectl("patch", "node", FAKE, "--subresource=status", "--type=merge", "-p",
          json.dumps({"status": {"addresses": [{"type": "InternalIP", "address": FAKE_IP}]}}))
wait_fast("route to the new Node's pods", lambda: route_to(n, FAKE_CIDR), 1.0)
r = route_to(n, FAKE_CIDR)
check(r.get("prefsrc") == NODE_IP and r.get("scope") == "link",
      "route src %s scope link: %s" % (NODE_IP, r))
check(any(m.get("mtu") == tun["mtu"] for m in r.get("metrics", [])),
      "route MTU is the tunnel's: %s" % r)
check(len(routes(n)) == 1, "one route on the tunnel (none to our own pods): %s" % routes(n))

# restart: nothing that is right changes
n.stop_agent()
alog = os.path.join(n.tmp, "agent.log")
mark = os.path.getsize(alog)
n.start_agent()


def restarted_sync():
    with open(alog) as f:
        f.seek(mark)
        return "watching Services" in f.read()


wait_for("restarted agent running", restarted_sync, 15)
time.sleep(1.5)
with open(alog) as f:
    f.seek(mark)
    log = f.read()
check("tunnel %s: in place" % TUN in log, "restart keeps the tunnel device")
check(link(n, TUN)["ifindex"] == tun["ifindex"], "same ifindex")
check("node routes:" not in log, "restart rewrites no route or ipcache entry")
check(route_to(n, FAKE_CIDR) is not None, "the route is still there")

# the Node goes: so does its route
n.kubectl("delete", "node", FAKE)
wait_fast("route removed after the Node was deleted", lambda: route_to(n, FAKE_CIDR) is None, 1.0)

# a wrong setting is repaired at start
n.stop_agent()
n.nsh("ip", "link", "set", TUN, "mtu", "1300")
n.start_agent()
wait_for("tunnel MTU repaired", lambda: (link(n, TUN) or {}).get("mtu") == under["mtu"] - 50, 10)
check("UP" in link(n, TUN)["flags"], "repaired tunnel is up")

# healthCheckNodePort: served on the node IP while the Service exists
n.kubectl("apply", "-f", "-", input=json.dumps({
    "apiVersion": "v1", "kind": "Service", "metadata": {"name": "lb", "namespace": "default"},
    "spec": {"type": "LoadBalancer", "externalTrafficPolicy": "Local",
             "selector": {"app": "none"}, "ports": [{"port": 80}]}}))
svc = wait_for("healthCheckNodePort allocated",
               lambda: (n.get("service", "lb") or {}).get("spec", {}).get("healthCheckNodePort"), 10)
url = "http://%s:%d/" % (NODE_IP, svc)


def hc_get():
    r = n.nsh("curl", "-s", "--noproxy", "*", "-m", "2", "-w", "\n%{http_code}", url, check_rc=False)
    return r.stdout.rsplit("\n", 1) if r.returncode == 0 else None


got = wait_for("health check answers on %s" % url, hc_get, 10)
body = json.loads(got[0])
check(got[1] == "503" and body == {"service": {"namespace": "default", "name": "lb"},
                                   "localEndpoints": 0},
      "no local endpoints: 503 %s" % got)
with open(os.path.join(root, "sync-status.json")) as f:
    st = json.load(f)
check(st.get("xdpMode") == state["xdpMode"], "sync-status.json says the XDP mode: %s" % st)
n.kubectl("delete", "service", "lb")
wait_for("health check port closed with the Service", lambda: hc_get() is None, 10)
check(True, "port closed")

# --device names the underlay; a device that is not there is a clear error
n.stop_agent()
mark = os.path.getsize(alog)
p = n.start_agent("--device", "nosuch0")
rc = p.wait(15)
with open(alog) as f:
    f.seek(mark)
    log = f.read()
check(rc != 0 and "underlay device nosuch0" in log,
      "--device nosuch0: agent exits (%d) saying why" % rc)
n.agent = None

# --uninstall takes the tunnel device (and its routes) away
n.nsh(os.path.join(BIN, "berth-agent"), "--node-name", NAME, "--uninstall")
check(link(n, TUN) is None, "--uninstall removed %s" % TUN)
