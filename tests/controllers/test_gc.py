# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Garbage collector: background, foreground (blockOwnerDeletion holds the
owner) and orphan propagation over hand-made owner chains, dangling owner
references, dry-run deletes that write nothing."""
from kwok import Server, check, wait_for

s = Server("--controllers", "garbagecollector")
CM = "/api/v1/namespaces/default/configmaps"


def cm(name, owners=(), finalizers=()):
    md = {"name": name}
    if owners:
        md["ownerReferences"] = [dict(o) for o in owners]
    if finalizers:
        md["finalizers"] = list(finalizers)
    st, out, _ = s.req("POST", CM, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": md})
    check(st == 201, "configmap %s created (%d %s)" % (name, st, out))
    return out


def ref(obj, block=False):
    r = {"apiVersion": "v1", "kind": "ConfigMap", "name": obj["metadata"]["name"],
         "uid": obj["metadata"]["uid"]}
    if block:
        r["blockOwnerDeletion"] = True
    return r


def get(name):
    st, out, _ = s.req("GET", CM + "/" + name)
    return out if st == 200 else None


def gone(name):
    return get(name) is None


def delete(name, policy=None, dry=False):
    body = {"kind": "DeleteOptions", "apiVersion": "v1"}
    if policy:
        body["propagationPolicy"] = policy
    path = CM + "/" + name + ("?dryRun=All" if dry else "")
    st, out, _ = s.req("DELETE", path, body)
    check(st in (200, 202), "delete %s (%s): %d %s" % (name, policy, st, out))
    return out


# ---- background: the owner goes at once, the dependents (a chain) after ----
o = cm("bg-owner")
d1 = cm("bg-d1", [ref(o)])
cm("bg-d1a", [ref(d1)])
cm("bg-d2", [ref(o)])
out = delete("bg-owner", "Background")
check(gone("bg-owner"), "background: the owner is gone at once")
wait_for("background: dependents and their dependents collected",
         lambda: all(gone(n) for n in ("bg-d1", "bg-d1a", "bg-d2")), 10)
# no policy means Background too (kubectl's default)
o = cm("def-owner")
cm("def-d", [ref(o)])
delete("def-owner")
wait_for("default policy: dependent collected", lambda: gone("def-d"), 10)

# ---- dangling references ----
cm("dangle-uid", [{"apiVersion": "v1", "kind": "ConfigMap", "name": "nobody",
                   "uid": "00000000-0000-0000-0000-000000000001"}])
real = cm("real-owner")
cm("dangle-other-uid", [{"apiVersion": "v1", "kind": "ConfigMap", "name": "real-owner",
                         "uid": "00000000-0000-0000-0000-000000000002"}])
cm("half-dangling", [ref(real), {"apiVersion": "v1", "kind": "ConfigMap", "name": "ghost",
                                 "uid": "00000000-0000-0000-0000-000000000003"}])
wait_for("an owner reference to a uid that does not exist is collected",
         lambda: gone("dangle-uid"), 10)
wait_for("an owner reference to a name that now has another uid is collected",
         lambda: gone("dangle-other-uid"), 10)
wait_for("a dependent with a live owner stays, its dangling reference removed",
         lambda: [r["name"] for r in (get("half-dangling") or {}).get("metadata", {})
                  .get("ownerReferences", [])] == ["real-owner"], 10)
check(get("real-owner") is not None, "the live owner is untouched")

# ---- orphan ----
o = cm("or-owner")
cm("or-d1", [ref(o)])
cm("or-d2", [ref(o), ref(real)])
out = delete("or-owner", "Orphan")
check("orphan" in out["metadata"].get("finalizers", []) and out["metadata"].get("deletionTimestamp"),
      "orphan: the owner gets the orphan finalizer and a deletionTimestamp")
wait_for("orphan: the owner goes", lambda: gone("or-owner"), 10)
d = get("or-d1")
check(d is not None and not d["metadata"].get("ownerReferences"),
      "orphan: the dependent stays without its ownerReferences")
d = get("or-d2")
check(d is not None and [r["name"] for r in d["metadata"]["ownerReferences"]] == ["real-owner"],
      "orphan: only the reference to the deleted owner is removed")

# ---- foreground: the owner waits for its blocking dependents ----
o = cm("fg-owner")
fd1 = cm("fg-d1", [ref(o, block=True)], finalizers=["test.berth.dev/hold"])
cm("fg-d1a", [ref(fd1, block=True)])
cm("fg-d2", [ref(o)])
# dry run writes nothing
out = delete("fg-owner", "Foreground", dry=True)
check("foregroundDeletion" in out["metadata"].get("finalizers", []), "dry-run answers as a real delete")
cur = get("fg-owner")
check(not cur["metadata"].get("deletionTimestamp") and not cur["metadata"].get("finalizers"),
      "dry-run foreground delete changed nothing")
out = delete("fg-owner", "Foreground")
check(out["metadata"].get("finalizers") == ["foregroundDeletion"] and out["metadata"].get("deletionTimestamp"),
      "foreground: the owner gets foregroundDeletion and a deletionTimestamp")
wait_for("foreground: the blocking dependent is being deleted",
         lambda: (get("fg-d1") or {}).get("metadata", {}).get("deletionTimestamp"), 10)
wait_for("foreground: the non-blocking dependent and the grandchild are deleted",
         lambda: gone("fg-d2") and gone("fg-d1a"), 10)
cur = get("fg-owner")
check(cur is not None and cur["metadata"].get("deletionTimestamp"),
      "foreground: the owner stays while a blocking dependent exists")
st, _, _ = s.req("PATCH", CM + "/fg-d1", {"metadata": {"finalizers": None}},
                 "application/merge-patch+json")
check(st == 200, "the test's finalizer removed from the dependent")
wait_for("foreground: the dependent, then the owner, go", lambda: gone("fg-d1") and gone("fg-owner"), 10)

# ---- a second delete changes the policy ----
o = cm("re-owner", finalizers=["test.berth.dev/hold"])
cm("re-d", [ref(o)])
out = delete("re-owner", "Orphan")
check(sorted(out["metadata"]["finalizers"]) == ["orphan", "test.berth.dev/hold"], "orphan finalizer added")
wait_for("orphan finalizer removed once the dependent is orphaned",
         lambda: get("re-owner")["metadata"]["finalizers"] == ["test.berth.dev/hold"]
         and not get("re-d")["metadata"].get("ownerReferences"), 10)

# without a garbage collector the finalizers stay as each delete sets them
s2 = Server("--controllers", "none")
P = "/api/v1/namespaces/default/configmaps/"
s2.req("POST", P[:-1], {"metadata": {"name": "x", "finalizers": ["test.berth.dev/hold"]}})
fins = []
for policy, want in (("Orphan", ["test.berth.dev/hold", "orphan"]),
                     ("Foreground", ["test.berth.dev/hold", "foregroundDeletion"]),
                     ("Background", ["test.berth.dev/hold"])):
    st, out, _ = s2.req("DELETE", P + "x", {"propagationPolicy": policy})
    check(st == 200 and out["metadata"].get("finalizers") == want,
          "a later %s delete sets finalizers %s (%s)" % (policy, want, out["metadata"].get("finalizers")))
s2.req("POST", P[:-1], {"metadata": {"name": "y"}})
st, out, _ = s2.req("DELETE", P + "y", {"propagationPolicy": "Foreground"})
st, out, _ = s2.req("DELETE", P + "y", {"propagationPolicy": "Background"})
check(s2.req("GET", P + "y")[0] == 404, "Background after Foreground, no other finalizer: deleted")
st, out, _ = s2.req("DELETE", P + "x", {"propagationPolicy": "Sideways"})
check(st == 400, "an unknown propagationPolicy is 400")
st, out, _ = s2.req("DELETE", P + "x", {"orphanDependents": True})
check(out["metadata"].get("finalizers") == ["test.berth.dev/hold", "orphan"], "orphanDependents: true means Orphan")
s2.stop()
print("PASS")
