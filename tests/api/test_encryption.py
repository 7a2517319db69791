# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Secrets encrypted at rest (--encryption-provider-config, aesgcm):
the raw store (SQLite through GET /debug/store/snapshot, etcd through its
v3 gateway) holds k8s:enc:aesgcm:v1:KEY: values without the plaintext,
kubectl reads them back, ConfigMaps stay plain, a server restarted with a
new first key still reads the old secrets, `kubectl get secrets -A -o json
| kubectl replace -f -` re-encrypts them under the new key, a server
without the old key cannot read them (500), the secret never reaches the
log, and a malformed configuration stops the server."""
import base64
import http.client
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

from lib import SERVER, Etcd, check, fail

TMP = tempfile.mkdtemp(prefix="berth-enc-")
DATA = os.path.join(TMP, "data")
KC = os.path.join(DATA, "kubeconfig")
SECRET = "hunter2-plaintext-%d" % os.getpid()
K1 = base64.b64encode(os.urandom(32)).decode()
K2 = base64.b64encode(os.urandom(32)).decode()
etcd = None
proc = None
log = None
url = None


def config(keys, identity=True, name="enc.yaml"):
    lines = ["apiVersion: apiserver.config.k8s.io/v1",
             "kind: EncryptionConfiguration",
             "resources:",
             "  - resources: [secrets]",
             "    providers:",
             "      - aesgcm:",
             "          keys:"]
    for n, k in keys:
        lines += ["            - name: %s" % n, "              secret: %s" % k]
    if identity:
        lines.append("      - identity: {}")
    path = os.path.join(TMP, name)
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")
    return path


def start(cfg, expect_fail=False):
    global proc, log, url
    args = [SERVER, "--data-dir", DATA, "--listen", "127.0.0.1:0",
            "--controllers", "none"]
    if etcd:
        args += ["--etcd", etcd.url]
    if cfg:
        args += ["--encryption-provider-config", cfg]
    if os.path.exists(KC):
        os.unlink(KC)
    log = open(os.path.join(TMP, "server.log"), "a")
    proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT)
    for _ in range(200):
        if os.path.exists(KC):
            break
        if proc.poll() is not None:
            if expect_fail:
                return proc.returncode
            fail("berth-server exited: %s" % proc.returncode)
        time.sleep(0.05)
    else:
        fail("no kubeconfig after 10s")
    if expect_fail:
        fail("berth-server started with a bad configuration")
    with open(KC) as f:
        url = [l.split()[1] for l in f if "server:" in l][0]
    return 0


def stop():
    global proc
    if proc and proc.poll() is None:
        proc.terminate()
        if proc.wait(10) != 0:
            fail("berth-server exit status %s" % proc.returncode)
    proc = None
    log.close()


def cleanup():
    if proc and proc.poll() is None:
        proc.kill()
        proc.wait()
    if etcd:
        etcd.stop()
    shutil.rmtree(TMP, ignore_errors=True)


def kubectl(*args, ok=True, stdin=None):
    p = subprocess.run(["kubectl", "--kubeconfig", KC, *args], input=stdin,
                       capture_output=True, text=True, timeout=30)
    if ok and p.returncode:
        fail("kubectl %s: %s" % (" ".join(args), p.stderr.strip()))
    return p


def raw(key):
    """The bytes the store holds for key."""
    if etcd:
        host, port = etcd.url[len("http://"):].split(":")
        c = http.client.HTTPConnection(host, int(port), timeout=10)
        c.request("POST", "/v3/kv/range",
                  json.dumps({"key": base64.b64encode(key.encode()).decode()}))
        kvs = json.loads(c.getresponse().read()).get("kvs", [])
        return base64.b64decode(kvs[0]["value"]) if kvs else None
    p = subprocess.run(["kubectl", "--kubeconfig", KC, "get", "--raw", "/debug/store/snapshot"],
                       capture_output=True, timeout=30)
    if p.returncode:
        fail("snapshot: %s" % p.stderr.decode().strip())
    snap = os.path.join(TMP, "snap.db")
    with open(snap, "wb") as f:
        f.write(p.stdout)
    db = sqlite3.connect(snap)
    row = db.execute("SELECT value FROM log WHERE key = ? ORDER BY rev DESC "
                     "LIMIT 1", (key,)).fetchone()
    db.close()
    return bytes(row[0]) if row else None


def encrypted_with(key, name):
    v = raw(key)
    return (v is not None and v.startswith(b"k8s:enc:aesgcm:v1:%s:" % name.encode())
            and SECRET.encode() not in v
            and base64.b64encode(SECRET.encode()) not in v)


try:
    if shutil.which("kubectl") is None:
        print("SKIP: kubectl is not installed")
        sys.exit(77)
    if os.environ.get("BERTH_TEST_STORE", "sqlite") == "etcd":
        if not shutil.which("etcd"):
            print("SKIP: etcd is not installed")
            sys.exit(77)
        etcd = Etcd(TMP)

    start(config([("key1", K1)]))
    kubectl("create", "secret", "generic", "s1", "--from-literal=password=" + SECRET)
    kubectl("create", "namespace", "other")
    kubectl("create", "secret", "generic", "s2", "-n", "other",
            "--from-literal=password=" + SECRET)
    kubectl("create", "configmap", "c1", "--from-literal=k=plain-config-value")
    check(encrypted_with("/registry/core/secrets/default/s1", "key1"),
          "the store holds s1 as k8s:enc:aesgcm:v1:key1: without the plaintext")
    check(encrypted_with("/registry/core/secrets/other/s2", "key1"),
          "and s2 in another namespace")
    check(b"plain-config-value" in (raw("/registry/core/configmaps/default/c1") or b""),
          "a ConfigMap (not listed) is stored as it is")
    out = kubectl("get", "secret", "s1", "-o", "jsonpath={.data.password}").stdout
    check(base64.b64decode(out).decode() == SECRET, "kubectl get reads s1 back")
    out = json.loads(kubectl("get", "secrets", "-A", "-o", "json").stdout)
    names = sorted(i["metadata"]["name"] for i in out["items"])
    check(names == ["s1", "s2"], "list decrypts every secret: %s" % names)
    # a watch sees the plaintext too
    w = subprocess.Popen(["kubectl", "--kubeconfig", KC, "get", "secrets", "-w",
                          "-o", "json", "--output-watch-events"],
                         stdout=subprocess.PIPE, text=True)
    time.sleep(1)
    kubectl("create", "secret", "generic", "s3", "--from-literal=password=" + SECRET)
    time.sleep(1.5)
    w.terminate()
    wout = w.communicate(timeout=10)[0]
    check(base64.b64encode(SECRET.encode()).decode() in wout and '"s3"' in wout,
          "a watch gets the new secret decrypted")
    check(encrypted_with("/registry/core/secrets/default/s3", "key1"), "s3 encrypted")
    stop()

    # rotation: key2 first, key1 still readable
    start(config([("key2", K2), ("key1", K1)]))
    out = kubectl("get", "secret", "s1", "-o", "jsonpath={.data.password}").stdout
    check(base64.b64decode(out).decode() == SECRET, "after rotation s1 reads with key1")
    check(encrypted_with("/registry/core/secrets/default/s1", "key1"),
          "s1 is still under key1 before it is rewritten")
    dump = kubectl("get", "secrets", "-A", "-o", "json").stdout
    kubectl("replace", "-f", "-", stdin=dump)
    for k in ("default/s1", "other/s2", "default/s3"):
        check(encrypted_with("/registry/core/secrets/" + k, "key2"),
              "kubectl replace re-encrypted %s under key2" % k)
    stop()

    # key1 gone: everything is under key2 now
    start(config([("key2", K2)], identity=False))
    out = kubectl("get", "secret", "s2", "-n", "other", "-o",
                  "jsonpath={.data.password}").stdout
    check(base64.b64decode(out).decode() == SECRET, "key1 dropped: s2 reads with key2")
    stop()

    # a server without the key cannot read them: an error, never ciphertext
    start(config([("key3", base64.b64encode(os.urandom(32)).decode())]))
    p = kubectl("get", "secret", "s1", ok=False)
    check(p.returncode != 0 and "InternalError" in p.stderr
          and SECRET not in p.stdout,
          "an unknown key answers an internal error: %s" % p.stderr.strip()[:160])
    stop()

    # configurations the server must refuse to start with
    for bad, what in ((config([("k", "c2hvcnQ=")], name="b1.yaml"), "a 5-byte key"),
                      (os.path.join(TMP, "missing.yaml"), "a missing file")):
        rc = start(bad, expect_fail=True)
        check(rc != 0, "the server refuses %s" % what)
    with open(os.path.join(TMP, "server.log")) as f:
        text = f.read()
    check(SECRET not in text and base64.b64encode(SECRET.encode()).decode() not in text
          and K1 not in text and K2 not in text,
          "neither the secret nor a key appears in the server log")
finally:
    cleanup()
print("PASS")
