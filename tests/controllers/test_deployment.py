# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Deployment controller, rolling update: ReplicaSets named by the template
hash with revisions, a rollout with replicas 6, maxSurge 1, maxUnavailable 1
checked at every pod change (a watch), `kubectl get deploy` columns,
`kubectl rollout status|history|undo|restart`."""
from deploylib import (D, REV, PODS, PodWatch, alive, check, deploy, get, items, kubectl, kw,
                       owned_rs, ready, rolled_out, s, wait_for)


# ---- first rollout: the RS and its annotations ----
d = deploy("web", "img:1")
wait_for("web rolled out", rolled_out("web", "img:1"), 20)
rss = owned_rs(d)
check(len(rss) == 1, "one replicaset")
rs = rss[0]
h = rs["metadata"]["labels"]["pod-template-hash"]
check(rs["metadata"]["name"] == "web-" + h, "named web-<hash>: " + rs["metadata"]["name"])
check(rs["spec"]["selector"]["matchLabels"] == {"app": "web", "pod-template-hash": h},
      "hash in the selector")
check(rs["spec"]["template"]["metadata"]["labels"]["pod-template-hash"] == h, "hash in the template")
ann = rs["metadata"]["annotations"]
check(ann[REV] == "1" and ann["deployment.kubernetes.io/desired-replicas"] == "6"
      and ann["deployment.kubernetes.io/max-replicas"] == "7", "revision/desired/max annotations: %s" % ann)
ref = rs["metadata"]["ownerReferences"][0]
check(ref["kind"] == "Deployment" and ref["controller"] and ref["blockOwnerDeletion"], "owned by the deployment")
d = get(D + "/web")
check(d["metadata"]["annotations"][REV] == "1", "deployment revision 1")
conds = {c["type"]: c for c in d["status"]["conditions"]}
check(conds["Available"]["status"] == "True" and conds["Available"]["reason"] == "MinimumReplicasAvailable",
      "Available condition")
check(conds["Progressing"]["status"] == "True" and conds["Progressing"]["reason"] == "NewReplicaSetAvailable",
      "Progressing: NewReplicaSetAvailable")
p = kubectl("get", "deploy", "web")
lines = p.stdout.split("\n")
check(lines[0].split()[:5] == ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]
      and lines[1].split()[:4] == ["web", "6/6", "6", "6"], "kubectl get deploy columns: " + p.stdout)

# ---- a rolling update within maxSurge and maxUnavailable, at every change ----
hashes = set()


def within(pods):
    live = alive(pods)
    for p in live:
        hashes.add(p["metadata"]["labels"].get("pod-template-hash"))
    nready = sum(1 for p in live if ready(p))
    if len(live) > 7:
        return "%d pods (> 6 + maxSurge 1)" % len(live)
    if nready < 5:
        return "%d ready pods (< 6 - maxUnavailable 1)" % nready
    return None


w = PodWatch("web", within)
st, _, _ = s.req("PATCH", D + "/web", {"spec": {"template": {"spec": {"containers": [{"name": "c", "image": "img:2"}]}}}},
                 "application/strategic-merge-patch+json")
check(st == 200, "image set to img:2")
p = kubectl("rollout", "status", "deploy/web", "--timeout=40s", timeout=50)
check("successfully rolled out" in p.stdout, "kubectl rollout status finished: " + p.stdout[-200:])
wait_for("web rolled out to img:2", rolled_out("web", "img:2"), 10)
wait_for("old pods gone", lambda: all(
    p["spec"]["containers"][0]["image"] == "img:2" for p in items(s, PODS + "?labelSelector=app%3Dweb")), 10)
w.close()
check(w.events > 20 and len(hashes) == 2, "watched the rollout: %d events" % w.events)
check(not w.bad, "never more than 7 pods nor fewer than 5 ready: %s" % w.bad[:3])
rss = owned_rs(d)
check([r["metadata"]["annotations"][REV] for r in rss] == ["1", "2"], "revisions 1 and 2")
check(rss[0]["spec"]["replicas"] == 0 and rss[1]["spec"]["replicas"] == 6, "old RS at 0, new at 6")
check(get(D + "/web")["metadata"]["annotations"][REV] == "2", "deployment revision 2")
evs = items(s, "/api/v1/namespaces/default/events")
check(any(e["reason"] == "ScalingReplicaSet" and e["involvedObject"]["name"] == "web"
          and "Scaled up replica set" in e["message"] for e in evs), "ScalingReplicaSet events")

# ---- history, undo, restart ----
p = kubectl("rollout", "history", "deploy/web")
check([l.split()[0] for l in p.stdout.split("\n")[2:] if l.strip()] == ["1", "2"],
      "rollout history lists 1 and 2: " + p.stdout)
p = kubectl("rollout", "history", "deploy/web", "--revision=1")
check("img:1" in p.stdout, "history --revision=1 shows img:1")
kubectl("rollout", "undo", "deploy/web")
wait_for("undo restored img:1", rolled_out("web", "img:1"), 20)
rss = owned_rs(d)
check(len(rss) == 2, "undo reused the old replicaset")
check(rss[-1]["metadata"]["labels"]["pod-template-hash"] == h
      and rss[-1]["metadata"]["annotations"][REV] == "3"
      and rss[-1]["metadata"]["annotations"].get("deployment.kubernetes.io/revision-history") == "1",
      "old RS is revision 3 with history 1")
check(get(D + "/web")["metadata"]["annotations"][REV] == "3", "deployment revision 3")
kubectl("rollout", "status", "deploy/web", "--timeout=30s")
kubectl("rollout", "undo", "deploy/web", "--to-revision=2")
wait_for("undo --to-revision=2 restored img:2", rolled_out("web", "img:2"), 20)
kubectl("rollout", "restart", "deploy/web")
d2 = get(D + "/web")
check("kubectl.kubernetes.io/restartedAt" in d2["spec"]["template"]["metadata"]["annotations"],
      "restart annotated the template")
p = kubectl("rollout", "status", "deploy/web", "--timeout=40s", timeout=50)
check("successfully rolled out" in p.stdout, "restart rolled out")
rss = owned_rs(d)
check(len(rss) == 3 and rss[-1]["metadata"]["annotations"][REV] == "5"
      and rss[-1]["spec"]["replicas"] == 6, "restart made revision 5")
check(not kw.errors, "kwok saw no errors: %s" % kw.errors[:3])
