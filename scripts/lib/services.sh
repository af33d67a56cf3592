# Shared by scripts/test.sh and scripts/bench.sh: start throwaway servers on
# free loopback ports under $work, and stop them (and remove $work) on exit.
# Source it after setting `work` (a fresh temporary folder).

pids=()
stop_services() {
  for pid in "${pids[@]}"; do
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  rm -rf "$work"
}
trap stop_services EXIT

free_port() {
  python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()'
}

# start_redis: sets redis_port.
start_redis() {
  redis_port=$(free_port)
  mkdir -p "$work/redis"
  redis-server --bind 127.0.0.1 --port "$redis_port" --save '' --appendonly no --dir "$work/redis" \
    >"$work/redis.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break
    sleep 0.1
  done
  redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null \
    || { echo "redis-server did not start" >&2; cat "$work/redis.log" >&2; exit 1; }
}

# start_mariadb DATABASE PASSWORD: a throwaway data directory, root over the
# socket only, and user fundq with PASSWORD over TCP, allowed to create
# databases (the tests make one per test). Sets mysql_port.
start_mariadb() {
  local database=$1 password=$2
  mysql_port=$(free_port)
  mkdir -p "$work/mysql"
  mariadb-install-db --no-defaults --user=root --datadir="$work/mysql/data" \
    --auth-root-authentication-method=socket --skip-test-db >"$work/mysql-install.log" 2>&1 \
    || { echo "mariadb-install-db failed" >&2; cat "$work/mysql-install.log" >&2; exit 1; }
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
    || { echo "mariadbd did not start" >&2; cat "$work/mysql.err" >&2; exit 1; }
  mariadb --no-defaults --socket="$work/mysql/mysql.sock" -uroot <<SQL
CREATE DATABASE $database;
CREATE USER 'fundq'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO 'fundq'@'127.0.0.1' WITH GRANT OPTION;
SQL
}
