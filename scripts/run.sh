#!/usr/bin/env bash
# Installs what is missing, builds, and runs asfcast on its built-in default: a live test
# pattern + tone, encoded live to H.264 + WMA2, archived to asfcast-live.wmv and served to
# players on mmsh://127.0.0.1:8080/ (ffplay mmsh://127.0.0.1:8080/, vlc mmsh://...). Extra
# arguments go to `asfcast run` (e.g. --duration 30, --preset low-latency). Ctrl-C stops cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
# Only what running needs: the run-time packages, and the asfcast target alone (no tests or
# benchmarks; scripts/test.sh configures those back in).
scripts/install-deps.sh --run
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DASFCAST_TESTS=OFF -DASFCAST_BENCH=OFF >/dev/null
cmake --build build --target asfcast
exec build/app/asfcast run --archive asfcast-live.wmv "$@"
