// RemotingCommand: one request or response of RocketMQ's remoting protocol, decoded. The wire
// layout (frame, JSON and ROCKETMQ header serializations) is described once, in codec.h.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "absl/status/statusor.h"

namespace stele::remoting {

enum class SerializeType : uint8_t { kJson = 0, kRocketMq = 1 };

// Java LanguageCode, by its binary-header number; JSON headers carry the name.
enum class LanguageCode : uint8_t {
  kJava = 0,
  kCpp = 1,
  kDotnet = 2,
  kPython = 3,
  kDelphi = 4,
  kErlang = 5,
  kRuby = 6,
  kOther = 7,
  kHttp = 8,
  kGo = 9,
  kPhp = 10,
  kOms = 11,
  kRust = 12,
  kNodeJs = 13,
};
std::string_view LanguageName(LanguageCode c);
// Unknown names map to kOther (clients newer than us may send languages we do not know).
LanguageCode LanguageFromName(std::string_view name);

constexpr int32_t kFlagResponse = 1;
constexpr int32_t kFlagOneway = 2;
// The version Stele reports in its own requests and responses (V4_9_4 = 401: tells Java peers we
// read standard JSON).
constexpr int32_t kSteleVersion = 401;

struct RemotingCommand {
  int32_t code = 0;
  LanguageCode language = LanguageCode::kCpp;
  int32_t version = kSteleVersion;
  int32_t opaque = 0;
  int32_t flag = 0;
  std::optional<std::string> remark;
  // Java's extFields: the request/response "custom header" as strings. Sorted (ACL signatures
  // are computed over the sorted values).
  std::map<std::string, std::string, std::less<>> ext_fields;
  std::string body;
  // How the header was (or will be) serialized; a response uses its request's type.
  SerializeType serialize_type = SerializeType::kJson;

  bool is_response() const { return (flag & kFlagResponse) != 0; }
  bool is_oneway() const { return (flag & kFlagOneway) != 0; }

  static RemotingCommand Request(int32_t code);
  // A response to `req`: same opaque and serialize type, the RESPONSE flag set.
  static RemotingCommand ResponseTo(const RemotingCommand& req, int32_t code,
                                    std::string remark = {});

  // extFields access. Get* return nullopt when the field is missing; GetInt*/GetBool return an
  // InvalidArgument error naming the field when present but malformed.
  const std::string* Field(std::string_view key) const;
  absl::StatusOr<std::string> RequireString(std::string_view key) const;
  absl::StatusOr<int64_t> RequireInt(std::string_view key) const;
  absl::StatusOr<int64_t> IntOr(std::string_view key, int64_t dflt) const;
  absl::StatusOr<bool> BoolOr(std::string_view key, bool dflt) const;
  void Set(std::string_view key, std::string_view value) {
    ext_fields.insert_or_assign(std::string(key), std::string(value));
  }
  void Set(std::string_view key, int64_t value);
};

}  // namespace stele::remoting
