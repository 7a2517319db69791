#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A projected volume with a serviceAccountToken source (and a configMap
one): the kubelet requests a TokenRequest bound to the pod, the container
reads a token whose claims name this pod, its node, the audience and a
600 s lifetime, mode 0644 (defaultMode), signed by the server's published key; the token
is renewed in place (BERTH_TOKEN_MAX_AGE_S=6 stands for the kubelet's 24 h
ceiling) while the container keeps running, and once a configMap source
that vanished is back; a pod whose ServiceAccount does
not exist (deleted after admission, which refuses it) stays
ContainerCreating with FailedMount naming it."""
import base64
import json
import os
import re
import time

from kubelet_lib import IMAGE, check, fail, pod_node, wait_for

MAX_AGE = 6
os.environ["BERTH_TOKEN_MAX_AGE_S"] = str(MAX_AGE)  # the agent inherits it
n, _ = pod_node("kt-satoken")
MNT = "/var/run/secrets/tokens"


def b64d(x):
    return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))


def claims(tok):
    return json.loads(b64d(tok.split(".")[1]))


def apply(obj):
    n.kubectl("apply", "-f", "-", input=json.dumps(obj))


apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
       "data": {"app.conf": "mode=test"}})


def pod(name, sa=None):
    p = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
         "spec": {"terminationGracePeriodSeconds": 1,
                  "containers": [{
                      "name": "main", "image": IMAGE,
                      "command": ["sh", "-c",
                                  "cat %s/app.conf; echo; stat -L -c MODE=%%a %s/token; "
                                  "while true; do echo TOKEN=$(cat %s/token); sleep 1; done"
                                  % (MNT, MNT, MNT)],
                      "volumeMounts": [{"name": "tokens", "mountPath": MNT}]}],
                  "volumes": [{"name": "tokens", "projected": {"sources": [
                      {"serviceAccountToken": {"path": "token", "audience": "berth-test",
                                               "expirationSeconds": 600}},
                      {"configMap": {"name": "cfg",
                                     "items": [{"key": "app.conf", "path": "app.conf"}]}}]}}]}}
    if sa:
        p["spec"]["serviceAccountName"] = sa
    return p


apply(pod("tok"))
# admission refuses a pod naming a missing ServiceAccount; one deleted
# after its pod was admitted is what the kubelet must cope with
r = n.kubectl("apply", "-f", "-", input=json.dumps(pod("nosa", sa="ghost")),
              check_rc=False)
check(r.returncode != 0 and 'serviceaccount "ghost" not found' in r.stderr,
      "admission refuses a pod naming a missing ServiceAccount")
# held off the node by a taint until its account is gone
n.kubectl("taint", "node", "kt-satoken", "test/hold=1:NoSchedule")
n.kubectl("create", "serviceaccount", "ghost")
apply(pod("nosa", sa="ghost"))
n.kubectl("delete", "serviceaccount", "ghost")
n.kubectl("taint", "node", "kt-satoken", "test/hold-")


def tokens():
    r = n.kubectl("logs", "tok", check_rc=False)
    if r.returncode:
        return None, []
    return r.stdout, re.findall(r"^TOKEN=(\S+)$", r.stdout, re.M)


out, toks = wait_for("the container prints its token",
                     lambda: (lambda o, t: (o, t) if t else None)(*tokens()), 90)
p = n.get("pod", "tok")
node = n.get("node", "kt-satoken")
first = toks[0]
c = claims(first)
kio = c["kubernetes.io"]
check("mode=test" in out, "the configMap source sits next to the token")
# Kubernetes: the projected volume's defaultMode (0644 unless set); 0600
# only when the pod sets fsUser/fsGroup
check("MODE=644" in out, "the token file has the projected default mode 0644")
check(kio["pod"] == {"name": "tok", "uid": p["metadata"]["uid"]},
      "claims: kubernetes.io.pod is this pod (name and uid)")
check(kio["namespace"] == "default" and kio["serviceaccount"]["name"] == "default"
      and c["sub"] == "system:serviceaccount:default:default",
      "claims: the pod's ServiceAccount (spec.serviceAccountName defaults to default)")
check(kio.get("node") == {"name": "kt-satoken", "uid": node["metadata"]["uid"]},
      "claims: kubernetes.io.node is the pod's node")
check(c["aud"] == ["berth-test"] and c["exp"] - c["iat"] == 600,
      "claims: audience and expirationSeconds from the source")

# signed by the key the server publishes
jwks = json.loads(n.kubectl("get", "--raw", "/openid/v1/jwks").stdout)
hdr = json.loads(b64d(first.split(".")[0]))
check(hdr["kid"] == jwks["keys"][0]["kid"], "the token's kid is the published key's")
try:
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding, rsa
    k = jwks["keys"][0]
    pub = rsa.RSAPublicNumbers(int.from_bytes(b64d(k["e"]), "big"),
                               int.from_bytes(b64d(k["n"]), "big")).public_key()
    signed, _, sig = first.rpartition(".")
    pub.verify(b64d(sig), signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    check(True, "the token's signature verifies with the JWKS key")
except ImportError:
    print("note: python3-cryptography missing; signature checked in tests/api")

# renewed in place: a new token in the same file, the container untouched
restarts0 = p["status"]["containerStatuses"][0]["restartCount"]
t0 = time.time()
_, later = wait_for("a renewed token in the running container",
                    lambda: (lambda o, t: (o, t) if t and t[-1] != first else None)(*tokens()),
                    MAX_AGE * 4 + 10)
took = time.time() - t0
new = later[-1]
cn = claims(new)
check(cn["iat"] > c["iat"] and cn["jti"] != c["jti"]
      and cn["kubernetes.io"]["pod"]["uid"] == p["metadata"]["uid"],
      "the renewed token is newer and still bound to this pod")
check(took <= MAX_AGE * 3 + 10, "renewed within the shortened ceiling (%.1fs)" % took)
p2 = n.get("pod", "tok")
cs = p2["status"]["containerStatuses"][0]
check(cs["restartCount"] == restarts0 and "running" in cs["state"],
      "the container was not restarted for the renewal")
# the volume is written through ..data: the old token is not left half-written
check(all(t.count(".") == 2 for t in later), "every token read was whole")

# another source of the volume gone: the renewal cannot rewrite the volume,
# the file keeps its (still valid) token; back, the renewed one is written
n.kubectl("delete", "configmap", "cfg")
time.sleep(1)
_, now = tokens()
held = now[-1]
time.sleep(MAX_AGE * 2 + 2)
_, now = tokens()
check(now[-1] == held, "configMap gone: the volume keeps its last token")
apply({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "cfg"},
       "data": {"app.conf": "mode=test"}})
wait_for("the renewal is written once the configMap is back",
         lambda: (lambda o, t: t if t and t[-1] != held else None)(*tokens()), 30)
check(n.get("pod", "tok")["status"]["containerStatuses"][0]["restartCount"] == restarts0,
      "still no restart")

# a ServiceAccount that does not exist: FailedMount, no container
st = wait_for("nosa reports why it cannot start",
              lambda: (lambda s: s if "ghost" in s.get("message", "") else None)(
                  (n.get("pod", "nosa") or {}).get("status", {})), 60)
check(st.get("reason") == "FailedMount"
      and 'serviceaccounts "ghost" not found' in st["message"]
      and st.get("phase") == "Pending",
      "nosa: Pending, FailedMount naming the missing ServiceAccount: %s" % st.get("message"))
n.kubectl("delete", "pod", "tok", "nosa", "--wait=false")
wait_for("pods deleted", lambda: not (n.get("pods") or {}).get("items"), 60)
print("PASS")
