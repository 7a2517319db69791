# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The request chain over HTTPS: the generated CA and admin kubeconfig,
server verification with a wrong CA, client certificates from a foreign
CA (401), no credentials (401, anonymous off), the token file, bound
ServiceAccount tokens (accepted; rejected once the pod is gone, past exp,
with a forged signature), an RBAC matrix through kubectl impersonation
(--as/--as-group, which itself needs the impersonate verb), kubectl auth
whoami and can-i, an aggregated ClusterRole, and the plain-HTTP listener
refused off loopback."""
import base64
import http.client
import json
import atexit
import os
import shutil
import ssl
import subprocess
import tempfile
import time

from lib import SERVER, Server, check, fail

TMP = tempfile.mkdtemp(prefix="berth-auth-")
atexit.register(shutil.rmtree, TMP, True)
TOKENS = os.path.join(TMP, "tokens.csv")
with open(TOKENS, "w") as f:
    f.write("# token,user,uid,groups\n"
            "alice-token,alice,u-1,\"team-a,readers\"\n"
            "bob-token,bob,u-2\n")

s = Server("--token-auth-file", TOKENS)
DATA = os.path.join(s.tmp, "data")
KC = os.path.join(DATA, "kubeconfig")
NS = "/api/v1/namespaces/default"


def kubeconfig_field(name):
    with open(KC) as f:
        for line in f:
            if line.strip().startswith(name + ":"):
                return line.split(":", 1)[1].strip()
    fail("kubeconfig has no " + name)


def write(name, data):
    p = os.path.join(TMP, name)
    with open(p, "wb") as f:
        f.write(data)
    return p


CA = write("ca.crt", base64.b64decode(kubeconfig_field("certificate-authority-data")))
ADMIN_CRT = write("admin.crt", base64.b64decode(kubeconfig_field("client-certificate-data")))
ADMIN_KEY = write("admin.key", base64.b64decode(kubeconfig_field("client-key-data")))
URL = kubeconfig_field("server")
check(URL == "https://127.0.0.1:%d" % s.https_port, "kubeconfig: https URL " + URL)


def tls_ctx(ca=CA, cert=None, key=None):
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx


def https(method, path, body=None, ctx=None, token=None, headers=None):
    """A request with ctx's credentials (none by default) or a token."""
    h = dict(headers or {})
    if token:
        h["Authorization"] = "Bearer " + token
    return s.req(method, path, body, headers=h, ctx=ctx or tls_ctx())[:2]


def kubectl(*args, ok=True):
    p = subprocess.run(["kubectl", "--kubeconfig", KC, "--request-timeout=20s", *args],
                       capture_output=True, text=True, timeout=60)
    if ok and p.returncode:
        fail("kubectl %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30)
    if p.returncode:
        fail("openssl %s: %s" % (" ".join(args), p.stderr))


def make_ca(name):
    key, crt = os.path.join(TMP, name + ".key"), os.path.join(TMP, name + ".crt")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", key, "-out", crt, "-days", "2", "-subj", "/CN=" + name)
    return crt, key


def make_client(name, ca_crt, ca_key, subj):
    key, csr = os.path.join(TMP, name + ".key"), os.path.join(TMP, name + ".csr")
    crt = os.path.join(TMP, name + ".crt")
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", subj)
    openssl("x509", "-req", "-in", csr, "-CA", ca_crt, "-CAkey", ca_key,
            "-CAcreateserial", "-out", crt, "-days", "2")
    return crt, key


def is_status(body, code, reason):
    return isinstance(body, dict) and body.get("code") == code and body.get("reason") == reason


def whoami(**kw):
    st, body = https("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
                     {"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}, **kw)
    return st, (body["status"]["userInfo"] if st == 201 else body)


# --- TLS: the generated files, the serving certificate, a wrong CA ---
for f in ("ca.crt", "ca.key", "apiserver.crt", "apiserver.key", "admin.crt", "admin.key"):
    check(os.path.exists(os.path.join(DATA, f)), "generated " + f)
check(oct(os.stat(os.path.join(DATA, "ca.key")).st_mode & 0o777) == "0o600", "ca.key is 0600")
st, body = https("GET", "/version", ctx=tls_ctx(cert=ADMIN_CRT, key=ADMIN_KEY))
check(st == 200 and "gitVersion" in body, "HTTPS with the kubeconfig's CA and admin cert: 200")
other_ca, other_key = make_ca("other-ca")
try:
    https("GET", "/version", ctx=tls_ctx(ca=other_ca, cert=ADMIN_CRT, key=ADMIN_KEY))
    fail("a client trusting another CA accepted the server's certificate")
except ssl.SSLCertVerificationError:
    check(True, "a client trusting another CA rejects the server")
plain = http.client.HTTPConnection("127.0.0.1", s.https_port, timeout=5)
try:
    plain.request("GET", "/version")
    r = plain.getresponse()
    check(r.status == 400 or r.status >= 400, "plain HTTP to the HTTPS port: %d" % r.status)
except (http.client.HTTPException, OSError):
    check(True, "plain HTTP to the HTTPS port: refused")

# --- authentication ---
st, body = https("GET", NS + "/pods")
check(st == 401 and is_status(body, 401, "Unauthorized"), "no credentials: 401 (anonymous off)")
foreign_crt, foreign_key = make_client("mallory", other_ca, other_key, "/CN=mallory/O=system:masters")
st, body = https("GET", NS + "/pods", ctx=tls_ctx(cert=foreign_crt, key=foreign_key))
check(st == 401, "client certificate from a foreign CA, O=system:masters: 401 (%s)" % st)
ca_key = os.path.join(DATA, "ca.key")
dave_crt, dave_key = make_client("dave", os.path.join(DATA, "ca.crt"), ca_key, "/CN=dave/O=devs/O=qa")
st, ui = whoami(ctx=tls_ctx(cert=dave_crt, key=dave_key))
check(st == 201 and ui["username"] == "dave"
      and ui["groups"] == ["devs", "qa", "system:authenticated"],
      "client certificate: CN -> user, O -> groups: %s" % ui)
st, ui = whoami(token="alice-token")
check(st == 201 and ui == {"username": "alice", "uid": "u-1",
                           "groups": ["team-a", "readers", "system:authenticated"]},
      "token file: user, uid, groups: %s" % ui)
st, body = https("GET", NS + "/pods", token="nobody-token")
check(st == 401, "unknown bearer token: 401")
st, body = https("GET", NS + "/pods", token="bob-token")
check(st == 403 and body["message"] == 'pods is forbidden: User "bob" cannot list resource '
      '"pods" in API group "" in the namespace "default"',
      "authenticated without a role: 403 with Kubernetes' message: %s" % body)
check(body.get("details") == {"kind": "pods"}, "403 details: %s" % body.get("details"))
out = kubectl("auth", "whoami", "-o", "json").stdout
ui = json.loads(out)["status"]["userInfo"]
check(ui["username"] == "berth-admin" and "system:masters" in ui["groups"],
      "kubectl auth whoami: berth-admin in system:masters")

# --- ServiceAccount tokens bound to a pod ---
for _ in range(100):
    if s.req("GET", NS + "/serviceaccounts/default")[0] == 200:
        break
    time.sleep(0.1)
else:
    fail("no default ServiceAccount")
st, pod, _ = s.req("POST", NS + "/pods", {"apiVersion": "v1", "kind": "Pod",
                                          "metadata": {"name": "holder"},
                                          "spec": {"containers": [{"name": "c", "image": "x"}]}})
check(st == 201, "pod created")
st, tr, _ = s.req("POST", NS + "/serviceaccounts/default/token", {
    "apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
    "spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "holder",
                                "uid": pod["metadata"]["uid"]}}})
check(st == 201, "bound token issued")
tok = tr["status"]["token"]
st, ui = whoami(token=tok)
check(st == 201 and ui["username"] == "system:serviceaccount:default:default"
      and ui["groups"] == ["system:serviceaccounts", "system:serviceaccounts:default",
                           "system:authenticated"]
      and ui["extra"]["authentication.kubernetes.io/pod-name"] == ["holder"],
      "ServiceAccount token: user, groups, pod in extra: %s" % ui)


def b64u(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def b64d(x):
    return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))


def resign(token, change, keyfile):
    """The same claims changed by change(), signed RS256 with keyfile."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import padding
    h, p, _ = token.split(".")
    claims = json.loads(b64d(p))
    change(claims)
    msg = (h + "." + b64u(json.dumps(claims).encode())).encode()
    with open(keyfile, "rb") as f:
        key = serialization.load_pem_private_key(f.read(), None)
    return msg.decode() + "." + b64u(key.sign(msg, padding.PKCS1v15(), hashes.SHA256()))


try:
    import cryptography  # noqa: F401
    have_crypto = True
except ImportError:
    have_crypto = False
    print("note: python3-cryptography missing: expiry/forgery by re-signing skipped")
if have_crypto:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    sa_key = os.path.join(DATA, "sa.key")
    same = resign(tok, lambda c: None, sa_key)
    check(whoami(token=same)[0] == 201, "re-signed with the server's key, claims unchanged: accepted")
    expired = resign(tok, lambda c: c.update(exp=int(time.time()) - 5), sa_key)
    check(whoami(token=expired)[0] == 401, "exp in the past (validly signed): 401")
    future = resign(tok, lambda c: c.update(nbf=int(time.time()) + 3600), sa_key)
    check(whoami(token=future)[0] == 401, "nbf an hour ahead: 401")
    wrong_iss = resign(tok, lambda c: c.update(iss="https://evil"), sa_key)
    check(whoami(token=wrong_iss)[0] == 401, "another issuer: 401")
    evil = os.path.join(TMP, "evil.key")
    with open(evil, "wb") as f:
        f.write(rsa.generate_private_key(65537, 2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption()))
    forged = resign(tok, lambda c: None, evil)
    check(whoami(token=forged)[0] == 401, "forged signature (another RSA key): 401")
h, p, sig = tok.split(".")
cl = json.loads(b64d(p))
cl["kubernetes.io"]["namespace"] = "kube-system"
check(whoami(token=h + "." + b64u(json.dumps(cl).encode()) + "." + sig)[0] == 401,
      "tampered payload, old signature: 401")
st, _, _ = s.req("DELETE", NS + "/pods/holder?gracePeriodSeconds=0")
for _ in range(50):
    if s.req("GET", NS + "/pods/holder")[0] == 404:
        break
    time.sleep(0.1)
check(whoami(token=tok)[0] == 401, "bound pod deleted: its token is rejected (401)")

# --- RBAC through kubectl impersonation ---
for ns in ("team", "other"):
    kubectl("create", "namespace", ns)
kubectl("create", "role", "pod-reader", "-n", "team", "--verb=get,list,watch", "--resource=pods")
kubectl("create", "rolebinding", "alice-reads", "-n", "team", "--role=pod-reader", "--user=alice")
kubectl("create", "role", "log-reader", "-n", "team", "--verb=get", "--resource=pods/log")
kubectl("create", "rolebinding", "readers-logs", "-n", "team", "--role=log-reader",
        "--group=readers")
kubectl("create", "clusterrole", "one-cm", "--verb=get,update", "--resource=configmaps",
        "--resource-name=allowed")
kubectl("create", "rolebinding", "alice-one-cm", "-n", "other", "--clusterrole=one-cm",
        "--user=alice")
kubectl("create", "clusterrole", "node-viewer", "--verb=get,list", "--resource=nodes")
kubectl("create", "clusterrolebinding", "ops-nodes", "--clusterrole=node-viewer", "--group=ops")
kubectl("create", "clusterrole", "metrics-url", "--verb=get", "--non-resource-url=/metrics*")
kubectl("create", "clusterrolebinding", "alice-metrics", "--clusterrole=metrics-url",
        "--user=alice")
kubectl("create", "serviceaccount", "robot", "-n", "team")
kubectl("create", "rolebinding", "robot-edit", "-n", "team", "--clusterrole=edit",
        "--serviceaccount=team:robot")


def can(*args):
    p = kubectl("auth", "can-i", *args, ok=False)
    out = p.stdout.strip()
    if out not in ("yes", "no"):
        fail("kubectl auth can-i %s: %s %s" % (" ".join(args), out, p.stderr))
    return out == "yes"


matrix = [
    (("list", "pods", "-n", "team", "--as", "alice"), True),
    (("list", "pods", "-n", "default", "--as", "alice"), False),
    (("delete", "pods", "-n", "team", "--as", "alice"), False),
    (("get", "pods", "--subresource=log", "-n", "team", "--as", "alice"), False),
    (("get", "pods", "--subresource=log", "-n", "team", "--as", "zed", "--as-group", "readers"), True),
    (("get", "configmaps/allowed", "-n", "other", "--as", "alice"), True),
    (("update", "configmaps/allowed", "-n", "other", "--as", "alice"), True),
    (("get", "configmaps/denied", "-n", "other", "--as", "alice"), False),
    (("get", "configmaps/allowed", "-n", "team", "--as", "alice"), False),
    (("list", "nodes", "--as", "carl", "--as-group", "ops"), True),
    (("list", "nodes", "--as", "carl"), False),
    (("delete", "nodes", "--as", "carl", "--as-group", "ops"), False),
    (("get", "/metrics/cadvisor", "--as", "alice"), True),
    (("get", "/logs", "--as", "alice"), False),
    (("create", "deployments.apps", "-n", "team", "--as", "system:serviceaccount:team:robot"), True),
    (("get", "secrets", "-n", "team", "--as", "system:serviceaccount:team:robot"), True),
    (("create", "roles.rbac.authorization.k8s.io", "-n", "team",
      "--as", "system:serviceaccount:team:robot"), False),
    (("create", "deployments.apps", "-n", "other", "--as", "system:serviceaccount:team:robot"), False),
    (("create", "pods", "-n", "team", "--as", "alice"), False),
    (("delete", "nodes"), True),
]
for args, want in matrix:
    got = can(*args)
    check(got == want, "can-i %s -> %s" % (" ".join(args), "yes" if got else "no"))

out = kubectl("auth", "can-i", "--list", "-n", "team", "--as", "alice").stdout
rows = [l.split() for l in out.splitlines()]
check(["pods", "[]", "[]", "[get", "list", "watch]"] in rows
      and not any(r and r[0] == "configmaps" for r in rows),
      "kubectl auth can-i --list -n team --as alice (SelfSubjectRulesReview): pods only")
out = kubectl("auth", "can-i", "--list", "-n", "other", "--as", "alice").stdout
check(any(r[:3] == ["configmaps", "[]", "[allowed]"] for r in
          (l.split() for l in out.splitlines())),
      "can-i --list -n other: configmaps with resourceNames [allowed]:\n" + out)
p = kubectl("get", "pods", "-n", "team", "--as", "alice", ok=False)
check(p.returncode == 0, "kubectl get pods -n team --as alice: allowed")
p = kubectl("get", "pods", "-n", "default", "--as", "alice", ok=False)
check(p.returncode != 0 and 'User "alice" cannot list resource "pods" in API group "" in the '
      'namespace "default"' in p.stderr, "kubectl get pods -n default --as alice: Forbidden")
p = kubectl("get", "nodes", "--as", "alice", ok=False)
check(p.returncode != 0 and 'cannot list resource "nodes" in API group "" at the cluster scope'
      in p.stderr, "cluster scope in the message: " + p.stderr.strip())
ui = json.loads(kubectl("auth", "whoami", "--as", "zed", "--as-group", "readers",
                        "--as-group", "ops", "-o", "json").stdout)["status"]["userInfo"]
check(ui["username"] == "zed" and ui["groups"] == ["readers", "ops", "system:authenticated"],
      "kubectl auth whoami --as/--as-group: %s" % ui)

ui = json.loads(kubectl("auth", "whoami", "--as", "system:serviceaccount:team:robot",
                        "-o", "json").stdout)["status"]["userInfo"]
check(ui["groups"] == ["system:serviceaccounts", "system:serviceaccounts:team",
                       "system:authenticated"],
      "impersonating a ServiceAccount adds its groups: %s" % ui)

# impersonation itself is authorized: bob may not, until granted users/alice
st, body = https("GET", "/api/v1/namespaces/team/pods", token="bob-token",
                 headers={"Impersonate-User": "alice"})
check(st == 403 and 'cannot impersonate resource "users"' in body["message"],
      "bob impersonating without the verb: 403 (%s)" % body.get("message"))
kubectl("create", "clusterrole", "imp-alice", "--verb=impersonate", "--resource=users",
        "--resource-name=alice")
kubectl("create", "clusterrolebinding", "bob-imp", "--clusterrole=imp-alice", "--user=bob")
st, body = https("GET", "/api/v1/namespaces/team/pods", token="bob-token",
                 headers={"Impersonate-User": "alice"})
check(st == 200, "bob impersonating alice once granted: 200 (%s)" % st)
st, body = https("GET", "/api/v1/namespaces/team/pods", token="bob-token",
                 headers={"Impersonate-User": "alice", "Impersonate-Group": "ops"})
check(st == 403 and 'cannot impersonate resource "groups"' in body["message"],
      "bob adding a group he may not impersonate: 403")
st, body = https("GET", "/api/v1/namespaces/team/pods", token="bob-token",
                 headers={"Impersonate-User": "carol"})
check(st == 403, "bob impersonating another user: 403")

# SubjectAccessReview for someone else: admin only
sar = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
       "spec": {"user": "alice", "resourceAttributes": {"namespace": "team", "verb": "list",
                                                        "resource": "pods"}}}
st, body = https("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar,
                 ctx=tls_ctx(cert=ADMIN_CRT, key=ADMIN_KEY))
check(st == 201 and body["status"]["allowed"] is True and "alice-reads" in body["status"]["reason"],
      "SubjectAccessReview for alice: allowed, reason names the binding: %s" % body.get("status"))
st, body = https("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar,
                 token="alice-token")
check(st == 403, "SubjectAccessReview by alice herself: 403")

# --- aggregated ClusterRole: rules follow the labelled roles ---
s.req("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": "monitoring"},
    "aggregationRule": {"clusterRoleSelectors": [{"matchLabels": {"example.com/monitoring": "true"}}]},
    "rules": []})
kubectl("create", "clusterrolebinding", "erin-monitoring", "--clusterrole=monitoring", "--user=erin")
check(not can("list", "services", "-n", "team", "--as", "erin"), "aggregated role, nothing selected: no")
st, _, _ = s.req("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", {
    "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
    "metadata": {"name": "monitoring-svc", "labels": {"example.com/monitoring": "true"}},
    "rules": [{"apiGroups": [""], "resources": ["services", "endpoints"], "verbs": ["get", "list"]}]})
check(st == 201, "labelled ClusterRole created")
check(can("list", "services", "-n", "team", "--as", "erin"), "aggregated role picks the labelled rules: yes")
check(can("get", "endpoints", "-n", "other", "--as", "erin"), "aggregated role: endpoints too")
s.req("DELETE", "/apis/rbac.authorization.k8s.io/v1/clusterroles/monitoring-svc")
check(not can("list", "services", "-n", "team", "--as", "erin"), "labelled role deleted: no again")
check(not can("list", "deployments.apps", "-n", "team", "--as", "frank"), "frank without a role: no")
kubectl("create", "rolebinding", "frank-admin", "-n", "team", "--clusterrole=admin", "--user=frank")
check(can("list", "deployments.apps", "-n", "team", "--as", "frank")
      and can("delete", "secrets", "-n", "team", "--as", "frank"),
      "bootstrap admin aggregates edit and view: list deployments, delete secrets")
check(can("create", "rolebindings.rbac.authorization.k8s.io", "-n", "team", "--as", "frank")
      and not can("create", "rolebindings.rbac.authorization.k8s.io", "-n", "other", "--as", "frank"),
      "admin via RoleBinding: RBAC in its namespace only")

# --- another server on the same etcd learns RBAC changes from its watch ---
if s.etcd:
    sb = Server("--etcd", s.etcd.url, "--controllers", "none")
    sar_w = {"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
             "spec": {"user": "watcher", "resourceAttributes": {
                 "namespace": "team", "verb": "get", "resource": "pods"}}}

    def allowed_on_b():
        st, body, _ = sb.req("POST", "/apis/authorization.k8s.io/v1/subjectaccessreviews", sar_w)
        return st == 201 and body["status"]["allowed"]

    check(not allowed_on_b(), "server B: watcher has no role yet")
    kubectl("create", "rolebinding", "watcher", "-n", "team", "--role=pod-reader",
            "--user=watcher")
    for _ in range(50):
        if allowed_on_b():
            break
        time.sleep(0.1)
    check(allowed_on_b(), "server B allows watcher within 5 s of server A's write (store watch)")
    sb.stop()

# --- the operator's own certificates: --tls-cert-file, --client-ca-file ---
ext_ca, ext_ca_key = make_ca("ext-ca")
srv_key, srv_csr = os.path.join(TMP, "srv.key"), os.path.join(TMP, "srv.csr")
srv_crt, san = os.path.join(TMP, "srv.crt"), os.path.join(TMP, "san.ext")
with open(san, "w") as f:
    f.write("subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n")
openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
        "-keyout", srv_key, "-out", srv_csr, "-subj", "/CN=ext-server")
openssl("x509", "-req", "-in", srv_csr, "-CA", ext_ca, "-CAkey", ext_ca_key,
        "-CAcreateserial", "-out", srv_crt, "-days", "2", "-extfile", san)
ext_client = make_client("gina", ext_ca, ext_ca_key, "/CN=gina/O=ext-team")
s2 = Server("--tls-cert-file", srv_crt, "--tls-private-key-file", srv_key,
            "--client-ca-file", ext_ca)
c = http.client.HTTPSConnection("127.0.0.1", s2.https_port, timeout=20,
                                context=tls_ctx(ca=ext_ca, cert=ext_client[0], key=ext_client[1]))
c.request("POST", "/apis/authentication.k8s.io/v1/selfsubjectreviews",
          body=json.dumps({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
          headers={"Content-Type": "application/json"})
r = c.getresponse()
ui = json.loads(r.read())["status"]["userInfo"]
c.close()
check(r.status == 201 and ui["username"] == "gina" and "ext-team" in ui["groups"],
      "given serving cert (verified with its CA) and --client-ca-file client: %s" % ui)
check(not os.path.exists(os.path.join(s2.tmp, "data", "apiserver.crt")),
      "no serving certificate generated when one is given")
p = subprocess.run(["kubectl", "--kubeconfig", os.path.join(s2.tmp, "data", "kubeconfig"),
                    "auth", "whoami"], capture_output=True, text=True, timeout=30)
check(p.returncode == 0 and "berth-admin" in p.stdout,
      "the admin kubeconfig still works (trusts --client-ca-file as the serving CA): "
      + p.stdout + p.stderr)
s2.stop()

# --- --anonymous-auth true: system:anonymous, public info only ---
s3 = Server("--anonymous-auth", "true")
c = http.client.HTTPSConnection("127.0.0.1", s3.https_port, timeout=20,
                                context=ssl._create_unverified_context())
c.request("GET", "/version")
r = c.getresponse()
r.read()
check(r.status == 200, "anonymous: /version allowed (system:public-info-viewer): %d" % r.status)
c.request("GET", "/api/v1/namespaces/default/pods")
r = c.getresponse()
body = json.loads(r.read())
c.close()
check(r.status == 403 and 'User "system:anonymous" cannot list' in body["message"],
      "anonymous: pods forbidden as system:anonymous: %s" % body.get("message"))
s3.stop()

# --- the plain-HTTP listener stays on loopback ---
r = subprocess.run([SERVER, "--data-dir", os.path.join(TMP, "d2"), "--listen", "127.0.0.1:0",
                    "--insecure-port", "0", "--insecure-bind-address", "10.1.2.3"],
                   capture_output=True, text=True, timeout=30)
check(r.returncode != 0 and "loopback" in r.stderr,
      "--insecure-bind-address 10.1.2.3 refused: %s" % r.stderr.strip().splitlines()[-1:])
print("ok: all auth checks")
