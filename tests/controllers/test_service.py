# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Service controller and allocation: a deleted Service's ClusterIP and
NodePort can be had again, two Services never share one; the kubernetes
Service's Endpoints and EndpointSlice point at this server; a ClusterIP
outside the service CIDR (after a restart with another --service-cidr) is
reported with a Warning Event."""
import os
import subprocess

from ctlhelp import restart
from kwok import Server, check, wait_for

SVCS = "/api/v1/namespaces/default/services"
CTL = "service,endpoints,endpointslice"


def svc(name, **spec):
    body = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": name},
            "spec": {"selector": {"app": name}, "ports": [{"port": 80}]}}
    body["spec"].update(spec)
    return body


def create(body, want=201):
    st, out, _ = s.req("POST", SVCS, body)
    check(st == want, "create Service %s: %d (%s)" % (body["metadata"]["name"], st,
                                                       out.get("message", "") if st != 201 else "created"))
    return out


s = Server("--controllers", CTL)

# ---- the kubernetes Service's endpoints are this server ----
ep = wait_for("Endpoints default/kubernetes",
              lambda: (lambda r: r[1] if r[0] == 200 else None)(
                  s.req("GET", "/api/v1/namespaces/default/endpoints/kubernetes")), 5)
check(ep["subsets"] == [{"addresses": [{"ip": s.host}],
                         "ports": [{"name": "https", "port": s.https_port, "protocol": "TCP"}]}],
      "kubernetes Endpoints: %s" % ep["subsets"])
st, sl, _ = s.req("GET", "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices/kubernetes")
check(st == 200 and sl["endpoints"][0]["addresses"] == [s.host] and sl["ports"][0]["port"] == s.https_port
      and sl["metadata"]["labels"]["kubernetes.io/service-name"] == "kubernetes",
      "kubernetes EndpointSlice points at the server")
env = dict(os.environ, KUBECONFIG=os.path.join(s.tmp, "data", "kubeconfig"))
out = subprocess.run(["kubectl", "get", "endpoints", "kubernetes"], env=env, capture_output=True, text=True,
                     timeout=20)
check("%s:%d" % (s.host, s.https_port) in out.stdout, "kubectl get endpoints kubernetes:\n" + out.stdout + out.stderr)
st, _, _ = s.req("DELETE", "/api/v1/namespaces/default/endpoints/kubernetes")
wait_for("kubernetes Endpoints made again after deletion",
         lambda: s.req("GET", "/api/v1/namespaces/default/endpoints/kubernetes")[0] == 200, 5)

# ---- ClusterIP: never shared, free again after delete ----
a = create(svc("a"))
ip = a["spec"]["clusterIP"]
create(svc("b", clusterIP=ip), 422)
st, _, _ = s.req("DELETE", SVCS + "/a")
check(st == 200, "Service a deleted")
c = create(svc("c", clusterIP=ip))
check(c["spec"]["clusterIP"] == ip, "the deleted Service's ClusterIP is allocatable again")

# ---- NodePort: the same ----
np1 = create(svc("np1", type="NodePort"))
port = np1["spec"]["ports"][0]["nodePort"]
create(svc("np2", type="NodePort", ports=[{"port": 80, "nodePort": port}]), 422)
s.req("DELETE", SVCS + "/np1")
np3 = create(svc("np3", type="NodePort", ports=[{"port": 80, "nodePort": port}]))
check(np3["spec"]["ports"][0]["nodePort"] == port, "the deleted Service's NodePort is allocatable again")
ips = set()
for i in range(20):
    ips.add(create(svc("many-%d" % i))["spec"]["clusterIP"])
check(len(ips) == 20 and ip not in ips, "20 more Services, 20 distinct ClusterIPs")

# ---- repair: a ClusterIP the service CIDR no longer holds ----
restart(s, "--controllers", CTL, "--service-cidr", "10.200.0.0/16")


def warning(name, reason):
    st, out, _ = s.req("GET", "/api/v1/namespaces/default/events")
    return [e for e in out.get("items", []) if e["involvedObject"].get("name") == name
            and e["reason"] == reason and e["type"] == "Warning"]


ev = wait_for("ClusterIPOutOfRange Event on Service c", lambda: warning("c", "ClusterIPOutOfRange"), 10)
check("Cluster IP [IPv4]:%s is not within the configured Service CIDR 10.200.0.0/16" % ip in ev[0]["message"],
      "event message: %s" % ev[0]["message"])
new = create(svc("fresh"))
check(new["spec"]["clusterIP"].startswith("10.200."), "new Services get addresses of the new CIDR")
check(not warning("fresh", "ClusterIPOutOfRange"), "no warning for a Service in range")
