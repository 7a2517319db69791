# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Helpers of the controller tests beyond kwok: is there a scheduler yet,
and a server restarted on the same data dir."""
import glob
import os
import signal
import subprocess
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "api"))
from lib import REPO, SERVER, check, fail  # noqa: E402


def have_scheduler():
    """Until control/scheduler/ registers a scheduler, kwok binds the pods."""
    for f in glob.glob(os.path.join(REPO, "control", "scheduler", "*.c")):
        with open(f) as fh:
            if "BERTH_CONTROLLER(" in fh.read():
                return True
    return False


def restart(s, *args):
    """Stop s's server with SIGTERM and start another on the same data dir
    (and etcd) with args, in s's place."""
    s.proc.send_signal(signal.SIGTERM)
    check(s.proc.wait(10) == 0, "server stopped with SIGTERM")
    s.log.close()
    data = os.path.join(s.tmp, "data")
    kc = os.path.join(data, "kubeconfig")
    os.remove(kc)
    cmd = [SERVER, "--data-dir", data, "--listen", "127.0.0.1:0", "--insecure-port", "0", *args]
    if s.etcd:
        cmd += ["--etcd", s.etcd.url]
    s.log = open(os.path.join(s.tmp, "server-restarted.log"), "w")
    s.proc = subprocess.Popen(cmd, stdout=s.log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 5
    while not os.path.exists(kc):
        if time.monotonic() > deadline or s.proc.poll() is not None:
            fail("the restarted server did not come up")
        time.sleep(0.05)
    s.read_ports()
