#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Real pods through berth-agent as the kubelet: busybox httpd Running and
Ready with a pod IP the node reaches; a crashing container restarting with
back-off (CrashLoopBackOff, lastState exit code); kubectl logs (plain,
--tail, --previous, -f) through the server; deletion ends in the kubelet's
final delete."""
import json
import os
import subprocess
import time

from kubelet_lib import IMAGE, check, pod_node, wait_for

n, _ = pod_node("kt-pods")
root = os.path.join(n.tmp, "agent")


def pod(name, cmd, restart="Always", **extra):
    c = {"name": "main", "image": IMAGE, "command": ["sh", "-c", cmd]}
    c.update(extra)
    return {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
            "spec": {"containers": [c], "restartPolicy": restart,
                     "terminationGracePeriodSeconds": 2}}


def create(obj):
    r = n.kubectl("apply", "-f", "-", input=json.dumps(obj))
    return r


def status(name):
    o = n.get("pod", name)
    return o["status"] if o else None


def cstatus(name):
    st = status(name)
    return (st or {}).get("containerStatuses", [{}])[0]


create(pod("web", "echo hello-from-web > /tmp/index.html && exec httpd -f -p 8080 -h /tmp",
           readinessProbe={"httpGet": {"path": "/index.html", "port": 8080},
                           "periodSeconds": 1},
           livenessProbe={"tcpSocket": {"port": 8080}, "periodSeconds": 2}))
create(pod("crash", "echo boom-$RANDOM; exit 3"))
create(pod("live", "exec sleep 3600",
           livenessProbe={"exec": {"command": ["false"]}, "periodSeconds": 1,
                          "failureThreshold": 2}))
badimg = pod("badimg", "true")
badimg["spec"]["containers"][0]["image"] = "127.0.0.1:1/nope:1"
create(badimg)
create(pod("done", "exit 0", restart="Never"))
create(pod("fails", "exit 1", restart="OnFailure"))
create(pod("talk", "i=0; while true; do echo line $i; i=$((i+1)); sleep 0.5; done"))

st = wait_for("web Running and Ready",
              lambda: (lambda s: s if s and s.get("phase") == "Running" and
                       any(c["type"] == "Ready" and c["status"] == "True"
                           for c in s.get("conditions", [])) else None)(status("web")), 60)
ip = st.get("podIP")
check(ip and ip.startswith("10.244."), "web has a pod IP in the podCIDR: %s" % ip)
check(st.get("hostIP") == "10.250.0.1", "hostIP")
cs = st["containerStatuses"][0]
check(cs["ready"] and cs["started"] and "running" in cs["state"] and
      cs["containerID"].startswith("berth://") and cs["imageID"].startswith("sha256:"),
      "web container status: %s" % cs)
r = n.nsh("python3", "-c", "import urllib.request,sys; "
          "print(urllib.request.urlopen('http://%s:8080/index.html', timeout=5).read().decode())" % ip,
          check_rc=False)
check("hello-from-web" in r.stdout, "node netns reaches the pod IP: %s%s" % (r.stdout, r.stderr))

cs = wait_for("crash restarted and in CrashLoopBackOff",
              lambda: (lambda c: c if c.get("restartCount", 0) >= 1 and
                       c.get("state", {}).get("waiting", {}).get("reason") == "CrashLoopBackOff"
                       else None)(cstatus("crash")), 60)
check(cs["lastState"]["terminated"]["exitCode"] == 3 and
      cs["lastState"]["terminated"]["reason"] == "Error", "lastState: exit code 3, Error")
check("back-off" in cs["state"]["waiting"].get("message", ""), "back-off message")
restarts = cs["restartCount"]
time.sleep(4)
check(cstatus("crash")["restartCount"] <= restarts + 1, "back-off slows restarts down")

out = n.kubectl("logs", "crash").stdout
check("boom-" in out, "kubectl logs crash: %r" % out)
out = n.kubectl("logs", "crash", "--previous", check_rc=False)
check("boom-" in out.stdout, "kubectl logs --previous: %r %r" % (out.stdout, out.stderr))
wait_for("talk running", lambda: "running" in cstatus("talk").get("state", {}), 30)
time.sleep(2)
out = n.kubectl("logs", "talk", "--tail", "2").stdout
check(len(out.strip().splitlines()) == 2 and out.startswith("line "), "--tail 2: %r" % out)
p = subprocess.Popen(["nsenter", "--net=" + n.nspath, "kubectl", "--kubeconfig", n.kubeconfig,
                      "logs", "-f", "talk"], stdout=subprocess.PIPE, text=True)
seen = []
end = time.time() + 10
while time.time() < end and len(seen) < 8:
    line = p.stdout.readline()
    if not line:
        break
    seen.append(line)
p.kill()
p.wait()
check(len(seen) >= 8, "logs -f streams: %d lines" % len(seen))

cs = wait_for("a failing liveness probe restarts live",
              lambda: (lambda c: c if c.get("restartCount", 0) >= 1 else None)(cstatus("live")), 40)
check(cs["lastState"]["terminated"]["exitCode"] == 137, "killed: 137 (%s)" % cs["lastState"])
cs = wait_for("badimg in ImagePullBackOff",
              lambda: (lambda c: c if c.get("state", {}).get("waiting", {}).get("reason") ==
                       "ImagePullBackOff" else None)(cstatus("badimg")), 40)
check("127.0.0.1:1/nope" in cs["state"]["waiting"].get("message", ""),
      "the pull error: %s" % cs["state"]["waiting"].get("message"))
wait_for("restartPolicy Never, exit 0: Succeeded",
         lambda: status("done")["phase"] == "Succeeded", 30)
cs = wait_for("OnFailure restarts a failing container",
              lambda: (lambda c: c if c.get("restartCount", 0) >= 1 else None)(cstatus("fails")), 30)
with open("/proc/%d/status" % int(n.nsh("pgrep", "-f", "berth-agent --server").stdout.split()[0])) as f:
    rss = [l for l in f if l.startswith("VmRSS")][0].split()[1]
print("agent VmRSS with 7 pods: %s kB" % rss)

# a killed container restarts
cid = cstatus("talk")["containerID"][len("berth://"):]
st = json.loads(subprocess.run(["runc", "--root", os.path.join(root, "runtime", "runc"),
                                "state", cid], capture_output=True, text=True).stdout or "{}")
check(st.get("pid", 0) > 0, "talk's init pid from runc state")
os.kill(st["pid"], 9)
cs = wait_for("killed container restarted",
              lambda: (lambda c: c if c.get("restartCount", 0) >= 1 and "running" in c["state"]
                       else None)(cstatus("talk")), 30)
check(cs["lastState"]["terminated"]["exitCode"] == 137, "lastState: killed by 9")

# the rootfs overlays live in the shims' mount namespaces: the node's mount
# table, which every runc start reads whole, holds none of them
with open("/proc/self/mountinfo") as f:
    mine = [l for l in f if " - overlay " in l and root in l]
check(not mine, "no container rootfs mounted in the node's mount namespace: %s" % mine)
cid = cs["containerID"][len("berth://"):]
pid = json.loads(subprocess.run(["runc", "--root", os.path.join(root, "runtime", "runc"),
                                 "state", cid], capture_output=True, text=True).stdout
                 or "{}").get("pid", 0)
with open("/proc/%d/mountinfo" % pid) as f:
    roots = [l.split(" - ")[1].split()[0] for l in f if l.split()[4] == "/"]
check(roots == ["overlay"], "the restarted container's / is its overlay: %s" % roots)

n.kubectl("delete", "pod", "web", "--wait=false")
wait_for("web deleted by the kubelet's final delete", lambda: n.get("pod", "web") is None, 30)
check(True, "web is gone")
n.kubectl("delete", "pod", "crash", "talk", "live", "badimg", "done", "fails", "--wait=false")
wait_for("all pods gone", lambda: not n.get("pods")["items"], 30)
left = os.listdir(os.path.join(root, "runtime", "pods")) if os.path.isdir(
    os.path.join(root, "runtime", "pods")) else []
check(not left, "no sandboxes left: %s" % left)
n.stop_agent()
print("PASS")
