#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`make bench`: the BPF and the iptables dataplane (both iptables backends:
nft, the default, and legacy) in the same run, at 100,
1,000 and 10,000 Services (BENCH_DP_SIZES), on one node in network
namespaces of its own (a client pod and a backend pod, Calico-style, as in
tests/e2e/lib.sh), the agent fed a Service file:

- full sync: the agent's first sync of all the Services (sync-status.json
  duration_us: file parse + map writes, or render + iptables-nft-restore);
- one-Service change: the last Service gains an endpoint;
- connection set-up to the last Service added: BENCH_DP_CONNS sequential
  TCP connect + request + answer + close (TCP_CRR-style) from the client
  pod, p50/p99/mean in microseconds, and the connect() alone (the SYN is
  what the Service lookup costs); a Python client, so ~100 us of it is
  the client's own.

Writes .output/bench/dataplanes.json and, with gnuplot, dataplanes.png
(the .gp script is written either way). The ratio to watch: iptables'
connection set-up over BPF's at the largest size (goal: >= 10)."""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
AGENT = os.path.join(REPO, ".output/bin/berth-agent")
PEER = os.path.join(REPO, "tests/e2e/peer.py")
OUT = os.path.join(REPO, ".output/bench")
SIZES = [int(x) for x in os.environ.get("BENCH_DP_SIZES", "100,1000,10000").split(",")]
CONNS = int(os.environ.get("BENCH_DP_CONNS", "200"))
# mode -> the agent's dataplane arguments
MODES = {"bpf": ["--dataplane", "bpf"],
         "iptables": ["--dataplane", "iptables", "--iptables-backend", "nft"],
         "iptables-legacy": ["--dataplane", "iptables", "--iptables-backend", "legacy"]}
SYNC_WAIT = 120  # s, the longest a sync of the largest size may take
P = "bd%d" % (os.getpid() % 100000)
NODE, CLI, BE = P + "-node", P + "-cli", P + "-be"
CLI_IF, BE_IF, DUMMY = P + "c", P + "b", P + "d"
CLI_IP, BE_IP = "10.244.0.2", "10.244.0.11"

CLIENT = r'''
import json, socket, sys, time
host, port, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ts, tc, err, end = [], [], 0, time.monotonic() + 60
for _ in range(n):
    if time.monotonic() > end:
        break
    s = socket.socket()
    s.settimeout(2)
    t = time.perf_counter()
    try:
        s.connect((host, port))
        t1 = time.perf_counter()
        s.sendall(b"whoami\n")
        ok = s.recv(64)
        if ok:
            ts.append((time.perf_counter() - t) * 1e6)
            tc.append((t1 - t) * 1e6)
        else:
            err += 1
    except OSError:
        err += 1
    s.close()
ts.sort()
tc.sort()
pick = lambda v, q: round(v[min(len(v) - 1, int(q * len(v)))], 1) if v else None
print(json.dumps({"conns": len(ts), "errors": err, "p50_us": pick(ts, 0.5),
                  "p99_us": pick(ts, 0.99), "mean_us": round(sum(ts) / len(ts), 1) if ts else None,
                  "connect_p50_us": pick(tc, 0.5), "connect_p99_us": pick(tc, 0.99)}))
'''

made, procs = [], []


def sh(*cmd, check=True, **kw):
    r = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, **kw)
    if check and r.returncode:
        raise RuntimeError("%s: %s" % (" ".join(map(str, cmd)), r.stderr.strip()))
    return r


def innode(*cmd):
    return ["nsenter", "--net=/run/netns/" + NODE, "--"] + [str(c) for c in cmd]


def add_pod(ns, hif, ip):
    sh("ip", "netns", "add", ns)
    made.append(ns)
    sh("ip", "-n", ns, "link", "set", "lo", "up")
    sh("ip", "-n", NODE, "link", "add", hif, "type", "veth", "peer", "name", "eth0",
       "netns", ns)
    sh("ip", "netns", "exec", NODE, "sysctl", "-qw", "net.ipv4.conf.%s.proxy_arp=1" % hif,
       "net.ipv4.neigh.%s.proxy_delay=0" % hif, "net.ipv4.conf.%s.rp_filter=0" % hif)
    sh("ip", "-n", NODE, "link", "set", hif, "up")
    sh("ip", "-n", NODE, "route", "add", ip + "/32", "dev", hif)
    sh("ip", "-n", ns, "addr", "add", ip + "/32", "dev", "eth0")
    sh("ip", "-n", ns, "link", "set", "eth0", "up")
    sh("ip", "-n", ns, "route", "add", "169.254.1.1", "dev", "eth0", "scope", "link")
    sh("ip", "-n", ns, "route", "add", "default", "via", "169.254.1.1", "dev", "eth0")


def topology():
    sh("ip", "netns", "add", NODE)
    made.append(NODE)
    sh("ip", "-n", NODE, "link", "set", "lo", "up")
    sh("ip", "netns", "exec", NODE, "sysctl", "-qw", "net.ipv4.ip_forward=1",
       "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0")
    if sh("ip", "-n", NODE, "link", "add", DUMMY, "type", "dummy", check=False).returncode:
        sh("ip", "-n", NODE, "link", "add", DUMMY, "type", "ifb")
    sh("ip", "-n", NODE, "link", "set", DUMMY, "up")
    sh("ip", "-n", NODE, "route", "add", "default", "dev", DUMMY)
    add_pod(CLI, CLI_IF, CLI_IP)
    add_pod(BE, BE_IF, BE_IP)
    ready = os.path.join(tmp, "be.ready")
    procs.append(subprocess.Popen(["ip", "netns", "exec", BE, sys.executable, PEER, "serve",
                                   "be", "--tcp", "8080", "--ready", ready],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    for _ in range(200):
        if os.path.exists(ready):
            return
        time.sleep(0.05)
    raise RuntimeError("backend server not ready")


def vip(i):
    return "10.96.%d.%d" % (i // 250, i % 250 + 1)


def services(n, extra):
    lines = ["services:"]
    for i in range(n):
        eps = [BE_IP] + (["10.244.0.12"] if extra and i == n - 1 else [])
        lines += ["  - name: s%d" % i, "    namespace: bench", "    clusterIP: " + vip(i),
                  "    ports:", "      - {name: http, port: 80, targetPort: 8080, protocol: TCP}",
                  "    endpoints:"] + ["      - {ip: %s}" % e for e in eps]
    return "\n".join(lines) + "\n"


def write(path, text):
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)


def status(root):
    try:
        with open(os.path.join(root, "sync-status.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def wait_seq(root, seq, agent):
    end = time.monotonic() + SYNC_WAIT
    while time.monotonic() < end:
        st = status(root)
        if st.get("seq", 0) >= seq:
            time.sleep(0.3)  # a second event may follow: take the last
            st = status(root)
            if not st.get("ok"):
                raise RuntimeError("sync failed: %s" % st)
            return st
        if agent.poll() is not None:
            raise RuntimeError("agent exited %d" % agent.returncode)
        time.sleep(0.05)
    raise RuntimeError("no sync %d within %d s" % (seq, SYNC_WAIT))


def one(mode, n):
    node = "%s-%s%d" % (P, mode[0] + mode[-1], n)
    root = os.path.join(tmp, node)
    os.makedirs(root)
    svc = os.path.join(root, "services.yaml")
    write(svc, services(n, False))
    args = [AGENT, "--node-name", node, "--root", root, "--services", svc,
            "--log-level", "warn"] + MODES[mode]
    if mode == "bpf":
        args += ["--interface", CLI_IF, "--interface", BE_IF]
    log = open(os.path.join(root, "agent.log"), "w")
    agent = subprocess.Popen(innode(*args), stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        full = wait_seq(root, 1, agent)
        r = sh("ip", "netns", "exec", CLI, sys.executable, "-c", CLIENT, vip(n - 1), "80",
               CONNS, timeout=120)
        conn = json.loads(r.stdout)
        write(svc, services(n, True))
        change = wait_seq(root, 2, agent)
    finally:
        agent.send_signal(signal.SIGTERM)
        try:
            agent.wait(30)
        except subprocess.TimeoutExpired:
            agent.kill()
            agent.wait()
        sh(*innode(AGENT, "--node-name", node, "--uninstall"), check=False)
    res = {"mode": mode, "services": n, "full_sync_us": full["duration_us"],
           "change_us": change["duration_us"], "connect": conn}
    print("%-15s %6d services: full sync %9.1f ms, one change %8.1f ms, CRR p50 %7s us "
          "p99 %8s us, connect() p50 %7s us (%d/%d)" % (
              mode, n, full["duration_us"] / 1e3, change["duration_us"] / 1e3,
              conn["p50_us"], conn["p99_us"], conn["connect_p50_us"], conn["conns"], CONNS),
          flush=True)
    return res


def plot(results):
    dat = os.path.join(OUT, "dataplanes.dat")
    with open(dat, "w") as f:
        for mode in MODES:
            f.write("# %s: services full_sync_ms change_ms connect_p50_us\n" % mode)
            for r in results:
                if r["mode"] == mode:
                    f.write("%d %.3f %.3f %s\n" % (r["services"], r["full_sync_us"] / 1e3,
                                                   r["change_us"] / 1e3,
                                                   r["connect"]["p50_us"]))
            f.write("\n\n")
    gp = os.path.join(OUT, "dataplanes.gp")
    with open(gp, "w") as f:
        f.write('set terminal png size 1200,400\nset output "%s"\n'
                'set multiplot layout 1,3\nset logscale xy\nset xlabel "Services"\n'
                'set key top left\n' % os.path.join(OUT, "dataplanes.png"))
        for col, title in ((4, "connection set-up p50 (us)"), (2, "full sync (ms)"),
                           (3, "one-Service change (ms)")):
            f.write('set title "%s"\nplot ' % title + ", ".join(
                '"%s" index %d using 1:%d with linespoints title "%s"' % (dat, i, col, m)
                for i, m in enumerate(MODES)) + "\n")
        f.write("unset multiplot\n")
    if shutil.which("gnuplot"):
        sh("gnuplot", gp)
        return os.path.join(OUT, "dataplanes.png")
    return None


def cleanup():
    for p in procs:
        if p.poll() is None:
            p.kill()
            p.wait()
    for ns in reversed(made):
        subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    shutil.rmtree(tmp, ignore_errors=True)


def main():
    if os.geteuid() != 0:
        sys.exit("bench/dataplanes.py: needs root (network namespaces, BPF)")
    if not os.access(AGENT, os.X_OK):
        sys.exit("%s is missing: run make first" % AGENT)
    os.makedirs(OUT, exist_ok=True)
    try:
        topology()
        results = [one(mode, n) for n in SIZES for mode in MODES]
    finally:
        cleanup()
    big = max(SIZES)
    lat = {r["mode"]: r["connect"]["p50_us"] for r in results if r["services"] == big}
    ratio = {m: round(lat[m] / lat["bpf"], 2) for m in MODES
             if m != "bpf" and lat.get(m) and lat.get("bpf")}
    doc = {"sizes": SIZES, "conns": CONNS, "results": results,
           "connect_p50_ratio_over_bpf_at_max": ratio}
    with open(os.path.join(OUT, "dataplanes.json.tmp"), "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(os.path.join(OUT, "dataplanes.json.tmp"), os.path.join(OUT, "dataplanes.json"))
    png = plot(results)
    print("connection set-up p50 at %d Services, over bpf's: %s (goal >= 10)" % (
        big, ", ".join("%s %.1fx" % kv for kv in ratio.items()) or "n/a"))
    print("results: %s%s" % (os.path.join(OUT, "dataplanes.json"),
                             ", plot: " + png if png else " (no gnuplot: plot script "
                             "dataplanes.gp written)"))


tmp = tempfile.mkdtemp(prefix="berth-bench-dp-")
if __name__ == "__main__":
    main()
