// stele_timer_bench: the broker's timer path in-process (MessageWriter -> rmq_sys_wheel_timer ->
// TimerService -> real topic), without the network. Schedules N timer messages of 1 KiB due
// --delay_ms from the start, spread uniformly over --spread_ms, then waits for every delivery.
//
// Reports: the schedule rate (parked messages acknowledged per second), the fire rate (deliveries
// per second from the first due time to the last delivery; with --spread_ms=0 all are due at one
// tick, so this is the wheel's burst throughput), and the delivery error (store time of the
// delivered copy minus the requested time) at p50 / p99 / max.
//
// Baseline, same run and same store: N plain 1 KiB puts (no timer property) through the same
// MessageWriter, before the timers; the schedule and fire rates are also printed as ratios of it
// (a timer costs a park and, when it fires, a second put, so ~0.5x is the natural ceiling of fire).
//
//   stele_timer_bench [--n=100000] [--delay_ms=3000] [--spread_ms=0] [--dir=DIR] [--sync]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "fmt/format.h"
#include "net/broker/message_writer.h"
#include "net/broker/state/broker_config.h"
#include "net/broker/state/names.h"
#include "net/broker/timer_service.h"
#include "stele/store.h"

namespace {

using namespace stele;
using namespace stele::broker;

int64_t Flag(int argc, char** argv, const char* name, int64_t def) {
  const std::string prefix = fmt::format("--{}=", name);
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]).starts_with(prefix)) return std::atoll(argv[i] + prefix.size());
  }
  return def;
}
std::string FlagStr(int argc, char** argv, const char* name, std::string def) {
  const std::string prefix = fmt::format("--{}=", name);
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]).starts_with(prefix)) return argv[i] + prefix.size();
  }
  return def;
}
bool HasFlag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i) {
    if (std::string_view(argv[i]) == name) return true;
  }
  return false;
}

int64_t Pct(std::vector<int64_t>& v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

constexpr std::string_view kTopic = "TimerBench";
constexpr std::string_view kPlainTopic = "TimerBenchPlain";

// Puts n messages built by `make(i)` through `writer`, keeping below maxInflightSends; returns
// (seconds until all were acknowledged, failures).
template <typename Make>
std::pair<double, int64_t> PutAll(MessageWriter& writer, int64_t n, Make make) {
  std::atomic<int64_t> acked{0}, failed{0};
  const auto t0 = std::chrono::steady_clock::now();
  for (int64_t i = 0; i < n; ++i) {
    // Back-pressure: stay below maxInflightSends so that no put is refused as busy.
    while (writer.inflight() >= 9000) std::this_thread::yield();
    writer.Put(make(i), [&](absl::StatusOr<AppendResult> r) {
      if (r.ok()) {
        acked++;
      } else {
        failed++;
      }
    });
  }
  while (acked + failed < n) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(),
          failed.load()};
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t n = Flag(argc, argv, "n", 100000);
  const int64_t delay_ms = Flag(argc, argv, "delay_ms", 3000);
  const int64_t spread_ms = Flag(argc, argv, "spread_ms", 0);
  const std::string dir = FlagStr(argc, argv, "dir", "./stele-timer-bench");
  std::filesystem::remove_all(dir);

  BrokerConfig config;
  config.store_path_root_dir = dir;
  config.store.store_path_root_dir = dir;
  config.store.flush_disk_type =
      HasFlag(argc, argv, "--sync") ? FlushDiskType::kSyncFlush : FlushDiskType::kAsyncFlush;
  auto store = Store::Open(config.store);
  if (!store.ok()) {
    fmt::print(stderr, "open: {}\n", store.status().ToString());
    return 1;
  }
  MessageWriter writer(**store, 10000, config.message_delay_level_ms);
  TimerService timers(**store, writer, config);
  if (auto s = timers.Load(); !s.ok()) {
    fmt::print(stderr, "timer load: {}\n", s.ToString());
    return 1;
  }
  (*store)->SetArrivalListener([&](std::string_view topic, int32_t, int64_t) {
    if (topic == kTimerTopic) timers.Notify();
  });
  timers.Start();

  const std::string body(1024, 'x');
  // Warm-up (not measured): the first puts into a fresh store pay for segment creation and page
  // faults, which would flatter everything measured after the baseline.
  PutAll(writer, std::min<int64_t>(n, 20000), [&](int64_t i) {
    OutgoingMessage m;
    m.topic = "TimerBenchWarmup";
    m.queue_id = static_cast<int32_t>(i % 4);
    m.body = body;
    return m;
  });
  const auto [plain_s, plain_failed] = PutAll(writer, n, [&](int64_t i) {
    OutgoingMessage m;
    m.topic = std::string(kPlainTopic);
    m.queue_id = static_cast<int32_t>(i % 4);
    m.body = body;
    return m;
  });
  const double plain_rate = static_cast<double>(n) / plain_s;

  const int64_t start = NowMs();
  const int64_t first_due = start + delay_ms;
  const auto [sched_s, sched_failed] = PutAll(writer, n, [&](int64_t i) {
    const int64_t due = first_due + (n > 1 ? spread_ms * i / (n - 1) : 0);
    OutgoingMessage m;
    m.topic = std::string(kTopic);
    m.queue_id = static_cast<int32_t>(i % 4);
    m.body = body;
    m.properties.Set(kPropTimerDeliverMs, fmt::format("{}", due));
    return m;
  });
  const int64_t acked = n - sched_failed;
  if (NowMs() > first_due) {
    fmt::print(stderr, "note: scheduling took past the first due time; raise --delay_ms\n");
  }

  // Wait for every delivery (or 60 s past the last due time).
  auto delivered = [&] {
    int64_t d = 0;
    for (int q = 0; q < 4; ++q) d += (*store)->NextQueueOffset(kTopic, q);
    return d;
  };
  const int64_t deadline = first_due + spread_ms + 60000;
  while (delivered() < acked && NowMs() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  timers.Stop();

  std::vector<int64_t> errors;
  int64_t last_store = 0;
  for (int q = 0; q < 4; ++q) {
    (*store)->WaitForMessages(kTopic, q, (*store)->NextQueueOffset(kTopic, q) - 1,
                              std::chrono::seconds(10));
    for (int64_t off = 0;;) {
      auto got =
          (*store)->Get(kTopic, q, off, GetOptions{.max_messages = 1024, .max_bytes = 64 << 20});
      if (!got.ok() || got->messages.empty()) break;
      for (const RecordRef& r : got->messages) {
        auto due = FindProperty(r.msg.properties, kPropTimerOutMs);
        if (!due) continue;
        errors.push_back(r.msg.store_timestamp - std::atoll(std::string(*due).c_str()));
        last_store = std::max(last_store, r.msg.store_timestamp);
      }
      off = got->next_begin_offset;
    }
  }
  const auto st = timers.stats();
  const double fire_s = std::max<int64_t>(1, last_store - first_due) / 1000.0;
  const int64_t got = static_cast<int64_t>(errors.size());
  fmt::print("timer bench: n={} body=1KiB delay={}ms spread={}ms flush={}\n", n, delay_ms,
             spread_ms, HasFlag(argc, argv, "--sync") ? "SYNC" : "ASYNC");
  const double sched_rate = static_cast<double>(n) / sched_s;
  const double fire_rate = static_cast<double>(got) / fire_s;
  fmt::print("  baseline: {:.0f} msg/s plain puts ({:.2f} s, {} failed)\n", plain_rate, plain_s,
             plain_failed);
  fmt::print("  schedule: {:.0f} msg/s ({:.2f} s, {} failed) = {:.2f}x baseline\n", sched_rate,
             sched_s, sched_failed, sched_rate / plain_rate);
  fmt::print(
      "  fire:     {:.0f} msg/s ({} delivered of {}, last {} ms after the first due time) = "
      "{:.2f}x baseline\n",
      fire_rate, got, acked, last_store - first_due, fire_rate / plain_rate);
  std::sort(errors.begin(), errors.end());
  const int64_t p50 = Pct(errors, 0.50), p99 = Pct(errors, 0.99);
  fmt::print("  error (delivered - requested): p50={} ms p99={} ms min={} ms max={} ms\n", p50, p99,
             errors.empty() ? 0 : errors.front(), errors.empty() ? 0 : errors.back());
  fmt::print("  service: delivered={} relinked={} skipped={}\n", st.delivered, st.relinked,
             st.skipped);
  (*store)->SetArrivalListener(nullptr);
  (void)(*store)->Close();
  std::filesystem::remove_all(dir);
  return got == n ? 0 : 2;
}
