# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Job back-off: a failing pod is retried after the 10 s back-off, and the
Job fails with BackoffLimitExceeded once failures pass backoffLimit; the
failed pods are kept and counted."""
import time

from kwok import Cluster, Server, check, items, wait_for

s = Server("--controllers", "job,scheduler")
c = Cluster(s, period=0.05)
c.add_node("n1")
NS = "/apis/batch/v1/namespaces/default/jobs"
j = {"apiVersion": "batch/v1", "kind": "Job", "metadata": {"name": "flaky"},
     "spec": {"backoffLimit": 1, "template": {
         "metadata": {"annotations": {"kwok.berth.dev/exit-after-ms": "100", "kwok.berth.dev/exit-code": "1"}},
         "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "busybox"}]}}}}
st, out, _ = s.req("POST", NS, j)
check(st == 201, "job created: %s" % out)


def pods():
    return items(s, "/api/v1/namespaces/default/pods?labelSelector=job-name%3Dflaky")


def failed():
    return [p for p in pods() if p.get("status", {}).get("phase") == "Failed"]


wait_for("first pod failed", lambda: len(failed()) == 1, 10)
t0 = time.monotonic()
wait_for("job counts the failure", lambda: s.req("GET", NS + "/flaky")[1].get("status", {}).get("failed") == 1, 5)
wait_for("a retry pod", lambda: len(pods()) == 2, 15)
waited = time.monotonic() - t0
check(waited > 8, "retry came after the back-off (%.1fs)" % waited)
wait_for("job failed", lambda: any(x["type"] == "Failed" and x["status"] == "True"
                                   for x in s.req("GET", NS + "/flaky")[1].get("status", {}).get("conditions", [])), 10)
st = s.req("GET", NS + "/flaky")[1]["status"]
cond = [x for x in st["conditions"] if x["type"] == "Failed"][0]
check(cond["reason"] == "BackoffLimitExceeded", "reason BackoffLimitExceeded: %s" % cond)
check(st.get("failed") == 2 and st.get("active") == 0 and st.get("succeeded") == 0, "counts: %s" % st)
check(len(pods()) == 2, "no third pod, failed pods kept")
check(not c.errors, "kwok errors: %s" % c.errors[:3])
c.stop()
