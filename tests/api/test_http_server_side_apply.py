# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Raw-HTTP checks of server-side apply: 409 Conflict Status with one
FieldManagerConflict cause per field, force=true, shared ownership, Update
ownership from other writes, pruning, and YAML bodies (apply-patch+yaml,
application/yaml) incl. malformed ones."""
from lib import Server, check

s = Server()
NS = "/api/v1/namespaces/default"
APPLY = "application/apply-patch+yaml"


def apply(name, body, manager, force=False, kind="configmaps", base=NS):
    q = "?fieldManager=" + manager + ("&force=true" if force else "")
    return s.req("PATCH", "%s/%s/%s%s" % (base, kind, name, q), body, APPLY)


def cm_yaml(name, **data):
    lines = ["apiVersion: v1", "kind: ConfigMap", "metadata:", "  name: " + name, "data:"]
    lines += ["  %s: \"%s\"" % kv for kv in data.items()]
    return "\n".join(lines) + "\n"


def owners(obj):
    """{manager/operation: set of top-level data keys owned}"""
    out = {}
    for e in obj["metadata"].get("managedFields", []):
        keys = {k[2:] for k in e["fieldsV1"].get("f:data", {})}
        out[e["manager"] + "/" + e["operation"]] = keys
    return out


def get(name):
    return s.req("GET", NS + "/configmaps/" + name)[1]


# --- YAML apply creates; a repeat changes nothing ---
st, obj, _ = apply("c1", cm_yaml("c1", x="1", y="1", w="1"), "alice")
check(st == 201 and obj["data"] == {"x": "1", "y": "1", "w": "1"},
      "apply of a YAML body creates (201)")
check(owners(obj) == {"alice/Apply": {"x", "y", "w"}}, "alice owns what she applied")
rv = obj["metadata"]["resourceVersion"]
st, obj, _ = apply("c1", cm_yaml("c1", x="1", y="1", w="1"), "alice")
check(st == 200 and obj["metadata"]["resourceVersion"] == rv, "a repeated apply is a no-op")

# --- a conflicting apply: 409 with one cause per field, nothing stored ---
st, obj, _ = apply("c1", cm_yaml("c1", x="2", y="2", w="1"), "bob")
check(st == 409 and obj.get("kind") == "Status" and obj.get("reason") == "Conflict",
      "conflicting apply: 409 Status, reason Conflict")
causes = sorted(obj["details"]["causes"], key=lambda c: c["field"])
check([c["field"] for c in causes] == [".data.x", ".data.y"]
      and all(c["reason"] == "FieldManagerConflict" for c in causes)
      and all(c["message"] == 'conflict with "alice"' for c in causes),
      "one FieldManagerConflict cause per changed field, naming the owner")
check('conflict with "alice": .data.x' in obj["message"]
      and obj["message"].startswith("Apply failed with 2 conflicts"),
      "message lists manager and field")
check(obj["details"].get("name") == "c1", "details name the object")
check(get("c1")["metadata"]["resourceVersion"] == rv, "a conflict stores nothing")
st, obj, _ = s.req("PATCH", NS + "/configmaps/c1?fieldManager=bob&dryRun=All",
                   cm_yaml("c1", x="2"), APPLY)
check(st == 409, "dry-run apply conflicts too")

# --- same value: shared ownership, no conflict ---
st, obj, _ = apply("c1", cm_yaml("c1", w="1"), "bob")
check(st == 200 and owners(obj) == {"alice/Apply": {"x", "y", "w"}, "bob/Apply": {"w"}},
      "applying an owned field's current value co-owns it")

# --- force=true: bob takes x, alice loses it ---
st, obj, _ = apply("c1", cm_yaml("c1", w="1", x="9"), "bob", force=True)
check(st == 200 and obj["data"]["x"] == "9", "force=true applies over the conflict")
check(owners(obj) == {"alice/Apply": {"y", "w"}, "bob/Apply": {"w", "x"}},
      "force moves ownership to the applier")

# --- pruning: what alice stops applying goes unless someone else owns it ---
st, obj, _ = apply("c1", cm_yaml("c1", y="1"), "alice")
check(st == 200 and obj["data"] == {"x": "9", "y": "1", "w": "1"},
      "a dropped field that another manager owns stays")
st, obj, _ = apply("c1", cm_yaml("c1"), "alice")
check(st == 200 and obj["data"] == {"x": "9", "w": "1"}, "a dropped field nobody owns is removed")

# --- non-apply writes record Update ownership; a later apply conflicts ---
st, obj, _ = s.req("PATCH", NS + "/configmaps/c1?fieldManager=kubectl-edit",
                   {"data": {"z": "1"}}, "application/merge-patch+json")
check(st == 200 and owners(obj).get("kubectl-edit/Update") == {"z"},
      "a merge patch records an Update entry for what it changed")
st, obj, _ = apply("c1", cm_yaml("c1", z="2"), "alice")
check(st == 409 and obj["details"]["causes"][0]["field"] == ".data.z"
      and obj["details"]["causes"][0]["message"] == 'conflict with "kubectl-edit" using v1',
      "apply over an Update-owned field conflicts")
st, obj, _ = s.req("PATCH", NS + "/configmaps/c1", {"data": {"x": "10"}},
                   "application/merge-patch+json", {"User-Agent": "tool/1.0 (x)"})
check(st == 200 and owners(obj).get("tool/Update") == {"x"}
      and owners(obj)["bob/Apply"] == {"w"},
      "without fieldManager the User-Agent names the manager; the old owner loses the field")
cur = get("c1")
del cur["metadata"]["managedFields"]
cur["data"]["w"] = "2"
st, obj, _ = s.req("PUT", NS + "/configmaps/c1?fieldManager=put", cur)
check(st == 200 and owners(obj).get("put/Update") == {"w"} and "kubectl-edit/Update" in owners(obj),
      "a PUT without managedFields keeps them and records its change")
st, obj, _ = s.req("POST", NS + "/configmaps?fieldManager=maker",
                   {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c2"},
                    "data": {"a": "1"}})
check(st == 201 and owners(obj) == {"maker/Update": {"a"}}, "a create records its manager")

# --- list maps: conflicts name the element by key ---
DEP = "/apis/apps/v1/namespaces/default"
dep = """apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec:
  replicas: 1
  selector: {matchLabels: {app: d}}
  template:
    metadata: {labels: {app: d}}
    spec:
      containers:
      - {name: a, image: "img:%s"}
"""
st, _, _ = apply("d", dep % "1", "alice", kind="deployments", base=DEP)
check(st == 201, "deployment applied")
st, obj, _ = apply("d", dep % "2", "bob", kind="deployments", base=DEP)
check(st == 409 and [c["field"] for c in obj["details"]["causes"]]
      == ['.spec.template.spec.containers[name="a"].image'],
      "a list-map conflict names the element by its key")

# --- YAML bodies: application/yaml create, malformed -> 400 ---
st, obj, _ = s.req("POST", NS + "/configmaps",
                   "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: y1\ndata:\n  k: v\n",
                   "application/yaml")
check(st == 201 and obj["data"] == {"k": "v"}, "application/yaml create")
bad = {
    "unclosed flow": "apiVersion: v1\nkind: ConfigMap\nmetadata: [\n",
    "two documents": cm_yaml("c1") + "---\n" + cm_yaml("c1"),
    "tab indentation": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: c1\n",
    "a scalar": "just a string\n",
    "alias bomb": "a: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                  "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                  "e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\nf: [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\n",
    "too deep": "a: " + "[" * 200 + "]" * 200 + "\n",
}
for what, body in bad.items():
    st, obj, _ = apply("c1", body, "alice")
    check(st == 400 and obj.get("kind") == "Status" and obj.get("code") == 400,
          "malformed apply body (%s): 400 Status" % what)
    st, obj, _ = s.req("POST", NS + "/configmaps", body, "application/yaml")
    check(st == 400 and obj.get("kind") == "Status", "malformed YAML create (%s): 400" % what)
st, obj, _ = s.req("GET", NS + "/configmaps/c1")
check(st == 200 and obj["data"]["w"] == "2", "malformed bodies changed nothing")
st, obj, _ = s.req("PATCH", NS + "/configmaps/c1", cm_yaml("c1"), APPLY)
check(st == 400, "apply without fieldManager: 400")
print("PASS")
