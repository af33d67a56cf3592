#!/usr/bin/env bash
# Measures the queue layer beside its baselines, in one run on this machine:
# redis-benchmark's single-connection RPUSH, then `fundq bench queue` on the
# same redis-server, then `fundq bench queue` on the embedded SQLite file.
# Prints a Markdown table for the README's performance section.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --product fundq >/dev/null
fundq=.build/release/fundq
messages=${MESSAGES:-20000}

work=$(mktemp -d /tmp/fundq-bench.XXXXXX)
pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')
redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --dir "$work" >/dev/null 2>&1 &
pids+=($!)
for _ in $(seq 1 100); do redis-cli -p "$port" ping >/dev/null 2>&1 && break; sleep 0.1; done

# -d 800: about the size of the benchmark's donation message once stamped.
rb=$(redis-benchmark -h 127.0.0.1 -p "$port" -c 1 -P 1 -d 800 -n "$messages" -t rpush --csv | awk -F'"' '/RPUSH/ {print $4}')
"$fundq" bench queue --queue-url "redis://127.0.0.1:$port" --messages "$messages" --json > "$work/redis.json"
"$fundq" bench queue --queue-url "redis://127.0.0.1:$port" --messages "$messages" --batch 500 --json > "$work/redis-500.json"
"$fundq" bench queue --data-dir "$work/sqlite" --messages "$messages" --json > "$work/sqlite.json"

python3 - "$rb" "$work/redis.json" "$work/redis-500.json" "$work/sqlite.json" <<'PY'
import json, sys
rb = float(sys.argv[1])
print(f"redis-benchmark -c 1 -P 1 -d 800 -t rpush: {rb:.0f} requests/s\n")
print("| backend | phase | msg/s | p50 ms | p99 ms | vs in-run baseline | vs redis-benchmark RPUSH |")
print("|---|---|---:|---:|---:|---:|---:|")
for path in sys.argv[2:]:
    r = json.load(open(path))
    for p in r["phases"]:
        if path.endswith("-500.json") and "batch" not in p["name"]:
            continue
        ratio = p["ratio_to_baseline"]
        print(f"| {r['backend']} | {p['name']} | {float(p['messages_per_second']):.0f} | {float(p['p50_ms']):.3f} | "
              f"{float(p['p99_ms']):.3f} | {float(ratio):.2f}× | {float(p['messages_per_second'])/rb:.2f}× |")
PY
