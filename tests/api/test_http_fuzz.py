# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Malformed input must never crash the server (nor answer 5xx):
mutated JSON bodies, random bytes, odd paths and queries, broken patches
and protobuf envelopes, for a bounded time (FUZZ_SECONDS, default 8)."""
import json
import os
import random

from lib import Server, check

s = Server()
NS = "/api/v1/namespaces/default"
rnd = random.Random(int(os.environ.get("FUZZ_SEED", "5")))
seconds = float(os.environ.get("FUZZ_SECONDS", "8"))

seed_objs = [
    {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "seed", "labels": {"a": "b"}},
     "data": {"k": "v"}},
    {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
     "spec": {"containers": [{"name": "c", "image": "i", "ports": [{"containerPort": 80}],
                              "env": [{"name": "A", "value": "1"}]}]}},
    {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
     "spec": {"type": "NodePort", "ports": [{"port": 80, "nodePort": 30500}], "selector": {"a": "b"}}},
    {"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "d"},
     "spec": {"replicas": 1, "selector": {"matchLabels": {"a": "b"}},
              "template": {"metadata": {"labels": {"a": "b"}},
                           "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
]
paths = {"ConfigMap": NS + "/configmaps", "Pod": NS + "/pods", "Service": NS + "/services",
         "Deployment": "/apis/apps/v1/namespaces/default/deployments"}
for o in seed_objs:
    st, _, _ = s.req("POST", paths[o["kind"]], o)
    check(st == 201, "seed %s" % o["kind"])
# a key "" once looped forever in the unknown-field check (tests/fuzz found it)
st, _, _ = s.req("POST", NS + "/configmaps", {"metadata": {"name": "empty-key"}, "": 1})
check(st == 201, "a body with an empty key is answered")

weird = [None, True, 0, -1, 2**63, 1e308, "", "x" * 300, [], {}, [[[]]], {"$patch": "delete"},
         {"$retainKeys": 1}, "\u0000", "é", {"a": None}, [None], -0.0]


def mutate(v, depth=0):
    if depth > 6 or rnd.random() < 0.15:
        return rnd.choice(weird)
    if isinstance(v, dict):
        v = dict(v)
        if v and rnd.random() < 0.5:
            k = rnd.choice(list(v))
            v[k] = mutate(v[k], depth + 1)
        if rnd.random() < 0.2:
            v[rnd.choice(["$patch", "$setElementOrder/containers", "$deleteFromPrimitiveList/finalizers",
                          "metadata", "spec", "status", "kind", "apiVersion", "zz"])] = rnd.choice(weird)
        return v
    if isinstance(v, list):
        v = list(v)
        if v and rnd.random() < 0.5:
            i = rnd.randrange(len(v))
            v[i] = mutate(v[i], depth + 1)
        if rnd.random() < 0.3:
            v.append(rnd.choice(weird))
        return v
    return rnd.choice(weird)


def text_mutate(b):
    b = bytearray(b)
    for _ in range(rnd.randint(1, 4)):
        op = rnd.random()
        i = rnd.randrange(len(b) + 1)
        if op < 0.4 and b:
            del b[i:i + rnd.randint(1, 8)]
        elif op < 0.8:
            b[i:i] = bytes(rnd.randrange(256) for _ in range(rnd.randint(1, 4)))
        else:
            b[i:i] = rnd.choice([b"{", b"}", b"[", b"]", b'"', b",", b":", b"\\u", b"1e999"])
    return bytes(b)


ctypes = ["application/json", "application/merge-patch+json", "application/json-patch+json",
          "application/strategic-merge-patch+json", "application/vnd.kubernetes.protobuf",
          "application/apply-patch+yaml", "application/yaml", "", "text/plain"]
queries = ["", "?dryRun=All", "?labelSelector=" + "a%20in%20(", "?fieldSelector=a%3D%5C",
           "?limit=-5", "?continue=%%%", "?resourceVersion=abc", "?watch=1&timeoutSeconds=1",
           "?resourceVersion=99999999999999999999&resourceVersionMatch=Exact",
           "?fieldValidation=Strict", "?propagationPolicy=x", "?gracePeriodSeconds=-3",
           "?fieldManager=fz", "?fieldManager=fz&dryRun=All"]
odd_paths = ["/api/v1/namespaces/default/pods/p/status/x", "/apis//v1", "/api/v1/namespaces//pods",
             "/apis/apps/v1/namespaces/default/deployments/d/scale", "/api/v1/namespaces/default/pods/p/binding",
             "/" + "a/" * 40, "/api/v1/nodes/n/status", "/openapi/v3/apis/x", "/api/v1/watch"]

import time

end = time.time() + seconds
n = 0
codes = {}
while time.time() < end:
    o = rnd.choice(seed_objs)
    base = paths[o["kind"]]
    name = o["metadata"]["name"]
    r = rnd.random()
    if r < 0.35:
        method, path = rnd.choice(["POST", "PUT", "PATCH"]), base + ("" if rnd.random() < 0.3 else "/" + name)
        path += rnd.choice(["", "?fieldManager=fz"])
        body = json.dumps(mutate(o)).encode()
        if rnd.random() < 0.3:
            body = text_mutate(body)
    elif r < 0.55:
        method, path = "PATCH", base + "/" + name
        body = json.dumps(rnd.choice([mutate(o), [{"op": rnd.choice(["add", "remove", "replace", "move", "copy", "test", "x"]),
                                                   "path": rnd.choice(["/", "/metadata/labels/a", "/spec/containers/-",
                                                                       "/spec/containers/9", "/a~2b", "", "/data/~1"]),
                                                   "from": rnd.choice(["/metadata", "/spec", "/nope"]),
                                                   "value": rnd.choice(weird)}]])).encode()
    elif r < 0.65:
        method, path = rnd.choice(["POST", "PUT"]), base + "/" + name
        body = b"k8s\x00" + bytes(rnd.randrange(256) for _ in range(rnd.randint(0, 64)))
    elif r < 0.8:
        method, path, body = rnd.choice(["GET", "DELETE", "GET"]), rnd.choice([base, base + "/" + name]) + rnd.choice(queries), None
    else:
        method, path = rnd.choice(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]), rnd.choice(odd_paths)
        body = text_mutate(b'{"kind":"Binding","target":{"name":"n"}}')
    try:
        st, b, _ = s.req(method, path, body, ctype=rnd.choice(ctypes)) if body is not None else s.req(method, path)
    except Exception as e:  # a dropped connection is a crash here
        check(False, "%s %s: %s" % (method, path, e))
    codes[st] = codes.get(st, 0) + 1
    if st >= 500 and st != 504:
        check(False, "%s %s -> %d %s" % (method, path, st, b))
    if st >= 400:
        check(isinstance(b, dict) and b.get("kind") == "Status" and b.get("code") == st,
              "error %d is a Status" % st) if n < 3 else None
    n += 1
    if rnd.random() < 0.02:  # put the seeds back now and then
        for so in seed_objs:
            s.req("POST", paths[so["kind"]], so)
print("requests: %d, codes: %s" % (n, dict(sorted(codes.items()))))
check(n > 100, "sent %d requests" % n)
check(s.req("GET", "/healthz")[1] == "ok", "server alive")
print("PASS")
