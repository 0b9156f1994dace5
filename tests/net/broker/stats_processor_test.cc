// The admin statistics and offset-reset requests against a running broker (no name server):
// GET_TOPIC_STATS_INFO, GET_CONSUME_STATS, GET_CONSUMER/PRODUCER_CONNECTION_LIST,
// QUERY_TOPIC_CONSUME_BY_WHO, QUERY_TOPICS_BY_CONSUMER, INVOKE_BROKER_TO_RESET_OFFSET. Bodies are
// checked byte for byte where Java parses them (the MessageQueue-keyed maps), and bad requests get
// an error code with a remark.
#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/live_broker_test.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using nlohmann::json;
using remoting::RemotingCommand;
using namespace remoting::response;
namespace request = remoting::request;

constexpr auto kWait = std::chrono::seconds(10);

class StatsProcessorTest : public LiveBrokerTest {
 protected:
  void SetUp() override {
    StartBroker([](BrokerConfig& c) { c.broker_name = "bk-a"; });
    if (HasFatalFailure()) return;
    // Topic T: 2 queues; queue 1 holds 3 messages, queue 0 none.
    RemotingCommand r = Call(request::kUpdateAndCreateTopic,
                             {{"topic", "T"}, {"readQueueNums", "2"}, {"writeQueueNums", "2"}});
    ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
    for (int i = 0; i < 3; ++i) {
      const std::string body = fmt::format("m{}", i);
      ASSERT_TRUE(broker_->store().Append(Message{.topic = "T", .queue_id = 1, .body = body}).ok());
    }
    ASSERT_TRUE(broker_->store().WaitForMessages("T", 1, 2, kWait));
  }

  // A remoting consumer of `group` (and producer of P) on topic T, as a heartbeat announces it.
  void Heartbeat(const std::string& group) {
    const json hb = {{"clientID", "10.1.1.1@test"},
                     {"producerDataSet", {{{"groupName", "P"}}}},
                     {"consumerDataSet",
                      {{{"groupName", group},
                        {"consumeType", "CONSUME_PASSIVELY"},
                        {"messageModel", "CLUSTERING"},
                        {"consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET"},
                        {"subscriptionDataSet",
                         {{{"topic", "T"}, {"subString", "a || b"}, {"subVersion", 7}}}}}}}};
    RemotingCommand r = Call(request::kHeartBeat, {}, hb.dump());
    ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  }

  std::string QueueKey(int q) {
    return fmt::format(R"({{"brokerName":"bk-a","queueId":{},"topic":"T"}})", q);
  }
  int64_t StoreTime(int64_t offset) {
    auto t = broker_->store().QueueOffsetStoreTime("T", 1, offset);
    EXPECT_TRUE(t.ok()) << t.status();
    return t.ok() ? *t : -1;
  }
};

TEST_F(StatsProcessorTest, TopicStatsListEveryQueueInJavasLayout) {
  RemotingCommand r = Call(request::kGetTopicStatsInfo, {{"topic", "T"}});
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  EXPECT_EQ(r.body,
            fmt::format(R"({{"offsetTable":{{{}:{},{}:{}}}}})", QueueKey(0),
                        R"({"lastUpdateTimestamp":0,"maxOffset":0,"minOffset":0})", QueueKey(1),
                        fmt::format(R"({{"lastUpdateTimestamp":{},"maxOffset":3,)"
                                    R"("minOffset":0}})",
                                    StoreTime(2))));
}

TEST_F(StatsProcessorTest, TopicStatsRefusesUnknownTopicAndMissingField) {
  RemotingCommand r = Call(request::kGetTopicStatsInfo, {{"topic", "NoSuch"}});
  EXPECT_EQ(r.code, kTopicNotExist);
  EXPECT_EQ(r.remark.value_or(""), "topic[NoSuch] not exist");
  r = Call(request::kGetTopicStatsInfo, {});
  EXPECT_EQ(r.code, kSystemError);
  EXPECT_NE(r.remark.value_or("").find("topic"), std::string::npos) << r.remark.value_or("");
  r = Call(request::kGetTopicStatsInfo, {{"topic", "bad topic!"}});
  EXPECT_EQ(r.code, kSystemError);
}

TEST_F(StatsProcessorTest, ConsumeStatsGiveLagPerQueue) {
  ASSERT_TRUE(broker_->offsets().Commit("G", "T", 1, 1).ok());
  const std::string want = fmt::format(
      R"({{"consumeTps":0.0,"offsetTable":{{{}:{},{}:{}}}}})", QueueKey(0),
      R"({"brokerOffset":0,"consumerOffset":0,"lastTimestamp":0,"pullOffset":0})", QueueKey(1),
      fmt::format(R"({{"brokerOffset":3,"consumerOffset":1,"lastTimestamp":{},"pullOffset":1}})",
                  StoreTime(0)));
  RemotingCommand all = Call(request::kGetConsumeStats, {{"consumerGroup", "G"}});
  ASSERT_EQ(all.code, kSuccess) << all.remark.value_or("");
  EXPECT_EQ(all.body, want);
  RemotingCommand one = Call(request::kGetConsumeStats, {{"consumerGroup", "G"}, {"topic", "T"}});
  ASSERT_EQ(one.code, kSuccess);
  EXPECT_EQ(one.body, want);
  // Java answers an empty table for a topic it does not have; the tools report it.
  RemotingCommand none =
      Call(request::kGetConsumeStats, {{"consumerGroup", "G"}, {"topic", "NoSuch"}});
  ASSERT_EQ(none.code, kSuccess);
  EXPECT_EQ(none.body, R"({"consumeTps":0.0,"offsetTable":{}})");
  EXPECT_EQ(Call(request::kGetConsumeStats, {}).code, kSystemError);
  EXPECT_EQ(Call(request::kGetConsumeStats, {{"consumerGroup", "bad group!"}}).code, kSystemError);
}

TEST_F(StatsProcessorTest, ConnectionListsComeFromHeartbeats) {
  RemotingCommand r = Call(request::kGetConsumerConnectionList, {{"consumerGroup", "H"}});
  EXPECT_EQ(r.code, kConsumerNotOnline);
  EXPECT_EQ(r.remark.value_or(""), "the consumer group[H] not online");
  r = Call(request::kGetProducerConnectionList, {{"producerGroup", "P"}});
  EXPECT_EQ(r.code, kSystemError);
  EXPECT_EQ(r.remark.value_or(""), "the producer group[P] not exist");

  Heartbeat("H");
  r = Call(request::kGetConsumerConnectionList, {{"consumerGroup", "H"}});
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  const json cc = json::parse(r.body);
  ASSERT_EQ(cc["connectionSet"].size(), 1u);
  const json& conn = cc["connectionSet"][0];
  EXPECT_EQ(conn["clientId"], "10.1.1.1@test");
  EXPECT_EQ(conn["clientAddr"].get<std::string>().rfind("127.0.0.1:", 0), 0u) << conn;
  EXPECT_EQ(conn["language"], "CPP");  // the test's RemotingClient speaks as Stele's client
  EXPECT_EQ(conn["version"], remoting::kSteleVersion);
  EXPECT_EQ(cc["consumeType"], "CONSUME_PASSIVELY");
  EXPECT_EQ(cc["messageModel"], "CLUSTERING");
  EXPECT_EQ(cc["consumeFromWhere"], "CONSUME_FROM_FIRST_OFFSET");
  EXPECT_EQ(cc["subscriptionTable"]["T"]["subString"], "a || b");
  EXPECT_EQ(cc["subscriptionTable"]["T"]["subVersion"], 7);

  r = Call(request::kGetProducerConnectionList, {{"producerGroup", "P"}});
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  const json pc = json::parse(r.body);
  ASSERT_EQ(pc["connectionSet"].size(), 1u);
  EXPECT_EQ(pc["connectionSet"][0]["clientId"], "10.1.1.1@test");
  EXPECT_EQ(Call(request::kGetConsumerConnectionList, {}).code, kSystemError);
}

TEST_F(StatsProcessorTest, WhoConsumesJoinsOnlineAndOffsetGroups) {
  ASSERT_TRUE(broker_->offsets().Commit("G", "T", 1, 1).ok());
  ASSERT_TRUE(broker_->offsets().Commit("G", "Other", 0, 1).ok());
  Heartbeat("H");
  RemotingCommand r = Call(request::kQueryTopicConsumeByWho, {{"topic", "T"}});
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  EXPECT_EQ(json::parse(r.body), json::parse(R"({"groupList":["G","H"]})"));
  r = Call(request::kQueryTopicsByConsumer, {{"group", "G"}});
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  EXPECT_EQ(json::parse(r.body),
            json({{"brokerAddr", broker_->broker_addr()}, {"topicList", {"Other", "T"}}}));
  EXPECT_EQ(Call(request::kQueryTopicConsumeByWho, {}).code, kSystemError);
  EXPECT_EQ(Call(request::kQueryTopicsByConsumer, {}).code, kSystemError);
}

class ResetOffsetTest : public StatsProcessorTest {
 protected:
  RemotingCommand Reset(const std::string& timestamp, bool force,
                        std::map<std::string, std::string> extra = {}) {
    extra["topic"] = "T";
    extra["group"] = "G";
    extra["timestamp"] = timestamp;
    extra["isForce"] = force ? "true" : "false";
    return Call(request::kInvokeBrokerToResetOffset, extra);
  }
  std::optional<int64_t> Offset(int q) { return broker_->offsets().Query("G", "T", q); }
  std::string Table(int64_t q0, int64_t q1) {
    return fmt::format(R"({{"offsetTable":{{{}:{},{}:{}}}}})", QueueKey(0), q0, QueueKey(1), q1);
  }
};

TEST_F(ResetOffsetTest, ForceMovesBothWaysWithoutForceOnlyBack) {
  ASSERT_TRUE(broker_->offsets().Commit("G", "T", 1, 1).ok());
  // -1 = the queues' ends (skipAccumulatedMessage).
  RemotingCommand r = Reset("-1", true);
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  EXPECT_EQ(r.body, Table(0, 3));
  EXPECT_EQ(Offset(1), 3);
  // A time before every message: back to 0.
  r = Reset("0", false);
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  EXPECT_EQ(r.body, Table(0, 0));
  EXPECT_EQ(Offset(1), 0);
  // Not forced, a later target leaves the offset where it is.
  r = Reset("-1", false);
  ASSERT_EQ(r.code, kSuccess);
  EXPECT_EQ(r.body, Table(0, 0));
  EXPECT_EQ(Offset(1), 0);
  // A time after every message: each queue's end.
  r = Reset(std::to_string(StoreTime(2) + 3600 * 1000), true);
  ASSERT_EQ(r.code, kSuccess);
  EXPECT_EQ(r.body, Table(0, 3));
  EXPECT_EQ(Offset(1), 3);
}

TEST_F(ResetOffsetTest, OneQueueToAnExactOffset) {
  ASSERT_TRUE(broker_->offsets().Commit("G", "T", 1, 0).ok());
  RemotingCommand r = Reset("-1", true, {{"queueId", "1"}, {"offset", "2"}});
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  EXPECT_EQ(r.body, fmt::format(R"({{"offsetTable":{{{}:2}}}})", QueueKey(1)));
  EXPECT_EQ(Offset(1), 2);
  EXPECT_EQ(Offset(0), std::nullopt);  // untouched
  r = Reset("-1", true, {{"queueId", "1"}, {"offset", "9"}});
  EXPECT_EQ(r.code, kSystemError);
  EXPECT_EQ(r.remark.value_or(""), "Target offset 9 not in consume queue range [0-3]");
  EXPECT_EQ(Offset(1), 2);
  // offset -1: by the timestamp.
  r = Reset("0", true, {{"queueId", "1"}, {"offset", "-1"}});
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  EXPECT_EQ(Offset(1), 0);
  r = Reset("-1", true, {{"queueId", "5"}, {"offset", "0"}});
  EXPECT_EQ(r.code, kSystemError);
}

TEST_F(ResetOffsetTest, BadRequestsGetJavasRemarks) {
  RemotingCommand r = Reset("-1", true);  // G has no offsets and is not online
  EXPECT_EQ(r.code, kSystemError);
  EXPECT_EQ(r.remark.value_or(""), "THe consumer group <G> not exist");
  r = Call(request::kInvokeBrokerToResetOffset,
           {{"topic", "NoSuch"}, {"group", "G"}, {"timestamp", "0"}});
  EXPECT_EQ(r.code, kSystemError);
  EXPECT_EQ(r.remark.value_or(""),
            "[reset-offset] reset offset failed, no topic in this broker. topic=NoSuch");
  r = Call(request::kInvokeBrokerToResetOffset, {{"topic", "T"}, {"group", "G"}});
  EXPECT_EQ(r.code, kSystemError);
  EXPECT_NE(r.remark.value_or("").find("timestamp"), std::string::npos) << r.remark.value_or("");
  r = Call(request::kInvokeBrokerToResetOffset,
           {{"topic", "T"}, {"group", "G"}, {"timestamp", "soon"}});
  EXPECT_EQ(r.code, kSystemError);
}

// An online remoting consumer hears of the reset (RESET_CONSUMER_CLIENT_OFFSET with the new
// offsets), as Java's Broker2Client tells it.
TEST_F(ResetOffsetTest, OnlineConsumersAreNotified) {
  std::mutex mu;
  std::condition_variable cv;
  std::optional<RemotingCommand> got;
  client_.Register(request::kResetConsumerClientOffset,
                   [&](const remoting::ChannelPtr&, RemotingCommand req, remoting::Reply) {
                     std::lock_guard l(mu);
                     got = std::move(req);
                     cv.notify_all();
                   });
  Heartbeat("G");  // online, no offsets yet: the reset is allowed
  RemotingCommand r = Reset("-1", true);
  ASSERT_EQ(r.code, kSuccess) << r.remark.value_or("");
  std::unique_lock l(mu);
  ASSERT_TRUE(cv.wait_for(l, kWait, [&] { return got.has_value(); }));
  EXPECT_EQ(got->body, Table(0, 3));
  EXPECT_EQ(*got->Field("group"), "G");
  EXPECT_EQ(*got->Field("topic"), "T");
  EXPECT_EQ(*got->Field("timestamp"), "-1");
}

}  // namespace
}  // namespace stele::broker
