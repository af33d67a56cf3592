#!/usr/bin/env bash
# The main job on the embedded default: installs what fundq needs, builds it,
# and runs `fundq demo` on the SQLite file under ./var.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --product fundq
exec .build/debug/fundq demo "$@"
