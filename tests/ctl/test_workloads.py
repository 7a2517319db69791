# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berthctl's workload commands against a berth-server with its controllers
and kwok nodes: apply (files, a directory, stdin; created/configured/
unchanged), get (tables equal to kubectl's, -o json|yaml|name, -l, -n, -A),
describe, scale, rollout status|undo, top, delete, and the exit codes and
error lines a script relies on."""
import atexit
import glob
import json
import os
import shutil
import tempfile

import yaml

from ctllib import HERE, Tools, check, fail
from kwok import Cluster, Server, wait_for

HAVE_SCHED = not os.environ.get("NO_SCHED") and any(
    '.name = "scheduler"' in open(f).read()
    for f in glob.glob(os.path.join(HERE, "..", "..", "control", "scheduler", "*.c")))

s = Server()
kw = Cluster(s, bind=not HAVE_SCHED)
kw.add_node("n1", cpu="4", memory="8Gi")
kw.add_node("n2", cpu="2", memory="4Gi")
t = Tools(s)
ctl = t.ctl

DEPLOY = """apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  labels: {app: web}
spec:
  replicas: 2
  selector:
    matchLabels: {app: web}
  template:
    metadata:
      labels: {app: web}
    spec:
      containers:
      - name: c
        image: %s
        resources:
          requests: {cpu: 100m, memory: 64Mi}
"""
SVC = """apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector: {app: web}
  ports:
  - port: 80
    targetPort: 8080
"""
CM = {"apiVersion": "v1", "kind": "ConfigMap",
      "metadata": {"name": "cfg", "namespace": "kube-system"}, "data": {"a": "1"}}

d = tempfile.mkdtemp(prefix="berthctl-test-")
atexit.register(shutil.rmtree, d, True)
with open(os.path.join(d, "app.yaml"), "w") as f:
    f.write("# two documents\n---\n" + DEPLOY % "img:1" + "---\n" + SVC)
with open(os.path.join(d, "cfg.json"), "w") as f:
    json.dump(CM, f)
with open(os.path.join(d, "README"), "w") as f:
    f.write("not a manifest\n")

# ---- apply ----
out = ctl("apply", "-f", d).stdout.splitlines()
check(out == ["deployment.apps/web created", "service/web created", "configmap/cfg created"],
      "apply -f DIR: multi-document YAML and JSON, created: %s" % out)
out = ctl("apply", "-f", d).stdout.splitlines()
check(out == ["deployment.apps/web unchanged", "service/web unchanged", "configmap/cfg unchanged"],
      "apply again: unchanged: %s" % out)
out = ctl("apply", "-f", "-", stdin=DEPLOY % "img:2").stdout
check(out == "deployment.apps/web configured\n", "apply -f - with a new image: configured: %r" % out)
p = ctl("apply", "-f", "-", stdin="kind: [unclosed\n", rc=1)
check(p.stderr.startswith("error: -: "), "malformed YAML: exit 1, %r" % p.stderr)
p = ctl("apply", "-f", "-", stdin="apiVersion: v1\nkind: Nope\nmetadata: {name: x}\n", rc=1)
check('kind "Nope"' in p.stderr, "unknown kind: exit 1, %r" % p.stderr)
p = ctl("apply", "-f", "/nonexistent.yaml", rc=1)
check("/nonexistent.yaml" in p.stderr, "missing file: exit 1, %r" % p.stderr)
ctl("apply", rc=2)

# ---- rollout status: kwok makes the pods ready ----
out = ctl("rollout", "status", "deployment/web", "--timeout", "30s", timeout=40).stdout
check(out.endswith('deployment "web" successfully rolled out\n'), "rollout status: %r" % out)

# ---- get: the tables are kubectl's ----
for args in (["get", "pods"], ["get", "pods", "-o", "wide"], ["get", "deploy", "-o", "wide"],
             ["get", "svc", "-A"], ["get", "nodes"], ["get", "nodes", "-o", "wide"],
             ["get", "all"], ["get", "deploy/web"], ["get", "rs,deploy"],
             ["get", "pods", "-l", "app=web"], ["get", "configmaps", "-n", "kube-system"],
             ["get", "svc", "web", "kubernetes"], ["get", "deploy", "-o", "name"],
             ["get", "po", "--no-headers", "-A", "-l", "app=web", "-o", "name"],
             ["-n", "kube-system", "get", "configmaps"]):
    t.same_as_kubectl(*args)
for fmt, parse in (("json", json.loads), ("yaml", yaml.safe_load)):
    for args in (["get", "deploy", "web"], ["get", "pods"], ["get", "svc", "-A"]):
        a = parse(ctl(*args, "-o", fmt).stdout)
        b = parse(t.kubectl(*args, "-o", fmt).stdout)
        check(a == b, "get %s -o %s: the same objects as kubectl's" % (" ".join(args), fmt))
p = ctl("get", "pods", "-l", "app=none")
check(p.stdout == "" and p.stderr == "No resources found in default namespace.\n",
      "empty list: %r" % p.stderr)

# ---- errors: kubectl's lines and exit codes ----
for args in (["get", "pods", "nope"], ["get", "nosuchkind"], ["get", "deploy", "nope", "-n", "kube-system"]):
    a = ctl(*args, rc=1)
    b = t.kubectl(*args, rc=1)
    check(a.stderr == b.stderr, "berthctl %s: stderr %r == kubectl's %r" % (" ".join(args), a.stderr, b.stderr))
check(ctl("get", "pods", "nope", rc=1).stderr == 'Error from server (NotFound): pods "nope" not found\n',
      "NotFound line")
bad = dict(t.env, KUBECONFIG="/nonexistent/kubeconfig")
for args in (["get"], ["get", "pods", "-o", "bogus"], ["frobnicate"], ["scale", "deploy/web"],
             ["rollout", "sideways", "deploy/web"], ["logs"], ["top"], ["describe", "pods"],
             ["get", "pods", "--replicas", "x"], ["delete", "pods"]):
    ctl(*args, rc=2)
    ctl(*args, rc=2, env=bad)
print("ok: usage errors exit 2, with or without a server")
p = ctl("get", "pods", rc=1, env=bad)
check("/nonexistent/kubeconfig" in p.stderr, "unreadable kubeconfig: exit 1: %r" % p.stderr)
p = ctl("get", "pods", "--kubeconfig", "http://127.0.0.1:1", rc=1)
check(p.stderr.startswith("Unable to connect to the server"), "server down: %r" % p.stderr)

# ---- describe ----
out = ctl("describe", "deployment", "web").stdout
for want in ("Name:               web", "Replicas:           2 desired | 2 updated",
             "Image:        img:2", "Events:", "ScalingReplicaSet", "Conditions:"):
    check(want in out, "describe deployment shows %r:\n%s" % (want, out))
pod = json.loads(ctl("get", "pods", "-o", "json").stdout)["items"][0]
out = ctl("describe", "pod", pod["metadata"]["name"]).stdout
for want in ("Node:               " + pod["spec"]["nodeName"], "    Image:          img:2",
             "    State:          Running", "Controlled By:      ReplicaSet/", "Events:"):
    check(want in out, "describe pod shows %r:\n%s" % (want, out))
out = ctl("describe", "svc", "web").stdout
check("TargetPort:         8080/TCP" in out and "Selector:           app=web" in out,
      "describe service:\n" + out)
out = ctl("describe", "node", "n1").stdout
check("Allocatable:" in out and "  cpu:" in out and "InternalIP:" in out, "describe node:\n" + out)
out = ctl("describe", "cm", "cfg", "-n", "kube-system").stdout
check("Data:" in out and "a: \"1\"" in out, "describe configmap (generic):\n" + out)
# kubectl's client-side apply keeps a copy of the object in an annotation;
# describe leaves it out, as kubectl describe does
t.kubectl("apply", "-f", "-", stdin=json.dumps({
    "apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": "kapplied", "annotations": {"team": "a"}}, "data": {"k": "v"}}))
out = ctl("describe", "cm", "kapplied").stdout
check("team=a" in out and "last-applied-configuration" not in out,
      "describe leaves out kubectl's last-applied annotation:\n" + out)
p = ctl("describe", "pod", "nope", rc=1)
check(p.stderr == 'Error from server (NotFound): pods "nope" not found\n', "describe missing: %r" % p.stderr)

# ---- scale, rollout ----
check(ctl("scale", "deploy/web", "--replicas", "3").stdout == "deployment.apps/web scaled\n", "scale")
ctl("rollout", "status", "deploy", "web", "--timeout", "30s", timeout=40)
dep = json.loads(ctl("get", "deploy", "web", "-o", "json").stdout)
check(dep["spec"]["replicas"] == 3 and dep["status"]["readyReplicas"] == 3, "3 ready replicas")
ctl("scale", "deploy/nope", "--replicas", "1", rc=1)

out = ctl("rollout", "undo", "deployment/web").stdout
check(out == "deployment.apps/web rolled back\n", "rollout undo: %r" % out)
wait_for("image back to img:1", lambda: json.loads(ctl("get", "deploy", "web", "-o", "json").stdout)
         ["spec"]["template"]["spec"]["containers"][0]["image"] == "img:1", 10)
ctl("rollout", "status", "deployment/web", "--timeout", "30s", timeout=40)
pods = json.loads(ctl("get", "pods", "-l", "app=web", "-o", "json").stdout)["items"]
check(all(p["spec"]["containers"][0]["image"] == "img:1" for p in pods) and len(pods) == 3,
      "after undo the pods run img:1: %s" % [p["spec"]["containers"][0]["image"] for p in pods])
check(ctl("rollout", "undo", "deployment/web", "--to-revision", "99", rc=1).stderr.startswith("error:"),
      "undo to a missing revision: exit 1")
rev = json.loads(ctl("get", "deploy", "web", "-o", "json").stdout)["metadata"]["annotations"][
    "deployment.kubernetes.io/revision"]
out = ctl("rollout", "undo", "deployment/web", "--to-revision", rev).stdout
check(out == "deployment.apps/web skipped rollback (current template already matches revision %s)\n" % rev,
      "undo to the current revision: skipped: %r" % out)

# a rollout that cannot finish: the timeout ends it with exit 1
stuck = (DEPLOY % "img:3").replace("name: web", "name: stuck").replace("app: web", "app: stuck") \
    .replace("    metadata:\n      labels: {app: stuck}",
             "    metadata:\n      labels: {app: stuck}\n      annotations: {kwok.berth.dev/not-ready: \"true\"}")
ctl("apply", "-f", "-", stdin=stuck)
p = ctl("rollout", "status", "deployment/stuck", "--timeout", "2s", rc=1, timeout=20)
check("timed out" in p.stderr and "Waiting for deployment \"stuck\" rollout to finish" in p.stdout,
      "rollout status times out: %r %r" % (p.stdout, p.stderr))

# ---- top: requests against allocatable, computed from the API ----
wait_for("stuck pods bound", lambda: all(
    p["spec"].get("nodeName") for p in json.loads(ctl("get", "pods", "-o", "json").stdout)["items"]), 10)
p = ctl("top", "nodes")
check("no metrics API" in p.stderr, "top says where the numbers come from: %r" % p.stderr)
lines = p.stdout.splitlines()
check(lines[0].split() == ["NAME", "CPU(requests)", "CPU(%)", "MEMORY(requests)", "MEMORY(%)"],
      "top nodes header: %r" % lines[0])
allp = json.loads(ctl("get", "pods", "-A", "-o", "json").stdout)["items"]
alloc = {"n1": (4000, 8192), "n2": (2000, 4096)}
for line in lines[1:]:
    name, cpu, cpct, mem, mpct = line.split()
    n = sum(1 for q in allp if q["spec"].get("nodeName") == name)
    want = (n * 100, n * 64)
    check((cpu, mem) == ("%dm" % want[0], "%dMi" % want[1]),
          "top %s: %s %s for %d pods of 100m/64Mi" % (name, cpu, mem, n))
    check(cpct == "%d%%" % round(want[0] * 100 / alloc[name][0]) and
          mpct == "%d%%" % round(want[1] * 100 / alloc[name][1]), "top %s percentages: %s" % (name, line))
out = ctl("top", "pods", "-l", "app=web").stdout.splitlines()
check(len(out) == 4 and all(l.split()[1:] == ["100m", "64Mi"] for l in out[1:]), "top pods: %s" % out)

# ---- delete ----
check(ctl("delete", "deploy", "stuck").stdout == 'deployment.apps "stuck" deleted\n', "delete KIND NAME")
p = ctl("delete", "deploy", "stuck", rc=1)
check(p.stderr == 'Error from server (NotFound): deployments.apps "stuck" not found\n', "delete again: %r" % p.stderr)
out = ctl("delete", "-f", d).stdout.splitlines()
check(out == ['deployment.apps "web" deleted', 'service "web" deleted', 'configmap "cfg" deleted'],
      "delete -f DIR: %s" % out)
ctl("delete", "pods", rc=2)
check(kw.errors == [], "kwok errors: %s" % kw.errors)
print("PASS")
