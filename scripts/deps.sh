#!/bin/bash
# Install what building and testing berth needs (Debian 12) and mount bpffs.
# Idempotent: silent when everything is already there.
set -euo pipefail

PKGS=(clang llvm libbpf-dev bpftool libelf-dev zlib1g-dev libyaml-dev
      libcriterion-dev libjson-c-dev gcc make pkg-config iproute2 python3
      busybox-static procps
      libsqlite3-dev libcurl4-openssl-dev libmicrohttpd-dev etcd-server
      libarchive-dev libnl-3-dev libnl-route-3-dev runc skopeo docker-registry
      containernetworking-plugins libgnutls28-dev python3-cryptography
      curl iperf3 netsniff-ng ethtool iptables
      python3-prometheus-client)
PKGS+=(sqlite3) # docs: online backup of the store
PKGS+=(python3-venv) # tests/api/test_schemathesis.py's venv

die() { echo "deps: $*" >&2; exit 1; }
# iptables dataplane (issue 10): conntrack -D of gone UDP endpoints, ipset
PKGS+=(ipset conntrack)
PKGS+=(gnuplot-nox) # make bench: the dataplanes plot

missing=()
for p in "${PKGS[@]}"; do
	st=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
	[ "$st" = installed ] || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	[ "$(id -u)" -eq 0 ] || die "not root; missing packages: ${missing[*]}"
	echo "deps: apt-get update"
	apt-get update -qq >/dev/null || die "apt-get update failed"
	echo "deps: installing ${missing[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		"${missing[@]}" >/dev/null || die "apt-get install ${missing[*]} failed"
fi

fstype=$(stat -f -c %T /sys/fs/bpf 2>/dev/null || true)
if [ "$fstype" != bpf_fs ]; then
	[ "$(id -u)" -eq 0 ] || die "not root; bpffs is not mounted at /sys/fs/bpf"
	echo "deps: mounting bpffs at /sys/fs/bpf"
	mkdir -p /sys/fs/bpf
	mount -t bpf bpf /sys/fs/bpf || die "mount -t bpf bpf /sys/fs/bpf failed"
fi

# schemathesis (PyPI) for tests/api/test_schemathesis.py, in a venv of the
# tree's own; without PyPI the test skips, so a failed install is a note.
venv=$(cd "$(dirname "$0")/.." && pwd)/.output/venv
if [ ! -x "$venv/bin/st" ]; then
	echo "deps: installing schemathesis into $venv (pip)"
	{ python3 -m venv "$venv" &&
		timeout 300 "$venv/bin/pip" install -q schemathesis; } >/dev/null 2>&1 ||
		echo "deps: could not install schemathesis (PyPI unreachable?); test_schemathesis will skip"
fi
