# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""ServiceAccount controller: a default account in every namespace, back
after deletion, none made in a terminating namespace."""
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
st, _, _ = s.req("DELETE", "/api/v1/namespaces/team")
wait_for("namespace gone with its account",
         lambda: s.req("GET", "/api/v1/namespaces/team")[0] == 404, 20)
