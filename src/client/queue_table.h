// Java maps keyed by MessageQueue as brokers send them (ConsumeStats, TopicStatsTable,
// ResetOffsetBody). fastjson writes such a map with object keys, which standard JSON does not
// allow:
//
//   {"offsetTable":{{"brokerName":"b","queueId":0,"topic":"T"}:{...},...}}
//
// Thread safety: stateless.
#pragma once

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "nlohmann/json.hpp"
#include "stele/client/message.h"

namespace stele::client {

// Turns each object key into a JSON string holding the key's text, so a standard parser reads the
// document. Other text is unchanged.
std::string QuoteObjectKeys(std::string_view in);

// The entries of the body's "offsetTable" (none if it has no such object). InvalidArgument, with
// `context`, when the body is not a JSON object.
absl::StatusOr<std::vector<std::pair<MessageQueue, nlohmann::json>>> ParseQueueTable(
    std::string_view body, std::string_view context);

}  // namespace stele::client
