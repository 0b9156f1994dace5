#include "net/broker/metrics/broker_stats.h"

#include <algorithm>
#include <ctime>

#include "common/clock.h"
#include "fmt/format.h"

namespace stele::broker::metrics {

Histogram::Histogram(std::span<const int64_t> bounds)
    : bounds_(bounds), counts_(new std::atomic<uint64_t>[bounds.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(int64_t v) {
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

std::vector<uint64_t> Histogram::Counts() const {
  std::vector<uint64_t> out(bounds_.size() + 1);
  for (size_t i = 0; i < out.size(); ++i) out[i] = counts_[i].load(std::memory_order_relaxed);
  return out;
}

std::string_view MessageTypeName(MessageType t) {
  switch (t) {
    case MessageType::kNormal:
      return "normal";
    case MessageType::kFifo:
      return "fifo";
    case MessageType::kDelay:
      return "delay";
    case MessageType::kTransaction:
      return "transaction";
  }
  return "normal";
}

namespace {

// The value of `key` in RocketMQ's "k\x01v\x02k\x01v\x02" property string, if present.
const std::string_view* FindProp(std::string_view props, std::string_view key,
                                 std::string_view* out) {
  size_t pos = 0;
  while (pos < props.size()) {
    size_t end = props.find('\x02', pos);
    if (end == std::string_view::npos) end = props.size();
    const std::string_view kv = props.substr(pos, end - pos);
    const size_t sep = kv.find('\x01');
    if (sep != std::string_view::npos && kv.substr(0, sep) == key) {
      *out = kv.substr(sep + 1);
      return out;
    }
    pos = end + 1;
  }
  return nullptr;
}

bool HasProp(std::string_view props, std::string_view key) {
  std::string_view v;
  return FindProp(props, key, &v) != nullptr;
}

}  // namespace

MessageType ClassifyMessage(std::string_view properties) {
  std::string_view tran;
  if (FindProp(properties, "TRAN_MSG", &tran) != nullptr &&
      (tran == "true" || tran == "TRUE" || tran == "True")) {
    return MessageType::kTransaction;
  }
  if (HasProp(properties, "__SHARDINGKEY")) return MessageType::kFifo;
  for (std::string_view k :
       {"__STARTDELIVERTIME", "DELAY", "TIMER_DELIVER_MS", "TIMER_DELAY_SEC", "TIMER_DELAY_MS"}) {
    if (HasProp(properties, k)) return MessageType::kDelay;
  }
  return MessageType::kNormal;
}

std::string JoinKey(std::initializer_list<std::string_view> parts) {
  std::string out;
  bool first = true;
  for (std::string_view p : parts) {
    if (!first) out.push_back('\x01');
    first = false;
    out.append(p);
  }
  return out;
}

std::vector<std::string_view> SplitKey(std::string_view key) {
  std::vector<std::string_view> out;
  size_t pos = 0;
  while (true) {
    const size_t sep = key.find('\x01', pos);
    out.push_back(key.substr(pos, sep == std::string_view::npos ? sep : sep - pos));
    if (sep == std::string_view::npos) break;
    pos = sep + 1;
  }
  return out;
}

BrokerStats::BrokerStats(std::function<int64_t()> clock)
    : clock_(clock ? std::move(clock) : std::function<int64_t()>([] { return NowMs(); })),
      boot_ms_(clock_()) {
  day_ = LocalDay(boot_ms_);
  samples_.push_back(Snapshot{boot_ms_, 0, 0, 0, 0});
}

void BrokerStats::OnMessageIn(std::string_view topic, MessageType type, int64_t body_bytes) {
  auto& t = in_.Get(topic).by_type[static_cast<int>(type)];
  t.messages.fetch_add(1, std::memory_order_relaxed);
  t.bytes.fetch_add(static_cast<uint64_t>(body_bytes), std::memory_order_relaxed);
  t.size.Observe(body_bytes);
  put_times_.fetch_add(1, std::memory_order_relaxed);
  put_size_.fetch_add(static_cast<uint64_t>(body_bytes), std::memory_order_relaxed);
}

void BrokerStats::OnPutLatency(int64_t elapsed_ms) {
  const size_t i = static_cast<size_t>(
      std::lower_bound(kPutTimeBoundsMs.begin(), kPutTimeBoundsMs.end(), elapsed_ms) -
      kPutTimeBoundsMs.begin());
  put_time_[i].fetch_add(1, std::memory_order_relaxed);
  int64_t cur = put_max_ms_.load(std::memory_order_relaxed);
  while (elapsed_ms > cur &&
         !put_max_ms_.compare_exchange_weak(cur, elapsed_ms, std::memory_order_relaxed)) {
  }
}

void BrokerStats::OnMessagesOut(std::string_view topic, std::string_view group, int32_t queue_id,
                                int64_t messages, int64_t bytes, int64_t next_offset) {
  if (messages > 0) {
    thread_local std::string key;
    key.assign(topic).push_back('\x01');
    key.append(group);
    auto& o = out_.Get(key);
    o.messages.fetch_add(static_cast<uint64_t>(messages), std::memory_order_relaxed);
    o.bytes.fetch_add(static_cast<uint64_t>(bytes), std::memory_order_relaxed);
    get_found_.fetch_add(1, std::memory_order_relaxed);
    transferred_.fetch_add(static_cast<uint64_t>(messages), std::memory_order_relaxed);
  }
  thread_local std::string pkey;
  pkey.assign(group).push_back('\x01');
  pkey.append(topic).push_back('\x01');
  pkey.append(fmt::format("{}", queue_id));
  auto& p = pulled_.Get(pkey);
  int64_t cur = p.next.load(std::memory_order_relaxed);
  while (next_offset > cur &&
         !p.next.compare_exchange_weak(cur, next_offset, std::memory_order_relaxed)) {
  }
}

void BrokerStats::OnGetMiss() { get_miss_.fetch_add(1, std::memory_order_relaxed); }

void BrokerStats::OnSendToDlq(std::string_view group, std::string_view topic) {
  dlq_.Get(JoinKey({group, topic})).value.fetch_add(1, std::memory_order_relaxed);
}

void BrokerStats::OnRpc(int32_t request_code, int32_t response_code, int64_t latency_us) {
  char buf[32];
  auto r = fmt::format_to_n(buf, sizeof buf, "{},{}", request_code, response_code);
  rpc_.Get(std::string_view(buf, r.size)).latency_us.Observe(std::max<int64_t>(0, latency_us));
}

void BrokerStats::OnTransactionEnd(bool commit) {
  (commit ? commits_ : rollbacks_).fetch_add(1, std::memory_order_relaxed);
}

std::array<uint64_t, kPutTimeNames.size()> BrokerStats::put_time_distribution() const {
  std::array<uint64_t, kPutTimeNames.size()> out{};
  for (size_t i = 0; i < out.size(); ++i) out[i] = put_time_[i].load(std::memory_order_relaxed);
  return out;
}

int64_t BrokerStats::LocalDay(int64_t ms) const {
  const std::time_t secs = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  localtime_r(&secs, &tm);
  return static_cast<int64_t>(tm.tm_year) * 400 + tm.tm_yday;
}

void BrokerStats::Sample() {
  const int64_t now = clock_();
  Snapshot s{now, put_times_total(), get_found_total(), get_miss_total(), get_transferred_total()};
  std::lock_guard<std::mutex> l(sample_mu_);
  samples_.push_back(s);
  while (samples_.size() > kMaxSamples) samples_.pop_front();
  // As RocketMQ's BrokerStats.record() at midnight: today's morning total becomes yesterday's.
  if (const int64_t day = LocalDay(now); day != day_) {
    day_ = day;
    days_.put_yesterday_morning = days_.put_today_morning;
    days_.get_yesterday_morning = days_.get_today_morning;
    days_.put_today_morning = s.put;
    days_.get_today_morning = s.transferred;
  }
}

uint64_t BrokerStats::Pick(const Snapshot& s, Rate r) const {
  switch (r) {
    case Rate::kPut:
      return s.put;
    case Rate::kGetFound:
      return s.found;
    case Rate::kGetMiss:
      return s.miss;
    case Rate::kGetTotal:
      return s.found + s.miss;
    case Rate::kGetTransferred:
      return s.transferred;
  }
  return 0;
}

double BrokerStats::TpsOver(Rate r, int seconds) const {
  std::lock_guard<std::mutex> l(sample_mu_);
  if (samples_.size() < 2 || seconds <= 0) return 0;
  const Snapshot& last = samples_.back();
  const size_t back = std::min(samples_.size() - 1, static_cast<size_t>(seconds));
  const Snapshot& first = samples_[samples_.size() - 1 - back];
  if (last.ms <= first.ms) return 0;
  return static_cast<double>(Pick(last, r) - Pick(first, r)) * 1000.0 /
         static_cast<double>(last.ms - first.ms);
}

namespace {
// Java's Double.toString for the numbers rates take: an integral value keeps its ".0".
std::string JavaDouble(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eE") == std::string::npos && s.find("inf") == std::string::npos &&
      s.find("nan") == std::string::npos) {
    s.append(".0");
  }
  return s;
}
}  // namespace

std::string BrokerStats::Tps(Rate r) const {
  return fmt::format("{} {} {}", JavaDouble(TpsOver(r, 10)), JavaDouble(TpsOver(r, 60)),
                     JavaDouble(TpsOver(r, 600)));
}

BrokerStats::DayTotals BrokerStats::day_totals() const {
  std::lock_guard<std::mutex> l(sample_mu_);
  return days_;
}

}  // namespace stele::broker::metrics
