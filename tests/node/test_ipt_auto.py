#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""--dataplane choices, in a netns of the test's own: when the BPF
datapath cannot load (here: a conntrack map larger than the kernel
accepts, --max-ct 4294967295), --dataplane auto says why and programs the
Service file as iptables rules instead, leaving no pins; --dataplane bpf
exits 1 with the reason; an unknown mode is a usage error;
--iptables-backend legacy writes through iptables-legacy only, and
--uninstall clears both backends."""
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from lib import REPO, check  # noqa: E402

AGENT = os.path.join(REPO, ".output/bin/berth-agent")
P = "ba%d" % os.getpid()
NS, NODE = P + "-node", P + "-n1"
PIN = "/sys/fs/bpf/berth/" + NODE
SVC = """services:
  - name: web
    namespace: default
    clusterIP: 10.96.0.10
    ports:
      - {name: http, port: 80, targetPort: 8080, protocol: TCP}
    endpoints:
      - {ip: 10.244.0.11}
"""


def agent(tmp, mode, *extra):
    return subprocess.run(["nsenter", "--net=/run/netns/" + NS, AGENT, "--node-name", NODE,
                           "--root", os.path.join(tmp, "root"), "--services",
                           os.path.join(tmp, "svc.yaml"), "--dataplane", mode, "--once",
                           *extra], capture_output=True, text=True, timeout=60)


def nat(table="nat", backend="nft"):
    return subprocess.run(["ip", "netns", "exec", NS, "iptables-%s-save" % backend, "-t",
                           table], capture_output=True, text=True).stdout


def main():
    if os.geteuid() != 0:
        print("SKIP: needs root")
        sys.exit(77)
    tmp = tempfile.mkdtemp(prefix="berth-ipt-auto-")
    subprocess.run(["ip", "netns", "add", NS], check=True)
    try:
        with open(os.path.join(tmp, "svc.yaml"), "w") as f:
            f.write(SVC)
        huge = ("--max-ct", "4294967295")
        r = agent(tmp, "auto", *huge)
        check(r.returncode == 0, "auto: exit 0 (%s)" % r.stderr[-300:])
        check("falling back to iptables" in r.stderr and "load from_pod" in r.stderr,
              "auto: the BPF failure is logged, then the fallback")
        check("-d 10.96.0.10/32" in nat() and ":BERTH-SVC-" in nat(),
              "auto: the Service is in the netns' nat table")
        check(not os.path.exists(PIN), "auto: no pins left in %s" % PIN)

        r = agent(tmp, "bpf", *huge)
        check(r.returncode == 1 and "BPF datapath: Argument list too long" in r.stderr,
              "bpf: exit 1 with the reason (%d, %s)" % (r.returncode,
                                                       r.stderr.strip().splitlines()[-1:]))
        r = agent(tmp, "nft")
        check(r.returncode == 2 and "is not bpf, iptables or auto" in r.stderr,
              "unknown --dataplane: usage error (%d)" % r.returncode)
        r = agent(tmp, "iptables", "--iptables-backend", "legacy")
        check(r.returncode == 0 and ":BERTH-SVC-" in nat(backend="legacy"),
              "--iptables-backend legacy: the Service in iptables-legacy's nat table")
        r = subprocess.run(["nsenter", "--net=/run/netns/" + NS, AGENT, "--node-name", NODE,
                            "--uninstall"], capture_output=True, text=True, timeout=60)
        left = nat() + nat("filter") + nat(backend="legacy") + nat("filter", "legacy")
        check(r.returncode == 0 and "BERTH-" not in left,
              "--uninstall removes the rules of both backends")
    finally:
        subprocess.run(["ip", "netns", "del", NS])
        subprocess.run(["rm", "-rf", tmp, PIN])


if __name__ == "__main__":
    main()
