# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Many endpoints: more than 100 split across EndpointSlices of at most 100
(and a pod more or less rewrites one slice, not all); Endpoints stop at
1000 addresses with the over-capacity annotation, which goes when the
Service is back under. Pods get their IP and readiness straight through
the status subresource, no kubelet needed."""
import threading

from kwok import Server, check, fail, wait_for

NS = "default"
PODS = "/api/v1/namespaces/%s/pods" % NS
SLICES = "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % NS

NOW = {"kind": "DeleteOptions", "apiVersion": "v1", "gracePeriodSeconds": 0}  # no kubelet to wait for

s = Server("--controllers", "endpointslice,endpoints")


def make_pods(app, first, count):
    errors = []

    def work(lo, hi):
        for i in range(lo, hi):
            name = "%s-%04d" % (app, i)
            body = {"apiVersion": "v1", "kind": "Pod",
                    "metadata": {"name": name, "labels": {"app": app}},
                    "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "x"}]}}
            st, out, _ = s.req("POST", PODS, body)
            if st != 201:
                errors.append("create %s: %d %s" % (name, st, out))
                continue
            ip = "10.%d.%d.%d" % (100 + i // 62500, i // 250 % 250, i % 250 + 1)
            status = {"status": {"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}],
                                 "conditions": [{"type": "Ready", "status": "True"}]}}
            st, out, _ = s.req("PATCH", "%s/%s/status" % (PODS, name), status,
                               "application/merge-patch+json")
            if st != 200:
                errors.append("status %s: %d %s" % (name, st, out))
    step = (count + 3) // 4
    ts = [threading.Thread(target=work, args=(lo, min(lo + step, first + count)))
          for lo in range(first, first + count, step)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        fail(errors[0])


def slices(svc):
    st, out, _ = s.req("GET", SLICES + "?labelSelector=kubernetes.io/service-name%3D" + svc)
    return out["items"] if st == 200 else []


def svc(name, app):
    st, _, _ = s.req("POST", "/api/v1/namespaces/%s/services" % NS,
                     {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
                      "spec": {"selector": {"app": app}, "ports": [{"port": 80, "targetPort": 8080}]}})
    check(st == 201, "Service %s created" % name)


# ---- 230 endpoints: three slices of at most 100 ----
svc("mid", "mid")
make_pods("mid", 0, 230)
sl = wait_for("230 endpoints in slices of at most 100",
              lambda: (lambda sl: sl if sum(len(x.get("endpoints") or []) for x in sl) == 230 else None)(
                  slices("mid")), 20)
check(len(sl) == 3 and all(len(x["endpoints"]) <= 100 for x in sl), "three slices: %s" %
      [len(x["endpoints"]) for x in sl])
check(all(x["ports"] == [{"name": "", "protocol": "TCP", "port": 8080}] for x in sl), "numeric targetPort as is")
names = {e["targetRef"]["name"] for x in sl for e in x["endpoints"]}
check(len(names) == 230, "every pod once")
before = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in sl}
st, _, _ = s.req("DELETE", PODS + "/mid-0007", NOW)
check(st == 200, "one pod deleted")
wait_for("229 endpoints", lambda: sum(len(x.get("endpoints") or []) for x in slices("mid")) == 229, 10)
after = {x["metadata"]["name"]: x["metadata"]["resourceVersion"] for x in slices("mid")}
check(set(after) == set(before) and sum(after[k] != before[k] for k in after) == 1,
      "one pod less rewrites one slice: %s -> %s" % (before, after))

# ---- 1001 addresses: Endpoints truncated to 1000 ----
svc("big", "big")
make_pods("big", 0, 1001)


def ep_count():
    st, out, _ = s.req("GET", "/api/v1/namespaces/%s/endpoints/big" % NS)
    if st != 200:
        return None
    n = sum(len(sub.get("addresses") or []) for sub in out.get("subsets") or [])
    return n, (out["metadata"].get("annotations") or {}).get("endpoints.kubernetes.io/over-capacity")


wait_for("Endpoints truncated at 1000 with the over-capacity annotation",
         lambda: ep_count() == (1000, "truncated"), 30)
wait_for("all 1001 in slices", lambda: sum(len(x.get("endpoints") or []) for x in slices("big")) == 1001, 20)
st, _, _ = s.req("DELETE", PODS + "/big-0000", NOW)
wait_for("back to 1000: no truncation annotation", lambda: ep_count() == (1000, None), 10)
