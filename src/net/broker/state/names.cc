#include "net/broker/state/names.h"

#include <algorithm>

#include <fmt/format.h>

namespace stele::broker {
namespace {

constexpr std::string_view kValidPattern = "^[%|a-zA-Z0-9_-]+$";

absl::Status ValidateName(std::string_view what, std::string_view name, size_t max_len) {
  if (name.empty()) return absl::InvalidArgumentError(fmt::format("the {} is empty", what));
  if (!HasOnlyValidNameChars(name)) {
    return absl::InvalidArgumentError(fmt::format("the {} '{}' contains illegal characters: {}",
                                                  what, ShortForMessage(name), kValidPattern));
  }
  if (name.size() > max_len) {
    return absl::InvalidArgumentError(fmt::format("the {} '{}' is longer than {} characters", what,
                                                  ShortForMessage(name), max_len));
  }
  return absl::OkStatus();
}

}  // namespace

bool HasOnlyValidNameChars(std::string_view name) {
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '%' ||
           c == '|' || c == '_' || c == '-';
  });
}

absl::Status ValidateTopic(std::string_view topic) {
  return ValidateName("topic", topic, kMaxTopicLength);
}

absl::Status ValidateGroup(std::string_view group) {
  return ValidateName("group", group, kMaxGroupLength);
}

absl::Status ValidateInternalTopic(std::string_view topic) {
  return ValidateName("topic", topic, kMaxInternalTopicLength);
}

const std::vector<std::string_view>& SystemTopics() {
  static const std::vector<std::string_view> kTopics = {
      kAutoCreateTopicKeyTopic, kScheduleTopic, kBenchmarkTopic,
      kTransHalfTopic,          kTraceTopic,    kTransOpHalfTopic,
      kTransCheckMaxTimeTopic,  kSelfTestTopic, kOffsetMovedEventTopic,
      kScheduleTopicV2,
  };
  return kTopics;
}

bool IsSystemTopic(std::string_view topic) {
  const auto& all = SystemTopics();
  return std::find(all.begin(), all.end(), topic) != all.end() ||
         topic.starts_with(kSystemTopicPrefix);
}

bool IsNotAllowedSendTopic(std::string_view topic) {
  // TopicValidator.NOT_ALLOWED_SEND_TOPIC_SET. TBW102, the trace topic and the benchmark topic are
  // system topics a client may still send to. Stele adds the timer topic: a record sent there
  // directly would be taken for a parked timer.
  static constexpr std::string_view kNotAllowed[] = {
      kScheduleTopic, kTransHalfTopic,        kTransOpHalfTopic, kTransCheckMaxTimeTopic,
      kSelfTestTopic, kOffsetMovedEventTopic, kScheduleTopicV2,  kTimerTopic,
  };
  return std::find(std::begin(kNotAllowed), std::end(kNotAllowed), topic) != std::end(kNotAllowed);
}

std::string RetryTopic(std::string_view group) {
  return fmt::format("{}{}", kRetryGroupTopicPrefix, group);
}

std::string DlqTopic(std::string_view group) {
  return fmt::format("{}{}", kDlqGroupTopicPrefix, group);
}

bool IsRetryTopic(std::string_view topic) { return topic.starts_with(kRetryGroupTopicPrefix); }
bool IsDlqTopic(std::string_view topic) { return topic.starts_with(kDlqGroupTopicPrefix); }

std::string ShortForMessage(std::string_view name) {
  constexpr size_t kMax = 64;
  std::string out;
  for (char c : name.substr(0, kMax)) {
    auto u = static_cast<unsigned char>(c);
    // Names come from the network: keep control bytes and newlines out of log lines.
    if (u < 0x20 || u > 0x7e || c == '\\') {
      out += fmt::format("\\x{:02x}", u);
    } else {
      out += c;
    }
  }
  if (name.size() > kMax) out += fmt::format("...({} chars)", name.size());
  return out;
}

}  // namespace stele::broker
