#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berth-server's /metrics through Prometheus' parser: requests counted by
verb, resource and code after kubectl and raw calls; latency histograms
grow and stay consistent; the watcher gauges go up while a watch is open
and down after; store latency by operation; process metrics. And the
health endpoints: /healthz, /livez, /readyz with ?verbose and named
checks."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "api"))
from lib import Server, check, fail  # noqa: E402
from promlib import Metrics  # noqa: E402

if not shutil.which("kubectl"):
    print("SKIP: kubectl is not installed")
    sys.exit(77)

s = Server("--controllers", "none")
kc = os.path.join(s.tmp, "data", "kubeconfig")


def scrape():
    st, text, h = s.req("GET", "/metrics")
    check(st == 200, "GET /metrics 200")
    if "version=0.0.4" not in h["Content-Type"]:
        fail("Content-Type %s" % h["Content-Type"])
    return Metrics(text)


def kubectl(*args):
    r = subprocess.run(["kubectl", "--kubeconfig", kc, *args], capture_output=True, text=True)
    if r.returncode:
        fail("kubectl %s: %s" % (" ".join(args), r.stderr))
    return r.stdout


m0 = scrape()
for fam, t in (("apiserver_request", "counter"),
               ("apiserver_request_duration_seconds", "histogram"),
               ("apiserver_registered_watchers", "gauge"),
               ("apiserver_longrunning_requests", "gauge"),
               ("berth_store_request_duration_seconds", "histogram"),
               ("process_resident_memory_bytes", "gauge"),
               ("process_cpu_seconds", "counter")):
    check(m0.type_of(fam) == t, "%s is a %s" % (fam, t))

CM = dict(verb="CREATE", group="", version="v1", resource="configmaps", code="201")
LIST = dict(verb="LIST", resource="pods", subresource="")
before = {"create": m0.get("apiserver_request_total", **CM),
          "list": m0.get("apiserver_request_duration_seconds_count", **LIST),
          "store": m0.get("berth_store_request_duration_seconds_count",
                          operation="create", backend="sqlite")}

kubectl("create", "configmap", "m1", "--from-literal=a=b")
kubectl("create", "configmap", "m2", "--from-literal=a=b")
for _ in range(3):
    kubectl("get", "pods")
kubectl("get", "configmap", "m1")
kubectl("delete", "configmap", "m2")
st, _, _ = s.req("GET", "/api/v1/namespaces/default/configmaps/nope")
check(st == 404, "GET of a missing configmap: 404")
st, _, _ = s.req("PATCH", "/api/v1/namespaces/default/configmaps/m1", {"data": {"x": "y"}},
                 ctype="application/merge-patch+json")
check(st == 200, "merge patch 200")

m1 = scrape()
check(m1.get("apiserver_request_total", **CM) == before["create"] + 2,
      "two configmap creates counted: %s" % m1.get("apiserver_request_total", **CM))
check(m1.get("apiserver_request_duration_seconds_count", **LIST) >= before["list"] + 3,
      "LIST pods histogram count grew by 3 (kubectl get pods)")
check(m1.get("apiserver_request_total", verb="GET", resource="configmaps", code="200") >= 1,
      "GET configmap counted with code 200")
# kubectl delete waits for the object to go: a GET with 404 of its own
check(m1.get("apiserver_request_total", verb="GET", resource="configmaps", code="404") >= 1,
      "the 404 counted with its code")
check(m1.get("apiserver_request_total", verb="DELETE", resource="configmaps", code="200") == 1,
      "DELETE counted")
check(m1.get("apiserver_request_total", verb="PATCH", resource="configmaps", code="200") == 1,
      "PATCH counted")
check(m1.get("apiserver_request_duration_seconds_sum", verb="CREATE", resource="configmaps") > 0,
      "duration sum grew")
check(m1.get("berth_store_request_duration_seconds_count", operation="create",
             backend="sqlite") >= before["store"] + 2, "store create latency observed")
for fam in ("apiserver_request_duration_seconds", "berth_store_request_duration_seconds"):
    err = m1.histograms_consistent(fam)
    check(err is None, "%s: cumulative buckets, +Inf == count (%s)" % (fam, err))
# kube-apiserver's buckets
check(m1.has("apiserver_request_duration_seconds_bucket", verb="LIST", le="0.005") and
      m1.has("apiserver_request_duration_seconds_bucket", verb="LIST", le="60"),
      "request buckets 0.005 .. 60")
check(m1.get("process_resident_memory_bytes") > 1e6, "resident memory")
check(m1.get("process_open_fds") >= 3, "open fds")
check(abs(m1.get("process_start_time_seconds") - time.time()) < 600, "start time is recent")

# a watch: in the gauges while open, out once the client goes
WATCHERS = dict(group="", version="v1", resource="configmaps")
check(m1.get("apiserver_registered_watchers", **WATCHERS) == 0, "no configmap watchers yet")
c = s.conn(10)
c.request("GET", "/api/v1/namespaces/default/configmaps?watch=1")
r = c.getresponse()
check(r.status == 200, "watch opened")
r.readline()  # the first ADDED: the stream is running
m2 = scrape()
check(m2.get("apiserver_registered_watchers", **WATCHERS) == 1, "one registered watcher")
check(m2.get("apiserver_longrunning_requests", verb="WATCH", resource="configmaps") == 1,
      "one long-running WATCH")
check(m2.get("apiserver_request_total", verb="WATCH", resource="configmaps", code="200") == 1,
      "WATCH counted as a request")
c.close()
r.close()
end = time.time() + 10
while time.time() < end:
    m3 = scrape()
    if m3.get("apiserver_registered_watchers", **WATCHERS) == 0:
        break
    time.sleep(0.3)
check(m3.get("apiserver_registered_watchers", **WATCHERS) == 0 and
      m3.get("apiserver_longrunning_requests", verb="WATCH", resource="configmaps") == 0,
      "watcher gauges back to 0 after the client left")

# health
st, t, _ = s.req("GET", "/readyz?verbose")
check(st == 200 and "[+]ping ok" in t and "[+]sqlite ok" in t and "[+]shutdown ok" in t and
      t.rstrip().endswith("readyz check passed"), "readyz?verbose lists its checks:\n" + t)
check(s.req("GET", "/readyz")[1] == "ok", "readyz: ok")
check(s.req("GET", "/readyz/sqlite")[:2] == (200, "ok"), "readyz/sqlite: ok")
check(s.req("GET", "/readyz/nope")[0] == 404, "readyz/nope: 404")
st, t, _ = s.req("GET", "/readyz?verbose&exclude=sqlite")
check(st == 200 and "sqlite" not in t, "exclude=sqlite leaves it out")
st, t, _ = s.req("GET", "/livez?verbose")
check(st == 200 and "[+]ping ok" in t and "sqlite" not in t, "livez: ping only")
check(s.req("GET", "/healthz")[:2] == (200, "ok"), "healthz: ok")
m4 = scrape()
check(m4.get("apiserver_request_total", verb="GET", resource="", code="404") >= 1,
      "non-resource requests counted with resource \"\"")
print("PASS")
