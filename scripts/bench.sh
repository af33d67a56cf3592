#!/usr/bin/env bash
# Measures each capability beside its baseline, in one run on this machine,
# and prints Markdown tables for the README's performance section:
# - queues: redis-benchmark's single-connection RPUSH, then `fundq bench
#   queue` on the same redis-server and on the embedded SQLite file;
# - consumers: `fundq bench consume` from Redis into MariaDB and into SQLite;
# - processors: `fundq bench processor NAME` against the in-process sandbox;
# - the rectifier: `fundq bench rectify` on scratch SQLite and MariaDB databases,
#   each beside status calls 16 at once to the same sandbox in the same run (three rounds of the pair, the
#   median round in the table, every round's ratio below it).
# - contribution tracking: `fundq bench tracking` (track() on Redis, then Redis → MariaDB and Redis → SQLite,
#   the consumer claiming in line and claiming ahead, with its wall time per phase).
# - impressions: `fundq bench impressions` from a file (beside JSONDecoder) and
#   from Kafka (Tansu) beside a consume-only librdkafka loop on the same topic (three rounds, the median shown).
# - the embedded file giving space back: `fundq bench reclaim` (push latency during a reclaim beside none).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product fundq >/dev/null
fundq=.build/release/fundq
messages=${MESSAGES:-20000}

work=$(mktemp -d /tmp/fundq-bench.XXXXXX)
source scripts/lib/services.sh
source scripts/lib/kafka.sh
setup_kafka_tools
start_redis
start_mariadb bench fundq-bench-password
redis="redis://127.0.0.1:$redis_port"
mysql="mysql://fundq:fundq-bench-password@127.0.0.1:$mysql_port/bench"
"$fundq" db migrate --db-url "$mysql" 2>/dev/null

# -d 800: about the size of the benchmark's donation message once stamped.
rb=$(redis-benchmark -h 127.0.0.1 -p "$redis_port" -c 1 -P 1 -d 800 -n "$messages" -t rpush --csv | awk -F'"' '/RPUSH/ {print $4}')
"$fundq" bench queue --queue-url "$redis" --data-dir "$work/q" --messages "$messages" --json > "$work/redis.json"
"$fundq" bench queue --queue-url "$redis" --data-dir "$work/q" --messages "$messages" --batch 500 --json > "$work/redis-500.json"
"$fundq" bench queue --data-dir "$work/sqlite" --messages "$messages" --json > "$work/sqlite.json"
"$fundq" bench reclaim --data-dir "$work/reclaim" --messages "${RECLAIM_MESSAGES:-100000}" --json > "$work/reclaim.json"
"$fundq" bench consume --queue-url "$redis" --db-url "$mysql" --data-dir "$work/c1" --messages "$messages" --json > "$work/consume-mariadb.json"
"$fundq" bench consume --queue-url "$redis" --data-dir "$work/c2" --messages "$messages" --json > "$work/consume-sqlite.json"
# Every registered processor (the registry, not a list kept here).
processors=$("$fundq" processor list --processors-dir processors --json | python3 -c 'import json,sys; print(" ".join(p["name"] for p in json.load(sys.stdin)))')
echo "$processors" > "$work/processors.txt"
for p in $processors; do
  "$fundq" bench processor "$p" --processors-dir processors --requests 5000 --json > "$work/processor-$p.json"
done
mariadb --no-defaults --socket="$work/mysql/mysql.sock" -uroot -e "CREATE DATABASE rectify_bench"
"$fundq" bench rectify --processors-dir processors --json > "$work/rectify-sqlite.json"
"$fundq" bench rectify --processors-dir processors --db-url "mysql://fundq:fundq-bench-password@127.0.0.1:$mysql_port/rectify_bench" --json > "$work/rectify-mariadb.json"
# MariaDB with the queues in Redis, as in production (a batch's donations are pushed, then its rows committed).
"$fundq" bench rectify --processors-dir processors --db-url "mysql://fundq:fundq-bench-password@127.0.0.1:$mysql_port/rectify_bench" \
  --queue-url "$redis" --json > "$work/rectify-mariadb-redis.json"
"$fundq" bench tracking --queue-url "$redis" --db-url "$mysql" --data-dir "$work/t1" --json > "$work/tracking-mariadb.json"
"$fundq" bench tracking --queue-url "$redis" --data-dir "$work/t2" --json > "$work/tracking-sqlite.json"
start_kafka
"$tansu" topic create fundq-bench-impressions --partitions 3 --broker "tcp://127.0.0.1:$kafka_port" >/dev/null
LD_LIBRARY_PATH="$rdkafka_lib_dir" "$fundq" bench impressions --events "${IMPRESSIONS:-1000000}" \
  --brokers "127.0.0.1:$kafka_port" --topic fundq-bench-impressions --kafka-events "${KAFKA_EVENTS:-300000}" \
  -X session.timeout.ms=6000 -X heartbeat.interval.ms=1000 --json > "$work/impressions.json" 2>"$work/impressions.err"

python3 - "$rb" "$work" <<'PY'
import json, sys
rb, work = float(sys.argv[1]), sys.argv[2]
print(f"redis-benchmark -c 1 -P 1 -d 800 -t rpush: {rb:.0f} requests/s\n")
print("| backend | phase | msg/s | p50 ms | p99 ms | vs in-run baseline | vs redis-benchmark RPUSH |")
print("|---|---|---:|---:|---:|---:|---:|")
for name in ["redis", "redis-500", "sqlite"]:
    r = json.load(open(f"{work}/{name}.json"))
    backend = r["backend"].split("/fundq-bench")[0] if r["backend"].startswith("sqlite") else "redis"
    for p in r["phases"]:
        if name == "redis-500" and "batch" not in p["name"]:
            continue
        print(f"| {'sqlite' if backend.startswith('sqlite') else 'redis'} | {p['name']} | {float(p['messages_per_second']):.0f} | "
              f"{float(p['p50_ms']):.3f} | {float(p['p99_ms']):.3f} | {float(p['ratio_to_baseline']):.2f}× | "
              f"{float(p['messages_per_second'])/rb:.2f}× |")
print("\n| queue → database | run | messages | msg/s | batch p50 ms | batch p99 ms | vs baseline |")
print("|---|---|---:|---:|---:|---:|---:|")
for name, label in [("consume-mariadb", "redis → mariadb"), ("consume-sqlite", "redis → sqlite")]:
    r = json.load(open(f"{work}/{name}.json"))
    for run in r["runs"]:
        print(f"| {label} | {run['name']} | {run['messages']} | {float(run['messages_per_second']):.0f} | "
              f"{float(run['batch_p50_ms']):.2f} | {float(run['batch_p99_ms']):.2f} | {float(run['ratio_to_baseline']):.2f}× |")
print("\n| processor | run | calls/s | p50 ms | p99 ms | vs baseline |")
print("|---|---|---:|---:|---:|---:|")
for p in open(f"{work}/processors.txt").read().split():
    r = json.load(open(f"{work}/processor-{p}.json"))
    for run in r["runs"]:
        print(f"| {p} | {run['name']} | {float(run['calls_per_second']):.0f} | {float(run['p50_ms']):.3f} | "
              f"{float(run['p99_ms']):.3f} | {float(run['ratio_to_baseline']):.2f}× |")
rounds = []
print("\n| database | run | orphans | seconds | orphans/s | vs baseline | vs status calls, 16 at once (same run) |")
print("|---|---|---:|---:|---:|---:|---:|")
for name, db in [("sqlite", "sqlite"), ("mariadb", "mariadb"), ("mariadb-redis", "mariadb + redis queues")]:
    r = json.load(open(f"{work}/rectify-{name}.json"))
    ref = r["status_calls_16_at_once"]
    print(f"| {db} | reference: status calls, 16 at once, processors in turn | {ref['calls']} | {float(ref['seconds']):.2f} | "
          f"{float(ref['calls_per_second']):.0f} calls/s | | 1.00× |")
    for run in r["runs"]:
        print(f"| {db} | {run['name']} | {run['orphans']} | {float(run['seconds']):.2f} | {float(run['orphans_per_second']):.0f} | "
              f"{float(run['ratio_to_baseline']):.2f}× | {float(run['ratio_to_status_calls']):.2f}× |")
    rounds.append((db, r["rounds"]))
print("\nrectifier rounds (orphans/s vs status calls/s, workers started; the median round is in the table): " + "; ".join(
    f"{db} " + ", ".join(f"{float(x['orphans_per_second']):.0f}/{float(x['status_calls_per_second']):.0f} = "
                         f"{float(x['ratio_to_status_calls']):.2f}× ({x['workers']} workers)" for x in rs) for db, rs in rounds))
print("\n| tracking: queue → database | run | events | events/s | batch p50 ms | batch p99 ms | vs baseline | CPU s / wall s |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
tracks, phases = [], []
for db, label in [("mariadb", "redis → mariadb"), ("sqlite", "redis → sqlite")]:
    r = json.load(open(f"{work}/tracking-{db}.json"))
    tracks.append((f"redis, during the run into {db}", r["track"]))
    for run in r["runs"]:
        print(f"| {label} | {run['name']} | {run['events']} | {float(run['events_per_second']):.0f} | "
              f"{float(run['batch_p50_ms']):.2f} | {float(run['batch_p99_ms']):.2f} | {float(run['ratio_to_baseline']):.2f}× | "
              f"{float(run['consumer_cpu_seconds']):.2f} / {float(run['seconds']):.2f} |")
        phases.append((label, run))
print("\n| tracking: queue → database | run | wall seconds per phase |")
print("|---|---|---|")
for label, run in phases:
    print(f"| {label} | {run['name']} | " + ", ".join(f"{p['name']} {float(p['seconds']):.2f}" for p in run["phases"]) + " |")
print("\n| track() (one push) | calls | calls/s | p50 ms | p99 ms |")
print("|---|---:|---:|---:|---:|")
for backend, t in tracks:
    print(f"| {backend} | {t['calls']} | {float(t['calls_per_second']):.0f} | {float(t['p50_ms']):.3f} | {float(t['p99_ms']):.3f} |")
print("\n| embedded file: push while space is given back | pushes | p50 ms | p99 ms | max ms | p99 vs no reclaim | pages | reclaim s |")
print("|---|---:|---:|---:|---:|---:|---:|---:|")
for p in json.load(open(f"{work}/reclaim.json"))["phases"]:
    ratio = p["p99_ratio_to_baseline"]
    print(f"| {p['name']} | {p['pushes']} | {float(p['p50_ms']):.3f} | {float(p['p99_ms']):.3f} | {float(p['max_ms']):.3f} | "
          f"{float(ratio):.2f}× | {p['pages_reclaimed']} | {float(p['reclaim_seconds']):.2f} |")
print("\n| impressions run | events | seconds | events/s | events per CPU-second | ratio |")
print("|---|---:|---:|---:|---:|---:|")
impressions = json.load(open(f"{work}/impressions.json"))
for run in impressions["runs"]:
    ratio = run["ratio"]
    against = "the consume-only loop" if run["name"].startswith("kafka") else "JSONDecoder"
    shown = f"{float(ratio):.2f}× {against}" if ratio is not None else "-"
    print(f"| {run['name']} | {run['events']} | {float(run['seconds']):.2f} | {float(run['events_per_second']):.0f} | "
          f"{float(run['events_per_cpu_second']):.0f} | {shown} |")
print("\nkafka rounds (consume-only loop, then the loader; the median round is in the table): "
      + ", ".join(f"{float(r['ratio']):.2f}×" for r in impressions["kafka_rounds"]))
PY
