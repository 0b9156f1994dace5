// Consumer-group settings, persisted as RocketMQ's
// <storePathRootDir>/config/subscriptionGroup.json:
//
//   {"subscriptionGroupTable":{"G":{"groupName":"G","consumeEnable":true,...}, ...},
//    "forbiddenTable":{}, "dataVersion":{"stateVersion":0,"timestamp":...,"counter":N}}
//
// Java-written files load as they are; fields Stele does not interpret (groupRetryPolicy,
// subscriptionDataSet, forbiddenTable) are kept and written back unchanged.
//
// Thread safety: all methods may be called from any thread; lookups never wait for disk I/O.
// Durability: a change returns OK only once it is durable; if persisting fails it is undone in
// memory and the error returned (VersionedTable).
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "net/broker/state/broker_config.h"
#include "net/broker/state/data_version.h"
#include "net/broker/state/versioned_table.h"

namespace stele::broker {

inline constexpr int kMaxRetryMaxTimes = 1024;
// MixAll.CID_RMQ_SYS_PREFIX: groups the broker creates even without autoCreateSubscriptionGroup.
inline constexpr std::string_view kSysConsumerGroupPrefix = "CID_RMQ_SYS_";

struct SubscriptionGroupConfig {
  std::string group_name;
  bool consume_enable = true;
  bool consume_from_min_enable = true;
  bool consume_broadcast_enable = true;
  bool consume_message_orderly = false;
  int32_t retry_queue_nums = 1;
  int32_t retry_max_times = 16;  // after this many retries a message goes to %DLQ%<group>
  int64_t broker_id = 0;
  int64_t which_broker_when_consume_slowly = 1;
  bool notify_consumer_ids_changed_enable = true;
  int32_t group_sys_flag = 0;
  int32_t consume_timeout_minute = 15;
  std::map<std::string, std::string> attributes;
  nlohmann::json extra = nlohmann::json::object();  // fields not listed above, kept verbatim

  bool operator==(const SubscriptionGroupConfig&) const = default;
  nlohmann::json ToJson() const;
  static absl::StatusOr<SubscriptionGroupConfig> FromJson(const nlohmann::json& j,
                                                          std::string_view key);
};

class SubscriptionGroupManager {
 public:
  // Copies storePathRootDir and autoCreateSubscriptionGroup from `config`. `fs` null = POSIX.
  explicit SubscriptionGroupManager(const BrokerConfig& config,
                                    std::shared_ptr<FileSystem> fs = nullptr);

  // Installs RocketMQ's built-in groups (TOOLS_CONSUMER, ...), then overlays the file. A missing
  // file is not an error; an unusable one is.
  absl::Status Load();
  absl::Status Persist() { return table_.Persist(); }

  std::optional<SubscriptionGroupConfig> Find(std::string_view group) const;
  // Find, else (autoCreateSubscriptionGroup, or a "CID_RMQ_SYS_" group) create it with defaults
  // and persist. NotFound if it may not be created; InvalidArgument for an invalid name.
  absl::StatusOr<SubscriptionGroupConfig> FindOrAutoCreate(std::string_view group);
  // Creates or replaces (admin UPDATE_AND_CREATE_SUBSCRIPTIONGROUP). Validates the name,
  // retryQueueNums (1..kMaxQueueNums) and retryMaxTimes (-1..kMaxRetryMaxTimes; -1 = no retries).
  absl::Status Update(const SubscriptionGroupConfig& config);
  // NotFound if absent.
  absl::Status Delete(std::string_view group);

  std::map<std::string, SubscriptionGroupConfig> All() const;
  DataVersion data_version() const { return table_.data_version(); }
  const std::string& path() const { return table_.path(); }

 private:
  const bool auto_create_;
  VersionedTable<SubscriptionGroupConfig> table_;
};

}  // namespace stele::broker
