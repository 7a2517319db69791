# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Node IPAM: distinct podCIDRs from --cluster-cidr, kept and never handed
out twice across a server restart, CIDRNotAvailable when the range is
exhausted, a deleted node's range reused."""
import ipaddress
import os
import signal
import subprocess
import time

from kwok import Server, check, fail, items, wait_for

ARGS = ("--controllers", "nodeipam", "--cluster-cidr", "10.250.0.0/22",
        "--node-cidr-mask-size", "24")
s = Server(*ARGS)


def restart(s):
    """Stop the server and start it again on the same data directory."""
    s.proc.send_signal(signal.SIGTERM)
    check(s.proc.wait(10) == 0, "server stopped cleanly")
    kc = os.path.join(s.tmp, "data", "kubeconfig")
    os.remove(kc)
    s.proc = subprocess.Popen([s.proc.args[0], "--data-dir", os.path.join(s.tmp, "data"),
                               "--listen", "127.0.0.1:0", "--insecure-port", "0", *ARGS],
                              stdout=s.log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 10
    while not os.path.exists(kc) or "server:" not in open(kc).read():
        if time.monotonic() > deadline or s.proc.poll() is not None:
            fail("server did not come back")
        time.sleep(0.05)
    s.read_ports()


def add(name):
    st, out, _ = s.req("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                                 "metadata": {"name": name}})
    check(st == 201, "node %s created: %s" % (name, out))


def cidr(name):
    st, n, _ = s.req("GET", "/api/v1/nodes/" + name)
    if st != 200:
        return None
    spec = n.get("spec", {})
    if spec.get("podCIDR") and spec.get("podCIDRs") != [spec["podCIDR"]]:
        fail("podCIDRs %s does not match podCIDR %s" % (spec.get("podCIDRs"), spec["podCIDR"]))
    return spec.get("podCIDR")


cluster = ipaddress.ip_network("10.250.0.0/22")
for n in ("a", "b", "c"):
    add(n)
first = {n: wait_for("node %s gets a podCIDR" % n, lambda n=n: cidr(n), 5) for n in ("a", "b", "c")}
check(len(set(first.values())) == 3, "podCIDRs distinct: %s" % first)
check(all(ipaddress.ip_network(c).subnet_of(cluster) and ipaddress.ip_network(c).prefixlen == 24
          for c in first.values()), "podCIDRs are /24s inside the cluster CIDR")

restart(s)
add("d")
d = wait_for("after a restart a new node gets a podCIDR", lambda: cidr("d"), 5)
check(d not in first.values(), "the restarted allocator did not hand out a used range: %s" % d)
check({n: cidr(n) for n in first} == first, "podCIDRs kept across the restart")

add("e")
wait_for("CIDRNotAvailable event for the node beyond the range",
         lambda: any(e.get("reason") == "CIDRNotAvailable" and e["involvedObject"].get("name") == "e"
                     for e in items(s, "/api/v1/namespaces/default/events")), 5)
check(cidr("e") is None, "no podCIDR when the range is exhausted")
st, _, _ = s.req("DELETE", "/api/v1/nodes/b")
check(st == 200, "node b deleted")
wait_for("node e gets the range node b released", lambda: cidr("e") == first["b"], 5)
print("PASS")
