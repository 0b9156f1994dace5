#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite twice (a Release build with
# warnings as errors, then an ASan+UBSan build), then the threaded suites under TSan, then each
# libFuzzer target for 60 s. The suite includes the interop tests: real RocketMQ clients from the
# npm registry (installed by tests/interop/run.sh) against mqnamesrv/mqbroker on loopback.
# Exits non-zero if anything fails.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/deps.sh
jobs=$(nproc)
export TMPDIR="${TMPDIR:-/tmp}"

cmake -S . -B build/release -G Ninja -DCMAKE_BUILD_TYPE=Release -DSTELE_WERROR=ON \
  -DSTELE_BUILD_TESTS=ON -DSTELE_BUILD_BENCH=ON -DSTELE_SANITIZE= >/dev/null
cmake --build build/release -j "$jobs"
(cd build/release && ctest --no-tests=error --output-on-failure -j "$jobs")

cmake -S . -B build/asan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTELE_WERROR=ON \
  -DSTELE_SANITIZE=address,undefined -DSTELE_BUILD_TESTS=ON -DSTELE_BUILD_BENCH=OFF >/dev/null
cmake --build build/asan -j "$jobs"
(cd build/asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
  ctest --no-tests=error --output-on-failure -j "$jobs")

# ThreadSanitizer over the multi-threaded engine suites (appenders, flusher, allocator, callbacks,
# dispatcher, readers, cleaner) and the remoting transport. Not the broker suites: their state
# classes lock with absl::Mutex, and Debian's Abseil is not built with TSan, so TSan cannot see
# those locks and reports false races.
cmake -S . -B build/tsan -G Ninja -DCMAKE_BUILD_TYPE=Debug -DSTELE_WERROR=ON \
  -DSTELE_SANITIZE=thread -DSTELE_BUILD_TESTS=ON -DSTELE_BUILD_BENCH=OFF >/dev/null
cmake --build build/tsan -j "$jobs" --target concurrency_test store_test \
  fault_injection_test store_index_test retention_test index_file_test transport_test
(cd build/tsan && TSAN_OPTIONS=halt_on_error=1 \
  ctest --no-tests=error --output-on-failure -j "$jobs" \
  -R 'ConcurrencyTest|StoreTest|FaultTest|StoreIndex|RetentionTest|IndexTest|TransportRoundTrip|TransportTest')

# Fuzzing: the frame decoder, both header serializations and the JSON request bodies.
FUZZ_SECONDS="${FUZZ_SECONDS:-60}" scripts/fuzz.sh
