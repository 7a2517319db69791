#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""bench/api.sh's client for what wrk cannot do: load N pods quickly
(keep-alive connections in threads) and measure watch fan-out (W watchers
on one namespace, events/s delivered to all of them while pods are written).

  api_client.py load URL NS N        create namespace NS and pods p-0..p-N-1
  api_client.py watch URL NS W N     W watchers, N pods written; prints JSON
"""
import http.client
import json
import selectors
import socket
import sys
import threading
import time
from urllib.parse import urlparse

THREADS = 8
TIMEOUT = 60  # s, any single phase


def conn(url):
    u = urlparse(url)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=TIMEOUT)


def pod(name):
    return json.dumps({"apiVersion": "v1", "kind": "Pod",
                       "metadata": {"name": name, "labels": {"app": "bench"}},
                       "spec": {"containers": [{"name": "c", "image": "nginx"}]}})


def post(c, path, body):
    c.request("POST", path, body, {"Content-Type": "application/json"})
    r = c.getresponse()
    r.read()
    if r.status not in (201, 409):
        raise SystemExit("POST %s: %d" % (path, r.status))


def create_ns(url, ns):
    c = conn(url)
    post(c, "/api/v1/namespaces",
         json.dumps({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}))
    c.close()


def load(url, ns, n):
    """Create pods p-0..p-(n-1) in ns with THREADS connections."""
    create_ns(url, ns)
    errors = []

    def worker(k):
        try:
            c = conn(url)
            for i in range(k, n, THREADS):
                post(c, "/api/v1/namespaces/%s/pods" % ns, pod("p-%d" % i))
            c.close()
        except BaseException as e:  # reported by the main thread
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(k,)) for k in range(THREADS)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise SystemExit("load: %s" % errors[0])


def open_watch(url, ns):
    u = urlparse(url)
    s = socket.create_connection((u.hostname, u.port), timeout=TIMEOUT)
    s.sendall(("GET /api/v1/namespaces/%s/pods?watch=true HTTP/1.1\r\n"
               "Host: %s:%d\r\nAccept: application/json\r\n\r\n"
               % (ns, u.hostname, u.port)).encode())
    s.setblocking(False)
    return s


def watch(url, ns, nwatch, n):
    """nwatch watchers, n pods written: events delivered per second."""
    create_ns(url, ns)
    sel = selectors.DefaultSelector()
    seen = {}
    for _ in range(nwatch):
        s = open_watch(url, ns)
        sel.register(s, selectors.EVENT_READ)
        seen[s] = 0
    time.sleep(0.5)  # let every watch register before the first write
    writer = threading.Thread(target=load, args=(url, ns, n))
    start = time.monotonic()
    writer.start()
    want = nwatch * n
    total = 0
    last = start
    while total < want and time.monotonic() - start < TIMEOUT:
        for key, _ in sel.select(timeout=1):
            data = key.fileobj.recv(1 << 20)
            if not data:
                sel.unregister(key.fileobj)
                continue
            # one JSON event per line; the headers carry no "ADDED"
            got = data.count(b'"type":"ADDED"')
            seen[key.fileobj] += got
            total += got
            last = time.monotonic()
    writer.join()
    for s in seen:
        s.close()
    took = last - start
    print(json.dumps({"watchers": nwatch, "pods": n, "events": total,
                      "expected": want, "seconds": round(took, 3),
                      "events_per_s": round(total / took, 1) if took else 0}))


def main():
    if len(sys.argv) == 5 and sys.argv[1] == "load":
        load(sys.argv[2], sys.argv[3], int(sys.argv[4]))
    elif len(sys.argv) == 6 and sys.argv[1] == "watch":
        watch(sys.argv[2], sys.argv[3], int(sys.argv[4]), int(sys.argv[5]))
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
