// Engine benchmarks (Google Benchmark).
//
//   BM_AppendSync    SYNC_FLUSH, 1 KiB bodies, 1 / 16 / 64 concurrent appenders (benchmark threads,
//                    one shared store): acknowledged appends per second and per-append latency.
//   BM_AppendAsync   ASYNC_FLUSH, 1 KiB bodies, 1 / 4 appender threads: MB/s and appends/s.
//   BM_AppendSyncWindow  SYNC_FLUSH through AppendAsync: one thread keeps 64 / 256 appends in
//   flight. BM_RecoveryScan  Store::Open after a simulated process crash over ~512 MiB of 1 KiB
//   records. BM_CleanReopen   Store::Open of a cleanly closed STELE_BENCH_REOPEN_GB (10) GiB store.
//
// The sync cases are registered (and so run) first: on the project machine fdatasync latency
// degrades for a while after a multi-GiB write burst (ref/perf.md), so they must not follow the
// bulk-throughput cases.
//
// Environment:
//   STELE_BENCH_DIR          base directory for the stores (default ./stele-bench-data); every case
//                            uses a fresh subdirectory of it and removes it afterwards
//   STELE_BENCH_FS           "posix" for the POSIX backend; default io_uring (POSIX fallback)
//   STELE_BENCH_WRITE_MODE   "mmap" for commitLogWriteMode=mmap; default "write" (pwritev)
//   STELE_BENCH_MIN_TIME     seconds per append case (default 3)
//   STELE_BENCH_RECOVERY_MB  MiB appended before the simulated crash (default 512)
//
// Counters with stable names (bench/compare.py reads them; 1 MB = 1e6 bytes):
//   append_MBps    record bytes (as stored, header included) per second of wall time
//   appends_per_s  appends acknowledged with PUT_OK per second of wall time, all appenders
//   p50_us p99_us  per-append latency (SYNC_FLUSH cases), all appenders together
//   scan_MBps      recovery's bytes_scanned / its scan_seconds (page-cache warm); recovery_s is
//                  the whole recovery, including the check of the unwritten tail
// and, for reading by people: append_flushed_MBps (ASYNC: with the time of a Flush() after the
// run, as fio's end_fsync), p999_us / max_us, timeouts (FLUSH_DISK_TIMEOUT acks), record_bytes.
// Wall time runs from the first iteration to the end of the last one, across all threads.
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "bench_util.h"
#include "io/fault_fs.h"
#include "stele/file_system.h"
#include "stele/message.h"
#include "stele/options.h"
#include "stele/store.h"

namespace stele::bench {
namespace {

namespace fs = std::filesystem;

// Segment sizes. Under SYNC_FLUSH every segment is zero-filled when created (the allocator prepares
// the next one as soon as a segment is opened); smaller segments there keep that bulk write, which
// disturbs fdatasync latency on the project machine, in proportion to what a case appends.
// (kSegmentSize, the ASYNC_FLUSH one, is in bench_util.h.)
constexpr uint64_t kSyncSegmentSize = 64ull << 20;
constexpr int kQueues = 8;

// fdatasync every segment file, so that a timed reopen measures the scan, not the write-back of
// whatever the crashed store left dirty in the page cache.
void SyncSegments(const std::string& root) {
  for (const fs::path& p : SegmentFiles(root)) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::fdatasync(fd) != 0) std::perror("stele_bench: fdatasync");
    ::close(fd);
  }
}

stele::Message BenchMessage(int i) {
  return stele::Message{.topic = kTopic, .queue_id = i % kQueues, .body = Body()};
}

// STELE_BENCH_WRITE_MODE=mmap selects commitLogWriteMode=mmap.
stele::StoreOptions BenchOptions(const std::string& dir, FlushDiskType type,
                                 std::shared_ptr<stele::FileSystem> fs) {
  stele::StoreOptions o =
      BaseOptions(dir, type, type == FlushDiskType::kSyncFlush ? kSyncSegmentSize : kSegmentSize,
                  std::move(fs));
  if (Env("STELE_BENCH_WRITE_MODE", "write") == "mmap") o.write_mode = stele::WriteMode::kMmap;
  return o;
}

// The store shared by the threads of an append case. Opened by the Setup callback (main thread,
// before the benchmark threads start) and kept open across the runs benchmark makes of the same
// case while it sizes the iteration count: reopening per run would create (under SYNC_FLUSH,
// zero-fill) a fresh segment each time and turn the sync cases into bulk-write runs. Closed and
// removed when another case starts or the program ends.
struct SharedStore {
  std::string key;
  std::string dir;
  std::string error;
  std::unique_ptr<stele::Store> store;

  void Reset() {
    if (store) CloseStore(store);
    if (!dir.empty()) RemoveDir(dir);
    key.clear();
    dir.clear();
    error.clear();
  }
};
SharedStore g_shared;

// Per-run totals from every benchmark thread; thread 0 waits for all of them, then reports.
struct Gather {
  std::mutex mu;
  std::condition_variable cv;
  int arrived = 0;
  uint64_t acked = 0;     // PUT_OK
  uint64_t timeouts = 0;  // FLUSH_DISK_TIMEOUT: stored, not confirmed durable in time
  uint64_t bytes = 0;
  std::vector<double> lat_us;

  void Reset() {
    std::lock_guard<std::mutex> l(mu);
    arrived = 0;
    acked = timeouts = bytes = 0;
    lat_us.clear();
  }
  void Add(uint64_t a, uint64_t t, uint64_t b, const std::vector<double>& lat) {
    {
      std::lock_guard<std::mutex> l(mu);
      acked += a;
      timeouts += t;
      bytes += b;
      lat_us.insert(lat_us.end(), lat.begin(), lat.end());
      ++arrived;
    }
    cv.notify_all();
  }
  void WaitAll(int n) {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return arrived >= n; });
  }
};
Gather g_gather;

void OpenShared(const benchmark::State& state, FlushDiskType type, const std::string& tag) {
  g_gather.Reset();
  const std::string key = tag + "/threads:" + std::to_string(state.threads());
  if (g_shared.key == key && g_shared.store) return;
  g_shared.Reset();
  g_shared.key = key;
  g_shared.dir = FreshDir(tag + "-t" + std::to_string(state.threads()));
  auto s = stele::Store::Open(BenchOptions(g_shared.dir, type, BaseFs()));
  if (!s.ok()) {
    g_shared.error = "Store::Open: " + s.status().ToString();
    return;
  }
  g_shared.store = std::move(*s);
  WaitForSpareSegment(g_shared.dir);
}

void SetupSync(const benchmark::State& state) {
  OpenShared(state, FlushDiskType::kSyncFlush, "sync");
}
void SetupAsync(const benchmark::State& state) {
  OpenShared(state, FlushDiskType::kAsyncFlush, "async");
}

// One Append per iteration on the shared store. Every thread reaches g_gather.Add, also after an
// error, so thread 0 never waits forever.
void RunAppends(benchmark::State& state, bool sync) {
  stele::Store* store = g_shared.store.get();
  if (store == nullptr) {
    state.SkipWithError(g_shared.error.empty() ? "no store" : g_shared.error.c_str());
  }
  const stele::Message msg = BenchMessage(state.thread_index());
  std::vector<double> lat;
  if (sync) lat.reserve(1 << 16);
  uint64_t acked = 0, timeouts = 0, bytes = 0;
  bool failed = store == nullptr;
  bool started = false;
  Clock::time_point start;
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    if (!started) {
      start = t0;
      started = true;
    }
    auto r = store->Append(msg);
    if (!r.ok()) {
      const std::string err = "Append: " + r.status().ToString();
      state.SkipWithError(err.c_str());
      failed = true;
      break;
    }
    if (sync) lat.push_back(std::chrono::duration<double, std::micro>(Clock::now() - t0).count());
    if (r->status == stele::PutMessageStatus::kPutOk) {
      ++acked;
    } else {
      ++timeouts;
    }
    bytes += static_cast<uint64_t>(r->wrote_bytes);
  }
  const Clock::time_point end = Clock::now();  // thread 0: every thread has finished its loop
  state.SetItemsProcessed(static_cast<int64_t>(acked));
  state.SetBytesProcessed(static_cast<int64_t>(bytes));
  g_gather.Add(acked, timeouts, bytes, lat);
  if (state.thread_index() != 0) return;

  g_gather.WaitAll(state.threads());
  std::lock_guard<std::mutex> l(g_gather.mu);
  const double secs = started ? Seconds(end - start) : 0;
  if (failed || secs <= 0) return;
  const uint64_t n = g_gather.acked + g_gather.timeouts;
  state.counters["appends_per_s"] = static_cast<double>(g_gather.acked) / secs;
  state.counters["append_MBps"] = static_cast<double>(g_gather.bytes) / 1e6 / secs;
  state.counters["timeouts"] = static_cast<double>(g_gather.timeouts);
  state.counters["record_bytes"] = n ? static_cast<double>(g_gather.bytes) / n : 0;
  if (sync) {
    std::vector<double>& v = g_gather.lat_us;
    std::sort(v.begin(), v.end());
    SetLatencyCounters(state, "", v);
  } else {
    // What fio's end_fsync=1 figure includes: the time to make the run's bytes durable.
    const Clock::time_point f0 = Clock::now();
    absl::Status st = store->Flush();
    const double flush_s = Seconds(Clock::now() - f0);
    if (!st.ok()) {
      state.SkipWithError(("Flush: " + st.ToString()).c_str());
      return;
    }
    state.counters["flush_s"] = flush_s;
    state.counters["append_flushed_MBps"] =
        static_cast<double>(g_gather.bytes) / 1e6 / (secs + flush_s);
  }
  state.SetLabel("fs=" + store->recovery_report().file_system);
}

void BM_AppendSync(benchmark::State& state) { RunAppends(state, /*sync=*/true); }
void BM_AppendAsync(benchmark::State& state) { RunAppends(state, /*sync=*/false); }

// Appends ~STELE_BENCH_RECOVERY_MB of 1 KiB records under ASYNC_FLUSH with the only checkpoint
// the one written at open (offset 0), "kills the process" (the fault FS fails every later write,
// so Close cannot flush, checkpoint or remove the abort marker), then times the reopen, whose
// recovery must scan and CRC-check every record. The data is still in the page cache, so this is a
// page-cache-warm figure (dropping caches needs root).
void BM_RecoveryScan(benchmark::State& state) {
  g_shared.Reset();  // give the append cases' disk space back first
  const auto target = static_cast<int64_t>(EnvDouble("STELE_BENCH_RECOVERY_MB", 512) * (1 << 20));
  const std::string dir = FreshDir("recovery");
  auto fault = std::make_shared<stele::io::FaultInjectionFS>(BaseFs(), /*seed=*/1);
  std::string error;
  int64_t crash_end = 0;
  uint64_t appended = 0;
  double write_s = 0;
  {
    stele::StoreOptions o = BenchOptions(dir, FlushDiskType::kAsyncFlush, fault);
    o.checkpoint_interval_ms = 1'000'000'000;
    o.flush_interval_commit_log_ms = 100;  // bounds the fault FS's copy of not-yet-synced pages
    auto s = stele::Store::Open(o);
    if (!s.ok()) {
      error = "Store::Open: " + s.status().ToString();
    } else {
      std::vector<stele::Message> batch;
      for (int i = 0; i < 64; ++i) batch.push_back(BenchMessage(i));
      const Clock::time_point w0 = Clock::now();
      while ((*s)->MaxOffset() < target) {
        auto r = (*s)->AppendBatch(batch);
        if (!r.ok()) {
          error = "AppendBatch: " + r.status().ToString();
          break;
        }
        appended += batch.size();
      }
      write_s = Seconds(Clock::now() - w0);
      crash_end = (*s)->MaxOffset();
      fault->Deactivate();  // the process "dies": nothing more reaches the files
      std::fprintf(stderr, "stele_bench: simulated crash; the close errors below are expected\n");
      s->reset();
    }
  }
  fault->Activate();
  SyncSegments(dir);
  if (!error.empty()) state.SkipWithError(error.c_str());

  std::unique_ptr<stele::Store> store;
  double open_s = 0;
  for (auto _ : state) {
    const Clock::time_point t0 = Clock::now();
    auto s = stele::Store::Open(BenchOptions(dir, FlushDiskType::kAsyncFlush, fault));
    open_s = Seconds(Clock::now() - t0);
    if (!s.ok()) {
      error = "reopen: " + s.status().ToString();
      state.SkipWithError(error.c_str());
      break;
    }
    state.SetIterationTime(open_s);
    store = std::move(*s);
  }
  if (store) {
    const stele::RecoveryReport& rep = store->recovery_report();
    if (rep.clean_shutdown || rep.end_offset != crash_end || rep.records_scanned != appended) {
      error = "recovery did not restore what was written: clean_shutdown=" +
              std::to_string(rep.clean_shutdown) + " end_offset=" + std::to_string(rep.end_offset) +
              " (want " + std::to_string(crash_end) +
              ") records_scanned=" + std::to_string(rep.records_scanned) + " (want " +
              std::to_string(appended) + ")";
      state.SkipWithError(error.c_str());
    } else {
      state.counters["scan_MBps"] =
          rep.scan_seconds > 0 ? rep.bytes_scanned / 1e6 / rep.scan_seconds : 0;
      state.counters["scanned_MB"] = rep.bytes_scanned / 1e6;
      state.counters["records_scanned"] = static_cast<double>(rep.records_scanned);
      state.counters["recovery_s"] = rep.seconds;
      state.counters["open_s"] = open_s;
      state.counters["write_MBps"] = write_s > 0 ? crash_end / 1e6 / write_s : 0;
      state.SetLabel("fs=" + rep.file_system + ", page-cache-warm");
    }
    CloseStore(store);
  }
  RemoveDir(dir);
}

// SYNC_FLUSH through the callback API, as a server would use it: one thread keeps `window` appends
// in flight (AppendAsync) and each completes when its group commit is durable. No thread per
// append, so the figure is not bounded by context switches between 64 appender threads.
void RunWindow(benchmark::State& state, FlushDiskType type) {
  const int window = static_cast<int>(state.range(0));
  const std::string dir = FreshDir(type == FlushDiskType::kSyncFlush ? "syncwin" : "asyncwin");
  auto store = stele::Store::Open(BenchOptions(dir, type, BaseFs()));
  if (!store.ok()) {
    state.SkipWithError(store.status().ToString().c_str());
    return;
  }
  WaitForSpareSegment(dir);
  std::mutex mu;
  std::condition_variable cv;
  int in_flight = 0;
  int64_t ok = 0, failed = 0, bytes = 0;
  int i = 0;
  const auto t0 = Clock::now();
  for (auto _ : state) {
    {
      std::unique_lock<std::mutex> l(mu);
      cv.wait(l, [&] { return in_flight < window; });
      ++in_flight;
    }
    (*store)->AppendAsync(BenchMessage(i++), [&](absl::StatusOr<stele::AppendResult> r) {
      std::lock_guard<std::mutex> l(mu);
      --in_flight;
      if (r.ok() && r->status == stele::PutMessageStatus::kPutOk) {
        ++ok;
        bytes += r->wrote_bytes;
      } else {
        ++failed;
      }
      cv.notify_one();
    });
  }
  {
    std::unique_lock<std::mutex> l(mu);
    cv.wait(l, [&] { return in_flight == 0; });
  }
  const double secs = Seconds(Clock::now() - t0);
  state.counters["appends_per_s"] = secs > 0 ? static_cast<double>(ok) / secs : 0;
  state.counters["append_MBps"] = secs > 0 ? static_cast<double>(bytes) / 1e6 / secs : 0;
  state.counters["failed"] = static_cast<double>(failed);
  state.SetItemsProcessed(ok);
  store->reset();
  RemoveDir(dir);
}

void BM_AppendSyncWindow(benchmark::State& state) { RunWindow(state, FlushDiskType::kSyncFlush); }
// ASYNC_FLUSH through AppendAsync (how a broker's network threads would append): the engine
// writes whatever is staged with one pwritev and completes all of it.
void BM_AppendAsyncWindow(benchmark::State& state) { RunWindow(state, FlushDiskType::kAsyncFlush); }

// A clean restart of a large store: Close() writes a checkpoint at the end of the log, so Open()
// scans nothing, whatever the size. STELE_BENCH_REOPEN_GB (default 10) GiB are written first.
void BM_CleanReopen(benchmark::State& state) {
  const double gib = EnvDouble("STELE_BENCH_REOPEN_GB", 10);
  const std::string dir = FreshDir("reopen");
  auto opts = BenchOptions(dir, FlushDiskType::kAsyncFlush, BaseFs());
  opts.mapped_file_size_commit_log = 1ull << 30;
  std::string big(1 << 20, 'r');
  {
    auto store = stele::Store::Open(opts);
    if (!store.ok()) {
      state.SkipWithError(store.status().ToString().c_str());
      return;
    }
    const int64_t target = static_cast<int64_t>(gib * (1ull << 30));
    std::vector<stele::Message> batch(3, stele::Message{.topic = kTopic, .body = big});
    while ((*store)->MaxOffset() < target) {
      auto r = (*store)->AppendBatch(batch);
      if (!r.ok()) {
        state.SkipWithError(r.status().ToString().c_str());
        return;
      }
    }
    if (!(*store)->Close().ok()) {
      state.SkipWithError("close failed");
      return;
    }
  }
  for (auto _ : state) {
    const auto t0 = Clock::now();
    auto store = stele::Store::Open(opts);
    const double open_s = Seconds(Clock::now() - t0);
    if (!store.ok() || !(*store)->recovery_report().clean_shutdown) {
      state.SkipWithError("reopen failed or was not clean");
      break;
    }
    state.SetIterationTime(open_s);
    state.counters["open_ms"] = open_s * 1000;
    state.counters["log_GiB"] = static_cast<double>((*store)->MaxOffset()) / (1ull << 30);
    state.counters["scanned_bytes"] =
        static_cast<double>((*store)->recovery_report().bytes_scanned);
  }
  RemoveDir(dir);
}

int Main(int argc, char** argv) {
  SetProgramName("stele_bench");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  const double min_time = EnvDouble("STELE_BENCH_MIN_TIME", 3.0);
  AddBenchContext();
  benchmark::AddCustomContext("stele_sync_segment_bytes", std::to_string(kSyncSegmentSize));

  // Sync (latency-sensitive) cases first; see the top of the file.
  benchmark::RegisterBenchmark("BM_AppendSync", BM_AppendSync)
      ->Setup(SetupSync)
      ->Threads(1)
      ->Threads(16)
      ->Threads(64)
      ->MinTime(min_time)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_AppendSyncWindow", BM_AppendSyncWindow)
      ->Arg(64)
      ->Arg(256)
      ->MinTime(min_time)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_AppendAsyncWindow", BM_AppendAsyncWindow)
      ->Arg(256)
      ->MinTime(min_time)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_AppendAsync", BM_AppendAsync)
      ->Setup(SetupAsync)
      ->Threads(1)
      ->Threads(4)
      ->MinTime(min_time)
      ->UseRealTime()
      ->Unit(benchmark::kMicrosecond);
  benchmark::RegisterBenchmark("BM_RecoveryScan", BM_RecoveryScan)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);

  benchmark::RegisterBenchmark("BM_CleanReopen", BM_CleanReopen)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);

  benchmark::RunSpecifiedBenchmarks();
  g_shared.Reset();
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace stele::bench

int main(int argc, char** argv) { return stele::bench::Main(argc, argv); }
