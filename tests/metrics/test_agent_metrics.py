#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berth-agent's /metrics, /healthz and /readyz on its kubelet port, in a
node netns of the test's own (tests/node/kubelet_lib.py), parsed with
Prometheus' parser: /readyz passes once the first sync is done and the API
answers; the sync histogram counts a Service change; the services map's
fill grows; a pod's packets to a Service without endpoints count as
drops; pods by phase follow a pod from Running to Succeeded; probe
results and container restarts are counted."""
import atexit
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "node"))
from kubelet_lib import IMAGE, IMAGE_DIR, NODE_IP, check, fail, pod_node, wait_for  # noqa: E402
from promlib import Metrics  # noqa: E402

n, _ = pod_node("km-node")
URL = "http://%s:10250" % NODE_IP
NO_SERVICE = "service has no endpoints (rejected)"


def http(path):
    r = n.nsh("curl", "-s", "-m", "10", "-w", "\n%{http_code}", URL + path, check_rc=False)
    body, _, code = r.stdout.rpartition("\n")
    return int(code or 0), body


def scrape():
    code, body = http("/metrics")
    if code != 200:
        fail("GET /metrics: %d %s" % (code, body))
    return Metrics(body)


def pod(name, cmd, restart="Never", **extra):
    c = {"name": "main", "image": IMAGE, "command": ["sh", "-c", cmd]}
    c.update(extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [c], "restartPolicy": restart,
                     "terminationGracePeriodSeconds": 1}}


def apply(obj):
    n.kubectl("apply", "-f", "-", input=json.dumps(obj))


wait_for("agent /readyz 200", lambda: http("/readyz")[0] == 200, 40)
code, body = http("/readyz?verbose")
check(code == 200 and "[+]proxy-sync ok" in body and "[+]apiserver ok" in body,
      "readyz?verbose: first sync done, API reachable:\n" + body)
check(http("/healthz") == (200, "ok") and http("/livez")[0] == 200, "healthz, livez")

m0 = scrape()
for fam, t in (("berth_agent_sync_duration_seconds", "histogram"),
               ("berth_agent_bpf_map_entries", "gauge"),
               ("berth_agent_bpf_map_pressure", "gauge"),
               ("berth_agent_drop_packets", "counter"),
               ("berth_agent_pods", "gauge"),
               ("prober_probe", "counter"),
               ("berth_agent_container_restarts", "counter"),
               ("process_resident_memory_bytes", "gauge")):
    check(m0.type_of(fam) == t, "%s is a %s" % (fam, t))
check(m0.get("berth_agent_bpf_map_max_entries", map="services") > 0 and
      m0.get("berth_agent_bpf_map_max_entries", map="ct") > 0,
      "map capacity of services and ct")
syncs0 = m0.get("berth_agent_sync_duration_seconds_count")
svc_entries0 = m0.get("berth_agent_bpf_map_entries", map="services")
check(syncs0 >= 1, "the first sync is in the histogram")

# a Service without endpoints: a sync writes its frontend
apply({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "empty"},
       "spec": {"ports": [{"port": 80, "protocol": "TCP"}]}})
vip = wait_for("ClusterIP", lambda: (n.get("svc", "empty") or {}).get("spec", {}).get("clusterIP"), 10)
m1 = wait_for("sync histogram counts the Service change",
              lambda: (lambda m: m if m.get("berth_agent_sync_duration_seconds_count") > syncs0
                       else None)(scrape()), 15)
check(m1.get("berth_agent_sync_duration_seconds_sum") > 0, "sync latency sum > 0")
err = m1.histograms_consistent("berth_agent_sync_duration_seconds")
check(err is None, "sync histogram consistent (%s)" % err)
check(m1.get("berth_agent_syncs_total", result="success") >= 2, "syncs counted by result")
m1 = wait_for("services map fill grows",
              lambda: (lambda m: m if m.get("berth_agent_bpf_map_entries", map="services") >
                       svc_entries0 else None)(scrape()), 10)
check(0 < m1.get("berth_agent_bpf_map_pressure", map="services") <= 1, "services map pressure")
drops0 = m1.get("berth_agent_drop_packets_total", reason=NO_SERVICE)

# a pod that connects to it (rejected), stays Running a while, then ends
apply(pod("client", "for i in 1 2 3; do nc -w 2 %s 80 </dev/null; done; sleep 6; exit 0" % vip,
          readinessProbe={"exec": {"command": ["true"]}, "periodSeconds": 1}))
apply(pod("unready", "exec sleep 600",
          readinessProbe={"exec": {"command": ["false"]}, "periodSeconds": 1}))
apply(pod("crash", "exit 1", restart="Always"))

wait_for("pods: client Running", lambda: scrape().get("berth_agent_pods", phase="Running") >= 2, 60)
m2 = wait_for("drops of the rejected connections counted",
              lambda: (lambda m: m if m.get("berth_agent_drop_packets_total", reason=NO_SERVICE) >
                       drops0 else None)(scrape()), 30)
check(m2.get("berth_agent_drop_packets_total", reason=NO_SERVICE, direction="egress") > 0 and
      m2.get("berth_agent_drop_bytes_total", reason=NO_SERVICE) > 0,
      "REJECTs counted on egress, with bytes")
m3 = wait_for("probe results counted",
              lambda: (lambda m: m if m.get("prober_probe_total", probe_type="Readiness",
                                            result="successful") > 0 and
                       m.get("prober_probe_total", probe_type="Readiness", result="failed") > 0
                       else None)(scrape()), 30)
check(True, "readiness probes: successful and failed counted")
wait_for("client Succeeded in pods by phase",
         lambda: scrape().get("berth_agent_pods", phase="Succeeded") >= 1, 60)
m4 = wait_for("container restarts counted",
              lambda: (lambda m: m if m.get("berth_agent_container_restarts_total") >= 1
                       else None)(scrape()), 60)
check(m4.get("berth_agent_pods", phase="Running") >= 1, "unready still Running")


def registry():
    """docker-registry on the node's loopback with the test image pushed."""
    d = os.path.join(n.tmp, "registry")
    os.makedirs(d)
    port = n.free_port()
    with open(os.path.join(d, "config.yml"), "w") as f:
        f.write("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
                "    rootdirectory: %s/data\nhttp:\n  addr: 127.0.0.1:%d\n" % (d, port))
    log = open(os.path.join(d, "log"), "w")
    p = subprocess.Popen(["nsenter", "--net=" + n.nspath, "docker-registry", "serve",
                          os.path.join(d, "config.yml")], stdout=log, stderr=subprocess.STDOUT)
    atexit.register(lambda: (p.kill(), p.wait(), log.close()))
    wait_for("registry up", lambda: n.nsh("curl", "-sf", "http://127.0.0.1:%d/v2/" % port,
                                          check_rc=False).returncode == 0, 20)
    n.nsh("skopeo", "copy", "--quiet", "--dest-tls-verify=false",
          "oci:%s" % IMAGE_DIR, "docker://127.0.0.1:%d/busybox:1" % port)
    return "127.0.0.1:%d/busybox:1" % port


# an image pull logs its progress (bytes of total), as the kubelet's pulls
# do; into a root of its own, so that the layers are fetched
if shutil.which("docker-registry") and shutil.which("skopeo"):
    ref = registry()
    r = n.nsh(os.path.join(os.path.dirname(IMAGE_DIR), "..", "bin", "berth-agent"), "image",
              "--root", os.path.join(n.tmp, "pullroot"), "pull", ref)
    lines = [l for l in r.stderr.splitlines() if "image: pulling %s: sha256:" % ref in l]
    check(lines and "(100%)" in lines[-1] and len(lines) <= 2 * 2 + 2,
          "pull progress logged, ends at 100%%:\n%s" % "\n".join(lines))
else:
    print("note: no docker-registry/skopeo, pull progress not checked")
print("PASS")
