#!/usr/bin/env python3
"""berth-agent's image store against real registries: Debian's docker-registry
on a loopback port (skopeo pushes the busybox test image to it) and a tiny fake
registry serving a corrupted blob. Pull by tag, by digest, through a manifest
list; a bad reference's message; a digest mismatch refused; load from an OCI
layout and a docker-save tar; a rootfs with whiteouts applied.
Exit 0 pass, 77 skip, else fail."""
import gzip
import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.request

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
AGENT = os.environ.get("BERTH_AGENT", os.path.join(REPO, ".output/bin/berth-agent"))


def skip(why):
    print("SKIP:", why)
    sys.exit(77)


def fail(why):
    raise AssertionError(why)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def sha(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


class Env:
    def __init__(self):
        self.tmp = tempfile.mkdtemp(prefix="berth-image-node-")
        self.procs = []
        self.mounts = []
        self.servers = []

    def cleanup(self):
        for c in self.mounts:
            subprocess.run([AGENT, "image", "--root", self.tmp + "/agent", "release", c],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=30)
            subprocess.run(["umount", "-l", c + "/rootfs"], stderr=subprocess.DEVNULL)
        for s in self.servers:
            s.shutdown()
        for p in self.procs:
            p.terminate()
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def agent(self, *args, root=None, ok=True, env=None):
        cmd = [AGENT, "image", "--quiet", "--root", root or self.tmp + "/agent"] + list(args)
        r = subprocess.run(cmd, capture_output=True, text=True, timeout=90,
                           env=dict(os.environ, **(env or {})))
        print("$", " ".join(cmd), "->", r.returncode)
        if r.stdout.strip():
            print(r.stdout.strip())
        if r.stderr.strip():
            print(r.stderr.strip())
        if ok and r.returncode != 0:
            fail(f"{' '.join(args)} failed: {r.stderr.strip()}")
        if not ok and r.returncode == 0:
            fail(f"{' '.join(args)} succeeded, expected a failure")
        return r


def start_registry(env):
    port = free_port()
    d = os.path.join(env.tmp, "registry")
    os.makedirs(d)
    conf = os.path.join(d, "config.yml")
    with open(conf, "w") as f:
        f.write(f"""version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: {d}/data
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
""")
    log = open(os.path.join(d, "log"), "w")
    env.procs.append(subprocess.Popen(["docker-registry", "serve", conf], stdout=log,
                                      stderr=subprocess.STDOUT))
    deadline = time.time() + 20
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/v2/", timeout=2) as r:
                if r.status == 200:
                    return port
        except OSError:
            time.sleep(0.2)
    fail("docker-registry did not come up: " + open(os.path.join(d, "log")).read())


def layout_parts(layout):
    """(manifest digest, manifest bytes, config digest, config bytes, layer descriptors)"""
    idx = json.load(open(os.path.join(layout, "index.json")))
    mdig = idx["manifests"][0]["digest"]
    blob = lambda d: open(os.path.join(layout, "blobs/sha256", d[7:]), "rb").read()
    mbytes = blob(mdig)
    man = json.loads(mbytes)
    cdig = man["config"]["digest"]
    return mdig, mbytes, cdig, blob(cdig), man["layers"], blob


def registry_put_blob(port, repo, data):
    d = sha(data)
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/{repo}/blobs/uploads/", method="POST")
    with urllib.request.urlopen(req, timeout=10) as r:
        loc = r.headers["Location"]
    if loc.startswith("/"):
        loc = f"http://127.0.0.1:{port}" + loc
    loc += ("&" if "?" in loc else "?") + "digest=" + d
    req = urllib.request.Request(loc, data=data, method="PUT",
                                 headers={"Content-Type": "application/octet-stream"})
    urllib.request.urlopen(req, timeout=10).close()
    return d


def registry_put_manifest(port, repo, ref, data, mt):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/v2/{repo}/manifests/{ref}", data=data,
                                 method="PUT", headers={"Content-Type": mt})
    urllib.request.urlopen(req, timeout=10).close()


def push_manifest_list(port, layout):
    """busybox:multi, an OCI index: linux/arm64 (a different config) first, then linux/amd64."""
    mdig, mbytes, cdig, cbytes, layers, _ = layout_parts(layout)
    arm_cfg = json.loads(cbytes)
    arm_cfg["architecture"] = "arm64"
    arm_cfg_bytes = json.dumps(arm_cfg).encode()
    arm_cdig = registry_put_blob(port, "busybox", arm_cfg_bytes)
    man = json.loads(mbytes)
    man["config"] = dict(man["config"], digest=arm_cdig, size=len(arm_cfg_bytes))
    arm_bytes = json.dumps(man).encode()
    mt = "application/vnd.oci.image.manifest.v1+json"
    registry_put_manifest(port, "busybox", sha(arm_bytes), arm_bytes, mt)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [
                 {"mediaType": mt, "digest": sha(arm_bytes), "size": len(arm_bytes),
                  "platform": {"os": "linux", "architecture": "arm64"}},
                 {"mediaType": mt, "digest": mdig, "size": len(mbytes),
                  "platform": {"os": "linux", "architecture": "amd64"}}]}
    registry_put_manifest(port, "busybox", "multi", json.dumps(index).encode(),
                          "application/vnd.oci.image.index.v1+json")
    return arm_cdig


CREDS = "dXNlcjpzM2NyZXQ="  # base64 of user:s3cret


def fake_registry(env, layout):
    """A registry that serves the test image with its first layer corrupted."""
    mdig, mbytes, cdig, cbytes, layers, blob = layout_parts(layout)
    bad = bytearray(blob(layers[0]["digest"]))
    bad[len(bad) // 2] ^= 0xFF
    blobs = {cdig: cbytes, layers[0]["digest"]: bytes(bad)}
    for l in layers[1:]:
        blobs[l["digest"]] = blob(l["digest"])
    good = {cdig: cbytes}
    for l in layers:
        good[l["digest"]] = blob(l["digest"])

    class H(http.server.BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def send(self, code, body, ct="application/json"):
            self.send_response(code)
            self.send_header("Content-Type", ct)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self):
            p = self.path
            if p.startswith("/token?"):
                # the token service: basic credentials in, a bearer token out
                if self.headers.get("Authorization") != "Basic " + CREDS:
                    return self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}')
                if "scope=repository%3Aprivate%2Fbusybox%3Apull" not in p:
                    return self.send(403, b'{"errors":[{"code":"DENIED","message":"wrong scope"}]}')
                return self.send(200, b'{"token":"tok3n","expires_in":300}')
            if p.startswith("/v2/private/"):
                if self.headers.get("Authorization") != "Bearer tok3n":
                    self.send_response(401)
                    self.send_header("WWW-Authenticate", 'Bearer realm="http://127.0.0.1:%d/token",'
                                     'service="fake",scope="repository:private/busybox:pull"'
                                     % self.server.server_address[1])
                    body = b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}'
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    return self.wfile.write(body)
                p = p.replace("/v2/private/busybox/", "/v2/good/")
            if p == "/v2/good/manifests/1":
                return self.send(200, mbytes, "application/vnd.oci.image.manifest.v1+json")
            if p.startswith("/v2/good/blobs/") and p[15:] in good:
                return self.send(200, good[p[15:]], "application/octet-stream")
            if p == "/v2/":
                return self.send(200, b"{}")
            if p == "/v2/busybox/manifests/1":
                return self.send(200, mbytes, "application/vnd.oci.image.manifest.v1+json")
            if p.startswith("/v2/busybox/blobs/") and p[18:] in blobs:
                return self.send(200, blobs[p[18:]], "application/octet-stream")
            self.send(404, b'{"errors":[{"code":"BLOB_UNKNOWN","message":"blob unknown to registry"}]}')

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    env.servers.append(srv)
    return srv.server_address[1], layers[0]["digest"]


def docker_save_tar(env, layout):
    mdig, mbytes, cdig, cbytes, layers, blob = layout_parts(layout)
    path = os.path.join(env.tmp, "saved.tar")
    with tarfile.open(path, "w") as t:
        def add(name, data):
            ti = tarfile.TarInfo(name)
            ti.size = len(data)
            t.addfile(ti, io.BytesIO(data))
        add(cdig[7:] + ".json", cbytes)
        names = []
        for i, l in enumerate(layers):
            names.append(f"layer{i}/layer.tar")
            add(names[-1], gzip.decompress(blob(l["digest"])))
        add("manifest.json", json.dumps([{"Config": cdig[7:] + ".json",
                                          "RepoTags": ["busybox:saved"], "Layers": names}]).encode())
    return path, cdig


def check_rootfs(env, ref, name, extra_env=None):
    c = os.path.join(env.tmp, name)
    env.mounts.append(c)
    rootfs = env.agent("rootfs", ref, c, env=extra_env).stdout.strip()
    if rootfs != c + "/rootfs":
        fail(f"rootfs at {rootfs}")
    for p in ["bin/busybox", "bin/sh", "bin/httpd", "etc/passwd", "var/www/index.html",
              "opt/berth/upper"]:
        if not os.path.lexists(os.path.join(rootfs, p)):
            fail(f"{p} missing from the rootfs")
    for p in ["etc/berth-lower", "opt/berth/lower"]:
        if os.path.lexists(os.path.join(rootfs, p)):
            fail(f"{p} should be hidden by layer 2's whiteouts")
    r = subprocess.run(["chroot", rootfs, "/bin/sh", "-c", "echo hello from $(cat /etc/berth-release)"],
                       capture_output=True, text=True, timeout=30)
    if "hello from berth busybox test image" not in r.stdout:
        fail(f"busybox sh in the rootfs: {r.stdout} {r.stderr}")
    env.agent("release", c)
    if os.path.exists(rootfs):
        fail("rootfs still there after release")
    env.mounts.remove(c)


def main():
    if os.geteuid() != 0:
        skip("needs root")
    for tool in ["skopeo", "docker-registry", "chroot"]:
        if not shutil.which(tool):
            skip(f"{tool} not installed")
    if not os.access(AGENT, os.X_OK):
        fail(f"{AGENT} not built")
    env = Env()
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(1))
    try:
        layout = os.path.join(env.tmp, "busybox")
        subprocess.run([os.path.join(REPO, "scripts/mkimage.sh"), layout], check=True, timeout=60)
        mdig, mbytes, cdig, cbytes, layers, _ = layout_parts(layout)
        port = start_registry(env)
        reg = f"127.0.0.1:{port}"
        subprocess.run(["skopeo", "copy", "--quiet", "--dest-tls-verify=false",
                        f"oci:{layout}:latest", f"docker://{reg}/busybox:1"], check=True, timeout=60)

        # by tag, then by digest
        if env.agent("pull", f"{reg}/busybox:1").stdout.strip() != cdig:
            fail("pull by tag: wrong image id")
        env.agent("present", f"{reg}/busybox:1")
        if env.agent("pull", f"{reg}/busybox@{mdig}", root=env.tmp + "/bydigest").stdout.strip() != cdig:
            fail("pull by digest: wrong image id")
        env.agent("present", f"{reg}/busybox@{mdig}", root=env.tmp + "/bydigest")

        # a manifest list: linux/amd64 is picked
        arm_cdig = push_manifest_list(port, layout)
        got = env.agent("pull", f"{reg}/busybox:multi", root=env.tmp + "/multi").stdout.strip()
        if got != cdig:
            fail(f"manifest list: got {got}, want the amd64 image {cdig} (arm64 is {arm_cdig})")

        # a bad reference: the registry's message
        r = env.agent("pull", f"{reg}/busybox:nope", ok=False)
        want = f'failed to pull image "{reg}/busybox:nope": manifest unknown'
        if want not in r.stderr:
            fail(f"bad reference message: {r.stderr!r}, want {want!r}")
        r = env.agent("pull", "127.0.0.1:1/busybox:1", ok=False)
        if 'failed to pull image "127.0.0.1:1/busybox:1"' not in r.stderr:
            fail(f"unreachable registry message: {r.stderr!r}")
        env.agent("present", f"{reg}/busybox:nope", ok=False)

        # a digest mismatch is refused and nothing is stored
        fport, bad = fake_registry(env, layout)
        froot = env.tmp + "/fake"
        r = env.agent("pull", f"127.0.0.1:{fport}/busybox:1", root=froot, ok=False)
        if "digest mismatch" not in r.stderr or bad not in r.stderr:
            fail(f"digest mismatch message: {r.stderr!r}")
        if os.path.exists(os.path.join(froot, "images/blobs/sha256", bad[7:])):
            fail("the corrupted blob was stored")
        if os.listdir(os.path.join(froot, "images/tmp")):
            fail("temporary files left: %s" % os.listdir(os.path.join(froot, "images/tmp")))
        env.agent("present", f"127.0.0.1:{fport}/busybox:1", root=froot, ok=False)

        # bearer-token auth: credentials to the realm, the token to the registry
        r = env.agent("pull", f"127.0.0.1:{fport}/private/busybox:1", root=froot, ok=False)
        if "bad credentials" not in r.stderr:
            fail(f"anonymous pull of a private image: {r.stderr!r}")
        got = env.agent("--username", "user", "--password", "s3cret", "pull",
                        f"127.0.0.1:{fport}/private/busybox:1", root=froot).stdout.strip()
        if got != cdig:
            fail("pull with a bearer token: wrong id")

        # OCI layout and docker-save loads
        lroot = env.tmp + "/loaded"
        if env.agent("load", layout, "busybox:oci", root=lroot).stdout.strip() != cdig:
            fail("load from the OCI layout: wrong id")
        tarpath, _ = docker_save_tar(env, layout)
        if env.agent("load", tarpath, root=lroot).stdout.strip() != cdig:
            fail("load from a docker-save tar: wrong id")
        env.agent("present", "busybox:saved", root=lroot)
        env.agent("present", "docker.io/library/busybox:oci", root=lroot)
        out = env.agent("inspect", "busybox:saved", root=lroot).stdout
        if 'cmd: "sh"' not in out or "PATH=" not in out:
            fail("inspect: config not parsed: " + out)

        # root filesystems: overlay, then the copy fallback
        check_rootfs(env, f"{reg}/busybox:1", "c1")
        check_rootfs(env, f"{reg}/busybox:1", "c2", {"BERTH_IMAGE_ROOTFS": "copy"})

        # gc keeps tagged images, drops untagged ones
        env.agent("untag", f"{reg}/busybox:1")
        env.agent("gc")
        if os.listdir(env.tmp + "/agent/images/layers"):
            fail("gc left layers of an untagged image")
        print("PASS")
    finally:
        env.cleanup()


if __name__ == "__main__":
    main()
