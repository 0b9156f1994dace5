// The persisted managers: topics, subscription groups, consumer offsets. Round trips through the
// file, RocketMQ's file shapes (including Java-written ones), rollback when persisting fails.
#include <gtest/gtest.h>

#include <cerrno>
#include <fstream>
#include <thread>

#include "io/fault_fs.h"
#include "net/broker/state/consumer_offset_manager.h"
#include "net/broker/state/subscription_group_manager.h"
#include "net/broker/state/topic_config_manager.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;

class ManagersTest : public ::testing::Test {
 protected:
  testing::TempDir tmp_;
  BrokerConfig config_ = [this] {
    BrokerConfig c;
    c.store_path_root_dir = tmp_.path();
    c.broker_cluster_name = "ClusterX";
    c.broker_name = "broker-x";
    return c;
  }();
  std::string config_dir_ = tmp_.path() + "/config";

  void WriteFile(const std::string& name, const std::string& text) {
    ASSERT_TRUE(NewPosixFileSystem()->CreateDirs(config_dir_).ok());
    std::ofstream(config_dir_ + "/" + name) << text;
  }
  json ReadJson(const std::string& name) {
    auto fs = NewPosixFileSystem();
    auto t = ReadFileToString(*fs, config_dir_ + "/" + name, 1 << 24);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? json::parse(*t) : json();
  }
};

TEST_F(ManagersTest, SystemTopicsOnFirstStart) {
  TopicConfigManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  auto tbw = m.Get("TBW102");
  ASSERT_TRUE(tbw.has_value());
  EXPECT_EQ(tbw->perm, 7);
  EXPECT_EQ(tbw->write_queue_nums, 8);
  EXPECT_EQ(m.Get("SCHEDULE_TOPIC_XXXX")->read_queue_nums, 18);
  EXPECT_EQ(m.Get("ClusterX")->perm, 7);
  EXPECT_EQ(m.Get("broker-x")->write_queue_nums, 1);
  EXPECT_EQ(m.Get("ClusterX_REPLY_TOPIC")->write_queue_nums, 1);
  for (auto t : {kSelfTestTopic, kTransHalfTopic, kTransOpHalfTopic, kOffsetMovedEventTopic}) {
    EXPECT_TRUE(m.Find(t) != nullptr) << t;
  }
  EXPECT_TRUE(m.IsSystemTopic("ClusterX"));
  EXPECT_TRUE(m.IsSystemTopic("broker-x"));
  EXPECT_FALSE(m.IsSystemTopic("TopicTest"));

  config_.auto_create_topic_enable = false;
  TopicConfigManager no_auto(config_);
  ASSERT_TRUE(no_auto.Load().ok());
  EXPECT_FALSE(no_auto.Get("TBW102").has_value());
}

TEST_F(ManagersTest, TopicsRoundTripAndVersioning) {
  TopicConfigManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  DataVersion v0 = m.data_version();
  TopicConfig t;
  t.topic_name = "TopicTest";
  t.read_queue_nums = t.write_queue_nums = 4;
  t.order = true;
  t.attributes = {{"+message.type", "NORMAL"}};
  ASSERT_TRUE(m.CreateOrUpdate(t).ok());
  EXPECT_EQ(m.data_version().counter, v0.counter + 1);
  ASSERT_TRUE(m.CreateRetryTopic("g1", 2).ok());
  ASSERT_TRUE(m.CreateDlqTopic("g1").ok());
  EXPECT_EQ(m.Get("%RETRY%g1")->write_queue_nums, 2);
  EXPECT_EQ(m.Get("%DLQ%g1")->perm, 6);
  EXPECT_EQ(m.data_version().counter, v0.counter + 3);

  json file = ReadJson("topics.json");
  EXPECT_EQ(file["topicConfigTable"]["TopicTest"]["readQueueNums"], 4);
  EXPECT_EQ(file["topicConfigTable"]["TopicTest"]["topicFilterType"], "SINGLE_TAG");
  EXPECT_EQ(file["dataVersion"]["counter"], v0.counter + 3);

  TopicConfigManager again(config_);
  ASSERT_TRUE(again.Load().ok());
  auto a = m.All(), b = again.All();
  EXPECT_EQ(a.topics, b.topics);
  EXPECT_EQ(a.data_version, b.data_version);
  EXPECT_EQ(*again.Get("TopicTest"), t);

  ASSERT_TRUE(again.Delete("TopicTest").ok());
  EXPECT_TRUE(absl::IsNotFound(again.Delete("TopicTest")));
  EXPECT_FALSE(again.Get("TopicTest").has_value());
  EXPECT_TRUE(absl::IsInvalidArgument(again.CreateOrUpdate(TopicConfig{.topic_name = "../x"})));
  TopicConfig too_many{.topic_name = "big"};
  too_many.write_queue_nums = kMaxQueueNums + 1;
  EXPECT_TRUE(absl::IsInvalidArgument(again.CreateOrUpdate(too_many)));
}

TEST_F(ManagersTest, AutoCreateForSendFollowsTbw102) {
  TopicConfigManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  auto t = m.AutoCreateForSend("NewTopic", 4);
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->write_queue_nums, 4);  // min(client 4, TBW102's 8)
  EXPECT_EQ(t->perm, 6);              // TBW102's 7 without inherit
  int64_t counter = m.data_version().counter;
  auto again = m.AutoCreateForSend("NewTopic", 16);
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(again->write_queue_nums, 4);
  EXPECT_EQ(m.data_version().counter, counter);  // created once
  EXPECT_EQ(m.AutoCreateForSend("Other", 100)->write_queue_nums, 8);
  EXPECT_TRUE(absl::IsInvalidArgument(m.AutoCreateForSend("a/b", 4).status()));

  config_.auto_create_topic_enable = false;
  TopicConfigManager off(config_);
  ASSERT_TRUE(off.Load().ok());  // the file still has NewTopic
  EXPECT_TRUE(off.AutoCreateForSend("NewTopic", 4).ok());
  EXPECT_TRUE(absl::IsNotFound(off.AutoCreateForSend("Brand", 4).status()));
}

TEST_F(ManagersTest, RegisterJsonShapeAndPermMask) {
  TopicConfigManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  json j = m.ToRegisterJson();
  ASSERT_TRUE(j.contains("topicConfigTable") && j.contains("dataVersion"));
  EXPECT_EQ(j["topicConfigTable"]["TBW102"]["perm"], 7);
  EXPECT_EQ(j["topicConfigTable"]["TBW102"]["topicName"], "TBW102");
  EXPECT_TRUE(j["dataVersion"].contains("counter"));
  json ro = m.ToRegisterJson(kPermRead);
  EXPECT_EQ(ro["topicConfigTable"]["TBW102"]["perm"], kPermRead);
}

TEST_F(ManagersTest, JavaWrittenTopicsLoadAndKeepUnknownFields) {
  WriteFile("topics.json", R"({"dataVersion":{"counter":41,"stateVersion":0,
    "timestamp":1700000000000},"topicConfigTable":{
    "JavaTopic":{"attributes":{},"order":false,"perm":6,"readQueueNums":"3","topicFilterType":
      "SINGLE_TAG","topicName":"JavaTopic","topicSysFlag":0,"writeQueueNums":3,"futureField":[1]},
    "../evil":{"topicName":"../evil","readQueueNums":1,"writeQueueNums":1}}})");
  TopicConfigManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  EXPECT_EQ(m.Get("JavaTopic")->read_queue_nums, 3);
  EXPECT_FALSE(m.Get("../evil").has_value());  // skipped, the rest loaded
  EXPECT_EQ(m.data_version().counter, 41);
  ASSERT_TRUE(m.CreateOrUpdate(TopicConfig{.topic_name = "T2"}).ok());
  json file = ReadJson("topics.json");
  EXPECT_EQ(file["topicConfigTable"]["JavaTopic"]["futureField"], json::array({1}));
  EXPECT_EQ(file["dataVersion"]["counter"], 42);
}

TEST_F(ManagersTest, FailedPersistRollsBack) {
  auto fs = std::make_shared<io::FaultInjectionFS>(NewPosixFileSystem(), 1);
  TopicConfigManager m(config_, fs);
  ASSERT_TRUE(m.Load().ok());
  DataVersion before = m.data_version();
  fs->FailNth(io::FaultOp::kRename, 1, ENOSPC);
  absl::Status s = m.CreateOrUpdate(TopicConfig{.topic_name = "T"});
  EXPECT_FALSE(s.ok());
  EXPECT_FALSE(m.Get("T").has_value());
  EXPECT_EQ(m.data_version(), before);
  EXPECT_TRUE(m.CreateOrUpdate(TopicConfig{.topic_name = "T"}).ok());
  EXPECT_TRUE(m.Get("T").has_value());
}

TEST_F(ManagersTest, SubscriptionGroups) {
  SubscriptionGroupManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  EXPECT_TRUE(m.Find("TOOLS_CONSUMER").has_value());
  EXPECT_FALSE(m.Find("G1").has_value());
  auto g = m.FindOrAutoCreate("G1");
  ASSERT_TRUE(g.ok());
  EXPECT_EQ(g->retry_max_times, 16);
  EXPECT_EQ(g->retry_queue_nums, 1);
  EXPECT_TRUE(g->consume_broadcast_enable);
  SubscriptionGroupConfig u = *g;
  u.retry_max_times = 3;
  u.consume_message_orderly = true;
  ASSERT_TRUE(m.Update(u).ok());
  EXPECT_TRUE(absl::IsInvalidArgument(m.FindOrAutoCreate("bad/group").status()));
  u.retry_queue_nums = 0;
  EXPECT_TRUE(absl::IsInvalidArgument(m.Update(u)));

  SubscriptionGroupManager again(config_);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.All(), m.All());
  EXPECT_EQ(again.Find("G1")->retry_max_times, 3);
  EXPECT_EQ(again.data_version(), m.data_version());
  ASSERT_TRUE(again.Delete("G1").ok());
  EXPECT_TRUE(absl::IsNotFound(again.Delete("G1")));

  config_.auto_create_subscription_group = false;
  SubscriptionGroupManager off(config_);
  ASSERT_TRUE(off.Load().ok());
  EXPECT_TRUE(absl::IsNotFound(off.FindOrAutoCreate("G2").status()));
  EXPECT_TRUE(off.FindOrAutoCreate("CID_RMQ_SYS_X").ok());
}

TEST_F(ManagersTest, JavaSubscriptionGroupFileKeepsUnknownParts) {
  WriteFile("subscriptionGroup.json", R"({"dataVersion":{"counter":2,"timestamp":1},
    "forbiddenTable":{"G":{"T":1}},"subscriptionGroupTable":{"G":{"brokerId":0,
    "consumeBroadcastEnable":true,"consumeEnable":true,"consumeFromMinEnable":true,
    "groupName":"G","groupRetryPolicy":{"type":"CUSTOMIZED"},"retryMaxTimes":5,
    "retryQueueNums":1,"whichBrokerWhenConsumeSlowly":1}}})");
  SubscriptionGroupManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  EXPECT_EQ(m.Find("G")->retry_max_times, 5);
  ASSERT_TRUE(m.FindOrAutoCreate("G2").ok());
  json file = ReadJson("subscriptionGroup.json");
  EXPECT_EQ(file["forbiddenTable"], (json{{"G", {{"T", 1}}}}));
  EXPECT_EQ(file["subscriptionGroupTable"]["G"]["groupRetryPolicy"]["type"], "CUSTOMIZED");
  EXPECT_EQ(file["dataVersion"]["counter"], 3);
}

TEST_F(ManagersTest, OffsetsCommitQueryPersistReload) {
  auto fs = std::make_shared<io::FaultInjectionFS>(NewPosixFileSystem(), 1);
  ConsumerOffsetManager m(config_, fs);
  ASSERT_TRUE(m.Load().ok());
  ASSERT_TRUE(m.Commit("g", "T", 0, 5).ok());
  ASSERT_TRUE(m.Commit("g", "T", 1, 7).ok());
  ASSERT_TRUE(m.Commit("g", "T", 1, -1).ok());  // ignored
  ASSERT_TRUE(m.Commit("g", "U", 0, 1).ok());
  ASSERT_TRUE(m.Commit("h", "T", 3, 9).ok());
  EXPECT_EQ(m.Query("g", "T", 1), 7);
  EXPECT_EQ(m.Query("g", "T", 2), std::nullopt);
  EXPECT_EQ(m.Query("x", "T", 0), std::nullopt);
  EXPECT_EQ(m.QueryTopic("g", "T"), (ConsumerOffsetManager::QueueOffsets{{0, 5}, {1, 7}}));
  EXPECT_EQ(m.QueryAll("g").size(), 2u);
  EXPECT_EQ(m.GroupsOfTopic("T"), (std::vector<std::string>{"g", "h"}));
  EXPECT_TRUE(absl::IsInvalidArgument(m.Commit("g/..", "T", 0, 1)));
  EXPECT_TRUE(absl::IsInvalidArgument(m.Commit("g", "T", -1, 1)));

  ASSERT_TRUE(m.Persist().ok());
  EXPECT_EQ(ReadJson("consumerOffset.json")["offsetTable"]["T@g"], (json{{"0", 5}, {"1", 7}}));
  uint64_t renames = fs->Count(io::FaultOp::kRename);
  ASSERT_TRUE(m.Persist().ok());               // nothing changed: no write
  ASSERT_TRUE(m.Commit("g", "T", 0, 5).ok());  // same value: still nothing changed
  ASSERT_TRUE(m.Persist().ok());
  EXPECT_EQ(fs->Count(io::FaultOp::kRename), renames);

  ConsumerOffsetManager again(config_);
  ASSERT_TRUE(again.Load().ok());
  EXPECT_EQ(again.QueryAll("g"), m.QueryAll("g"));
  EXPECT_EQ(again.QueryAll("h"), m.QueryAll("h"));

  EXPECT_TRUE(again.RemoveTopic("U"));
  EXPECT_FALSE(again.RemoveTopic("U"));
  EXPECT_TRUE(again.RemoveGroup("h"));
  EXPECT_EQ(again.GroupsOfTopic("T"), (std::vector<std::string>{"g"}));
  ASSERT_TRUE(again.Persist().ok());
  EXPECT_FALSE(ReadJson("consumerOffset.json")["offsetTable"].contains("T@h"));
}

TEST_F(ManagersTest, OffsetsLoadFastjsonUnquotedKeys) {
  WriteFile("consumerOffset.json",
            R"({"offsetTable":{"TopicTest@please_rename_unique_group_name_4":{0:250,1:249,)"
            R"(2:251,3:250},"%RETRY%g@g":{0:0},"broken":{0:1},"T@g":{0:-1,"x":3}}})");
  ConsumerOffsetManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  EXPECT_EQ(m.Query("please_rename_unique_group_name_4", "TopicTest", 2), 251);
  EXPECT_EQ(m.Query("g", "%RETRY%g", 0), 0);
  EXPECT_TRUE(m.QueryTopic("g", "T").empty());  // negative offset and bad queue id skipped
}

TEST_F(ManagersTest, OffsetsFallBackToBackupAndRepairMain) {
  {
    ConsumerOffsetManager m(config_);
    ASSERT_TRUE(m.Load().ok());
    ASSERT_TRUE(m.Commit("g", "T", 0, 1).ok());
    ASSERT_TRUE(m.Persist().ok());
    ASSERT_TRUE(m.Commit("g", "T", 0, 2).ok());
    ASSERT_TRUE(m.Persist().ok());
  }
  WriteFile("consumerOffset.json", R"({"offsetTable":{"T@g":{0:)");
  ConsumerOffsetManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  EXPECT_EQ(m.Query("g", "T", 0), 1);
  ASSERT_TRUE(m.Persist().ok());  // rewrites the damaged main file though nothing changed
  EXPECT_EQ(ReadJson("consumerOffset.json")["offsetTable"]["T@g"]["0"], 1);

  WriteFile("consumerOffset.json", "{");
  WriteFile("consumerOffset.json.bak", "}");
  ConsumerOffsetManager broken(config_);
  EXPECT_TRUE(absl::IsDataLoss(broken.Load()));
}

TEST_F(ManagersTest, OffsetsConcurrentCommitsAndPersists) {
  ConsumerOffsetManager m(config_);
  ASSERT_TRUE(m.Load().ok());
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&m, t] {
      for (int i = 0; i <= 500; ++i) ASSERT_TRUE(m.Commit("g", "T", t, i).ok());
    });
  }
  threads.emplace_back([&m] {
    for (int i = 0; i < 20; ++i) ASSERT_TRUE(m.Persist().ok());
  });
  for (auto& th : threads) th.join();
  ASSERT_TRUE(m.Persist().ok());
  ConsumerOffsetManager again(config_);
  ASSERT_TRUE(again.Load().ok());
  for (int t = 0; t < 4; ++t) EXPECT_EQ(again.Query("g", "T", t), 500);
}

}  // namespace
}  // namespace stele::broker
