// The broker's topic table, persisted as RocketMQ's <storePathRootDir>/config/topics.json:
//
//   {"topicConfigTable":{"T":{"topicName":"T","readQueueNums":8,"writeQueueNums":8,"perm":6,
//     "topicFilterType":"SINGLE_TAG","topicSysFlag":0,"order":false,"attributes":{}}, ...},
//    "dataVersion":{"stateVersion":0,"timestamp":1700000000000,"counter":3}}
//
// Java-written files load as they are; fields Stele does not interpret are kept and written back.
//
// Thread safety: all methods may be called from any thread; lookups never wait for disk I/O.
// Durability: a method that changes the table returns OK only once the new table is durable; if
// persisting fails the change is undone in memory and the error returned (VersionedTable).
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
#include "net/broker/state/names.h"
#include "net/broker/state/versioned_table.h"

namespace stele::broker {

struct TopicConfig {
  std::string topic_name;
  int32_t read_queue_nums = 16;  // RocketMQ's TopicConfig defaults
  int32_t write_queue_nums = 16;
  int32_t perm = kPermRead | kPermWrite;
  std::string topic_filter_type = "SINGLE_TAG";  // or "MULTI_TAG"
  int32_t topic_sys_flag = 0;
  bool order = false;
  std::map<std::string, std::string> attributes;
  nlohmann::json extra = nlohmann::json::object();  // fields not listed above, kept verbatim

  bool operator==(const TopicConfig&) const = default;
  nlohmann::json ToJson() const;
  // `key` is the entry's key in topicConfigTable, used when topicName is missing.
  static absl::StatusOr<TopicConfig> FromJson(const nlohmann::json& j, std::string_view key);
};

class TopicConfigManager {
 public:
  // Copies what it needs from `config` (root dir, cluster and broker names, autoCreateTopicEnable,
  // defaultTopicQueueNums). `fs` null = POSIX.
  explicit TopicConfigManager(const BrokerConfig& config, std::shared_ptr<FileSystem> fs = nullptr);

  // Installs the system topics RocketMQ's TopicConfigManager creates, then overlays topics.json
  // (its entries win). A missing file is not an error; an unusable one is (see JsonFile).
  absl::Status Load();
  // Writes the current table.
  absl::Status Persist() { return table_.Persist(); }

  std::optional<TopicConfig> Get(std::string_view topic) const;
  // The same without copying, for the send and pull paths.
  std::shared_ptr<const TopicConfig> Find(std::string_view topic) const {
    return table_.Find(topic);
  }

  // Creates or replaces a topic (admin UPDATE_AND_CREATE_TOPIC). Validates the name, queue counts
  // (0..kMaxQueueNums), perm and filter type.
  absl::Status CreateOrUpdate(const TopicConfig& config);
  // NotFound if the topic does not exist.
  absl::Status Delete(std::string_view topic);

  // RocketMQ's createTopicInSendMessageMethod: returns the topic, creating it the first time if
  // autoCreateTopicEnable and TBW102 allows inheriting, with min(client_queue_nums, TBW102's write
  // queues) queues (at least 1) and TBW102's perm without the inherit bit. NotFound when it may
  // not be created; InvalidArgument for an invalid name.
  absl::StatusOr<TopicConfig> AutoCreateForSend(std::string_view topic, int32_t client_queue_nums,
                                                int32_t topic_sys_flag = 0);
  // "%RETRY%<group>" with `queue_nums` queues (the group's retryQueueNums), perm RW, if absent.
  absl::StatusOr<TopicConfig> CreateRetryTopic(std::string_view group, int32_t queue_nums = 1);
  // "%DLQ%<group>": 1 queue, perm RW, if absent.
  absl::StatusOr<TopicConfig> CreateDlqTopic(std::string_view group);

  struct Snapshot {
    std::map<std::string, TopicConfig> topics;
    DataVersion data_version;
  };
  Snapshot All() const;
  DataVersion data_version() const { return table_.data_version(); }
  // The topicConfigSerializeWrapper body of REGISTER_BROKER: {"topicConfigTable":{...},
  // "dataVersion":{...}}. As RocketMQ does, when the broker is not both readable and writeable
  // each topic's perm is masked with `broker_permission`.
  nlohmann::json ToRegisterJson(int broker_permission = kPermRead | kPermWrite) const;

  // TopicValidator's system topics plus the ones this broker creates at Load (its cluster and
  // broker names among them): admin requests may not change these.
  bool IsSystemTopic(std::string_view topic) const;
  const std::string& path() const { return table_.path(); }

 private:
  std::map<std::string, TopicConfig> SystemTopicConfigs() const;
  absl::StatusOr<TopicConfig> CreateIfAbsent(TopicConfig config);

  const std::string cluster_name_;
  const std::string broker_name_;
  const bool auto_create_topic_enable_;
  const int default_topic_queue_nums_;
  const std::map<std::string, TopicConfig> system_topics_;  // fixed at construction
  VersionedTable<TopicConfig> table_;
};

}  // namespace stele::broker
