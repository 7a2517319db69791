#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`: run policy-bench (from_pod ns/packet for a selected pod with
# 1 to 10,000 policies' entries; policy change to maps at 1,000 pods, the
# agent side alone), then bench/policy_e2e.py (API write -> every node's
# maps, a server and two agents in netns, 1,000 pods); print both and keep
# the numbers in .output/bench/policy.json ("e2e": the second part).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin=.output/bin/policy-bench
out=.output/bench
if [ ! -x "$bin" ]; then
	echo "$bin is missing: run make first" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "policy-bench loads BPF programs: run as root" >&2
	exit 1
fi
mkdir -p "$out"
"$bin" --json "$out/policy.json.tmp"
mv "$out/policy.json.tmp" "$out/policy.json"
if [ ! -d .output/images/busybox ]; then
	echo "policy e2e: no test image: run make test-image" >&2
	exit 1
fi
timeout 600 python3 bench/policy_e2e.py
echo
echo "results: $out/policy.json"
