#!/usr/bin/env bash
# Measures instructions per operation (median of 5 callgrind runs per kind) with the insn_driver of
# BUILD_DIR and rewrites bench/insn/baseline.json. Use the Release test tree, which the guard runs
# in CI:
#   scripts/test.sh's cmake line for build/test-release, then
#   cmake --build build/test-release --target insn_driver && bench/insn/update_baseline.sh build/test-release
# Extra arguments go to insn_guard.py (e.g. --kinds append --runs 3).
set -euo pipefail
if [ $# -lt 1 ] || [ ! -d "$1" ]; then
  echo "usage: $0 BUILD_DIR [insn_guard.py arguments]" >&2
  exit 2
fi
build=$1
shift
info="$build/tests/insn/insn_build.json"
if [ ! -f "$info" ]; then
  echo "$0: $info not found (configure $build with -DSTELE_BUILD_TESTS=ON first)" >&2
  exit 1
fi
exec python3 "$(dirname "$0")/insn_guard.py" --build-info "$info" --update "$@"
