// What a message may carry, as RocketMQ enforces it (the broker for the log format, the 5.x proxy
// for the rest): body size, keys / tag / property values, the number of user properties, and the
// property names reserved for the system. Shared by the remoting send path and the gRPC endpoint
// so both protocols refuse the same messages with the same reasons.
//
// Thread safety: stateless functions.
#pragma once

#include <cstddef>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/status.h"

namespace stele::broker {

struct MessageLimits {
  size_t max_body = 4 * 1024 * 1024;      // maxMessageSize
  size_t max_property_value = 16 * 1024;  // keys, tag, each user property (maxUserPropertySize)
  size_t max_user_properties = 128;       // userPropertyMaxNum
  size_t max_properties_length = 32767;   // the log stores the properties' length in 16 bits
  size_t max_message_group = 64;          // maxMessageGroupSize (gRPC FIFO)
};

// RocketMQ's system property names (MessageConst's reserved set, 5.x): a client sets them through
// the API (tag, keys, delivery time...), never as user properties.
bool IsReservedPropertyName(std::string_view name);

// A tag: non-empty, at most max_property_value bytes, no '|' (it separates tags in subscription
// expressions) and no control characters. InvalidArgument says which rule and shows the value.
absl::Status ValidateTag(std::string_view tag, const MessageLimits& limits);
// One message key (KEYS holds several, separated by spaces): no control characters, bounded.
absl::Status ValidateKeys(std::string_view keys, const MessageLimits& limits);
// User properties as a 5.x client sends them: at most max_user_properties, names non-empty, not
// reserved and without control characters; values bounded and without NUL.
absl::Status ValidateUserProperties(
    const std::vector<std::pair<std::string_view, std::string_view>>& props,
    const MessageLimits& limits);
// A remoting message's whole properties string ("k\x01v\x02..."), where system and user
// properties share one string: bounded in total, no NUL, TAGS and KEYS valid, each value bounded,
// at most max_user_properties names that are not reserved.
absl::Status ValidateRemotingProperties(std::string_view raw, const MessageLimits& limits);

}  // namespace stele::broker
