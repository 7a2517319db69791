#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""A pod reaches a server outside the cluster (the external netns on the
underlay) with the node's address as its source (--masquerade, the
default): the outside has no route back to pod addresses. Traffic between
pods keeps the pods' addresses (test_mn_crossnode). And the reverse: a
client outside given a route to the pod CIDR through the node connects
straight to a pod's address; the pod's replies keep that address (not
masqueraded), and the pod sees the client's."""
import os

import multinode as M
import cluster as C

# the client's address, as the server saw it, is the whole answer
SERVER = r'''
import http.server
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = self.client_address[0].encode()
        self.send_response(200); self.send_header("Content-Length", str(len(b)))
        self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
http.server.HTTPServer(("0.0.0.0", 8081), H).serve_forever()
'''

c = M.cluster(nodes=1)
n1 = c.nodes[0]
pods = M.start_pods(c, 1)
me = pods["web-1-0"]
c.daemon(C.nsexec(c.ext, "python3", "-c", SERVER), os.path.join(c.state, "ext-http.log"))
url = "http://%s:8081/" % C.EXT_IP
M.wait("the external server listens",
       lambda: c.ext_sh("curl", "-s", "-m", "1", url, check=False).returncode == 0)
got = [M.curl(c, me, url) for _ in range(3)]
M.check(got == [n1.ip] * 3, "pod %s -> %s: the outside sees the node IP %s (%s)" % (
    me["status"]["podIP"], url, n1.ip, got))
if M.iptables():  # and it is berth's rule that did it
    r = n1.sh("iptables-nft", "-w", "-t", "nat", "-L", "BERTH-POD-MASQ", "-v", "-x", "-n",
              check=False)
    pkts = [int(ln.split()[0]) for ln in r.stdout.splitlines() if "MASQUERADE" in ln]
    M.check(pkts and pkts[0] > 0, "BERTH-POD-MASQ masqueraded them (%s)" % r.stdout.strip())

# outside -> pod IP, routed through the node: replies must not be SNATed
cidr = c.get("node", n1.name)["spec"]["podCIDR"]
c.ext_sh("ip", "route", "replace", cidr, "via", n1.ip)
pod_url = "http://%s:8080/cgi-bin/ip" % me["status"]["podIP"]
got = [M.client_ip(M.curl(c, "ext", pod_url)) for _ in range(3)]
M.check(got == [C.EXT_IP] * 3, "outside %s -> pod %s: answered from the pod's address, "
        "client address kept (%s)" % (C.EXT_IP, pod_url, got))
# and the pod's own connections out are still masqueraded meanwhile
got = M.curl(c, me, url)
M.check(got == n1.ip, "pod -> outside still leaves as the node IP (%s)" % got)
M.log("PASS")
