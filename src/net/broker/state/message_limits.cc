#include "net/broker/state/message_limits.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

// MessageConst's system names in RocketMQ 5.x (sorted for binary search).
constexpr std::array<std::string_view, 59> kReserved = {
    "1ST_POP_TIME",
    "ARRIVE_TIME",
    "BUYER_ID",
    "CHECK_IMMUNITY_TIME_IN_SECONDS",
    "CLUSTER",
    "CONSUME_START_TIME",
    "CORRECTION_FLAG",
    "CORRELATION_ID",
    "DELAY",
    "DLQ_ORIGIN_MESSAGE_ID",
    "DLQ_ORIGIN_TOPIC",
    "DUP_INFO",
    "EXTEND_UNIQ_INFO",
    "INNER_BASE",
    "INNER_MULTI_DISPATCH",
    "INNER_MULTI_QUEUE_OFFSET",
    "INNER_NUM",
    "INSTANCE_ID",
    "KEYS",
    "MAX_OFFSET",
    "MAX_RECONSUME_TIMES",
    "MIN_OFFSET",
    "MQ2_FLAG",
    "MSG_REGION",
    "MSG_TYPE",
    "ORIGIN_MESSAGE_ID",
    "PGROUP",
    "POP_CK",
    "POP_CK_OFFSET",
    "PUSH_REPLY_TIME",
    "REAL_QID",
    "REAL_TOPIC",
    "RECONSUME_TIME",
    "REPLY_TO_CLIENT",
    "RETRY_TOPIC",
    "SHARDING_KEY",
    "TAGS",
    "TIMER_DELAY_LEVEL",
    "TIMER_DELAY_MS",
    "TIMER_DELAY_SEC",
    "TIMER_DELIVER_MS",
    "TIMER_DEL_UNIQKEY",
    "TIMER_DEQUEUE_MS",
    "TIMER_ENQUEUE_MS",
    "TIMER_OUT_MS",
    "TIMER_ROLL_TIMES",
    "TRACE_CONTEXT",
    "TRACE_ON",
    "TRANSACTION_CHECK_TIMES",
    "TRANSFER_FLAG",
    "TRAN_MSG",
    "TRAN_PREPARED_QUEUE_OFFSET",
    "TTL",
    "UNIQ_KEY",
    "WAIT",
    "__BORNHOST",
    "__SHARDINGKEY",
    "__STARTDELIVERTIME",
    "__transactionId__",
};

bool HasControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

absl::Status TooLong(std::string_view what, size_t n, size_t max) {
  return absl::InvalidArgumentError(
      fmt::format("{} is {} bytes, more than the limit of {}", what, n, max));
}

}  // namespace

bool IsReservedPropertyName(std::string_view name) {
  return std::binary_search(kReserved.begin(), kReserved.end(), name);
}

absl::Status ValidateTag(std::string_view tag, const MessageLimits& limits) {
  if (tag.empty()) return absl::InvalidArgumentError("the tag is empty");
  if (tag.size() > limits.max_property_value) {
    return TooLong("the tag", tag.size(), limits.max_property_value);
  }
  if (tag.find('|') != std::string_view::npos) {
    return absl::InvalidArgumentError(fmt::format(
        "the tag '{}' contains '|' (it separates tags in subscriptions)", ShortForMessage(tag)));
  }
  if (HasControl(tag)) {
    return absl::InvalidArgumentError(
        fmt::format("the tag '{}' contains a control character", ShortForMessage(tag)));
  }
  return absl::OkStatus();
}

absl::Status ValidateKeys(std::string_view keys, const MessageLimits& limits) {
  if (keys.size() > limits.max_property_value) {
    return TooLong("the message keys", keys.size(), limits.max_property_value);
  }
  if (HasControl(keys)) {
    return absl::InvalidArgumentError(
        fmt::format("the message keys '{}' contain a control character", ShortForMessage(keys)));
  }
  return absl::OkStatus();
}

absl::Status ValidateUserProperties(
    const std::vector<std::pair<std::string_view, std::string_view>>& props,
    const MessageLimits& limits) {
  if (props.size() > limits.max_user_properties) {
    return absl::InvalidArgumentError(fmt::format("{} user properties, more than the limit of {}",
                                                  props.size(), limits.max_user_properties));
  }
  for (const auto& [name, value] : props) {
    if (name.empty()) return absl::InvalidArgumentError("a user property has an empty name");
    if (HasControl(name)) {
      return absl::InvalidArgumentError(fmt::format(
          "the user property name '{}' contains a control character", ShortForMessage(name)));
    }
    if (IsReservedPropertyName(name)) {
      return absl::InvalidArgumentError(fmt::format(
          "'{}' is a system property name; it cannot be a user property", ShortForMessage(name)));
    }
    if (name.size() > limits.max_property_value) {
      return TooLong("a user property name", name.size(), limits.max_property_value);
    }
    if (value.size() > limits.max_property_value) {
      return TooLong(fmt::format("the value of user property '{}'", ShortForMessage(name)),
                     value.size(), limits.max_property_value);
    }
    if (value.find('\0') != std::string_view::npos) {
      return absl::InvalidArgumentError(fmt::format(
          "the value of user property '{}' contains a NUL character", ShortForMessage(name)));
    }
  }
  return absl::OkStatus();
}

absl::Status ValidateRemotingProperties(std::string_view raw, const MessageLimits& limits) {
  if (raw.size() > limits.max_properties_length) {
    return TooLong("the message properties", raw.size(), limits.max_properties_length);
  }
  if (raw.find('\0') != std::string_view::npos) {
    return absl::InvalidArgumentError("the message properties contain a NUL character");
  }
  size_t user = 0;
  size_t pos = 0;
  while (pos < raw.size()) {
    size_t end = raw.find('\x02', pos);
    if (end == std::string_view::npos) end = raw.size();
    const std::string_view pair = raw.substr(pos, end - pos);
    pos = end + 1;
    const size_t eq = pair.find('\x01');
    if (eq == std::string_view::npos) continue;  // tolerated, as RocketMQ's decoder skips it
    const std::string_view name = pair.substr(0, eq);
    const std::string_view value = pair.substr(eq + 1);
    if (name == "TAGS") {
      if (!value.empty()) {
        if (absl::Status st = ValidateTag(value, limits); !st.ok()) return st;
      }
    } else if (name == "KEYS") {
      if (absl::Status st = ValidateKeys(value, limits); !st.ok()) return st;
    } else if (value.size() > limits.max_property_value) {
      return TooLong(fmt::format("the value of property '{}'", ShortForMessage(name)), value.size(),
                     limits.max_property_value);
    }
    if (!IsReservedPropertyName(name) && ++user > limits.max_user_properties) {
      return absl::InvalidArgumentError(
          fmt::format("more than {} user properties", limits.max_user_properties));
    }
  }
  return absl::OkStatus();
}

}  // namespace stele::broker
