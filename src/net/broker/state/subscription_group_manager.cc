#include "net/broker/state/subscription_group_manager.h"

#include <utility>

#include <fmt/format.h>
#include "common/logging.h"
#include "common/status.h"
#include "net/broker/state/json_fields.h"
#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;
constexpr int64_t kI32 = INT32_MAX;
constexpr int64_t kI64 = INT64_MAX;

absl::Status ValidateGroupConfig(const SubscriptionGroupConfig& c) {
  STELE_RETURN_IF_ERROR(ValidateGroup(c.group_name));
  if (c.retry_queue_nums < 1 || c.retry_queue_nums > kMaxQueueNums) {
    return absl::InvalidArgumentError(fmt::format("group {}: retryQueueNums {} outside 1..{}",
                                                  c.group_name, c.retry_queue_nums, kMaxQueueNums));
  }
  if (c.retry_max_times < -1 || c.retry_max_times > kMaxRetryMaxTimes) {
    return absl::InvalidArgumentError(fmt::format("group {}: retryMaxTimes {} outside -1..{}",
                                                  c.group_name, c.retry_max_times,
                                                  kMaxRetryMaxTimes));
  }
  return absl::OkStatus();
}

SubscriptionGroupConfig Defaults(std::string name) {
  SubscriptionGroupConfig c;
  c.group_name = std::move(name);
  return c;
}

}  // namespace

json SubscriptionGroupConfig::ToJson() const {
  json j = extra.is_object() ? extra : json::object();
  j["groupName"] = group_name;
  j["consumeEnable"] = consume_enable;
  j["consumeFromMinEnable"] = consume_from_min_enable;
  j["consumeBroadcastEnable"] = consume_broadcast_enable;
  j["consumeMessageOrderly"] = consume_message_orderly;
  j["retryQueueNums"] = retry_queue_nums;
  j["retryMaxTimes"] = retry_max_times;
  j["brokerId"] = broker_id;
  j["whichBrokerWhenConsumeSlowly"] = which_broker_when_consume_slowly;
  j["notifyConsumerIdsChangedEnable"] = notify_consumer_ids_changed_enable;
  j["groupSysFlag"] = group_sys_flag;
  j["consumeTimeoutMinute"] = consume_timeout_minute;
  j["attributes"] = attributes;
  return j;
}

absl::StatusOr<SubscriptionGroupConfig> SubscriptionGroupConfig::FromJson(const json& j,
                                                                          std::string_view key) {
  STELE_RETURN_IF_ERROR(RequireObject(j, fmt::format("group {}", ShortForMessage(key))));
  SubscriptionGroupConfig c;
  STELE_ASSIGN_OR_RETURN(c.group_name, JsonString(j, "groupName", key, 4096));
  STELE_ASSIGN_OR_RETURN(c.consume_enable, JsonBool(j, "consumeEnable", true));
  STELE_ASSIGN_OR_RETURN(c.consume_from_min_enable, JsonBool(j, "consumeFromMinEnable", true));
  STELE_ASSIGN_OR_RETURN(c.consume_broadcast_enable, JsonBool(j, "consumeBroadcastEnable", true));
  STELE_ASSIGN_OR_RETURN(c.consume_message_orderly, JsonBool(j, "consumeMessageOrderly", false));
  STELE_ASSIGN_OR_RETURN(c.retry_queue_nums, JsonInt(j, "retryQueueNums", 1, -kI32, kI32));
  STELE_ASSIGN_OR_RETURN(c.retry_max_times, JsonInt(j, "retryMaxTimes", 16, -kI32, kI32));
  STELE_ASSIGN_OR_RETURN(c.broker_id, JsonInt(j, "brokerId", 0, -kI64, kI64));
  STELE_ASSIGN_OR_RETURN(c.which_broker_when_consume_slowly,
                         JsonInt(j, "whichBrokerWhenConsumeSlowly", 1, -kI64, kI64));
  STELE_ASSIGN_OR_RETURN(c.notify_consumer_ids_changed_enable,
                         JsonBool(j, "notifyConsumerIdsChangedEnable", true));
  STELE_ASSIGN_OR_RETURN(c.group_sys_flag, JsonInt(j, "groupSysFlag", 0, -kI32, kI32));
  STELE_ASSIGN_OR_RETURN(c.consume_timeout_minute,
                         JsonInt(j, "consumeTimeoutMinute", 15, -kI32, kI32));
  STELE_ASSIGN_OR_RETURN(c.attributes, JsonStringMap(j, "attributes", 256));
  c.extra = UnknownFields(
      j, {"groupName", "consumeEnable", "consumeFromMinEnable", "consumeBroadcastEnable",
          "consumeMessageOrderly", "retryQueueNums", "retryMaxTimes", "brokerId",
          "whichBrokerWhenConsumeSlowly", "notifyConsumerIdsChangedEnable", "groupSysFlag",
          "consumeTimeoutMinute", "attributes"});
  return c;
}

SubscriptionGroupManager::SubscriptionGroupManager(const BrokerConfig& config,
                                                   std::shared_ptr<FileSystem> fs)
    : auto_create_(config.auto_create_subscription_group),
      table_(
          config.store_path_root_dir + "/config/subscriptionGroup.json", "subscriptionGroupTable",
          [](const std::string& key, const SubscriptionGroupConfig& c) -> absl::Status {
            STELE_RETURN_IF_ERROR(ValidateGroupConfig(c));
            if (c.group_name != key) return absl::InvalidArgumentError("groupName != its key");
            return absl::OkStatus();
          },
          std::move(fs)) {}

absl::Status SubscriptionGroupManager::Load() {
  // RocketMQ's SubscriptionGroupManager.init(): groups its own tools and the ONS SDK expect.
  std::map<std::string, SubscriptionGroupConfig> builtin;
  for (std::string name :
       {"TOOLS_CONSUMER", "FILTERSRV_CONSUMER", "SELF_TEST_C_GROUP", "CID_ONS-HTTP-PROXY",
        "CID_ONSAPI_PULL", "CID_ONSAPI_PERMISSION", "CID_ONSAPI_OWNER", "CID_RMQ_SYS_TRANS"}) {
    builtin.emplace(name, Defaults(name));
  }
  return table_.Load(std::move(builtin));
}

std::optional<SubscriptionGroupConfig> SubscriptionGroupManager::Find(
    std::string_view group) const {
  auto c = table_.Find(group);
  if (c == nullptr) return std::nullopt;
  return *c;
}

absl::StatusOr<SubscriptionGroupConfig> SubscriptionGroupManager::FindOrAutoCreate(
    std::string_view group) {
  if (auto c = table_.Find(group)) return *c;
  STELE_RETURN_IF_ERROR(ValidateGroup(group));
  if (!auto_create_ && !group.starts_with(kSysConsumerGroupPrefix)) {
    return absl::NotFoundError(
        fmt::format("subscription group {} does not exist and autoCreateSubscriptionGroup is off",
                    ShortForMessage(group)));
  }
  bool created = false;
  STELE_ASSIGN_OR_RETURN(
      auto c, table_.PutIfAbsent(std::string(group), Defaults(std::string(group)), &created));
  if (created) log::Info("subscription group {} created", group);
  return *c;
}

absl::Status SubscriptionGroupManager::Update(const SubscriptionGroupConfig& config) {
  STELE_RETURN_IF_ERROR(ValidateGroupConfig(config));
  STELE_RETURN_IF_ERROR(table_.Put(config.group_name, config));
  log::Info("subscription group {} created or updated", config.group_name);
  return absl::OkStatus();
}

absl::Status SubscriptionGroupManager::Delete(std::string_view group) {
  absl::Status s = table_.Erase(group);
  if (s.ok()) log::Info("subscription group {} deleted", group);
  return s;
}

std::map<std::string, SubscriptionGroupConfig> SubscriptionGroupManager::All() const {
  std::map<std::string, SubscriptionGroupConfig> out;
  for (const auto& [name, c] : table_.Snapshot().first) out.emplace(name, *c);
  return out;
}

}  // namespace stele::broker
