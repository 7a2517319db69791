#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""How a pod ends and how a slow container starts, as the kubelet does it:
on delete the preStop hook runs first, then SIGTERM; a container that
ignores SIGTERM is killed when terminationGracePeriodSeconds (counted
from the delete, the hook's time included) runs out, and one that obeys it
ends the pod well before; a preStop hook that outlives the grace period is
cut there, and its container still gets SIGTERM and 2 s more to act on it
(the kubelet's one-off extension); the containers of a pod stop side by side (one's
slow preStop hook does not hold back another's SIGTERM); a startupProbe holds the liveness probe off until
it succeeds (a slow starter is not restarted, and is started and Ready
once it passes), and a startupProbe that keeps failing restarts the
container."""
import json
import os
import time

from kubelet_lib import IMAGE, check, pod_node, wait_for

n, _ = pod_node("kt-life")
shared = os.path.join(n.tmp, "shared")
os.makedirs(shared)


def pod(name, cmd, grace=2, **extra):
    c = {"name": "main", "image": IMAGE, "command": ["sh", "-c", cmd],
         "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]}
    c.update(extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [c], "terminationGracePeriodSeconds": grace,
                     "volumes": [{"name": "shared", "hostPath": {"path": shared}}]}}


def create(obj):
    n.kubectl("apply", "-f", "-", input=json.dumps(obj))


def cstatus(name):
    o = n.get("pod", name)
    return ((o or {}).get("status") or {}).get("containerStatuses", [{}])[0]


def running(name):
    return "running" in cstatus(name).get("state", {})


def events(name):
    with open(os.path.join(shared, name)) as f:
        return f.read().split()


# stubborn: logs SIGTERM and keeps going; its preStop hook logs and takes 1 s
TRAP = "trap 'echo term >> /shared/%s' TERM; echo up >> /shared/%s; " \
       "while true; do sleep 0.2; done"
create(pod("stubborn", TRAP % ("stubborn", "stubborn"), grace=4,
           lifecycle={"preStop": {"exec": {"command": [
               "sh", "-c", "echo prestop >> /shared/stubborn; sleep 1"]}}}))
# polite: exits on SIGTERM, with a long grace period it never needs
create(pod("polite", "trap 'echo term >> /shared/polite; exit 0' TERM; "
           "echo up >> /shared/polite; while true; do sleep 0.2; done", grace=60))
# pair: a's preStop takes 3 s; b has none; both leave on SIGTERM
pair = pod("pair", "trap 'exit 0' TERM; echo a-up >> /shared/pair; "
           "while true; do sleep 0.2; done", grace=8,
           lifecycle={"preStop": {"exec": {"command": [
               "sh", "-c", "sleep 3; echo a-prestop-done >> /shared/pair"]}}})
pair["spec"]["containers"].append(
    {"name": "b", "image": IMAGE, "command": ["sh", "-c",
     "trap 'echo b-term >> /shared/pair; exit 0' TERM; echo b-up >> /shared/pair; "
     "while true; do sleep 0.2; done"],
     "volumeMounts": [{"name": "shared", "mountPath": "/shared"}]})
create(pair)
# overrun: its preStop hook would take 30 s, its grace period is 2 s
# (and needs 1 s to act on SIGTERM)
create(pod("overrun", "trap 'sleep 1; echo term >> /shared/overrun; exit 0' TERM; "
           "echo up >> /shared/overrun; while true; do sleep 0.2; done", grace=2,
           lifecycle={"preStop": {"exec": {"command": ["sleep", "30"]}}}))
# slow: ready to answer only after 4 s; liveness would kill it before that
create(pod("slow", "sleep 4; touch /tmp/started; exec sleep 3600",
           startupProbe={"exec": {"command": ["test", "-f", "/tmp/started"]},
                         "periodSeconds": 1, "failureThreshold": 15},
           livenessProbe={"exec": {"command": ["test", "-f", "/tmp/started"]},
                          "periodSeconds": 1, "failureThreshold": 1},
           readinessProbe={"exec": {"command": ["true"]}, "periodSeconds": 1}))
# never: its startup probe fails for good
create(pod("never", "exec sleep 3600",
           startupProbe={"exec": {"command": ["false"]}, "periodSeconds": 1,
                         "failureThreshold": 2}))

for name in ("stubborn", "polite", "pair", "overrun"):
    wait_for("%s running" % name, lambda: os.path.exists(os.path.join(shared, name)) and
             ("up" in events(name) or "b-up" in events(name)) and running(name), 60)

t0 = time.time()
n.kubectl("delete", "pod", "stubborn", "--wait=false")
wait_for("stubborn gone", lambda: n.get("pod", "stubborn") is None, 30)
took = time.time() - t0
ev = events("stubborn")
check(ev[:3] == ["up", "prestop", "term"],
      "stubborn: preStop ran before SIGTERM: %s" % ev)
check(3.5 <= took <= 12, "stubborn: killed when its 4 s grace period ran out, the "
      "preStop's second included (%.1f s after the delete)" % took)

t0 = time.time()
n.kubectl("delete", "pod", "polite", "--wait=false")
wait_for("polite gone", lambda: n.get("pod", "polite") is None, 30)
took = time.time() - t0
check(events("polite") == ["up", "term"], "polite got SIGTERM: %s" % events("polite"))
check(took < 10, "polite: ended on SIGTERM, not at its 60 s grace (%.1f s)" % took)

wait_for("pair: both up", lambda: {"a-up", "b-up"} <= set(events("pair")), 30)
t0 = time.time()
n.kubectl("delete", "pod", "pair", "--wait=false")
wait_for("pair gone", lambda: n.get("pod", "pair") is None, 30)
took = time.time() - t0
ev = events("pair")
check(ev.index("b-term") < ev.index("a-prestop-done"),
      "pair: b got SIGTERM while a's preStop hook still ran: %s" % ev)
check(took < 7, "pair: gone once a's hook ended and a stopped, within its 8 s grace "
      "(%.1f s)" % took)

t0 = time.time()
n.kubectl("delete", "pod", "overrun", "--wait=false")
wait_for("overrun gone", lambda: n.get("pod", "overrun") is None, 30)
took = time.time() - t0
check(events("overrun") == ["up", "term"],
      "overrun: its hook cut at the grace period, SIGTERM still acted on: %s"
      % events("overrun"))
check(1.5 <= took < 10, "overrun: gone %.1f s after the delete, not after its hook's 30 s"
      % took)

cs = wait_for("slow started and Ready",
              lambda: (lambda c: c if c.get("started") and c.get("ready") else None)(
                  cstatus("slow")), 40)
check(cs.get("restartCount") == 0,
      "slow: liveness held off until the startup probe passed (restarts %s)"
      % cs.get("restartCount"))
cs = wait_for("never restarted by its failing startup probe",
              lambda: (lambda c: c if c.get("restartCount", 0) >= 1 else None)(
                  cstatus("never")), 40)
check(cs["lastState"]["terminated"]["exitCode"] == 137 and not cs.get("ready"),
      "never: killed (137), not Ready: %s" % cs)
check(not cstatus("never").get("started"), "never: not started")
time.sleep(3)
check(cstatus("slow").get("restartCount") == 0, "slow stays up")
print("PASS")
