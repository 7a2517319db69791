#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""NetworkPolicy truth table, like the upstream conformance matrix: 3
namespaces x 3 labelled pods on a two-node cluster, TCP and UDP probes to
two ports from every pod to every pod and from two addresses of the
external netns, for each policy case in turn (policies added and removed
as the cases go). The expected matrix comes from netpol_model.py (an
independent model of the spec); a case passes when the probed matrix
equals it within NETPOL_SETTLE seconds, otherwise the whole matrix is
printed. NETPOL_CASES=name,name runs only those cases."""
import json
import os
import socket
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cluster as C  # noqa: E402
import multinode as M  # noqa: E402
import netpol_model as NM  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
PROBE = os.path.join(HERE, "netpol_probe.py")
SETTLE = float(os.environ.get("NETPOL_SETTLE", "6"))
PROBE_TIMEOUT = float(os.environ.get("NETPOL_PROBE_TIMEOUT", "1.0"))

NAMESPACES = {"x": {"team": "a"}, "y": {"team": "b"}, "z": {}}
# pod: labels, containerPorts (name, number, protocol)
PODS = {
    "a": ({"pod": "a"}, [("web", 80, "TCP"), ("dns", 81, "UDP")]),
    "b": ({"pod": "b"}, [("web", 81, "TCP"), ("dns", 81, "UDP")]),
    "c": ({"pod": "c", "tier": "db"}, [("dns", 80, "UDP")]),
}
PROBES = [("TCP", 80), ("TCP", 81), ("UDP", 80), ("UDP", 81)]
EXT_EXTRA = "10.200.0.201"  # a second address of the external netns
EXT_IPS = [C.EXT_IP, EXT_EXTRA]


# ---- the cases ------------------------------------------------------------

def np(ns, name, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"namespace": ns, "name": name}, "spec": spec}


ALL = {}
DENY_X = np("x", "deny", {"podSelector": {}})
DENY_Y = np("y", "deny", {"podSelector": {}})
DENY_Z = np("z", "deny", {"podSelector": {}})
SAME_NS_Y = np("y", "same-ns", {"podSelector": {},
                                "ingress": [{"from": [{"podSelector": {}}]}]})
FROM_X_TO_Y = np("y", "from-x", {"podSelector": {}, "ingress": [{"from": [
    {"namespaceSelector": {"matchLabels": {"team": "a"}}}]}]})


def ingress_x(name, *rules, sel=None):
    return np("x", name, {"podSelector": sel or {}, "ingress": list(rules)})


def egress_x(name, *rules, sel=None):
    return np("x", name, {"podSelector": sel or {}, "policyTypes": ["Egress"],
                          "egress": list(rules)})


CASES = [
    ("no-policy", []),
    ("deny-all-ingress-x", [DENY_X]),
    ("deny-all-ingress-everywhere", [DENY_X, DENY_Y, DENY_Z]),
    ("deny-all-egress-x", [egress_x("deny-egress")]),
    ("allow-same-namespace", [ingress_x("same-ns", {"from": [{"podSelector": {}}]})]),
    ("allow-from-namespace-label", [ingress_x("from-y", {"from": [
        {"namespaceSelector": {"matchLabels": {"team": "b"}}}]})]),
    ("allow-from-namespace-name", [ingress_x("from-z", {"from": [
        {"namespaceSelector": {"matchLabels": {NM.NS_NAME_LABEL: "z"}}}]})]),
    ("allow-pod-b-any-namespace", [ingress_x("from-b", {"from": [
        {"namespaceSelector": {}, "podSelector": {"matchLabels": {"pod": "b"}}}]})]),
    ("ns-and-pod-selector", [ingress_x("y-and-c", {"from": [
        {"namespaceSelector": {"matchLabels": {"team": "b"}},
         "podSelector": {"matchLabels": {"pod": "c"}}}]})]),
    ("ns-or-pod-selector", [ingress_x("y-or-c", {"from": [
        {"namespaceSelector": {"matchLabels": {"team": "b"}}},
        {"podSelector": {"matchLabels": {"pod": "c"}}}]})]),
    ("selected-pod-only", [ingress_x("a-from-b", {"from": [
        {"podSelector": {"matchLabels": {"pod": "b"}}}]}, sel={"matchLabels": {"pod": "a"}})]),
    ("tcp-80-from-anyone", [ingress_x("tcp80", {"ports": [{"port": 80}]})]),
    ("udp-81-from-anyone", [ingress_x("udp81", {"ports": [{"protocol": "UDP", "port": 81}]})]),
    ("named-port-web", [ingress_x("web", {"ports": [{"port": "web"}]})]),
    ("named-port-dns-udp", [ingress_x("dns", {"ports": [{"protocol": "UDP", "port": "dns"}]})]),
    ("end-port-tcp-80-81", [ingress_x("range", {"ports": [{"port": 80, "endPort": 81}]})]),
    ("end-port-udp-81-90", [ingress_x("range", {"ports": [
        {"protocol": "UDP", "port": 81, "endPort": 90}]})]),
    ("ipblock-with-except", [ingress_x("ext", {"from": [{"ipBlock": {
        "cidr": "10.200.0.0/24", "except": [EXT_EXTRA + "/32"]}}]})]),
    ("ipblock-single-address", [ingress_x("ext1", {"from": [{"ipBlock": {
        "cidr": EXT_EXTRA + "/32"}}], "ports": [{"port": 81}, {"protocol": "UDP", "port": 80}]})]),
    ("egress-dns-like-udp-only", [egress_x("dns-only", {"ports": [
        {"protocol": "UDP", "port": 81}]})]),
    ("egress-to-namespace-z", [egress_x("to-z", {"to": [
        {"namespaceSelector": {"matchLabels": {NM.NS_NAME_LABEL: "z"}}}]})]),
    ("egress-named-port-per-destination", [egress_x("to-web", {"ports": [{"port": "web"}]})]),
    ("match-expressions-in", [ingress_x("in", {"from": [
        {"namespaceSelector": {}, "podSelector": {"matchExpressions": [
            {"key": "pod", "operator": "In", "values": ["a", "b"]}]}}]})]),
    ("match-expressions-notin-exists", [ingress_x("notin", {"from": [
        {"namespaceSelector": {"matchExpressions": [
            {"key": "team", "operator": "NotIn", "values": ["a"]}]},
         "podSelector": {"matchExpressions": [{"key": "tier", "operator": "Exists"}]}}]})]),
    ("match-expressions-doesnotexist", [ingress_x("dne", {"from": [
        {"namespaceSelector": {"matchExpressions": [
            {"key": "team", "operator": "DoesNotExist"}]}}]})]),
    ("egress-type-only-ignores-ingress-rules", [np("x", "eg-only", {
        "podSelector": {}, "policyTypes": ["Egress"], "ingress": [],
        "egress": [{"to": [{"podSelector": {}}]}]})]),
    ("default-types-with-egress-rules", [np("x", "both", {
        "podSelector": {"matchLabels": {"pod": "a"}},
        "egress": [{"ports": [{"port": 81}]}]})]),
    ("union-of-policies", [
        ingress_x("u1", {"from": [{"namespaceSelector": {"matchLabels": {"team": "b"}}}],
                         "ports": [{"port": 80}]}, sel={"matchLabels": {"pod": "a"}}),
        ingress_x("u2", {"from": [{"podSelector": {"matchLabels": {"pod": "c"}}}],
                         "ports": [{"port": 81}, {"protocol": "UDP", "port": 81}]})]),
    ("deny-egress-but-web-of-y-a", [egress_x("to-y-a", {"to": [
        {"namespaceSelector": {"matchLabels": {"team": "b"}},
         "podSelector": {"matchLabels": {"pod": "a"}}}], "ports": [{"port": "web"}]})]),
    # a sequence: policies added and removed one at a time
    ("sequence-1-deny-y", [DENY_Y]),
    ("sequence-2-plus-same-namespace", [DENY_Y, SAME_NS_Y]),
    ("sequence-3-plus-from-x", [DENY_Y, SAME_NS_Y, FROM_X_TO_Y]),
    ("sequence-4-minus-same-namespace", [DENY_Y, FROM_X_TO_Y]),
    ("sequence-5-minus-deny", [FROM_X_TO_Y]),
    ("sequence-6-none", []),
]


# ---- the cluster ------------------------------------------------------------

def pod_obj(ns, name, node):
    labels, ports = PODS[name]
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"namespace": ns, "name": name, "labels": dict(labels, netpol="1")},
            "spec": {"nodeName": node and node.name, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "main", "image": C.IMAGE,
                                     "command": ["sleep", "100000"],
                                     "ports": [{"name": n, "containerPort": p, "protocol": pr}
                                               for (n, p, pr) in ports]}]}}


def setup(c):
    c.apply(*[{"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": ns, "labels": labels}}
              for ns, labels in NAMESPACES.items()])
    objs, k = [], 0
    for ns in NAMESPACES:
        for name in PODS:
            objs.append(pod_obj(ns, name, c.nodes[k % len(c.nodes)]))
            k += 1
    c.apply(*objs)

    def ready():
        items = (c.get("pods", "--all-namespaces", "-l", "netpol=1") or {}).get("items", [])
        ok = [p for p in items if p["status"].get("podIP") and any(
            x["type"] == "Ready" and x["status"] == "True"
            for x in p["status"].get("conditions", []))]
        return ok if len(ok) == len(objs) else None
    pods = M.wait("%d pods Ready" % len(objs), ready, timeout=120)
    model_pods = []
    for p in pods:
        ns, name = p["metadata"]["namespace"], p["metadata"]["name"]
        mp = NM.Pod(ns, name, p["metadata"]["labels"], p["status"]["podIP"],
                    p["spec"]["nodeName"], PODS[name][1])
        mp.obj = p
        model_pods.append(mp)
        logf = os.path.join(c.state, "serve-%s-%s.log" % (ns, name))
        c.pod_daemon(p, logf, "python3", PROBE, "serve", mp.key(),
                     *sorted({str(po) for (_, po) in PROBES}))
    model_pods.sort(key=lambda p: p.key())
    # the external netns: a second address, and routes to every pod CIDR
    c.ext_sh("ip", "addr", "add", EXT_EXTRA + "/24", "dev", "eth0")
    for n in (c.get("nodes") or {}).get("items", []):
        cidr = n["spec"].get("podCIDR")
        ip = [a["address"] for a in n["status"].get("addresses", [])
              if a["type"] == "InternalIP"]
        if cidr and ip:
            c.ext_sh("ip", "route", "replace", cidr, "via", ip[0])
    return model_pods


def sync_policies(c, want, have):
    """Make the cluster's NetworkPolicies `want`: delete what goes, then
    apply the rest. -> the new `have` {(ns, name): policy}."""
    wantd = {(p["metadata"]["namespace"], p["metadata"]["name"]): p for p in want}
    for (ns, name) in list(have):
        if (ns, name) not in wantd:
            c.kubectl("delete", "networkpolicy", "-n", ns, name)
    changed = [p for k, p in wantd.items() if have.get(k) != p]
    if changed:
        c.apply(*changed)
    return dict(wantd)


# ---- probing ------------------------------------------------------------

def probe_all(c, pods):
    """{(src, dst, proto, port): answer or None}, every source in parallel."""
    targets = ["%s:%s:%d" % (pr, d.ip, po) for d in pods for (pr, po) in PROBES]
    runs = []
    for s in pods:
        n = c.node(s.node)
        argv = C.nsexec(n.pod_netns(s.obj["metadata"]["uid"]), "python3", PROBE,
                        str(PROBE_TIMEOUT), *targets)
        runs.append((s.key(), argv))
    for ip in EXT_IPS:
        runs.append(("ext:" + ip, C.nsexec(c.ext, "python3", PROBE, str(PROBE_TIMEOUT),
                                           "--src", ip, *targets)))
    procs = [(k, subprocess.Popen(a, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                  text=True)) for k, a in runs]
    by_ip = {d.ip: d.key() for d in pods}
    out = {}
    for k, p in procs:
        try:
            stdout, _ = p.communicate(timeout=PROBE_TIMEOUT * 3 + 10)
            res = json.loads(stdout)
        except (subprocess.TimeoutExpired, ValueError):
            p.kill()
            p.communicate()
            res = {}
        for t in targets:
            pr, ip, po = t.split(":")
            out[(k, by_ip[ip], pr, int(po))] = res.get(t)
    return out


def verdicts(answers):
    """answer -> True (the right pod answered), False (nothing), or the
    name of whoever answered instead (always a mismatch)."""
    return {k: (a == k[1]) if a in (None, k[1]) else ("wrong:" + a)
            for k, a in answers.items()}


def show(expected, actual, sources, dests):
    """The whole matrix: a cell per (source, destination), one character per
    probe (T80 T81 U80 U81): '.' expected and seen open, 'x' expected and
    seen closed, 'O' open but expected closed, 'C' closed but expected
    open, 'W' a wrong pod answered."""
    w = max(len(s) for s in sources)
    lines = ["probes per cell: " + " ".join("%s%d" % (p[0][0], p[1]) for p in PROBES),
             " " * w + " | " + " ".join("%-4s" % d for d in dests)]
    for s in sources:
        cells = []
        for d in dests:
            cell = ""
            for (pr, po) in PROBES:
                e, a = expected[(s, d, pr, po)], actual[(s, d, pr, po)]
                if isinstance(a, str):
                    cell += "W"
                elif e == a:
                    cell += "." if e else "x"
                else:
                    cell += "O" if a else "C"
            cells.append(cell)
        lines.append("%-*s | %s" % (w, s, " ".join(cells)))
    return "\n".join(lines)


def berthctl_policy(c, pod, *args, check=True):
    n = c.node(pod.node)
    return C.run(os.path.join(C.BIN, "berthctl"), "bpf", "policy", *args,
                 "--node", n.name, check=check, env=dict(os.environ, BERTH_ROOT=n.root))


def check_berthctl(c, pods):
    """berthctl bpf policy on x/a under union-of-policies: ingress from the
    pods of namespace y on TCP 80 (u1), from x/c on TCP and UDP 81 (u2);
    egress not enforced. By name and by address, and a clear error for a
    pod that does not exist."""
    xa = [p for p in pods if p.key() == "x/a"][0]
    want = {("y", n, "TCP", 80) for n in PODS} | {("x", "c", "TCP", 81),
                                                    ("x", "c", "UDP", 81)}
    for arg in ("x/a", xa.ip):
        r = json.loads(berthctl_policy(c, xa, arg, "-o", "json").stdout)
        got = {(a.get("namespace"), a.get("labels", {}).get("pod"), a["proto"],
                a.get("port")) for a in r["allows"]}
        if r.get("pod") != "x/a" or r["ip"] != xa.ip or not r["ingress_enforced"] \
                or r["egress_enforced"] or got != want or \
                any(a["direction"] != "ingress" for a in r["allows"]):
            M.fail("berthctl bpf policy %s: %s, want allows %s" % (arg, r, sorted(want)))
    text = berthctl_policy(c, xa, "x/a").stdout
    if "ingress: enforced" not in text or "from  TCP   80" not in text:
        M.fail("berthctl bpf policy x/a (text):\n" + text)
    bad = berthctl_policy(c, xa, "x/nosuch", check=False)
    if bad.returncode == 0 or "x/nosuch" not in bad.stderr:
        M.fail("berthctl bpf policy x/nosuch: exit %d, %r" % (bad.returncode, bad.stderr))
    M.log("berthctl bpf policy x/a: %d allows as the policies say" % len(want))


def check_drop_events(c, pods):
    """deny-all-ingress-x: a probe y/a -> x/a TCP 80 shows up on x/a's
    node as a drop line on monitor.sock naming both pods, and as a
    PolicyDenied Event on x/a (aggregated: one Event, a count)."""
    src = [p for p in pods if p.key() == "y/a"][0]
    dst = [p for p in pods if p.key() == "x/a"][0]
    n = c.node(dst.node)
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(0.5)
    try:
        sock.connect(os.path.join(n.root, "monitor.sock"))
        time.sleep(0.3)  # accepted before the drop, or the line is not ours
        C.run(*C.nsexec(c.node(src.node).pod_netns(src.obj["metadata"]["uid"]),
                        "python3", PROBE, "0.5", "TCP:%s:80" % dst.ip))
        buf, found, end, seen = b"", None, time.monotonic() + 5, []
        while found is None and time.monotonic() < end:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                break
            buf += chunk
            *lines, buf = buf.split(b"\n")
            for ln in lines:
                seen.append(ln)
                e = json.loads(ln)
                if (e["src_pod"], e["dst_pod"], e["dport"]) == ("y/a", "x/a", 80):
                    found = e
    finally:
        sock.close()
    want = {"type": "drop", "reason_code": 11, "proto": "TCP", "dir": "ingress",
            "src": src.ip, "dst": dst.ip}
    if found is None or any(found.get(k) != v for k, v in want.items()):
        M.fail("monitor.sock: no drop line y/a -> x/a:80 like %s (got %s; %d lines: %s)\n%s" % (
            want, found, len(seen), seen[:5], n.log_tail(60)))

    # the matrix's probe and this one: one Event, its count brought up
    def event():
        evs = (c.get("events", "-n", "x") or {}).get("items", [])
        evs = [e for e in evs if e.get("reason") == "PolicyDenied" and
               e["involvedObject"].get("name") == "a" and
               e["message"].startswith("TCP y/a (%s) -> x/a (%s) port 80 " % (src.ip, dst.ip))]
        return evs if len(evs) != 1 or evs[0].get("count", 0) >= 2 else None
    evs = M.wait("PolicyDenied Event on x/a, count 2", event, timeout=25)
    if len(evs) != 1:
        M.fail("PolicyDenied Events on x/a for y/a TCP 80: %s" % evs)
    M.log("drop y/a -> x/a: monitor line and Event (count %d)" % evs[0]["count"])


def dump_model():
    """--dump-model: the cases and the model's verdicts on a cluster of
    made-up addresses, as JSON, for the compiler's unit test
    (tests/agent/test_policy.c holds userspace/agent/policy.c to it)."""
    pods = []
    for i, ns in enumerate(NAMESPACES):
        for j, name in enumerate(PODS):
            p = NM.Pod(ns, name, dict(PODS[name][0], netpol="1"), "10.9.%d.%d" % (i, j + 1),
                       "n%d" % ((3 * i + j) % 2 + 1), PODS[name][1])
            pods.append(p)
    model = NM.Model(NAMESPACES, pods)
    srcs = pods + [NM.External(ip) for ip in EXT_IPS]
    out = {"namespaces": NAMESPACES,
           "pods": [pod_obj(p.ns, p.name, None) for p in pods],
           "cases": []}
    for o, p in zip(out["pods"], pods):
        o["spec"]["nodeName"] = p.node
        o["status"] = {"phase": "Running", "podIP": p.ip}
    for name, policies in CASES:
        m = model.matrix(policies, srcs, pods, PROBES)
        out["cases"].append({"name": name, "policies": policies, "expect": [
            [s.ip, d.ip, pr, po, int(v)] for (sk, dk, pr, po), v in sorted(m.items())
            for s in srcs if s.key() == sk for d in pods if d.key() == dk]})
    print(json.dumps(out))


def main():
    if sys.argv[1:] == ["--dump-model"]:
        dump_model()
        return
    only = [x for x in os.environ.get("NETPOL_CASES", "").split(",") if x]
    # no masquerade: ipBlock needs the external client's own address, and
    # the replies of its connections must leave with the pod's
    c = M.cluster(nodes=2, agent_args={k: ["--masquerade=false"] for k in (1, 2)})
    M.require_crossnode(c)
    pods = setup(c)
    model = NM.Model(NAMESPACES, pods)
    sources = [p.key() for p in pods] + ["ext:" + ip for ip in EXT_IPS]
    dests = [p.key() for p in pods]
    model_sources = pods + [NM.External(ip) for ip in EXT_IPS]
    have, failed, passed = {}, [], 0
    for name, policies in CASES:
        if only and name not in only:
            continue
        have = sync_policies(c, policies, have)
        expected = model.matrix(policies, model_sources, pods, PROBES)
        start = time.monotonic()
        while True:
            actual = verdicts(probe_all(c, pods))
            if actual == expected or time.monotonic() - start > SETTLE:
                break
        took = time.monotonic() - start
        if actual == expected:
            passed += 1
            M.log("case %s: ok (%.1fs)" % (name, took))
            if name == "union-of-policies" and not M.iptables():  # BPF maps
                check_berthctl(c, pods)
            if name == "deny-all-ingress-x" and not M.iptables():  # BPF drop events
                check_drop_events(c, pods)
            continue
        bad = sum(1 for k in expected if expected[k] != actual[k])
        failed.append(name)
        M.log("case %s: %d of %d probes differ from the model after %.1fs\n%s" % (
            name, bad, len(expected), took, show(expected, actual, sources, dests)))
    M.log("%d cases passed, %d failed%s" % (passed, len(failed),
                                            (": " + ", ".join(failed)) if failed else ""))
    if failed:
        M.fail("%d policy cases differ from the model" % len(failed), diag=False)


if __name__ == "__main__":
    main()
