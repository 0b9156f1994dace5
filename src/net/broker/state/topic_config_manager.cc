#include "net/broker/state/topic_config_manager.h"

#include <algorithm>
#include <utility>

#include <fmt/format.h>
#include "common/logging.h"
#include "common/status.h"
#include "net/broker/state/json_fields.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;
constexpr size_t kMaxAttributes = 256;
constexpr int kScheduleTopicQueueNums = 18;  // one queue per delay level

absl::Status ValidateTopicConfig(const TopicConfig& c) {
  if (c.read_queue_nums < 0 || c.read_queue_nums > kMaxQueueNums || c.write_queue_nums < 0 ||
      c.write_queue_nums > kMaxQueueNums) {
    return absl::InvalidArgumentError(fmt::format("topic {}: queue counts {}/{} outside 0..{}",
                                                  c.topic_name, c.read_queue_nums,
                                                  c.write_queue_nums, kMaxQueueNums));
  }
  if (c.perm < 0 || c.perm > kPermAll) {
    return absl::InvalidArgumentError(
        fmt::format("topic {}: perm {} outside 0..{}", c.topic_name, c.perm, kPermAll));
  }
  if (c.topic_filter_type != "SINGLE_TAG" && c.topic_filter_type != "MULTI_TAG") {
    return absl::InvalidArgumentError(
        fmt::format("topic {}: topicFilterType '{}' is not SINGLE_TAG or MULTI_TAG", c.topic_name,
                    ShortForMessage(c.topic_filter_type)));
  }
  return absl::OkStatus();
}

}  // namespace

json TopicConfig::ToJson() const {
  json j = extra.is_object() ? extra : json::object();
  j["topicName"] = topic_name;
  j["readQueueNums"] = read_queue_nums;
  j["writeQueueNums"] = write_queue_nums;
  j["perm"] = perm;
  j["topicFilterType"] = topic_filter_type;
  j["topicSysFlag"] = topic_sys_flag;
  j["order"] = order;
  j["attributes"] = attributes;
  return j;
}

absl::StatusOr<TopicConfig> TopicConfig::FromJson(const json& j, std::string_view key) {
  STELE_RETURN_IF_ERROR(RequireObject(j, fmt::format("topic {}", ShortForMessage(key))));
  TopicConfig c;
  constexpr int64_t kI32 = INT32_MAX;
  STELE_ASSIGN_OR_RETURN(c.topic_name, JsonString(j, "topicName", key, 4096));
  STELE_ASSIGN_OR_RETURN(c.read_queue_nums, JsonInt(j, "readQueueNums", 16, -kI32, kI32));
  STELE_ASSIGN_OR_RETURN(c.write_queue_nums, JsonInt(j, "writeQueueNums", 16, -kI32, kI32));
  STELE_ASSIGN_OR_RETURN(c.perm, JsonInt(j, "perm", kPermRead | kPermWrite, -kI32, kI32));
  STELE_ASSIGN_OR_RETURN(c.topic_filter_type, JsonString(j, "topicFilterType", "SINGLE_TAG"));
  STELE_ASSIGN_OR_RETURN(c.topic_sys_flag, JsonInt(j, "topicSysFlag", 0, -kI32, kI32));
  STELE_ASSIGN_OR_RETURN(c.order, JsonBool(j, "order", false));
  STELE_ASSIGN_OR_RETURN(c.attributes, JsonStringMap(j, "attributes", kMaxAttributes));
  c.extra = UnknownFields(j, {"topicName", "readQueueNums", "writeQueueNums", "perm",
                              "topicFilterType", "topicSysFlag", "order", "attributes"});
  return c;
}

TopicConfigManager::TopicConfigManager(const BrokerConfig& config, std::shared_ptr<FileSystem> fs)
    : cluster_name_(config.broker_cluster_name),
      broker_name_(config.broker_name),
      auto_create_topic_enable_(config.auto_create_topic_enable),
      default_topic_queue_nums_(config.default_topic_queue_nums),
      system_topics_(SystemTopicConfigs()),
      table_(
          config.store_path_root_dir + "/config/topics.json", "topicConfigTable",
          [](const std::string& key, const TopicConfig& c) -> absl::Status {
            // A loaded name becomes a directory name: it must pass the same check as a new one.
            STELE_RETURN_IF_ERROR(ValidateInternalTopic(c.topic_name));
            if (c.topic_name != key) return absl::InvalidArgumentError("topicName != its key");
            return ValidateTopicConfig(c);
          },
          std::move(fs)) {}

std::map<std::string, TopicConfig> TopicConfigManager::SystemTopicConfigs() const {
  // RocketMQ's TopicConfigManager.init(), minus the topics of features Stele does not have (POP's
  // revive topic, the controller's sync-member topic) and the trace topic (traceTopicEnable is off
  // by default).
  std::map<std::string, TopicConfig> out;
  auto add = [&](std::string name, int queues, int perm) {
    TopicConfig c;
    c.topic_name = name;
    c.read_queue_nums = c.write_queue_nums = queues;
    c.perm = perm;
    out[name] = std::move(c);
  };
  constexpr int kRW = kPermRead | kPermWrite;
  add(std::string(kSelfTestTopic), 1, kRW);
  if (auto_create_topic_enable_) {
    add(std::string(kAutoCreateTopicKeyTopic), default_topic_queue_nums_, kRW | kPermInherit);
  }
  add(std::string(kBenchmarkTopic), 1024, kRW);
  add(cluster_name_, 16, kRW | kPermInherit);  // clusterTopicEnable defaults to true
  add(broker_name_, 1, kRW | kPermInherit);    // brokerTopicEnable defaults to true
  add(std::string(kOffsetMovedEventTopic), 1, kRW);
  add(std::string(kScheduleTopic), kScheduleTopicQueueNums, kRW);
  add(fmt::format("{}_{}", cluster_name_, kReplyTopicPostfix), 1, kRW);
  add(std::string(kTransHalfTopic), 1, kRW);
  add(std::string(kTransOpHalfTopic), 1, kRW);
  return out;
}

absl::Status TopicConfigManager::Load() { return table_.Load(system_topics_); }

std::optional<TopicConfig> TopicConfigManager::Get(std::string_view topic) const {
  auto c = Find(topic);
  if (c == nullptr) return std::nullopt;
  return *c;
}

absl::Status TopicConfigManager::CreateOrUpdate(const TopicConfig& config) {
  STELE_RETURN_IF_ERROR(ValidateTopic(config.topic_name));
  STELE_RETURN_IF_ERROR(ValidateTopicConfig(config));
  STELE_RETURN_IF_ERROR(table_.Put(config.topic_name, config));
  log::Info("topic {} created or updated: read {} write {} perm {}", config.topic_name,
            config.read_queue_nums, config.write_queue_nums, config.perm);
  return absl::OkStatus();
}

absl::Status TopicConfigManager::Delete(std::string_view topic) {
  absl::Status s = table_.Erase(topic);
  if (s.ok()) log::Info("topic {} deleted", topic);
  return s;
}

absl::StatusOr<TopicConfig> TopicConfigManager::CreateIfAbsent(TopicConfig config) {
  bool created = false;
  std::string name = config.topic_name;
  STELE_ASSIGN_OR_RETURN(auto c, table_.PutIfAbsent(name, std::move(config), &created));
  if (created) {
    log::Info("topic {} created: read {} write {} perm {}", c->topic_name, c->read_queue_nums,
              c->write_queue_nums, c->perm);
  }
  return *c;
}

absl::StatusOr<TopicConfig> TopicConfigManager::AutoCreateForSend(std::string_view topic,
                                                                  int32_t client_queue_nums,
                                                                  int32_t topic_sys_flag) {
  if (auto c = Find(topic)) return *c;
  STELE_RETURN_IF_ERROR(ValidateTopic(topic));
  auto def = Find(kAutoCreateTopicKeyTopic);
  if (!auto_create_topic_enable_ || def == nullptr || !IsInherited(def->perm)) {
    return absl::NotFoundError(fmt::format(
        "topic {} does not exist and autoCreateTopicEnable is off", ShortForMessage(topic)));
  }
  TopicConfig c;
  c.topic_name = std::string(topic);
  // RocketMQ allows 0 here; a topic created with no queues could never take the message that
  // created it, so Stele creates at least one.
  int32_t most = std::max(1, std::min(def->write_queue_nums, kMaxQueueNums));
  c.read_queue_nums = c.write_queue_nums = std::clamp(client_queue_nums, 1, most);
  c.perm = def->perm & ~kPermInherit;
  c.topic_sys_flag = topic_sys_flag;
  c.topic_filter_type = def->topic_filter_type;
  return CreateIfAbsent(std::move(c));
}

absl::StatusOr<TopicConfig> TopicConfigManager::CreateRetryTopic(std::string_view group,
                                                                 int32_t queue_nums) {
  STELE_RETURN_IF_ERROR(ValidateGroup(group));
  TopicConfig c;
  c.topic_name = RetryTopic(group);
  STELE_RETURN_IF_ERROR(ValidateInternalTopic(c.topic_name));
  c.read_queue_nums = c.write_queue_nums = std::clamp(queue_nums, 1, kMaxQueueNums);
  c.perm = kPermRead | kPermWrite;
  return CreateIfAbsent(std::move(c));
}

absl::StatusOr<TopicConfig> TopicConfigManager::CreateDlqTopic(std::string_view group) {
  STELE_RETURN_IF_ERROR(ValidateGroup(group));
  TopicConfig c;
  c.topic_name = DlqTopic(group);
  STELE_RETURN_IF_ERROR(ValidateInternalTopic(c.topic_name));
  c.read_queue_nums = c.write_queue_nums = 1;  // DLQ_NUMS_PER_GROUP
  c.perm = kPermRead | kPermWrite;
  return CreateIfAbsent(std::move(c));
}

TopicConfigManager::Snapshot TopicConfigManager::All() const {
  auto [table, version] = table_.Snapshot();
  Snapshot s;
  for (const auto& [name, c] : table) s.topics.emplace(name, *c);
  s.data_version = version;
  return s;
}

json TopicConfigManager::ToRegisterJson(int broker_permission) const {
  bool mask = !IsReadable(broker_permission) || !IsWriteable(broker_permission);
  auto [table, version] = table_.Snapshot();
  json topics = json::object();
  for (const auto& [name, c] : table) {
    json t = c->ToJson();
    if (mask) t["perm"] = c->perm & broker_permission;
    topics[name] = std::move(t);
  }
  return json{{"topicConfigTable", std::move(topics)}, {"dataVersion", version.ToJson()}};
}

bool TopicConfigManager::IsSystemTopic(std::string_view topic) const {
  return broker::IsSystemTopic(topic) || system_topics_.contains(std::string(topic));
}

}  // namespace stele::broker
