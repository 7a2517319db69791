# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""What the berthctl tests share: berthctl and kubectl against the same
berth-server, and comparing their outputs."""
import os
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "controllers"))
sys.path.insert(0, os.path.join(HERE, "..", "api"))
from lib import REPO, check, fail  # noqa: E402,F401

CTL = os.environ.get("BERTHCTL") or os.path.join(REPO, ".output", "bin", "berthctl")
if not os.access(CTL, os.X_OK):
    fail(CTL + " is missing (make builds it)")


class Tools:
    """berthctl and kubectl with the server's kubeconfig."""

    def __init__(self, server):
        self.s = server
        self.kubeconfig = os.path.join(server.tmp, "data", "kubeconfig")
        self.env = dict(os.environ, KUBECONFIG=self.kubeconfig,
                        KUBECACHEDIR=os.path.join(server.tmp, "kcache"))

    def run(self, argv, rc=0, stdin=None, timeout=60, env=None):
        p = subprocess.run(argv, env=env or self.env, capture_output=True, text=True,
                           input=stdin, timeout=timeout)
        if rc is not None and p.returncode != rc:
            fail("%s: exit %d, want %d\nstdout: %s\nstderr: %s"
                 % (" ".join(argv), p.returncode, rc, p.stdout[-800:], p.stderr[-800:]))
        return p

    def ctl(self, *args, rc=0, stdin=None, timeout=60, env=None):
        return self.run([CTL, *args], rc, stdin, timeout, env)

    def kubectl(self, *args, rc=0, stdin=None, timeout=60):
        return self.run(["kubectl", "--request-timeout=20s", *args], rc, stdin, timeout)

    def same_as_kubectl(self, *args, tries=5):
        """stdout of both, equal (ages may tick between the two: retried)"""
        for _ in range(tries):
            a = self.ctl(*args).stdout
            b = self.kubectl(*args).stdout
            if a == b:
                print("ok: berthctl %s == kubectl (%d lines)" % (" ".join(args), a.count("\n")))
                return a
            time.sleep(0.3)
        fail("berthctl %s differs from kubectl:\n--- berthctl\n%s--- kubectl\n%s"
             % (" ".join(args), a, b))
