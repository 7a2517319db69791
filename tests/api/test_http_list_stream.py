# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""LIST of many objects: read from the store a page at a time, every page
at one revision, and streamed (chunked) unless a small limit was asked for.
The same items, selectors, resourceVersion, limit/continue and Table output
as a list built whole; consistent while writes go on; errors still a Status
before any byte; kubectl get -A over it."""
import json
import os
import shutil
import subprocess
import threading
import urllib.parse

from lib import Server, check

# no controllers: the lists hold exactly what the test wrote (no
# per-namespace kube-root-ca.crt ConfigMaps)
s = Server("--controllers", "none")
NAMESPACES = ("ls-a", "ls-b", "ls-c")
PER_NS = 200  # 600 objects: several store pages (100 keys each)
SEL = "labelSelector=" + urllib.parse.quote("app=lstest")
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io"


def post_all(objs, threads=4):
    """POST (path, body) pairs over keep-alive connections -> their bodies."""
    out = [None] * len(objs)

    def worker(k):
        c = s.conn()
        for i in range(k, len(objs), threads):
            path, body = objs[i]
            c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
            r = c.getresponse()
            out[i] = (r.status, json.loads(r.read()))
        c.close()

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return out


def cm(ns, name, labels):
    return ("/api/v1/namespaces/%s/configmaps" % ns,
            {"apiVersion": "v1", "kind": "ConfigMap",
             "metadata": {"name": name, "labels": labels},
             "data": {"payload": name * 40}})


def get(path, accept=None):
    """-> (status, body, chunked)"""
    st, body, h = s.req("GET", path, headers={"Accept": accept} if accept else None)
    return st, body, (h.get("Transfer-Encoding") or "").lower() == "chunked"


def keys(items):
    return [(i["metadata"]["namespace"], i["metadata"]["name"]) for i in items]


for ns in NAMESPACES:
    s.req("POST", "/api/v1/namespaces", {"metadata": {"name": ns}})
objs, want = [], {}
for ns in NAMESPACES:
    for i in range(PER_NS):
        name = "cm-%03d" % i
        labels = {"app": "lstest", "tier": str(i % 3), "parity": "even" if i % 2 == 0 else "odd"}
        objs.append(cm(ns, name, labels))
        want[(ns, name)] = labels
res = post_all(objs)
check(all(st == 201 for st, _ in res), "created %d configmaps" % len(objs))
rvs = {(b["metadata"]["namespace"], b["metadata"]["name"]): b["metadata"]["resourceVersion"]
       for _, b in res}
last_rv = max(int(v) for v in rvs.values())


def expect(pred=lambda k, l: True, objs=None):
    return sorted(k for k, l in (objs or want).items() if pred(k, l))


# --- the whole list, streamed ---
st, l, chunked = get("/api/v1/configmaps?" + SEL)
check(st == 200 and chunked and l["kind"] == "ConfigMapList" and l["apiVersion"] == "v1",
      "LIST without limit: 200 ConfigMapList, chunked")
check(keys(l["items"]) == expect(), "all %d items once, in key order" % len(want))
list_rv = int(l["metadata"]["resourceVersion"])
check(list_rv >= last_rv and "continue" not in l["metadata"],
      "list resourceVersion %d >= the last write's %d, no continue" % (list_rv, last_rv))
check(all(i["metadata"]["resourceVersion"] == rvs[k] for i, k in zip(l["items"], keys(l["items"]))),
      "each item's resourceVersion is its own write's")
check(all(i["data"]["payload"] == i["metadata"]["name"] * 40 and i["kind"] == "ConfigMap"
          for i in l["items"]), "items are whole objects")

st, l, chunked = get("/api/v1/namespaces/ls-b/configmaps")
check(st == 200 and chunked and keys(l["items"]) == expect(lambda k, _: k[0] == "ls-b"),
      "namespaced LIST: that namespace's items")

# --- selectors, object by object ---
for q, pred in (
        ("labelSelector=tier%3D1", lambda k, l: l["tier"] == "1"),
        ("labelSelector=" + urllib.parse.quote("tier in (0,2),parity=even"),
         lambda k, l: l["tier"] in ("0", "2") and l["parity"] == "even"),
        ("fieldSelector=metadata.namespace%3Dls-c&" + SEL, lambda k, l: k[0] == "ls-c"),
        ("fieldSelector=metadata.name!%3Dcm-007&labelSelector=parity%3Dodd",
         lambda k, l: k[1] != "cm-007" and l["parity"] == "odd"),
        ("labelSelector=tier%3D9", lambda k, l: False)):
    st, l, chunked = get("/api/v1/configmaps?" + q)
    check(st == 200 and chunked and keys(l["items"]) == expect(pred),
          "%s: %d items" % (urllib.parse.unquote(q), len(expect(pred))))

# --- limit/continue: small pages built whole, large ones streamed ---
for limit, whole in ((100, True), (550, False)):
    got, cont, pages, page_rvs = [], "", 0, set()
    while True:
        path = "/api/v1/configmaps?limit=%d&%s" % (limit, SEL)
        if cont:
            path += "&continue=" + cont
        st, l, chunked = get(path)
        if st != 200:
            check(False, "limit=%d page %d: %d %s" % (limit, pages, st, l))
        pages += 1
        got += keys(l["items"])
        page_rvs.add(l["metadata"]["resourceVersion"])
        cont = l["metadata"].get("continue", "")
        if not cont:
            break
        check(len(l["items"]) == limit and chunked != whole,
              "limit=%d: a full page, %s" % (limit, "built whole" if whole else "streamed"))
    check(got == expect() and pages == -(-len(want) // limit) and len(page_rvs) == 1,
          "limit=%d: %d pages at one resourceVersion, every item once" % (limit, pages))
st, l, chunked = get("/api/v1/configmaps?limit=550&labelSelector=tier%3D1")
check(st == 200 and keys(l["items"]) == expect(lambda k, l: l["tier"] == "1")
      and "continue" not in l["metadata"] and l["metadata"]["resourceVersion"].isdigit(),
      "limit=550 over 200 matching: all of them, no continue")

# --- Table rows, streamed too ---
st, t, chunked = get("/api/v1/configmaps?" + SEL, TABLE)
check(st == 200 and chunked and t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
      and [c["name"] for c in t["columnDefinitions"]] == ["Name", "Data", "Age"]
      and int(t["metadata"]["resourceVersion"]) >= list_rv,
      "Table: 200, chunked, columns, resourceVersion")
check([(r["object"]["metadata"]["namespace"], r["cells"][0]) for r in t["rows"]] == expect()
      and all(r["object"]["kind"] == "PartialObjectMetadata" and r["cells"][1] == 1
              for r in t["rows"]), "Table: a row per item, with its metadata")
st, t, _ = get("/api/v1/configmaps?includeObject=Object&labelSelector=tier%3D2", TABLE)
check(len(t["rows"]) == len(expect(lambda k, l: l["tier"] == "2"))
      and all(r["object"]["kind"] == "ConfigMap" and "payload" in r["object"]["data"]
              for r in t["rows"]), "Table includeObject=Object: whole objects")
st, t, _ = get("/api/v1/configmaps?includeObject=None&" + SEL, TABLE)
check(len(t["rows"]) == len(want) and all("object" not in r for r in t["rows"]),
      "Table includeObject=None: cells only")
st, t, chunked = get("/api/v1/configmaps?limit=550&" + SEL, TABLE)
check(st == 200 and chunked and len(t["rows"]) == 550 and t["metadata"].get("continue"),
      "Table limit=550: 550 rows and a continue token")

# --- errors are a Status, before any byte ---
for q, code in (("labelSelector=a%20in%20b", 400), ("resourceVersion=abc", 400),
                ("resourceVersion=%d" % (list_rv + 1000000), 504),
                ("resourceVersion=%d&resourceVersionMatch=Exact" % (list_rv + 1000000), 504),
                ("continue=garbage", 400)):
    st, body, chunked = get("/api/v1/configmaps?" + q)
    check(st == code and not chunked and body.get("kind") == "Status" and body["code"] == code,
          "%s: %d Status" % (urllib.parse.unquote(q), code))

# --- every page at the first one's revision ---
now = {k: dict(l) for k, l in want.items()}
for i in range(0, PER_NS, 20):  # delete 10, relabel 10
    s.req("DELETE", "/api/v1/namespaces/ls-b/configmaps/cm-%03d" % i)
    s.req("PATCH", "/api/v1/namespaces/ls-c/configmaps/cm-%03d" % i,
          {"metadata": {"labels": {"tier": "moved"}}}, ctype="application/merge-patch+json")
    del now[("ls-b", "cm-%03d" % i)]
    now[("ls-c", "cm-%03d" % i)]["tier"] = "moved"
st, l, chunked = get("/api/v1/configmaps?resourceVersion=%d&resourceVersionMatch=Exact&%s"
                     % (list_rv, SEL))
check(st == 200 and chunked and keys(l["items"]) == expect()
      and l["metadata"]["resourceVersion"] == str(list_rv),
      "Exact at the old revision: the items as they were, over several pages")
st, l, _ = get("/api/v1/configmaps?resourceVersion=%d&resourceVersionMatch=Exact&labelSelector=tier%%3D1"
               % list_rv)
check(keys(l["items"]) == expect(lambda k, l: l["tier"] == "1"),
      "Exact at the old revision with a selector: old labels")
st, l, _ = get("/api/v1/configmaps?labelSelector=tier%3D1")
check(keys(l["items"]) == expect(lambda k, l: l["tier"] == "1", now),
      "now: the deletes and relabels show")

# a list while writes go on holds exactly what existed at its revision
s.req("POST", "/api/v1/namespaces", {"metadata": {"name": "ls-w"}})
written, stop = [], threading.Event()


def writer():
    c = s.conn()
    i = 0
    while not stop.is_set() or i < 20:
        path, body = cm("ls-w", "w-%04d" % i, {"app": "lstest"})
        c.request("POST", path, json.dumps(body), {"Content-Type": "application/json"})
        r = c.getresponse()
        o = json.loads(r.read())
        written.append(("w-%04d" % i, int(o["metadata"]["resourceVersion"])))
        i += 1
    c.close()


t = threading.Thread(target=writer)
t.start()
lists = [get("/api/v1/configmaps?" + SEL)[1] for _ in range(5)]
stop.set()
t.join()
ok = True
for l in lists:
    rv = int(l["metadata"]["resourceVersion"])
    got = sorted(n for ns, n in keys(l["items"]) if ns == "ls-w")
    ok = ok and got == sorted(n for n, r in written if r <= rv)
    ok = ok and len(l["items"]) == len(now) + len(got)
check(ok, "5 lists during %d creates: each exactly the objects at its revision" % len(written))

# --- kubectl get -A over it ---
if not shutil.which("kubectl"):
    print("kubectl is not installed: its checks skipped")
else:
    env = dict(os.environ, KUBECONFIG=os.path.join(s.tmp, "data", "kubeconfig"),
               KUBECACHEDIR=os.path.join(s.tmp, "kcache"))
    total = len(now) + len(written)

    def kubectl(*args):
        r = subprocess.run(["kubectl", "--request-timeout=30s", *args], env=env,
                           capture_output=True, text=True, timeout=60)
        if r.returncode:
            check(False, "kubectl %s: %s" % (" ".join(args), r.stderr))
        return r.stdout

    out = kubectl("get", "configmaps", "-A")
    lines = out.splitlines()
    check(lines[0].split() == ["NAMESPACE", "NAME", "DATA", "AGE"]
          and sum(l.startswith("ls-") for l in lines[1:]) == total,
          "kubectl get configmaps -A: %d rows" % total)
    for chunk in ("0", "50", "550"):
        out = kubectl("get", "configmaps", "-A", "-l", "app=lstest", "--no-headers",
                      "--chunk-size=" + chunk)
        check(len(out.splitlines()) == total, "kubectl get -A --chunk-size=%s: %d rows" % (chunk, total))
    out = kubectl("get", "configmaps", "-A", "-l", "tier=1", "-o", "json", "--chunk-size=0")
    check(keys(json.loads(out)["items"]) == expect(lambda k, l: l["tier"] == "1", now),
          "kubectl get -A -l tier=1 -o json")
    out = kubectl("get", "configmaps", "-n", "ls-a", "-o", "name")
    check(len(out.splitlines()) == PER_NS, "kubectl get -n ls-a -o name")
