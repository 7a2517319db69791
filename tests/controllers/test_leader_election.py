# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Two berth-servers on one etcd: one Lease holder runs the controllers;
when it stops, the other takes the lease and the controllers go on."""
import os
import shutil
import sys
import tempfile
import time

from kwok import Server, check, wait_for

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "api"))
from lib import Etcd  # noqa: E402

if not shutil.which("etcd"):
    print("SKIP: etcd is not installed (Debian: etcd-server)")
    sys.exit(77)
tmp = tempfile.mkdtemp(prefix="berth-leader-")
etcd = Etcd(tmp)
try:
    a = Server("--etcd", etcd.url)
    b = Server("--etcd", etcd.url)
    lease = "/apis/coordination.k8s.io/v1/namespaces/kube-system/leases/berth-controllers"

    def holder():
        st, out, _ = a.req("GET", lease)
        return out["spec"].get("holderIdentity") if st == 200 else None

    first = wait_for("a controllers lease holder", holder, 10)

    def leading_logs():
        n = []
        for srv in (a, b):
            with open(os.path.join(srv.tmp, "server.log")) as f:
                n.append(f.read().count("controllers: leading"))
        return n

    n = leading_logs()
    check(sorted(n) == [0, 1], "exactly one server leads (%s)" % n)
    leader, other = (a, b) if n[0] == 1 else (b, a)
    check(first.endswith(os.path.realpath(os.path.join(leader.tmp, "data"))),
          "the lease names the leading server (%s)" % first)
    st, _, _ = other.req("POST", "/api/v1/namespaces", {"metadata": {"name": "one"}})
    check(st == 201, "namespace created through the follower")
    wait_for("the leader's controllers act on it",
             lambda: other.req("GET", "/api/v1/namespaces/one/serviceaccounts/default")[0] == 200, 10)

    t0 = time.monotonic()
    leader.stop()
    wait_for("the other server takes the lease",
             lambda: (lambda h: h and h != first and h)(
                 other.req("GET", lease)[1].get("spec", {}).get("holderIdentity")), 15)
    print("takeover after %.1fs" % (time.monotonic() - t0))
    st, _, _ = other.req("POST", "/api/v1/namespaces", {"metadata": {"name": "two"}})
    check(st == 201, "namespace created after the takeover")
    wait_for("the new leader's controllers act on it",
             lambda: other.req("GET", "/api/v1/namespaces/two/serviceaccounts/default")[0] == 200, 10)
finally:
    for srv in ("a", "b"):
        if srv in dir():
            globals()[srv].stop()
    etcd.stop()
    shutil.rmtree(tmp, ignore_errors=True)
