# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""EndpointSlice and Endpoints controllers: slices and Endpoints follow the
pods a Service selects as they become ready, not ready, terminating and
gone; a named targetPort is resolved per pod (two numbers, two slices);
headless Services and publishNotReadyAddresses; a Service without a
selector is left alone; nothing is written when nothing changed; kubectl
prints both kinds; both go with the Service."""
import os
import subprocess
import time

from kwok import A, Cluster, Server, check, wait_for
from ctlhelp import have_scheduler

NS = "default"
SLICES = "/apis/discovery.k8s.io/v1/namespaces/%s/endpointslices" % NS
EPS = "/api/v1/namespaces/%s/endpoints" % NS
PODS = "/api/v1/namespaces/%s/pods" % NS
SVCS = "/api/v1/namespaces/%s/services" % NS
MANAGED = "endpointslice.kubernetes.io/managed-by=endpointslice-controller.k8s.io"


def pod(name, http_port, app="web", ann=None, finalizers=None):
    return {"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "labels": {"app": app}, "annotations": ann or {},
                         "finalizers": finalizers or []},
            "spec": {"containers": [{"name": "c", "image": "x", "ports": [
                {"name": "http", "containerPort": http_port},
                {"name": "metrics", "containerPort": 9090}]}]}}


def svc(name, selector, **spec):
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name, "labels": {"tier": "front"}},
            "spec": {"ports": [{"name": "http", "port": 80, "targetPort": "http"},
                               {"name": "metrics", "port": 9000, "targetPort": 9090}]}}
    if selector:
        body["spec"]["selector"] = selector
    body["spec"].update(spec)
    return body


def create(path, body):
    st, out, _ = s.req("POST", path, body)
    check(st == 201, "create %s %s" % (body["kind"], body["metadata"]["name"]))
    return out


def slices(service):
    st, out, _ = s.req("GET", SLICES + "?labelSelector=kubernetes.io/service-name%3D" + service)
    return out["items"] if st == 200 else []


def eps_by_pod(service):
    """pod name -> (slice ports as (name, port) tuple, endpoint)"""
    res = {}
    for sl in slices(service):
        ports = tuple(sorted((p["name"], p["port"]) for p in sl.get("ports") or []))
        for e in sl.get("endpoints") or []:
            res[e["targetRef"]["name"]] = (ports, e)
    return res


def endpoints(service):
    st, out, _ = s.req("GET", EPS + "/" + service)
    return out if st == 200 else None


def ep_addrs(service):
    """{ports tuple: (ready pod names, not ready pod names)}"""
    ep = endpoints(service)
    res = {}
    for sub in (ep or {}).get("subsets") or []:
        ports = tuple(sorted((p.get("name", ""), p["port"]) for p in sub.get("ports") or []))
        res[ports] = (sorted(a["targetRef"]["name"] for a in sub.get("addresses") or []),
                      sorted(a["targetRef"]["name"] for a in sub.get("notReadyAddresses") or []))
    return res


def rvs(service):
    out = {sl["metadata"]["name"]: sl["metadata"]["resourceVersion"] for sl in slices(service)}
    ep = endpoints(service)
    out["endpoints"] = ep and ep["metadata"]["resourceVersion"]
    return out


s = Server("--controllers", "endpointslice,endpoints,garbagecollector,scheduler")
cl = Cluster(s, bind=not have_scheduler())
cl.add_node("n1", labels={"topology.kubernetes.io/zone": "zone-a"})

# ---- a Service before its pods: one empty slice, Endpoints without subsets ----
web = create(SVCS, svc("web", {"app": "web"}))
sl = wait_for("placeholder slice for a Service without pods", lambda: slices("web"), 5)
check(len(sl) == 1 and not sl[0].get("endpoints") and sl[0]["addressType"] == "IPv4",
      "one slice, no endpoints, IPv4")
lab = sl[0]["metadata"]["labels"]
check(lab.get("kubernetes.io/service-name") == "web"
      and lab.get("endpointslice.kubernetes.io/managed-by") == "endpointslice-controller.k8s.io"
      and lab.get("tier") == "front", "slice labels: %s" % lab)
ref = sl[0]["metadata"]["ownerReferences"][0]
check(ref["kind"] == "Service" and ref["uid"] == web["metadata"]["uid"] and ref["controller"],
      "slice owned by the Service")
ep = wait_for("Endpoints for the Service", lambda: endpoints("web"), 5)
check(not ep.get("subsets") and not ep["metadata"].get("ownerReferences")
      and ep["metadata"]["labels"] == {"tier": "front", "endpoints.kubernetes.io/managed-by": "endpoint-controller"},
      "empty Endpoints, owned by nobody, labelled: %s" % ep["metadata"])

# ---- pods: named port per pod, ready and not ready ----
create(PODS, pod("w1", 8080))
create(PODS, pod("w2", 8080))
create(PODS, pod("w3", 8081))
create(PODS, pod("nr", 8080, ann={A + "not-ready": "true"}))
create(PODS, pod("other", 8080, app="other"))
P8080 = (("http", 8080), ("metrics", 9090))
P8081 = (("http", 8081), ("metrics", 9090))
wait_for("slices: w1 w2 nr on 8080, w3 on 8081, ready as the pods",
         lambda: (lambda m: set(m) == {"w1", "w2", "w3", "nr"}
                  and m["w1"][0] == P8080 and m["w2"][0] == P8080 and m["nr"][0] == P8080
                  and m["w3"][0] == P8081
                  and all(m[p][1]["conditions"] == {"ready": True, "serving": True, "terminating": False}
                          for p in ("w1", "w2", "w3"))
                  and m["nr"][1]["conditions"] == {"ready": False, "serving": False, "terminating": False})(
             eps_by_pod("web")), 15)
check(len(slices("web")) == 2, "two port numbers for one name: two slices")
e = eps_by_pod("web")["w1"][1]
check(e["nodeName"] == "n1" and e.get("zone") == "zone-a" and e["targetRef"]["kind"] == "Pod"
      and e["targetRef"]["namespace"] == NS and len(e["addresses"]) == 1,
      "endpoint has nodeName, zone, targetRef, address: %s" % e)
wait_for("Endpoints: addresses by port set, not ready apart",
         lambda: ep_addrs("web") == {P8080: (["w1", "w2"], ["nr"]), P8081: (["w3"], [])}, 10)

# ---- nothing changes: nothing is written ----
before = rvs("web")
s.req("PATCH", PODS + "/w1", {"metadata": {"annotations": {"unrelated": "x"}}}, "application/merge-patch+json")
s.req("PATCH", SVCS + "/web", {"metadata": {"annotations": {"note": "y"}}}, "application/merge-patch+json")
time.sleep(1.5)  # several kwok heartbeats and the controllers' resyncs
check(rvs("web") == before, "no slice or Endpoints write when nothing changed: %s vs %s" % (before, rvs("web")))

# ---- ready -> not ready ----
s.req("PATCH", PODS + "/w2", {"metadata": {"annotations": {A + "not-ready": "true"}}},
      "application/merge-patch+json")
wait_for("w2 not ready in its slice",
         lambda: eps_by_pod("web")["w2"][1]["conditions"]["ready"] is False, 10)
wait_for("w2 in notReadyAddresses",
         lambda: ep_addrs("web").get(P8080) == (["w1"], ["nr", "w2"]), 10)
w3_slice = [x["metadata"]["name"] for x in slices("web") if any(p["port"] == 8081 for p in x["ports"])][0]
w3_rv = [x["metadata"]["resourceVersion"] for x in slices("web") if x["metadata"]["name"] == w3_slice][0]

# ---- terminating: a finalizer holds the pod after the kubelet is done ----
s.req("PATCH", PODS + "/w1", {"metadata": {"finalizers": ["example.com/hold"]}}, "application/merge-patch+json")
s.req("DELETE", PODS + "/w1")
wait_for("w1 terminating: not ready, still serving",
         lambda: eps_by_pod("web")["w1"][1]["conditions"] == {"ready": False, "serving": True, "terminating": True}, 10)
wait_for("terminating w1 leaves Endpoints", lambda: ep_addrs("web").get(P8080) == ([], ["nr", "w2"]), 10)
check([x["metadata"]["resourceVersion"] for x in slices("web") if x["metadata"]["name"] == w3_slice] == [w3_rv],
      "the other port set's slice was not rewritten")
s.req("PATCH", PODS + "/w1", {"metadata": {"finalizers": None}}, "application/merge-patch+json")
wait_for("w1 gone from the slices", lambda: "w1" not in eps_by_pod("web"), 10)

# ---- deleted: w3's slice goes with it ----
s.req("DELETE", PODS + "/w3")
wait_for("w3 deleted: one slice left", lambda: len(slices("web")) == 1 and "w3" not in eps_by_pod("web"), 10)
wait_for("w3 gone from Endpoints", lambda: ep_addrs("web") == {P8080: ([], ["nr", "w2"])}, 10)

# ---- back to ready ----
s.req("PATCH", PODS + "/w2", {"metadata": {"annotations": {A + "not-ready": None}}},
      "application/merge-patch+json")
wait_for("w2 ready again", lambda: ep_addrs("web") == {P8080: (["w2"], ["nr"])}, 10)

# ---- headless with publishNotReadyAddresses ----
create(SVCS, svc("hl", {"app": "web"}, clusterIP="None", publishNotReadyAddresses=True))
wait_for("headless slice with the headless label and nr ready",
         lambda: (lambda sl: sl and "service.kubernetes.io/headless" in sl[0]["metadata"]["labels"]
                  and eps_by_pod("hl").get("nr", (0, {}))[1].get("conditions", {}).get("ready") is True)(slices("hl")), 10)
wait_for("publishNotReadyAddresses: all addresses ready in Endpoints",
         lambda: ep_addrs("hl") == {P8080: (["nr", "w2"], [])}, 10)

# ---- a Service without a selector: the user's slices and Endpoints ----
create(SVCS, svc("manual", None))
user_slice = create(SLICES, {
    "apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
    "metadata": {"name": "manual-1", "labels": {"kubernetes.io/service-name": "manual"}},
    "addressType": "IPv4", "ports": [{"name": "http", "port": 8080, "protocol": "TCP"}],
    "endpoints": [{"addresses": ["10.9.9.9"]}]})
user_ep = create(EPS, {"apiVersion": "v1", "kind": "Endpoints", "metadata": {"name": "manual"},
                       "subsets": [{"addresses": [{"ip": "10.9.9.9"}], "ports": [{"port": 8080}]}]})
time.sleep(1)
check([x["metadata"]["resourceVersion"] for x in slices("manual")] == [user_slice["metadata"]["resourceVersion"]],
      "selector-less Service: only the user's slice, untouched")
check(endpoints("manual")["metadata"]["resourceVersion"] == user_ep["metadata"]["resourceVersion"],
      "selector-less Service: the user's Endpoints untouched")

# ---- kubectl ----
env = dict(os.environ, KUBECONFIG=os.path.join(s.tmp, "data", "kubeconfig"))
out = subprocess.run(["kubectl", "get", "endpoints", "web"], env=env, capture_output=True, text=True, timeout=20)
lines = out.stdout.splitlines()
check(out.returncode == 0 and lines[0].split() == ["NAME", "ENDPOINTS", "AGE"]
      and lines[1].split()[0] == "web" and ":8080" in lines[1], "kubectl get endpoints:\n" + out.stdout + out.stderr)
out = subprocess.run(["kubectl", "get", "endpointslices", "-l", "kubernetes.io/service-name=web"],
                     env=env, capture_output=True, text=True, timeout=20)
lines = out.stdout.splitlines()
check(out.returncode == 0 and len(lines) == 2 and lines[0].split() == ["NAME", "ADDRESSTYPE", "PORTS", "ENDPOINTS", "AGE"]
      and lines[1].split()[:3] == [slices("web")[0]["metadata"]["name"], "IPv4", "8080,9090"]
      and lines[1].split()[3].count(".") == 6, "kubectl get endpointslices:\n" + out.stdout + out.stderr)

# ---- the Service goes: its Endpoints and slices go ----
st, _, _ = s.req("DELETE", SVCS + "/web")
check(st == 200, "Service web deleted")
wait_for("Endpoints and slices of web gone",
         lambda: endpoints("web") is None and not slices("web"), 10)
check(not cl.errors, "kwok saw no errors: %s" % cl.errors[:3])
