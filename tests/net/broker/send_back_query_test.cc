// CONSUMER_SEND_MSG_BACK, VIEW_MESSAGE_BY_ID and QUERY_MESSAGE against a running broker (no name
// server): retries are parked, then delivered to %RETRY%<group> by the delay service; exhausted
// ones go to %DLQ%<group>; lookups return stored records byte for byte.
#include <gtest/gtest.h>

#include <chrono>
#include <climits>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "fmt/format.h"
#include "net/broker/broker_controller.h"
#include "net/broker/message_writer.h"
#include "net/broker/state/names.h"
#include "net/remoting/codes.h"
#include "net/remoting/transport.h"
#include "stele/file_system.h"
#include "testutil.h"

namespace stele::broker {
namespace {

using remoting::RemotingCommand;
using namespace remoting::response;
namespace request = remoting::request;

constexpr auto kWait = std::chrono::seconds(20);

class SendBackQueryTest : public ::testing::Test {
 protected:
  void StartBroker(const std::function<void(BrokerConfig&)>& tweak = {}) {
    BrokerConfig c;
    c.store_path_root_dir = dir_.path();
    c.broker_ip1 = "127.0.0.1";
    c.bind_address = "127.0.0.1";
    c.listen_port = 0;
    c.store = testing::SmallOptions(dir_.path(), NewPosixFileSystem());
    c.message_delay_level_ms = {20, 20, 20, 20, 20, 20};
    if (tweak) tweak(c);
    ASSERT_TRUE(c.Finalize().ok());
    auto b = BrokerController::Create(std::move(c));
    ASSERT_TRUE(b.ok()) << b.status();
    broker_ = std::move(*b);
    ASSERT_TRUE(broker_->Start().ok());
    addr_ = fmt::format("127.0.0.1:{}", broker_->port());
  }
  void SetUp() override { StartBroker(); }
  void TearDown() override {
    client_.Shutdown();
    if (broker_) broker_->Shutdown();
  }

  RemotingCommand Call(int32_t code, const std::map<std::string, std::string>& fields) {
    RemotingCommand req = RemotingCommand::Request(code);
    for (const auto& [k, v] : fields) req.Set(k, v);
    auto resp = client_.InvokeSync(addr_, std::move(req), std::chrono::seconds(10));
    EXPECT_TRUE(resp.ok()) << resp.status();
    return resp.ok() ? *std::move(resp) : RemotingCommand{};
  }

  AppendResult Append(const std::string& topic, const std::string& body, std::string props = {}) {
    AppendProperty(&props, kPropertyTags, "tagA");
    const Message m{.topic = topic,
                    .queue_id = 1,
                    .body = body,
                    .properties = props,
                    .flag = 3,
                    .born_timestamp_ms = 999,
                    .born_host = *HostAddress::Parse("10.0.0.2:77")};
    auto r = broker_->store().Append(m);
    EXPECT_TRUE(r.ok()) << r.status();
    return r.ok() ? *r : AppendResult{};
  }

  RemotingCommand SendBack(int64_t offset, int delay_level, std::string max_reconsume = "16",
                           std::string group = "G1") {
    return Call(request::kConsumerSendMsgBack, {{"offset", fmt::format("{}", offset)},
                                                {"group", group},
                                                {"delayLevel", fmt::format("{}", delay_level)},
                                                {"originMsgId", "ignored"},
                                                {"originTopic", "TopicA"},
                                                {"unitMode", "false"},
                                                {"maxReconsumeTimes", max_reconsume}});
  }

  // The one record of (topic, queue 0), once it is there.
  RecordRef Only(const std::string& topic, int64_t queue_offset = 0) {
    EXPECT_TRUE(broker_->store().WaitForMessages(topic, 0, queue_offset, kWait)) << topic;
    auto got = broker_->store().Get(topic, 0, queue_offset);
    EXPECT_TRUE(got.ok() && !got->messages.empty()) << topic;
    return got.ok() && !got->messages.empty() ? got->messages.front() : RecordRef{};
  }

  testing::TempDir dir_;
  std::unique_ptr<BrokerController> broker_;
  remoting::RemotingClient client_;
  std::string addr_;
};

TEST_F(SendBackQueryTest, RetryIsParkedThenDeliveredToTheRetryTopic) {
  const AppendResult orig = Append("TopicA", "payload");
  RemotingCommand resp = SendBack(orig.wrote_offset, 0);
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  EXPECT_TRUE(broker_->topics().Find("%RETRY%G1") != nullptr);

  const RecordRef first = Only("%RETRY%G1");
  const MessageView& v = first.msg;
  EXPECT_EQ(v.body, "payload");
  EXPECT_EQ(v.flag, 3);
  EXPECT_EQ(v.born_timestamp, 999);
  EXPECT_EQ(v.born_host.ToString(), "10.0.0.2:77");
  EXPECT_EQ(v.reconsume_times, 1);
  EXPECT_EQ(v.Property(kPropRetryTopic), "TopicA");
  EXPECT_EQ(v.Property(kPropOriginMessageId), orig.msg_id);
  EXPECT_EQ(v.Property(kPropRealTopic), "%RETRY%G1");
  EXPECT_EQ(v.Property(kPropRealQueueId), "0");
  EXPECT_FALSE(v.Property(kPropDelayLevel).has_value());
  EXPECT_EQ(v.Property(kPropertyTags), "tagA");
  // It waited in delay level 3 (3 + reconsumeTimes 0).
  EXPECT_EQ(broker_->store().MaxQueueOffset(kScheduleTopic, 2), 1);

  // Failing again: the origin and the original topic are kept, the count goes up, level 4.
  resp = SendBack(first.offset, 0);
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  const RecordRef second = Only("%RETRY%G1", 1);
  EXPECT_EQ(second.msg.reconsume_times, 2);
  EXPECT_EQ(second.msg.Property(kPropRetryTopic), "TopicA");
  EXPECT_EQ(second.msg.Property(kPropOriginMessageId), orig.msg_id);
  EXPECT_EQ(broker_->store().MaxQueueOffset(kScheduleTopic, 3), 1);
}

TEST_F(SendBackQueryTest, ExhaustedOrRefusedRetriesGoToTheDeadLetterTopic) {
  const AppendResult orig = Append("TopicA", "dead");
  RemotingCommand resp = SendBack(orig.wrote_offset, 0, /*max_reconsume=*/"0");
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  const RecordRef dlq = Only("%DLQ%G1");
  EXPECT_EQ(dlq.msg.body, "dead");
  EXPECT_EQ(dlq.msg.reconsume_times, 1);
  EXPECT_EQ(dlq.msg.Property(kPropRetryTopic), "TopicA");
  EXPECT_EQ(broker_->store().MaxQueueOffset(kScheduleTopic, 2), 0);  // not parked
  EXPECT_TRUE(broker_->topics().Find("%DLQ%G1") != nullptr);

  resp = SendBack(orig.wrote_offset, -1);  // the client asks for the DLQ directly
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(Only("%DLQ%G1", 1).msg.body, "dead");
}

TEST_F(SendBackQueryTest, SendBackErrors) {
  const AppendResult orig = Append("TopicA", "x");
  RemotingCommand resp = SendBack(orig.wrote_offset + 1, 0);
  EXPECT_EQ(resp.code, kSystemError);
  EXPECT_EQ(resp.remark, fmt::format("look message by offset failed, {}", orig.wrote_offset + 1));
  EXPECT_EQ(SendBack(orig.wrote_offset, 0, "16", "bad/group").code, kSystemError);
  EXPECT_EQ(Call(request::kConsumerSendMsgBack, {{"group", "G1"}, {"delayLevel", "0"}}).code,
            kSystemError);  // no offset

  broker_->Shutdown();
  broker_.reset();
  StartBroker([](BrokerConfig& c) { c.auto_create_subscription_group = false; });
  resp = SendBack(orig.wrote_offset, 0, "16", "UnknownGroup");
  EXPECT_EQ(resp.code, kSubscriptionGroupNotExist);
  EXPECT_EQ(resp.remark, "subscription group not exist, UnknownGroup");
}

TEST_F(SendBackQueryTest, ViewMessageByIdReturnsTheStoredRecord) {
  const AppendResult r = Append("TopicV", "view me");
  RemotingCommand resp =
      Call(request::kViewMessageById, {{"offset", fmt::format("{}", r.wrote_offset)}});
  ASSERT_EQ(resp.code, kSuccess);
  auto rec = broker_->store().Read(r.wrote_offset);
  ASSERT_TRUE(rec.ok());
  EXPECT_EQ(resp.body, rec->bytes);

  resp = Call(request::kViewMessageById, {{"offset", fmt::format("{}", r.wrote_offset + 5)}});
  EXPECT_EQ(resp.code, kSystemError);
  EXPECT_EQ(resp.remark, fmt::format("can not find message by the offset, {}", r.wrote_offset + 5));
}

TEST_F(SendBackQueryTest, QueryMessageByKeyAndUniqueKey) {
  std::string props;
  AppendProperty(&props, kPropertyKeys, "k1 k2");
  AppendProperty(&props, kPropertyUniqKey, "UNIQ9");
  const AppendResult r = Append("TopicQ", "find me", props);
  Append("TopicQ", "other");
  ASSERT_TRUE(broker_->store().WaitForMessages("TopicQ", 1, 1, kWait));  // both dispatched
  auto rec = broker_->store().Read(r.wrote_offset);
  ASSERT_TRUE(rec.ok());

  auto query = [&](const std::string& topic, const std::string& key, bool unique) {
    std::map<std::string, std::string> f = {{"topic", topic},
                                            {"key", key},
                                            {"maxNum", unique ? "0" : "10"},
                                            {"beginTimestamp", "0"},
                                            {"endTimestamp", fmt::format("{}", INT64_MAX)}};
    if (unique) f["_UNIQUE_KEY_QUERY"] = "true";
    return Call(request::kQueryMessage, f);
  };
  RemotingCommand resp = query("TopicQ", "k2", false);
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(resp.body, rec->bytes);
  EXPECT_TRUE(resp.Field("indexLastUpdateTimestamp") != nullptr);
  EXPECT_TRUE(resp.Field("indexLastUpdatePhyoffset") != nullptr);

  resp = query("TopicQ", "UNIQ9", true);
  ASSERT_EQ(resp.code, kSuccess) << resp.remark.value_or("");
  EXPECT_EQ(resp.body, rec->bytes);

  resp = query("TopicQ", "nope", false);
  EXPECT_EQ(resp.code, kQueryNotFound);
  EXPECT_EQ(resp.remark, "can not find message, maybe time range not correct");
  EXPECT_EQ(query("Other", "k2", false).code, kQueryNotFound);
  EXPECT_EQ(query("bad.topic", "k2", false).code, kSystemError);
}

}  // namespace
}  // namespace stele::broker
