#!/usr/bin/env bash
# Runs the whole test suite: installs what it needs, starts redis-server on
# loopback for the tests, runs `swift test`, and stops what it started, pass
# or fail. Extra arguments go to `swift test` (e.g. --filter Queue).
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

swift build --build-tests
swift test "$@"
