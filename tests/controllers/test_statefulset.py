# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""StatefulSet controller: ordinal names, hostname/subdomain and labels;
OrderedReady start (ordinal N never before 0..N-1 are Ready, checked at
every step) and stop (highest first, one at a time); Parallel; rolling
update from the highest ordinal, partition; status; kubectl columns; the
422 for volumeClaimTemplates."""
import os
import subprocess
import time

from kwok import Cluster, Server, check, fail, items, wait_for

s = Server("--controllers", "statefulset,scheduler")
c = Cluster(s, period=0.05)
c.add_node("n1")
c.add_node("n2")
NS = "/apis/apps/v1/namespaces/default/statefulsets"


def sts(name, replicas, policy="OrderedReady", image="db:1", **spec):
    o = {"apiVersion": "apps/v1", "kind": "StatefulSet", "metadata": {"name": name},
         "spec": {"replicas": replicas, "serviceName": name + "-svc", "podManagementPolicy": policy,
                  "selector": {"matchLabels": {"app": name}},
                  "template": {"metadata": {"labels": {"app": name},
                                            "annotations": {"kwok.berth.dev/ready-after-ms": "400"}},
                               "spec": {"containers": [{"name": "c", "image": image}]}}}}
    o["spec"].update(spec)
    return o


def pods(name):
    return {p["metadata"]["name"]: p for p in
            items(s, "/api/v1/namespaces/default/pods?labelSelector=app%3D" + name)}


def ready(p):
    return not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


def get(name):
    return s.req("GET", NS + "/" + name)[1]


def watch(name, what, done, step, timeout=30):
    """Poll pods until done(pods); step(pods) checks the invariant each time."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ps = pods(name)
        step(ps)
        if done(ps):
            print("ok: " + what, flush=True)
            return
        time.sleep(0.02)
    fail("%s: not after %ss: %s" % (what, timeout, sorted(pods(name))))


def ordered_start(ps):
    for i in range(1, 10):
        if "web-%d" % i in ps:
            for j in range(i):
                p = ps.get("web-%d" % j)
                if not p or not ready(p):
                    fail("web-%d exists while web-%d is not Ready" % (i, j))


def all_ready(name, n):
    return lambda ps: len(ps) == n and all(ready(ps["%s-%d" % (name, i)]) for i in range(n)
                                           if "%s-%d" % (name, i) in ps)


# 422 for volumeClaimTemplates
st, out, _ = s.req("POST", NS, sts("vol", 1, volumeClaimTemplates=[
    {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"],
                                            "resources": {"requests": {"storage": "1Gi"}}}}]))
check(st == 422 and "volumeClaimTemplates" in out.get("message", ""), "volumeClaimTemplates rejected: %d %s" % (st, out))

# OrderedReady start
st, out, _ = s.req("POST", NS, sts("web", 3))
check(st == 201, "statefulset created: %s" % out)
watch("web", "ordered start of 3", all_ready("web", 3), ordered_start)
p = pods("web")["web-1"]
check(p["spec"]["hostname"] == "web-1" and p["spec"]["subdomain"] == "web-svc", "hostname/subdomain")
lab = p["metadata"]["labels"]
check(lab.get("statefulset.kubernetes.io/pod-name") == "web-1" and lab.get("apps.kubernetes.io/pod-index") == "1"
      and lab.get("controller-revision-hash", "").startswith("web-"), "pod labels: %s" % lab)
wait_for("status ready 3", lambda: get("web").get("status", {}).get("readyReplicas") == 3, 5)
st_ = get("web")["status"]
check(st_["replicas"] == 3 and st_["currentReplicas"] == 3 and st_["updatedReplicas"] == 3 and
      st_["availableReplicas"] == 3 and st_["currentRevision"] == st_["updateRevision"] ==
      lab["controller-revision-hash"] and st_["observedGeneration"] == 1, "status: %s" % st_)
env = dict(os.environ, KUBECONFIG=os.path.join(s.tmp, "data", "kubeconfig"))
out = subprocess.run(["kubectl", "get", "sts", "web"], env=env, capture_output=True, text=True, timeout=20)
check(out.stdout.split()[:6] == ["NAME", "READY", "AGE", "web", "3/3", out.stdout.split()[5]],
      "kubectl get sts: %r" % out.stdout)

# scale up continues in order; scale down goes from the highest, one at a time
s.req("PATCH", NS + "/web", {"spec": {"replicas": 5}}, "application/merge-patch+json")
watch("web", "ordered scale up to 5", all_ready("web", 5), ordered_start)
s.req("PATCH", NS + "/web", {"spec": {"replicas": 2}}, "application/merge-patch+json")
gone = []


def ordered_stop(ps):
    going = sorted(n for n, p in ps.items() if p["metadata"].get("deletionTimestamp"))
    if len(going) > 1:
        fail("more than one pod terminating at once: %s" % going)
    for n in ("web-4", "web-3", "web-2"):
        if n not in ps and n not in gone:
            gone.append(n)


watch("web", "scale down to 2", lambda ps: sorted(ps) == ["web-0", "web-1"], ordered_stop)
check(gone == ["web-4", "web-3", "web-2"], "removed highest first: %s" % gone)

# rolling update from the highest ordinal, held at a partition
s.req("PATCH", NS + "/web", {"spec": {"replicas": 4}}, "application/merge-patch+json")
watch("web", "back to 4", all_ready("web", 4), ordered_start)
s.req("PATCH", NS + "/web", {"spec": {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 2},
                                                         }, "template": {"spec": {"containers": [
                                                             {"name": "c", "image": "db:2"}]}}}},
      "application/merge-patch+json")
order = []


def roll_step(ps):
    for n, p in ps.items():
        if p["spec"]["containers"][0]["image"] == "db:2" and n not in order:
            order.append(n)
    down = [n for n, p in ps.items() if not ready(p)]
    if len(down) + (4 - len(ps)) > 1:
        fail("more than one pod down during the update: %s" % sorted(ps))


watch("web", "partition 2: ordinals 3 and 2 updated", lambda ps: len(order) == 2 and all_ready("web", 4)(ps),
      roll_step)
check(order == ["web-3", "web-2"], "updated from the highest ordinal: %s" % order)
time.sleep(0.8)
check(sorted(n for n, p in pods("web").items() if p["spec"]["containers"][0]["image"] == "db:2") ==
      ["web-2", "web-3"], "ordinals below the partition kept")
st_ = get("web")["status"]
check(st_["updatedReplicas"] == 2 and st_["currentReplicas"] == 2 and st_["currentRevision"] != st_["updateRevision"],
      "status during a partitioned update: %s" % st_)
# a pod below the partition that is deleted comes back at the current revision
s.req("DELETE", "/api/v1/namespaces/default/pods/web-0")
wait_for("web-0 back at the current revision", lambda: (lambda p: p and not p["metadata"].get("deletionTimestamp")
                                                        and p["spec"]["containers"][0]["image"] == "db:1" and
                                                        p["metadata"]["labels"]["controller-revision-hash"] ==
                                                        st_["currentRevision"])(pods("web").get("web-0")), 10)
watch("web", "all ready again", all_ready("web", 4), lambda ps: None)
s.req("PATCH", NS + "/web", {"spec": {"updateStrategy": {"rollingUpdate": {"partition": 0}}}},
      "application/merge-patch+json")
watch("web", "rest updated", lambda ps: len(order) == 4 and all_ready("web", 4)(ps), roll_step)
check(order == ["web-3", "web-2", "web-1", "web-0"], "whole order: %s" % order)
out = subprocess.run(["kubectl", "rollout", "status", "sts/web", "--timeout=20s"], env=env,
                     capture_output=True, text=True, timeout=30)
check(out.returncode == 0 and "roll" in out.stdout, "kubectl rollout status sts: %s %s" % (out.stdout, out.stderr))
st, out, _ = s.req("PATCH", NS + "/web", {"spec": {"volumeClaimTemplates": [
    {"metadata": {"name": "data"}, "spec": {"accessModes": ["ReadWriteOnce"]}}]}}, "application/merge-patch+json")
check(st == 422, "volumeClaimTemplates rejected on update too: %d" % st)
wait_for("revision current", lambda: get("web")["status"].get("currentRevision") ==
         get("web")["status"].get("updateRevision") and get("web")["status"].get("currentReplicas") == 4, 5)

out = subprocess.run(["kubectl", "rollout", "history", "sts/web"], env=env, capture_output=True, text=True, timeout=20)
check(out.returncode == 0 and [l.split()[0] for l in out.stdout.split("\n")[2:] if l.strip()] == ["1", "2"],
      "kubectl rollout history sts: %r %s" % (out.stdout, out.stderr))
out = subprocess.run(["kubectl", "rollout", "undo", "sts/web"], env=env, capture_output=True, text=True, timeout=20)
check(out.returncode == 0, "kubectl rollout undo sts: %s %s" % (out.stdout, out.stderr))
order.clear()
def undo_step(ps):
    for n, p in ps.items():
        if p["spec"]["containers"][0]["image"] == "db:1" and n not in order:
            order.append(n)
watch("web", "undo back to db:1", lambda ps: len(order) == 4 and all_ready("web", 4)(ps), undo_step)
check(order == ["web-3", "web-2", "web-1", "web-0"], "undo from the highest ordinal: %s" % order)

# Parallel: all pods at once, before any is Ready
st, _, _ = s.req("POST", NS, sts("par", 3, "Parallel"))
check(st == 201, "parallel statefulset created")
first = wait_for("parallel: all three created", lambda: len(pods("par")) == 3 and pods("par"), 5)
check(sum(ready(p) for p in first.values()) < 3, "created before all were Ready")
wait_for("parallel all ready", lambda: all_ready("par", 3)(pods("par")), 10)
s.req("PATCH", NS + "/par", {"spec": {"replicas": 0}}, "application/merge-patch+json")
both = wait_for("parallel scale down: all terminating at once", lambda: (lambda ps: len(ps) == 3 and all(
    p["metadata"].get("deletionTimestamp") for p in ps.values()))(pods("par")) or not pods("par"), 5)
wait_for("parallel gone", lambda: not pods("par"), 10)

# OnDelete: nothing replaced until deleted
st, _, _ = s.req("POST", NS, sts("od", 2, updateStrategy={"type": "OnDelete"}))
wait_for("od ready", lambda: all_ready("od", 2)(pods("od")), 10)
s.req("PATCH", NS + "/od", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "db:2"}]}}}},
      "application/merge-patch+json")
time.sleep(0.8)
check(all(p["spec"]["containers"][0]["image"] == "db:1" for p in pods("od").values()), "OnDelete keeps pods")
s.req("DELETE", "/api/v1/namespaces/default/pods/od-1")
wait_for("od-1 back at the new template", lambda: (lambda p: p and p["spec"]["containers"][0]["image"] == "db:2"
                                                   and not p["metadata"].get("deletionTimestamp"))(
    pods("od").get("od-1")), 10)
check(not c.errors, "kwok errors: %s" % c.errors[:3])
c.stop()
