#!/usr/bin/python3
"""vmtest's helpers (standard library only), called by vmtest/run:

  kver VMLINUZ                 the kernel release a bzImage announces
  initramfs VER DIR OUT        the fallback's busybox initramfs for kernel VER
  report [--update-baseline] --baseline FILE --out FILE ROW-DIR...
                               the results table and results.json; exit 1
                               when any row failed
"""
import argparse
import json
import lzma
import gzip
import os
import re
import shutil
import subprocess
import sys
import tempfile

GROWTH_LIMIT = 0.20  # verified_insns may grow 20% over the baseline


# ---- kver -------------------------------------------------------------------

def kernel_release(path):
    """The release string in a bzImage's setup header (boot protocol 2.00+)."""
    with open(path, "rb") as f:
        head = f.read(0x10000)
    if head[0x202:0x206] != b"HdrS":
        raise ValueError(f"{path}: not a bzImage (no HdrS)")
    off = int.from_bytes(head[0x20E:0x210], "little") + 0x200
    f_ver = head[off:off + 256].split(b"\0")[0].decode(errors="replace")
    return f_ver.split()[0]


# ---- initramfs ----------------------------------------------------------------

# What mounting the host's root over virtio-9p needs; the ones built into a
# kernel are simply not found as files and skipped.
INITRAMFS_MODULES = ["virtio_pci", "9pnet_virtio", "9p", "overlay"]

INIT = r"""#!/bin/busybox sh
# vmtest fallback init: the host's / read-only over 9p, results read-write
# over a second share, tmpfs for what must be written, then guest.sh in a
# chroot and power off. Written by vmtest/vmtest.py.
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
echo "vmtest-init: $(cat /proc/uptime | cut -d' ' -f1)s, kernel $(uname -r)"
for m in $(cat /modules.order); do
	insmod "/modules/$m" || echo "vmtest-init: insmod $m failed"
done
out=
repo=
for a in $(cat /proc/cmdline); do
	case $a in
	vmtest.out=*) out=${a#vmtest.out=} ;;
	vmtest.repo=*) repo=${a#vmtest.repo=} ;;
	esac
done
halt() { echo "vmtest-init: $*"; sync; poweroff -f; sleep 5; }
[ -n "$out" ] || halt "no vmtest.out= on the command line"
r=/newroot
mkdir -p $r
opts=trans=virtio,version=9p2000.L,msize=512000
# The root is read-only and stays put during a run: cache it (python's
# start-up alone stats hundreds of files; uncached 9p doubles the e2e time).
mount -t 9p -o ro,cache=loose,$opts root $r || halt "mount of the host root over 9p failed"
mkdir -p /results
mount -t 9p -o rw,$opts results /results || halt "mount of the results share failed"
for d in tmp run var/tmp var/log; do
	mount -t tmpfs -o mode=1777 tmpfs $r/$d || echo "vmtest-init: tmpfs on /$d failed"
done
# After the tmpfs: the checkout and the results may live under /tmp (CI's
# clone does), so they come as shares of their own, mounted on top.
if [ -n "$repo" ]; then
	mkdir -p "$r$repo" 2>/dev/null
	mount -t 9p -o ro,cache=loose,$opts repo "$r$repo" || halt "mount of the checkout $repo over 9p failed"
fi
mkdir -p "$r$out" 2>/dev/null
mount -o bind /results "$r$out" || halt "bind of the results share at $out failed"
mount -t proc proc $r/proc
mount -t sysfs sys $r/sys
mount -t devtmpfs dev $r/dev
mkdir -p $r/dev/pts $r/dev/shm 2>/dev/null
mount -t devpts devpts $r/dev/pts
mount -t tmpfs tmpfs $r/dev/shm
echo "vmtest-init: root mounted, running $(cat "$r$out/cmd")"
chroot $r /bin/bash "$out/cmd" </dev/console >/dev/console 2>&1
echo $? >/results/guest.rc
umount "$r$out" /results
halt "guest done"
"""


def read_modules_dep(moddir):
    deps = {}
    with open(os.path.join(moddir, "modules.dep")) as f:
        for line in f:
            mod, _, rest = line.partition(":")
            deps[mod] = rest.split()
    return deps


def module_name(path):
    base = os.path.basename(path)
    return re.sub(r"\.ko(\.(xz|gz|zst))?$", "", base).replace("-", "_")


def modules_in_order(moddir, wanted):
    """Files (relative to moddir) of the wanted modules and of everything
    they depend on, each after its dependencies."""
    deps = read_modules_dep(moddir)
    by_name = {module_name(p): p for p in deps}
    order, seen = [], set()

    def visit(path):
        if path in seen:
            return
        seen.add(path)
        for d in deps.get(path, []):
            visit(d)
        order.append(path)

    for name in wanted:
        p = by_name.get(name.replace("-", "_"))
        if p:
            visit(p)
    return order


def read_module(path):
    if path.endswith(".xz"):
        return lzma.open(path).read()
    if path.endswith(".gz"):
        return gzip.open(path).read()
    if path.endswith(".zst"):
        return subprocess.run(["zstd", "-dc", path], check=True,
                              stdout=subprocess.PIPE).stdout
    with open(path, "rb") as f:
        return f.read()


def build_initramfs(ver, moddir, out):
    busybox = shutil.which("busybox", path="/bin:/usr/bin")
    if not busybox:
        sys.exit("vmtest: busybox not found (busybox-static)")
    if b"statically linked" not in subprocess.run(
            ["file", "-L", busybox], stdout=subprocess.PIPE).stdout and \
            os.path.exists("/usr/bin/file"):
        sys.exit(f"vmtest: {busybox} is not static (install busybox-static)")
    stage = tempfile.mkdtemp(prefix="vmtest-initramfs.")
    try:
        for d in ("bin", "proc", "sys", "dev", "modules", "newroot"):
            os.makedirs(os.path.join(stage, d))
        shutil.copy(busybox, os.path.join(stage, "bin/busybox"))
        init = os.path.join(stage, "init")
        with open(init, "w") as f:
            f.write(INIT)
        os.chmod(init, 0o755)
        names = []
        if moddir and os.path.exists(os.path.join(moddir, "modules.dep")):
            for rel in modules_in_order(moddir, INITRAMFS_MODULES):
                name = module_name(rel) + ".ko"
                with open(os.path.join(stage, "modules", name), "wb") as f:
                    f.write(read_module(os.path.join(moddir, rel)))
                names.append(name)
        with open(os.path.join(stage, "modules.order"), "w") as f:
            f.write("".join(n + "\n" for n in names))
        files = subprocess.run(["find", "."], cwd=stage, check=True,
                               stdout=subprocess.PIPE).stdout
        tmp = out + ".tmp"
        with open(tmp, "wb") as f:
            cpio = subprocess.run(
                ["cpio", "--quiet", "-o", "-H", "newc", "-R", "0:0"],
                cwd=stage, input=files, stdout=subprocess.PIPE, check=True)
            f.write(gzip.compress(cpio.stdout, 6))
        os.replace(tmp, out)
        print(f"vmtest: initramfs for {ver}: {out} "
              f"(modules: {' '.join(names) or 'none'})")
    finally:
        shutil.rmtree(stage)


# ---- report -------------------------------------------------------------------

def read(path, default=None):
    try:
        with open(path, errors="replace") as f:
            return f.read()
    except OSError:
        return default


def read_float(path):
    s = read(path)
    try:
        return float(s.split()[0]) if s else None
    except ValueError:
        return None


def read_int(path):
    s = read(path)
    try:
        return int(s.strip()) if s is not None else None
    except ValueError:
        return None


def read_meta(d):
    meta = {}
    for line in (read(os.path.join(d, "meta"), "") or "").splitlines():
        k, sep, v = line.partition("=")
        if sep:
            meta[k] = v
    return meta


def series(release):
    m = re.match(r"(\d+)\.(\d+)", release or "")
    return f"{m.group(1)}.{m.group(2)}" if m else None


def tail(text, n):
    lines = (text or "").rstrip("\n").splitlines()
    return "\n".join(lines[-n:])


def bpf_result(d, row):
    rc = read_int(os.path.join(d, "bpf.rc"))
    res = {"rc": rc, "passed": None, "failed": None, "skipped": None,
           "errored": None, "failures": [], "skips": [], "deselected": 0}
    filtered = any(a.startswith("--filter") for a in
                   (read(os.path.join(d, "test-args"), "") or "").split("\n"))
    try:
        with open(os.path.join(d, "bpf.json")) as f:
            j = json.load(f)
    except (OSError, ValueError):
        j = None
    if j:
        for k in ("passed", "failed", "skipped", "errored"):
            res[k] = j.get(k)
        for suite in j.get("test_suites", []):
            for t in suite.get("tests", []):
                name = f"{suite.get('name')}::{t.get('name')}"
                st = t.get("status")
                if st in ("FAILED", "ERRORED"):
                    res["failures"].append(
                        {"test": name, "status": st,
                         "messages": t.get("messages", [])})
                elif st == "SKIPPED" and filtered and \
                        t.get("messages") == ["The test was skipped."]:
                    res["deselected"] += 1  # left out by --filter
                elif st == "SKIPPED":
                    res["skips"].append(
                        {"test": name, "messages": t.get("messages", [])})
    if res["skipped"] is not None:
        res["skipped"] -= res["deselected"]
    if rc is None:
        row["reasons"].append("bpf: the suite did not run or did not finish")
    elif j is None:
        row["reasons"].append(f"bpf: exit {rc}, no JSON report "
                              f"(last lines of bpf.log follow)")
        row["details"].append(("bpf.log", tail(read(os.path.join(d, "bpf.log")), 20)))
    elif rc != 0 or res["failed"] or res["errored"]:
        row["reasons"].append(f"bpf: {res['failed']} failed, "
                              f"{res['errored']} crashed (exit {rc})")
        for fl in res["failures"]:
            row["details"].append((f"bpf {fl['status']} {fl['test']}",
                                   "\n".join(fl["messages"]) or "(no message)"))
        if not res["failures"]:
            row["details"].append(("bpf.log", tail(read(os.path.join(d, "bpf.log")), 30)))
    return res


def e2e_result(d, row):
    rc = read_int(os.path.join(d, "e2e.rc"))
    log = read(os.path.join(d, "e2e.log"))
    res = {"rc": rc, "passed": None, "failed": None, "skipped": None,
           "failures": [], "skips": []}
    if log is None and rc is None:
        if os.path.exists(os.path.join(d, "done")):
            res["not_run"] = True  # VMTEST_E2E= chose none
        else:
            row["reasons"].append("e2e: did not run or did not finish")
        return res
    for line in (log or "").splitlines():
        m = re.match(r"(\d+) passed, (\d+) failed, (\d+) skipped$", line)
        if m:
            res["passed"], res["failed"], res["skipped"] = map(int, m.groups())
        elif line.startswith("FAIL "):
            res["failures"].append(line[5:])
        elif line.startswith("SKIP "):
            res["skips"].append(line[5:])
    if rc is None:
        row["reasons"].append("e2e: did not finish")
    elif rc != 0 or res["failed"]:
        row["reasons"].append(f"e2e: {res['failed']} failed (exit {rc})"
                              if res["failed"] is not None else f"e2e: exit {rc}")
        row["details"].append(("e2e.log", tail(log, 70)))
    return res


def probe_result(d, row):
    rc = read_int(os.path.join(d, "probe.rc"))
    text = read(os.path.join(d, "probe.json"))
    try:
        j = json.loads(text) if text else None
    except ValueError:
        j = None
    if rc is None:
        row["reasons"].append("probe: berthctl probe did not run")
        return None
    if rc != 0 or not isinstance(j, dict):
        row["reasons"].append(f"probe: berthctl probe -o json exit {rc}, "
                              f"{'no valid JSON' if j is None else 'output not an object'}")
        row["details"].append(("berthctl probe",
                               tail((text or "") + (read(os.path.join(d, "probe.err")) or ""), 20)))
        return None
    for name, p in sorted((j.get("programs") or {}).items()):
        if not p.get("loaded"):
            row["reasons"].append(f"verifier: {name} rejected ({p.get('error')})")
            row["details"].append((f"verifier log of {name} (last lines)",
                                    p.get("log_tail") or "(no log)"))
    return j


def complexity(row, base, update):
    progs = {}
    ser = row["series"]
    mine = (base or {}).get(ser) or {}
    for name, p in sorted(((row.get("probe") or {}).get("programs") or {}).items()):
        n = p.get("verified_insns") if p.get("loaded") else None
        b = mine.get(name)
        e = {"verified_insns": n, "baseline": b, "growth": None}
        if n is not None and b:
            e["growth"] = round((n - b) / b, 4)
            if e["growth"] > GROWTH_LIMIT and not update:
                row["reasons"].append(
                    f"complexity: {name} {n} verified insns, baseline {b} for "
                    f"{ser} (+{e['growth'] * 100:.1f}% > {GROWTH_LIMIT * 100:.0f}%)")
        progs[name] = e
    if progs and not mine and not update:
        row["notes"].append(f"no baseline for {ser} in vmtest/baseline.json "
                            f"(vmtest/run --update-baseline records one)")
    return progs


def row_of(d, base, update):
    meta = read_meta(d)
    row = {"kernel": meta.get("kernel") or read(os.path.join(d, "uname"), "").strip(),
           "mode": meta.get("mode", "?"), "results": d, "reasons": [],
           "notes": [], "details": []}
    row["series"] = series(row["kernel"])
    launch = float(meta["launch"]) if meta.get("launch") else None
    end = float(meta["end"]) if meta.get("end") else None
    start = read_float(os.path.join(d, "guest-start"))
    row["boot_seconds"] = round(start - launch, 1) if start and launch and \
        row["mode"] != "host" else None
    row["guest_uptime_at_start"] = read_float(os.path.join(d, "uptime-start"))
    row["wall_seconds"] = round(end - launch, 1) if end and launch else None
    row["vm_exit"] = int(meta["rc"]) if meta.get("rc", "").lstrip("-").isdigit() else None
    if meta.get("error"):
        row["reasons"].append(meta["error"])
    elif meta.get("timed_out") == "1":
        row["reasons"].append(f"timeout: no result within {meta.get('timeout')} s "
                              f"({'booted' if start else 'never reached the guest script'})")
    elif start is None:
        row["reasons"].append(f"boot: the guest script never started "
                              f"(exit {row['vm_exit']}; see {d}/vm.log)")
    elif not os.path.exists(os.path.join(d, "done")):
        row["reasons"].append(f"the guest stopped before finishing (exit "
                              f"{row['vm_exit']}; see {d}/vm.log)")
    if row["reasons"] and os.path.exists(os.path.join(d, "vm.log")):
        row["details"].append(("vm.log (last lines)", tail(read(os.path.join(d, "vm.log")), 25)))
    if meta.get("error"):
        row.update(probe=None, bpf=None, e2e=None, programs={})
    else:
        row["probe"] = probe_result(d, row) if start else None
        row["bpf"] = bpf_result(d, row) if start else None
        row["e2e"] = e2e_result(d, row) if start else None
        row["programs"] = complexity(row, base, update)
    row["features"] = (row.get("probe") or {}).get("features")
    row["ok"] = not row["reasons"]
    return row


def counts(r):
    if not r:
        return "-"
    if r.get("not_run"):
        return "not run"
    if r.get("passed") is None:
        return f"exit {r.get('rc')}"
    s = f"{r['passed']}/{r['failed']}/{r['skipped']}"
    return s + (f" +{r['errored']}crash" if r.get("errored") else "")


def print_table(rows):
    names = sorted({n for r in rows for n in r["programs"]}) or ["from_pod", "to_pod"]
    head = ["kernel", "mode", "boot s", "total s", "bpf p/f/s", "e2e p/f/s"] + \
        [f"{n} insns" for n in names] + ["result"]
    body = []
    for r in rows:
        cells = [r["kernel"] or "?", r["mode"],
                 "-" if r["boot_seconds"] is None else f"{r['boot_seconds']:.0f}",
                 "-" if r["wall_seconds"] is None else f"{r['wall_seconds']:.0f}",
                 counts(r["bpf"]), counts(r["e2e"])]
        for n in names:
            p = r["programs"].get(n)
            if not p:
                prog = (r.get("probe") or {}).get("programs", {}).get(n)
                cells.append("REJECTED" if prog and not prog.get("loaded") else "-")
            elif p["growth"] is None:
                cells.append(str(p["verified_insns"]))
            else:
                cells.append(f"{p['verified_insns']} ({p['growth'] * 100:+.1f}%)")
        cells.append("PASS" if r["ok"] else "FAIL")
        body.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    for cells in [head] + body:
        print("  ".join(str(c).ljust(w) for c, w in zip(cells, widths)).rstrip())


def report(args):
    try:
        with open(args.baseline) as f:
            base = json.load(f)
    except FileNotFoundError:
        base = {}
    rows = [row_of(d, base, args.update_baseline) for d in args.rows]

    for r in rows:
        if r["ok"] and not r["notes"]:
            continue
        print(f"==== {r['kernel']} ({r['mode']}): {'PASS' if r['ok'] else 'FAIL'}")
        for why in r["reasons"]:
            print(f"  - {why}")
        for n in r["notes"]:
            print(f"  note: {n}")
        for title, text in r["details"]:
            print(f"  ---- {title}")
            for line in (text or "").splitlines():
                print(f"    {line}")
    for r in rows:
        for kind in ("bpf", "e2e"):
            for s in (r.get(kind) or {}).get("skips", []):
                msg = s if isinstance(s, str) else \
                    f"{s['test']}: {' '.join(s['messages']) or 'skipped'}"
                print(f"skip on {r['kernel']}: {kind} {msg}")
    print("==== vmtest results (tests passed/failed/skipped; verifier-processed "
          "instructions, change against vmtest/baseline.json)")
    print_table(rows)

    ok = all(r["ok"] for r in rows) and bool(rows)
    doc = {"ok": ok, "growth_limit": GROWTH_LIMIT, "kernels": [
        {k: v for k, v in r.items() if k != "details"} | {
            "details": [{"title": t, "text": x} for t, x in r["details"]]}
        for r in rows]}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(doc, f, indent=2)
        f.write("\n")
    os.replace(tmp, args.out)
    print(f"results: {args.out}")

    if args.update_baseline:
        measured = {}
        for r in rows:
            for n, p in r["programs"].items():
                if r["series"] and p["verified_insns"] is not None:
                    # Of several kernels of one series, the largest count.
                    cur = measured.setdefault(r["series"], {})
                    cur[n] = max(p["verified_insns"], cur.get(n, 0))
        new = dict(base)
        new.update(measured)
        with open(args.baseline + ".tmp", "w") as f:
            json.dump(dict(sorted(new.items(), key=lambda kv: [
                int(x) for x in kv[0].split(".")])), f, indent=2)
            f.write("\n")
        os.replace(args.baseline + ".tmp", args.baseline)
        print(f"baseline: {args.baseline} updated")
    n_fail = sum(not r["ok"] for r in rows)
    print(f"vmtest: {len(rows) - n_fail} passed, {n_fail} failed")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(prog="vmtest.py")
    sub = ap.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("kver")
    p.add_argument("vmlinuz")
    p = sub.add_parser("initramfs")
    p.add_argument("ver")
    p.add_argument("moddir")
    p.add_argument("out")
    p = sub.add_parser("report")
    p.add_argument("--baseline", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--update-baseline", action="store_true")
    p.add_argument("rows", nargs="+")
    a = ap.parse_args()
    if a.cmd == "kver":
        try:
            print(kernel_release(a.vmlinuz))
        except (OSError, ValueError) as e:
            sys.exit(f"vmtest: {e}")
        return 0
    if a.cmd == "initramfs":
        build_initramfs(a.ver, a.moddir, a.out)
        return 0
    return report(a)


if __name__ == "__main__":
    sys.exit(main())
