#!/usr/bin/env bash
# Installs what is missing, builds asfcast and its fuzzers, and runs every test with ctest:
# unit tests, interop tests with real clients (ffmpeg/ffprobe, GStreamer, VLC) and time-bounded
# fuzzing under ASan/UBSan.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh

# Fuzzers need clang's libFuzzer; they are built apart and run by ctest.
cmake -S . -B build-fuzz -G Ninja -DCMAKE_BUILD_TYPE=Debug -DASFCAST_FUZZ=ON \
      -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ >/dev/null
cmake --build build-fuzz

scripts/build.sh -DASFCAST_TESTS=ON -DASFCAST_BENCH=ON -DASFCAST_FUZZ_BIN_DIR="$PWD/build-fuzz/fuzz"
cd build
ctest --output-on-failure --timeout 600 "$@"
