# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Bootstrap tokens and CertificateSigningRequests: a token Secret in
kube-system authenticates system:bootstrap:<id> (wrong secret, expired,
not for authentication: 401), which may only create and read CSRs; a
node client CSR from it is auto-approved and signed by the server's CA
and the certificate authenticates system:node:NAME; other CSRs wait for
`kubectl certificate approve` (which the bootstrapper may not do) and
are then signed; a kubelet-signer CSR with the wrong subject fails."""
import atexit
import base64
import json
import os
import shutil
import ssl
import subprocess
import tempfile
import time

from lib import Server, check, fail

TMP = tempfile.mkdtemp(prefix="berth-csr-")
atexit.register(shutil.rmtree, TMP, True)

s = Server()
DATA = os.path.join(s.tmp, "data")
KC = os.path.join(DATA, "kubeconfig")
CA_CRT = os.path.join(DATA, "ca.crt")
CSRS = "/apis/certificates.k8s.io/v1/certificatesigningrequests"
WHOAMI = "/apis/authentication.k8s.io/v1/selfsubjectreviews"


def b64(x):
    return base64.b64encode(x.encode() if isinstance(x, str) else x).decode()


def kubectl(*args, ok=True, stdin=None):
    p = subprocess.run(["kubectl", "--kubeconfig", KC, "--request-timeout=20s", *args],
                       input=stdin, capture_output=True, text=True, timeout=60)
    if ok and p.returncode:
        fail("kubectl %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


def token_secret(tid, secret, expiration=None, usage="true"):
    data = {"token-id": b64(tid), "token-secret": b64(secret),
            "usage-bootstrap-authentication": b64(usage),
            "auth-extra-groups": b64("system:bootstrappers:worker")}
    if expiration:
        data["expiration"] = b64(expiration)
    st, out, _ = s.req("POST", "/api/v1/namespaces/kube-system/secrets",
                       {"metadata": {"name": "bootstrap-token-" + tid},
                        "type": "bootstrap.kubernetes.io/token", "data": data})
    check(st == 201, "token secret %s created (%s)" % (tid, st))


def bearer(method, path, token, body=None):
    st, out, _ = s.req(method, path, body, headers={"Authorization": "Bearer " + token},
                       ctx=ssl.create_default_context(cafile=CA_CRT))
    return st, out


def whoami(method_args):
    st, out = method_args("POST", WHOAMI, {"apiVersion": "authentication.k8s.io/v1",
                                            "kind": "SelfSubjectReview"})
    return st, (out.get("status", {}).get("userInfo", {}) if isinstance(out, dict) else {})


token_secret("abcdef", "0123456789abcdef")
token_secret("oldtok", "0123456789abcdef", expiration="2020-01-01T00:00:00Z")
token_secret("nouse0", "0123456789abcdef", usage="false")
TOK = "abcdef.0123456789abcdef"

st, ui = whoami(lambda m, p, b: bearer(m, p, TOK, b))
check(st == 201 and ui.get("username") == "system:bootstrap:abcdef" and
      "system:bootstrappers" in ui.get("groups", []) and
      "system:bootstrappers:worker" in ui.get("groups", []),
      "bootstrap token authenticates system:bootstrap:abcdef (%s %s)" % (st, ui))
check(bearer("GET", "/api/v1/pods", "abcdef.0123456789abcdee")[0] == 401, "wrong secret: 401")
check(bearer("GET", "/api/v1/pods", "oldtok.0123456789abcdef")[0] == 401, "expired: 401")
check(bearer("GET", "/api/v1/pods", "nouse0.0123456789abcdef")[0] == 401,
      "not for authentication: 401")
check(bearer("GET", "/api/v1/pods", "zzzzzz.0123456789abcdef")[0] == 401, "no such token: 401")
check(bearer("GET", "/api/v1/pods", TOK)[0] == 403, "bootstrapper lists pods: 403")
check(bearer("GET", "/api/v1/namespaces/kube-system/secrets", TOK)[0] == 403,
      "bootstrapper lists secrets: 403")


def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    if p.returncode:
        fail("openssl %s: %s" % (" ".join(args), p.stderr))


def make_csr(name, subj):
    key, csr = os.path.join(TMP, name + ".key"), os.path.join(TMP, name + ".csr")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", subj)
    with open(csr) as f:
        return key, f.read()


def csr_obj(name, pem, signer, usages=("digital signature", "client auth")):
    return {"apiVersion": "certificates.k8s.io/v1", "kind": "CertificateSigningRequest",
            "metadata": {"name": name},
            "spec": {"request": b64(pem), "signerName": signer, "usages": list(usages)}}


def cert_ctx(name, cert_b64, key):
    crt = os.path.join(TMP, name + ".crt")
    with open(crt, "wb") as f:
        f.write(base64.b64decode(cert_b64))
    ctx = ssl.create_default_context(cafile=CA_CRT)
    ctx.load_cert_chain(crt, key)
    return ctx


KUBELET = "kubernetes.io/kube-apiserver-client-kubelet"
CLIENT = "kubernetes.io/kube-apiserver-client"

# a node's client certificate: auto-approved and issued at create
key, pem = make_csr("node-x", "/O=system:nodes/CN=system:node:node-x")
st, out = bearer("POST", CSRS, TOK, csr_obj("node-x", pem, KUBELET))
check(st == 201, "bootstrapper creates a node CSR: 201 (%s %s)" % (st, out))
conds = out.get("status", {}).get("conditions", [])
check(any(c["type"] == "Approved" and c["reason"] == "AutoApproved" for c in conds),
      "node CSR auto-approved: %s" % conds)
check(out["spec"].get("username") == "system:bootstrap:abcdef" and
      "system:bootstrappers" in out["spec"].get("groups", []),
      "the server records the requester: %s" % out["spec"].get("username"))
cert = out.get("status", {}).get("certificate")
check(bool(cert), "node CSR signed at once")
st, got = bearer("GET", CSRS + "/node-x", TOK)
check(st == 200 and got["status"].get("certificate") == cert, "bootstrapper reads its CSR back")
node = cert_ctx("node-x", cert, key)
st, ui = whoami(lambda m, p, b: s.req(m, p, b, ctx=node)[:2])
check(st == 201 and ui.get("username") == "system:node:node-x" and
      "system:nodes" in ui.get("groups", []), "the issued cert is system:node:node-x: %s" % ui)
check(s.req("GET", "/api/v1/nodes", ctx=node)[0] == 200, "the node lists nodes: 200")
out = subprocess.run(["openssl", "x509", "-noout", "-enddate", "-ext", "extendedKeyUsage",
                      "-in", os.path.join(TMP, "node-x.crt")],
                     capture_output=True, text=True).stdout
check("TLS Web Client Authentication" in out, "client auth usage in the cert")
end = time.mktime(time.strptime(out.split("notAfter=")[1].split("\n")[0].strip(),
                                "%b %d %H:%M:%S %Y GMT"))
check(360 * 86400 < end - time.time() < 366 * 86400, "valid for a year")

# renewal: the node itself asks for a new cert for its own name
key2, pem2 = make_csr("node-x2", "/O=system:nodes/CN=system:node:node-x")
st, out = s.req("POST", CSRS, csr_obj("node-x-renew", pem2, KUBELET), ctx=node)[:2]
check(st == 201 and out.get("status", {}).get("certificate"),
      "a node renewing its own cert: auto-approved (%s)" % st)
key3, pem3 = make_csr("node-y", "/O=system:nodes/CN=system:node:node-y")
st, out = s.req("POST", CSRS, csr_obj("node-y-by-x", pem3, KUBELET), ctx=node)[:2]
check(st in (201, 403) and not (isinstance(out, dict) and
                                out.get("status", {}).get("certificate")),
      "a node asking for another node's cert: not approved (%s)" % st)

# another client: pending until an admin approves it
key, pem = make_csr("alice", "/O=devs/CN=alice")
st, out = bearer("POST", CSRS, TOK, csr_obj("alice", pem, CLIENT))
check(st == 201 and not out.get("status", {}).get("certificate"),
      "client CSR is created pending (%s)" % st)
p = kubectl("get", "csr", "alice")
check("Pending" in p.stdout, "kubectl get csr: Pending:\n" + p.stdout)
out["status"] = {"conditions": [{"type": "Approved", "status": "True", "reason": "Mine"}]}
st, _ = bearer("PUT", CSRS + "/alice/approval", TOK, out)
check(st == 403, "the bootstrapper may not approve: 403 (%s)" % st)
kubectl("certificate", "approve", "alice")
p = kubectl("get", "csr", "alice")
check("Approved,Issued" in p.stdout, "kubectl get csr after approve: Approved,Issued:\n" + p.stdout)
st, out = bearer("GET", CSRS + "/alice", TOK)
alice = cert_ctx("alice", out["status"]["certificate"], key)
st, ui = whoami(lambda m, p, b: s.req(m, p, b, ctx=alice)[:2])
check(ui.get("username") == "alice" and "devs" in ui.get("groups", []),
      "the approved cert is alice in devs: %s" % ui)

# approving needs the approve verb on the CSR's signer, not only update on
# certificatesigningrequests/approval (Kubernetes' CertificateApproval)
key, pem = make_csr("carol", "/CN=carol")
bearer("POST", CSRS, TOK, csr_obj("carol", pem, CLIENT))
rules = [{"apiGroups": ["certificates.k8s.io"], "resources": ["certificatesigningrequests"],
          "verbs": ["get", "list"]},
         {"apiGroups": ["certificates.k8s.io"],
          "resources": ["certificatesigningrequests/approval"], "verbs": ["update"]}]


def approver_role(extra):
    kubectl("apply", "-f", "-", stdin=json.dumps({
        "apiVersion": "v1", "kind": "List", "items": [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
             "metadata": {"name": "csr-approver"}, "rules": rules + extra},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
             "metadata": {"name": "csr-approver"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                         "name": "csr-approver"},
             "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User",
                           "name": "approver"}]}]}))


approver_role([])
p = kubectl("certificate", "approve", "carol", "--as", "approver", ok=False)
check(p.returncode != 0 and "not permitted to approve requests with signerName" in p.stderr,
      "update on approval alone may not approve: %s" % p.stderr.strip())
approver_role([{"apiGroups": ["certificates.k8s.io"], "resources": ["signers"],
                "resourceNames": ["kubernetes.io/*"], "verbs": ["approve"]}])
eventually_ok = False
for _ in range(50):
    p = kubectl("certificate", "approve", "carol", "--as", "approver", ok=False)
    if p.returncode == 0:
        eventually_ok = True
        break
    time.sleep(0.1)
check(eventually_ok, "approve on signers kubernetes.io/* may approve: %s" % p.stderr.strip())

# denied stays unsigned
key, pem = make_csr("bob", "/CN=bob")
bearer("POST", CSRS, TOK, csr_obj("bob", pem, CLIENT))
kubectl("certificate", "deny", "bob")
st, out = bearer("GET", CSRS + "/bob", TOK)
check(not out.get("status", {}).get("certificate"), "a denied CSR is not signed")

# the kubelet signer refuses the wrong subject even when approved
key, pem = make_csr("sneaky", "/O=system:masters/CN=system:node:node-z")
st, out = bearer("POST", CSRS, TOK, csr_obj("sneaky", pem, KUBELET))
check(st == 201 and not out.get("status", {}).get("certificate") and
      not out.get("status", {}).get("conditions"),
      "kubelet CSR with O=system:masters: not auto-approved")
kubectl("certificate", "approve", "sneaky")
st, out = bearer("GET", CSRS + "/sneaky", TOK)
conds = out.get("status", {}).get("conditions", [])
check(not out["status"].get("certificate") and any(c["type"] == "Failed" for c in conds),
      "approved anyway: Failed, no certificate (%s)" % conds)

st, out = bearer("POST", CSRS, TOK, csr_obj("junk", "not a csr", CLIENT))
check(st == 422, "a request that is no CSR: 422 (%s)" % st)
print("ok")
