// SQL92 subscriptions on a running broker: PULL_MESSAGE with expressionType SQL92 returns only
// the messages whose properties match (skipping the rest but moving past them), the
// subscription from a heartbeat is used when the pull does not carry one, enablePropertyFilter
// off answers SYSTEM_ERROR, a malformed expression SUBSCRIPTION_PARSE_FAILED with the reason,
// and CHECK_CLIENT_CONFIG answers as a pull would.
#include <gtest/gtest.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include "engine/record.h"
#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/live_broker_test.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using json = nlohmann::json;
using remoting::RemotingCommand;
using namespace remoting::response;
namespace request = remoting::request;

constexpr int kMessages = 20;

class Sql92PullTest : public LiveBrokerTest {
 protected:
  void StartBroker(bool enable_property_filter) {
    LiveBrokerTest::StartBroker(
        [&](BrokerConfig& c) { c.enable_property_filter = enable_property_filter; });
    if (HasFatalFailure()) return;
    ASSERT_TRUE(broker_->TopicForSend("TopicSql", 4).ok());
    // Message i (1..20) has a=i, region eu for odd i and us for even i, and tag "t<i%3>".
    for (int i = 1; i <= kMessages; ++i) {
      std::string props;
      AppendProperty(&props, "a", std::to_string(i));
      AppendProperty(&props, "region", i % 2 == 1 ? "eu" : "us");
      const std::string tag = fmt::format("t{}", i % 3);
      const std::string body = fmt::format("m{}", i);
      auto r = broker_->store().Append(Message{
          .topic = "TopicSql", .queue_id = 0, .body = body, .properties = props, .tags = tag});
      ASSERT_TRUE(r.ok()) << r.status();
    }
    ASSERT_TRUE(
        broker_->store().WaitForMessages("TopicSql", 0, kMessages - 1, std::chrono::seconds(20)));
  }

  RemotingCommand Invoke(RemotingCommand req) {
    auto resp = client_.InvokeSync(addr_, std::move(req), std::chrono::seconds(10));
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *std::move(resp) : RemotingCommand{};
  }

  // sysFlag 4 (SUBSCRIPTION) unless `from_heartbeat`; never suspended.
  RemotingCommand Pull(const std::string& expr, const std::string& type, int64_t offset,
                       int max = 32, bool from_heartbeat = false) {
    RemotingCommand req = RemotingCommand::Request(request::kPullMessage);
    req.Set("consumerGroup", "GSql");
    req.Set("topic", "TopicSql");
    req.Set("queueId", int64_t{0});
    req.Set("queueOffset", offset);
    req.Set("maxMsgNums", int64_t{max});
    req.Set("sysFlag", int64_t{from_heartbeat ? 0 : 4});
    req.Set("commitOffset", int64_t{0});
    req.Set("suspendTimeoutMillis", int64_t{0});
    req.Set("subscription", expr);
    req.Set("subVersion", int64_t{1});
    if (!type.empty()) req.Set("expressionType", type);
    return Invoke(std::move(req));
  }

  // The "m<i>" bodies of a pull reply's records.
  static std::vector<std::string> Bodies(const RemotingCommand& resp) {
    std::vector<std::string> out;
    size_t pos = 0;
    while (pos < resp.body.size()) {
      MessageView v;
      std::string why;
      const auto r =
          engine::DecodeRecord(resp.body.data() + pos, resp.body.size() - pos, true, &v, &why);
      EXPECT_EQ(r, engine::DecodeResult::kOk) << why;
      if (r != engine::DecodeResult::kOk) break;
      out.emplace_back(v.body);
      pos += v.total_size;
    }
    return out;
  }

  RemotingCommand Heartbeat(const std::string& expr, const std::string& type, int64_t version) {
    json sub = {{"topic", "TopicSql"},      {"subString", expr},        {"classFilterMode", false},
                {"tagsSet", json::array()}, {"codeSet", json::array()}, {"subVersion", version},
                {"expressionType", type}};
    json hb = {{"clientID", "127.0.0.1@sql"},
               {"producerDataSet", json::array()},
               {"consumerDataSet",
                {{{"groupName", "GSql"},
                  {"consumeType", "CONSUME_PASSIVELY"},
                  {"messageModel", "CLUSTERING"},
                  {"consumeFromWhere", "CONSUME_FROM_FIRST_OFFSET"},
                  {"unitMode", false},
                  {"subscriptionDataSet", {sub}}}}}};
    RemotingCommand req = RemotingCommand::Request(request::kHeartBeat);
    req.body = hb.dump();
    return Invoke(std::move(req));
  }

  RemotingCommand CheckClient(const std::string& expr, const std::string& type) {
    json body = {{"clientId", "127.0.0.1@sql"},
                 {"group", "GSql"},
                 {"subscriptionData",
                  {{"topic", "TopicSql"}, {"subString", expr}, {"expressionType", type}}}};
    RemotingCommand req = RemotingCommand::Request(request::kCheckClientConfig);
    req.body = body.dump();
    return Invoke(std::move(req));
  }
};

TEST_F(Sql92PullTest, PullReturnsOnlyMatchingMessages) {
  StartBroker(true);
  RemotingCommand resp = Pull("a > 5 AND region = 'eu'", "SQL92", 0);
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(Bodies(resp),
            (std::vector<std::string>{"m7", "m9", "m11", "m13", "m15", "m17", "m19"}));
  EXPECT_EQ(resp.IntOr("nextBeginOffset", -1).value_or(-1), kMessages);
  // TAGS is a property; keywords in any case.
  resp = Pull("TAGS = 't0' and a between 1 and 10", "SQL92", 0);
  ASSERT_EQ(resp.code, kSuccess);
  EXPECT_EQ(Bodies(resp), (std::vector<std::string>{"m3", "m6", "m9"}));
  // A bounded batch stops after max messages; the next offset is just past the last returned.
  resp = Pull("region = 'us'", "SQL92", 0, /*max=*/2);
  ASSERT_EQ(resp.code, kSuccess);
  EXPECT_EQ(Bodies(resp), (std::vector<std::string>{"m2", "m4"}));
  EXPECT_EQ(resp.IntOr("nextBeginOffset", -1).value_or(-1), 4);
  // Nothing matches: PULL_RETRY_IMMEDIATELY with the offset moved past what was skipped.
  resp = Pull("a > 100", "SQL92", 0);
  EXPECT_EQ(resp.code, kPullRetryImmediately);
  EXPECT_EQ(resp.IntOr("nextBeginOffset", -1).value_or(-1), kMessages);
  // Tag subscriptions are unchanged (no expressionType = TAG).
  resp = Pull("t1 || t2", "", 0, 4);
  ASSERT_EQ(resp.code, kSuccess);
  EXPECT_EQ(Bodies(resp), (std::vector<std::string>{"m1", "m2", "m4", "m5"}));
}

TEST_F(Sql92PullTest, MalformedOrUnsupportedExpressionsAreRefused) {
  StartBroker(true);
  RemotingCommand resp = Pull("a > ", "SQL92", 0);
  EXPECT_EQ(resp.code, kSubscriptionParseFailed);
  EXPECT_NE(resp.remark.value_or("").find("expected a value"), std::string::npos)
      << resp.remark.value_or("");
  resp = Pull(std::string(100000, '('), "SQL92", 0);
  EXPECT_EQ(resp.code, kSubscriptionParseFailed);
  resp = Pull("a > 1", "JSONPATH", 0);
  EXPECT_EQ(resp.code, kSubscriptionParseFailed);
  // The broker keeps serving.
  EXPECT_EQ(Pull("a = 1", "SQL92", 0).code, kSuccess);
}

TEST_F(Sql92PullTest, PropertyFilterDisabledIsASystemError) {
  StartBroker(false);
  RemotingCommand resp = Pull("a > 5", "SQL92", 0);
  EXPECT_EQ(resp.code, kSystemError);
  EXPECT_NE(resp.remark.value_or("").find("does not support consumer to filter message by SQL92"),
            std::string::npos);
  // A malformed expression is reported as such first, as RocketMQ does.
  EXPECT_EQ(Pull("a >", "SQL92", 0).code, kSubscriptionParseFailed);
  EXPECT_EQ(CheckClient("a > 5", "SQL92").code, kSystemError);
  EXPECT_EQ(CheckClient("TagA", "TAG").code, kSuccess);
  EXPECT_EQ(Pull("*", "TAG", 0, 1).code, kSuccess);
}

TEST_F(Sql92PullTest, HeartbeatSubscriptionIsUsedWhenThePullHasNone) {
  StartBroker(true);
  ASSERT_EQ(Heartbeat("a <= 3", "SQL92", 1).code, kSuccess);
  RemotingCommand resp = Pull("", "", 0, 32, /*from_heartbeat=*/true);
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(Bodies(resp), (std::vector<std::string>{"m1", "m2", "m3"}));
  // A heartbeat with a malformed expression is accepted; its pulls have no filter data.
  ASSERT_EQ(Heartbeat("a <=", "SQL92", 2).code, kSuccess);
  resp = Pull("", "", 0, 32, /*from_heartbeat=*/true);
  EXPECT_EQ(resp.code, kFilterDataNotExist);
  EXPECT_NE(resp.remark.value_or("").find("offset"), std::string::npos);
}

TEST_F(Sql92PullTest, CheckClientConfig) {
  StartBroker(true);
  EXPECT_EQ(CheckClient("a > 5 AND region IN ('eu')", "SQL92").code, kSuccess);
  RemotingCommand resp = CheckClient("a > 'x'", "SQL92");
  EXPECT_EQ(resp.code, kSubscriptionParseFailed);
  EXPECT_NE(resp.remark.value_or("").find("cannot be compared"), std::string::npos);
  RemotingCommand bad = RemotingCommand::Request(request::kCheckClientConfig);
  bad.body = "{not json";
  EXPECT_EQ(Invoke(std::move(bad)).code, kSystemError);
  RemotingCommand empty = RemotingCommand::Request(request::kCheckClientConfig);
  empty.body = R"({"clientId":"c","group":"GSql"})";
  EXPECT_EQ(Invoke(std::move(empty)).code, kSuccess);
}

}  // namespace
}  // namespace stele::broker
