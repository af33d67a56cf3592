#!/usr/bin/env bash
# Installs the Debian packages fundq builds against and the servers its tests
# use. Safe to run again: installs only what is missing. Needs root (or sudo).
set -euo pipefail

packages=(
  pkg-config zlib1g-dev python3 python3-venv
  libhiredis-dev libmariadb-dev libcurl4-openssl-dev libsqlite3-dev librdkafka-dev
  redis-server redis-tools
  mariadb-server mariadb-client openssl
  systemd
  chromium chromium-driver python3-selenium
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done

if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "install-deps: the Swift 6 toolchain is not on PATH (expected at /opt/swift/usr/bin)" >&2
  exit 1
fi
