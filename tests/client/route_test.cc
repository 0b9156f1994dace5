// Topic routes as the client reads them (src/client/route.h): our name server's JSON, Java's
// fastjson dialect, hostile input, and the queues a producer writes / a consumer reads.
#include "client/route.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

#include "fmt/format.h"
#include "net/namesrv/route_data.h"
#include "net/namesrv/route_info_manager.h"

namespace stele::client {
namespace {

std::vector<std::string> Names(const std::vector<MessageQueue>& qs) {
  std::vector<std::string> out;
  for (const MessageQueue& q : qs) out.push_back(fmt::format("{}#{}", q.broker_name, q.queue_id));
  return out;
}

namesrv::BrokerRegistration Registration(const std::string& name, const std::string& addr,
                                         int64_t id, int queues, int perm) {
  namesrv::BrokerRegistration r;
  r.cluster_name = "C1";
  r.broker_addr = addr;
  r.broker_name = name;
  r.broker_id = id;
  r.topic_config.data_version.timestamp = 1;
  r.topic_config.data_version.counter = 1;
  namesrv::TopicConfig t;
  t.topic_name = "RouteTopic";
  t.read_queue_nums = t.write_queue_nums = queues;
  t.perm = perm;
  r.topic_config.topics["RouteTopic"] = t;
  return r;
}

TEST(ClientRoute, ParsesOurNameServersJson) {
  namesrv::RouteInfoManager routes;
  routes.RegisterBroker(Registration("broker-b", "127.0.0.1:20911", 0, 2, 6), 1000);
  routes.RegisterBroker(Registration("broker-a", "127.0.0.1:10911", 0, 4, 6), 1000);
  routes.RegisterBroker(Registration("broker-a", "127.0.0.1:10921", 1, 4, 6), 1000);
  auto json = routes.PickupTopicRouteData("RouteTopic");
  ASSERT_TRUE(json.ok()) << json.status();
  const std::string text = namesrv::DumpJson(*json);

  auto r = ParseTopicRoute(text);
  ASSERT_TRUE(r.ok()) << r.status() << "\n" << text;
  TopicRoute want;
  want.queues = {{"broker-a", 4, 4, 6}, {"broker-b", 2, 2, 6}};
  want.brokers = {{"C1", "broker-a", {{0, "127.0.0.1:10911"}, {1, "127.0.0.1:10921"}}},
                  {"C1", "broker-b", {{0, "127.0.0.1:20911"}}}};
  EXPECT_EQ(*r, want) << text;
  EXPECT_EQ(r->MasterAddr("broker-a"), "127.0.0.1:10911");
  EXPECT_EQ(r->MasterAddr("broker-b"), "127.0.0.1:20911");
  EXPECT_EQ(r->MasterAddr("broker-x"), "");
  EXPECT_EQ(Names(PublishQueues("RouteTopic", *r)),
            (std::vector<std::string>{"broker-a#0", "broker-a#1", "broker-a#2", "broker-a#3",
                                      "broker-b#0", "broker-b#1"}));
  for (const MessageQueue& q : PublishQueues("RouteTopic", *r)) EXPECT_EQ(q.topic, "RouteTopic");
}

TEST(ClientRoute, ParsesFastjsonBareIntegerKeys) {
  const std::string text =
      R"({"brokerDatas":[{"brokerAddrs":{0:"10.0.0.1:10911",1:"10.0.0.2:10911"},
      "brokerName":"broker-a","cluster":"DefaultCluster","enableActingMaster":false}],
      "filterServerTable":{},"queueDatas":[{"brokerName":"broker-a","perm":6,"readQueueNums":8,
      "topicSysFlag":0,"writeQueueNums":8}],"orderTopicConf":"broker-a:2"})";
  auto r = ParseTopicRoute(text);
  ASSERT_TRUE(r.ok()) << r.status();
  ASSERT_EQ(r->brokers.size(), 1u);
  EXPECT_EQ(r->brokers[0].addrs,
            (std::map<int64_t, std::string>{{0, "10.0.0.1:10911"}, {1, "10.0.0.2:10911"}}));
  EXPECT_EQ(r->brokers[0].cluster, "DefaultCluster");
  EXPECT_EQ(r->order_topic_conf, "broker-a:2");
  ASSERT_EQ(r->queues.size(), 1u);
  EXPECT_EQ(r->queues[0], (QueueData{"broker-a", 8, 8, 6}));
  // Missing and null members are empty, not errors (old name servers omit them).
  auto empty = ParseTopicRoute(R"({"orderTopicConf":null,"queueDatas":null})");
  ASSERT_TRUE(empty.ok()) << empty.status();
  EXPECT_EQ(*empty, TopicRoute{});
}

TEST(ClientRoute, MalformedInputIsAnErrorNeverAThrow) {
  const std::vector<std::string> bad = {
      "",
      "null",
      "[]",
      "42",
      "{",
      R"({"queueDatas":5})",
      R"({"queueDatas":[1]})",
      R"({"queueDatas":[{"brokerName":7}]})",
      R"({"queueDatas":[{"brokerName":"a","readQueueNums":"4"}]})",
      R"({"queueDatas":[{"brokerName":"a","readQueueNums":4.5}]})",
      R"({"queueDatas":[{"brokerName":"a","readQueueNums":-1}]})",
      R"({"queueDatas":[{"brokerName":"a","writeQueueNums":70000}]})",
      // Past int32: must not wrap around to a small, plausible count.
      R"({"queueDatas":[{"brokerName":"a","readQueueNums":4294967300,"writeQueueNums":4}]})",
      R"({"queueDatas":[{"brokerName":"a","perm":4294967302}]})",
      R"({"queueDatas":[{"brokerName":"a","readQueueNums":18446744073709551615}]})",
      R"({"queueDatas":[{"brokerName":"a","readQueueNums":1e30}]})",
      R"({"brokerDatas":{}})",
      R"({"brokerDatas":["x"]})",
      R"({"brokerDatas":[{"brokerName":"a","brokerAddrs":{"x":"1.2.3.4:5"}}]})",
      R"({"brokerDatas":[{"brokerName":"a","brokerAddrs":{"0":5}}]})",
      R"({"brokerDatas":[{"brokerName":"a","brokerAddrs":{"99999999999999999999":"h:1"}}]})",
      R"({"orderTopicConf":5})",
      std::string(10000, '[') + std::string(10000, ']'),
      std::string("{\"queueDatas\":[\0]}", 18),
  };
  for (const std::string& text : bad) {
    absl::StatusOr<TopicRoute> r;
    ASSERT_NO_THROW(r = ParseTopicRoute(text)) << text.substr(0, 80);
    EXPECT_TRUE(absl::IsInvalidArgument(r.status())) << text.substr(0, 80) << ": " << r.status();
  }
}

TEST(ClientRoute, RandomMutationsNeverThrow) {
  const std::string good = R"({"brokerDatas":[{"brokerAddrs":{"0":"127.0.0.1:10911"},
      "brokerName":"broker-a","cluster":"C"}],"queueDatas":[{"brokerName":"broker-a","perm":6,
      "readQueueNums":4,"writeQueueNums":4}],"orderTopicConf":"broker-a:4"})";
  std::mt19937 rng(12345);
  const std::string alphabet = "{}[]:,\"0123456789-.eE \\ntfu";
  int ok = 0;
  for (int i = 0; i < 5000; ++i) {
    std::string s = good;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits; ++e) {
      const size_t pos = rng() % s.size();
      switch (rng() % 3) {
        case 0:
          s[pos] = alphabet[rng() % alphabet.size()];
          break;
        case 1:
          s.erase(pos, 1 + rng() % 8);
          break;
        default:
          s.insert(pos, 1, alphabet[rng() % alphabet.size()]);
          break;
      }
      if (s.empty()) s = "x";
    }
    absl::StatusOr<TopicRoute> r;
    ASSERT_NO_THROW(r = ParseTopicRoute(s)) << s;
    if (r.ok()) {
      ++ok;
      // Whatever was accepted is usable: queue lists stay within the route's counts.
      EXPECT_LE(PublishQueues("T", *r).size(), 65535u * 2);
      (void)SubscribeQueues("T", *r);
    }
  }
  EXPECT_GT(ok, 0);  // some mutations (e.g. inside strings) stay valid
}

TopicRoute PermRoute() {
  // a: read+write; b: read only; c: write only; d: read+write but no master (slave only).
  auto r = ParseTopicRoute(R"({
    "queueDatas":[{"brokerName":"d","readQueueNums":2,"writeQueueNums":2,"perm":6},
                  {"brokerName":"c","readQueueNums":8,"writeQueueNums":2,"perm":2},
                  {"brokerName":"b","readQueueNums":3,"writeQueueNums":3,"perm":4},
                  {"brokerName":"a","readQueueNums":2,"writeQueueNums":4,"perm":6}],
    "brokerDatas":[{"brokerName":"a","cluster":"C","brokerAddrs":{"0":"h:1"}},
                   {"brokerName":"b","cluster":"C","brokerAddrs":{"0":"h:2"}},
                   {"brokerName":"c","cluster":"C","brokerAddrs":{"0":"h:3"}},
                   {"brokerName":"d","cluster":"C","brokerAddrs":{"1":"h:4"}}]})");
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? *r : TopicRoute{};
}

TEST(ClientRoute, PublishQueuesFollowWritePermAndMasters) {
  const TopicRoute r = PermRoute();
  // Write queues (not read queues) of writable brokers with a master, by broker name.
  EXPECT_EQ(Names(PublishQueues("T", r)),
            (std::vector<std::string>{"a#0", "a#1", "a#2", "a#3", "c#0", "c#1"}));
  EXPECT_EQ(r.MasterAddr("d"), "");
}

TEST(ClientRoute, SubscribeQueuesFollowReadPerm) {
  const TopicRoute r = PermRoute();
  // Read queues of readable brokers; slaves serve reads, so d counts without a master.
  EXPECT_EQ(Names(SubscribeQueues("T", r)),
            (std::vector<std::string>{"a#0", "a#1", "b#0", "b#1", "b#2", "d#0", "d#1"}));
}

TEST(ClientRoute, OrderTopicConfDecidesPublishQueues) {
  TopicRoute r = PermRoute();
  r.order_topic_conf = "c:2;a:3";
  // The configured brokers and counts, in the configured order (global order relies on it).
  EXPECT_EQ(Names(PublishQueues("T", r)),
            (std::vector<std::string>{"c#0", "c#1", "a#0", "a#1", "a#2"}));
  // Subscriptions ignore it.
  EXPECT_EQ(SubscribeQueues("T", r).size(), 7u);
  // Unparsable entries are skipped.
  r.order_topic_conf = "nocolon;a:abc;a:-1;;b:1";
  EXPECT_EQ(Names(PublishQueues("T", r)), (std::vector<std::string>{"b#0"}));
}

TEST(ClientRoute, NoWritableQueues) {
  auto r = ParseTopicRoute(R"({"queueDatas":[{"brokerName":"a","readQueueNums":4,
      "writeQueueNums":4,"perm":4}],"brokerDatas":[{"brokerName":"a","brokerAddrs":{"0":"h:1"}}]})");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(PublishQueues("T", *r).empty());
  EXPECT_EQ(SubscribeQueues("T", *r).size(), 4u);
  EXPECT_TRUE(PublishQueues("T", TopicRoute{}).empty());
}

}  // namespace
}  // namespace stele::client
