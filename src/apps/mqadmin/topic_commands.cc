// Topic commands: topicList, topicRoute, topicClusterList, updateTopic, deleteTopic.
#include <algorithm>
#include <cstdio>
#include <set>
#include <string>

#include "fmt/format.h"
#include "mqadmin/command.h"
#include "net/broker/state/json_file.h"

namespace stele::mqadmin {
namespace {

int TopicList(client::AdminClient& admin, const Args&) {
  for (const std::string& t : OrFail(admin.TopicList())) std::printf("%s\n", t.c_str());
  return 0;
}

int TopicRoute(client::AdminClient& admin, const Args& a) {
  const std::string topic = Require(a, 't', "topic");
  absl::StatusOr<std::string> r = admin.RouteJson(topic);
  if (absl::IsNotFound(r.status())) {
    Fail(fmt::format("No topic route info in name server for the topic: {}", topic));
  }
  const std::string body = OrFail(std::move(r));
  auto j = broker::ParseLenientJson(body);
  std::printf("%s\n", j.ok() ? j->dump(2).c_str() : body.c_str());
  return 0;
}

// Java TopicClusterSubCommand: the clusters whose broker groups serve the topic, one a line.
int TopicClusterList(client::AdminClient& admin, const Args& a) {
  const client::TopicRoute route = RouteOrFail(admin, Require(a, 't', "topic"));
  const client::BrokerClusterInfo info = OrFail(admin.ClusterInfo());
  std::set<std::string> clusters;
  for (const client::QueueData& q : route.queues) {
    for (const auto& [cluster, names] : info.clusters) {
      if (std::find(names.begin(), names.end(), q.broker_name) != names.end()) {
        clusters.insert(cluster);
      }
    }
  }
  for (const std::string& c : clusters) std::printf("%s\n", c.c_str());
  return 0;
}

int UpdateTopic(client::AdminClient& admin, const Args& a) {
  client::TopicConfig t;
  t.topic = Require(a, 't', "topic");
  t.read_queue_nums = static_cast<int32_t>(IntArg(a, 'r', 8));
  t.write_queue_nums = static_cast<int32_t>(IntArg(a, 'w', 8));
  t.perm = static_cast<int32_t>(IntArg(a, 'p', 6));
  for (const std::string& addr : TargetBrokers(admin, a)) {
    OrFail(admin.CreateOrUpdateTopic(addr, t));
    std::printf("create topic %s on %s\n", t.topic.c_str(), addr.c_str());
  }
  return 0;
}

int DeleteTopic(client::AdminClient& admin, const Args& a) {
  const std::string topic = Require(a, 't', "topic");
  for (const std::string& addr : TargetBrokers(admin, a)) {
    OrFail(admin.DeleteTopicInBroker(addr, topic));
    std::printf("delete topic %s on %s\n", topic.c_str(), addr.c_str());
  }
  OrFail(admin.DeleteTopicInNamesrv(topic, a.Has('b') ? "" : a.Get('c')));
  return 0;
}

constexpr Option kBroker = kBrokerAddrOpt;
constexpr Option kCluster{'c', "clusterName", "arg", false, "every master of this cluster"};
constexpr Option kTopic{'t', "topic", "arg", true, "topic name"};

STELE_MQADMIN_COMMAND(Command{
    .name = "topicList",
    .summary = "Fetch all topic list from name server",
    .options = {},
    .run = TopicList,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "topicRoute",
    .summary = "Examine topic route info",
    .options = {kTopic},
    .run = TopicRoute,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "topicClusterList",
    .summary = "Get cluster info for topic",
    .options = {kTopic},
    .run = TopicClusterList,
});

STELE_MQADMIN_COMMAND(Command{
    .name = "updateTopic",
    .summary = "Update or create topic",
    .options = {kBroker,
                kCluster,
                kTopic,
                {'r', "readQueueNums", "arg", false, "set read queue nums (default 8)"},
                {'w', "writeQueueNums", "arg", false, "set write queue nums (default 8)"},
                {'p', "perm", "arg", false,
                 "set topic's permission (2|4|6), intro[2:W 4:R; 6:RW]"}},
    .run = UpdateTopic,
    .usage_note = "one of -b or -c is required",
    .one_of = "bc",
});

STELE_MQADMIN_COMMAND(Command{
    .name = "deleteTopic",
    .summary = "Delete topic from broker and NameServer",
    .options = {kBroker, kCluster, kTopic},
    .run = DeleteTopic,
    .usage_note = "one of -b or -c is required",
    .one_of = "bc",
});

}  // namespace
}  // namespace stele::mqadmin
