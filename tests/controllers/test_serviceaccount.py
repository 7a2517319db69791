# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""ServiceAccount controller: a default account in every namespace, back
after deletion, none made in a terminating namespace; and the ConfigMap
kube-root-ca.crt holding the CA pods verify the server with, put back when
deleted or changed."""
import os

from kwok import Server, check, wait_for

s = Server()
for ns in ("default", "kube-system"):
    wait_for("default account in " + ns,
             lambda: s.req("GET", "/api/v1/namespaces/%s/serviceaccounts/default" % ns)[0] == 200)
st, _, _ = s.req("POST", "/api/v1/namespaces", {"metadata": {"name": "team"}})
check(st == 201, "namespace created")
wait_for("default account in a new namespace",
         lambda: s.req("GET", "/api/v1/namespaces/team/serviceaccounts/default")[0] == 200, 5)
st, _, _ = s.req("DELETE", "/api/v1/namespaces/team/serviceaccounts/default")
check(st == 200, "default account deleted")
wait_for("default account made again",
         lambda: s.req("GET", "/api/v1/namespaces/team/serviceaccounts/default")[0] == 200, 5)

with open(os.path.join(s.tmp, "data", "ca.crt")) as f:
    CA = f.read()
CM = "/api/v1/namespaces/team/configmaps/kube-root-ca.crt"


def ca_published():
    st, cm, _ = s.req("GET", CM)
    return st == 200 and (cm.get("data") or {}).get("ca.crt") == CA


wait_for("kube-root-ca.crt in the new namespace holds the server's CA", ca_published, 5)
st, _, _ = s.req("DELETE", CM)
check(st == 200, "kube-root-ca.crt deleted")
wait_for("kube-root-ca.crt made again", ca_published, 5)
st, _, _ = s.req("PATCH", CM, {"data": {"ca.crt": "not a CA"}}, "application/merge-patch+json")
check(st == 200, "kube-root-ca.crt changed")
wait_for("kube-root-ca.crt put back", ca_published, 5)
st, _, _ = s.req("DELETE", "/api/v1/namespaces/team")
wait_for("namespace gone with its account",
         lambda: s.req("GET", "/api/v1/namespaces/team")[0] == 404, 20)
