# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Raw-HTTP test helpers: a berth-server on a free loopback port with a
temporary data dir (stopped and removed at exit), and a tiny client: HTTPS
with the CA and admin certificate (system:masters) of data/kubeconfig."""
import atexit
import base64
import http.client
import json
import os
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SERVER = os.environ.get("BERTH_SERVER", os.path.join(REPO, ".output/bin/berth-server"))


def fail(msg):
    print("FAIL: " + msg, flush=True)
    sys.exit(1)


def check(cond, what):
    if not cond:
        fail(what)
    print("ok: " + what, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Etcd:
    """An etcd of our own on loopback ports (BERTH_TEST_STORE=etcd)."""

    def __init__(self, tmp):
        client, peer = free_port(), free_port()
        self.url = "http://127.0.0.1:%d" % client
        self.log = open(os.path.join(tmp, "etcd.log"), "w")
        self.proc = subprocess.Popen(
            ["etcd", "--data-dir", os.path.join(tmp, "etcd"),
             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
             "--listen-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-advertise-peer-urls", "http://127.0.0.1:%d" % peer,
             "--initial-cluster", "default=http://127.0.0.1:%d" % peer],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(100):
            try:
                c = http.client.HTTPConnection("127.0.0.1", client, timeout=1)
                c.request("GET", "/health")
                if c.getresponse().status == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        fail("etcd did not become healthy")

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.log.close()


class Server:
    def __init__(self, *args):
        if not os.access(SERVER, os.X_OK):
            fail(SERVER + " is missing (make builds it)")
        self.stopped = False
        self.etcd = None
        self.tmp = tempfile.mkdtemp(prefix="berth-api-")
        if os.environ.get("BERTH_TEST_STORE", "sqlite") == "etcd":
            if not shutil.which("etcd"):
                print("SKIP: etcd is not installed (Debian: etcd-server)")
                sys.exit(77)
            self.etcd = Etcd(self.tmp)
            args = ("--etcd", self.etcd.url) + args
        self.log = open(os.path.join(self.tmp, "server.log"), "w")
        self.proc = subprocess.Popen(
            [SERVER, "--data-dir", os.path.join(self.tmp, "data"),
             "--listen", "127.0.0.1:0", "--insecure-port", "0", *args],
            stdout=self.log, stderr=subprocess.STDOUT)
        atexit.register(self.stop)
        kc = os.path.join(self.tmp, "data", "kubeconfig")
        for _ in range(100):
            if os.path.exists(kc):
                break
            if self.proc.poll() is not None:
                fail("berth-server exited")
            time.sleep(0.05)
        else:
            fail("no kubeconfig after 5s")
        self.read_ports()

    def read_ports(self):
        """host/port of the HTTPS listener (https_port: the same, the
        kubernetes Service's port) from data/kubeconfig, and a TLS context
        with its CA and admin client certificate; http_port: the loopback
        plain-HTTP listener (system:masters), for tests that put their own
        front before the server."""
        with open(os.path.join(self.tmp, "data", "kubeconfig-insecure")) as f:
            url = [l.split()[1] for l in f if "server:" in l][0]
        self.http_port = int(url.rsplit(":", 1)[1])
        kc = os.path.join(self.tmp, "data", "kubeconfig")
        fields = {}
        with open(kc) as f:
            for line in f:
                k, _, v = line.strip().partition(": ")
                fields[k] = v
        self.host, port = fields["server"][len("https://"):].split(":")
        self.port = self.https_port = int(port)
        files = {}
        for k in ("certificate-authority-data", "client-certificate-data", "client-key-data"):
            files[k] = os.path.join(self.tmp, k + ".pem")
            with open(files[k], "wb") as f:
                f.write(base64.b64decode(fields[k]))
        self.ssl = ssl.create_default_context(cafile=files["certificate-authority-data"])
        self.ssl.load_cert_chain(files["client-certificate-data"], files["client-key-data"])

    def stop(self):
        if self.stopped:
            return
        self.stopped = True
        if self.proc.poll() is not None and self.proc.returncode != 0:
            print("FAIL: berth-server died: %s" % self.proc.returncode, flush=True)
            os._exit(1)
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                rc = self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                rc = "killed"
            if rc != 0:
                print("FAIL: berth-server exit status after SIGTERM: %s" % rc, flush=True)
                os._exit(1)
        self.log.close()
        if self.etcd:
            self.etcd.stop()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def conn(self, timeout=20, ctx=None):
        """ctx: another TLS context (other credentials), else the admin's"""
        return http.client.HTTPSConnection(self.host, self.port, timeout=timeout,
                                           context=ctx or self.ssl)

    def req(self, method, path, body=None, ctype="application/json", headers=None, ctx=None):
        """-> (status, parsed JSON or text, headers)"""
        c = self.conn(ctx=ctx)
        h = dict(headers or {})
        if body is not None:
            if not isinstance(body, (bytes, str)):
                body = json.dumps(body)
            h["Content-Type"] = ctype
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        c.close()
        try:
            data = json.loads(data)
        except ValueError:
            data = data.decode(errors="replace")
        return r.status, data, r.headers

    def watch(self, path, timeout=10):
        """A streaming GET; yields decoded events until the stream ends."""
        c = self.conn(timeout)
        c.request("GET", path)
        r = c.getresponse()
        if r.status != 200:
            raise AssertionError("watch %s: %d %s" % (path, r.status, r.read()))
        while True:
            line = r.readline()
            if not line:
                break
            line = line.strip()
            if line:
                yield json.loads(line)
