# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Deployment controller, the other paths: Recreate never running old and
new pods together, maxSurge/maxUnavailable percentages, proportional
scaling during a stuck rollout, progressDeadlineSeconds, pause/resume,
revisionHistoryLimit."""
import time

from deploylib import D, REV, PodWatch, check, deploy, get, items, kubectl, kw, owned_rs, rolled_out, s, wait_for


def hash_of(p):
    return p["metadata"]["labels"].get("pod-template-hash")


def cond(name, t):
    c = [c for c in get(D + "/" + name).get("status", {}).get("conditions", []) if c["type"] == t]
    return c[0] if c else {}


def sizes(d):
    return [r["spec"]["replicas"] for r in owned_rs(d)]


def set_template(name, image, ann=None):
    a = {"kwok.berth.dev/ready-after-ms": "200", "kwok.berth.dev/not-ready": None}
    a.update(ann or {})
    st, _, _ = s.req("PATCH", D + "/" + name,
                     {"spec": {"template": {"metadata": {"annotations": a},
                                            "spec": {"containers": [{"name": "c", "image": image}]}}}},
                     "application/strategic-merge-patch+json")
    check(st == 200, "%s template set to %s" % (name, image))


# ---- Recreate: the old pods are all gone before a new one exists ----
st, _, _ = s.req("POST", D, {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "both0"},
                             "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "both0"}},
                                      "strategy": {"rollingUpdate": {"maxSurge": 0, "maxUnavailable": "0%"}},
                                      "template": {"metadata": {"labels": {"app": "both0"}},
                                                   "spec": {"containers": [{"name": "c", "image": "i"}]}}}})
check(st == 422, "maxSurge and maxUnavailable both 0 refused: %d" % st)
rec = deploy("rec", "img:1", replicas=3)
s.req("PATCH", D + "/rec", {"spec": {"strategy": {"type": "Recreate", "rollingUpdate": None}}},
      "application/merge-patch+json")
wait_for("rec rolled out", rolled_out("rec", "img:1"), 20)
seen = set()


def one_template(pods):
    hs = set(hash_of(p) for p in pods)  # terminating ones too
    seen.update(hs)
    return "old and new pods together: %s" % hs if len(hs) > 1 else None


w = PodWatch("rec", one_template)
set_template("rec", "img:2")
wait_for("rec rolled out to img:2", rolled_out("rec", "img:2"), 20)
w.close()
check(len(seen) == 2 and not w.bad, "Recreate never overlapped old and new pods: %s" % w.bad[:2])
check(sizes(rec) == [0, 3], "old RS 0, new RS 3")

# ---- percentages, a stuck rollout, the deadline, proportional scaling ----
prop = deploy("prop", "img:1", replicas=10, surge="25%", unavail="25%")
s.req("PATCH", D + "/prop", {"spec": {"progressDeadlineSeconds": 2}}, "application/merge-patch+json")
wait_for("prop rolled out", rolled_out("prop", "img:1"), 20)
check(owned_rs(prop)[0]["metadata"]["annotations"]["deployment.kubernetes.io/max-replicas"] == "13",
      "maxSurge 25% of 10 rounds up to 3")
set_template("prop", "img:2", {"kwok.berth.dev/not-ready": "true"})
# maxUnavailable 25% rounds down to 2: old 8 available, new 5 never ready
wait_for("rollout stuck at old 8, new 5", lambda: sizes(prop) == [8, 5], 10)
wait_for("progress deadline exceeded", lambda: cond("prop", "Progressing").get("reason") ==
         "ProgressDeadlineExceeded" and cond("prop", "Progressing")["status"] == "False", 10)
check(cond("prop", "Available")["status"] == "True", "8 of 10 available is minimum availability")
st = get(D + "/prop")["status"]
check((st["replicas"], st["updatedReplicas"], st["availableReplicas"], st["unavailableReplicas"]) == (13, 5, 8, 2),
      "stuck status counts: %s" % st)
p = kubectl("rollout", "status", "deploy/prop", "--timeout=20s", ok=False)
check(p.returncode != 0 and "exceeded its progress deadline" in p.stderr,
      "kubectl rollout status reports the deadline: " + p.stderr[-200:])
st, _, _ = s.req("PATCH", D + "/prop/scale", {"spec": {"replicas": 20}}, "application/merge-patch+json")
check(st == 200, "prop scaled to 20")
# 25 allowed (20 + 5 surge), spread as 8:5 of 13 were: 15 and 10
wait_for("proportional scale up", lambda: sizes(prop) == [15, 10], 10)
kubectl("rollout", "pause", "deploy/prop")
wait_for("Progressing: DeploymentPaused", lambda: cond("prop", "Progressing").get("reason") == "DeploymentPaused", 5)
set_template("prop", "img:3")
st, _, _ = s.req("PATCH", D + "/prop/scale", {"spec": {"replicas": 10}}, "application/merge-patch+json")
# paused: still proportional (13 allowed: 15 -> 8, 10 -> 5), no new RS
wait_for("proportional scale down while paused", lambda: sizes(prop) == [8, 5], 10)
time.sleep(0.5)
check(len(owned_rs(prop)) == 2, "no rollout while paused")
kubectl("rollout", "resume", "deploy/prop")
p = kubectl("rollout", "status", "deploy/prop", "--timeout=40s", timeout=50)
check("successfully rolled out" in p.stdout, "resumed rollout finished")
wait_for("prop on img:3", rolled_out("prop", "img:3"), 10)
check(sizes(prop) == [0, 0, 10], "all on the third RS")
wait_for("Progressing: NewReplicaSetAvailable",
         lambda: cond("prop", "Progressing").get("reason") == "NewReplicaSetAvailable", 5)

# ---- no minimum availability; adoption of a matching orphan ReplicaSet ----
deploy("never", "img:1", replicas=2, ann={"kwok.berth.dev/not-ready": "true"})
wait_for("Available False", lambda: cond("never", "Available").get("reason") == "MinimumReplicasUnavailable"
         and cond("never", "Available")["status"] == "False", 10)
p = kubectl("get", "deploy", "never")
check(p.stdout.split("\n")[1].split()[1:4] == ["0/2", "2", "0"], "kubectl get deploy: 0/2 ready: " + p.stdout)
orphan = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": "stray", "labels": {"app": "adopt"}},
          "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "adopt"}},
                   "template": {"metadata": {"labels": {"app": "adopt"}},
                                "spec": {"containers": [{"name": "c", "image": "img:0"}]}}}}
st, _, _ = s.req("POST", "/apis/apps/v1/namespaces/default/replicasets", orphan)
check(st == 201, "orphan replicaset created")
ad = deploy("adopt", "img:1", replicas=2)
wait_for("adopt rolled out", rolled_out("adopt", "img:1"), 20)
check([r["metadata"]["name"] for r in owned_rs(ad)][0] == "stray" and sizes(ad)[0] == 0,
      "orphan RS adopted as an old revision and scaled to 0")

# ---- a name taken by a foreign ReplicaSet: collisionCount, another hash ----
s.req("POST", "/api/v1/namespaces", {"metadata": {"name": "other"}})
tmpl = {"metadata": {"labels": {"app": "col"}}, "spec": {"containers": [{"name": "c", "image": "img:1"}]}}
dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "col"},
       "spec": {"replicas": 1, "selector": {"matchLabels": {"app": "col"}}, "template": tmpl}}
s.req("POST", "/apis/apps/v1/namespaces/other/deployments", dep)
rs_o = wait_for("hash of the template", lambda: [r for r in items(s, "/apis/apps/v1/namespaces/other/replicasets")], 10)
taken = rs_o[0]["metadata"]["name"]
squat = {"apiVersion": "apps/v1", "kind": "ReplicaSet", "metadata": {"name": taken},
         "spec": {"replicas": 0, "selector": {"matchLabels": {"app": "squat"}},
                  "template": {"metadata": {"labels": {"app": "squat"}}, "spec": tmpl["spec"]}}}
st, _, _ = s.req("POST", "/apis/apps/v1/namespaces/default/replicasets", squat)
check(st == 201, "foreign replicaset %s created" % taken)
st, col, _ = s.req("POST", D, dep)
wait_for("col rolled out under another name", lambda: get(D + "/col").get("status", {}).get("collisionCount") == 1
         and [r["metadata"]["name"] for r in owned_rs(col)] not in ([], [taken])
         and get(D + "/col")["status"].get("availableReplicas") == 1, 10)

# ---- revisionHistoryLimit ----
hist = deploy("hist", "img:1", replicas=1, surge=1, unavail=0)
s.req("PATCH", D + "/hist", {"spec": {"revisionHistoryLimit": 1}}, "application/merge-patch+json")
for i in (2, 3, 4):
    set_template("hist", "img:%d" % i)
    wait_for("hist on img:%d" % i, rolled_out("hist", "img:%d" % i), 20)
wait_for("one old RS kept", lambda: [r["metadata"]["annotations"][REV] for r in owned_rs(hist)] == ["3", "4"], 10)
check(not kw.errors, "kwok saw no errors: %s" % kw.errors[:3])
