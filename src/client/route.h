// Parsing a topic's route (include/stele/client/route.h) from the name server's JSON, and the
// queues a producer may write / a consumer may read that follow from it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "stele/client/message.h"
#include "stele/client/route.h"

namespace stele::client {

// Accepts fastjson's bare integer map keys ({0:"addr"}), as Java name servers write them.
absl::StatusOr<TopicRoute> ParseTopicRoute(std::string_view json);

// Writable queues (brokers with a master), ordered by broker name then queue id; for an ordered
// topic, the queues order_topic_conf lists.
std::vector<MessageQueue> PublishQueues(std::string_view topic, const TopicRoute& r);
// Readable queues, ordered the same way (the order rebalancing relies on).
std::vector<MessageQueue> SubscribeQueues(std::string_view topic, const TopicRoute& r);

}  // namespace stele::client
