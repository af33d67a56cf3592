#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, starts redis-server and
# mariadbd on loopback for the tests, runs `swift test`, and stops what it
# started, pass or fail. Extra arguments go to `swift test` (e.g. --filter Queue).
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/install-deps.sh

work=$(mktemp -d /tmp/fundq-test.XXXXXX)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap cleanup EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# Redis shared by the contract tests (tests that kill or restart a server start their own).
redis_port=$(free_port)
mkdir -p "$work/redis"
redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$work/redis" \
  >"$work/redis.log" 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do
  redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null || { echo "test.sh: redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 1; }
export FUNDQ_TEST_REDIS_URL="redis://127.0.0.1:$redis_port"
echo "test.sh: redis-server on 127.0.0.1:$redis_port" >&2

# MariaDB for the store tests: a throwaway data directory, root over the
# socket only, and a password user over TCP allowed to create one database
# per test.
mysql_port=$(free_port)
mkdir -p "$work/mysql"
mariadb-install-db --no-defaults --user=root --datadir="$work/mysql/data" \
  --auth-root-authentication-method=socket --skip-test-db >"$work/mysql-install.log" 2>&1 \
  || { echo "test.sh: mariadb-install-db failed" >&2; cat "$work/mysql-install.log" >&2; exit 1; }
mariadbd --no-defaults --user=root --datadir="$work/mysql/data" --socket="$work/mysql/mysql.sock" \
  --port="$mysql_port" --bind-address=127.0.0.1 --skip-name-resolve \
  --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
  --innodb-buffer-pool-size=256M --log-error="$work/mysql.err" &
pids+=($!)
for _ in $(seq 1 150); do
  mariadb-admin --no-defaults --socket="$work/mysql/mysql.sock" -uroot ping >/dev/null 2>&1 && break
  sleep 0.1
done
mariadb-admin --no-defaults --socket="$work/mysql/mysql.sock" -uroot ping >/dev/null \
  || { echo "test.sh: mariadbd did not start" >&2; cat "$work/mysql.err" >&2; exit 1; }
mariadb --no-defaults --socket="$work/mysql/mysql.sock" -uroot <<SQL
CREATE DATABASE fundq_test;
CREATE USER 'fundq'@'127.0.0.1' IDENTIFIED BY 'fundq-test-password';
GRANT ALL PRIVILEGES ON *.* TO 'fundq'@'127.0.0.1';
SQL
export FUNDQ_TEST_MYSQL_URL="mysql://fundq:fundq-test-password@127.0.0.1:$mysql_port/fundq_test"
echo "test.sh: mariadbd on 127.0.0.1:$mysql_port" >&2

swift build --build-tests
swift test "$@"
