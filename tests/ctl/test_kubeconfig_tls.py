# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The kubeconfig's TLS and token settings reach the server through
libcurl: certificate-authority(-data), client-certificate(-data),
client-key(-data), token, insecure-skip-tls-verify, current-context and
--context. berth-server speaks plain HTTP here, so an HTTPS front made by
this test (Python's ssl, certificates from openssl, client certificates
required) forwards to it and records the client's certificate and
Authorization header."""
import base64
import http.client
import http.server
import os
import shutil
import ssl
import subprocess
import tempfile
import threading

from ctllib import Tools, check, fail
from kwok import Server

tmp = tempfile.mkdtemp(prefix="berthctl-tls-")


def openssl(*args):
    p = subprocess.run(["openssl", *args], capture_output=True, text=True, cwd=tmp)
    if p.returncode:
        fail("openssl %s: %s" % (" ".join(args), p.stderr))


def cert(name, cn, ca=True, san=None):
    openssl("req", "-x509" if ca else "-new", "-newkey", "rsa:2048", "-nodes",
            "-keyout", name + ".key", "-out", name + (".crt" if ca else ".csr"),
            "-subj", "/CN=" + cn, *(["-days", "2"] if ca else []))
    if not ca:
        ext = os.path.join(tmp, name + ".ext")
        with open(ext, "w") as f:
            f.write("subjectAltName=%s\n" % san if san else "extendedKeyUsage=clientAuth\n")
        openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.crt", "-CAkey", "ca.key",
                "-CAcreateserial", "-out", name + ".crt", "-days", "2", "-extfile", ext)


def path(n):
    return os.path.join(tmp, n)


def b64(n):
    with open(path(n), "rb") as f:
        return base64.b64encode(f.read()).decode()


cert("ca", "berth-test-ca")
cert("server", "localhost", ca=False, san="IP:127.0.0.1,DNS:localhost")
cert("client", "berthctl-user", ca=False)
cert("other-ca", "someone-else")

s = Server("--controllers", "none")
seen = []


class Front(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def forward(self):
        peer = self.connection.getpeercert() or {}
        cn = dict(x[0] for x in peer.get("subject", ())).get("commonName")
        seen.append((cn, self.headers.get("Authorization")))
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        c = http.client.HTTPConnection(s.host, s.port, timeout=20)
        hdrs = {k: v for k, v in self.headers.items()
                if k.lower() in ("accept", "content-type", "authorization")}
        c.request(self.command, self.path, body=body, headers=hdrs)
        r = c.getresponse()
        data = r.read()
        self.send_response(r.status)
        self.send_header("Content-Type", r.getheader("Content-Type") or "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)
        c.close()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = forward


ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(path("server.crt"), path("server.key"))
ctx.load_verify_locations(path("ca.crt"))
ctx.verify_mode = ssl.CERT_REQUIRED
front = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Front)
front.daemon_threads = True
front.socket = ctx.wrap_socket(front.socket, server_side=True)
threading.Thread(target=front.serve_forever, daemon=True).start()
URL = "https://127.0.0.1:%d" % front.server_address[1]


def kubeconfig(name, cluster, user, extra_ctx=""):
    """a kubeconfig with context 'good' (the cluster and user given) and
    'plain' (berth-server over HTTP), current-context 'good'"""
    text = """apiVersion: v1
kind: Config
current-context: good
clusters:
- name: tls
  cluster:
    server: %s
%s
- name: plain
  cluster:
    server: http://%s:%d
contexts:
- name: good
  context: {cluster: tls, user: u%s}
- name: plain
  context: {cluster: plain, user: nobody, namespace: kube-system}
users:
- name: u
  user:
%s
- name: nobody
  user: {}
""" % (URL, cluster, s.host, s.port, extra_ctx, user)
    p = path(name)
    with open(p, "w") as f:
        f.write(text)
    return p


t = Tools(s)


def get_ns(kc, rc=0, *extra):
    return t.ctl("get", "namespaces", "-o", "name", "--kubeconfig", kc, *extra, rc=rc)


files = kubeconfig("files.yaml", "    certificate-authority: ca.crt",
                   "    client-certificate: client.crt\n    client-key: client.key\n    token: sekrit")
out = get_ns(files).stdout
check("namespace/default" in out, "CA, client certificate and key as files (relative to the kubeconfig)")
check(seen[-1] == ("berthctl-user", "Bearer sekrit"),
      "the server saw the client certificate and the bearer token: %s" % (seen[-1],))

data = kubeconfig("data.yaml", "    certificate-authority-data: " + b64("ca.crt"),
                  "    client-certificate-data: %s\n    client-key-data: %s" % (b64("client.crt"), b64("client.key")))
before = set(os.listdir("/tmp"))
check("namespace/default" in get_ns(data).stdout, "the *-data fields")
check(seen[-1] == ("berthctl-user", None), "client certificate from data, no token: %s" % (seen[-1],))
left = [f for f in set(os.listdir("/tmp")) - before if f.startswith("berth-kube-")]
check(not left, "the *-data temporary files are removed: %s" % left)

t.env["KUBECONFIG"] = data
check("namespace/default" in t.ctl("get", "ns", "-o", "name").stdout, "$KUBECONFIG names the file")
t.env["HOME"] = tmp
os.makedirs(path(".kube"), exist_ok=True)
shutil.copy(data, path(".kube/config"))
del t.env["KUBECONFIG"]
check("namespace/default" in t.ctl("get", "ns", "-o", "name").stdout, "~/.kube/config when nothing else")

insecure = kubeconfig("insecure.yaml", "    insecure-skip-tls-verify: true",
                      "    client-certificate: client.crt\n    client-key: client.key")
check("namespace/default" in get_ns(insecure).stdout, "insecure-skip-tls-verify: no CA needed")

wrong_ca = kubeconfig("wrongca.yaml", "    certificate-authority: other-ca.crt",
                      "    client-certificate: client.crt\n    client-key: client.key")
p = get_ns(wrong_ca, 1)
check(p.stderr.startswith("Unable to connect to the server"), "a CA that did not sign the server: exit 1: %r" % p.stderr)
p = get_ns(wrong_ca, 1, "-v")
check("certificate" in p.stderr, "-v: curl's reason: %r" % p.stderr)
no_client = kubeconfig("noclient.yaml", "    certificate-authority: ca.crt", "    token: sekrit")
p = get_ns(no_client, 1)
check(p.stderr.startswith("Unable to connect to the server"), "no client certificate: refused, exit 1: %r" % p.stderr)
bad = kubeconfig("bad.yaml", "    certificate-authority-data: '!!!notbase64'", "    token: x")
p = get_ns(bad, 1)
check("base64" in p.stderr, "bad base64: exit 1: %r" % p.stderr)

# --context picks another context (and its namespace)
p = t.ctl("get", "configmaps", "--kubeconfig", wrong_ca, "--context", "plain")
check(p.stderr == "No resources found in kube-system namespace.\n",
      "--context plain: its server and namespace: %r" % p.stderr)
p = t.ctl("get", "ns", "--kubeconfig", files, "--context", "nope", rc=1)
check("context 'nope' not found" in p.stderr, "unknown context: exit 1: %r" % p.stderr)

front.shutdown()
shutil.rmtree(tmp, ignore_errors=True)
print("PASS")
