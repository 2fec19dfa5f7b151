#!/usr/bin/env bash
# Installs the Debian 12 packages asfcast needs: `--run` what building and running the asfcast
# command needs (scripts/run.sh), no argument (or `--all`) that plus the tests' and benchmarks'
# tools (scripts/test.sh).
# Idempotent: when everything is present it only checks and returns (no apt-get update).
set -euo pipefail

case "${1:---all}" in
  --run) with_tests=0 ;;
  --all) with_tests=1 ;;
  *) echo "usage: $0 [--run|--all]" >&2; exit 2 ;;
esac

PACKAGES=(
  # build
  build-essential cmake ninja-build pkg-config git
  # libraries asfcast links
  libx264-dev libavcodec-dev libavformat-dev libavutil-dev libswscale-dev libswresample-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  libyaml-cpp-dev libspdlog-dev libfmt-dev libcli11-dev libasio-dev
  libssl-dev libsystemd-dev nlohmann-json3-dev libasound2-dev liburing-dev
  # GStreamer runtime: sources, converters, decoders for file input
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  gstreamer1.0-plugins-bad gstreamer1.0-plugins-ugly gstreamer1.0-libav gstreamer1.0-alsa
  # the slate: textoverlay (pango) and a font
  gstreamer1.0-x fonts-dejavu-core
)
TEST_PACKAGES=(
  # tests and benchmarks
  libgtest-dev libgmock-dev libbenchmark-dev clang libclang-rt-14-dev
  ffmpeg vlc-bin vlc-plugin-base mplayer libmms-dev util-linux procps jq curl systemd
  # the control API's tests: OpenAPI schema checks, the status page in headless Chromium (over the
  # DevTools protocol, from /usr/bin/python3)
  python3-jsonschema python3-websocket chromium
  # the test RTSP camera (tests/interop/rtsp_camera.cpp)
  libgstrtspserver-1.0-dev
)
if [ "$with_tests" = 1 ]; then PACKAGES+=("${TEST_PACKAGES[@]}"); fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${#missing[@]} missing packages: ${missing[*]}"
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
