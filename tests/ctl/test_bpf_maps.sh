#!/bin/bash
# berthctl bpf TABLE -o json for every table, and the pinned maps' BTF:
# `bpftool map dump pinned /sys/fs/bpf/berth/<node>/services` names the
# fields. The maps are created and filled by the BPF test loader
# (.output/tests/route-loader) under a unique node name, removed on exit.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
CTL=${BERTHCTL:-$repo/.output/bin/berthctl}
LOADER=$repo/.output/tests/route-loader
[ "$(id -u)" = 0 ] || { echo "SKIP: needs root (bpffs)"; exit 77; }
command -v bpftool >/dev/null || { echo "SKIP: bpftool is not installed"; exit 77; }
if [ ! -x "$LOADER" ] || [ ! -x "$CTL" ]; then echo "FAIL: $LOADER or $CTL missing (make builds them)"; exit 1; fi

NODE=ctl-bpf-$$-$RANDOM
PIN=/sys/fs/bpf/berth/$NODE
cleanup() {
	local rc=$?
	"$LOADER" "$PIN" unpin >/dev/null 2>&1 || true
	rm -rf "$PIN"
	exit "$rc"
}
trap cleanup EXIT
fail() { echo "FAIL: $*" >&2; exit 1; }
ok() { echo "ok: $*"; }

"$LOADER" "$PIN" open >/dev/null
"$LOADER" "$PIN" service 10.96.0.10 80 tcp 10.0.1.2:8080 10.0.1.3:8080 >/dev/null
"$LOADER" "$PIN" endpoint 10.0.1.2 lo 02:00:00:00:00:01 >/dev/null
"$LOADER" "$PIN" ipcache 10.0.2.0/24 192.168.1.2 pod >/dev/null
"$LOADER" "$PIN" node 192.168.1.1 lo lo >/dev/null
# a service conntrack entry 10.0.1.9:40000 -> 10.96.0.10:80 TCP (dir 1),
# backend 2, rev_nat 1; and an affinity entry for that client
bpftool map update pinned "$PIN/ct" \
	key hex 0a 00 01 09 0a 60 00 0a 9c 40 00 50 06 01 00 00 \
	value hex 02 00 00 00 01 00 00 00 ff ff ff 7f 00 00 00 00
bpftool map update pinned "$PIN/affinity" \
	key hex 0a 00 01 09 01 00 00 00 \
	value hex 00 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00

# BTF: bpftool prints field names of keys and values
dump=$(bpftool map dump pinned "$PIN/services")
for f in '"vip"' '"dport"' '"proto"' '"slot"' '"backend_id"' '"rev_nat_id"' '"count"'; do
	grep -q "$f" <<<"$dump" || fail "bpftool dump of services has no field $f: $dump"
done
ok "bpftool map dump pinned $PIN/services names the fields"
dump=$(bpftool -j map dump pinned "$PIN/ct")
python3 - "$dump" <<'PY' || fail "ct dump without BTF field names"
import json, sys
e = json.loads(sys.argv[1])[0]["formatted"]
assert set(e["key"]) >= {"saddr", "daddr", "sport", "dport", "proto", "dir"}, e
assert set(e["value"]) >= {"backend_id", "rev_nat_id", "lifetime", "flags"}, e
PY
ok "bpftool -j map dump of ct: key and value fields by name"

# every table's -o json is JSON with what the loader put there
for t in services backends rev_nat affinity ct nat endpoints ipcache node metrics; do
	"$CTL" bpf "$t" --node "$NODE" -o json >"/tmp/$NODE.$t.json" || fail "berthctl bpf $t -o json: exit $?"
	"$CTL" bpf "$t" --node "$NODE" >/dev/null || fail "berthctl bpf $t: exit $?"
done
python3 - "/tmp/$NODE" <<'PY' || fail "berthctl bpf -o json contents"
import json, sys
p = sys.argv[1]
j = {t: json.load(open("%s.%s.json" % (p, t))) for t in
     "services backends rev_nat affinity ct nat endpoints ipcache node metrics".split()}
for t in j:
    import os; os.unlink("%s.%s.json" % (p, t))
svc = j["services"]
assert svc[0] == {"frontend": "10.96.0.10:80/TCP", "slot": 0, "count": 2, "flags": 0,
                  "rev_nat_id": svc[0]["rev_nat_id"], "affinity_timeout": 0}, svc
assert sorted(s["backend_id"] for s in svc[1:]) == sorted(b["id"] for b in j["backends"]), j
assert sorted(b["address"] for b in j["backends"]) == ["10.0.1.2:8080", "10.0.1.3:8080"], j
assert j["rev_nat"] == [{"id": svc[0]["rev_nat_id"], "frontend": "10.96.0.10:80"}], j["rev_nat"]
assert j["ct"][0]["src"] == "10.0.1.9:40000" and j["ct"][0]["dst"] == "10.96.0.10:80", j["ct"]
assert j["ct"][0]["dir"] == "service" and j["ct"][0]["backend_id"] == 2, j["ct"]
assert j["affinity"][0]["client"] == "10.0.1.9" and j["affinity"][0]["backend_id"] == 2, j
assert j["nat"] == [] and j["metrics"] == [], j
assert j["endpoints"][0]["ip"] == "10.0.1.2" and j["endpoints"][0]["ifname"] == "lo", j
assert j["ipcache"] == [{"cidr": "10.0.2.0/24", "tunnel": "192.168.1.2", "identity": 0,
                         "kind": "pods"}], j["ipcache"]
assert j["node"]["node_ip"] == "192.168.1.1", j["node"]
print("ok: berthctl bpf -o json: all 10 tables parse and hold the loader's entries")
PY

# errors: unknown table and a node without pins
set +e
"$CTL" bpf nosuch --node "$NODE" >/dev/null 2>&1; rc=$?
[ "$rc" = 2 ] || fail "unknown table: exit $rc, want 2"
err=$("$CTL" bpf services --node "$NODE-absent" 2>&1 >/dev/null); rc=$?
set -e
[ "$rc" = 1 ] || fail "missing pins: exit $rc, want 1"
grep -q "No such file" <<<"$err" || fail "missing pins: '$err'"
ok "errors: unknown table exits 2, missing pins 1 ($err)"
