#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, starts redis-server,
# mariadbd and a Kafka-compatible broker (Tansu) on loopback for the tests,
# runs `swift test` on a current librdkafka, and stops what it started, pass
# or fail. Extra arguments go to `swift test` (e.g. --filter Queue).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

work=$(mktemp -d /tmp/fundq-test.XXXXXX)
source scripts/lib/services.sh
source scripts/lib/kafka.sh
setup_kafka_tools

# Shared by the contract tests; tests that kill or restart a server start their own.
start_redis
export FUNDQ_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
echo "test.sh: redis-server on 127.0.0.1:$redis_port" >&2

start_mariadb fundq_test fundq-test-password
export FUNDQ_TEST_MYSQL_URL="mysql://fundq:fundq-test-password@127.0.0.1:$mysql_port/fundq_test"
echo "test.sh: mariadbd on 127.0.0.1:$mysql_port" >&2

start_kafka
export FUNDQ_TEST_KAFKA_BROKERS="127.0.0.1:$kafka_port"
export FUNDQ_TEST_TANSU="$tansu"
echo "test.sh: tansu on 127.0.0.1:$kafka_port" >&2

swift build --build-tests
# Run (not build) on the newer librdkafka: Debian's 2.0.2 cannot talk to Tansu.
LD_LIBRARY_PATH="$rdkafka_lib_dir${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" swift test --skip-build "$@"
