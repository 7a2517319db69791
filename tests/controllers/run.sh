#!/bin/bash
# Scheduler and controller tests (test_*.py, test_*.sh here), run like the
# API tests by tests/api/run.sh; on SQLite only unless BERTH_TEST_STORES
# says otherwise (the store suite and the API tests cover etcd).
here=$(cd "$(dirname "$0")" && pwd)
export BERTH_TEST_STORES=${BERTH_TEST_STORES:-sqlite}
TEST_DIR=$here exec "$here/../api/run.sh" "$@"
