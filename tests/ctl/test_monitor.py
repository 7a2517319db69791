# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berthctl monitor as a client: this test serves <root>/monitor.sock
itself with events in the agent's line format, so what is checked is the
client's request (the types it wants), parsing, filtering (--pod,
--reason, --type, --node, --count) and printing (text and -o json), not
the agent's side: tests/e2e/test_mn_monitor.py runs berthctl monitor
against berth-agent's own socket."""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import threading

from ctllib import CTL, check

EVENTS = [
    {"time": "2026-01-02T03:04:05.000001Z", "type": "drop", "reason": "Policy denied",
     "reason_code": 133, "proto": "TCP", "src": "10.0.1.2", "sport": 40000, "dst": "10.0.1.3",
     "dport": 80, "src_pod": "default/client", "dst_pod": "prod/web", "ifindex": 7, "dir": "ingress"},
    {"time": 1767323045000002000, "type": "trace", "reason": "to-endpoint", "reason_code": 0,
     "proto": "UDP", "src": "10.0.1.4", "sport": 5353, "dst": "10.0.2.9", "dport": 53,
     "src_pod": "kube-system/dns", "dst_pod": "", "ifindex": 8, "dir": "egress"},
    {"time": "2026-01-02T03:04:06Z", "type": "drop", "reason": "No service backend",
     "reason_code": 140, "proto": "TCP", "src": "10.0.1.2", "sport": 40001, "dst": "10.96.0.5",
     "dport": 443, "src_pod": "default/client", "dst_pod": "", "ifindex": 7, "dir": "egress",
     "node": "n2"},
    {"time": "2026-01-02T03:04:07Z", "node": "n1", "type": "trace", "reason": "to-endpoint",
     "reason_code": 1, "proto": "TCP", "src": "10.0.2.9", "sport": 80, "dst": "10.0.1.2",
     "dport": 40001, "src_pod": "", "dst_pod": "default/client", "ifindex": 9,
     "dir": "overlay", "len": 74},
    {"time": "2026-01-02T03:04:08Z", "node": "n1", "type": "drop", "reason": "denied by network policy",
     "reason_code": 11, "proto": "UDP", "src": "10.0.1.4", "sport": 5000, "dst": "10.0.1.3",
     "dport": 53, "src_pod": "kube-system/dns", "dst_pod": "prod/web", "ifindex": 7,
     "dir": "ingress", "len": 60},
    {"time": "2026-01-02T03:04:09Z", "node": "n1", "type": "lost", "lost_type": "trace",
     "count": 12},
]
requests = []

root = tempfile.mkdtemp(prefix="berthctl-monitor-")
sock_path = os.path.join(root, "monitor.sock")
srv = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
srv.bind(sock_path)
srv.listen(8)
srv.settimeout(20)


def serve():
    """each client gets the events (and a malformed line), then EOF"""
    while True:
        try:
            c, _ = srv.accept()
        except OSError:
            return
        with c:
            c.settimeout(5)
            req = b""
            try:
                while not req.endswith(b"\n"):
                    b = c.recv(256)
                    if not b:
                        break
                    req += b
            except OSError:
                pass
            requests.append(req.decode())
            data = json.dumps(EVENTS[0]) + "\n" + "{not json\n"
            # the second event split across writes, as a stream may be
            line = json.dumps(EVENTS[1]) + "\n"
            try:
                c.sendall(data.encode())
                c.sendall(line[:20].encode())
                c.sendall((line[20:] + json.dumps(EVENTS[2]) + "\n").encode())
                c.sendall("".join(json.dumps(e) + "\n" for e in EVENTS[3:]).encode())
            except OSError:
                pass


threading.Thread(target=serve, daemon=True).start()


def monitor(*args, rc=0):
    p = subprocess.run([CTL, "monitor", "--root", root, *args], capture_output=True,
                       text=True, timeout=20)
    check(p.returncode == rc, "monitor %s: exit %d (%s)" % (" ".join(args), p.returncode, p.stderr))
    return p


try:
    p = monitor("-o", "json")
    got = [json.loads(l) for l in p.stdout.splitlines()]
    check(got == EVENTS, "-o json: the three events as sent: %s" % got)
    check("malformed" in p.stderr, "a malformed line is skipped with a warning: %r" % p.stderr)

    lines = monitor().stdout.splitlines()
    check(lines[0] == "2026-01-02T03:04:05.000001Z xx drop (Policy denied) TCP "
          "10.0.1.2:40000 (default/client) -> 10.0.1.3:80 (prod/web) ifindex 7 ingress", lines[0])
    check(lines[1] == "03:04:05.000002 -> trace (to-endpoint) UDP 10.0.1.4:5353 (kube-system/dns) "
          "-> 10.0.2.9:53 ifindex 8 egress", lines[1])
    check(lines[3] == "2026-01-02T03:04:07Z -> trace (to-endpoint) TCP 10.0.2.9:80 -> "
          "10.0.1.2:40001 (default/client) ifindex 9 overlay len 74", lines[3])
    check(lines[5] == "2026-01-02T03:04:09Z !! lost 12 trace events (the node's ring buffer "
          "was full)", lines[5])
    check(len(lines) == 6, "text: one line per event")

    def reasons(*args):
        return [json.loads(l).get("reason", "lost")
                for l in monitor("-o", "json", *args).stdout.splitlines()]

    def request(*args):
        del requests[:]
        monitor("--count", "1", *args)
        return json.loads(requests[0])
    check(request() == {"types": ["drop", "trace"]}, "no --type: asks for drops and traces")
    check(request("--type", "trace") == {"types": ["trace"]}, "--type trace: traces only")
    check(request("--type", "drop") == {"types": ["drop"]}, "--type drop: no traces")
    check(request("--type", "policy") == {"types": ["drop"]}, "--type policy: drops")
    check(reasons("--pod", "prod/web") == ["Policy denied", "denied by network policy", "lost"],
          "--pod NS/NAME matches dst_pod (lost lines always shown)")
    check(reasons("--pod", "client") == ["Policy denied", "No service backend", "to-endpoint",
                                         "lost"], "--pod NAME: any namespace")
    check(reasons("--pod", "other/client") == ["lost"], "--pod of another namespace: nothing")
    check(reasons("--reason", "policy DENIED") == ["Policy denied", "lost"],
          "--reason by name, any case")
    check(reasons("--reason", "140") == ["No service backend", "lost"], "--reason by code")
    check(reasons("--type", "trace") == ["to-endpoint", "to-endpoint", "lost"], "--type trace")
    check(reasons("--type", "policy") == ["denied by network policy", "lost"],
          "--type policy: drops of reason 11 only")
    check(reasons("--node", "n1") == ["Policy denied", "to-endpoint", "to-endpoint",
                                      "denied by network policy", "lost"],
          "--node n1: the event naming n2 is left out, those without a node kept")
    check(reasons("--count", "1") == ["Policy denied"], "--count 1 stops after one")
    check(reasons("--socket", sock_path, "--type", "drop", "--pod", "default/client",
                  "--reason", "no service backend") == ["No service backend", "lost"],
          "filters combine")

    monitor("--type", "bogus", rc=2)
    monitor("extra-arg", rc=2)
    p = subprocess.run([CTL, "monitor", "--root", os.path.join(root, "absent")],
                       capture_output=True, text=True, timeout=10)
    check(p.returncode == 1 and "monitor.sock" in p.stderr and "No such file" in p.stderr,
          "no agent socket: exit 1: %r" % p.stderr)
finally:
    srv.close()
    shutil.rmtree(root, ignore_errors=True)
print("PASS")
