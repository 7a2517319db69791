#!/bin/bash
# kubectl get -w sees a change made after it started, within seconds, and
# kubectl delete --wait returns once the watch reports the deletion.
. "$(dirname "$0")/lib.sh"
start_server

k create configmap first >/dev/null
timeout 15 kubectl get cm -w --output-watch-events >"$TMP/watch.out" 2>&1 &
wpid=$!
sleep 1
k create configmap second --from-literal=k=v >/dev/null
k patch configmap first -p '{"data":{"x":"y"}}' >/dev/null
k delete configmap second --wait --timeout=10s >/dev/null
for _ in $(seq 50); do
	grep -q 'DELETED *second' "$TMP/watch.out" && break
	sleep 0.1
done
kill "$wpid" 2>/dev/null || true
wait "$wpid" 2>/dev/null || true
cat "$TMP/watch.out"
out=$(cat "$TMP/watch.out")
expect_match "initial state" "$out" 'ADDED +first'
expect_match "later create" "$out" 'ADDED +second'
expect_match "later change" "$out" 'MODIFIED +first +1'
expect_match "later delete" "$out" 'DELETED +second'
echo PASS
