// BrokerStats: the broker's own counters, the source of both the Prometheus endpoint
// (metrics_exporter.h) and GET_BROKER_RUNTIME_INFO's RocketMQ keys (putTps, msgPutTotalTodayNow,
// ...).
//
// The hot paths (a send's reply, a pull's reply, every remoting reply) only touch atomics: a
// per-topic or per-(topic, group) entry is found under a shard's shared lock (16 shards, so
// concurrent senders do not share one lock word) and created once under its exclusive lock.
// Entries are never removed while the broker runs (a deleted topic keeps its totals, as a
// Prometheus counter must), and their number is bounded: past kMaxKeys a table folds new keys into
// one "_other_" entry so that a client inventing topic names cannot grow our memory.
//
// Rates (putTps and friends) come from Sample(), called once a second: it keeps RocketMQ's
// StoreStatsService window of 601 snapshots, so a rate over 10 s, 1 min or 10 min is the difference
// between the newest snapshot and the one that many seconds older.
//
// Thread safety: everything is safe to call from any thread.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace stele::broker::metrics {

// Fixed-bucket histogram of integral observations (bytes, microseconds). Lock-free.
class Histogram {
 public:
  // `bounds` (ascending, inclusive upper bounds) must outlive the histogram (use a static array).
  explicit Histogram(std::span<const int64_t> bounds);
  void Observe(int64_t v);
  std::span<const int64_t> bounds() const { return bounds_; }
  // Per-bucket (not cumulative) counts, bounds().size() + 1 of them, and the sum.
  std::vector<uint64_t> Counts() const;
  int64_t sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::span<const int64_t> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<int64_t> sum_{0};
};

// RocketMQ's message size buckets (BrokerMetricsManager): 1 KiB, 4 KiB, 512 KiB, 1, 2, 4 MiB.
inline constexpr std::array<int64_t, 6> kMessageSizeBounds = {1024,    4096,    512 * 1024,
                                                              1 << 20, 2 << 20, 4 << 20};
// RocketMQ's rpc latency buckets (RemotingMetricsManager) in microseconds: 1, 3, 5, 7, 10, 100 ms,
// 1, 2, 3 s.
inline constexpr std::array<int64_t, 9> kRpcLatencyBoundsUs = {
    1000, 3000, 5000, 7000, 10000, 100000, 1000000, 2000000, 3000000};
// StoreStatsService's putMessageDistributeTime buckets (upper bounds in ms) and their names.
inline constexpr std::array<int64_t, 12> kPutTimeBoundsMs = {0,    10,   50,   100,  200,  500,
                                                             1000, 2000, 3000, 4000, 5000, 10000};
inline constexpr std::array<std::string_view, 13> kPutTimeNames = {
    "[<=0ms]", "[0~10ms]", "[10~50ms]", "[50~100ms]", "[100~200ms]", "[200~500ms]", "[500ms~1s]",
    "[1~2s]",  "[2~3s]",   "[3~4s]",    "[4~5s]",     "[5~10s]",     "[10s~]"};

// RocketMQ's TopicMessageType, as the message_type label spells it.
enum class MessageType { kNormal = 0, kFifo, kDelay, kTransaction };
inline constexpr int kMessageTypes = 4;
std::string_view MessageTypeName(MessageType t);
// Classifies a message by its properties as RocketMQ's BrokerMetricsManager.getMessageType does.
MessageType ClassifyMessage(std::string_view properties);

struct TopicInStats {
  struct PerType {
    std::atomic<uint64_t> messages{0};
    std::atomic<uint64_t> bytes{0};
    Histogram size{kMessageSizeBounds};
  };
  std::array<PerType, kMessageTypes> by_type;
};

struct GroupOutStats {
  std::atomic<uint64_t> messages{0};
  std::atomic<uint64_t> bytes{0};
};

struct CounterStat {
  std::atomic<uint64_t> value{0};
};

struct RpcStats {
  Histogram latency_us{kRpcLatencyBoundsUs};
};

// The newest queue offset handed to a group by a pull (for inflight = pulled - committed).
struct PulledOffset {
  std::atomic<int64_t> next{0};
};

// A bounded, sharded map from key to a stats entry that lives as long as the table.
template <typename V>
class StatTable {
 public:
  static constexpr size_t kMaxKeys = 20000;
  static constexpr std::string_view kOverflowKey = "_other_";

  V& Get(std::string_view key) {
    Shard& s = shards_[std::hash<std::string_view>{}(key) % kShards];
    {
      std::shared_lock<std::shared_mutex> l(s.mu);
      if (auto it = s.map.find(key); it != s.map.end()) return *it->second;
    }
    std::unique_lock<std::shared_mutex> l(s.mu);
    if (auto it = s.map.find(key); it != s.map.end()) return *it->second;
    if (size_.load(std::memory_order_relaxed) >= kMaxKeys) return overflow_;
    size_.fetch_add(1, std::memory_order_relaxed);
    auto [it, inserted] = s.map.emplace(std::string(key), std::make_unique<V>());
    return *it->second;
  }
  // Visits every entry (and the overflow entry, if it was used), in no particular order.
  void ForEach(const std::function<void(std::string_view key, const V&)>& fn) const {
    for (const Shard& s : shards_) {
      std::shared_lock<std::shared_mutex> l(s.mu);
      for (const auto& [k, v] : s.map) fn(k, *v);
    }
    if (size_.load(std::memory_order_relaxed) >= kMaxKeys) fn(kOverflowKey, overflow_);
  }

 private:
  static constexpr size_t kShards = 16;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  struct Shard {
    mutable std::shared_mutex mu;
    std::unordered_map<std::string, std::unique_ptr<V>, Hash, std::equal_to<>> map;
  };
  std::array<Shard, kShards> shards_;
  std::atomic<size_t> size_{0};
  V overflow_;
};

// Joins parts of a composite key with '\x01' (which no topic or group name may contain).
std::string JoinKey(std::initializer_list<std::string_view> parts);
std::vector<std::string_view> SplitKey(std::string_view key);

class BrokerStats {
 public:
  // `clock` (epoch ms) null = the system clock.
  explicit BrokerStats(std::function<int64_t()> clock = nullptr);

  // A producer's message stored (SEND_MESSAGE, batch element, gRPC send). `body_bytes` is the
  // body's size, as RocketMQ's throughput_in counts.
  void OnMessageIn(std::string_view topic, MessageType type, int64_t body_bytes);
  // One send request answered after `elapsed_ms` (putMessageDistributeTime).
  void OnPutLatency(int64_t elapsed_ms);
  // A pull (or pop) that found `messages` records of `bytes` (whole records) for the group, and
  // the queue offset the group reads from next.
  void OnMessagesOut(std::string_view topic, std::string_view group, int32_t queue_id,
                     int64_t messages, int64_t bytes, int64_t next_offset);
  // A pull that found nothing.
  void OnGetMiss();
  // A message moved to the group's dead-letter queue (original topic, if known).
  void OnSendToDlq(std::string_view group, std::string_view topic);
  // A remoting reply sent `latency_us` after its request was read.
  void OnRpc(int32_t request_code, int32_t response_code, int64_t latency_us);
  void OnTransactionEnd(bool commit);

  // Takes one TPS snapshot; call about once a second.
  void Sample();

  // --- readers ---
  int64_t boot_timestamp_ms() const { return boot_ms_; }
  uint64_t put_times_total() const { return put_times_.load(std::memory_order_relaxed); }
  uint64_t put_size_total() const { return put_size_.load(std::memory_order_relaxed); }
  uint64_t get_found_total() const { return get_found_.load(std::memory_order_relaxed); }
  uint64_t get_miss_total() const { return get_miss_.load(std::memory_order_relaxed); }
  uint64_t get_transferred_total() const { return transferred_.load(std::memory_order_relaxed); }
  int64_t put_entire_time_max_ms() const { return put_max_ms_.load(std::memory_order_relaxed); }
  uint64_t commit_total() const { return commits_.load(std::memory_order_relaxed); }
  uint64_t rollback_total() const { return rollbacks_.load(std::memory_order_relaxed); }
  std::array<uint64_t, kPutTimeNames.size()> put_time_distribution() const;

  // RocketMQ's "a b c" rates over 10 s, 60 s and 600 s (Java Double.toString numbers).
  enum class Rate { kPut, kGetFound, kGetMiss, kGetTotal, kGetTransferred };
  std::string Tps(Rate r) const;
  // Messages per second over the last `seconds` (as far back as samples go; 0 with fewer than 2).
  double TpsOver(Rate r, int seconds) const;
  // BrokerStats' day counters (msgPutTotalYesterdayMorning, ...): the totals at the last two
  // local midnights seen by Sample(), or at boot.
  struct DayTotals {
    uint64_t put_yesterday_morning = 0, put_today_morning = 0;
    uint64_t get_yesterday_morning = 0, get_today_morning = 0;
  };
  DayTotals day_totals() const;

  const StatTable<TopicInStats>& topics_in() const { return in_; }
  const StatTable<GroupOutStats>& groups_out() const { return out_; }  // key: topic, group
  const StatTable<CounterStat>& dlq() const { return dlq_; }           // key: group, topic
  const StatTable<RpcStats>& rpc() const { return rpc_; }              // key: "req,resp"
  const StatTable<PulledOffset>& pulled() const { return pulled_; }    // key: group, topic, qid

 private:
  struct Snapshot {
    int64_t ms;
    uint64_t put, found, miss, transferred;
  };
  uint64_t Pick(const Snapshot& s, Rate r) const;
  int64_t LocalDay(int64_t ms) const;

  std::function<int64_t()> clock_;
  const int64_t boot_ms_;
  std::atomic<uint64_t> put_times_{0}, put_size_{0}, get_found_{0}, get_miss_{0}, transferred_{0};
  std::atomic<int64_t> put_max_ms_{0};
  std::atomic<uint64_t> commits_{0}, rollbacks_{0};
  std::array<std::atomic<uint64_t>, kPutTimeNames.size()> put_time_{};
  StatTable<TopicInStats> in_;
  StatTable<GroupOutStats> out_;
  StatTable<CounterStat> dlq_;
  StatTable<RpcStats> rpc_;
  StatTable<PulledOffset> pulled_;

  mutable std::mutex sample_mu_;
  std::deque<Snapshot> samples_;  // oldest first, at most kMaxSamples
  int64_t day_ = 0;
  DayTotals days_;
  static constexpr size_t kMaxSamples = 601;
};

}  // namespace stele::broker::metrics
