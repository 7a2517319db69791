# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Raw-HTTP checks of the API semantics kubectl does not exercise directly:
optimistic concurrency (incl. N racing writers), errors as Status objects
(400, 404, 409, 413, 415, 422 with causes), paging, dry-run, finalizers,
the status/scale/binding subresources, selectors, allocation, Tables."""
import json
import threading
import time

from lib import Server, check

s = Server()
NS = "/api/v1/namespaces/default"


def cm(name, **data):
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name}, "data": data}


def pod(name, **extra):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
         "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    p.update(extra)
    return p


def is_status(body, code, reason):
    return (isinstance(body, dict) and body.get("kind") == "Status"
            and body.get("code") == code and body.get("reason") == reason)


# --- create, 409 on a stale resourceVersion ---
st, obj, _ = s.req("POST", NS + "/configmaps", cm("a", k="1"))
check(st == 201 and obj["metadata"]["resourceVersion"].isdigit()
      and obj["metadata"]["uid"] and obj["metadata"]["creationTimestamp"],
      "create: 201 with uid, creationTimestamp, resourceVersion")
rv1 = obj["metadata"]["resourceVersion"]
obj["data"]["k"] = "2"
st, obj2, _ = s.req("PUT", NS + "/configmaps/a", obj)
check(st == 200 and int(obj2["metadata"]["resourceVersion"]) > int(rv1),
      "update with the current resourceVersion")
obj["data"]["k"] = "3"
st, body, _ = s.req("PUT", NS + "/configmaps/a", obj)
check(st == 409 and is_status(body, 409, "Conflict"), "stale resourceVersion: 409 Conflict")
st, body, _ = s.req("GET", NS + "/configmaps/a")
check(body["data"]["k"] == "2", "the conflicting write changed nothing")
st, body, _ = s.req("POST", NS + "/configmaps", cm("a"))
check(st == 409 and is_status(body, 409, "AlreadyExists")
      and body["details"]["name"] == "a", "create twice: 409 AlreadyExists")

# --- N writers with the same resourceVersion: exactly one wins ---
st, base, _ = s.req("GET", NS + "/configmaps/a")
results = []
lock = threading.Lock()


def writer(i):
    o = json.loads(json.dumps(base))
    o["data"]["k"] = "writer-%d" % i
    r = s.req("PUT", NS + "/configmaps/a", o)[0]
    with lock:
        results.append(r)


threads = [threading.Thread(target=writer, args=(i,)) for i in range(12)]
for t in threads:
    t.start()
for t in threads:
    t.join()
check(results.count(200) == 1 and results.count(409) == 11,
      "12 concurrent writers, same resourceVersion: one 200, eleven 409 (%s)" % sorted(results))

# --- PATCH with a resourceVersion is a precondition too ---
st, _, _ = s.req("PATCH", NS + "/configmaps/a",
                 {"metadata": {"resourceVersion": rv1}, "data": {"z": "1"}},
                 ctype="application/merge-patch+json")
check(st == 409, "merge patch carrying a stale resourceVersion: 409")

# --- malformed input: 400/413/415, never a change ---
st, before, _ = s.req("GET", NS + "/configmaps/a")
for bad in ['{"kind":', '[1,2', '{"a":1} trailing', '"str"', '\x00\x01', '{"metadata":"x"}']:
    st, body, _ = s.req("PUT", NS + "/configmaps/a", bad)
    check(st == 400 and is_status(body, 400, "BadRequest"), "malformed body %r: 400" % bad)
st, body, _ = s.req("POST", NS + "/configmaps", "x" * (3 * 1024 * 1024 + 10))
check(st == 413 and is_status(body, 413, "RequestEntityTooLarge"), "body over 3 MiB: 413")
st, body, _ = s.req("POST", NS + "/configmaps", json.dumps(cm("t")), ctype="text/plain")
check(st == 415 and is_status(body, 415, "UnsupportedMediaType"), "text/plain body: 415")
st, body, _ = s.req("PATCH", NS + "/configmaps/a", "{}", ctype="application/x-whatever")
check(st == 415, "unknown patch type: 415")
st, body, _ = s.req("POST", NS + "/configmaps", b"k8s\x00\x0a\x05junk", ctype="application/vnd.kubernetes.protobuf")
check(st == 415, "malformed protobuf: 415")
st, after, _ = s.req("GET", NS + "/configmaps/a")
check(before == after, "malformed requests changed nothing")

# --- 404 ---
st, body, _ = s.req("GET", NS + "/configmaps/nope")
check(st == 404 and is_status(body, 404, "NotFound")
      and body["message"] == 'configmaps "nope" not found'
      and body["details"] == {"name": "nope", "kind": "configmaps"}, "get missing: 404 with details")
st, body, _ = s.req("POST", "/api/v1/namespaces/ghost/configmaps", cm("x"))
check(st == 404 and body["message"] == 'namespaces "ghost" not found', "create in a missing namespace: 404")
st, body, _ = s.req("GET", "/apis/apps/v1/namespaces/default/widgets")
check(st == 404, "unknown resource: 404")

# --- 422 with field causes ---
st, body, _ = s.req("POST", NS + "/pods", pod("Bad_Name"))
check(st == 422 and is_status(body, 422, "Invalid")
      and body["details"]["causes"][0]["field"] == "metadata.name"
      and body["details"]["causes"][0]["reason"] == "FieldValueInvalid", "invalid name: 422 with a cause")
bad = pod("nocontainers")
bad["spec"] = {"containers": [{"name": "c"}, {"name": "c", "image": "x"}]}
st, body, _ = s.req("POST", NS + "/pods", bad)
fields = sorted(c["field"] for c in body["details"]["causes"])
check(st == 422 and fields == ["spec.containers[0].image", "spec.containers[1].name"],
      "pod: missing image and duplicate name are two causes (%s)" % fields)
st, body, _ = s.req("POST", NS + "/services", {"apiVersion": "v1", "kind": "Service",
                    "metadata": {"name": "noports"}, "spec": {"selector": {"a": "b"}}})
check(st == 422 and body["details"]["causes"][0]["field"] == "spec.ports", "service without ports: 422")

# --- fieldValidation ---
o = cm("fv")
o["bogus"] = 1
o["metadata"]["nope"] = 2
st, body, _ = s.req("POST", NS + "/configmaps?fieldValidation=Strict", o)
check(st == 400 and 'unknown field "bogus"' in body["message"]
      and 'unknown field "metadata.nope"' in body["message"], "fieldValidation=Strict: 400 naming the fields")
st, body, h = s.req("POST", NS + "/configmaps", o)
check(st == 201 and "bogus" not in body and "nope" not in body["metadata"]
      and 'unknown field' in (h.get("Warning") or ""), "default (Warn): a Warning header, fields dropped")

# --- defaulting and generateName ---
st, p, _ = s.req("POST", NS + "/pods", {"apiVersion": "v1", "kind": "Pod",
                 "metadata": {"generateName": "web-"},
                 "spec": {"containers": [{"name": "c", "image": "nginx"}]}})
spec = p["spec"]
check(st == 201 and p["metadata"]["name"].startswith("web-") and len(p["metadata"]["name"]) == 9,
      "generateName: %s" % p["metadata"]["name"])
check(spec["restartPolicy"] == "Always" and spec["terminationGracePeriodSeconds"] == 30
      and spec["dnsPolicy"] == "ClusterFirst"
      and spec["containers"][0]["imagePullPolicy"] == "Always"
      and spec["containers"][0]["terminationMessagePath"] == "/dev/termination-log"
      and p["status"]["phase"] == "Pending", "pod defaults")
podname = p["metadata"]["name"]

# --- dryRun ---
st, body, _ = s.req("POST", NS + "/configmaps?dryRun=All", cm("dry"))
check(st == 201, "dry-run create answers 201")
check(s.req("GET", NS + "/configmaps/dry")[0] == 404, "dry-run create stored nothing")
st, _, _ = s.req("DELETE", NS + "/configmaps/a?dryRun=All")
check(st == 200 and s.req("GET", NS + "/configmaps/a")[0] == 200, "dry-run delete removed nothing")
check(s.req("POST", NS + "/configmaps?dryRun=Maybe", cm("d2"))[0] == 400, "bad dryRun value: 400")

# --- paging with limit/continue ---
for i in range(25):
    s.req("POST", NS + "/configmaps", cm("page-%02d" % i, n=str(i)))
names, cont, pages = [], "", 0
while True:
    path = NS + "/configmaps?limit=10&labelSelector=" + ""
    if cont:
        path += "&continue=" + cont
    st, l, _ = s.req("GET", path)
    check(st == 200, "page %d" % pages)
    pages += 1
    names += [i["metadata"]["name"] for i in l["items"]]
    cont = l["metadata"].get("continue", "")
    if not cont:
        break
# the 27 the test made and the namespace's kube-root-ca.crt (the CA pods
# verify the server with, made by the ServiceAccount controller)
names = [n for n in names if n != "kube-root-ca.crt"]
check(pages == 3 and len(names) == 27 and len(set(names)) == 27,
      "limit=10 over 27 configmaps: 3 pages, each once (%d pages, %d names)" % (pages, len(names)))
st, body, _ = s.req("GET", NS + "/configmaps?limit=10&continue=garbage")
check(st == 400, "bad continue token: 400")

# --- selectors ---
for name, labels in (("l1", {"app": "web", "tier": "fe"}), ("l2", {"app": "db"}), ("l3", {})):
    o = cm(name)
    o["metadata"]["labels"] = labels
    s.req("POST", NS + "/configmaps", o)


def names_for(q):
    st, l, _ = s.req("GET", NS + "/configmaps?" + q)
    return sorted(i["metadata"]["name"] for i in l["items"] if i["metadata"]["name"] in ("l1", "l2", "l3"))


check(names_for("labelSelector=app%3Dweb") == ["l1"], "labelSelector app=web")
check(names_for("labelSelector=app%20in%20(web,db)") == ["l1", "l2"], "labelSelector in ()")
check(names_for("labelSelector=app%20notin%20(web)") == ["l2", "l3"], "labelSelector notin ()")
check(names_for("labelSelector=!app") == ["l3"], "labelSelector !app")
check(names_for("labelSelector=app,tier!%3Dbe") == ["l1", "l2"], "labelSelector exists + != (a missing key is !=)")
check(names_for("fieldSelector=metadata.name%3Dl2") == ["l2"], "fieldSelector metadata.name")
check(s.req("GET", NS + "/configmaps?labelSelector=a%20in%20b")[0] == 400, "malformed labelSelector: 400")

# --- binding, spec.nodeName and status.phase selectors ---
st, body, _ = s.req("POST", NS + "/pods/%s/binding" % podname,
                    {"apiVersion": "v1", "kind": "Binding", "metadata": {"name": podname},
                     "target": {"apiVersion": "v1", "kind": "Node", "name": "node-1"}})
check(st == 201, "binding: 201")
st, body, _ = s.req("POST", NS + "/pods/%s/binding" % podname,
                    {"target": {"kind": "Node", "name": "node-2"}})
check(st == 409, "second binding: 409")
st, l, _ = s.req("GET", "/api/v1/pods?fieldSelector=spec.nodeName%3Dnode-1")
check([i["metadata"]["name"] for i in l["items"]] == [podname], "fieldSelector spec.nodeName across namespaces")
st, l, _ = s.req("GET", "/api/v1/pods?fieldSelector=status.phase%3DPending,spec.nodeName!%3Dnode-1")
check(l["items"] == [], "fieldSelector status.phase + !=")

# --- status subresource ---
st, p, _ = s.req("GET", NS + "/pods/" + podname)
p["status"]["phase"] = "Running"
p["metadata"]["labels"] = {"sneaky": "yes"}
st, p2, _ = s.req("PUT", NS + "/pods/%s/status" % podname, p)
check(st == 200 and p2["status"]["phase"] == "Running" and "labels" not in p2["metadata"],
      "PUT status changes status only")
p2["status"]["phase"] = "Failed"
st, p3, _ = s.req("PUT", NS + "/pods/" + podname, p2)
check(st == 200 and p3["status"]["phase"] == "Running", "PUT on the pod leaves status alone")
p3["spec"]["containers"][0]["name"] = "renamed"
st, body, _ = s.req("PUT", NS + "/pods/" + podname, p3)
check(st == 422, "pod spec is immutable but for images: 422")

# --- generation, scale ---
dep = {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
       "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
                "template": {"metadata": {"labels": {"a": "b"}},
                             "spec": {"containers": [{"name": "c", "image": "x"}]}}}}
D = "/apis/apps/v1/namespaces/default/deployments"
st, d, _ = s.req("POST", D, dep)
check(st == 201 and d["metadata"]["generation"] == 1, "deployment generation 1")
st, d, _ = s.req("PATCH", D + "/d", {"metadata": {"labels": {"x": "y"}}}, ctype="application/merge-patch+json")
check(d["metadata"]["generation"] == 1, "metadata change keeps generation")
st, sc, _ = s.req("PATCH", D + "/d/scale", {"spec": {"replicas": 4}}, ctype="application/merge-patch+json")
check(st == 200 and sc["kind"] == "Scale" and sc["spec"]["replicas"] == 4
      and sc["status"]["selector"] == "a=b", "scale subresource")
st, d, _ = s.req("GET", D + "/d")
check(d["spec"]["replicas"] == 4 and d["metadata"]["generation"] == 2, "scale bumps generation")
bad = json.loads(json.dumps(dep))
bad["metadata"]["name"] = "d2"
bad["spec"]["template"]["metadata"]["labels"] = {"a": "c"}
st, body, _ = s.req("POST", D, bad)
check(st == 422 and body["details"]["causes"][0]["field"] == "spec.template.metadata.labels",
      "selector must match template labels: 422")

# --- strategic merge patch directives (what kubectl apply sends) ---
P = "/apis/apps/v1/namespaces/default/deployments/d"
SMP = "application/strategic-merge-patch+json"
s.req("PATCH", P, {"spec": {"template": {"spec": {"containers": [
    {"name": "c", "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}],
     "ports": [{"containerPort": 80}, {"containerPort": 81}]},
    {"name": "side", "image": "y"}]}}}}, ctype=SMP)
st, d, _ = s.req("GET", P)
cs = d["spec"]["template"]["spec"]["containers"]
check([c["name"] for c in cs] == ["c", "side"] and cs[0]["image"] == "x"
      and [e["name"] for e in cs[0]["env"]] == ["A", "B"], "SMP merges containers by name, keeps image")
st, d, _ = s.req("PATCH", P, {"spec": {"template": {"spec": {
    "$setElementOrder/containers": [{"name": "side"}, {"name": "c"}],
    "containers": [{"name": "c", "env": [{"name": "A", "$patch": "delete"}],
                    "ports": [{"containerPort": 81, "protocol": "UDP"}]}]}}}}, ctype=SMP)
cs = d["spec"]["template"]["spec"]["containers"]
check([c["name"] for c in cs] == ["side", "c"], "$setElementOrder reorders")
check([e["name"] for e in cs[1]["env"]] == ["B"], "$patch: delete removes one env entry")
check([(p["containerPort"], p["protocol"]) for p in cs[1]["ports"]] == [(80, "TCP"), (81, "UDP")],
      "ports merge by containerPort")
st, d, _ = s.req("PATCH", P, {"spec": {"template": {"spec": {"containers": [
    {"name": "only", "image": "z"}, {"$patch": "replace"}]}}}}, ctype=SMP)
check([c["name"] for c in d["spec"]["template"]["spec"]["containers"]] == ["only"], "$patch: replace on a list")
st, d, _ = s.req("PATCH", P, {"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}, ctype=SMP)
check(d["spec"]["strategy"] == {"type": "Recreate"}, "$retainKeys drops rollingUpdate")
st, d, _ = s.req("PATCH", P, {"metadata": {"finalizers": ["a/x", "a/y"]}}, ctype=SMP)
st, d, _ = s.req("PATCH", P, {"metadata": {"finalizers": ["a/z"], "$deleteFromPrimitiveList/finalizers": ["a/x"]}},
                 ctype=SMP)
check(d["metadata"]["finalizers"] == ["a/y", "a/z"], "finalizers merge; $deleteFromPrimitiveList")
s.req("PATCH", P, {"metadata": {"finalizers": None}}, ctype=SMP)
st, body, _ = s.req("PATCH", P, {"spec": {"template": {"spec": {"containers": [{"image": "nokey"}]}}}}, ctype=SMP)
check(st == 422, "SMP list element without its merge key: 422")

# --- finalizers and deletionTimestamp ---
o = cm("fin")
o["metadata"]["finalizers"] = ["example.com/hold"]
s.req("POST", NS + "/configmaps", o)
st, body, _ = s.req("DELETE", NS + "/configmaps/fin")
check(st == 200 and body["metadata"].get("deletionTimestamp"), "delete with a finalizer sets deletionTimestamp")
check(s.req("GET", NS + "/configmaps/fin")[0] == 200, "object stays while finalizers remain")
st, body, _ = s.req("PATCH", NS + "/configmaps/fin", {"metadata": {"finalizers": None}},
                    ctype="application/merge-patch+json")
check(st == 200 and s.req("GET", NS + "/configmaps/fin")[0] == 404, "clearing the finalizers deletes it")
st, body, _ = s.req("DELETE", NS + "/configmaps/a", {"kind": "DeleteOptions", "apiVersion": "v1",
                    "preconditions": {"resourceVersion": "1"}})
check(st == 409, "delete precondition on resourceVersion: 409")
st, body, _ = s.req("DELETE", NS + "/configmaps/a?propagationPolicy=Sideways")
check(st == 400, "bad propagationPolicy: 400")
st, body, _ = s.req("DELETE", NS + "/configmaps/a?propagationPolicy=Foreground")
check(st == 200 and body["metadata"].get("finalizers") == ["foregroundDeletion"],
      "Foreground delete: the foregroundDeletion finalizer")
for _ in range(100):  # the garbage collector removes it (no dependents)
    if s.req("GET", NS + "/configmaps/a")[0] == 404:
        break
    time.sleep(0.05)
check(s.req("GET", NS + "/configmaps/a")[0] == 404, "delete with propagationPolicy")

# --- deletecollection ---
st, body, _ = s.req("DELETE", NS + "/configmaps?labelSelector=app")
check(st == 200 and sorted(i["metadata"]["name"] for i in body["items"]) == ["l1", "l2"],
      "deletecollection with a selector")
check(names_for("") == ["l3"], "only the unselected one is left")

# --- services: ClusterIP and NodePort allocation ---
def svc(name, **spec):
    sp = {"ports": [{"port": 80}]}
    sp.update(spec)
    return {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name}, "spec": sp}


st, a, _ = s.req("POST", NS + "/services", svc("np1", type="NodePort"))
np = a["spec"]["ports"][0]["nodePort"]
check(st == 201 and 30000 <= np <= 32767 and a["spec"]["sessionAffinity"] == "None"
      and a["spec"]["ipFamilies"] == ["IPv4"] and a["spec"]["clusterIP"].startswith("10."),
      "NodePort service: port %d, defaults, ClusterIP %s" % (np, a["spec"]["clusterIP"]))
st, body, _ = s.req("POST", NS + "/services", svc("np2", type="NodePort",
                    ports=[{"port": 80, "nodePort": np}]))
check(st == 422 and "already allocated" in body["message"], "NodePort conflict: 422")
st, body, _ = s.req("POST", NS + "/services", svc("np3", type="NodePort",
                    ports=[{"port": 80, "nodePort": 80}]))
check(st == 422 and "valid range" in body["message"], "NodePort out of range: 422")
st, body, _ = s.req("POST", NS + "/services", svc("ip2", clusterIP=a["spec"]["clusterIP"]))
check(st == 422 and "already allocated" in body["message"], "ClusterIP conflict: 422")
st, body, _ = s.req("POST", NS + "/services", svc("ip3", clusterIP="10.96.0.1"))
check(st == 422, "the kubernetes service's ClusterIP is taken")
a["spec"]["clusterIP"] = "10.96.7.7"
st, body, _ = s.req("PUT", NS + "/services/np1", a)
check(st == 422, "ClusterIP is immutable")
st, h, _ = s.req("POST", NS + "/services", svc("headless", clusterIP="None"))
check(st == 201 and h["spec"]["clusterIP"] == "None", "headless service")
st, lb, _ = s.req("POST", NS + "/services", svc("lb1", type="LoadBalancer",
                  externalTrafficPolicy="Local"))
hc = lb.get("spec", {}).get("healthCheckNodePort", 0)
check(st == 201 and 30000 <= hc <= 32767 and hc != lb["spec"]["ports"][0]["nodePort"],
      "LoadBalancer with externalTrafficPolicy Local: healthCheckNodePort %s" % hc)
st, body, _ = s.req("POST", NS + "/services", svc("np4", type="NodePort",
                    ports=[{"port": 80, "nodePort": hc}]))
check(st == 422 and "already allocated" in body["message"],
      "a healthCheckNodePort is not handed out again as a nodePort")
lb["spec"]["externalTrafficPolicy"] = "Cluster"
st, lb, _ = s.req("PUT", NS + "/services/lb1", lb)
check(st == 200 and "healthCheckNodePort" not in lb["spec"],
      "externalTrafficPolicy Cluster: healthCheckNodePort released")
st, lb2, _ = s.req("POST", NS + "/services", svc("lb2", type="NodePort",
                   externalTrafficPolicy="Local"))
check(st == 201 and "healthCheckNodePort" not in lb2["spec"],
      "NodePort with externalTrafficPolicy Local: no healthCheckNodePort")

# --- Table output ---
st, t, _ = s.req("GET", NS + "/pods", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
cols = [c["name"] for c in t["columnDefinitions"]]
check(st == 200 and t["kind"] == "Table" and cols[:5] == ["Name", "Ready", "Status", "Restarts", "Age"]
      and podname in [r["cells"][0] for r in t["rows"]], "pods as a Table")
st, t, _ = s.req("GET", "/api/v1/namespaces", headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
check([r["cells"][1] for r in t["rows"]] == ["Active"] * 4, "namespaces Table: STATUS column")

# --- discovery ---
st, d, h = s.req("GET", "/apis", headers={
    "Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList,application/json"})
check(st == 200 and d["kind"] == "APIGroupDiscoveryList" and "as=APIGroupDiscoveryList" in h["Content-Type"],
      "aggregated discovery")
st, d, _ = s.req("GET", "/apis")
check(d["kind"] == "APIGroupList" and "apps" in [g["name"] for g in d["groups"]], "legacy discovery")
for p in ("/healthz", "/readyz", "/livez"):
    check(s.req("GET", p)[1] == "ok", p)
print("PASS")
