#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""TLS bootstrap: an agent given only a bootstrap token (a
--bootstrap-kubeconfig) makes a key, has its CSR auto-approved, writes
its --kubeconfig (0600, certificate and key in one 0600 PEM) and joins as
system:node:NAME: its Node gets Ready and a pod that reads a Secret runs
(the Node authorizer lets it read that Secret). A restart with a valid
certificate asks for no new one; a bootstrap token that does not exist
keeps the agent out with a clear error."""
import base64
import json
import os
import stat
import time

from kubelet_lib import IMAGE, check, pod_node, wait_for

NAME = "kt-boot"
n, args = pod_node(NAME, start=False)


def b64(s):
    return base64.b64encode(s.encode()).decode()


n.kubectl("apply", "-f", "-", input=json.dumps({
    "apiVersion": "v1", "kind": "Secret", "type": "bootstrap.kubernetes.io/token",
    "metadata": {"name": "bootstrap-token-k7boot", "namespace": "kube-system"},
    "data": {"token-id": b64("k7boot"), "token-secret": b64("0123456789abcdef"),
             "usage-bootstrap-authentication": b64("true")}}))


def field(name):
    with open(n.kubeconfig) as f:
        for line in f:
            if line.strip().startswith(name + ":"):
                return line.split(":", 1)[1].strip()


def bootstrap_kubeconfig(path, token):
    with open(path, "w") as f:
        f.write("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n"
                "    server: %s\n    certificate-authority-data: %s\n"
                "users:\n- name: b\n  user:\n    token: %s\n"
                "contexts:\n- name: b\n  context:\n    cluster: c\n    user: b\n"
                "current-context: b\n" % (field("server"), field("certificate-authority-data"),
                                          token))


BOOT = os.path.join(n.tmp, "bootstrap.kubeconfig")
BAD = os.path.join(n.tmp, "bad.kubeconfig")
TARGET = os.path.join(n.tmp, "node", "kubeconfig")
os.makedirs(os.path.dirname(TARGET))
bootstrap_kubeconfig(BOOT, "k7boot.0123456789abcdef")
bootstrap_kubeconfig(BAD, "nosuch.0123456789abcdef")

# a token the server does not know: the agent stops with the reason
a = n.start_agent(*args, "--kubeconfig", TARGET, "--bootstrap-kubeconfig", BAD)
check(a.wait(timeout=60) != 0, "an unknown bootstrap token keeps the agent out")
with open(os.path.join(n.tmp, "agent.log")) as f:
    log = f.read()
check("node certificate" in log and "Unauthorized" in log,
      "the agent says why: %s" % log.strip().splitlines()[-1:])
check(not os.path.exists(TARGET), "no kubeconfig written")

n.start_agent(*args, "--kubeconfig", TARGET, "--bootstrap-kubeconfig", BOOT)


def ready():
    no = n.get("node", NAME)
    return no and any(c["type"] == "Ready" and c["status"] == "True"
                      for c in no["status"].get("conditions", []))


wait_for("node registers Ready with its own certificate", ready, 60)
for p in (TARGET, TARGET + ".pem"):
    st = os.stat(p)
    check(stat.S_IMODE(st.st_mode) == 0o600, "%s is 0600" % os.path.basename(p))
who = json.loads(n.nsh("kubectl", "--kubeconfig", TARGET, "auth", "whoami",
                       "-o", "json").stdout)["status"]["userInfo"]
check(who["username"] == "system:node:" + NAME and "system:nodes" in who["groups"],
      "the agent's kubeconfig is system:node:%s: %s" % (NAME, who))
csrs = n.get("csr")["items"]
check(len(csrs) == 1 and csrs[0]["spec"]["username"] == "system:bootstrap:k7boot" and
      csrs[0]["status"].get("certificate"), "one CSR, from the bootstrap token, issued")

n.kubectl("create", "secret", "generic", "app-secret", "--from-literal=word=hush")
n.kubectl("apply", "-f", "-", input=json.dumps({
    "apiVersion": "v1", "kind": "Pod", "metadata": {"name": "reader"},
    "spec": {"terminationGracePeriodSeconds": 1, "containers": [{
        "name": "main", "image": IMAGE,
        "command": ["sh", "-c", "echo WORD=$WORD; sleep 3600"],
        "env": [{"name": "WORD", "valueFrom": {"secretKeyRef": {
            "name": "app-secret", "key": "word"}}}]}]}}))
wait_for("the pod with a secret runs",
         lambda: (n.get("pod", "reader") or {}).get("status", {}).get("phase") == "Running", 90)
wait_for("its log shows the secret",
         lambda: "WORD=hush" in n.kubectl("logs", "reader", check_rc=False).stdout, 30)

# restart: the certificate is valid, no new CSR
n.stop_agent()
n.start_agent(*args, "--kubeconfig", TARGET, "--bootstrap-kubeconfig", BOOT)
time.sleep(3)
wait_for("node Ready again", ready, 60)
check(len(n.get("csr")["items"]) == 1, "restart with a valid certificate: no new CSR")
with open(os.path.join(n.tmp, "agent.log")) as f:
    denied = [l for l in f.read().splitlines()[1:] if "forbidden" in l.lower()]
check(not denied, "as system:node the agent is never refused: %s" % denied[:5])
print("ok")
