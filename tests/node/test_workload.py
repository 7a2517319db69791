#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""The whole node: a Deployment of 3 busybox httpd pods behind a Service,
scheduled by berth-server, run by berth-agent with berth-cni, and another
pod reaching them by ClusterIP (balanced by the BPF dataplane the agent
keeps in step with the EndpointSlices) and by pod IP."""
import json

from kubelet_lib import IMAGE, check, pod_node, wait_for

n, _ = pod_node("kt-work")

web = {
    "apiVersion": "apps/v1", "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
             "template": {"metadata": {"labels": {"app": "web"}}, "spec": {
                 "terminationGracePeriodSeconds": 2,
                 "containers": [{
                     "name": "httpd", "image": IMAGE,
                     "command": ["sh", "-c", "mkdir -p /www && hostname > /www/index.html && "
                                 "exec httpd -f -p 8080 -h /www"],
                     "ports": [{"name": "http", "containerPort": 8080}],
                     "readinessProbe": {"httpGet": {"path": "/", "port": "http"},
                                        "periodSeconds": 1}}]}}}}
svc = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "web"},
       "spec": {"selector": {"app": "web"},
                "ports": [{"name": "http", "port": 80, "targetPort": "http"}]}}
# two documents in one stream, as a user's manifest file would hold them
r = n.kubectl("apply", "-f", "-", input=json.dumps(web) + "\n" + json.dumps(svc))
check(r.returncode == 0, "Deployment and Service applied")


def ready_pods():
    pods = (n.get("pods", "-l", "app=web") or {}).get("items", [])
    ok = [p for p in pods if p["status"].get("podIP") and any(
        c["type"] == "Ready" and c["status"] == "True" for c in p["status"].get("conditions", []))]
    return ok if len(ok) == 3 else None


pods = wait_for("3 web pods Running and Ready", ready_pods, 90)
names = sorted(p["metadata"]["name"] for p in pods)
ips = [p["status"]["podIP"] for p in pods]
wait_for("kubectl rollout status finishes",
         lambda: n.kubectl("rollout", "status", "deployment/web", "--timeout=5s",
                           check_rc=False).returncode == 0, 30)
cip = n.get("service", "web")["spec"]["clusterIP"]
wait_for("the Service's EndpointSlice lists the 3 pods",
         lambda: sorted(e["addresses"][0] for s in n.get("endpointslices", "-l",
                        "kubernetes.io/service-name=web")["items"]
                        for e in s.get("endpoints") or []) == sorted(ips), 20)

# a client pod: 30 requests to the ClusterIP, one to each pod IP (busybox
# nc: its wget crashes on a refused connection, which would hide why)
script = ("get() { r=$(printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 3 $1 $2 | tail -n 1); "
          "[ -n \"$r\" ] && echo \"$3$r\" || { echo \"no answer from $1:$2\"; fail=1; }; }; "
          "echo mtu $(cat /sys/class/net/eth0/mtu); "
          "fail=0; for i in $(seq 30); do get %s 80; done; "
          "for ip in %s; do get $ip 8080 'direct '; done; exit $fail") % (cip, " ".join(ips))
client = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "client"},
          "spec": {"restartPolicy": "Never", "terminationGracePeriodSeconds": 1,
                   "containers": [{"name": "c", "image": IMAGE, "command": ["sh", "-c", script]}]}}
check(n.kubectl("apply", "-f", "-", input=json.dumps(client)).returncode == 0, "client pod created")
phase = wait_for("client pod finished",
                 lambda: (lambda p: p and p["status"].get("phase") in ("Succeeded", "Failed") and
                          p["status"]["phase"])(n.get("pod", "client")), 90)
out = n.kubectl("logs", "client").stdout
check(phase == "Succeeded", "every request answered (phase %s; log: %s)" % (phase, out[-400:]))
# pods get the tunnel's MTU (underlay - 50) on both ends of their veth
under = json.loads(n.nsh("ip", "-j", "link", "show", "node0").stdout)[0]["mtu"]
check("mtu %d" % (under - 50) in out.splitlines(), "pod eth0 MTU %d: %s" % (under - 50, out[:40]))
hosts = [l for l in json.loads(n.nsh("ip", "-j", "link", "show").stdout)
         if l["ifname"].startswith("lxc")]
check(hosts and all(l["mtu"] == under - 50 for l in hosts),
      "host veths MTU %d: %s" % (under - 50, [(l["ifname"], l["mtu"]) for l in hosts]))
via_svc = [l for l in out.splitlines() if l and not l.startswith(("direct", "mtu "))]
check(len(via_svc) == 30 and set(via_svc) <= set(names),
      "30 answers through the ClusterIP, each from a web pod")
check(len(set(via_svc)) >= 2, "the ClusterIP spreads over the pods (%s)" %
      {h: via_svc.count(h) for h in set(via_svc)})
direct = sorted(l.split()[1] for l in out.splitlines() if l.startswith("direct "))
check(direct == names, "each pod answers on its own IP")

# scale down: the Service follows
n.kubectl("scale", "deployment/web", "--replicas=1")
wait_for("one endpoint left",
         lambda: sum(len(s.get("endpoints") or []) for s in n.get(
             "endpointslices", "-l", "kubernetes.io/service-name=web")["items"]) == 1, 40)
