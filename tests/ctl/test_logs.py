# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berthctl logs through the server's pods/log proxy: -c, --tail,
--previous, -f (lines as they come), and the errors. The node's kubelet
endpoint is played by an HTTP server in this test that serves
/containerLogs/NS/POD/CONTAINER as berth-agent's log server does (what it
is asked is recorded and checked); berthctl's output is compared with
kubectl's."""
import http.server
import os
import select
import socket
import subprocess
import threading
import time
import urllib.parse

from ctllib import CTL, Tools, check
from kwok import Server

hung_up = []  # when the server closed a follow stream to the kubelet
done = threading.Event()  # ends the follow streams: the test is over
LOGS = {"a": ["a%d" % i for i in range(1, 6)], "b": ["b1", "b2"]}
PREVIOUS = {"a": ["old-a1", "old-a2"]}
asked = []


class Kubelet(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        u = urllib.parse.urlparse(self.path)
        q = dict(urllib.parse.parse_qsl(u.query))
        parts = u.path.split("/")
        asked.append((u.path, q))
        if len(parts) != 5 or parts[1] != "containerLogs" or parts[4] not in LOGS:
            body = b"no such container\n"
            self.send_response(404)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        lines = (PREVIOUS if q.get("previous") == "true" else LOGS).get(parts[4], [])
        if "tailLines" in q:
            n = int(q["tailLines"])
            lines = lines[len(lines) - n:] if n else []
        follow = q.get("follow") == "true"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        if follow:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            body = "".join(l + "\n" for l in lines).encode()
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if not follow:
            self.wfile.write(body)
            return

        def chunk(data):
            self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
            self.wfile.flush()
        try:
            for l in lines:
                chunk((l + "\n").encode())
            for i in range(6, 8):  # new lines while the client follows
                time.sleep(0.3)
                chunk(("a%d\n" % i).encode())
            # stays open and quiet until the server hangs up on it, which
            # it must do once the client stops following (not at the
            # container's next line, which may never come)
            end = time.monotonic() + 20
            while not done.is_set() and time.monotonic() < end:
                r, _, _ = select.select([self.connection], [], [], 0.1)
                if r and not self.connection.recv(1, socket.MSG_PEEK):
                    hung_up.append(time.monotonic())
                    return
            chunk(b"")
        except OSError:
            pass


kubelet = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Kubelet)
kubelet.daemon_threads = True
threading.Thread(target=kubelet.serve_forever, daemon=True).start()

s = Server("--controllers", "none")
t = Tools(s)
st, out, _ = s.req("POST", "/api/v1/nodes", {"apiVersion": "v1", "kind": "Node",
                                             "metadata": {"name": "logs-node"}})
check(st == 201, "node created: %s" % out)
st, out, _ = s.req("PATCH", "/api/v1/nodes/logs-node/status", {"status": {
    "addresses": [{"type": "InternalIP", "address": "127.0.0.1"}],
    "daemonEndpoints": {"kubeletEndpoint": {"Port": kubelet.server_address[1]}}}},
    "application/merge-patch+json")
check(st == 200, "node status: kubelet endpoint 127.0.0.1:%d" % kubelet.server_address[1])
for name, ctrs in (("two", ["a", "b"]), ("one", ["a"])):
    st, out, _ = s.req("POST", "/api/v1/namespaces/default/pods", {
        "apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
        "spec": {"nodeName": "logs-node",
                 "containers": [{"name": c, "image": "img"} for c in ctrs]}})
    check(st == 201, "pod %s created: %s" % (name, out))


def both(*args, rc=0):
    a = t.ctl("logs", *args, rc=rc)
    b = t.kubectl("logs", *args, rc=rc)
    check((a.stdout, a.stderr) == (b.stdout, b.stderr),
          "logs %s: berthctl %r %r == kubectl %r %r" % (" ".join(args), a.stdout, a.stderr,
                                                        b.stdout, b.stderr))
    return a


check(both("one").stdout == "a1\na2\na3\na4\na5\n", "logs POD (its only container)")
check(both("two", "-c", "b").stdout == "b1\nb2\n", "logs -c")
check(both("pod/two", "b").stdout == "b1\nb2\n", "logs pod/NAME CONTAINER")
check(both("one", "--tail", "2").stdout == "a4\na5\n", "logs --tail 2")
check(both("one", "--previous").stdout == "old-a1\nold-a2\n", "logs --previous")
check(("/containerLogs/default/one/a", {"previous": "true"}) in asked, "--previous reached the kubelet")
p = both("two")
check(p.stdout.startswith("a1\n") and p.stderr == 'Defaulted container "a" out of: a, b\n',
      "several containers: the first, with kubectl's notice")
# (kubectl words this one its own way; berthctl keeps the usual line)
e = t.ctl("logs", "nope", rc=1).stderr
check(e == 'Error from server (NotFound): pods "nope" not found\n', "logs of a missing pod: %r" % e)
e = t.ctl("logs", "two", "-c", "zz", rc=1).stderr
check(e.startswith("Error from server"), "unknown container: %r" % e)

# -f: the lines there, then each new one as it comes, until stopped
p = subprocess.Popen([CTL, "logs", "-f", "--tail", "1", "one"], env=t.env,
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
got, deadline = [], time.monotonic() + 10
try:
    while len(got) < 3 and time.monotonic() < deadline:
        r, _, _ = select.select([p.stdout], [], [], 0.5)
        if r:
            line = p.stdout.readline()
            if not line:
                break
            got.append((line.strip(), time.monotonic()))
finally:
    p.terminate()
    p.wait(5)
    stopped = time.monotonic()
check([g[0] for g in got] == ["a5", "a6", "a7"], "logs -f: %s" % got)
check(got[2][1] - got[0][1] > 0.4, "logs -f printed the lines as they came (%.2fs apart)"
      % (got[2][1] - got[0][1]))
check(any(q.get("follow") == "true" and q.get("tailLines") == "1" for _, q in asked),
      "-f asked the kubelet with follow=true and tailLines=1: %s" % asked)
wait_end = time.monotonic() + 5
while not hung_up and time.monotonic() < wait_end:
    time.sleep(0.05)
check(hung_up and hung_up[0] - stopped < 3,
      "the server let go of the kubelet's stream %s after the client left"
      % ("%.2fs" % (hung_up[0] - stopped) if hung_up else "not within 5s"))
done.set()
kubelet.shutdown()
print("PASS")
