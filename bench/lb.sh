#!/bin/bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# `make bench`: run lb-bench (from_pod ns/packet with 10 to 100,000 Services,
# map sync time), print its table and keep the numbers in .output/bench/lb.json.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

bin=.output/bin/lb-bench
out=.output/bench
if [ ! -x "$bin" ]; then
	echo "$bin is missing: run make first" >&2
	exit 1
fi
if [ "$(id -u)" != 0 ]; then
	echo "lb-bench loads BPF programs: run as root" >&2
	exit 1
fi
mkdir -p "$out"
"$bin" --json "$out/lb.json.tmp"
mv "$out/lb.json.tmp" "$out/lb.json"
echo
echo "results: $out/lb.json"
