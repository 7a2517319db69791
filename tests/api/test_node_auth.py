# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The Node authorizer and NodeRestriction with real node identities
(client certificates CN=system:node:NAME, O=system:nodes from the
server's CA): a node reads the Secret and ConfigMap of a pod bound to it
but not another node's (403), loses them once the pod goes, writes its own
Node, Lease and pod status but not another node's, may not set
node-restriction.kubernetes.io/ labels, creates only mirror pods bound to
itself, gets ServiceAccount tokens only bound to its own pods, keeps the
admin's node-restriction labels; kubectl auth can-i agrees through
impersonation."""
import atexit
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time

from lib import Server, check, fail

TMP = tempfile.mkdtemp(prefix="berth-nodeauth-")
atexit.register(shutil.rmtree, TMP, True)

s = Server()
DATA = os.path.join(s.tmp, "data")
KC = os.path.join(DATA, "kubeconfig")
CA_CRT, CA_KEY = os.path.join(DATA, "ca.crt"), os.path.join(DATA, "ca.key")
NS = "/api/v1/namespaces/default"


def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    if p.returncode:
        fail("openssl %s: %s" % (" ".join(args), p.stderr))


def node_ctx(name, group="system:nodes"):
    """A TLS context holding a certificate for system:node:name from our CA."""
    key, csr = os.path.join(TMP, name + ".key"), os.path.join(TMP, name + ".csr")
    crt = os.path.join(TMP, name + ".crt")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", "/O=%s/CN=system:node:%s" % (group, name))
    openssl("x509", "-req", "-in", csr, "-CA", CA_CRT, "-CAkey", CA_KEY,
            "-CAcreateserial", "-out", crt, "-days", "2")
    ctx = ssl.create_default_context(cafile=CA_CRT)
    ctx.load_cert_chain(crt, key)
    return ctx


A, B = node_ctx("node-a"), node_ctx("node-b")


def admin(method, path, body=None, ok=(200, 201)):
    ctype = "application/merge-patch+json" if method == "PATCH" else "application/json"
    st, out, _ = s.req(method, path, body, ctype=ctype)
    if st not in ok:
        fail("admin %s %s: %s %s" % (method, path, st, out))
    return out


def as_node(ctx, method, path, body=None, ctype="application/json"):
    st, out, _ = s.req(method, path, body, ctype=ctype, ctx=ctx)
    return st, out


def pod(name, node, secret, cm, mirror=False):
    c = {"name": "c", "image": "busybox"}
    if cm:
        c["env"] = [{"name": "X", "valueFrom": {"configMapKeyRef": {"name": cm, "key": "k"}}}]
    p = {"apiVersion": "v1", "kind": "Pod",
         "metadata": {"name": name, "namespace": "default"},
         "spec": {"nodeName": node, "containers": [c]}}
    if secret:
        p["spec"]["volumes"] = [{"name": "v", "secret": {"secretName": secret}}]
    if mirror:
        p["metadata"]["annotations"] = {"kubernetes.io/config.mirror": "x"}
    return p


for n in ("a", "b"):
    admin("POST", NS + "/secrets", {"metadata": {"name": "sec-" + n},
                                    "data": {"k": "dmFsdWU="}})
    admin("POST", NS + "/configmaps", {"metadata": {"name": "cm-" + n}, "data": {"k": "v"}})
    admin("POST", "/api/v1/nodes", {"metadata": {"name": "node-" + n}})
    admin("POST", NS + "/pods", pod("pod-" + n, "node-" + n, "sec-" + n, "cm-" + n))
admin("POST", NS + "/secrets", {"metadata": {"name": "unused"}, "data": {}})


def eventually(fn, what, timeout=10):
    end = time.time() + timeout
    while True:
        got = fn()
        if got or time.time() > end:
            check(got, what)
            return
        time.sleep(0.1)


# reads: only what a pod bound to the node uses
eventually(lambda: as_node(A, "GET", NS + "/secrets/sec-a")[0] == 200,
           "node-a reads the secret of its pod: 200")
st, out = as_node(A, "GET", NS + "/secrets/sec-b")
check(st == 403 and out.get("reason") == "Forbidden",
      "node-a reads node-b's pod secret: 403 (%s)" % st)
check(as_node(B, "GET", NS + "/secrets/sec-b")[0] == 200, "node-b reads its own: 200")
check(as_node(A, "GET", NS + "/secrets/unused")[0] == 403, "a secret no pod uses: 403")
check(as_node(A, "GET", NS + "/secrets")[0] == 403, "node-a lists secrets: 403")
check(as_node(A, "GET", NS + "/configmaps/cm-a")[0] == 200, "configmap of its pod: 200")
check(as_node(A, "GET", NS + "/configmaps/cm-b")[0] == 403, "configmap of node-b's pod: 403")
check(as_node(A, "GET", NS + "/serviceaccounts/default")[0] == 200,
      "the ServiceAccount of its pod: 200")
check(as_node(A, "GET", "/api/v1/pods")[0] == 200, "node-a lists pods (RBAC system:node)")
check(as_node(A, "DELETE", NS + "/secrets/sec-a")[0] == 403, "node-a deletes a secret: 403")

# a node that is not in system:nodes is no node: RBAC alone, nothing granted
C = node_ctx("node-c", group="other")
check(as_node(C, "GET", NS + "/secrets/sec-a")[0] == 403, "CN system:node without group: 403")

# writes: its own Node only
MP = "application/merge-patch+json"
st, _ = as_node(A, "PATCH", "/api/v1/nodes/node-b", '{"metadata":{"labels":{"x":"y"}}}', MP)
check(st == 403, "node-a patches node-b: 403 (%s)" % st)
st, _ = as_node(A, "PATCH", "/api/v1/nodes/node-a", '{"metadata":{"labels":{"x":"y"}}}', MP)
check(st == 200, "node-a patches itself: 200 (%s)" % st)
st, out = as_node(A, "PATCH", "/api/v1/nodes/node-a",
                  '{"metadata":{"labels":{"node-restriction.kubernetes.io/pool":"a"}}}', MP)
check(st == 403 and "node-restriction.kubernetes.io/" in out.get("message", ""),
      "node-a sets a node-restriction label on itself: 403 (%s)" % st)
# labels the admin set under that prefix: a PUT keeps them as they are
admin("PATCH", "/api/v1/nodes/node-a",
      '{"metadata":{"labels":{"node-restriction.kubernetes.io/pool":"gold"}}}')
st, me = as_node(A, "GET", "/api/v1/nodes/node-a")
check(st == 200, "node-a reads itself")
me["metadata"]["labels"]["plain"] = "yes"
st, out = as_node(A, "PUT", "/api/v1/nodes/node-a", json.dumps(me))
check(st == 200, "node-a PUTs itself keeping the admin's label: 200 (%s %s)" % (st, out))
me = out
me["metadata"]["labels"]["node-restriction.kubernetes.io/pool"] = "free"
st, _ = as_node(A, "PUT", "/api/v1/nodes/node-a", json.dumps(me))
check(st == 403, "node-a PUT changing the admin's label: 403 (%s)" % st)
del me["metadata"]["labels"]["node-restriction.kubernetes.io/pool"]
st, _ = as_node(A, "PUT", "/api/v1/nodes/node-a", json.dumps(me))
check(st == 403, "node-a PUT dropping the admin's label: 403 (%s)" % st)
st, _ = as_node(A, "PATCH", "/api/v1/nodes/node-a/status",
                '{"status":{"conditions":[{"type":"Ready","status":"True"}]}}', MP)
check(st == 200, "node-a patches its own status: 200 (%s)" % st)
st, _ = as_node(A, "PATCH", "/api/v1/nodes/node-b/status", '{"status":{}}', MP)
check(st == 403, "node-a patches node-b's status: 403")
st, _ = as_node(A, "POST", "/api/v1/nodes", {"metadata": {"name": "node-z"}})
check(st == 403, "node-a creates another Node: 403 (%s)" % st)

# pod status: only of pods bound to it
st, _ = as_node(A, "PATCH", NS + "/pods/pod-a/status", '{"status":{"phase":"Running"}}', MP)
check(st == 200, "node-a patches its pod's status: 200 (%s)" % st)
st, _ = as_node(A, "PATCH", NS + "/pods/pod-b/status", '{"status":{"phase":"Running"}}', MP)
check(st == 403, "node-a patches node-b's pod status: 403 (%s)" % st)
st, _ = as_node(A, "PATCH", NS + "/pods/pod-a", '{"metadata":{"labels":{"x":"y"}}}', MP)
check(st == 403, "node-a patches a pod's spec/metadata: 403 (%s)" % st)
st, _ = as_node(A, "DELETE", NS + "/pods/pod-b")
check(st == 403, "node-a deletes node-b's pod: 403 (%s)" % st)

# pods it creates: mirror pods bound to itself
st, _ = as_node(A, "POST", NS + "/pods", pod("plain", "node-a", "sec-a", "cm-a"))
check(st == 403, "node-a creates a plain pod: 403 (%s)" % st)
st, _ = as_node(A, "POST", NS + "/pods", pod("mirror-b", "node-b", "sec-b", "cm-b", True))
check(st == 403, "node-a creates a mirror pod on node-b: 403 (%s)" % st)
# a mirror pod may not name what the node could then read through it
for what, bad in (("a secret", pod("mirror-a", "node-a", "sec-a", None, True)),
                  ("a configmap", pod("mirror-a", "node-a", None, "cm-a", True)),
                  ("a service account", dict(pod("mirror-a", "node-a", None, None, True),
                                             spec={"nodeName": "node-a",
                                                   "serviceAccountName": "default",
                                                   "containers": [{"name": "c",
                                                                   "image": "busybox"}]}))):
    st, out = as_node(A, "POST", NS + "/pods", bad)
    check(st == 403 and "can not create pods that reference" in json.dumps(out),
          "node-a's mirror pod naming %s: 403 (%s %s)" % (what, st, out))
st, _ = as_node(A, "POST", NS + "/pods", pod("mirror-a", "node-a", None, None, True))
check(st == 201, "node-a creates its mirror pod: 201 (%s)" % st)

# leases: its own, in kube-node-lease
LP = "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases"
lease = {"apiVersion": "coordination.k8s.io/v1", "kind": "Lease",
         "spec": {"holderIdentity": "node-a"}}
st, _ = as_node(A, "POST", LP, dict(lease, metadata={"name": "node-b"}))
check(st == 403, "node-a creates node-b's lease: 403 (%s)" % st)
st, _ = as_node(A, "POST", LP, dict(lease, metadata={"name": "node-a"}))
check(st == 201, "node-a creates its lease: 201 (%s)" % st)
st, _ = as_node(A, "PUT", LP + "/node-b", dict(lease, metadata={"name": "node-b"}))
check(st == 403, "node-a updates node-b's lease: 403 (%s)" % st)

# ServiceAccount tokens: only bound to a pod of the node
def token_req(pod_name):
    spec = {"audiences": ["api"], "expirationSeconds": 600}
    if pod_name:
        uid = admin("GET", NS + "/pods/" + pod_name)["metadata"]["uid"]
        spec["boundObjectRef"] = {"kind": "Pod", "apiVersion": "v1", "name": pod_name,
                                  "uid": uid}
    return {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec}


TP = NS + "/serviceaccounts/default/token"
st, out = as_node(A, "POST", TP, token_req("pod-a"))
check(st == 201 and out.get("status", {}).get("token"),
      "node-a gets a token bound to its pod: 201 (%s %s)" % (st, out))
st, _ = as_node(A, "POST", TP, token_req("pod-b"))
check(st == 403, "node-a asks for a token bound to node-b's pod: 403 (%s)" % st)
st, _ = as_node(A, "POST", TP, token_req(None))
check(st == 403, "node-a asks for an unbound token: 403 (%s)" % st)

# kubectl auth can-i through impersonation sees the same decisions
def can(*args):
    p = subprocess.run(["kubectl", "--kubeconfig", KC, "auth", "can-i", *args,
                        "--as", "system:node:node-a", "--as-group", "system:nodes"],
                       capture_output=True, text=True, timeout=60)
    return p.stdout.strip()


check(can("get", "secret/sec-a") == "yes", "can-i get secret/sec-a as node-a: yes")
check(can("get", "secret/sec-b").startswith("no"), "can-i get secret/sec-b as node-a: no")

# the graph follows the pods: pod-a gone, its secret is no longer node-a's
admin("DELETE", NS + "/pods/pod-a?gracePeriodSeconds=0", ok=(200, 202))
admin("DELETE", NS + "/pods/mirror-a?gracePeriodSeconds=0", ok=(200, 202))
eventually(lambda: as_node(A, "GET", NS + "/secrets/sec-a")[0] == 403,
           "node-a loses sec-a once its pods are gone: 403")

# etcd gone long enough to end the authorizer's pod watch, then back: the
# server rebuilds the graph by itself (fail closed meanwhile, no restart)
if s.etcd:
    args = s.etcd.proc.args
    s.etcd.proc.terminate()
    s.etcd.proc.wait(10)
    time.sleep(3)
    s.etcd.proc = subprocess.Popen(args, stdout=s.etcd.log, stderr=subprocess.STDOUT)
    eventually(lambda: as_node(B, "GET", NS + "/secrets/sec-b")[0] == 200,
               "etcd back: node-b reads its own secret again, no server restart",
               timeout=30)
    with open(os.path.join(s.tmp, "server.log")) as f:
        log = f.read()
    if "pod watch ended" in log:
        check("pod graph rebuilt" in log, "the node authorizer rebuilt its pod graph")
print("ok")
