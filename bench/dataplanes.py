#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""`make bench`: the BPF and the iptables dataplane (both iptables backends:
nft, the default, and legacy) in the same run, at 100,
1,000 and 10,000 Services (BENCH_DP_SIZES; BENCH_DP_MODES for a subset), on
one node in network namespaces of its own (a client pod and a backend pod,
Calico-style, as in tests/e2e/lib.sh), the agent fed a Service file:

- full sync: the agent's first sync of all the Services (sync-status.json
  duration_us: file parse + map writes, or render + iptables-nft-restore);
- one-Service change: the last Service gains an endpoint;
- connection set-up to the last Service added (for iptables the last
  ClusterIP rule of BERTH-SERVICES before the NodePort jump: the worst
  case; kube-proxy's order follows its service map, so a new Service lands
  anywhere and costs half the walk on average): BENCH_DP_CONNS sequential
  connections after WARMUP untimed ones, each socket, non-blocking connect,
  1 byte there and back, close (TCP_CRR), by bench/connlat.c (C, so the
  client's own cost is a few us, not ~100 us of Python), against connlat's
  echo server in the backend pod. p50/p90/p99 of the whole CRR and of
  connect() alone (the SYN round trip: all in softirq on one CPU, no
  process wakes, so it is the path's CPU cost and holds the Service
  lookup). Beside it, the same connections pod to pod (no Service; in
  iptables mode they walk BERTH-SERVICES all the same) and, before each
  agent starts, with no dataplane at all: the floor that no dataplane can
  remove (the TCP stacks, two process wake-ups per connection).
  Proof the timed connections went through the Service: the backend's count
  of connections from the client pod grows by all of them, and the
  Service's rule counter (iptables) or the BPF ct entries toward the
  ClusterIP count them.

Writes .output/bench/dataplanes.json and, with gnuplot, dataplanes.png
(the .gp script is written either way). The ratio to watch: iptables'
connection set-up over BPF's at the largest size (goal: >= 10); with it,
connect()'s ratio and what each dataplane adds above the floor, because the
floor caps the whole-CRR ratio."""
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
CONNLAT = os.path.join(REPO, ".output/bin/connlat")
BERTHCTL = os.path.join(REPO, ".output/bin/berthctl")
OUT = os.path.join(REPO, ".output/bench")
SIZES = [int(x) for x in os.environ.get("BENCH_DP_SIZES", "100,1000,10000").split(",")]
CONNS = int(os.environ.get("BENCH_DP_CONNS", "2000"))
WARMUP = 50  # untimed connections first: neighbour entries, caches
CONN_LIMIT = 60  # s, the most one client run may take
# mode -> the agent's dataplane arguments
MODES = {"bpf": ["--dataplane", "bpf"],
         "iptables": ["--dataplane", "iptables", "--iptables-backend", "nft"],
         "iptables-legacy": ["--dataplane", "iptables", "--iptables-backend", "legacy"]}
# BENCH_DP_MODES: a subset, in this order (bpf must be in it for the ratios)
MODES = {m: MODES[m] for m in os.environ.get("BENCH_DP_MODES", ",".join(MODES)).split(",")}
SYNC_WAIT = 100  # s, the longest the syncs of the largest size may take (3 tries)
P = "bd%d" % (os.getpid() % 100000)
NODE, CLI, BE = P + "-node", P + "-cli", P + "-be"
CLI_IF, BE_IF, DUMMY = P + "c", P + "b", P + "d"
CLI_IP, BE_IP = "10.244.0.2", "10.244.0.11"


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
    # Tens of thousands of connections to the same few destinations in a
    # minute: with every one left in TIME_WAIT, connect()'s search for a
    # free source port grew to ~2 ms (__inet_hash_connect) once the range
    # was used up. A small TIME_WAIT table and the whole port range keep
    # that search to one try, in every mode alike.
    sh("ip", "netns", "exec", CLI, "sysctl", "-qw", "net.ipv4.tcp_max_tw_buckets=1024",
       "net.ipv4.ip_local_port_range=1024 65535")
    add_pod(BE, BE_IF, BE_IP)
    ready = os.path.join(tmp, "be.ready")
    procs.append(subprocess.Popen([CONNLAT, "serve", "--netns", BE, "8080", "--ready", ready],
                                  stdout=subprocess.DEVNULL))
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
    """The first successful sync numbered SEQ or later. A failed one (an
    iptables-restore past the agent's 30 s limit on a loaded machine) is
    retried by the agent a second later: wait for that, and count it."""
    end = time.monotonic() + SYNC_WAIT
    failed = []
    while time.monotonic() < end:
        st = status(root)
        if st.get("seq", 0) >= seq:
            time.sleep(0.3)  # a second event may follow: take the last
            st = status(root)
            if st.get("ok"):
                st["failed_before"] = failed
                return st
            failed.append(st.get("error"))
            print("  sync %d failed (%s), waiting for the agent's retry" % (
                st.get("seq"), st.get("error")), flush=True)
            seq = st["seq"] + 1
        if agent.poll() is not None:
            raise RuntimeError("agent exited %d" % agent.returncode)
        time.sleep(0.05)
    raise RuntimeError("no successful sync within %d s: %s" % (SYNC_WAIT, failed))


def crr(host, port):
    """BENCH_DP_CONNS timed connections from the client pod (bench/connlat.c)."""
    r = sh(CONNLAT, "client", "--netns", CLI, host, port, "-n", CONNS, "--warmup", WARMUP,
           "--time-limit", CONN_LIMIT, check=False, timeout=CONN_LIMIT + 30)
    try:
        res = json.loads(r.stdout)
    except ValueError:
        raise RuntimeError("connlat client %s:%s: %s" % (host, port, r.stderr.strip()))
    if not res["count"]:
        raise RuntimeError("no connection to %s:%s succeeded: %s" % (
            host, port, res.get("first_error")))
    return res


def served():
    """Echo connections the backend served to the client pod so far (asked
    directly, not through a Service)."""
    r = sh(CONNLAT, "stats", "--netns", CLI, BE_IP, "8080", timeout=10)
    return json.loads(r.stdout)["peers"].get(CLI_IP, 0)


def ipt_rule(mode, target):
    """Where the target's ClusterIP rule sits in BERTH-SERVICES (1-based, of
    how many) and its packet counter: the nat table sees the first packet
    of each connection, so the counter counts connections DNATed by it."""
    save = "iptables-legacy-save" if mode == "iptables-legacy" else "iptables-nft-save"
    out = sh(*innode(save, "-c", "-t", "nat")).stdout
    rules = [l for l in out.splitlines() if " -A BERTH-SERVICES " in l]
    for i, l in enumerate(rules):
        if " -d %s/32 " % target in l:
            return {"position": i + 1, "of": len(rules),
                    "packets": int(l[1:l.index(":")])}
    raise RuntimeError("%s: no BERTH-SERVICES rule for %s" % (save, target))


def bpf_ct(node, target):
    """Conntrack entries of the BPF datapath toward the target ClusterIP:
    each is a connection from_pod's service lookup DNATed."""
    out = sh(BERTHCTL, "bpf", "ct", "--node", node, "-o", "json").stdout
    return sum(1 for e in json.loads(out) if e["dst"] == target + ":80" and e["rev_nat_id"])


def measure(mode, node, target):
    """Set-up latency through the Service and, for the share that is not the
    Service lookup, pod to pod directly; with proof that the Service's
    connections reached the backend through that Service."""
    before = served()
    conn = crr(target, 80)
    through = served() - before
    if through < WARMUP + conn["count"]:
        raise RuntimeError("%s: backend served %d of %d connections" % (
            mode, through, WARMUP + conn["count"]))
    conn["backend_served"] = through
    if mode == "bpf":
        conn["ct_entries_to_vip"] = hit = bpf_ct(node, target)
    else:
        conn["rule"] = ipt_rule(mode, target)
        hit = conn["rule"]["packets"]
        # the worst case, as meant: no other ClusterIP rule after it
        conn["rule"]["last"] = conn["rule"]["position"] == conn["rule"]["of"] - 1
    if hit < WARMUP + conn["count"]:
        raise RuntimeError("%s: the Service %s DNATed %d of %d connections" % (
            mode, target, hit, WARMUP + conn["count"]))
    return conn, crr(BE_IP, 8080)


def start_agent(mode, node, root, svc):
    args = [AGENT, "--node-name", node, "--root", root, "--services", svc,
            "--log-level", "warn"] + MODES[mode]
    if mode == "bpf":
        args += ["--interface", CLI_IF, "--interface", BE_IF]
    with open(os.path.join(root, "agent.log"), "w") as log:
        return subprocess.Popen(innode(*args), stdout=log, stderr=subprocess.STDOUT)


def stop_agent(agent, node):
    agent.send_signal(signal.SIGTERM)
    try:
        agent.wait(30)
    except subprocess.TimeoutExpired:
        agent.kill()
        agent.wait()
    sh(*innode(AGENT, "--node-name", node, "--uninstall"), check=False)


def one(mode, n):
    node = "%s-%s%d" % (P, mode[0] + mode[-1], n)
    root = os.path.join(tmp, node)
    os.makedirs(root)
    svc = os.path.join(root, "services.yaml")
    write(svc, services(n, False))
    base = crr(BE_IP, 8080)  # the floor, just before: the machine's load drifts
    agent = start_agent(mode, node, root, svc)
    try:
        full = wait_seq(root, 1, agent)
        conn, direct = measure(mode, node, vip(n - 1))
        write(svc, services(n, True))
        change = wait_seq(root, full["seq"] + 1, agent)
    finally:
        stop_agent(agent, node)
    res = {"mode": mode, "services": n, "full_sync_us": full["duration_us"],
           "full_sync_failed_before": full["failed_before"],
           "change_us": change["duration_us"], "connect": conn, "pod_to_pod": direct,
           "no_dataplane": base}
    print("%-15s %6d services: full sync %9.1f ms, one change %8.1f ms, CRR p50 %7.1f us "
          "p99 %8.1f us, connect() p50 %7.1f us, echo p50 %6.1f us, close() p50 %5.1f us, "
          "pod-to-pod CRR p50 "
          "%7.1f us, no dataplane CRR p50 %6.1f us connect() %5.1f us (%d/%d)%s" % (
              mode, n, full["duration_us"] / 1e3, change["duration_us"] / 1e3,
              conn["crr"]["p50_us"], conn["crr"]["p99_us"], conn["connect"]["p50_us"],
              conn["echo"]["p50_us"], conn["close"]["p50_us"], direct["crr"]["p50_us"],
              base["crr"]["p50_us"],
              base["connect"]["p50_us"],
              conn["count"], CONNS,
              " rule %(position)d of %(of)d" % conn["rule"] if "rule" in conn else ""),
          flush=True)
    return res


def floor():
    """No agent at all: plain routing between the pods, the TCP stack's own
    share of a connection's set-up."""
    return crr(BE_IP, 8080)


def attempt(mode, n):
    """One run; a failure (an agent that cannot sync on a loaded machine)
    is recorded and the other runs still go ahead."""
    try:
        return one(mode, n)
    except (RuntimeError, subprocess.TimeoutExpired) as e:
        print("%-15s %6d services: FAILED: %s" % (mode, n, e), flush=True)
        return {"mode": mode, "services": n, "error": str(e)}


def ratio_title(ratio):
    """The ratios at the largest size, for the plot's title."""
    parts = ["%s/bpf CRR %.1fx, connect() %.1fx" % (m, ratio["crr_p50_ratio"][m],
                                                   ratio["connect_p50_ratio"][m])
             for m in ratio["crr_p50_ratio"]]
    return "p50 at %d Services: %s (goal >= 10x)" % (max(SIZES), "; ".join(parts) or "n/a")


def plot(results, ratio):
    dat = os.path.join(OUT, "dataplanes.dat")
    with open(dat, "w") as f:
        for mode in MODES:
            f.write("# %s: services full_sync_ms change_ms crr_p50_us connect_p50_us "
                    "crr_p99_us floor_crr_p50_us\n" % mode)
            for r in results:
                if r["mode"] == mode:
                    c = r["connect"]
                    f.write("%d %.3f %.3f %.1f %.1f %.1f %.1f\n" % (
                        r["services"], r["full_sync_us"] / 1e3, r["change_us"] / 1e3,
                        c["crr"]["p50_us"], c["connect"]["p50_us"], c["crr"]["p99_us"],
                        r["no_dataplane"]["crr"]["p50_us"]))
            f.write("\n\n")
    gp = os.path.join(OUT, "dataplanes.gp")
    first = next(iter(MODES))
    with open(gp, "w") as f:
        f.write('set terminal png size 1600,440\nset output "%s"\n'
                'set multiplot layout 1,4 title "%s"\nset logscale xy\n'
                'set xlabel "Services"\nset key top left\n' % (
                    os.path.join(OUT, "dataplanes.png"), ratio_title(ratio)))
        for col, title in ((4, "connection set-up (TCP CRR) p50, us"),
                           (5, "connect() p50 (SYN round trip), us"), (2, "full sync, ms"),
                           (3, "one-Service change, ms")):
            extra = ""
            if col == 4:  # the same connections pod to pod without any dataplane
                extra = ', "%s" index 0 using 1:7 with linespoints dashtype 2 title ' \
                        '"no dataplane (before %s)"' % (dat, first)
            f.write('set title "%s"\nplot ' % title + ", ".join(
                '"%s" index %d using 1:%d with linespoints title "%s"' % (dat, i, col, m)
                for i, m in enumerate(MODES)) + extra + "\n")
        f.write("unset multiplot\n")
    if shutil.which("gnuplot"):
        sh("gnuplot", gp)
        return os.path.join(OUT, "dataplanes.png")
    return None


def ratios(rows):
    """iptables over BPF at one size. The whole CRR includes what no
    dataplane touches (two processes woken per connection, the TCP stacks
    of both pods), so it is also given as what each dataplane adds above
    the no-dataplane floor measured just before it; connect() alone is the
    SYN's round trip, all in softirq on one CPU: the CPU cost of the path,
    where the Service lookup (the iptables chain walk) happens."""
    by = {r["mode"]: r for r in rows}
    out = {"crr_p50_ratio": {}, "connect_p50_ratio": {}, "crr_over_floor_us": {},
           "connect_over_floor_us": {}, "connect_over_floor_ratio": {},
           "crr_p50_ratio_if_bpf_cost_nothing": {}}
    if "bpf" not in by:
        return out
    b = by["bpf"]["connect"]
    for m, r in by.items():
        c, f = r["connect"], r["no_dataplane"]
        out["crr_over_floor_us"][m] = round(c["crr"]["p50_us"] - f["crr"]["p50_us"], 1)
        out["connect_over_floor_us"][m] = round(c["connect"]["p50_us"] -
                                                f["connect"]["p50_us"], 1)
        if m == "bpf":
            continue
        out["crr_p50_ratio"][m] = round(c["crr"]["p50_us"] / b["crr"]["p50_us"], 2)
        # the most any dataplane could show against this one: the floor
        out["crr_p50_ratio_if_bpf_cost_nothing"][m] = round(
            c["crr"]["p50_us"] / by["bpf"]["no_dataplane"]["crr"]["p50_us"], 2)
        out["connect_p50_ratio"][m] = round(c["connect"]["p50_us"] / b["connect"]["p50_us"], 2)
    bx = max(out["connect_over_floor_us"]["bpf"], 1.0)  # below 1 us it is noise
    for m, x in out["connect_over_floor_us"].items():
        if m != "bpf":
            out["connect_over_floor_ratio"][m] = round(x / bx, 1)
    return out


def slopes(results):
    """What one more Service costs a new connection, per mode: the slope of
    connect()'s p50 between the smallest and the largest size, in ns (for
    iptables, the price of one more rule in the BERTH-SERVICES walk)."""
    lo, hi = min(SIZES), max(SIZES)
    out = {}
    if lo == hi:
        return out
    for m in MODES:
        v = {r["services"]: r["connect"]["connect"]["p50_us"] for r in results
             if r["mode"] == m}
        if lo in v and hi in v:
            out[m] = round((v[hi] - v[lo]) * 1e3 / (hi - lo), 2)
    return out


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
    for b in (AGENT, CONNLAT, BERTHCTL):
        if not os.access(b, os.X_OK):
            sys.exit("%s is missing: run make first" % b)
    os.makedirs(OUT, exist_ok=True)
    load = os.getloadavg()  # other work on the machine skews every number here
    try:
        topology()
        runs = [attempt(mode, n) for n in SIZES for mode in MODES]
        failed = [r for r in runs if "error" in r]
        results = [r for r in runs if "error" not in r]
    finally:
        cleanup()
    big = max(SIZES)
    if not results:
        sys.exit("bench/dataplanes.py: every run failed: %s" % failed)
    ratio = ratios([r for r in results if r["services"] == big])
    ratio["connect_ns_per_service"] = slopes(results)
    doc = {"sizes": SIZES, "conns": CONNS, "warmup": WARMUP, "client": "bench/connlat.c",
           "load_before": load, "load_after": os.getloadavg(), "results": results,
           "failed": failed,
           "at_max": ratio,
           "connect_p50_ratio_over_bpf_at_max": ratio["crr_p50_ratio"]}
    with open(os.path.join(OUT, "dataplanes.json.tmp"), "w") as f:
        json.dump(doc, f, indent=1)
    os.replace(os.path.join(OUT, "dataplanes.json.tmp"), os.path.join(OUT, "dataplanes.json"))
    png = plot(results, ratio)
    print("connection set-up (CRR) p50 at %d Services, over bpf's: %s (goal >= 10); "
          "connect() alone: %s" % (
              big, ", ".join("%s %.1fx" % kv for kv in ratio["crr_p50_ratio"].items()) or "n/a",
              ", ".join("%s %.1fx" % kv for kv in ratio["connect_p50_ratio"].items()) or "n/a"))
    print("the floor caps the CRR ratio: a dataplane that cost nothing would show %s" % (
        ", ".join("%s %.1fx" % kv for kv in ratio["crr_p50_ratio_if_bpf_cost_nothing"].items())
        or "n/a"))
    if ratio["connect_ns_per_service"]:
        print("one more Service costs a new connection (connect() p50 slope): %s" % ", ".join(
            "%s %.1f ns" % kv for kv in ratio["connect_ns_per_service"].items()))
    print("above the no-dataplane floor, CRR p50 costs %s; connect() p50 costs %s" % (
        ", ".join("%s %.1f us" % kv for kv in ratio["crr_over_floor_us"].items()),
        ", ".join("%s %.1f us" % kv for kv in ratio["connect_over_floor_us"].items())))
    for r in failed:
        print("failed: %(mode)s at %(services)d Services: %(error)s" % r)
    print("results: %s%s" % (os.path.join(OUT, "dataplanes.json"),
                             ", plot: " + png if png else " (no gnuplot: plot script "
                             "dataplanes.gp written)"))
    if failed:
        sys.exit(1)


tmp = tempfile.mkdtemp(prefix="berth-bench-dp-")
if __name__ == "__main__":
    main()
