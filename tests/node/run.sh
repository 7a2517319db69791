#!/bin/bash
# Node tests (test_*.py, test_*.sh here): the agent, its images, runtime and
# CNI plugin on this machine, in network namespaces the tests make; run
# like the API tests by tests/api/run.sh, on SQLite.
here=$(cd "$(dirname "$0")" && pwd)
export BERTH_TEST_STORES=${BERTH_TEST_STORES:-sqlite}
TEST_DIR=$here exec "$here/../api/run.sh" "$@"
