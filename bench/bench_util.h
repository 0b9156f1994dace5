// Helpers shared by stele_bench (append_bench.cc) and stele_index_bench (index_bench.cc): the
// environment variables both read, the layout of their store directories, the store options they
// start from, the message body and the latency percentiles they report.
//
// Environment (both benchmarks):
//   STELE_BENCH_DIR  base directory for the stores (default ./stele-bench-data); every case uses a
//                    fresh subdirectory of it and removes it afterwards
//   STELE_BENCH_FS   "posix" for the POSIX backend; default io_uring (POSIX fallback)
#pragma once

#include <benchmark/benchmark.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "stele/file_system.h"
#include "stele/options.h"
#include "stele/store.h"

namespace stele::bench {

using Clock = std::chrono::steady_clock;

// Commit-log segment size of the benchmark stores (unless a case says otherwise).
constexpr uint64_t kSegmentSize = 256ull << 20;
// Size of Body(), the default message body.
constexpr size_t kBodySize = 1024;
constexpr std::string_view kTopic = "BenchTopic";

// The prefix of every message the helpers print on stderr ("<name>: ..."); main sets it first.
void SetProgramName(const char* name);
const char* ProgramName();

// The value of environment variable `name`, or `def` when it is unset or empty.
std::string Env(const char* name, const std::string& def);
// A positive number from environment variable `name`; `def` when unset, empty or not a positive
// number (the last with a note on stderr).
double EnvDouble(const char* name, double def);

// STELE_BENCH_DIR.
std::string BaseDir();
// STELE_BENCH_FS: the POSIX file system for "posix", else the default (io_uring, POSIX fallback).
std::shared_ptr<FileSystem> BaseFs();

inline double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }
inline double Micros(Clock::duration d) {
  return std::chrono::duration<double, std::micro>(d).count();
}

// A new, empty directory under the base directory ("stele-<pid>-<n>-<tag>": disk_compare.sh
// removes leftovers of interrupted runs by that pattern).
std::string FreshDir(const std::string& tag);
// Removes `dir` and everything below it; a failure is reported on stderr.
void RemoveDir(const std::string& dir);

// The store's segments: "<20 digits>" in <root>/commitlog (unfinished ones end in ".tmp").
std::vector<std::filesystem::path> SegmentFiles(const std::string& root);
// A fresh store prepares its next segment in the background (and under SYNC_FLUSH zero-fills it):
// waits (at most 15 s) for that to finish, so that a measurement does not include it, as it would
// not on a broker that has been up for a while.
void WaitForSpareSegment(const std::string& root);

// kBodySize incompressible, reproducible bytes.
const std::string& Body();

// The options every benchmark store starts from: root `dir`, `segment_size` commit-log segments,
// `type` flushing, file system `fs`.
StoreOptions BaseOptions(const std::string& dir, FlushDiskType type, uint64_t segment_size,
                         std::shared_ptr<FileSystem> fs);

// Closes `store` (a failure is reported on stderr) and resets it.
void CloseStore(std::unique_ptr<Store>& store);

// The p-quantile (0 <= p <= 1) of `sorted` (ascending): the nearest-rank element; 0 when empty.
double Percentile(const std::vector<double>& sorted, double p);
// Sets counters <prefix>p50_us, <prefix>p99_us, <prefix>p999_us and <prefix>max_us from
// `sorted_us` (ascending, microseconds).
void SetLatencyCounters(benchmark::State& state, const std::string& prefix,
                        const std::vector<double>& sorted_us);

// Adds the context entries stele_bench_dir, stele_segment_bytes and stele_body_bytes
// (bench/compare.py prints them).
void AddBenchContext();

}  // namespace stele::bench
