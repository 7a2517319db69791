#!/usr/bin/env python3
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
"""Run every command the docs show.

A fenced block opened with ```sh runnable is executed, in the order of the
files below and of the blocks in each file, by bash -euo pipefail from the
repository root with .output/bin on the PATH, the running demo's names from
.output/demo/env (written by make demo) in the environment and DESTDIR set
to a scratch directory (install steps land there, never in /). A ```sh
suite block holds commands that run whole test suites or VMs: `make test`
runs each of them itself, and this test checks that every command's program
is one scripts/run-tests.sh or the Makefile's test target calls. A ```sh
example block is shown, not run: only for steps that need other machines
(the test says how many it skipped). Any other ```sh block is an error, so
a command cannot slip into the docs untested. The demo is always taken
down at the end, also after a failure.

Usage: run_docs.py [--list] [FILE.md...]
"""
import os
import re
import shlex
import subprocess
import sys
import tempfile
import time

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
# the order a reader follows: install brings the demo up
ORDER = ["install.md", "architecture.md", "troubleshooting.md", "operations.md",
         "performance.md"]
LAST = ["demo.md"]  # its last block is make demo-down
FENCE = re.compile(r"^```(\S*)(?:[ \t]+(\S+))?[ \t]*$")
KINDS = ("runnable", "suite", "example")
TIMEOUT = 900  # s per block (make demo builds on a fresh clone)


def blocks(path):
    """(line, kind, text) for each sh block; kind runnable|example|bad."""
    out, cur = [], None
    with open(path) as f:
        for no, line in enumerate(f, 1):
            m = FENCE.match(line.rstrip("\n"))
            if cur is None:
                if m and m.group(1):
                    cur = (no, m.group(1), m.group(2), [])
                elif m:
                    cur = (no, "", None, [])
                continue
            if line.rstrip("\n") == "```":
                start, lang, tag, text = cur
                if lang in ("sh", "bash", "console", "shell"):
                    kind = tag if lang == "sh" and tag in KINDS else "bad"
                    out.append((start, kind, "".join(text)))
                cur = None
            else:
                cur[3].append(line)
    if cur is not None:
        out.append((cur[0], "bad", "unterminated fence"))
    return out


def suite_ok(text):
    """Programs of a suite block that make test does not run."""
    with open(os.path.join(REPO, "scripts", "run-tests.sh")) as f:
        known = f.read()
    with open(os.path.join(REPO, "Makefile")) as f:
        known += f.read()
    missing = []
    for line in text.split("\n"):
        try:
            words = [w for w in shlex.split(line, comments=True) if "=" not in w]
        except ValueError:
            words = line.split()[:1]
        if words and words[0] not in known and words[0].lstrip("./") not in known:
            missing.append(words[0])
    return missing


def doc_files(args):
    if args:
        return [os.path.abspath(a) for a in args]
    d = os.path.join(REPO, "docs")
    names = sorted(n for n in os.listdir(d) if n.endswith(".md"))
    return [os.path.join(d, n) for n in ORDER if n in names] + \
        [os.path.join(d, n) for n in names if n not in ORDER + LAST] + \
        [os.path.join(d, n) for n in LAST if n in names]


PRELUDE = """cd %(repo)s
export PATH=%(repo)s/.output/bin:$PATH
if [ -f .output/demo/env ]; then set -a; . .output/demo/env; set +a; fi
"""


def run_block(path, line, text, destdir):
    env = dict(os.environ, DESTDIR=destdir, BERTH_DOCS_TEST="1")
    script = PRELUDE % {"repo": REPO} + text
    t0 = time.time()
    try:
        r = subprocess.run(["bash", "-euo", "pipefail", "-c", script], env=env,
                           stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=TIMEOUT)
        rc, out = r.returncode, r.stdout
    except subprocess.TimeoutExpired as e:
        rc, out = 124, (e.stdout or b"").decode(errors="replace") + \
            "\n(timed out after %ds)" % TIMEOUT
    rel = os.path.relpath(path, REPO)
    print("---- %s:%d (%s, %.1fs)" % (rel, line, "ok" if rc == 0 else "exit %d" % rc,
                                     time.time() - t0))
    for l in text.rstrip("\n").split("\n"):
        print("  $ " + l)
    tail = out.rstrip("\n").split("\n")[-40:] if out.strip() else []
    for l in tail:
        print("  | " + l)
    return rc


def main(argv):
    listing = "--list" in argv
    files = doc_files([a for a in argv if a != "--list"])
    todo, bad, skipped = [], [], 0
    for p in files:
        for line, kind, text in blocks(p):
            if kind == "runnable":
                todo.append((p, line, text))
            elif kind == "example":
                skipped += 1
            elif kind == "suite":
                for prog in suite_ok(text):
                    bad.append("%s:%d (%s is not run by make test)" % (
                        os.path.relpath(p, REPO), line, prog))
            else:
                bad.append("%s:%d" % (os.path.relpath(p, REPO), line))
    if bad:
        print("docs: shell blocks that are neither `sh runnable`, `sh suite` nor `sh example`, "
              "or suites make test does not run: " + ", ".join(bad))
    if listing:
        for p, line, text in todo:
            print("%s:%d" % (os.path.relpath(p, REPO), line))
        return 1 if bad else 0
    failed = []
    destdir = tempfile.mkdtemp(prefix="berth-docs-")
    try:
        for p, line, text in todo:
            if run_block(p, line, text, destdir):
                failed.append("%s:%d" % (os.path.relpath(p, REPO), line))
    finally:
        subprocess.run([os.path.join(REPO, "scripts", "demo.py"), "down"], check=False)
        subprocess.run(["rm", "-rf", destdir], check=False)
    print("docs: %d blocks run, %d failed%s; %d example blocks not run (other machines)"
          % (len(todo), len(failed), (" (" + ", ".join(failed) + ")") if failed else "",
             skipped))
    return 1 if failed or bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
