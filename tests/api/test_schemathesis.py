# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""schemathesis (from PyPI, in .output/venv: scripts/deps.sh) against the
server's own OpenAPI v3 documents, every group/version merged into one:
generated and mutated requests for every operation, bounded in time
(SCHEMATHESIS_SECONDS, default 40) and examples per operation
(SCHEMATHESIS_EXAMPLES, default 20). No response may be a 5xx
(not_a_server_error), a 200's body must match the documented schema
(response_schema_conformance), and the server must still be up
afterwards. Skips (77) when schemathesis could not be installed (PyPI
unreachable)."""
import json
import os
import re
import subprocess
import sys

from lib import REPO, Server, check, fail

ST = os.path.join(REPO, ".output/venv/bin/st")
if not os.access(ST, os.X_OK):
    print("SKIP: schemathesis is not installed in .output/venv "
          "(scripts/deps.sh installs it from PyPI, which was unreachable)")
    sys.exit(77)

seconds = int(os.environ.get("SCHEMATHESIS_SECONDS", "40"))
examples = int(os.environ.get("SCHEMATHESIS_EXAMPLES", "20"))


def target(s):
    """Where schemathesis sends its requests and the options that reach it
    (e.g. --header "Authorization: Bearer ..." or --tls-verify CA): the one
    place that knows how the test server is reached."""
    pem = lambda k: os.path.join(s.tmp, k + ".pem")  # written by lib.Server
    return "https://%s:%d" % (s.host, s.port), [
        "--tls-verify", pem("certificate-authority-data"),
        "--request-cert", pem("client-certificate-data"),
        "--request-cert-key", pem("client-key-data")]


def merged_openapi(s):
    """The root /openapi/v3 lists a document per group/version; one
    document with all their paths and schemas."""
    st, root, _ = s.req("GET", "/openapi/v3")
    check(st == 200 and root.get("paths"), "GET /openapi/v3 lists the group/versions")
    doc = None
    for gv, e in sorted(root["paths"].items()):
        st, d, _ = s.req("GET", e["serverRelativeURL"])
        if st != 200 or not isinstance(d, dict):
            fail("GET %s: %s" % (e["serverRelativeURL"], st))
        if doc is None:
            doc = d
            continue
        doc["paths"].update(d["paths"])
        doc["components"]["schemas"].update(d["components"]["schemas"])
    print("ok: %d group/versions, %d paths" % (len(root["paths"]), len(doc["paths"])))
    return doc


# Objects named "st" in "default" that requests can reach by name.
SEEDS = {
    "/api/v1/namespaces/default/configmaps": {"data": {"k": "v"}},
    "/api/v1/namespaces/default/secrets": {"stringData": {"k": "v"}},
    "/api/v1/namespaces/default/serviceaccounts": {},
    "/api/v1/namespaces/default/pods": {"spec": {"containers": [{"name": "c", "image": "i"}]}},
    "/api/v1/namespaces/default/services": {"spec": {"ports": [{"port": 80}]}},
    "/apis/apps/v1/namespaces/default/deployments": {"spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}},
                     "spec": {"containers": [{"name": "c", "image": "i"}]}}}},
}


def seed_objects(s):
    for path, body in SEEDS.items():
        body = dict(body, metadata={"name": "st", "labels": {"a": "b"}})
        st, _, _ = s.req("POST", path, body)
        check(st == 201, "seed object POST %s/st" % path)


def aid_generation(doc):
    """A test-only hint, not part of the served document: most generated
    names do not exist, so offer the seeded "st" in "default" as examples,
    which sends some requests past the lookups into the handlers."""
    for item in doc["paths"].values():
        for p in item.get("parameters", []):
            p["example"] = {"namespace": "default", "name": "st"}[p["name"]]


s = Server()
url, reach = target(s)
doc = merged_openapi(s)
seed_objects(s)
aid_generation(doc)
spec = os.path.join(s.tmp, "openapi.json")
with open(spec, "w") as f:
    json.dump(doc, f)
report = os.path.join(s.tmp, "junit.xml")
cmd = [ST, "run", spec, "--url", url, "--checks", "not_a_server_error,response_schema_conformance",
       "--max-examples", str(examples), "--max-time", str(seconds),
       "--workers", "1", "--request-timeout", "10", "--no-color",
       "--generation-database", "none", "--seed", os.environ.get("SCHEMATHESIS_SEED", "5"),
       "--phases", "examples,coverage,fuzzing", "--suppress-health-check", "all",
       "--report", "junit", "--report-junit-path", report]
cmd += reach
print("run: " + " ".join(cmd), flush=True)
# in the server's temporary dir: schemathesis leaves a .schemathesis/ cache
p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                   cwd=s.tmp, timeout=seconds + 60)
out = p.stdout
print(out)
tested = re.search(r"Tested: (\d+)", out)
cases = re.search(r"Test cases:\s*\n\s*(\d+) generated", out)
print("schemathesis: %s operations tested, %s test cases" %
      (tested.group(1) if tested else "?", cases.group(1) if cases else "?"))
check(s.proc.poll() is None, "berth-server is still running")
check(tested and int(tested.group(1)) > 0, "schemathesis tested the operations")
check(p.returncode == 0, "no 5xx from any generated request (schemathesis exit %d)"
      % p.returncode)
