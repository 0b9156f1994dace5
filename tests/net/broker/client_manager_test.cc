// Heartbeat parsing (including hostile bodies) and the consumer/producer registries: membership
// change detection, reconnects, channel close, expiry with explicit time.
#include "net/broker/state/client_manager.h"

#include <gtest/gtest.h>

#include <string>

#include "net/broker/state/names.h"

namespace stele::broker {
namespace {

constexpr std::string_view kSample = R"({"clientID":"ip@pid","consumerDataSet":[{
  "groupName":"G","consumeType":"CONSUME_PASSIVELY","messageModel":"CLUSTERING",
  "consumeFromWhere":"CONSUME_FROM_LAST_OFFSET","unitMode":false,"subscriptionDataSet":[{
    "topic":"T","subString":"a || b","classFilterMode":false,"tagsSet":["a","b"],
    "codeSet":[97,98],"subVersion":1700000000000,"expressionType":"TAG"}]}],
  "producerDataSet":[{"groupName":"P"},{"groupName":"CLIENT_INNER_PRODUCER"}]})";

TEST(HeartbeatTest, ParsesRocketMqSample) {
  auto hb = ParseHeartbeat(kSample);
  ASSERT_TRUE(hb.ok()) << hb.status();
  EXPECT_EQ(hb->client_id, "ip@pid");
  ASSERT_EQ(hb->producers.size(), 2u);
  EXPECT_EQ(hb->producers[0].group_name, "P");
  ASSERT_EQ(hb->consumers.size(), 1u);
  const ConsumerData& c = hb->consumers[0];
  EXPECT_EQ(c.group_name, "G");
  EXPECT_EQ(c.consume_type, ConsumeType::kPassively);
  EXPECT_EQ(c.message_model, MessageModel::kClustering);
  EXPECT_EQ(c.consume_from_where, "CONSUME_FROM_LAST_OFFSET");
  ASSERT_EQ(c.subscriptions.size(), 1u);
  SubscriptionData want{.topic = "T",
                        .sub_string = "a || b",
                        .tags_set = {"a", "b"},
                        .code_set = {97, 98},
                        .sub_version = 1700000000000};
  EXPECT_EQ(c.subscriptions[0], want);
}

TEST(HeartbeatTest, LenientWithMissingFieldsAndStringNumbers) {
  auto hb = ParseHeartbeat(R"({"clientID":"c1","consumerDataSet":[{"groupName":"G",
    "messageModel":"BROADCASTING","unitMode":"true","subscriptionDataSet":[{"topic":"T",
    "subVersion":"42","codeSet":["7"],"expressionType":"SQL92","subString":"a > 1"}]}],
    "heartbeatFingerprint":123})");
  ASSERT_TRUE(hb.ok()) << hb.status();
  const ConsumerData& c = hb->consumers[0];
  EXPECT_EQ(c.message_model, MessageModel::kBroadcasting);
  EXPECT_EQ(c.consume_type, ConsumeType::kPassively);
  EXPECT_TRUE(c.unit_mode);
  EXPECT_EQ(c.subscriptions[0].sub_version, 42);
  EXPECT_EQ(c.subscriptions[0].code_set, std::vector<int32_t>{7});
  EXPECT_EQ(c.subscriptions[0].expression_type, "SQL92");
  EXPECT_TRUE(hb->producers.empty());

  auto minimal = ParseHeartbeat(R"({"clientID":"c"})");
  ASSERT_TRUE(minimal.ok());
  EXPECT_TRUE(minimal->consumers.empty() && minimal->producers.empty());
}

TEST(HeartbeatTest, RejectsMalformedBodies) {
  std::string many_producers = R"({"clientID":"c","producerDataSet":[)";
  for (size_t i = 0; i <= kMaxHeartbeatGroups; ++i) many_producers += R"({"groupName":"P"},)";
  many_producers.back() = ']';
  many_producers += "}";
  std::string many_tags = R"({"clientID":"c","consumerDataSet":[{"groupName":"G",)"
                          R"("subscriptionDataSet":[{"topic":"T","tagsSet":[)";
  for (size_t i = 0; i <= kMaxTagsPerSubscription; ++i) many_tags += "\"t\",";
  many_tags.back() = ']';
  many_tags += "}]}]}";
  std::string deep(20000, '[');

  const std::string bad[] = {
      std::string(kSample.substr(0, kSample.size() / 2)),  // truncated
      "",
      "[]",
      "null",
      deep,
      R"({"consumerDataSet":[]})",  // no clientID
      R"({"clientID":""})",
      R"({"clientID":["x"]})",
      R"({"clientID":"c","consumerDataSet":{}})",
      R"({"clientID":"c","consumerDataSet":[5]})",
      R"({"clientID":"c","consumerDataSet":[{}]})",  // no groupName
      R"({"clientID":"c","consumerDataSet":[{"groupName":"G","messageModel":"FOO"}]})",
      R"({"clientID":"c","consumerDataSet":[{"groupName":"G","consumeType":7}]})",
      R"({"clientID":"c","consumerDataSet":[{"groupName":"G","subscriptionDataSet":[1]}]})",
      R"({"clientID":"c","consumerDataSet":[{"groupName":"G","subscriptionDataSet":[{}]}]})",
      R"({"clientID":"c","consumerDataSet":[{"groupName":"G","subscriptionDataSet":[)"
      R"({"topic":"T","tagsSet":[1]}]}]})",
      R"({"clientID":"c","consumerDataSet":[{"groupName":"G","subscriptionDataSet":[)"
      R"({"topic":"T","codeSet":["abc"]}]}]})",
      R"({"clientID":"c","consumerDataSet":[{"groupName":"G","subscriptionDataSet":[)"
      R"({"topic":"T","subVersion":1.5}]}]})",
      R"({"clientID":"c","consumerDataSet":[{"groupName":"G","unitMode":"maybe"}]})",
      R"({"clientID":"c","producerDataSet":[{"groupName":{}}]})",
      std::string("{\"clientID\":\"c\xff\"}"),  // invalid UTF-8
      many_producers,
      many_tags,
      R"({"clientID":")" + std::string(kMaxClientIdLength + 1, 'c') + "\"}",
  };
  for (const std::string& body : bad) {
    auto hb = ParseHeartbeat(body);
    EXPECT_TRUE(absl::IsInvalidArgument(hb.status())) << body.substr(0, 120);
  }
  // Errors say where.
  auto hb =
      ParseHeartbeat(R"({"clientID":"c","consumerDataSet":[{"groupName":"G"},{"groupName":"H",)"
                     R"("subscriptionDataSet":[{"topic":"T"},{"topic":"U","codeSet":[true]}]}]})");
  ASSERT_FALSE(hb.ok());
  EXPECT_NE(
      std::string(StatusMessage(hb.status())).find("consumerDataSet[1].subscriptionDataSet[1]"),
      std::string::npos)
      << hb.status();
}

ConsumerData Consumer(std::string group, std::vector<std::string> topics, int64_t version = 1) {
  ConsumerData c{.group_name = std::move(group)};
  for (auto& t : topics) {
    c.subscriptions.push_back(SubscriptionData{.topic = std::move(t), .sub_version = version});
  }
  return c;
}

TEST(ConsumerManagerTest, MembershipChangesChannelsAndExpiry) {
  ConsumerManager m;
  const int64_t t0 = 1000000;
  auto r = m.Register(Consumer("G", {"T"}), "10.0.0.1@1", 1, t0);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->membership_changed);
  EXPECT_TRUE(r->subscriptions_changed);
  r = m.Register(Consumer("G", {"T"}), "10.0.0.1@1", 1, t0 + 10);
  EXPECT_FALSE(r->membership_changed);
  EXPECT_FALSE(r->subscriptions_changed);
  EXPECT_TRUE(m.Register(Consumer("G", {"T"}), "10.0.0.2@7", 2, t0)->membership_changed);
  EXPECT_TRUE(m.Register(Consumer("H", {"T"}), "10.0.0.1@1", 1, t0)->membership_changed);
  EXPECT_EQ(m.ConsumerIds("G"), (std::vector<std::string>{"10.0.0.1@1", "10.0.0.2@7"}));
  EXPECT_EQ(m.Channels("G"), (std::vector<uint64_t>{1, 2}));
  EXPECT_EQ(m.Groups(), (std::vector<std::string>{"G", "H"}));
  EXPECT_EQ(m.GroupsOfTopic("T"), (std::vector<std::string>{"G", "H"}));

  // Client 2 reconnects on channel 3: same member; closing its old channel changes nothing.
  EXPECT_FALSE(m.Register(Consumer("G", {"T"}), "10.0.0.2@7", 3, t0 + 20)->membership_changed);
  EXPECT_TRUE(m.DropChannel(2).empty());
  EXPECT_EQ(m.ConsumerIds("G").size(), 2u);

  // Channel 1 carries client 1 in two groups.
  EXPECT_EQ(m.DropChannel(1), (std::vector<std::string>{"G", "H"}));
  EXPECT_EQ(m.ConsumerIds("G"), (std::vector<std::string>{"10.0.0.2@7"}));
  EXPECT_TRUE(m.ConsumerIds("H").empty());
  EXPECT_FALSE(m.FindGroup("H").has_value());  // an empty group is forgotten

  // Expiry: exactly 120 s of silence is still alive; one more millisecond is not.
  EXPECT_TRUE(m.ScanExpired(t0 + 20 + kDefaultClientExpiryMs).empty());
  EXPECT_EQ(m.ScanExpired(t0 + 21 + kDefaultClientExpiryMs), (std::vector<std::string>{"G"}));
  EXPECT_TRUE(m.Groups().empty());
  EXPECT_FALSE(m.FindSubscription("G", "T").has_value());
}

TEST(ConsumerManagerTest, SubscriptionsFollowTheLatestHeartbeat) {
  ConsumerManager m;
  ASSERT_TRUE(m.Register(Consumer("G", {"T1", "T2"}, 5), "c1", 1, 0).ok());
  ASSERT_TRUE(m.FindSubscription("G", "T2").has_value());
  ConsumerData older = Consumer("G", {"T1"}, 4);
  older.subscriptions[0].sub_string = "tagX";
  auto r = m.Register(older, "c1", 1, 1);
  EXPECT_TRUE(r->subscriptions_changed);  // T2 dropped
  EXPECT_FALSE(m.FindSubscription("G", "T2").has_value());
  EXPECT_EQ(m.FindSubscription("G", "T1")->sub_string, "*");  // older version ignored
  ConsumerData newer = Consumer("G", {"T1"}, 6);
  newer.subscriptions[0].sub_string = "tagX";
  newer.message_model = MessageModel::kBroadcasting;
  EXPECT_TRUE(m.Register(newer, "c1", 1, 2)->subscriptions_changed);
  EXPECT_EQ(m.FindSubscription("G", "T1")->sub_string, "tagX");
  auto info = m.FindGroup("G");
  ASSERT_TRUE(info.has_value());
  EXPECT_EQ(info->message_model, MessageModel::kBroadcasting);
  ASSERT_EQ(info->clients.size(), 1u);
  EXPECT_EQ(info->clients[0].last_heartbeat_ms, 2);

  EXPECT_TRUE(m.Unregister("G", "c1"));
  EXPECT_FALSE(m.Unregister("G", "c1"));
  EXPECT_TRUE(m.Groups().empty());
}

TEST(ProducerManagerTest, RegisterFindDropExpire) {
  ProducerManager m;
  EXPECT_TRUE(*m.Register("P", "a", 1, 100));
  EXPECT_TRUE(*m.Register("P", "b", 2, 200));
  EXPECT_FALSE(*m.Register("P", "a", 1, 150));
  EXPECT_EQ(m.FindChannelOfGroup("P"), 2u);  // most recently heard from
  EXPECT_EQ(m.FindChannelOfGroup("Q"), std::nullopt);
  EXPECT_EQ(m.DropChannel(2), (std::vector<std::string>{"P"}));
  EXPECT_EQ(m.FindChannelOfGroup("P"), 1u);
  EXPECT_EQ(m.Clients("P").size(), 1u);
  EXPECT_EQ(m.ScanExpired(150 + kDefaultClientExpiryMs + 1), (std::vector<std::string>{"P"}));
  EXPECT_TRUE(m.Groups().empty());
  EXPECT_TRUE(*m.Register("P", "a", 1, 0));
  EXPECT_TRUE(m.Unregister("P", "a"));
}

}  // namespace
}  // namespace stele::broker
