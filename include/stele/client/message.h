// Messages as the client sends and receives them, and the queue they live in. Plain values: copy
// them freely; nothing here is shared or synchronized.
#pragma once

#include <compare>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/status.h"

namespace stele::client {

// One queue of a topic on one broker group.
struct MessageQueue {
  std::string topic;
  std::string broker_name;
  int32_t queue_id = 0;

  auto operator<=>(const MessageQueue&) const = default;
  std::string ToString() const;  // "topic@broker#3"
};

// Property names RocketMQ gives a meaning (Java MessageConst), the ones this client sets or reads.
namespace prop {
inline constexpr std::string_view kTags = "TAGS";
inline constexpr std::string_view kKeys = "KEYS";
inline constexpr std::string_view kUniqKey = "UNIQ_KEY";
inline constexpr std::string_view kDelayLevel = "DELAY";
inline constexpr std::string_view kDeliverTimeMs = "__STARTDELIVERTIME";
inline constexpr std::string_view kWaitStoreOk = "WAIT";
inline constexpr std::string_view kTransactionPrepared = "TRAN_MSG";
inline constexpr std::string_view kProducerGroup = "PGROUP";
inline constexpr std::string_view kRetryTopic = "RETRY_TOPIC";
inline constexpr std::string_view kMaxReconsumeTimes = "MAX_RECONSUME_TIMES";
inline constexpr std::string_view kMinOffset = "MIN_OFFSET";
inline constexpr std::string_view kMaxOffset = "MAX_OFFSET";
inline constexpr std::string_view kShardingKey = "__SHARDINGKEY";
inline constexpr std::string_view kTransactionId = "__transactionId__";
}  // namespace prop

// A message to send. `properties` holds user properties; tags, keys, delay and delivery time
// have their own fields (and are sent as RocketMQ's TAGS/KEYS/DELAY/__STARTDELIVERTIME).
struct Message {
  std::string topic;
  std::string body;
  std::string tags;
  std::string keys;  // several keys: separated by spaces
  std::map<std::string, std::string> properties;
  int32_t delay_level = 0;      // 1..18 (messageDelayLevel); 0 = none
  int64_t deliver_time_ms = 0;  // absolute epoch ms (5.x timer); 0 = none
  int32_t flag = 0;             // user flag, stored as is

  const std::string* Property(std::string_view name) const;
};

// A message as consumed. `properties` holds every property as stored, system ones included
// (TAGS, KEYS, UNIQ_KEY, ...), as RocketMQ's MessageExt does.
struct MessageExt : Message {
  std::string msg_id;         // the producer's UNIQ_KEY, else offset_msg_id
  std::string offset_msg_id;  // store host + commit-log offset
  std::string broker_name;
  int32_t queue_id = 0;
  int64_t queue_offset = 0;
  int64_t commit_log_offset = 0;
  int32_t sys_flag = 0;
  int32_t body_crc = 0;
  int32_t reconsume_times = 0;
  int64_t born_timestamp = 0;
  int64_t store_timestamp = 0;
  std::string born_host;  // "ip:port"
  std::string store_host;
  int64_t prepared_transaction_offset = 0;

  MessageQueue queue() const { return {topic, broker_name, queue_id}; }
};

enum class SendStatus { kSendOk, kFlushDiskTimeout, kFlushSlaveTimeout, kSlaveNotAvailable };
std::string_view SendStatusName(SendStatus s);

struct SendResult {
  SendStatus status = SendStatus::kSendOk;
  std::string msg_id;         // UNIQ_KEY set by this client (for a batch: the ids, comma-joined)
  std::string offset_msg_id;  // the broker's id (store host + commit-log offset)
  MessageQueue queue;
  int64_t queue_offset = 0;
  std::string transaction_id;
};

// Errors carry RocketMQ's response code (when the broker answered with one) as a payload; the
// message reads "<CODE_NAME> (<code>): <remark>". Transport problems (timeouts, closed
// connections) are DeadlineExceeded / Unavailable without a code.
std::optional<int32_t> RocketMqCode(const absl::Status& s);

}  // namespace stele::client
