// A topic's route as the name server answers GET_ROUTEINFO_BY_TOPIC (Java TopicRouteData): which
// broker groups serve it, with how many queues and which permissions. Plain values.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace stele::client {

inline constexpr int32_t kPermRead = 0x4;
inline constexpr int32_t kPermWrite = 0x2;

struct QueueData {
  std::string broker_name;
  int32_t read_queue_nums = 0;
  int32_t write_queue_nums = 0;
  int32_t perm = 0;
  bool operator==(const QueueData&) const = default;
};

struct BrokerData {
  std::string cluster;
  std::string broker_name;
  std::map<int64_t, std::string> addrs;  // brokerId -> "ip:port"; 0 is the master
  bool operator==(const BrokerData&) const = default;
};

struct TopicRoute {
  std::string order_topic_conf;  // "brokerA:4;brokerB:4" for globally configured ordered topics
  std::vector<QueueData> queues;
  std::vector<BrokerData> brokers;
  bool operator==(const TopicRoute&) const = default;

  // The master address of a broker group, or "" if the route has none.
  std::string MasterAddr(std::string_view broker_name) const;
};

}  // namespace stele::client
