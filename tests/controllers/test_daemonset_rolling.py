# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""DaemonSet updates: RollingUpdate with maxUnavailable (never fewer than
nodes - maxUnavailable ready pods, checked at every step), with maxSurge
(never fewer than all nodes ready, at most maxSurge extra pods), OnDelete
(nothing replaced until a pod is deleted)."""
import os
import subprocess
import time

from kwok import Cluster, Server, check, fail, items, wait_for

s = Server("--controllers", "daemonset")
c = Cluster(s, period=0.05)
NS = "/apis/apps/v1/namespaces/default/daemonsets"
NODES = ["n1", "n2", "n3", "n4"]
for n in NODES:
    c.add_node(n)


def ds(name, strategy):
    return {"apiVersion": "apps/v1", "kind": "DaemonSet", "metadata": {"name": name},
            "spec": {"selector": {"matchLabels": {"app": name}}, "updateStrategy": strategy,
                     "template": {"metadata": {"labels": {"app": name},
                                               "annotations": {"kwok.berth.dev/ready-after-ms": "300"}},
                                  "spec": {"containers": [{"name": "c", "image": "agent:1"}]}}}}


def pods(name):
    return [p for p in items(s, "/api/v1/namespaces/default/pods?labelSelector=app%3D" + name)]


def ready(p):
    return not p["metadata"].get("deletionTimestamp") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p.get("status", {}).get("conditions", []))


def set_image(name, image):
    st, _, _ = s.req("PATCH", NS + "/" + name, {"spec": {"template": {"spec": {"containers": [
        {"name": "c", "image": image}]}}}}, "application/merge-patch+json")
    check(st == 200, "%s image set to %s" % (name, image))


def roll(name, image, min_ready, max_pods, timeout=30):
    """Watch the update to image: every step keeps min_ready ready pods and
    at most max_pods live pods."""
    set_image(name, image)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ps = pods(name)
        live = [p for p in ps if not p["metadata"].get("deletionTimestamp")]
        nready = sum(1 for p in ps if ready(p))
        if nready < min_ready:
            fail("%s: %d ready pods during the update, want >= %d" % (name, nready, min_ready))
        if len(live) > max_pods:
            fail("%s: %d live pods during the update, want <= %d" % (name, len(live), max_pods))
        done = (len(ps) == len(NODES) and all(ready(p) and p["spec"]["containers"][0]["image"] == image
                                              for p in ps))
        if done:
            print("ok: %s rolled to %s" % (name, image), flush=True)
            return
        time.sleep(0.03)
    fail("%s: not rolled to %s in %ss" % (name, image, timeout))


def settled(name):
    ps = pods(name)
    return len(ps) == len(NODES) and all(ready(p) for p in ps)


st, _, _ = s.req("POST", NS, ds("unav", {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}))
check(st == 201, "maxUnavailable daemonset created")
wait_for("unav on every node", lambda: settled("unav"), 15)
roll("unav", "agent:2", len(NODES) - 1, len(NODES))
wait_for("unav status up to date", lambda: s.req("GET", NS + "/unav")[1]["status"].get(
    "updatedNumberScheduled") == 4 and s.req("GET", NS + "/unav")[1]["status"].get("numberAvailable") == 4, 10)

# ControllerRevisions: history and undo with real kubectl
env = dict(os.environ, KUBECONFIG=os.path.join(s.tmp, "data", "kubeconfig"))
crs = items(s, "/apis/apps/v1/namespaces/default/controllerrevisions")
check(sorted(c_["revision"] for c_ in crs) == [1, 2] and all(
    c_["metadata"]["ownerReferences"][0]["name"] == "unav" for c_ in crs), "two revisions recorded")
out = subprocess.run(["kubectl", "rollout", "history", "ds/unav"], env=env, capture_output=True, text=True, timeout=20)
check(out.returncode == 0 and [l.split()[0] for l in out.stdout.split("\n")[2:] if l.strip()] == ["1", "2"],
      "kubectl rollout history ds: %r %s" % (out.stdout, out.stderr))
out = subprocess.run(["kubectl", "rollout", "undo", "ds/unav"], env=env, capture_output=True, text=True, timeout=20)
check(out.returncode == 0, "kubectl rollout undo ds: %s %s" % (out.stdout, out.stderr))
wait_for("undo rolls back to agent:1", lambda: settled("unav") and all(
    p["spec"]["containers"][0]["image"] == "agent:1" for p in pods("unav")), 30)
wait_for("the old revision renumbered 3", lambda: sorted(
    (c_["revision"], c_["metadata"]["name"]) for c_ in items(s, "/apis/apps/v1/namespaces/default/controllerrevisions")
    if c_["metadata"]["ownerReferences"][0]["name"] == "unav")[-1][1] ==
    sorted(crs, key=lambda c_: c_["revision"])[0]["metadata"]["name"], 10)

st, _, _ = s.req("POST", NS, ds("surge", {"type": "RollingUpdate",
                                          "rollingUpdate": {"maxUnavailable": 0, "maxSurge": 1}}))
check(st == 201, "maxSurge daemonset created")
wait_for("surge on every node", lambda: settled("surge"), 15)
roll("surge", "agent:2", len(NODES), len(NODES) + 1)

st, _, _ = s.req("POST", NS, ds("ondel", {"type": "OnDelete"}))
check(st == 201, "OnDelete daemonset created")
wait_for("ondel on every node", lambda: settled("ondel"), 15)
set_image("ondel", "agent:2")
time.sleep(1)
check(all(p["spec"]["containers"][0]["image"] == "agent:1" for p in pods("ondel")),
      "OnDelete: nothing replaced by itself")
st_ = s.req("GET", NS + "/ondel")[1]["status"]
check(st_.get("updatedNumberScheduled") == 0 and st_.get("observedGeneration") == 2,
      "OnDelete: status shows 0 up to date at generation 2: %s" % st_)
victim = pods("ondel")[0]
s.req("DELETE", "/api/v1/namespaces/default/pods/" + victim["metadata"]["name"])
wait_for("deleted pod replaced at the new template", lambda: any(
    p["spec"]["nodeName"] == victim["spec"]["nodeName"] and p["spec"]["containers"][0]["image"] == "agent:2"
    for p in pods("ondel")), 10)
check(sum(p["spec"]["containers"][0]["image"] == "agent:1" for p in pods("ondel")) == 3,
      "OnDelete: the other pods still old")
check(not c.errors, "kwok errors: %s" % c.errors[:3])
c.stop()
