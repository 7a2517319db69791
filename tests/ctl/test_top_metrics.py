# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berthctl top with a metrics API: berth-server has none, so an HTTP
front made by this test serves metrics.k8s.io/v1beta1 (NodeMetrics and
PodMetrics of fixed values, and the group in /apis discovery) and forwards
everything else to the server; berthctl top nodes|pods must print what
kubectl top prints through the same front."""
import http.client
import http.server
import json
import threading

from ctllib import Tools, check
from kwok import Cluster, Server

s = Server("--controllers", "none")
kw = Cluster(s, bind=True)
kw.add_node("n1", cpu="4", memory="8Gi")
kw.add_node("n2", cpu="2", memory="4Gi")
MV = "metrics.k8s.io/v1beta1"
TS = "2026-01-02T03:04:05Z"
NODES = {"n1": {"cpu": "1", "memory": "2Gi"}, "n2": {"cpu": "500m", "memory": "1048576Ki"}}
PODS = {("default", "web-1"): [{"cpu": "250m", "memory": "64Mi"}, {"cpu": "5m", "memory": "16Mi"}],
        ("default", "web-2"): [{"cpu": "125m", "memory": "32Mi"}],
        ("kube-system", "dns"): [{"cpu": "1m", "memory": "8Mi"}]}
LABELS = {"web-1": {"app": "web"}, "web-2": {"app": "web"}, "dns": {"app": "dns"}}


def node_metrics():
    return {"kind": "NodeMetricsList", "apiVersion": MV, "metadata": {}, "items": [
        {"metadata": {"name": n}, "timestamp": TS, "window": "10s", "usage": u}
        for n, u in NODES.items()]}


def pod_metrics(ns, selector):
    items = []
    for (pns, name), cs in PODS.items():
        if ns and pns != ns:
            continue
        if selector and "%s=%s" % tuple(list(LABELS[name].items())[0]) != selector:
            continue
        items.append({"metadata": {"name": name, "namespace": pns, "labels": LABELS[name]},
                      "timestamp": TS, "window": "10s",
                      "containers": [{"name": "c%d" % i, "usage": u} for i, u in enumerate(cs)]})
    return {"kind": "PodMetricsList", "apiVersion": MV, "metadata": {}, "items": items}


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, obj):
        data = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def backend(self, plain=False):
        """plain: the APIGroupList, not kubectl's aggregated discovery
        (the front adds a group to the former only)"""
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        c = http.client.HTTPConnection(s.host, s.port, timeout=20)
        h = {k: v for k, v in self.headers.items() if k.lower() in ("accept", "content-type")}
        if plain:
            h["Accept"] = "application/json"
        c.request(self.command, self.path, body=body, headers=h)
        r = c.getresponse()
        return r.status, r.read()

    def do_GET(self):
        path, _, query = self.path.partition("?")
        q = dict(p.split("=", 1) for p in query.split("&") if "=" in p)
        sel = q.get("labelSelector", "").replace("%3D", "=")
        if path == "/apis":
            st, data = self.backend(plain=True)
            g = json.loads(data)
            g["groups"].append({"name": "metrics.k8s.io",
                                "versions": [{"groupVersion": MV, "version": "v1beta1"}],
                                "preferredVersion": {"groupVersion": MV, "version": "v1beta1"}})
            return self.reply(st, g)
        if path == "/apis/" + MV:
            return self.reply(200, {"kind": "APIResourceList", "groupVersion": MV, "resources": [
                {"name": "nodes", "singularName": "", "namespaced": False, "kind": "NodeMetrics",
                 "verbs": ["get", "list"]},
                {"name": "pods", "singularName": "", "namespaced": True, "kind": "PodMetrics",
                 "verbs": ["get", "list"]}]})
        if path == "/apis/%s/nodes" % MV:
            return self.reply(200, node_metrics())
        if path == "/apis/%s/pods" % MV:
            return self.reply(200, pod_metrics(None, sel))
        if path.startswith("/apis/%s/namespaces/" % MV) and path.endswith("/pods"):
            return self.reply(200, pod_metrics(path.split("/")[5], sel))
        st, data = self.backend()
        self.send_response(st)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)



front = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Front)
front.daemon_threads = True
threading.Thread(target=front.serve_forever, daemon=True).start()

t = Tools(s)
kc = t.kubeconfig + ".front"
with open(t.kubeconfig) as f:
    text = f.read()
with open(kc, "w") as f:
    f.write(text.replace("http://%s:%d" % (s.host, s.port), "http://127.0.0.1:%d" % front.server_address[1]))
t.env["KUBECONFIG"] = kc

for args in (["top", "nodes"], ["top", "pods"], ["top", "pods", "-A"],
             ["top", "pods", "-l", "app=web"], ["top", "pods", "-n", "kube-system"]):
    a = t.ctl(*args)
    check(a.stderr == "", "%s: no note with a metrics API: %r" % (" ".join(args), a.stderr))
    t.same_as_kubectl(*args)
out = t.ctl("top", "nodes").stdout.splitlines()
check(out[1].split() == ["n1", "1000m", "25%", "2048Mi", "25%"], "n1 usage: %s" % out[1])
out = t.ctl("top", "pods").stdout.splitlines()
check(out[1].split() == ["web-1", "255m", "80Mi"], "a pod's containers summed: %s" % out)
front.shutdown()
print("PASS")
