// The body of a HEART_BEAT request (RocketMQ's HeartbeatData, fastjson-encoded):
//
//   {"clientID":"10.0.0.5@12345",
//    "producerDataSet":[{"groupName":"P"}],
//    "consumerDataSet":[{"groupName":"G","consumeType":"CONSUME_PASSIVELY",
//      "messageModel":"CLUSTERING","consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","unitMode":false,
//      "subscriptionDataSet":[{"topic":"T","subString":"a || b","classFilterMode":false,
//        "tagsSet":["a","b"],"codeSet":[97,98],"subVersion":1700000000000,
//        "expressionType":"TAG"}]}]}
//
// Parsing is defensive, since the body comes straight off the network: missing fields take
// RocketMQ's defaults, numbers and booleans may arrive as strings, and anything else malformed
// (bad JSON, wrong types, over-long strings, more elements than the limits below) is
// InvalidArgument. Nothing throws.
//
// Thread safety: stateless.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"

namespace stele::broker {

// Fixed bounds on one heartbeat (far above what real clients send).
inline constexpr size_t kMaxHeartbeatGroups = 1024;  // per producer/consumer set
inline constexpr size_t kMaxSubscriptionsPerGroup = 4096;
inline constexpr size_t kMaxTagsPerSubscription = 1024;
inline constexpr size_t kMaxClientIdLength = 1024;
// Group and topic names are bounded here only loosely; whoever uses one validates it
// (ValidateGroup / ValidateTopic), so that one bad group does not reject a client's whole
// heartbeat.
inline constexpr size_t kMaxHeartbeatNameLength = 1024;
inline constexpr size_t kMaxSubStringLength = 64 * 1024;  // SQL92 expressions can be long

enum class ConsumeType { kActively, kPassively, kPop };  // CONSUME_ACTIVELY, _PASSIVELY, _POP
enum class MessageModel { kClustering, kBroadcasting };

struct SubscriptionData {
  std::string topic;
  std::string sub_string = "*";
  bool class_filter_mode = false;
  std::vector<std::string> tags_set;
  std::vector<int32_t> code_set;
  int64_t sub_version = 0;
  std::string expression_type = "TAG";  // "TAG" or "SQL92"
  bool operator==(const SubscriptionData&) const = default;
};

struct ConsumerData {
  std::string group_name;
  ConsumeType consume_type = ConsumeType::kPassively;
  MessageModel message_model = MessageModel::kClustering;
  std::string consume_from_where = "CONSUME_FROM_LAST_OFFSET";
  bool unit_mode = false;
  std::vector<SubscriptionData> subscriptions;
  bool operator==(const ConsumerData&) const = default;
};

struct ProducerData {
  std::string group_name;
  bool operator==(const ProducerData&) const = default;
};

struct HeartbeatData {
  std::string client_id;
  std::vector<ProducerData> producers;
  std::vector<ConsumerData> consumers;
};

absl::StatusOr<HeartbeatData> ParseHeartbeat(std::string_view body);

std::string_view ConsumeTypeName(ConsumeType t);
std::string_view MessageModelName(MessageModel m);

}  // namespace stele::broker
