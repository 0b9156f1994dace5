// Index-layer benchmarks (Google Benchmark): what the dispatcher, the consume queues and the hash
// index cost a consumer.
//
//   BM_DispatchLag/rate:R/keys:K  ASYNC_FLUSH; one producer thread appends 1 KiB messages to one
//       queue with Append, paced open-loop at R msgs/s for STELE_BENCH_LAG_SECONDS; with K=1 every
//       message also carries a unique KEYS value (so the dispatcher indexes it, as RocketMQ
//       clients' UNIQ_KEY makes it do). Lag of a message = the time the arrival listener
//       (dispatcher thread) reports a queue max offset covering it - the time its Append returned.
//       Both instants are steady_clock, recorded per queue offset; the listener only stores a time.
//   BM_ReadByQueueOffset/cold:C   STELE_BENCH_READ_MB of 1 KiB messages in one queue, read back
//       in queue order with Get(max_messages = 32), each record copied into a buffer (as fio's
//       read() copies). C=0: page-cache warm, right after dispatch. C=1: the store is closed, every
//       file fdatasync'ed and dropped from the page cache with POSIX_FADV_DONTNEED (what fio's
//       --invalidate=1 does before its cold read), then reopened and read.
//   BM_IndexLookup/keys:N         N messages with small bodies and one unique key each
//       (AppendBatch, ASYNC_FLUSH, default index geometry), then QueryByKey for random existing
//       keys: per-lookup latency, page-cache warm. N = 1 M always; 10 M only with
//       STELE_BENCH_INDEX_10M=1 (its setup appends 1.6 GB and indexes 10 M keys: ~30 s on the
//       project machine, more when it is busy).
//
// Environment (same conventions as stele_bench):
//   STELE_BENCH_DIR          base directory for the stores (default ./stele-bench-data); every case
//                            uses a fresh subdirectory of it and removes it afterwards
//   STELE_BENCH_FS           "posix" for the POSIX backend; default io_uring (POSIX fallback)
//   STELE_BENCH_LAG_SECONDS  seconds of paced load per dispatch-lag case (default 4)
//   STELE_BENCH_READ_MB      MiB of messages for the read cases (default 1024, as fio's 1 GiB file)
//   STELE_BENCH_LOOKUPS      lookups timed per index case (default 200000)
//   STELE_BENCH_INDEX_10M    "1" adds the 10 M-key lookup case
//   STELE_BENCH_OPTS         "key=value;..." store options by RocketMQ key, for experiments
//   STELE_BENCH_READ_ADVICE  "sequential" or "willneed": madvise the engine's segment mappings
//                            before reading them (an experiment: the engine does not do it)
//   STELE_BENCH_LAG_DUMP     a file to write every message's timestamps to (dispatch-lag cases)
//   STELE_BENCH_DROP_CACHES  "1": the cold read also writes 1 to /proc/sys/vm/drop_caches (root;
//                            drops every clean page of the machine, so off by default)
//
// Counters with stable names (bench/compare.py reads them; 1 MB = 1e6 bytes):
//   lag_p50_us lag_p99_us lag_p999_us lag_max_us   dispatch lag from Append's return
//   call_lag_p99_us     the same from just before Append was called (includes the append itself)
//   achieved_per_s      messages appended per second of the paced run (target: target_per_s)
//   read_MBps msgs_per_s  record bytes (header included) and messages read per second
//   read_MB_per_cpu_s   the same bytes per second of the reading thread's CPU time (user + system)
//   lookup_p50_us lookup_p99_us  QueryByKey latency; setup_s = appending + dispatching the keys
#include <benchmark/benchmark.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "bench_util.h"
#include "stele/file_system.h"
#include "stele/message.h"
#include "stele/options.h"
#include "stele/store.h"

namespace stele::bench {
namespace {

namespace fs = std::filesystem;

constexpr size_t kSmallBodySize = 16;
constexpr int kLookupQueues = 8;

// STELE_BENCH_OPTS="key=value;key=value" (RocketMQ key names, as in broker.conf) overrides the
// defaults below, for experiments such as "checkpointInterval=60000".
stele::StoreOptions BenchOptions(const std::string& dir) {
  stele::StoreOptions o =
      BaseOptions(dir, stele::FlushDiskType::kAsyncFlush, kSegmentSize, BaseFs());
  const std::string extra = Env("STELE_BENCH_OPTS", "");
  for (size_t pos = 0; pos < extra.size();) {
    const size_t end = std::min(extra.find(';', pos), extra.size());
    const std::string kv = extra.substr(pos, end - pos);
    pos = end + 1;
    const size_t eq = kv.find('=');
    if (kv.empty()) continue;
    absl::Status st = eq == std::string::npos ? absl::InvalidArgumentError("want key=value")
                                              : o.SetOption(kv.substr(0, eq), kv.substr(eq + 1));
    if (!st.ok()) {
      std::fprintf(stderr, "stele_index_bench: ignoring STELE_BENCH_OPTS entry '%s': %s\n",
                   kv.c_str(), st.ToString().c_str());
    }
  }
  return o;
}

// "KEY-0000001234": fixed width, so every message has the same size.
std::string KeyOf(int64_t i) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "KEY-%010lld", static_cast<long long>(i));
  return buf;
}

// Blocks until every queue of kTopic in [0, queues) shows every appended message (the dispatcher
// has put them in the consume queues and, before that, in the index). False on timeout.
bool WaitDispatched(stele::Store& s, int queues, std::chrono::seconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (int q = 0; q < queues; ++q) {
    const int64_t next = s.NextQueueOffset(kTopic, q);
    if (next == 0) continue;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0 || !s.WaitForMessages(kTopic, q, next - 1, left)) return false;
  }
  return true;
}

// Every regular file under `root`, recursively.
std::vector<fs::path> StoreFiles(const std::string& root) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(root, ec)) {
    if (e.is_regular_file(ec)) out.push_back(e.path());
  }
  return out;
}

// Makes the files durable, then drops their clean pages from the page cache (fio --invalidate=1
// does the same fadvise). Pages mapped by a live process are not dropped: close the store first.
void EvictFromPageCache(const std::string& root) {
  for (const fs::path& p : StoreFiles(root)) {
    const int fd = ::open(p.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    if (::fdatasync(fd) != 0) std::perror("stele_index_bench: fdatasync");
    (void)::posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    ::close(fd);
  }
  if (Env("STELE_BENCH_DROP_CACHES", "") == "1") {
    ::sync();
    const int fd = ::open("/proc/sys/vm/drop_caches", O_WRONLY | O_CLOEXEC);
    if (fd < 0 || ::write(fd, "1", 1) != 1) std::perror("stele_index_bench: drop_caches");
    if (fd >= 0) ::close(fd);
  }
}

// Fraction of the commit log's pages that are in the page cache (mincore on a fresh mapping,
// which does not fault anything in).
double CommitLogResidentFraction(const std::string& root) {
  const long page = ::sysconf(_SC_PAGESIZE);
  uint64_t total = 0, resident = 0;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(fs::path(root) / "commitlog", ec)) {
    const int fd = ::open(e.path().c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) continue;
    const off_t size = ::lseek(fd, 0, SEEK_END);
    if (size > 0) {
      void* m = ::mmap(nullptr, static_cast<size_t>(size), PROT_READ, MAP_SHARED, fd, 0);
      if (m != MAP_FAILED) {
        std::vector<unsigned char> vec((static_cast<size_t>(size) + page - 1) / page);
        if (::mincore(m, static_cast<size_t>(size), vec.data()) == 0) {
          total += vec.size();
          for (unsigned char v : vec) resident += v & 1;
        }
        ::munmap(m, static_cast<size_t>(size));
      }
    }
    ::close(fd);
  }
  return total ? static_cast<double>(resident) / static_cast<double>(total) : 0;
}

double ThreadCpuSeconds() {
  timespec ts{};
  ::clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

// ---- BM_DispatchLag ----

void BM_DispatchLag(benchmark::State& state) {
  const double rate = static_cast<double>(state.range(0));
  const bool with_keys = state.range(1) != 0;
  const double run_s = EnvDouble("STELE_BENCH_LAG_SECONDS", 4);
  const auto period =
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(1.0 / rate));
  const size_t cap = static_cast<size_t>(rate * run_s * 1.05) + 1024;

  const std::string dir = FreshDir("lag");
  auto opened = stele::Store::Open(BenchOptions(dir));
  if (!opened.ok()) {
    state.SkipWithError(("Store::Open: " + opened.status().ToString()).c_str());
    return;
  }
  std::unique_ptr<stele::Store> store = std::move(*opened);
  WaitForSpareSegment(dir);

  // Per queue offset: when Append was called, when it returned (producer thread only) and when
  // the listener saw it readable (dispatcher thread only; read after `seen` is acquired).
  std::vector<int64_t> t_call(cap), t_ret(cap);
  std::unique_ptr<int64_t[]> t_vis(new int64_t[cap]());
  std::atomic<int64_t> seen{0};
  std::atomic<int64_t> want{INT64_MAX};
  std::mutex mu;
  std::condition_variable cv;
  const Clock::time_point epoch = Clock::now();
  auto ns = [epoch](Clock::time_point t) { return (t - epoch).count(); };

  store->SetArrivalListener([&](std::string_view topic, int32_t queue_id, int64_t max_offset) {
    if (topic != kTopic || queue_id != 0) return;
    const int64_t now = ns(Clock::now());
    const int64_t from = seen.load(std::memory_order_relaxed);
    const int64_t to = std::min<int64_t>(max_offset, static_cast<int64_t>(cap));
    for (int64_t o = from; o < to; ++o) t_vis[o] = now;
    seen.store(std::max(from, to), std::memory_order_release);
    if (to >= want.load(std::memory_order_acquire)) {
      std::lock_guard<std::mutex> l(mu);
      cv.notify_all();
    }
  });

  // Pacing sleeps need sub-50 µs wake-ups (the default timer slack is 50 µs).
  (void)::prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  std::string key;
  stele::Message msg{.topic = kTopic, .queue_id = 0, .body = Body()};
  int64_t n = 0;
  double behind_max_us = 0;
  std::string error;
  Clock::time_point start, last_ret;
  for (auto _ : state) {
    start = Clock::now();
    const Clock::time_point stop =
        start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(run_s));
    Clock::time_point due = start;
    while (static_cast<size_t>(n) < cap) {
      Clock::time_point now = Clock::now();
      if (now < due) {
        std::this_thread::sleep_until(due);  // pacing: the only sleep in the loop
        now = Clock::now();
      }
      if (due >= stop) break;
      behind_max_us = std::max(behind_max_us, Micros(now - due));
      if (with_keys) {
        key = KeyOf(n);
        msg.keys = key;
      }
      auto r = store->Append(msg);
      const Clock::time_point ret = Clock::now();
      if (!r.ok()) {
        error = "Append: " + r.status().ToString();
        break;
      }
      if (r->queue_offset != n) {
        error = "unexpected queue offset " + std::to_string(r->queue_offset);
        break;
      }
      t_call[n] = ns(now);
      t_ret[n] = ns(ret);
      last_ret = ret;
      ++n;
      due += period;
    }
    state.SetIterationTime(n > 0 ? Seconds(last_ret - start) : 0);
  }
  (void)::prctl(PR_SET_TIMERSLACK, 0UL, 0, 0, 0);  // back to the default

  // Wait for the listener to have seen the last message (it runs after the queue is published).
  want.store(n, std::memory_order_release);
  bool complete;
  {
    std::unique_lock<std::mutex> l(mu);
    complete = cv.wait_for(l, std::chrono::seconds(30),
                           [&] { return seen.load(std::memory_order_acquire) >= n; });
  }
  store->SetArrivalListener(nullptr);
  if (error.empty() && !complete) {
    error = "the listener saw " + std::to_string(seen.load()) + " of " + std::to_string(n);
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
  } else {
    std::vector<double> lag(static_cast<size_t>(n)), call_lag(static_cast<size_t>(n));
    int64_t before_return = 0;
    for (int64_t i = 0; i < n; ++i) {
      const int64_t d = t_vis[i] - t_ret[i];
      if (d < 0) ++before_return;  // readable before Append had returned
      lag[i] = static_cast<double>(std::max<int64_t>(d, 0)) / 1e3;
      call_lag[i] = static_cast<double>(t_vis[i] - t_call[i]) / 1e3;
    }
    if (const std::string path = Env("STELE_BENCH_LAG_DUMP", ""); !path.empty()) {
      // One line per message: queue offset, Append called / returned / seen readable (µs from the
      // start of the run). For finding what the slow ones have in common.
      if (FILE* f = std::fopen(path.c_str(), "w")) {
        const int64_t s0 = ns(start);
        for (int64_t i = 0; i < n; ++i) {
          std::fprintf(f, "%lld %.1f %.1f %.1f\n", static_cast<long long>(i),
                       (t_call[i] - s0) / 1e3, (t_ret[i] - s0) / 1e3, (t_vis[i] - s0) / 1e3);
        }
        std::fclose(f);
      }
    }
    std::sort(lag.begin(), lag.end());
    std::sort(call_lag.begin(), call_lag.end());
    const double secs = n > 0 ? Seconds(last_ret - start) : 0;
    state.counters["target_per_s"] = rate;
    state.counters["achieved_per_s"] = secs > 0 ? static_cast<double>(n) / secs : 0;
    state.counters["messages"] = static_cast<double>(n);
    SetLatencyCounters(state, "lag_", lag);
    state.counters["call_lag_p50_us"] = Percentile(call_lag, 0.50);
    state.counters["call_lag_p99_us"] = Percentile(call_lag, 0.99);
    state.counters["visible_before_return"] = static_cast<double>(before_return);
    state.counters["pacing_behind_max_us"] = behind_max_us;
    state.SetItemsProcessed(n);
    state.SetBytesProcessed(n * static_cast<int64_t>(kBodySize));
    state.SetLabel("fs=" + store->recovery_report().file_system);
  }
  CloseStore(store);
  RemoveDir(dir);
}

// ---- BM_ReadByQueueOffset ----

// The store the read cases share: filled once (by the first read case), removed at exit.
struct ReadStore {
  std::string dir;
  std::string error;
  std::unique_ptr<stele::Store> store;
  int64_t messages = 0;
  double fill_s = 0;
};
ReadStore g_read;

void FillReadStore() {
  if (!g_read.dir.empty()) return;
  g_read.dir = FreshDir("read");
  auto s = stele::Store::Open(BenchOptions(g_read.dir));
  if (!s.ok()) {
    g_read.error = "Store::Open: " + s.status().ToString();
    return;
  }
  g_read.store = std::move(*s);
  const int64_t target = static_cast<int64_t>(EnvDouble("STELE_BENCH_READ_MB", 1024) * (1 << 20));
  std::vector<stele::Message> batch(64, stele::Message{.topic = kTopic, .body = Body()});
  const Clock::time_point t0 = Clock::now();
  while (g_read.store->MaxOffset() < target) {
    auto r = g_read.store->AppendBatch(batch);
    if (!r.ok()) {
      g_read.error = "AppendBatch: " + r.status().ToString();
      return;
    }
    g_read.messages += static_cast<int64_t>(batch.size());
  }
  if (!WaitDispatched(*g_read.store, 1, std::chrono::seconds(120))) {
    g_read.error = "dispatch did not finish within 120 s";
    return;
  }
  g_read.fill_s = Seconds(Clock::now() - t0);
}

// Experiment (STELE_BENCH_READ_ADVICE=sequential|willneed): what a madvise on the engine's
// read-only segment mapping would change. The mapping is found from a record's address: segments
// start at multiples of the segment size and each is mapped whole, page-aligned.
void AdviseSegmentOf(const stele::RecordRef& m, int64_t segment_size, int advice) {
  static const char* last = nullptr;
  const char* base = m.bytes.data() - m.offset % segment_size;
  if (base == last) return;
  last = base;
  if (::madvise(const_cast<char*>(base), static_cast<size_t>(segment_size), advice) != 0) {
    std::perror("stele_index_bench: madvise");
  }
}

int ReadAdvice() {
  const std::string a = Env("STELE_BENCH_READ_ADVICE", "");
  if (a == "sequential") return MADV_SEQUENTIAL;
  if (a == "willneed") return MADV_WILLNEED;
  if (!a.empty())
    std::fprintf(stderr, "stele_index_bench: ignoring STELE_BENCH_READ_ADVICE=%s\n", a.c_str());
  return -1;
}

// Reads queue 0 from offset 0 to its end; returns record bytes read (-1 with `error` set).
int64_t ReadWholeQueue(stele::Store& s, int64_t* msgs, std::string* error) {
  const stele::GetOptions opts{.max_messages = 32};
  static char sink[64 << 10];
  static const int advice = ReadAdvice();
  int64_t off = 0, bytes = 0, n = 0;
  const int64_t max = s.MaxQueueOffset(kTopic, 0);
  while (off < max) {
    auto r = s.Get(kTopic, 0, off, opts);
    if (!r.ok() || r->status != stele::GetMessageStatus::kFound) {
      *error =
          "Get at " + std::to_string(off) + ": " +
          (r.ok() ? std::string(stele::GetMessageStatusName(r->status)) : r.status().ToString());
      return -1;
    }
    size_t at = 0;
    if (advice >= 0) {
      AdviseSegmentOf(r->messages.front(),
                      static_cast<int64_t>(s.options().mapped_file_size_commit_log), advice);
    }
    for (const stele::RecordRef& m : r->messages) {
      // What a broker does with a record it serves: copy it towards the socket (as fio's read()
      // copies into its buffer).
      if (at + m.bytes.size() > sizeof sink) at = 0;
      std::memcpy(sink + at, m.bytes.data(), m.bytes.size());
      at += m.bytes.size();
      bytes += static_cast<int64_t>(m.bytes.size());
    }
    benchmark::DoNotOptimize(sink);
    benchmark::ClobberMemory();
    n += static_cast<int64_t>(r->messages.size());
    off = r->next_begin_offset;
  }
  *msgs = n;
  return bytes;
}

void BM_ReadByQueueOffset(benchmark::State& state) {
  const bool cold = state.range(0) != 0;
  FillReadStore();
  if (!g_read.error.empty()) {
    state.SkipWithError(g_read.error.c_str());
    return;
  }
  double resident = -1;
  if (cold) {
    // Close (unmaps everything), drop the files from the page cache, reopen (a clean open scans
    // nothing), then read.
    absl::Status st = g_read.store->Close();
    g_read.store.reset();
    if (!st.ok()) {
      g_read.error = "close: " + st.ToString();
      state.SkipWithError(g_read.error.c_str());
      return;
    }
    EvictFromPageCache(g_read.dir);
    auto s = stele::Store::Open(BenchOptions(g_read.dir));
    if (!s.ok()) {
      g_read.error = "reopen: " + s.status().ToString();
      state.SkipWithError(g_read.error.c_str());
      return;
    }
    g_read.store = std::move(*s);
    resident = CommitLogResidentFraction(g_read.dir);
  }
  int64_t bytes = 0, msgs = 0, total_bytes = 0, total_msgs = 0;
  double total_s = 0;
  std::string error;
  double cpu_s = 0;
  for (auto _ : state) {
    const double c0 = ThreadCpuSeconds();
    const Clock::time_point t0 = Clock::now();
    bytes = ReadWholeQueue(*g_read.store, &msgs, &error);
    const double s = Seconds(Clock::now() - t0);
    cpu_s += ThreadCpuSeconds() - c0;
    if (bytes < 0) {
      state.SkipWithError(error.c_str());
      return;
    }
    if (msgs != g_read.messages) {
      error = "read " + std::to_string(msgs) + " of " + std::to_string(g_read.messages);
      state.SkipWithError(error.c_str());
      return;
    }
    state.SetIterationTime(s);
    total_s += s;
    total_bytes += bytes;
    total_msgs += msgs;
  }
  state.SetBytesProcessed(total_bytes);
  state.SetItemsProcessed(total_msgs);
  state.counters["read_MBps"] = total_s > 0 ? total_bytes / 1e6 / total_s : 0;
  state.counters["msgs_per_s"] = total_s > 0 ? total_msgs / total_s : 0;
  state.counters["log_MB"] = bytes / 1e6;
  state.counters["messages"] = static_cast<double>(msgs);
  state.counters["fill_s"] = g_read.fill_s;
  // The reading thread's own CPU time (user + system, page faults included): on a shared machine
  // this shows whether the reader was waiting for the disk or for a CPU.
  state.counters["reader_cpu_pct"] = total_s > 0 ? 100 * cpu_s / total_s : 0;
  state.counters["read_MB_per_cpu_s"] = cpu_s > 0 ? total_bytes / 1e6 / cpu_s : 0;
  if (cold) state.counters["resident_at_start_pct"] = resident * 100;
  state.SetLabel("fs=" + g_read.store->recovery_report().file_system +
                 (cold ? ", page-cache cold (fadvise DONTNEED)" : ", page-cache warm"));
}

// ---- BM_IndexLookup ----

void BM_IndexLookup(benchmark::State& state) {
  const int64_t keys = state.range(0);
  const int lookups = static_cast<int>(EnvDouble("STELE_BENCH_LOOKUPS", 200000));
  const std::string dir = FreshDir("index");
  auto opened = stele::Store::Open(BenchOptions(dir));
  if (!opened.ok()) {
    state.SkipWithError(("Store::Open: " + opened.status().ToString()).c_str());
    return;
  }
  std::unique_ptr<stele::Store> store = std::move(*opened);
  const std::string small_body(kSmallBodySize, 'b');

  // Setup: batches of 256 messages, one unique key each, spread over 8 queues.
  constexpr int kBatch = 256;
  std::vector<std::string> batch_keys(kBatch);
  std::vector<stele::Message> batch(kBatch);
  std::string error;
  const Clock::time_point t0 = Clock::now();
  for (int64_t i = 0; i < keys && error.empty(); i += kBatch) {
    const int n = static_cast<int>(std::min<int64_t>(kBatch, keys - i));
    for (int j = 0; j < n; ++j) {
      batch_keys[j] = KeyOf(i + j);
      batch[j] = stele::Message{.topic = kTopic,
                                .queue_id = static_cast<int32_t>((i + j) % kLookupQueues),
                                .body = small_body,
                                .keys = batch_keys[j]};
    }
    auto r = store->AppendBatch(std::span<const stele::Message>(batch.data(), n));
    if (!r.ok()) error = "AppendBatch: " + r.status().ToString();
  }
  const double append_s = Seconds(Clock::now() - t0);
  if (error.empty() && !WaitDispatched(*store, kLookupQueues, std::chrono::seconds(600))) {
    error = "dispatch did not finish within 600 s";
  }
  const double setup_s = Seconds(Clock::now() - t0);

  std::vector<double> lat;
  lat.reserve(static_cast<size_t>(lookups));
  int64_t found = 0, wrong = 0;
  double cpu_s = 0;  // the looking-up thread's CPU time, key formatting and clock reads included
  if (error.empty()) {
    std::mt19937_64 rng(42);
    std::uniform_int_distribution<int64_t> pick(0, keys - 1);
    std::string key;
    for (auto _ : state) {
      double total_s = 0;
      const double c0 = ThreadCpuSeconds();
      for (int i = 0; i < lookups; ++i) {
        key = KeyOf(pick(rng));
        const Clock::time_point q0 = Clock::now();
        auto r = store->QueryByKey(kTopic, key, 64);
        const Clock::duration d = Clock::now() - q0;
        if (!r.ok()) {
          error = "QueryByKey: " + r.status().ToString();
          break;
        }
        lat.push_back(Micros(d));
        total_s += Seconds(d);
        if (r->size() == 1) {
          ++found;
        } else {
          ++wrong;
        }
      }
      cpu_s += ThreadCpuSeconds() - c0;
      state.SetIterationTime(total_s);
      if (!error.empty()) break;
    }
  }
  if (!error.empty()) {
    state.SkipWithError(error.c_str());
  } else {
    std::sort(lat.begin(), lat.end());
    double sum = 0;
    for (double v : lat) sum += v;
    state.counters["keys"] = static_cast<double>(keys);
    SetLatencyCounters(state, "lookup_", lat);
    state.counters["lookups_per_s"] = sum > 0 ? lat.size() / (sum / 1e6) : 0;
    state.counters["found"] = static_cast<double>(found);
    state.counters["not_exactly_one"] = static_cast<double>(wrong);
    // Mean CPU cost of a lookup: unlike the wall-clock percentiles, not inflated when other
    // processes take the CPU.
    state.counters["lookup_cpu_us"] = lat.empty() ? 0 : cpu_s * 1e6 / lat.size();
    state.counters["setup_s"] = setup_s;
    state.counters["append_s"] = append_s;
    state.counters["setup_keys_per_s"] = setup_s > 0 ? keys / setup_s : 0;
    state.counters["log_MB"] = store->MaxOffset() / 1e6;
    state.SetItemsProcessed(static_cast<int64_t>(lat.size()));
    state.SetLabel("fs=" + store->recovery_report().file_system + ", page-cache warm");
  }
  CloseStore(store);
  RemoveDir(dir);
}

int Main(int argc, char** argv) {
  SetProgramName("stele_index_bench");
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  AddBenchContext();

  // The latency case first: it must not follow the multi-GiB fills of the others (dirty page
  // cache write-back then competes with it; see ref/perf.md).
  benchmark::RegisterBenchmark("BM_DispatchLag", BM_DispatchLag)
      ->ArgNames({"rate", "keys"})
      ->Args({100000, 0})
      ->Args({100000, 1})
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  benchmark::RegisterBenchmark("BM_ReadByQueueOffset", BM_ReadByQueueOffset)
      ->ArgName("cold")
      ->Arg(0)
      ->Arg(1)
      ->Iterations(1)
      ->UseManualTime()
      ->Unit(benchmark::kMillisecond);
  auto* lookup = benchmark::RegisterBenchmark("BM_IndexLookup", BM_IndexLookup)
                     ->ArgName("keys")
                     ->Arg(1'000'000)
                     ->Iterations(1)
                     ->UseManualTime()
                     ->Unit(benchmark::kMicrosecond);
  if (Env("STELE_BENCH_INDEX_10M", "") == "1") lookup->Arg(10'000'000);

  benchmark::RunSpecifiedBenchmarks();
  if (g_read.store) (void)g_read.store->Close();
  g_read.store.reset();
  if (!g_read.dir.empty()) RemoveDir(g_read.dir);
  benchmark::Shutdown();
  return 0;
}

}  // namespace
}  // namespace stele::bench

int main(int argc, char** argv) { return stele::bench::Main(argc, argv); }
