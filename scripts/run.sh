#!/usr/bin/env bash
# Installs what is missing, builds Release, and runs the main job.
# Until the broker exists (issue 5) the main job is the embedded-queue demo on ./stele-demo-data.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
cmake -S . -B build/run -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTELE_BUILD_TESTS=OFF \
  -DSTELE_BUILD_BENCH=OFF >/dev/null
cmake --build build/run
exec build/run/examples/embedded_queue "${STELE_DATA_DIR:-./stele-demo-data}" "${1:-10}"
