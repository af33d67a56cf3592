#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, starts redis-server and
# mariadbd on loopback for the tests, runs `swift test`, and stops what it
# started, pass or fail. Extra arguments go to `swift test` (e.g. --filter Queue).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

work=$(mktemp -d /tmp/fundq-test.XXXXXX)
source scripts/lib/services.sh

# Shared by the contract tests; tests that kill or restart a server start their own.
start_redis
export FUNDQ_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
echo "test.sh: redis-server on 127.0.0.1:$redis_port" >&2

start_mariadb fundq_test fundq-test-password
export FUNDQ_TEST_MYSQL_URL="mysql://fundq:fundq-test-password@127.0.0.1:$mysql_port/fundq_test"
echo "test.sh: mariadbd on 127.0.0.1:$mysql_port" >&2

swift build --build-tests
swift test "$@"
