# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""ServiceAccount tokens (serviceaccounts/token): `kubectl create token`
plain and bound to a Pod, the claims, the errors kube-apiserver gives
(404 account or pod, 409 uid mismatch, 400 other serviceaccount or kind,
422 under 10 minutes, 400 bad body), the cap from
--service-account-max-token-expiration, discovery, and the JWKS: the token's
signature verifies with the published key (python3-cryptography, else the
openssl CLI) and fails once the payload is changed."""
import base64
import json
import os
import shutil
import subprocess
import tempfile
import time

from lib import Server, check, fail

s = Server("--service-account-max-token-expiration", "2h",
           "--service-account-issuer", "https://berth.test")
KC = os.path.join(s.tmp, "data", "kubeconfig")
NS = "/api/v1/namespaces/default"
ISS = "https://berth.test"


def kubectl(*args, ok=True):
    p = subprocess.run(["kubectl", "--kubeconfig", KC, *args],
                       capture_output=True, text=True, timeout=30)
    if ok and p.returncode:
        fail("kubectl %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


def b64d(x):
    return base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))


def parts(tok):
    h, p, sig = tok.split(".")
    return json.loads(b64d(h)), json.loads(b64d(p)), b64d(sig)


def is_status(body, code, reason):
    return (isinstance(body, dict) and body.get("kind") == "Status"
            and body.get("code") == code and body.get("reason") == reason)


# the ServiceAccount controller makes "default"
for _ in range(100):
    st, _, _ = s.req("GET", NS + "/serviceaccounts/default")
    if st == 200:
        break
    time.sleep(0.1)
else:
    fail("no default ServiceAccount after 10 s")

# --- discovery names the subresource (kubectl create token needs it) ---
st, res, _ = s.req("GET", "/api/v1")
sub = [r for r in res["resources"] if r["name"] == "serviceaccounts/token"]
check(st == 200 and sub and sub[0]["verbs"] == ["create"]
      and sub[0].get("group") == "authentication.k8s.io"
      and sub[0]["kind"] == "TokenRequest",
      "discovery: serviceaccounts/token, create, authentication.k8s.io TokenRequest")

# --- kubectl create token ---
t0 = int(time.time())
tok = kubectl("create", "token", "default", "--duration", "10m").stdout.strip()
hdr, cl, sig = parts(tok)
st, sa, _ = s.req("GET", NS + "/serviceaccounts/default")
check(hdr["alg"] == "RS256" and hdr["kid"], "header: RS256 with a kid")
check(cl["iss"] == ISS and cl["aud"] == [ISS]
      and cl["sub"] == "system:serviceaccount:default:default",
      "claims: iss from --service-account-issuer, aud defaults to it, sub")
check(cl["exp"] - cl["iat"] == 600 and abs(cl["iat"] - t0) <= 5
      and cl["nbf"] == cl["iat"] and len(cl["jti"]) == 36,
      "claims: exp = iat + 10m, nbf, jti")
kio = cl["kubernetes.io"]
check(kio["namespace"] == "default"
      and kio["serviceaccount"] == {"name": "default", "uid": sa["metadata"]["uid"]}
      and "pod" not in kio, "claims: kubernetes.io namespace, serviceaccount name+uid")
tok2 = kubectl("create", "token", "default", "--duration", "10m").stdout.strip()
check(parts(tok2)[1]["jti"] != cl["jti"], "each token has its own jti")

aud = kubectl("create", "token", "default", "--audience", "vault",
              "--audience", "api").stdout.strip()
c2 = parts(aud)[1]
check(c2["aud"] == ["vault", "api"] and c2["exp"] - c2["iat"] == 3600,
      "--audience x2: both in aud; expiration defaults to 1h")

# --- the raw TokenRequest answer ---
body = {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
        "spec": {"expirationSeconds": 100000}}
st, tr, _ = s.req("POST", NS + "/serviceaccounts/default/token", body)
check(st == 201 and tr["kind"] == "TokenRequest"
      and tr["apiVersion"] == "authentication.k8s.io/v1"
      and tr["spec"]["expirationSeconds"] == 7200
      and tr["spec"]["audiences"] == [ISS],
      "201 TokenRequest; expiration over the max shortened to 2h (echoed in spec)")
c3 = parts(tr["status"]["token"])[1]
exp_ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(c3["exp"]))
check(c3["exp"] - c3["iat"] == 7200
      and tr["status"]["expirationTimestamp"] == exp_ts,
      "status.expirationTimestamp is the token's exp")

# --- bound to a pod ---
kubectl("run", "p1", "--image=busybox", "--restart=Never", "--", "sleep", "1")
st, pod, _ = s.req("GET", NS + "/pods/p1")
puid = pod["metadata"]["uid"]
bt = kubectl("create", "token", "default", "--bound-object-kind", "Pod",
             "--bound-object-name", "p1", "--bound-object-uid", puid).stdout.strip()
kio = parts(bt)[1]["kubernetes.io"]
check(kio.get("pod") == {"name": "p1", "uid": puid} and "node" not in kio,
      "bound token: kubernetes.io.pod name+uid (no node while unscheduled)")

# a pod on a node: the node's name and uid too
st, node, _ = s.req("POST", "/api/v1/nodes", {
    "apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1"}})
check(st == 201, "create node n1")
st, _, _ = s.req("POST", NS + "/pods", {
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p2"},
    "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "busybox"}]}})
check(st == 201, "create pod p2 on n1")
st, p2, _ = s.req("GET", NS + "/pods/p2")
bt2 = kubectl("create", "token", "default", "--bound-object-kind", "Pod",
              "--bound-object-name", "p2").stdout.strip()
kio = parts(bt2)[1]["kubernetes.io"]
check(kio.get("pod", {}).get("uid") == p2["metadata"]["uid"]
      and kio.get("node") == {"name": "n1", "uid": node["metadata"]["uid"]},
      "bound to a scheduled pod: kubernetes.io.node name+uid")

# bound to a Secret
st, sec, _ = s.req("POST", NS + "/secrets", {
    "apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s1"}})
st, tr, _ = s.req("POST", NS + "/serviceaccounts/default/token", {
    "spec": {"boundObjectRef": {"kind": "Secret", "apiVersion": "v1", "name": "s1"}}})
check(st == 201 and parts(tr["status"]["token"])[1]["kubernetes.io"].get("secret")
      == {"name": "s1", "uid": sec["metadata"]["uid"]},
      "bound to a Secret: kubernetes.io.secret")

# --- errors ---
p = kubectl("create", "token", "nosuch", ok=False)
check(p.returncode and 'serviceaccounts "nosuch" not found' in p.stderr,
      "kubectl: unknown ServiceAccount is an error")
st, b, _ = s.req("POST", NS + "/serviceaccounts/nosuch/token", {})
check(is_status(b, 404, "NotFound") and st == 404
      and b["details"]["name"] == "nosuch", "404 NotFound for an unknown ServiceAccount")
p = kubectl("create", "token", "default", "--duration", "5m", ok=False)
check(p.returncode and "may not specify a duration less than 10 minutes" in p.stderr,
      "kubectl --duration 5m refused")
st, b, _ = s.req("POST", NS + "/serviceaccounts/default/token",
                 {"spec": {"expirationSeconds": 599}})
check(st == 422 and is_status(b, 422, "Invalid")
      and b["details"]["causes"][0]["field"] == "spec.expirationSeconds",
      "422 Invalid for expirationSeconds 599, cause on spec.expirationSeconds")
st, b, _ = s.req("POST", NS + "/serviceaccounts/default/token",
                 {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                                              "name": "gone"}}})
check(st == 404 and is_status(b, 404, "NotFound") and 'pods "gone" not found' in b["message"],
      "404 for a bound pod that does not exist")
st, b, _ = s.req("POST", NS + "/serviceaccounts/default/token",
                 {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                                              "name": "p1", "uid": "not-its-uid"}}})
check(st == 409 and is_status(b, 409, "Conflict")
      and "the UID in the bound object reference (not-its-uid)" in b["message"],
      "409 Conflict for a uid that is not the pod's (as kube-apiserver)")
s.req("POST", NS + "/serviceaccounts", {"apiVersion": "v1", "kind": "ServiceAccount",
                                        "metadata": {"name": "other"}})
st, b, _ = s.req("POST", NS + "/serviceaccounts/other/token",
                 {"spec": {"boundObjectRef": {"kind": "Pod", "apiVersion": "v1",
                                              "name": "p1"}}})
check(st == 400 and "different serviceaccount name" in b["message"],
      "400 binding another account's pod")
st, b, _ = s.req("POST", NS + "/serviceaccounts/default/token",
                 {"spec": {"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1",
                                              "name": "x"}}})
check(st == 400 and "cannot bind token to object of type" in b["message"],
      "400 for a kind other than Pod/Secret")
for bad in ('{"spec":', '[1]', '{"spec":{"audiences":"x"}}',
            '{"spec":{"expirationSeconds":"600"}}'):
    st, b, _ = s.req("POST", NS + "/serviceaccounts/default/token", bad)
    check(st == 400 and is_status(b, 400, "BadRequest"), "400 for body %s" % bad)
st, b, _ = s.req("GET", NS + "/serviceaccounts/default/token")
check(st == 405, "GET on the token subresource: 405")

# --- JWKS and discovery document ---
st, oc, _ = s.req("GET", "/.well-known/openid-configuration")
check(st == 200 and oc["issuer"] == ISS and oc["jwks_uri"].endswith("/openid/v1/jwks")
      and oc["id_token_signing_alg_values_supported"] == ["RS256"],
      "/.well-known/openid-configuration")
st, jwks, h = s.req("GET", "/openid/v1/jwks")
check(st == 200 and len(jwks["keys"]) == 1 and jwks["keys"][0]["kid"] == hdr["kid"]
      and h["Content-Type"].startswith("application/jwk-set+json"),
      "/openid/v1/jwks: one key, its kid is the tokens'")
jwk = jwks["keys"][0]
n = int.from_bytes(b64d(jwk["n"]), "big")
e = int.from_bytes(b64d(jwk["e"]), "big")


def verify(token):
    """Does token's RS256 signature verify with the JWKS key?"""
    signed, _, s64 = token.rpartition(".")
    sig = b64d(s64)
    try:
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import padding, rsa
    except ImportError:
        return verify_openssl(signed, sig)
    pub = rsa.RSAPublicNumbers(e, n).public_key()
    try:
        pub.verify(sig, signed.encode(), padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


def verify_openssl(signed, sig):
    if not shutil.which("openssl"):
        fail("neither python3-cryptography nor openssl to check the signature")
    d = tempfile.mkdtemp()
    try:
        def der_int(v):
            b = v.to_bytes((v.bit_length() + 8) // 8, "big")
            return b"\x02" + der_len(len(b)) + b

        def der_len(l):
            if l < 128:
                return bytes([l])
            b = l.to_bytes((l.bit_length() + 7) // 8, "big")
            return bytes([0x80 | len(b)]) + b
        seq = der_int(n) + der_int(e)
        rsapub = b"\x30" + der_len(len(seq)) + seq
        with open(d + "/pub.der", "wb") as f:
            f.write(rsapub)
        with open(d + "/data", "wb") as f:
            f.write(signed.encode())
        with open(d + "/sig", "wb") as f:
            f.write(sig)
        r = subprocess.run(["openssl", "dgst", "-sha256", "-keyform", "DER",
                            "-verify", d + "/pub.der", "-signature", d + "/sig",
                            d + "/data"], capture_output=True)
        return r.returncode == 0
    finally:
        shutil.rmtree(d)


check(verify(tok) and verify(bt2), "tokens verify with the JWKS key")
h64, p64, s64 = tok.split(".")
forged = dict(cl, sub="system:serviceaccount:kube-system:admin")
f64 = base64.urlsafe_b64encode(json.dumps(forged).encode()).decode().rstrip("=")
check(not verify("%s.%s.%s" % (h64, f64, s64)), "a changed payload does not verify")

# --- the key file: 0600, and --service-account-key-file takes it ---
keyfile = os.path.join(s.tmp, "data", "sa.key")
check(oct(os.stat(keyfile).st_mode & 0o777) == "0o600", "DATA_DIR/sa.key is 0600")
s2 = Server("--service-account-key-file", keyfile)
st, j2, _ = s2.req("GET", "/openid/v1/jwks")
check(st == 200 and j2["keys"][0]["kid"] == jwk["kid"] and j2["keys"][0]["n"] == jwk["n"],
      "a second server with --service-account-key-file publishes the same key")
check(not os.path.exists(os.path.join(s2.tmp, "data", "sa.key")),
      "with --service-account-key-file no DATA_DIR/sa.key is made")
s2.stop()
bad = os.path.join(s.tmp, "bad.pem")
with open(bad, "w") as f:
    f.write("-----BEGIN RSA PRIVATE KEY-----\nnope\n-----END RSA PRIVATE KEY-----\n")
d = tempfile.mkdtemp()
try:
    r = subprocess.run([os.environ.get("BERTH_SERVER", "berth-server"), "--data-dir", d,
                        "--listen", "127.0.0.1:0", "--service-account-key-file", bad],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 1 and "not a PEM RSA private key" in r.stderr,
          "a bad --service-account-key-file stops the server with a clear error")
    r = subprocess.run([os.environ.get("BERTH_SERVER", "berth-server"), "--data-dir", d,
                        "--listen", "127.0.0.1:0",
                        "--service-account-max-token-expiration", "5m"],
                       capture_output=True, text=True, timeout=20)
    check(r.returncode == 2 and "at least 10m" in r.stderr,
          "--service-account-max-token-expiration under 10m refused")
finally:
    shutil.rmtree(d)
print("PASS")
