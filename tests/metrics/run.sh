#!/bin/bash
# Metrics and health tests (test_*.py here): berth-server's and
# berth-agent's /metrics parsed with Prometheus' own text parser
# (python3-prometheus-client), and their /healthz, /livez, /readyz. Run like
# the API tests by tests/api/run.sh; each test picks its store itself.
here=$(cd "$(dirname "$0")" && pwd)
export BERTH_TEST_STORES=${BERTH_TEST_STORES:-sqlite}
TEST_DIR=$here exec "$here/../api/run.sh" "$@"
