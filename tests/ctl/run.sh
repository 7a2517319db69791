#!/bin/bash
# berthctl tests (test_*.py, test_*.sh here), run like the API tests by
# tests/api/run.sh: each starts its own berth-server on loopback (SQLite;
# BERTH_TEST_STORES says otherwise), kubectl alongside where the outputs
# must agree.
here=$(cd "$(dirname "$0")" && pwd)
export BERTH_TEST_STORES=${BERTH_TEST_STORES:-sqlite}
TEST_DIR=$here exec "$here/../api/run.sh" "$@"
