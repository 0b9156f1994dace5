#include "net/broker/metrics/exporter.h"

#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "common/clock.h"
#include "common/logging.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/metrics/code_names.h"
#include "net/broker/metrics/prom_text.h"
#include "net/broker/pull_hold.h"
#include "net/broker/state/names.h"
#include "net/broker/timer_service.h"

namespace stele::broker::metrics {
namespace {

// A sample whose label values it owns (the writer takes views).
struct Row {
  std::vector<std::pair<std::string, std::string>> labels;
  double value = 0;
};

class Writer {
 public:
  explicit Writer(const BrokerConfig& c)
      : common_{{"cluster", c.broker_cluster_name},
                {"node_type", "broker"},
                {"node_id", c.broker_name}} {}

  // A family with the broker's common labels (cluster, node_type, node_id) on every sample.
  // Families without samples are left out.
  void Broker(std::string_view name, MetricType type, std::string_view help,
              const std::vector<Row>& rows) {
    if (rows.empty()) return;
    text_.Family(name, type, help);
    for (const Row& r : rows) text_.Sample(ViewsOf(r.labels, true), r.value);
  }
  // One unlabelled gauge or counter (process_*, stele_*).
  void Plain(std::string_view name, MetricType type, std::string_view help, double value) {
    text_.Family(name, type, help);
    text_.Sample(Labels{}, value);
  }
  void HistogramFamily(std::string_view name, std::string_view help) {
    text_.Family(name, MetricType::kHistogram, help);
  }
  // `scale` divides bounds and sum (microseconds -> milliseconds).
  void HistogramRow(const std::vector<std::pair<std::string, std::string>>& labels,
                    const Histogram& h, double scale) {
    std::vector<double> bounds;
    for (int64_t b : h.bounds()) bounds.push_back(static_cast<double>(b) / scale);
    const std::vector<uint64_t> counts = h.Counts();
    text_.Histogram(ViewsOf(labels, true), bounds, counts, static_cast<double>(h.sum()) / scale);
  }
  std::string Take() { return text_.Take(); }

 private:
  Labels ViewsOf(const std::vector<std::pair<std::string, std::string>>& own, bool common) const {
    Labels l;
    if (common) {
      for (const auto& [k, v] : common_) l.emplace_back(k, v);
    }
    for (const auto& [k, v] : own) l.emplace_back(k, v);
    return l;
  }

  std::vector<std::pair<std::string, std::string>> common_;
  PromText text_;
};

std::string Bool(bool v) { return v ? "true" : "false"; }

bool IsSystemGroup(std::string_view group) {
  // RocketMQ: groups starting with "CID_RMQ_SYS_" (case-insensitive).
  constexpr std::string_view kPrefix = "cid_rmq_sys_";
  if (group.size() < kPrefix.size()) return false;
  for (size_t i = 0; i < kPrefix.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(group[i])) != kPrefix[i]) return false;
  }
  return true;
}

std::string_view ConsumeMode(ConsumeType t) {
  switch (t) {
    case ConsumeType::kActively:
      return "pull";
    case ConsumeType::kPassively:
      return "push";
    case ConsumeType::kPop:
      return "pop";
  }
  return "push";
}

// Disk space used by the files under `root`: allocated blocks, not apparent sizes, since
// preallocated segments are sparse until written (bounded walk: a huge tree is reported as far as
// counted).
int64_t DirBytes(const std::string& root) {
  namespace fs = std::filesystem;
  std::error_code ec;
  int64_t total = 0;
  int entries = 0;
  for (fs::recursive_directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec)) {
    if (++entries > 200000) break;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) == 0 && S_ISREG(st.st_mode)) {
      total += static_cast<int64_t>(st.st_blocks) * 512;
    }
  }
  return total;
}

struct ProcessStats {
  double resident = 0, virt = 0, open_fds = 0, max_fds = 0, cpu_seconds = 0, start_time = 0;
};

ProcessStats ReadProcess() {
  ProcessStats p;
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  if (std::ifstream statm("/proc/self/statm"); statm) {
    double size = 0, rss = 0;
    statm >> size >> rss;
    p.virt = size * page;
    p.resident = rss * page;
  }
  std::error_code ec;
  for (std::filesystem::directory_iterator it("/proc/self/fd", ec), end; !ec && it != end;
       it.increment(ec)) {
    p.open_fds += 1;
  }
  if (rlimit rl{}; getrlimit(RLIMIT_NOFILE, &rl) == 0) p.max_fds = static_cast<double>(rl.rlim_cur);
  if (std::ifstream stat("/proc/self/stat"); stat) {
    std::string all((std::istreambuf_iterator<char>(stat)), std::istreambuf_iterator<char>());
    // Fields after the command (which may hold spaces) start after the last ')'.
    const size_t close = all.rfind(')');
    if (close != std::string::npos) {
      std::istringstream rest(all.substr(close + 2));
      std::vector<std::string> f;
      for (std::string x; rest >> x;) f.push_back(x);
      // rest starts at field 3 (state): utime is field 14, stime 15, starttime 22.
      if (f.size() > 19) {
        p.cpu_seconds = (std::stod(f[11]) + std::stod(f[12])) / ticks;
        double btime = 0;
        if (std::ifstream s("/proc/stat"); s) {
          for (std::string line; std::getline(s, line);) {
            if (line.rfind("btime ", 0) == 0) btime = std::stod(line.substr(6));
          }
        }
        p.start_time = btime + std::stod(f[19]) / ticks;
      }
    }
  }
  return p;
}

struct LagRow {
  std::string group, topic;
  int64_t lag = 0, latency_ms = 0, inflight = 0, ready = 0;
};

std::vector<LagRow> ComputeLag(BrokerController& b, int64_t now) {
  std::set<std::string> groups;
  for (const auto& [name, g] : b.groups().All()) groups.insert(name);
  for (const std::string& g : b.consumers().Groups()) groups.insert(g);
  // group -> topic -> queue -> pulled next offset
  std::map<std::string, std::map<std::string, std::map<int32_t, int64_t>>> pulled;
  b.stats().pulled().ForEach([&](std::string_view key, const PulledOffset& p) {
    const auto parts = SplitKey(key);
    if (parts.size() != 3) return;
    int32_t qid = 0;
    if (std::sscanf(std::string(parts[2]).c_str(), "%d", &qid) != 1) return;
    pulled[std::string(parts[0])][std::string(parts[1])][qid] =
        p.next.load(std::memory_order_relaxed);
  });
  std::vector<LagRow> rows;
  Store& s = b.store();
  for (const std::string& g : groups) {
    for (const auto& [topic, queues] : b.offsets().QueryAll(g)) {
      LagRow r{g, topic};
      int64_t earliest = 0;
      for (const auto& [qid, committed] : queues) {
        const int64_t max = s.MaxQueueOffset(topic, qid);
        if (committed < max) {
          r.lag += max - committed;
          if (auto t = s.QueueOffsetStoreTime(topic, qid, committed); t.ok()) {
            earliest = earliest == 0 ? *t : std::min(earliest, *t);
          }
        }
        int64_t got = committed;
        if (auto gi = pulled.find(g); gi != pulled.end()) {
          if (auto ti = gi->second.find(topic); ti != gi->second.end()) {
            if (auto qi = ti->second.find(qid); qi != ti->second.end()) {
              got = std::max(committed, qi->second);
            }
          }
        }
        r.inflight += std::max<int64_t>(0, std::min(got, max) - committed);
        r.ready += std::max<int64_t>(0, max - got);
      }
      r.latency_ms = earliest == 0 ? 0 : std::max<int64_t>(0, now - earliest);
      rows.push_back(std::move(r));
    }
  }
  return rows;
}

}  // namespace

std::string RenderMetrics(BrokerController& b) {
  const BrokerConfig& c = b.config();
  const BrokerStats& st = b.stats();
  Store& s = b.store();
  const int64_t now = NowMs();
  Writer w(c);
  using L = std::vector<std::pair<std::string, std::string>>;
  auto sys_topic = [&](std::string_view t) { return b.topics().IsSystemTopic(t); };

  w.Broker("rocketmq_broker_permission", MetricType::kGauge, "Broker permission",
           {Row{{}, static_cast<double>(c.broker_permission)}});
  w.Broker("rocketmq_processor_watermark", MetricType::kGauge,
           "Requests waiting: sends not yet answered (send), held pulls (pull)",
           {Row{{{"processor", "send"}}, static_cast<double>(b.writer().inflight())},
            Row{{{"processor", "pull"}}, static_cast<double>(b.pull_hold().held())}});

  // Messages in, by topic and message type.
  std::vector<Row> in_msgs, in_bytes;
  std::vector<std::pair<L, const Histogram*>> sizes;
  st.topics_in().ForEach([&](std::string_view topic, const TopicInStats& t) {
    for (int i = 0; i < kMessageTypes; ++i) {
      const auto& pt = t.by_type[i];
      const uint64_t m = pt.messages.load(std::memory_order_relaxed);
      if (m == 0) continue;
      L l{{"topic", std::string(topic)},
          {"message_type", std::string(MessageTypeName(static_cast<MessageType>(i)))}};
      sizes.emplace_back(l, &pt.size);
      l.emplace_back("is_system", Bool(sys_topic(topic)));
      in_msgs.push_back(Row{l, static_cast<double>(m)});
      in_bytes.push_back(Row{l, static_cast<double>(pt.bytes.load(std::memory_order_relaxed))});
    }
  });
  w.Broker("rocketmq_messages_in_total", MetricType::kCounter, "Total number of incoming messages",
           in_msgs);
  w.Broker("rocketmq_throughput_in_total", MetricType::kCounter,
           "Total traffic of incoming messages (body bytes)", in_bytes);
  if (!sizes.empty()) {
    w.HistogramFamily("rocketmq_message_size", "Incoming messages size (body bytes)");
    for (const auto& [l, h] : sizes) w.HistogramRow(l, *h, 1.0);
  }

  // Messages out, by topic and group.
  std::vector<Row> out_msgs, out_bytes;
  st.groups_out().ForEach([&](std::string_view key, const GroupOutStats& o) {
    const auto parts = SplitKey(key);
    const std::string topic(parts[0]);
    const std::string group(parts.size() > 1 ? parts[1] : std::string_view());
    L l{{"topic", topic},
        {"consumer_group", group},
        {"is_retry", Bool(IsRetryTopic(topic))},
        {"is_system", Bool(sys_topic(topic) || IsSystemGroup(group))}};
    out_msgs.push_back(Row{l, static_cast<double>(o.messages.load(std::memory_order_relaxed))});
    out_bytes.push_back(Row{l, static_cast<double>(o.bytes.load(std::memory_order_relaxed))});
  });
  w.Broker("rocketmq_messages_out_total", MetricType::kCounter, "Total number of outgoing messages",
           out_msgs);
  w.Broker("rocketmq_throughput_out_total", MetricType::kCounter,
           "Total traffic of outgoing messages (record bytes)", out_bytes);

  // Connections.
  int64_t producers = 0;
  for (const std::string& g : b.producers().Groups()) {
    producers += static_cast<int64_t>(b.producers().Clients(g).size());
  }
  w.Broker("rocketmq_producer_connections", MetricType::kGauge, "Producer connections",
           {Row{{{"protocol_type", "remoting"}}, static_cast<double>(producers)}});
  std::vector<Row> consumers;
  for (const std::string& g : b.consumers().Groups()) {
    auto info = b.consumers().FindGroup(g);
    if (!info || info->clients.empty()) continue;
    consumers.push_back(Row{{{"consumer_group", g},
                             {"consume_mode", std::string(ConsumeMode(info->consume_type))},
                             {"protocol_type", "remoting"},
                             {"is_system", Bool(IsSystemGroup(g))}},
                            static_cast<double>(info->clients.size())});
  }
  w.Broker("rocketmq_consumer_connections", MetricType::kGauge, "Consumer connections", consumers);

  // Lag, from committed offsets.
  std::vector<Row> lag, lag_latency, inflight, ready;
  for (const LagRow& r : ComputeLag(b, now)) {
    L l{{"consumer_group", r.group},
        {"topic", r.topic},
        {"is_retry", Bool(IsRetryTopic(r.topic))},
        {"is_system", Bool(sys_topic(r.topic) || IsSystemGroup(r.group))}};
    lag.push_back(Row{l, static_cast<double>(r.lag)});
    lag_latency.push_back(Row{l, static_cast<double>(r.latency_ms)});
    inflight.push_back(Row{l, static_cast<double>(r.inflight)});
    ready.push_back(Row{l, static_cast<double>(r.ready)});
  }
  w.Broker("rocketmq_consumer_lag_messages", MetricType::kGauge,
           "Consumer lag messages (max offset - committed offset)", lag);
  w.Broker("rocketmq_consumer_lag_latency", MetricType::kGauge,
           "Consumer lag time in milliseconds (age of the oldest unconsumed message)", lag_latency);
  w.Broker("rocketmq_consumer_inflight_messages", MetricType::kGauge,
           "Consumer inflight messages (pulled, not committed)", inflight);
  w.Broker("rocketmq_consumer_ready_messages", MetricType::kGauge,
           "Consumer ready messages (stored, not pulled)", ready);

  std::vector<Row> dlq;
  st.dlq().ForEach([&](std::string_view key, const CounterStat& v) {
    const auto parts = SplitKey(key);
    const std::string group(parts[0]);
    const std::string topic(parts.size() > 1 ? parts[1] : std::string_view());
    dlq.push_back(Row{{{"consumer_group", group},
                       {"topic", topic},
                       {"is_system", Bool(sys_topic(topic) || IsSystemGroup(group))}},
                      static_cast<double>(v.value.load(std::memory_order_relaxed))});
  });
  w.Broker("rocketmq_send_to_dlq_messages_total", MetricType::kCounter,
           "Consumer send to DLQ messages", dlq);
  w.Broker("rocketmq_commit_messages_total", MetricType::kCounter,
           "Transaction messages committed (END_TRANSACTION commit)",
           {Row{{}, static_cast<double>(st.commit_total())}});
  w.Broker("rocketmq_rollback_messages_total", MetricType::kCounter,
           "Transaction messages rolled back (END_TRANSACTION rollback)",
           {Row{{}, static_cast<double>(st.rollback_total())}});

  // Store.
  const L storage{{"storage_type", "local"}, {"storage_medium", "disk"}};
  const int64_t max = s.MaxOffset(), min = s.MinOffset();
  w.Broker("rocketmq_storage_size", MetricType::kGauge, "Bytes of the files under storePathRootDir",
           {Row{storage, static_cast<double>(DirBytes(c.store_path_root_dir))}});
  w.Broker("rocketmq_storage_flush_behind_bytes", MetricType::kGauge,
           "Commit-log bytes appended but not yet flushed",
           {Row{storage, static_cast<double>(std::max<int64_t>(0, max - s.FlushedOffset()))}});
  w.Broker("rocketmq_storage_dispatch_behind_bytes", MetricType::kGauge,
           "Commit-log bytes not yet in consume queues and index",
           {Row{storage, static_cast<double>(std::max<int64_t>(0, max - s.DispatchedOffset()))}});
  int64_t reserve_ms = 0;
  if (max > min) {
    if (auto rec = s.Read(min); rec.ok())
      reserve_ms = std::max<int64_t>(0, now - rec->msg.store_timestamp);
  }
  w.Broker("rocketmq_storage_message_reserve_time", MetricType::kGauge,
           "Age in milliseconds of the oldest message kept",
           {Row{storage, static_cast<double>(reserve_ms)}});

  // Timer wheel.
  const TimerService::Stats ts = b.timers().stats();
  w.Broker("rocketmq_timer_enqueue_lag", MetricType::kGauge,
           "Timer messages parked but not yet in the wheel",
           {Row{{},
                static_cast<double>(
                    std::max<int64_t>(0, s.MaxQueueOffset(kTimerTopic, 0) - ts.enqueue_offset))}});
  w.Broker("rocketmq_timer_dequeue_latency", MetricType::kGauge,
           "How far the timer wheel's delivery is behind the clock, in milliseconds",
           {Row{{},
                static_cast<double>(ts.dequeue_ms > 0 ? std::max<int64_t>(0, now - ts.dequeue_ms)
                                                      : 0)}});
  w.Broker("rocketmq_timer_dequeue_total", MetricType::kCounter,
           "Timer messages delivered since the broker started",
           {Row{{}, static_cast<double>(ts.delivered)}});

  // Remoting latency by request and response code.
  bool rpc_family = false;
  st.rpc().ForEach([&](std::string_view key, const RpcStats& r) {
    int req = 0, resp = 0;
    if (std::sscanf(std::string(key).c_str(), "%d,%d", &req, &resp) != 2) return;
    if (!rpc_family) {
      w.HistogramFamily("rocketmq_rpc_latency",
                        "Remoting request latency in milliseconds, from request read to reply");
      rpc_family = true;
    }
    w.HistogramRow({{"protocol_type", "remoting"},
                    {"request_code", RequestCodeName(req)},
                    {"response_code", ResponseCodeName(resp)}},
                   r.latency_us, 1000.0);
  });

  // Stele: recovery and commit-log flushes.
  const RecoveryReport& rr = s.recovery_report();
  w.Plain("stele_store_recovery_duration_seconds", MetricType::kGauge,
          "How long the store's recovery took at start-up", rr.seconds);
  w.Plain("stele_store_recovery_records", MetricType::kGauge,
          "Records recovery scanned at start-up", static_cast<double>(rr.records_scanned));
  const FlushStats f = s.flush_stats();
  w.Plain("stele_storage_flush_total", MetricType::kCounter, "Commit-log fdatasync calls",
          static_cast<double>(f.count));
  w.Plain("stele_storage_flush_seconds_total", MetricType::kCounter,
          "Time spent in commit-log fdatasync calls", static_cast<double>(f.total_us) / 1e6);
  w.Plain("stele_storage_flush_max_seconds", MetricType::kGauge,
          "The slowest commit-log fdatasync since start-up", static_cast<double>(f.max_us) / 1e6);

  // Process (the names Prometheus client libraries use).
  const ProcessStats p = ReadProcess();
  w.Plain("process_resident_memory_bytes", MetricType::kGauge, "Resident memory size in bytes",
          p.resident);
  w.Plain("process_virtual_memory_bytes", MetricType::kGauge, "Virtual memory size in bytes",
          p.virt);
  w.Plain("process_open_fds", MetricType::kGauge, "Number of open file descriptors", p.open_fds);
  w.Plain("process_max_fds", MetricType::kGauge, "Maximum number of open file descriptors",
          p.max_fds);
  w.Plain("process_cpu_seconds_total", MetricType::kCounter,
          "Total user and system CPU time spent in seconds", p.cpu_seconds);
  w.Plain("process_start_time_seconds", MetricType::kGauge,
          "Start time of the process since unix epoch in seconds", p.start_time);
  return w.Take();
}

Exporter::Exporter(BrokerController& b, std::string host, uint16_t port)
    : host_(host), server_(std::move(host), port, [&b] { return RenderMetrics(b); }) {}

absl::Status Exporter::Start() {
  if (absl::Status s = server_.Start(); !s.ok()) return s;
  log::Info("metrics: Prometheus endpoint serving http://{}:{}/metrics", host_, server_.port());
  return absl::OkStatus();
}

void Exporter::Stop() { server_.Stop(); }

}  // namespace stele::broker::metrics
