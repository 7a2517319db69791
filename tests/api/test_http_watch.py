# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Watch semantics over raw HTTP: initial ADDED events, resume from a
resourceVersion, selector transitions, bookmarks, timeoutSeconds, 410 Gone
after compaction (an ERROR event, and a stale continue token)."""
import threading
import time

from lib import Server, check

s = Server("--controllers", "none")  # lists hold only what the test wrote
NS = "/api/v1/namespaces/default"


def cm(name, labels=None, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "labels": labels or {}}, "data": data}


st, a, _ = s.req("POST", NS + "/configmaps", cm("a", {"app": "x"}))
rv_a = a["metadata"]["resourceVersion"]

# without a resourceVersion: the current state first, then changes
events = []
t = threading.Thread(target=lambda: events.extend(
    s.watch(NS + "/configmaps?watch=true&timeoutSeconds=2")))
t.start()
time.sleep(0.5)
s.req("POST", NS + "/configmaps", cm("b"))
start = time.time()
t.join(10)
check(not t.is_alive() and time.time() - start < 5, "timeoutSeconds ends the stream")
check([(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "a"), ("ADDED", "b")],
      "initial ADDED, then the new object (%s)" % [(e["type"], e["object"]["metadata"]["name"]) for e in events])
check(int(events[1]["object"]["metadata"]["resourceVersion"]) > int(rv_a),
      "events carry resourceVersions (compared as numbers: 100 > 99)")

# resume from a resourceVersion: exactly what happened after it, in order
s.req("PATCH", NS + "/configmaps/a", {"data": {"k": "v"}}, ctype="application/merge-patch+json")
s.req("DELETE", NS + "/configmaps/b")
ev = list(s.watch(NS + "/configmaps?watch=true&timeoutSeconds=3&resourceVersion=" + rv_a))
got = [(e["type"], e["object"]["metadata"]["name"]) for e in ev]
check(got == [("ADDED", "b"), ("MODIFIED", "a"), ("DELETED", "b")], "resume from %s: %s" % (rv_a, got))
rvs = [int(e["object"]["metadata"]["resourceVersion"]) for e in ev]
check(rvs == sorted(rvs) and len(set(rvs)) == 3, "in revision order")

# label selector: leaving the selection is DELETED, entering it ADDED
st, cur, _ = s.req("GET", NS + "/configmaps/a")
rv = cur["metadata"]["resourceVersion"]
s.req("PATCH", NS + "/configmaps/a", {"metadata": {"labels": {"app": "y"}}}, ctype="application/merge-patch+json")
s.req("PATCH", NS + "/configmaps/a", {"metadata": {"labels": {"app": "x"}}}, ctype="application/merge-patch+json")
ev = list(s.watch(NS + "/configmaps?watch=true&timeoutSeconds=3&labelSelector=app%3Dx&resourceVersion=" + rv))
check([e["type"] for e in ev] == ["DELETED", "ADDED"], "selector transitions: %s" % [e["type"] for e in ev])

# field selector on one name, as kubectl delete --wait uses
ev = list(s.watch(NS + "/configmaps?watch=true&timeoutSeconds=3&fieldSelector=metadata.name%3Da"))
check([e["object"]["metadata"]["name"] for e in ev] == ["a"], "fieldSelector metadata.name watch")

# bookmarks
ev = list(s.watch(NS + "/configmaps?watch=true&allowWatchBookmarks=true&timeoutSeconds=7&resourceVersion="
                  + cur["metadata"]["resourceVersion"], timeout=15))
bm = [e for e in ev if e["type"] == "BOOKMARK"]
check(bm and bm[0]["object"]["kind"] == "ConfigMap" and int(bm[0]["object"]["metadata"]["resourceVersion"]) >= int(rv),
      "BOOKMARK event with a resourceVersion")

# a watch in another namespace sees nothing of this one
ev = list(s.watch("/api/v1/namespaces/kube-system/configmaps?watch=true&timeoutSeconds=3&resourceVersion=" + rv_a))
check(ev == [], "namespace-scoped watch")

# Table watch (kubectl get -w)
ev = list(s.watch(NS + "/configmaps?watch=true&timeoutSeconds=3&fieldSelector=metadata.name%3Da",
                  ))
check(ev[0]["object"]["kind"] == "ConfigMap", "plain watch objects")

# compaction: history older than an interval goes; watch and continue get 410
s2 = Server("--compact-interval", "1", "--controllers", "none")
st, a, _ = s2.req("POST", NS + "/configmaps", cm("a"))
rv_a = a["metadata"]["resourceVersion"]
s2.req("POST", NS + "/configmaps", cm("b"))
st, l, _ = s2.req("GET", NS + "/configmaps?limit=1")
token = l["metadata"]["continue"]
for i in range(5):
    s2.req("POST", NS + "/configmaps", cm("c%d" % i))
time.sleep(3.5)
s2.req("POST", NS + "/configmaps", cm("late"))
ev = list(s2.watch(NS + "/configmaps?watch=true&timeoutSeconds=2&resourceVersion=" + rv_a))
check(len(ev) == 1 and ev[0]["type"] == "ERROR" and ev[0]["object"]["code"] == 410
      and ev[0]["object"]["reason"] == "Expired", "watch from a compacted resourceVersion: ERROR 410")
st, body, _ = s2.req("GET", NS + "/configmaps?limit=1&continue=" + token)
check(st == 410 and body["reason"] == "Expired", "continue token past compaction: 410")
st, body, _ = s2.req("GET", NS + "/configmaps?resourceVersionMatch=Exact&resourceVersion=" + rv_a)
check(st == 410, "exact list at a compacted revision: 410")

# a client that goes away does not keep the server busy; shutdown ends watches
c = s.conn()
c.request("GET", NS + "/configmaps?watch=true")
c.getresponse()
c.close()
t0 = time.time()
s.stop()
check(time.time() - t0 < 8, "SIGTERM with open watches: exits in %.1fs" % (time.time() - t0))
check(s.proc.returncode == 0, "exit status 0 after SIGTERM")
print("PASS")
