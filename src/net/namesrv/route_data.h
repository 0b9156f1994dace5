// The name server's route records and their JSON wire forms (Java: QueueData, BrokerData,
// TopicConfigSerializeWrapper). Each JSON shape is written here once:
//
//   Wrapper      {"topicConfigTable":{"T":TopicConfig,...},"dataVersion":DataVersion, ...}
//                (TopicConfig and DataVersion as net/broker/state writes them; other wrapper keys,
//                e.g. 5.x's topicQueueMappingInfoMap, are ignored)
//   QueueData    {"brokerName":"b","readQueueNums":4,"writeQueueNums":4,"perm":6,"topicSysFlag":0}
//   BrokerData   {"cluster":"c","brokerName":"b","brokerAddrs":{"0":"ip:port"},"zoneName":null,
//                 "enableActingMaster":false}
//
// Output is always standard JSON: map keys quoted ("0", not fastjson's 0), so every client parses
// it (protocol.md §2.1). Parsers are lenient about what Java adds and strict about what we use: a
// field we read must have the right JSON type, else InvalidArgument naming it. They never throw.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "net/broker/state/data_version.h"
#include "net/broker/state/topic_config_manager.h"
#include "nlohmann/json.hpp"

namespace stele::namesrv {

// Java MixAll.MASTER_ID.
constexpr int64_t kMasterId = 0;

// DataVersion and TopicConfig are the broker's types (net/broker/state): the name server reads
// exactly what brokers write. The name server compares DataVersions for equality only (Java
// DataVersion.equals), to tell whether a broker's topic set changed since it last registered.
using broker::DataVersion;
using broker::TopicConfig;

// Java TopicConfigSerializeWrapper: one broker's whole topic set and its version.
struct TopicConfigWrapper {
  std::map<std::string, TopicConfig> topics;  // by topic name
  DataVersion data_version;
};

// One broker group's share of a topic.
struct QueueData {
  std::string broker_name;
  int32_t read_queue_nums = 0;
  int32_t write_queue_nums = 0;
  int32_t perm = 0;
  int32_t topic_sys_flag = 0;
  bool operator==(const QueueData&) const = default;
};

// A broker group: its master (id 0) and slaves.
struct BrokerData {
  std::string cluster;
  std::string broker_name;
  std::map<int64_t, std::string> broker_addrs;  // brokerId -> "ip:port"
  std::optional<std::string> zone_name;
  bool enable_acting_master = false;
};

nlohmann::json ToJson(const QueueData& q);
nlohmann::json ToJson(const BrokerData& b);

absl::StatusOr<TopicConfigWrapper> TopicConfigWrapperFromJson(const nlohmann::json& j);
nlohmann::json ToJson(const TopicConfigWrapper& w);

// Parses JSON from a peer (Java's fastjson may write bare integer map keys, which are accepted)
// without throwing; InvalidArgument naming `what` if it is not JSON.
absl::StatusOr<nlohmann::json> ParseJson(std::string_view text, std::string_view what);
// Compact JSON text. Never throws: strings that came off the wire may hold invalid UTF-8, which
// is replaced (U+FFFD) rather than failing the reply.
std::string DumpJson(const nlohmann::json& j);

}  // namespace stele::namesrv
