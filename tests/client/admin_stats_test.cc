// AdminClient's statistics and offset-reset calls against a two-broker in-process cluster (results
// merged over the brokers), and a running push consumer honouring an offset reset
// (RESET_CONSUMER_CLIENT_OFFSET): it consumes again from the reset offsets.
#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

#include "push_consumer_fixture.h"
#include "stele/client/admin.h"

namespace stele::client {
namespace {

class AdminStatsTest : public PushConsumerTest {
 protected:
  void SetUp() override {
    PushConsumerTest::SetUp();
    if (HasFatalFailure()) return;
    admin_ = std::make_unique<AdminClient>(AdminOptions{.namesrv_addr = cluster_->namesrv_addr()});
    ASSERT_TRUE(admin_->Start().ok());
  }
  void TearDown() override {
    admin_.reset();
    PushConsumerTest::TearDown();
  }
  // Sends `n` messages to queue `qid` of broker `i`; returns their ids.
  std::set<std::string> SendTo(const std::string& topic, int i, int qid, int n) {
    std::set<std::string> ids;
    for (int k = 0; k < n; ++k) {
      ids.insert(SendOk(Message{.topic = topic, .body = fmt::format("{}-{}-{}", i, qid, k)},
                        MessageQueue{topic, cluster_->broker_name(i), qid})
                     .msg_id);
    }
    return ids;
  }

  std::unique_ptr<AdminClient> admin_;
};

TEST_F(AdminStatsTest, StatsAndWhoConsumesMergeEveryBroker) {
  const std::string topic = "StatsT";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 2).ok());
  SendTo(topic, 0, 1, 3);
  SendTo(topic, 1, 0, 2);
  // A send is acknowledged once stored; the queue index follows in the background.
  ASSERT_TRUE(WaitUntil(
      [&] { return MaxQueueOffset(0, topic, 1) == 3 && MaxQueueOffset(1, topic, 0) == 2; }));
  auto stats = admin_->GetTopicStats(topic);
  ASSERT_TRUE(stats.ok()) << stats.status();
  ASSERT_EQ(stats->offsets.size(), 4u);
  for (const MessageQueue& q : AllQueues(topic, 2)) {
    const bool b0q1 = q.broker_name == cluster_->broker_name(0) && q.queue_id == 1;
    const bool b1q0 = q.broker_name == cluster_->broker_name(1) && q.queue_id == 0;
    const int64_t want = b0q1 ? 3 : b1q0 ? 2 : 0;
    ASSERT_EQ(stats->offsets.count(q), 1u) << q.ToString();
    EXPECT_EQ(stats->offsets[q].max_offset, want) << q.ToString();
    EXPECT_EQ(stats->offsets[q].min_offset, 0);
    EXPECT_EQ(stats->offsets[q].last_update_timestamp > 0, want > 0) << q.ToString();
  }
  EXPECT_TRUE(absl::IsNotFound(admin_->GetTopicStats("NoSuchTopic").status()));

  // Offsets on one broker, lag everywhere.
  ASSERT_TRUE(
      admin_->UpdateConsumerOffset("CG_Stats", {topic, cluster_->broker_name(0), 1}, 1).ok());
  auto who = admin_->QueryTopicConsumeByWho(topic);
  ASSERT_TRUE(who.ok()) << who.status();
  EXPECT_EQ(*who, std::vector<std::string>{"CG_Stats"});
  auto cs = admin_->GetConsumeStats("CG_Stats", topic);
  ASSERT_TRUE(cs.ok()) << cs.status();
  EXPECT_EQ(cs->offsets.size(), 4u);
  EXPECT_EQ(cs->TotalDiff(), 5 - 1);

  // A broker that never saw the group refuses to reset it (as Java's does): known on both now.
  EXPECT_FALSE(admin_->ResetOffsetByTime("CG_Stats", topic, -1, true).ok());
  ASSERT_TRUE(
      admin_->UpdateConsumerOffset("CG_Stats", {topic, cluster_->broker_name(1), 0}, 0).ok());
  // Both brokers: everything consumed, then back to the start.
  auto reset = admin_->ResetOffsetByTime("CG_Stats", topic, -1, true);
  ASSERT_TRUE(reset.ok()) << reset.status();
  EXPECT_EQ(reset->size(), 4u);
  EXPECT_EQ(admin_->GetConsumeStats("CG_Stats", topic)->TotalDiff(), 0);
  reset = admin_->ResetOffsetByTime("CG_Stats", topic, 0, false);
  ASSERT_TRUE(reset.ok()) << reset.status();
  for (const auto& [q, off] : *reset) EXPECT_EQ(off, 0) << q.ToString();
  EXPECT_EQ(admin_->GetConsumeStats("CG_Stats", topic)->TotalDiff(), 5);

  auto one = admin_->ResetQueueOffset(cluster_->broker_addr(0), "CG_Stats", topic, 1, 2);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, 2);
  EXPECT_EQ(admin_->GetConsumeStats("CG_Stats", topic)->TotalDiff(), 3);
  EXPECT_FALSE(admin_->ResetQueueOffset(cluster_->broker_addr(0), "CG_Stats", topic, 1, 99).ok());

  // The fixture's producer sent through both brokers.
  auto producers = admin_->ProducerConnectionList("PG_PushConsumerTest", topic);
  ASSERT_TRUE(producers.ok()) << producers.status();
  ASSERT_EQ(producers->size(), 1u);
  EXPECT_EQ((*producers)[0].language, "CPP");
  EXPECT_FALSE(admin_->ProducerConnectionList("PG_Nobody", topic).ok());
}

TEST_F(AdminStatsTest, PushConsumerConsumesAgainAfterAReset) {
  const std::string topic = "ResetT";
  const std::string group = "CG_Reset";
  ASSERT_TRUE(cluster_->CreateTopic(topic, 2).ok());
  std::set<std::string> ids = SendTo(topic, 0, 0, 4);
  for (const std::string& id : SendTo(topic, 1, 1, 3)) ids.insert(id);

  Deliveries got;
  PushConsumer c(Fast(group));
  ASSERT_TRUE(c.Subscribe(topic, "*").ok());
  c.RegisterListener([&](const std::vector<MessageExt>& msgs, ConsumeContext&) {
    got.Add(msgs);
    return ConsumeStatus::kSuccess;
  });
  ASSERT_TRUE(c.Start().ok());
  ASSERT_TRUE(got.WaitAll(ids));
  ASSERT_TRUE(WaitCommittedToEnd(group, topic, 2));
  const size_t first = got.Total();
  EXPECT_EQ(first, ids.size());

  // Online consumer: the brokers commit 0 and tell it; it consumes everything once more, and its
  // own commits end at the queues' ends again (not stuck at the reset, not undone by it).
  auto reset = admin_->ResetOffsetByTime(group, topic, 0, true);
  ASSERT_TRUE(reset.ok()) << reset.status();
  ASSERT_TRUE(WaitUntil([&] { return got.Total() >= first + ids.size(); }, kConsumeLimit))
      << got.Total();
  for (const auto& [id, n] : got.Counts()) EXPECT_EQ(n, 2) << id;
  EXPECT_TRUE(WaitCommittedToEnd(group, topic, 2));

  // The connection list shows it.
  auto conn = admin_->ConsumerConnectionList(group);
  ASSERT_TRUE(conn.ok()) << conn.status();
  ASSERT_EQ(conn->connections.size(), 1u);
  EXPECT_EQ(conn->connections[0].client_id, c.client_id());
  EXPECT_EQ(conn->subscriptions.at(topic), "*");
  c.Shutdown();
}

}  // namespace
}  // namespace stele::client
