#include "net/broker/state/broker_config.h"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <netinet/in.h>

#include <algorithm>
#include <limits>

#include <fmt/format.h>
#include "common/status.h"
#include "net/broker/state/config_fields.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using Field = ConfigField<BrokerConfig>;
constexpr int64_t kMaxInt = std::numeric_limits<int32_t>::max();

absl::Status CheckTopicName(std::string_view key, std::string_view v) {
  // The cluster and broker names are also topics (RocketMQ creates one of each), so they follow
  // the topic rules.
  absl::Status s = ValidateTopic(v);
  if (!s.ok()) return absl::InvalidArgumentError(fmt::format("{}: {}", key, StatusMessage(s)));
  return absl::OkStatus();
}

absl::Status CheckNamesrvAddr(std::string_view key, std::string_view v) {
  auto list = ParseNamesrvAddr(v);
  if (!list.ok())
    return absl::InvalidArgumentError(fmt::format("{}: {}", key, StatusMessage(list.status())));
  return absl::OkStatus();
}

absl::Status CheckNotEmpty(std::string_view key, std::string_view v) {
  if (v.empty()) return absl::InvalidArgumentError(fmt::format("{}: must not be empty", key));
  return absl::OkStatus();
}

absl::Status CheckExporterType(std::string_view key, std::string_view v) {
  for (std::string_view ok : {"DISABLE", "PROM", "OTLP_GRPC", "LOG"}) {
    if (v == ok) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      fmt::format("{}: '{}' is not DISABLE, PROM, OTLP_GRPC or LOG", key, v));
}

absl::Status CheckLogLevel(std::string_view key, std::string_view v) {
  for (std::string_view ok : {"DEBUG", "INFO", "WARN", "ERROR"}) {
    if (v == ok) return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      fmt::format("{}: '{}' is not DEBUG, INFO, WARN or ERROR", key, v));
}

const std::vector<Field>& BrokerFields() {
  static const std::vector<Field> kFields = {
      StringField("brokerClusterName", &BrokerConfig::broker_cluster_name, CheckTopicName),
      StringField("brokerName", &BrokerConfig::broker_name, CheckTopicName),
      IntField("brokerId", &BrokerConfig::broker_id, 0, std::numeric_limits<int64_t>::max()),
      StringField("brokerIP1", &BrokerConfig::broker_ip1),
      StringField("bindAddress", &BrokerConfig::bind_address, CheckNotEmpty),
      IntField("listenPort", &BrokerConfig::listen_port, 1, 65535),
      StringField("namesrvAddr", &BrokerConfig::namesrv_addr, CheckNamesrvAddr),
      StringField("storePathRootDir", &BrokerConfig::store_path_root_dir, CheckNotEmpty),
      BoolField("autoCreateTopicEnable", &BrokerConfig::auto_create_topic_enable),
      BoolField("autoCreateSubscriptionGroup", &BrokerConfig::auto_create_subscription_group),
      IntField("defaultTopicQueueNums", &BrokerConfig::default_topic_queue_nums, 1, kMaxQueueNums),
      IntField("brokerPermission", &BrokerConfig::broker_permission, 0, kPermAll),
      IntField("registerNameServerPeriod", &BrokerConfig::register_name_server_period_ms, 1,
               kMaxInt),
      IntField("flushConsumerOffsetInterval", &BrokerConfig::flush_consumer_offset_interval_ms, 1,
               kMaxInt),
      BoolField("longPollingEnable", &BrokerConfig::long_polling_enable),
      IntField("shortPollingTimeMills", &BrokerConfig::short_polling_time_mills, 1, kMaxInt),
      Field{"messageDelayLevel",
            [](BrokerConfig& c, std::string_view v) -> absl::Status {
              auto levels = ParseMessageDelayLevel(v);
              if (!levels.ok()) {
                return absl::InvalidArgumentError(
                    fmt::format("messageDelayLevel: {}", StatusMessage(levels.status())));
              }
              c.message_delay_level = std::string(v);
              c.message_delay_level_ms = *std::move(levels);
              return absl::OkStatus();
            },
            [](const BrokerConfig& c) { return c.message_delay_level; }},
      IntField("grpcServerPort", &BrokerConfig::grpc_server_port, 0, 65535),
      BoolField("enablePropertyFilter", &BrokerConfig::enable_property_filter),
      BoolField("rejectTransactionMessage", &BrokerConfig::reject_transaction_message),
      IntField("transactionTimeOut", &BrokerConfig::transaction_timeout_ms, 0, kMaxInt),
      IntField("transactionCheckMax", &BrokerConfig::transaction_check_max, 0, 1000000),
      IntField("transactionCheckInterval", &BrokerConfig::transaction_check_interval_ms, 1,
               kMaxInt),
      BoolField("updateConfigAllowed", &BrokerConfig::update_config_allowed),
      IntField("maxInflightSends", &BrokerConfig::max_inflight_sends, 1, 1000000),
      BoolField("timerWheelEnable", &BrokerConfig::timer_wheel_enable),
      IntField("timerPrecisionMs", &BrokerConfig::timer_precision_ms, 10, 60000),
      IntField("timerMaxDelaySec", &BrokerConfig::timer_max_delay_sec, 1, 366LL * 86400),
      BoolField("idempotentPublishEnable", &BrokerConfig::idempotent_publish_enable),
      IntField("idempotentPublishWindowSec", &BrokerConfig::idempotent_publish_window_sec, 1,
               7LL * 86400),
      IntField("idempotentPublishMaxEntries", &BrokerConfig::idempotent_publish_max_entries, 1,
               100000000),
      IntField("idempotentPublishRestoreMaxBytes",
               &BrokerConfig::idempotent_publish_restore_max_bytes, 4096, 1ll << 40),
      StringField("metricsExporterType", &BrokerConfig::metrics_exporter_type, CheckExporterType),
      StringField("metricsPromExporterHost", &BrokerConfig::metrics_prom_exporter_host),
      IntField("metricsPromExporterPort", &BrokerConfig::metrics_prom_exporter_port, 0, 65535),
      StringField("logLevel", &BrokerConfig::log_level, CheckLogLevel),
  };
  return kFields;
}

// The store's keys with their current values, for List(). StoreOptions parses them itself
// (SetOption); this table only prints, and a test checks each printed value parses back.
std::vector<std::pair<std::string, std::string>> StoreValues(const StoreOptions& o) {
  auto b = [](bool v) { return std::string(v ? "true" : "false"); };
  auto n = [](auto v) { return fmt::format("{}", v); };
  std::string_view pre = o.preallocate == Preallocate::kAuto       ? "auto"
                         : o.preallocate == Preallocate::kZeroFill ? "zero"
                                                                   : "fallocate";
  return {
      {"storePathCommitLog", o.store_path_commit_log},
      {"mappedFileSizeCommitLog", n(o.mapped_file_size_commit_log)},
      {"flushDiskType",
       o.flush_disk_type == FlushDiskType::kSyncFlush ? "SYNC_FLUSH" : "ASYNC_FLUSH"},
      {"flushIntervalCommitLog", n(o.flush_interval_commit_log_ms)},
      {"flushCommitLogLeastPages", n(o.flush_commit_log_least_pages)},
      {"flushCommitLogThoroughInterval", n(o.flush_commit_log_thorough_interval_ms)},
      {"syncFlushTimeout", n(o.sync_flush_timeout_ms)},
      {"maxMessageSize", n(o.max_message_size)},
      {"enabledAppendPropCRC", b(o.enabled_append_prop_crc)},
      {"checkCRCOnRecover", b(o.check_crc_on_recover)},
      {"checkpointInterval", n(o.checkpoint_interval_ms)},
      {"writeBufferSize", n(o.write_buffer_size)},
      {"segmentPreallocate", std::string(pre)},
      {"commitLogWriteMode", o.write_mode == WriteMode::kMmap ? "mmap" : "write"},
      {"mappedFileSizeConsumeQueue", n(o.mapped_file_size_consume_queue)},
      {"flushIntervalConsumeQueue", n(o.flush_interval_consume_queue_ms)},
      {"messageIndexEnable", b(o.message_index_enable)},
      {"maxHashSlotNum", n(o.max_hash_slot_num)},
      {"maxIndexNum", n(o.max_index_num)},
      {"maxMsgsNumBatch", n(o.max_msgs_num_batch)},
      {"fileReservedTime", n(o.file_reserved_time_hours)},
      {"deleteWhen", o.delete_when},
      {"diskMaxUsedSpaceRatio", n(o.disk_max_used_space_ratio)},
      {"diskSpaceCleanForciblyRatio", n(o.disk_space_clean_forcibly_ratio)},
      {"diskSpaceWarningLevelRatio", n(o.disk_space_warning_level_ratio)},
      {"cleanFileForciblyEnable", b(o.clean_file_forcibly_enable)},
      {"cleanResourceInterval", n(o.clean_resource_interval_ms)},
      {"deleteFileBatchMax", n(o.delete_file_batch_max)},
      {"storeHost", o.store_host},
  };
}

}  // namespace

BrokerConfig::BrokerConfig()
    : store_path_root_dir(HomeDir() + "/store"),
      message_delay_level_ms(*ParseMessageDelayLevel(kDefaultMessageDelayLevel)) {}

absl::Status BrokerConfig::Set(std::string_view key, std::string_view value,
                               std::string_view origin) {
  // RocketMQ's old name for the bound on queued sends maps onto Stele's in-flight bound.
  std::string_view k = key == "sendThreadPoolQueueCapacity" ? "maxInflightSends" : key;
  absl::Status s;
  if (const Field* f = FindField(BrokerFields(), k)) {
    s = f->set(*this, value);
  } else {
    s = store.SetOption(key, value);
    if (absl::IsNotFound(s)) {
      warnings.push_back(fmt::format("{}unknown key '{}' ignored", OriginPrefix(origin), key));
      return absl::OkStatus();
    }
  }
  if (!s.ok())
    return absl::InvalidArgumentError(fmt::format("{}{}", OriginPrefix(origin), StatusMessage(s)));
  explicitly_set.emplace(k);
  return absl::OkStatus();
}

absl::Status BrokerConfig::Finalize() {
  if (broker_ip1.empty()) broker_ip1 = ResolveLocalIpv4();
  if (register_name_server_period_ms < 10000 || register_name_server_period_ms > 60000) {
    int clamped = std::clamp(register_name_server_period_ms, 10000, 60000);
    warnings.push_back(fmt::format("registerNameServerPeriod {} clamped to {} (10000..60000)",
                                   register_name_server_period_ms, clamped));
    register_name_server_period_ms = clamped;
  }
  if (grpc_server_port != 0 && grpc_server_port == listen_port) {  // 0 = disabled / ephemeral
    return absl::InvalidArgumentError(
        fmt::format("grpcServerPort and listenPort are both {}", listen_port));
  }
  // The timer wheel file holds 2 x maxDelay / precision slots of 24 bytes: bound it (64 Mi slots
  // = 1.5 GiB) so that a tiny precision with a long delay cannot ask for a huge file.
  if (2 * timer_max_delay_sec * 1000 / timer_precision_ms > (int64_t{1} << 26)) {
    return absl::InvalidArgumentError(fmt::format(
        "timerMaxDelaySec {} with timerPrecisionMs {} needs more than 2^26 timer wheel slots "
        "(2 x maxDelay / precision); raise the precision or lower the delay",
        timer_max_delay_sec, timer_precision_ms));
  }
  if (metrics_exporter_type == "OTLP_GRPC" || metrics_exporter_type == "LOG") {
    warnings.push_back(fmt::format(
        "metricsExporterType={} is not supported by Stele: no metrics are exported (use PROM)",
        metrics_exporter_type));
  }
  if (MetricsEnabled() && metrics_prom_exporter_port != 0 &&
      (metrics_prom_exporter_port == listen_port ||
       metrics_prom_exporter_port == grpc_server_port)) {
    return absl::InvalidArgumentError(
        fmt::format("metricsPromExporterPort {} is also the listenPort or grpcServerPort",
                    metrics_prom_exporter_port));
  }
  store.store_path_root_dir = store_path_root_dir;
  if (!explicitly_set.contains("storeHost")) {
    bool v6 = broker_ip1.find(':') != std::string::npos;
    store.store_host = v6 ? fmt::format("[{}]:{}", broker_ip1, listen_port)
                          : fmt::format("{}:{}", broker_ip1, listen_port);
  }
  return store.Validate();
}

std::vector<std::pair<std::string, std::string>> BrokerConfig::List() const {
  std::vector<std::pair<std::string, std::string>> out;
  for (const Field& f : BrokerFields()) out.emplace_back(std::string(f.key), f.get(*this));
  for (auto& kv : StoreValues(store)) out.push_back(std::move(kv));
  return out;
}

std::string BrokerConfig::MetricsHost() const {
  if (!metrics_prom_exporter_host.empty()) return metrics_prom_exporter_host;
  if (explicitly_set.contains("bindAddress")) return bind_address;
  return broker_ip1;
}

std::vector<std::string> BrokerConfig::NamesrvAddrList() const {
  auto list = ParseNamesrvAddr(namesrv_addr);
  return list.ok() ? *std::move(list) : std::vector<std::string>{};
}

absl::StatusOr<BrokerConfig> BrokerConfigFromText(std::string_view text, std::string_view origin) {
  return ConfigFromText<BrokerConfig>(text, origin);
}

absl::StatusOr<BrokerConfig> LoadBrokerConfig(const std::string& path,
                                              std::shared_ptr<FileSystem> fs) {
  return LoadConfigFile<BrokerConfig>(path, std::move(fs));
}

absl::StatusOr<std::vector<int64_t>> ParseMessageDelayLevel(std::string_view spec) {
  std::vector<int64_t> out;
  size_t i = 0;
  while (i < spec.size()) {
    if (spec[i] == ' ' || spec[i] == '\t') {
      ++i;
      continue;
    }
    size_t end = spec.find_first_of(" \t", i);
    std::string_view tok = spec.substr(i, end == std::string_view::npos ? end : end - i);
    i = end == std::string_view::npos ? spec.size() : end;
    int64_t unit_ms = 0;
    switch (tok.back()) {
      case 's':
        unit_ms = 1000;
        break;
      case 'm':
        unit_ms = 60 * 1000;
        break;
      case 'h':
        unit_ms = 3600 * 1000;
        break;
      case 'd':
        unit_ms = 24 * 3600 * 1000;
        break;
      default:
        return absl::InvalidArgumentError(fmt::format(
            "'{}' in '{}' has no unit (expected a number followed by s, m, h or d)", tok, spec));
    }
    int64_t n = 0;
    // Bounded so that n * unit cannot overflow: 365 days at most.
    if (!ParseInt64("", tok.substr(0, tok.size() - 1), 1, 365 * 24 * 3600, &n).ok() ||
        n * unit_ms > int64_t{365} * 24 * 3600 * 1000) {
      return absl::InvalidArgumentError(fmt::format(
          "'{}' in '{}' is not a positive number of s, m, h or d up to 365d", tok, spec));
    }
    out.push_back(n * unit_ms);
  }
  if (out.empty()) return absl::InvalidArgumentError("no delay levels");
  if (out.size() > 255) return absl::InvalidArgumentError("more than 255 delay levels");
  return out;
}

absl::StatusOr<std::vector<std::string>> ParseNamesrvAddr(std::string_view spec) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= spec.size()) {
    size_t semi = spec.find(';', i);
    std::string_view part = spec.substr(i, semi == std::string_view::npos ? semi : semi - i);
    while (!part.empty() && (part.front() == ' ' || part.front() == '\t')) part.remove_prefix(1);
    while (!part.empty() && (part.back() == ' ' || part.back() == '\t')) part.remove_suffix(1);
    if (!part.empty()) {
      if (!ValidateHostPort("", part).ok()) {
        return absl::InvalidArgumentError(fmt::format(
            "'{}' in '{}' is not host:port (port 1..65535, IPv6 as [addr]:port)", part, spec));
      }
      out.emplace_back(part);
    }
    if (semi == std::string_view::npos) break;
    i = semi + 1;
  }
  return out;
}

std::string ResolveLocalIpv4() {
  ifaddrs* list = nullptr;
  if (getifaddrs(&list) != 0) return "127.0.0.1";
  std::string found;
  for (ifaddrs* a = list; a != nullptr && found.empty(); a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_addr->sa_family != AF_INET) continue;
    if ((a->ifa_flags & IFF_UP) == 0 || (a->ifa_flags & IFF_LOOPBACK) != 0) continue;
    const auto* sin = reinterpret_cast<const sockaddr_in*>(a->ifa_addr);
    if ((ntohl(sin->sin_addr.s_addr) >> 24) == 127) continue;
    char buf[INET_ADDRSTRLEN] = {};
    if (inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf)) != nullptr) found = buf;
  }
  freeifaddrs(list);
  return found.empty() ? "127.0.0.1" : found;
}

}  // namespace stele::broker
