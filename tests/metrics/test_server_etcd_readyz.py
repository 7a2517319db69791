#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""berth-server on etcd: etcd stopped makes /readyz fail with the etcd
check named (500), while /livez, /metrics and the server stay up and the
store's failures are counted; etcd back makes /readyz pass again."""
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "api"))
from lib import Server, check, fail  # noqa: E402
from promlib import Metrics  # noqa: E402

if not shutil.which("etcd"):
    print("SKIP: etcd is not installed (Debian: etcd-server)")
    sys.exit(77)
os.environ["BERTH_TEST_STORE"] = "etcd"
s = Server("--controllers", "none")
etcd = s.etcd


def wait(what, fn, timeout):
    end = time.time() + timeout
    last = None
    while time.time() < end:
        last = fn()
        if last:
            return last
        time.sleep(0.3)
    fail("%s within %ds (last %r)" % (what, timeout, last))


st, t, _ = s.req("GET", "/readyz?verbose")
check(st == 200 and "[+]etcd ok" in t, "etcd up: readyz passes with the etcd check:\n" + t)

args = etcd.proc.args
etcd.proc.terminate()
etcd.proc.wait(10)
st, t, _ = s.req("GET", "/readyz")
check(st == 500 and "[-]etcd failed" in t and "readyz check failed" in t,
      "etcd down: readyz 500 naming etcd:\n%s" % t)
st, t, _ = s.req("GET", "/readyz/etcd")
check(st == 500, "readyz/etcd alone: 500")
st, t, _ = s.req("GET", "/livez?verbose")
check(st == 200 and "livez check passed" in t, "livez still passes (a restart would not help)")
st, t, _ = s.req("GET", "/version")
check(st == 200, "the server still answers what needs no store")
st, text, _ = s.req("GET", "/metrics")
m = Metrics(text)
check(st == 200 and m.get("berth_store_request_errors_total", backend="etcd") > 0,
      "metrics served, store errors counted: %s" %
      m.get("berth_store_request_errors_total", backend="etcd"))

# the same etcd (data dir, ports) again
etcd.proc = subprocess.Popen(args, stdout=etcd.log, stderr=subprocess.STDOUT)
wait("readyz passes once etcd is back",
     lambda: s.req("GET", "/readyz")[:2] == (200, "ok"), 30)
check(True, "readyz ok again")
st, t, _ = s.req("GET", "/api/v1/namespaces/default")
check(st == 200, "reads work again")
print("PASS")
