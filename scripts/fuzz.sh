#!/usr/bin/env bash
# Builds the libFuzzer targets in tests/fuzz with clang-14 (ASan + UBSan) in build/fuzz and runs
# each for $FUZZ_SECONDS (default 60) from a fresh copy of its seed corpus, with a fixed seed.
# Exits non-zero if any target crashes, leaks, trips UBSan, times out or runs out of memory; the
# reproducer is left in build/fuzz/artifacts/ (rerun: build/fuzz/tests/fuzz/<target> <file>).
#
#   scripts/fuzz.sh                               # all targets, 60 s each
#   FUZZ_SECONDS=600 FUZZ_TARGETS="fuzz_frame" scripts/fuzz.sh
#   FUZZ_ARGS="-max_len=300000" scripts/fuzz.sh    # extra libFuzzer flags (the last one wins)
#   FUZZ_SOURCE_DIR=/path/to/tree scripts/fuzz.sh  # build another checkout (default: this one)
#
# Libraries get -fsanitize=fuzzer-no-link,address,undefined (through STELE_SANITIZE, which the
# top-level CMakeLists.txt applies to every target); only the fuzz executables link libFuzzer's
# main (-fsanitize=fuzzer, in tests/fuzz/CMakeLists.txt). -O1 -g without NDEBUG keeps asserts on.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
src="${FUZZ_SOURCE_DIR:-$root}"
build="$root/build/fuzz"
seconds="${FUZZ_SECONDS:-60}"
jobs="${FUZZ_BUILD_JOBS:-2}"
all_targets=(fuzz_frame fuzz_json_header fuzz_binary_header fuzz_json_body fuzz_sql92)
read -r -a targets <<<"${FUZZ_TARGETS:-${all_targets[*]}}"
read -r -a extra_args <<<"${FUZZ_ARGS:-}"

# A cache made from another source tree cannot be reused.
if [[ -f "$build/CMakeCache.txt" ]] &&
  ! grep -qx "CMAKE_HOME_DIRECTORY:INTERNAL=$src" "$build/CMakeCache.txt"; then
  rm -rf "$build"
fi
CC=clang-14 CXX=clang++-14 cmake -S "$src" -B "$build" -G Ninja \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DCMAKE_C_FLAGS_RELWITHDEBINFO="-O1 -g" \
  -DSTELE_FUZZ=ON -DSTELE_BUILD_TESTS=OFF -DSTELE_BUILD_BENCH=OFF \
  -DSTELE_SANITIZE=fuzzer-no-link,address,undefined >/dev/null

available=()
for t in "${targets[@]}"; do
  if ninja -C "$build" -t query "$t" >/dev/null 2>&1; then
    available+=("$t")
  elif [[ "$t" == fuzz_json_body ]]; then
    echo "note: fuzz_json_body not built (stele_broker_state or stele_namesrv missing)"
  else
    echo "error: no target $t; is tests/fuzz wired in? The top-level CMakeLists.txt needs" >&2
    echo "  add_subdirectory(tests/fuzz)   # after add_subdirectory(src/net)" >&2
    exit 2
  fi
done
cmake --build "$build" -j "$jobs" --target "${available[@]}"

# Per-target limits: the codec must never allocate from an unchecked length (64 MiB is far above
# anything a 16 KiB input justifies); the register-broker body may legitimately inflate to 64 MiB.
malloc_limit() { [[ "$1" == fuzz_json_body ]] && echo 512 || echo 64; }
rss_limit() { [[ "$1" == fuzz_json_body ]] && echo 2048 || echo 1024; }
max_len() { [[ "$1" == fuzz_json_body ]] && echo 65536 || echo 16384; }
dict() { [[ "$1" == fuzz_sql92 ]] && echo sql92.dict || echo remoting.dict; }

mkdir -p "$build/artifacts" "$build/logs"
failed=()
summary=()
seed=1
for t in "${available[@]}"; do
  corpus="$build/corpus/$t"
  rm -rf "$corpus"
  mkdir -p "$corpus"
  cp "$root/tests/fuzz/corpus/$t/"* "$corpus/"
  log="$build/logs/$t.log"
  echo "== $t: ${seconds}s, seed $seed"
  set +e
  ASAN_OPTIONS="detect_leaks=1:allocator_may_return_null=0" \
    UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1" \
    "$build/tests/fuzz/$t" -seed="$seed" -max_total_time="$seconds" -timeout=10 \
    -rss_limit_mb="$(rss_limit "$t")" -malloc_limit_mb="$(malloc_limit "$t")" \
    -max_len="$(max_len "$t")" \
    -dict="$root/tests/fuzz/$(dict "$t")" -print_final_stats=1 \
    -artifact_prefix="$build/artifacts/$t-" "${extra_args[@]}" "$corpus" >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  rate=$(grep -o 'stat::average_exec_per_sec: *[0-9]*' "$log" | grep -o '[0-9]*$' || true)
  cov=$(grep -Eo 'cov: [0-9]+ ft: [0-9]+' "$log" | tail -1 || true)
  units=$(find "$corpus" -type f | wc -l)
  summary+=("$(printf '%-20s rc=%-3s execs=%-10s exec/s=%-7s %s corpus=%s' "$t" "$rc" \
    "${execs:-?}" "${rate:-?}" "${cov:-?}" "$units")")
  if [[ $rc -ne 0 ]]; then
    failed+=("$t")
    echo "!! $t failed (exit $rc); log: $log"
    grep -E 'ERROR|SUMMARY|fuzz check failed|runtime error|Test unit written' "$log" | head -20
  fi
  seed=$((seed + 1))
done

echo
printf '%s\n' "${summary[@]}"
if [[ ${#failed[@]} -gt 0 ]]; then
  echo "FAILED: ${failed[*]} (artifacts in $build/artifacts)"
  exit 1
fi
echo "all fuzz targets passed"
