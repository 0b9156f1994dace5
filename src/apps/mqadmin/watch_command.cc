// watch: a top-like live view of the cluster, refreshed every -i seconds: per broker the put and
// get rates and the commit-log flush latency (GET_BROKER_RUNTIME_INFO), per topic the stored total
// and the in rate (from max-offset deltas), and per consumer group (-g) the consumed total, the
// out rate and the lag (GET_CONSUME_STATS, or per-queue QUERY_CONSUMER_OFFSET where a broker does
// not support it).
//
// On a terminal each frame clears the screen; otherwise frames are printed one after another
// (for logs and tests). --count N stops after N frames; without it, watch runs until interrupted.
// A request failing during a frame is shown in that frame, not fatal: a broker restarting must not
// end the view.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "fmt/format.h"
#include "mqadmin/command.h"

namespace stele::mqadmin {
namespace {

using Clock = std::chrono::steady_clock;

constexpr size_t kMaxTopics = 40;  // beyond this, name topics with -t

struct BrokerFrame {
  std::string name, addr, error;
  std::optional<double> put_tps, get_tps;
  std::optional<int64_t> flush_times, flush_us, flush_max_us, inflight;
};

struct GroupFrame {
  std::string error;
  int64_t consumed = 0;  // sum of committed offsets
  int64_t lag = 0;
};

struct TopicFrame {
  std::string error;
  int64_t total = 0;  // sum of max offsets
  std::map<std::string, GroupFrame> groups;
};

struct Frame {
  Clock::time_point at;
  std::vector<BrokerFrame> brokers;
  std::map<std::string, TopicFrame> topics;
};

bool IsSystemTopicName(const std::string& t, const std::set<std::string>& cluster_names) {
  if (t.empty() || t[0] == '%' || cluster_names.count(t) != 0) return true;
  for (const char* p : {"rmq_sys_", "RMQ_SYS_", "SCHEDULE_TOPIC_", "TRANS_CHECK_MAX_TIME_TOPIC",
                        "TBW102", "BenchmarkTest", "SELF_TEST_TOPIC", "OFFSET_MOVED_EVENT"}) {
    if (t.rfind(p, 0) == 0) return true;
  }
  return t.size() > 11 && t.compare(t.size() - 11, 11, "REPLY_TOPIC") == 0;
}

std::optional<double> FirstNumber(const std::map<std::string, std::string>& info,
                                  const std::string& key) {
  auto it = info.find(key);
  if (it == info.end()) return std::nullopt;
  try {
    return std::stod(it->second.substr(0, it->second.find(' ')));
  } catch (...) {
    return std::nullopt;
  }
}

std::optional<int64_t> IntValue(const std::map<std::string, std::string>& info,
                                const std::string& key) {
  auto d = FirstNumber(info, key);
  if (!d) return std::nullopt;
  return static_cast<int64_t>(*d);
}

GroupFrame SampleGroup(client::AdminClient& admin, const std::string& group,
                       const std::string& topic, const client::TopicRoute& route) {
  GroupFrame g;
  auto stats = admin.GetConsumeStats(group, topic);
  if (stats.ok()) {
    for (const auto& [mq, o] : stats->offsets) {
      if (mq.topic != topic) continue;
      g.consumed += std::max<int64_t>(0, o.consumer_offset);
      g.lag += std::max<int64_t>(0, o.broker_offset - std::max<int64_t>(0, o.consumer_offset));
    }
    return g;
  }
  // A broker without GET_CONSUME_STATS: ask for each queue's committed offset instead.
  for (const client::QueueData& q : route.queues) {
    for (int32_t id = 0; id < q.read_queue_nums; ++id) {
      const client::MessageQueue mq{topic, q.broker_name, id};
      auto max = admin.MaxOffset(mq);
      auto off = admin.QueryConsumerOffset(group, mq);
      if (!max.ok()) {
        g.error = std::string(max.status().message());
        continue;
      }
      const int64_t c = off.ok() ? std::max<int64_t>(0, *off) : 0;
      g.consumed += c;
      g.lag += std::max<int64_t>(0, *max - c);
    }
  }
  return g;
}

Frame Sample(client::AdminClient& admin, const std::vector<std::string>& topics,
             const std::vector<std::string>& groups) {
  Frame f;
  f.at = Clock::now();
  if (auto info = admin.ClusterInfo(); info.ok()) {
    for (const auto& [name, data] : info->brokers) {
      auto master = data.addrs.find(0);
      if (master == data.addrs.end()) continue;
      BrokerFrame b{name, master->second};
      auto rt = admin.BrokerRuntimeInfo(master->second);
      if (!rt.ok()) {
        b.error = std::string(rt.status().message());
      } else {
        b.put_tps = FirstNumber(*rt, "putTps");
        b.get_tps = FirstNumber(*rt, "getTransferedTps");
        b.flush_times = IntValue(*rt, "flushTimesTotal");
        b.flush_us = IntValue(*rt, "flushMicrosTotal");
        b.flush_max_us = IntValue(*rt, "flushMaxMicros");
        b.inflight = IntValue(*rt, "sendInflight");
      }
      f.brokers.push_back(std::move(b));
    }
  }
  for (const std::string& topic : topics) {
    TopicFrame& t = f.topics[topic];
    auto route = admin.Route(topic);
    if (!route.ok()) {
      t.error = std::string(route.status().message());
      continue;
    }
    for (const client::QueueData& q : route->queues) {
      for (int32_t id = 0; id < q.read_queue_nums; ++id) {
        auto max = admin.MaxOffset(client::MessageQueue{topic, q.broker_name, id});
        if (max.ok()) {
          t.total += *max;
        } else {
          t.error = std::string(max.status().message());
        }
      }
    }
    for (const std::string& g : groups) t.groups[g] = SampleGroup(admin, g, topic, *route);
  }
  return f;
}

std::string Rate(std::optional<int64_t> now, std::optional<int64_t> before, double secs) {
  if (!now || !before || secs <= 0) return "-";
  return fmt::format("{:.1f}", static_cast<double>(*now - *before) / secs);
}

std::string Opt(std::optional<double> v, const char* fmt_spec = "{:.1f}") {
  return v ? fmt::format(fmt::runtime(fmt_spec), *v) : "-";
}

void Print(const Frame& f, const Frame* prev, int64_t interval_s, bool tty) {
  const double secs = prev == nullptr ? 0 : std::chrono::duration<double>(f.at - prev->at).count();
  std::string out;
  if (tty) out.append("\x1b[H\x1b[2J");
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char ts[32];
  std::strftime(ts, sizeof ts, "%Y-%m-%d %H:%M:%S", &tm);
  out.append(fmt::format("mqadmin watch  {}  (every {} s{})\n", ts, interval_s,
                         tty ? ", Ctrl-C to stop" : ""));
  out.append(fmt::format("{:<20} {:<22} {:>10} {:>10} {:>13} {:>13} {:>9}\n", "BROKER", "ADDR",
                         "PUT/s", "GET/s", "FLUSH avg ms", "FLUSH max ms", "INFLIGHT"));
  for (const BrokerFrame& b : f.brokers) {
    if (!b.error.empty()) {
      out.append(fmt::format("{:<20} {:<22} error: {}\n", b.name, b.addr, b.error));
      continue;
    }
    // The average over this interval, from the flush counters' deltas.
    std::string flush_avg = "-";
    if (prev != nullptr) {
      for (const BrokerFrame& p : prev->brokers) {
        if (p.addr != b.addr || !p.flush_times || !b.flush_times || !p.flush_us || !b.flush_us) {
          continue;
        }
        const int64_t n = *b.flush_times - *p.flush_times;
        flush_avg = n > 0 ? fmt::format("{:.3f}", static_cast<double>(*b.flush_us - *p.flush_us) /
                                                      static_cast<double>(n) / 1000.0)
                          : "0 flushes";
      }
    }
    out.append(fmt::format(
        "{:<20} {:<22} {:>10} {:>10} {:>13} {:>13} {:>9}\n", b.name, b.addr, Opt(b.put_tps),
        Opt(b.get_tps), flush_avg,
        b.flush_max_us ? fmt::format("{:.3f}", static_cast<double>(*b.flush_max_us) / 1000.0) : "-",
        b.inflight ? fmt::format("{}", *b.inflight) : "-"));
  }
  out.append(
      fmt::format("\n{:<40} {:>14} {:>10} {:>12}\n", "TOPIC / GROUP", "MESSAGES", "RATE/s", "LAG"));
  for (const auto& [name, t] : f.topics) {
    const TopicFrame* pt = nullptr;
    if (prev != nullptr) {
      if (auto it = prev->topics.find(name); it != prev->topics.end()) pt = &it->second;
    }
    if (!t.error.empty()) {
      out.append(fmt::format("{:<40} error: {}\n", name, t.error));
      continue;
    }
    out.append(fmt::format(
        "{:<40} {:>14} {:>10} {:>12}\n", name, t.total,
        Rate(t.total, pt ? std::optional<int64_t>(pt->total) : std::nullopt, secs), ""));
    for (const auto& [g, gf] : t.groups) {
      std::optional<int64_t> before;
      if (pt != nullptr) {
        if (auto it = pt->groups.find(g); it != pt->groups.end()) before = it->second.consumed;
      }
      out.append(fmt::format("  {:<38} {:>14} {:>10} {:>12}{}\n", g, gf.consumed,
                             Rate(gf.consumed, before, secs), gf.lag,
                             gf.error.empty() ? "" : "  (" + gf.error + ")"));
    }
  }
  if (!tty) out.push_back('\n');
  std::fwrite(out.data(), 1, out.size(), stdout);
  std::fflush(stdout);
}

std::vector<std::string> SplitComma(const std::string& s) {
  std::vector<std::string> out;
  size_t pos = 0;
  while (pos <= s.size()) {
    const size_t c = s.find(',', pos);
    std::string part = s.substr(pos, c == std::string::npos ? std::string::npos : c - pos);
    if (!part.empty()) out.push_back(part);
    if (c == std::string::npos) break;
    pos = c + 1;
  }
  return out;
}

int Watch(client::AdminClient& admin, const Args& a) {
  const int64_t interval = IntArg(a, 'i', 1);
  if (interval < 1 || interval > 3600) UsageError("-i expects 1..3600 seconds");
  const int64_t count = IntArg(a, 'N', 0);
  if (count < 0) UsageError("--count expects a positive number (0 = until interrupted)");
  std::vector<std::string> topics = SplitComma(a.Get('t'));
  if (topics.empty()) {
    std::set<std::string> cluster_names;
    if (auto info = admin.ClusterInfo(); info.ok()) {
      for (const auto& [c, names] : info->clusters) {
        cluster_names.insert(c);
        cluster_names.insert(names.begin(), names.end());
      }
    }
    for (const std::string& t : OrFail(admin.TopicList())) {
      if (!IsSystemTopicName(t, cluster_names)) topics.push_back(t);
    }
    std::sort(topics.begin(), topics.end());
    if (topics.size() > kMaxTopics) topics.resize(kMaxTopics);
  }
  const std::vector<std::string> groups = SplitComma(a.Get('g'));
  const bool tty = isatty(STDOUT_FILENO) != 0;
  std::optional<Frame> prev;
  auto next = Clock::now();
  for (int64_t i = 0; count == 0 || i < count; ++i) {
    if (i > 0) std::this_thread::sleep_until(next);
    next = Clock::now() + std::chrono::seconds(interval);
    Frame f = Sample(admin, topics, groups);
    Print(f, prev ? &*prev : nullptr, interval, tty);
    prev = std::move(f);
  }
  return 0;
}

STELE_MQADMIN_COMMAND(Command{
    .name = "watch",
    .summary = "Live view of broker rates, flush latency, topic in rates and group lag",
    .options = {{'t', "topic", "topic[,topic]", false, "topics to show (default: all but system)"},
                {'g', "consumerGroup", "group[,group]", false, "groups whose rate and lag to show"},
                {'i', "interval", "seconds", false, "refresh interval, default 1"},
                {'N', "count", "n", false, "stop after n frames (default: until interrupted)"}},
    .run = Watch,
});

}  // namespace
}  // namespace stele::mqadmin
