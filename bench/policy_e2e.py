#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/policy, second part: a NetworkPolicy change from the API write to
enforcement on every node, at 1,000 pods.

One berth-server (SQLite) and two real agents in network namespaces
(tests/e2e/cluster.py). Two real pods: "target" on node1, "peer" on node2.
The other PODS - 2 pods are API-only: objects bound to extra Node objects
that have no agent, with status.podIP set through the status subresource,
so every agent gives them identities and ipcache entries as it does real
remote pods (each has its own label set, so its own identity). A policy
selects the target and allows ingress from one group of ~100 pods (the
peer's) or from another group (the peer denied); CHANGES times it flips.
Per change: the time of the API write's response (the writer's
CLOCK_REALTIME) and, per agent, the time its maps enforced that
resourceVersion (the agent's own log line "network policy: enforced
resourceVersion R at T", same machine, same clock); the latency is the
last node's. The peer's reachability of the target is probed for real
after an allowing and after a denying change. Adds "e2e" to
.output/bench/policy.json (goal: p99 <= 0.1 s).
"""
import json
import os
import re
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "e2e"))
import cluster as C  # noqa: E402

PODS = int(os.environ.get("POLICY_PODS", "1000"))
CHANGES = int(os.environ.get("POLICY_CHANGES", "60"))
API_NODES = 8  # the agentless Nodes the API-only pods are bound to
GROUP = 100  # pods a policy version allows
WAIT_S = 5.0  # per change, for both agents
OUT = os.path.join(C.REPO, ".output", "bench", "policy.json")
PORT = 8080
ENFORCED = re.compile(r"network policy: enforced resourceVersion (\d+) at (\d+\.\d+)")

# the API client, run in the server's netns with the admin kubeconfig:
#   bulk PREFIX NODES PODS GROUP: the agentless Nodes and API-only pods
#   policy create|a|b: the policy (allowing group a or group b); prints
#   {"rv", "t"}, t taken when the response has been read
CLIENT = r'''
import base64, http.client, json, ssl, sys, tempfile, time
kc, mode = sys.argv[1], sys.argv[2]
f = {}
for line in open(kc):
    k, _, v = line.strip().partition(":")
    f[k] = v.strip()
tmp = tempfile.mkdtemp()
def put(name, key):
    p = tmp + "/" + name
    open(p, "wb").write(base64.b64decode(f[key]))
    return p
ctx = ssl.create_default_context(cafile=put("ca", "certificate-authority-data"))
ctx.load_cert_chain(put("crt", "client-certificate-data"), put("key", "client-key-data"))
host = f["server"].split("//")[1]
c = http.client.HTTPSConnection(host.split(":")[0], int(host.split(":")[1]), context=ctx,
                                timeout=30)
def req(method, path, body, ctype="application/json", ok=(200, 201)):
    c.request(method, path, json.dumps(body), {"Content-Type": ctype})
    r = c.getresponse()
    data = r.read()
    if r.status not in ok:
        sys.exit("%s %s: %d %s" % (method, path, r.status, data[:300]))
    return json.loads(data)
def policy(grp):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": "bench-pol", "namespace": "default"},
            "spec": {"podSelector": {"matchLabels": {"app": "target"}},
                     "policyTypes": ["Ingress"],
                     "ingress": [{"from": [{"podSelector": {"matchLabels": {"grp": grp}}}],
                                  "ports": [{"protocol": "TCP", "port": 8080}]}]}}
if mode == "bulk":
    prefix, nodes, pods, group = sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), int(sys.argv[6])
    for k in range(nodes):
        name = "%s-api%d" % (prefix, k)
        req("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
            "metadata": {"name": name},
            "spec": {"podCIDR": "10.244.%d.0/24" % (200 + k),
                     "podCIDRs": ["10.244.%d.0/24" % (200 + k)]}})
        req("PATCH", "/api/v1/nodes/%s/status" % name,
            {"status": {"addresses": [{"type": "InternalIP", "address": "10.200.1.%d" % (k + 1)}]}},
            "application/merge-patch+json")
    for i in range(pods):
        k = i % nodes
        grp = "a" if i < group - 1 else "b" if i < 2 * group else "c"
        name = "api-%d" % i
        req("POST", "/api/v1/namespaces/default/pods", {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"grp": grp, "i": str(i)}},
            "spec": {"nodeName": "%s-api%d" % (prefix, k),
                     "tolerations": [{"operator": "Exists"}],
                     "containers": [{"name": "c", "image": "berth.test/busybox:1"}]}})
        ip = "10.244.%d.%d" % (200 + k, 2 + i // nodes)
        req("PATCH", "/api/v1/namespaces/default/pods/%s/status" % name,
            {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}]}},
            "application/merge-patch+json")
    print(json.dumps({"pods": pods}))
else:
    path = "/apis/networking.k8s.io/v1/namespaces/default/networkpolicies"
    if mode == "create":
        o = req("POST", path, policy("a"))
    else:
        o = req("PATCH", path + "/bench-pol", {"spec": policy(mode)["spec"]},
                "application/merge-patch+json")
    t = time.time()
    print(json.dumps({"rv": int(o["metadata"]["resourceVersion"]), "t": t}))
'''

# a TCP listener in the target's netns; the probe connects from the peer's
PROBE = r'''
import socket, sys
s = socket.socket(); s.settimeout(1.0)
try:
    s.connect((sys.argv[1], int(sys.argv[2]))); print("open")
except OSError as e:
    print("closed: %s" % e)
'''
LISTEN = r'''
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(64)
while True:
    s.accept()[0].close()
'''


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100.0 * (len(xs) - 1))))]


class Logs:
    """Each agent's "enforced resourceVersion" lines, read as they come."""

    def __init__(self, nodes):
        self.nodes = nodes
        self.off = {n.name: 0 for n in nodes}
        self.seen = {n.name: [] for n in nodes}  # [(rv, t)]

    def poll(self):
        for n in self.nodes:
            with open(n.logfile, "rb") as f:
                f.seek(self.off[n.name])
                data = f.read()
            end = data.rfind(b"\n") + 1
            self.off[n.name] += end
            for m in ENFORCED.finditer(data[:end].decode(errors="replace")):
                self.seen[n.name].append((int(m.group(1)), float(m.group(2))))

    def enforced(self, rv):
        """{node: the time its maps first enforced rv or later}, or None."""
        out = {}
        for name, seen in self.seen.items():
            ts = [t for r, t in seen if r >= rv]
            if not ts:
                return None
            out[name] = min(ts)
        return out

    def wait(self, rv, timeout):
        end = time.time() + timeout
        while time.time() < end:
            self.poll()
            got = self.enforced(rv)
            if got:
                return got
            time.sleep(0.02)
        return None


def client(c, *args, timeout=300):
    r = C.run(*C.nsexec(c.srv, "python3", "-c", CLIENT, c.kubeconfig, *args), timeout=timeout)
    return json.loads(r.stdout.strip().splitlines()[-1])


def probe(c, peer, ip):
    r = c.pod_exec(peer, "python3", "-c", PROBE, ip, str(PORT), check=False)
    return r.stdout.strip()


def api_only_in_ipcache(n):
    """ipcache entries of the API-only pods' addresses (10.244.200+.x) on n."""
    r = C.run(os.path.join(C.BIN, "berthctl"), "bpf", "ipcache", "--node", n.name)
    return len(re.findall(r"10\.244\.2[0-9][0-9]\.\d+/32", r.stdout))


def pod(name, node, labels):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": labels},
            "spec": {"nodeName": node.name, "terminationGracePeriodSeconds": 1,
                     "containers": [{"name": "c", "image": C.IMAGE,
                                     "imagePullPolicy": "Never",
                                     "command": ["sh", "-c", "while :; do sleep 3600; done"]}]}}


def measure(c, logs, target_ip, peer):
    lat, missed, probes = [], 0, {}
    per_node = {n.name: [] for n in c.nodes}
    for j in range(CHANGES):
        ver = "b" if j % 2 == 0 else "a"  # b: the peer denied, a: allowed
        w = client(c, ver, timeout=30)
        got = logs.wait(w["rv"], WAIT_S)
        if not got:
            missed += 1
            continue
        lat.append(max(got.values()) - w["t"])
        for name, t in got.items():
            per_node[name].append(round((t - w["t"]) * 1000, 2))
        if j < 2:  # enforcement for real, once each way
            want = "open" if ver == "a" else "closed"
            got_p = probe(c, peer, target_ip)
            probes["allowed" if ver == "a" else "denied"] = got_p
            if not got_p.startswith(want):
                raise C.ClusterError("probe after policy %s: %s, expected %s" %
                                     (ver, got_p, want))
    return lat, missed, probes, per_node


def run_bench(c, res):
    c.up(timeout=60)
    n1, n2 = c.nodes
    c.apply(pod("target", n1, {"app": "target"}), pod("peer", n2, {"grp": "a", "i": "peer"}))
    pods = {p["metadata"]["name"]: p for p in c.wait_pods_ready(None, 2, timeout=90)}
    target_ip = pods["target"]["status"]["podIP"]
    c.pod_daemon(pods["target"], os.path.join(c.state, "listen.log"), "python3", "-c",
                 LISTEN, str(PORT))
    t0 = time.time()
    client(c, "bulk", c.prefix, str(API_NODES), str(PODS - 2), str(GROUP))
    res["api_only_pods"] = PODS - 2
    res["bulk_create_s"] = round(time.time() - t0, 1)
    logs = Logs(c.nodes)
    w = client(c, "create", timeout=30)
    if not logs.wait(w["rv"], 30):
        raise C.ClusterError("the agents did not enforce the first policy in 30 s")
    time.sleep(1)
    res["api_only_in_ipcache"] = {n.name: api_only_in_ipcache(n) for n in c.nodes}
    if min(res["api_only_in_ipcache"].values()) < PODS - 2:
        raise C.ClusterError("API-only pods missing from the ipcache: %s" %
                             res["api_only_in_ipcache"])
    if not probe(c, pods["peer"], target_ip).startswith("open"):
        raise C.ClusterError("peer cannot reach the target under the allowing policy")
    lat, missed, probes, per_node = measure(c, logs, target_ip, pods["peer"])
    res.update({"changes": CHANGES, "missed": missed, "probes": probes,
                "per_node_ms": per_node,
                "samples_ms": [round(x * 1000, 2) for x in lat]})
    if lat:
        res["p50_s"] = round(pct(lat, 50), 4)
        res["p90_s"] = round(pct(lat, 90), 4)
        res["p99_s"] = round(pct(lat, 99), 4)
        res["max_s"] = round(max(lat), 4)


def main():
    c = C.Cluster("/tmp/berth-bench-pol-%d" % os.getpid(), "bp%d" % (os.getpid() % 100000))
    res = {"pods": PODS, "nodes_with_agent": 2, "goal_p99_s": 0.1,
           "what": "API write response -> last node's maps enforce that resourceVersion"}
    try:
        run_bench(c, res)
    except (C.ClusterError, C.subprocess.SubprocessError, OSError) as e:
        c.diag()
        res["error"] = str(e)
    finally:
        c.down()
    try:
        with open(OUT) as f:
            out = json.load(f)
    except (OSError, ValueError):
        out = {}
    out["e2e"] = res
    os.makedirs(os.path.dirname(OUT), exist_ok=True)
    with open(OUT + ".tmp", "w") as f:
        json.dump(out, f, indent=1)
    os.replace(OUT + ".tmp", OUT)
    print("\npolicy change -> enforced on every node, %d pods (%d API-only: objects "
          "on agentless Nodes with status.podIP), 2 agents, %d changes:" %
          (PODS, PODS - 2, CHANGES))
    if "error" in res:
        print("  error: %s" % res["error"])
        return 1
    print("  p50 %.1f ms  p90 %.1f ms  p99 %.1f ms  max %.1f ms  (goal p99 <= 100 ms)  missed %d" %
          (res["p50_s"] * 1000, res["p90_s"] * 1000, res["p99_s"] * 1000, res["max_s"] * 1000,
           res["missed"]))
    print("  probes: %s" % json.dumps(res["probes"]))
    return 1 if res["missed"] else 0


if __name__ == "__main__":
    if os.geteuid() != 0:
        sys.exit("bench/policy_e2e: needs root")
    sys.exit(main())
