// Conversions between the gRPC protocol (apache.rocketmq.v2) and the broker's own types: status
// codes, resource names, and messages in both directions. The mapping of properties is the one
// RocketMQ's proxy uses, so a message sent over gRPC reads the same over remoting and back:
// tag <-> TAGS, keys <-> KEYS (space-joined), message_id <-> UNIQ_KEY, message_group <->
// __SHARDINGKEY, delivery_timestamp <-> TIMER_DELIVER_MS; user properties are stored as they are.
// Bodies are stored and delivered uncompressed (gzip from gRPC clients is inflated before it is
// stored; zlib-compressed bodies of remoting producers are inflated on delivery).
//
// Thread safety: stateless functions.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"
#include "apache/rocketmq/v2/definition.pb.h"
#include "google/protobuf/duration.pb.h"
#include "google/protobuf/timestamp.pb.h"
#include "net/broker/message_writer.h"
#include "stele/message.h"

namespace stele::rpc {

namespace v2 = apache::rocketmq::v2;

// RocketMQ's property names the gRPC mapping uses (MessageConst).
inline constexpr std::string_view kPropShardingKey = "__SHARDINGKEY";
inline constexpr std::string_view kPropTimerDeliverMs = "TIMER_DELIVER_MS";
inline constexpr std::string_view kPropBornHostName = "__BORNHOST";

// A protocol error: the Code and a readable message, carried in an absl::Status so the helpers
// compose with STELE_ASSIGN_OR_RETURN. ToStatus/FromStatus round-trip the code through the
// status payload.
absl::Status Error(v2::Code code, std::string_view message);
// The response Status for `s`: its protocol code if made by Error(), else a code by absl code
// (`not_found`: what NotFound means for this call).
v2::Status ToProto(const absl::Status& s, v2::Code not_found = v2::TOPIC_NOT_FOUND);
v2::Status Ok();

// The broker-side name of a resource: "namespace%name" inside a namespace (RocketMQ's
// NamespaceUtil), else the name.
std::string FullName(const v2::Resource& r);
// Validates a topic (ILLEGAL_TOPIC) or group (ILLEGAL_CONSUMER_GROUP) resource; returns FullName.
absl::StatusOr<std::string> TopicName(const v2::Resource& r);
absl::StatusOr<std::string> GroupName(const v2::Resource& r);

// google.protobuf time types.
int64_t ToMillis(const google::protobuf::Timestamp& t);
int64_t ToMillis(const google::protobuf::Duration& d);
void SetMillis(google::protobuf::Timestamp* t, int64_t ms);
void SetMillis(google::protobuf::Duration* d, int64_t ms);
int64_t NowMillis();

// Limits checked on every sent message (RocketMQ's proxy defaults).
struct SendLimits {
  uint32_t max_body_size = 4 << 20;
  size_t max_user_property_size = 16 << 10;
  size_t max_message_group_size = 64;
  int64_t max_delay_ms = 24LL * 3600 * 1000;
};

// A gRPC message as the broker stores it (topic and queue left to the caller, who knows the
// topic config). Fills `m` and sets *type to the message type. Errors carry the protocol code:
// MESSAGE_BODY_TOO_LARGE, MESSAGE_BODY_EMPTY, ILLEGAL_MESSAGE_TAG/KEY/GROUP/PROPERTY_KEY,
// MESSAGE_PROPERTIES_TOO_LARGE, MESSAGE_PROPERTY_CONFLICT_WITH_TYPE, ILLEGAL_DELIVERY_TIME.
// Delivery times are kept in TIMER_DELIVER_MS; the caller decides whether it can honour them.
absl::Status ToOutgoing(const v2::Message& in, const SendLimits& limits, broker::OutgoingMessage* m,
                        v2::MessageType* type);

// The message id of a stored message: its UNIQ_KEY, else the offset message id.
std::string MessageId(const MessageView& v);
// A stored message as the protocol delivers it (no receipt handle or attempt: the caller adds
// what the delivery knows). `topic` is the resource the client named.
void ToProtoMessage(const MessageView& v, const v2::Resource& topic, v2::Message* out);

// zlib or gzip data inflated; OutOfRange past `max_out` bytes, DataLoss if corrupt.
absl::StatusOr<std::string> Inflate(std::string_view in, size_t max_out);
// The most a stored compressed body is inflated to for delivery.
inline constexpr size_t kMaxInflatedBody = 64 << 20;

// A stable hash of a message group, to keep one group in one queue across restarts.
uint32_t GroupHash(std::string_view group);

}  // namespace stele::rpc
