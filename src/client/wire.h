// The client's share of RocketMQ's wire formats: properties strings, message ids, the stored
// message records a pull returns, zlib bodies, and response codes turned into statuses.
// Stateless except UniqueIdGenerator (thread-safe).
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "stele/client/message.h"

namespace stele::client {

// RocketMQ's "k\x01v\x02..." properties string: the user properties plus the message's own
// fields (TAGS, KEYS, DELAY, __STARTDELIVERTIME) and `extra` (set last, so it wins).
std::string EncodeProperties(const Message& m,
                             const std::map<std::string, std::string>& extra = {});
// Lenient: a missing trailing separator or an entry without a value is accepted.
std::map<std::string, std::string> DecodeProperties(std::string_view s);

// RocketMQ's client-side unique message id (MessageClientIDSetter): 32 upper-case hex digits,
// ip(4) pid(2) instance hash(4) | ms since the start of the month(4) counter(2).
class UniqueIdGenerator {
 public:
  UniqueIdGenerator();
  std::string Next();

 private:
  std::string fixed_;  // hex of ip + pid + hash
  int64_t month_start_ms_ = 0;
  int64_t next_month_ms_ = 0;
  std::atomic<uint32_t> counter_{0};
};
UniqueIdGenerator& GlobalIdGenerator();

// Decodes the records of a PULL_MESSAGE response body (and the body of CHECK_TRANSACTION_STATE).
// Compressed bodies are inflated. A truncated or malformed record is InvalidArgument (the whole
// batch: the broker sent something we cannot trust).
absl::StatusOr<std::vector<MessageExt>> DecodeMessages(std::string_view body,
                                                       std::string_view broker_name);

absl::StatusOr<std::string> Deflate(std::string_view in, int level);
// Refuses output beyond max_out (a hostile body must not inflate without bound).
absl::StatusOr<std::string> Inflate(std::string_view in, size_t max_out);

// A broker/name-server answer with a non-success code, as a status (see RocketMqCode).
absl::Status ResponseError(int32_t code, std::string_view remark, std::string_view context = {});
std::string_view ResponseCodeName(int32_t code);

// This host's first non-loopback IPv4 address ("127.0.0.1" if none), as clients report it.
std::string LocalIp();

}  // namespace stele::client
