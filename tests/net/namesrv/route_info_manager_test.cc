#include "net/namesrv/route_info_manager.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace stele::namesrv {
namespace {

using nlohmann::json;

constexpr int64_t kT0 = 1'700'000'000'000;

TopicConfigWrapper Topics(const std::vector<std::string>& names, int64_t counter, int queues = 4) {
  TopicConfigWrapper w;
  w.data_version = DataVersion{.state_version = 0, .timestamp = kT0, .counter = counter};
  for (const std::string& n : names) {
    TopicConfig t;
    t.topic_name = n;
    t.read_queue_nums = t.write_queue_nums = queues;
    t.perm = 6;
    w.topics[n] = t;
  }
  return w;
}

BrokerRegistration Reg(const std::string& name, const std::string& addr, int64_t id,
                       TopicConfigWrapper topics, uint64_t channel = 1,
                       const std::string& cluster = "DefaultCluster") {
  BrokerRegistration r;
  r.cluster_name = cluster;
  r.broker_addr = addr;
  r.broker_name = name;
  r.broker_id = id;
  r.ha_server_addr = addr + "-ha";
  r.topic_config = std::move(topics);
  r.channel_id = channel;
  return r;
}

std::vector<std::string> Names(const json& arr, const char* field) {
  std::vector<std::string> out;
  for (const json& e : arr) out.push_back(e.at(field).get<std::string>());
  return out;
}

TEST(RouteInfoManagerTest, TwoBrokersInOneClusterBothServeTheTopic) {
  RouteInfoManager m;
  // Registered in reverse order: the route must still list them sorted.
  m.RegisterBroker(Reg("broker-b", "10.0.0.2:10911", 0, Topics({"T", "OnlyB"}, 1), 2), kT0);
  m.RegisterBroker(Reg("broker-a", "10.0.0.1:10911", 0, Topics({"T"}, 1), 1), kT0);

  auto route = m.PickupTopicRouteData("T");
  ASSERT_TRUE(route.ok()) << route.status();
  const json& r = *route;
  ASSERT_TRUE(r.at("queueDatas").is_array());
  ASSERT_TRUE(r.at("brokerDatas").is_array());
  EXPECT_EQ(Names(r["queueDatas"], "brokerName"),
            (std::vector<std::string>{"broker-a", "broker-b"}));
  EXPECT_EQ(Names(r["brokerDatas"], "brokerName"),
            (std::vector<std::string>{"broker-a", "broker-b"}));
  EXPECT_EQ(r["queueDatas"][0],
            json::parse(R"({"brokerName":"broker-a","readQueueNums":4,"writeQueueNums":4,
                            "perm":6,"topicSysFlag":0})"));
  EXPECT_EQ(r["brokerDatas"][0], json::parse(R"({"cluster":"DefaultCluster","brokerName":"broker-a",
                            "brokerAddrs":{"0":"10.0.0.1:10911"},"zoneName":null,
                            "enableActingMaster":false})"));
  EXPECT_EQ(r.at("filterServerTable"), json::object());
  EXPECT_TRUE(r.at("orderTopicConf").is_null());

  auto only_b = m.PickupTopicRouteData("OnlyB");
  ASSERT_TRUE(only_b.ok());
  EXPECT_EQ(Names((*only_b)["brokerDatas"], "brokerName"), (std::vector<std::string>{"broker-b"}));
  EXPECT_TRUE(absl::IsNotFound(m.PickupTopicRouteData("Nope").status()));
  EXPECT_EQ(m.live_broker_count(), 2u);
}

TEST(RouteInfoManagerTest, NewDataVersionReplacesTheBrokersTopicSet) {
  RouteInfoManager m;
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T1", "T2"}, 1)), kT0);
  m.RegisterBroker(Reg("broker-b", "b:1", 0, Topics({"T1"}, 1)), kT0);
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T2", "T3"}, 2, 8)), kT0 + 1);

  // T1 survives through broker-b only; broker-a's share of it is gone.
  auto t1 = m.PickupTopicRouteData("T1");
  ASSERT_TRUE(t1.ok());
  EXPECT_EQ(Names((*t1)["queueDatas"], "brokerName"), (std::vector<std::string>{"broker-b"}));
  auto t2 = m.PickupTopicRouteData("T2");
  ASSERT_TRUE(t2.ok());
  EXPECT_EQ((*t2)["queueDatas"][0]["writeQueueNums"], 8);  // updated with the new version
  EXPECT_TRUE(m.PickupTopicRouteData("T3").ok());

  m.RegisterBroker(Reg("broker-b", "b:1", 0, Topics({}, 2)), kT0 + 2);
  EXPECT_TRUE(absl::IsNotFound(m.PickupTopicRouteData("T1").status()));
}

TEST(RouteInfoManagerTest, SameDataVersionRestoresOnlyMissingRoutes) {
  RouteInfoManager m;
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T1", "T2"}, 1)), kT0);
  m.DeleteTopic("T1");
  EXPECT_FALSE(m.PickupTopicRouteData("T1").ok());
  // The periodic re-registration (same version) puts the deleted route back, as Java does.
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T1", "T2"}, 1)), kT0 + 30000);
  EXPECT_TRUE(m.PickupTopicRouteData("T1").ok());
}

TEST(RouteInfoManagerTest, KeepsOldTopicsWhenDeletionOnRegistrationIsOff) {
  RouteInfoManager m(RouteOptions{.delete_topic_with_broker_registration = false});
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T1"}, 1)), kT0);
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T2"}, 2)), kT0);  // incremental, Java-style
  EXPECT_TRUE(m.PickupTopicRouteData("T1").ok());
  EXPECT_TRUE(m.PickupTopicRouteData("T2").ok());
}

TEST(RouteInfoManagerTest, SlaveJoinsTheGroupAndLearnsItsMaster) {
  RouteInfoManager m;
  RegisterBrokerResult master = m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T"}, 1)), kT0);
  EXPECT_TRUE(master.master_addr.empty());
  // A slave's topic set does not change routes.
  RegisterBrokerResult slave =
      m.RegisterBroker(Reg("broker-a", "a:2", 1, Topics({"SlaveOnly"}, 1), 2), kT0);
  EXPECT_EQ(slave.master_addr, "a:1");
  EXPECT_EQ(slave.ha_server_addr, "a:1-ha");
  EXPECT_FALSE(m.PickupTopicRouteData("SlaveOnly").ok());
  auto route = m.PickupTopicRouteData("T");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ((*route)["brokerDatas"][0]["brokerAddrs"], json::parse(R"({"0":"a:1","1":"a:2"})"));

  // The slave is promoted: the same address now registers as id 0 and its id 1 entry goes.
  m.UnregisterBroker("DefaultCluster", "a:1", "broker-a", 0);
  m.RegisterBroker(Reg("broker-a", "a:2", 0, Topics({"T"}, 2), 2), kT0 + 1);
  route = m.PickupTopicRouteData("T");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ((*route)["brokerDatas"][0]["brokerAddrs"], json::parse(R"({"0":"a:2"})"));
}

TEST(RouteInfoManagerTest, StaleRegistrationForATakenIdIsIgnored) {
  RouteInfoManager m;
  BrokerRegistration fresh = Reg("broker-a", "new:1", 0, Topics({"T"}, 1));
  fresh.topic_config.data_version.state_version = 5;
  m.RegisterBroker(fresh, kT0);
  BrokerRegistration stale = Reg("broker-a", "old:1", 0, Topics({"Stale"}, 1), 2);
  stale.topic_config.data_version.state_version = 4;
  m.RegisterBroker(stale, kT0);
  auto route = m.PickupTopicRouteData("T");
  ASSERT_TRUE(route.ok());
  EXPECT_EQ((*route)["brokerDatas"][0]["brokerAddrs"], json::parse(R"({"0":"new:1"})"));
  EXPECT_FALSE(m.PickupTopicRouteData("Stale").ok());
  EXPECT_EQ(m.live_broker_count(), 1u);
}

TEST(RouteInfoManagerTest, UnregisterRemovesTheBrokerAndItsRoutes) {
  RouteInfoManager m;
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T", "A"}, 1)), kT0);
  m.RegisterBroker(Reg("broker-b", "b:1", 0, Topics({"T"}, 1)), kT0);
  EXPECT_TRUE(m.UnregisterBroker("DefaultCluster", "a:1", "broker-a", 0));
  EXPECT_FALSE(m.UnregisterBroker("DefaultCluster", "a:1", "broker-a", 0));
  EXPECT_FALSE(m.PickupTopicRouteData("A").ok());
  auto t = m.PickupTopicRouteData("T");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Names((*t)["brokerDatas"], "brokerName"), (std::vector<std::string>{"broker-b"}));
  EXPECT_EQ(m.GetBrokerClusterInfo()["clusterAddrTable"],
            json::parse(R"({"DefaultCluster":["broker-b"]})"));
  EXPECT_TRUE(m.UnregisterBroker("DefaultCluster", "b:1", "broker-b", 0));
  EXPECT_EQ(m.GetBrokerClusterInfo(),
            json::parse(R"({"brokerAddrTable":{},"clusterAddrTable":{}})"));
  EXPECT_EQ(m.live_broker_count(), 0u);
}

TEST(RouteInfoManagerTest, SilentBrokersExpireByInjectedTime) {
  RouteInfoManager m;
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T"}, 1), 11), kT0);
  BrokerRegistration quick = Reg("broker-b", "b:1", 0, Topics({"T", "B"}, 1), 12);
  quick.heartbeat_timeout_ms = 5000;
  m.RegisterBroker(quick, kT0);

  EXPECT_TRUE(m.ScanNotActiveBroker(kT0 + 5000).empty());  // at the limit: still alive
  std::vector<ExpiredBroker> gone = m.ScanNotActiveBroker(kT0 + 5001);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].broker_addr, "b:1");
  EXPECT_EQ(gone[0].channel_id, 12u);
  EXPECT_FALSE(m.PickupTopicRouteData("B").ok());

  // A heartbeat extends broker-a's life past the default 120 s.
  EXPECT_TRUE(m.UpdateBrokerLiveness("DefaultCluster", "a:1", kT0 + 100000));
  EXPECT_FALSE(m.UpdateBrokerLiveness("DefaultCluster", "zz:1", kT0 + 100000));
  EXPECT_TRUE(m.ScanNotActiveBroker(kT0 + kDefaultBrokerExpiryMs + 1).empty());
  gone = m.ScanNotActiveBroker(kT0 + 100000 + kDefaultBrokerExpiryMs + 1);
  ASSERT_EQ(gone.size(), 1u);
  EXPECT_EQ(gone[0].broker_addr, "a:1");
  EXPECT_FALSE(m.PickupTopicRouteData("T").ok());
  EXPECT_EQ(m.live_broker_count(), 0u);
}

TEST(RouteInfoManagerTest, ChannelDestroyRemovesOnlyThatConnectionsBroker) {
  RouteInfoManager m;
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"A", "T"}, 1), 7), kT0);
  m.RegisterBroker(Reg("broker-b", "b:1", 0, Topics({"B", "T"}, 1), 8), kT0);
  EXPECT_EQ(m.OnChannelDestroy(99), 0);
  EXPECT_EQ(m.OnChannelDestroy(7), 1);
  EXPECT_FALSE(m.PickupTopicRouteData("A").ok());
  EXPECT_TRUE(m.PickupTopicRouteData("B").ok());

  // broker-b reconnects and re-registers over channel 9; the late close of 8 must not drop it.
  m.RegisterBroker(Reg("broker-b", "b:1", 0, Topics({"B", "T"}, 1), 9), kT0 + 1);
  EXPECT_EQ(m.OnChannelDestroy(8), 0);
  EXPECT_TRUE(m.PickupTopicRouteData("B").ok());
}

TEST(RouteInfoManagerTest, TopicListsDeletionAndWritePermission) {
  RouteInfoManager m;
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T", "A"}, 1), 1, "C1"), kT0);
  m.RegisterBroker(Reg("broker-b", "b:1", 0, Topics({"T", "B"}, 1), 2, "C2"), kT0);
  EXPECT_EQ(m.GetAllTopicList(), json::parse(R"({"topicList":["A","B","T"]})"));
  EXPECT_EQ(m.GetTopicsByCluster("C1"), json::parse(R"({"topicList":["A","T"]})"));
  EXPECT_EQ(m.GetTopicsByCluster("none"), json::parse(R"({"topicList":[]})"));

  EXPECT_EQ(m.WipeWritePermOfBroker("broker-a"), 2);
  auto t = m.PickupTopicRouteData("T");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ((*t)["queueDatas"][0]["perm"], 4);  // broker-a: read only
  EXPECT_EQ((*t)["queueDatas"][1]["perm"], 6);

  m.DeleteTopic("T", "C1");
  t = m.PickupTopicRouteData("T");
  ASSERT_TRUE(t.ok());
  EXPECT_EQ(Names((*t)["queueDatas"], "brokerName"), (std::vector<std::string>{"broker-b"}));
  m.DeleteTopic("T");
  EXPECT_FALSE(m.PickupTopicRouteData("T").ok());
  EXPECT_EQ(m.GetAllTopicList(), json::parse(R"({"topicList":["A","B"]})"));
}

TEST(RouteInfoManagerTest, ClusterInfoJsonShape) {
  RouteInfoManager m;
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T"}, 1)), kT0);
  m.RegisterBroker(Reg("broker-a", "a:2", 1, Topics({"T"}, 1), 2), kT0);
  m.RegisterBroker(Reg("broker-b", "b:1", 0, Topics({"T"}, 1), 3), kT0);
  // Through text, as a client would see it.
  json info = json::parse(m.GetBrokerClusterInfo().dump());
  EXPECT_EQ(info, json::parse(R"({
    "brokerAddrTable":{
      "broker-a":{"cluster":"DefaultCluster","brokerName":"broker-a",
                  "brokerAddrs":{"0":"a:1","1":"a:2"},"zoneName":null,"enableActingMaster":false},
      "broker-b":{"cluster":"DefaultCluster","brokerName":"broker-b",
                  "brokerAddrs":{"0":"b:1"},"zoneName":null,"enableActingMaster":false}},
    "clusterAddrTable":{"DefaultCluster":["broker-a","broker-b"]}})"));
}

TEST(RouteInfoManagerTest, DataVersionQuery) {
  RouteInfoManager m;
  EXPECT_FALSE(m.QueryBrokerDataVersion("DefaultCluster", "a:1").has_value());
  m.RegisterBroker(Reg("broker-a", "a:1", 0, Topics({"T"}, 42)), kT0);
  auto v = m.QueryBrokerDataVersion("DefaultCluster", "a:1");
  ASSERT_TRUE(v.has_value());
  EXPECT_EQ(v->counter, 42);
}

}  // namespace
}  // namespace stele::namesrv
