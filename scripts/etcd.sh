# shellcheck shell=bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# Sourced by tests/api/lib.sh and bench/api.sh: a free loopback port, and an
# etcd of our own on loopback ports. The caller stops ETCD_PID.

free_port() {
	python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# start_etcd DIR: data in DIR/etcd, log in DIR/etcd.log; sets ETCD_PID and
# ETCD_URL once etcd answers /health (or after 10 s).
start_etcd() {
	local client peer
	client=$(free_port)
	peer=$(free_port)
	etcd --data-dir "$1/etcd" --listen-client-urls "http://127.0.0.1:$client" \
		--advertise-client-urls "http://127.0.0.1:$client" \
		--listen-peer-urls "http://127.0.0.1:$peer" \
		--initial-advertise-peer-urls "http://127.0.0.1:$peer" \
		--initial-cluster "default=http://127.0.0.1:$peer" >"$1/etcd.log" 2>&1 &
	ETCD_PID=$!
	for _ in $(seq 100); do
		curl -sf "http://127.0.0.1:$client/health" >/dev/null && break
		sleep 0.1
	done
	ETCD_URL=http://127.0.0.1:$client
}
