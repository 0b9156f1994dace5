// Messages as the store takes them in (Message) and hands them out (MessageView, a zero-copy
// decoding of one stored record in RocketMQ's commit-log format).
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stele {

// RocketMQ's sys-flag bits (MessageSysFlag).
namespace sysflag {
constexpr int32_t kCompressed = 0x1;
constexpr int32_t kMultiTags = 0x2;
constexpr int32_t kTransactionNotType = 0;
constexpr int32_t kTransactionPreparedType = 0x4;
constexpr int32_t kTransactionCommitType = 0x8;
constexpr int32_t kTransactionRollbackType = 0xC;
constexpr int32_t kTransactionMask = 0xC;
constexpr int32_t kBornHostV6 = 0x10;
constexpr int32_t kStoreHostV6 = 0x20;

// RocketMQ's rule: only plain and committed-transaction records get a queue offset (and so a
// consume-queue entry); prepared and rolled-back halves do not.
constexpr bool AssignsQueueOffset(int32_t sys_flag) {
  const int32_t tx = sys_flag & kTransactionMask;
  return tx == kTransactionNotType || tx == kTransactionCommitType;
}
}  // namespace sysflag

// An IPv4 or IPv6 socket address as RocketMQ stores it (address bytes, then a 4-byte port).
struct HostAddress {
  std::array<uint8_t, 16> ip{};  // IPv4 uses the first 4 bytes
  bool v6 = false;
  uint32_t port = 0;

  // "1.2.3.4:10911" or "[::1]:10911".
  static absl::StatusOr<HostAddress> Parse(std::string_view s);
  std::string ToString() const;
};

// Property helpers. RocketMQ serializes properties as name \x01 value \x02 ...
constexpr char kNameValueSeparator = '\x01';
constexpr char kPropertySeparator = '\x02';
inline constexpr std::string_view kPropertyTags = "TAGS";
inline constexpr std::string_view kPropertyKeys = "KEYS";
inline constexpr std::string_view kPropertyUniqKey = "UNIQ_KEY";
inline constexpr std::string_view kPropertyCrc32 = "__CRC32#";

// Appends one property to a serialized properties string.
void AppendProperty(std::string* props, std::string_view name, std::string_view value);
// Finds a property's value in a serialized properties string.
std::optional<std::string_view> FindProperty(std::string_view props, std::string_view name);

// A message to append. The string_views must stay valid only for the duration of the Append call
// (the store copies the bytes before returning).
struct Message {
  std::string_view topic;
  int32_t queue_id = 0;
  std::string_view body;
  // Serialized properties (see AppendProperty). TAGS and KEYS may be set here or with tags/keys.
  std::string_view properties;
  std::string_view tags;  // appended as the TAGS property when non-empty
  std::string_view keys;  // appended as the KEYS property when non-empty (space-separated)
  int32_t flag = 0;
  int32_t sys_flag = 0;
  int64_t born_timestamp_ms = 0;  // 0 = the store's clock
  HostAddress born_host;          // default 0.0.0.0:0
  int32_t reconsume_times = 0;
  int64_t prepared_transaction_offset = 0;
};

// A decoded view of one stored record. Its string_views point into the record's bytes and are
// valid as long as those bytes are (see Store::Read).
struct MessageView {
  uint32_t total_size = 0;
  uint32_t magic = 0;
  uint32_t body_crc = 0;
  int32_t queue_id = 0;
  int32_t flag = 0;
  int64_t queue_offset = 0;
  int64_t physical_offset = 0;
  int32_t sys_flag = 0;
  int64_t born_timestamp = 0;
  HostAddress born_host;
  int64_t store_timestamp = 0;
  HostAddress store_host;
  int32_t reconsume_times = 0;
  int64_t prepared_transaction_offset = 0;
  std::string_view body;
  std::string_view topic;
  std::string_view properties;

  std::optional<std::string_view> Property(std::string_view name) const {
    return FindProperty(properties, name);
  }
  std::string OffsetMsgId() const;
};

// RocketMQ's offset message id: store host address + port + commit-log offset, upper-case hex
// (32 characters for IPv4).
std::string OffsetMsgId(const HostAddress& store_host, int64_t physical_offset);

}  // namespace stele
